//! The rendered diff of a change: a one-line change to a shared base shows
//! as the changed objects of every overlay that renders it, prod first; a
//! Secret's values never appear, only that they changed.

use super::support::{TempRepo, git, stderr, stdout, tollgate};

fn run(repo: &TempRepo, args: &[&str]) {
    let out = git(&repo.path, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `main`: a shop base (Deployment, Secret) and dev, staging and prod
/// overlays, plus an unrelated app; `change`: a new image tag and a new
/// password in the base, nothing in the overlays.
fn repository() -> TempRepo {
    let repo = TempRepo::new("rendered-diff");
    run(&repo, &["init", "-q"]);
    // A generator reads a file that is not a manifest: at the base it comes
    // from git as well, so an untouched ConfigMap is no change.
    repo.write(
        "apps/shop/base/kustomization.yaml",
        "resources: [deployment.yaml, secret.yaml]\nconfigMapGenerator:\n  - name: shop-settings\n    envs: [settings.env]\n",
    );
    repo.write("apps/shop/base/settings.env", "MODE=fast\n");
    repo.write(
        "apps/shop/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: shop\n          image: shop:1.0.0\n",
    );
    repo.write(
        "apps/shop/base/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: correct-horse-battery}\n",
    );
    for env in ["dev", "staging", "prod"] {
        repo.write(
            &format!("apps/shop/overlays/{env}/kustomization.yaml"),
            format!("resources: [../../base]\nnamespace: shop-{env}\n"),
        );
    }
    repo.write("apps/other/overlays/prod/kustomization.yaml", "resources: [cm.yaml]\n");
    repo.write("apps/other/overlays/prod/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n");
    run(&repo, &["add", "-A"]);
    run(&repo, &["commit", "-q", "-m", "base"]);
    run(&repo, &["checkout", "-q", "-b", "change"]);
    repo.write(
        "apps/shop/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: shop\n          image: shop:1.1.0\n",
    );
    repo.write(
        "apps/shop/base/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: staple-horse-correct}\n",
    );
    run(&repo, &["commit", "-q", "-a", "-m", "change"]);
    repo
}

#[test]
fn a_base_change_shows_in_every_overlay_that_renders_it_with_secrets_redacted() {
    let repo = repository();
    let out = tollgate(&repo.path, &["diff", "main..change", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let roots: Vec<(&str, &str)> = v["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|r| (r["root"].as_str().unwrap_or_default(), r["environment"].as_str().unwrap_or_default()))
        .collect();
    // Prod first; the unrelated app is not rendered into the diff.
    assert_eq!(
        roots,
        vec![
            ("apps/shop/overlays/prod", "prod"),
            ("apps/shop/overlays/staging", "staging"),
            ("apps/shop/overlays/dev", "dev"),
        ]
    );
    let prod = &v["roots"][0]["objects"];
    assert_eq!(prod.as_array().map(Vec::len), Some(2), "only the Deployment and the Secret changed: {prod:#}");
    assert_eq!(prod[0]["object"], "apps/v1 Deployment/shop-prod/shop");
    assert_eq!(prod[0]["change"], "changed");
    let diff = prod[0]["diff"].as_str().expect("diff");
    assert!(diff.contains("-      - image: shop:1.0.0\n+      - image: shop:1.1.0\n"), "{diff}");
    assert_eq!(prod[1]["object"], "v1 Secret/shop-prod/db");
    let secret = prod[1]["diff"].as_str().expect("diff");
    assert!(secret.contains("-  password: \"*** sha256:") && secret.contains("+  password: \"*** sha256:"), "{secret}");

    // No output format quotes a Secret value, old or new.
    let formats: [&[&str]; 4] = [
        &["diff", "main..change"],
        &["diff", "main..change", "--format", "markdown"],
        &["check", ".", "--base", "main", "--format", "json"],
        &["check", ".", "--base", "main", "--format", "markdown"],
    ];
    for args in formats {
        let out = tollgate(&repo.path, args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            !text.contains("correct-horse-battery") && !text.contains("staple-horse-correct"),
            "{args:?} shows a secret value:\n{text}"
        );
    }

    // The range check carries the same diff; the job summary shows it, prod open.
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--format", "markdown"]);
    let md = stdout(&out);
    let section = &md[md.find("### Rendered changes").expect("a rendered diff section")..];
    let section = &section[..section.find("<details><summary>").map_or(section.len(), |i| i)];
    insta::assert_snapshot!("rendered_diff_markdown_prod", section);
    assert!(
        md.contains("<details><summary>staging: <code>apps/shop/overlays/staging</code> — 2 changed</summary>"),
        "{md}"
    );
    assert!(md.contains("<details><summary>dev: <code>apps/shop/overlays/dev</code> — 2 changed</summary>"), "{md}");
}

#[test]
fn a_root_added_or_removed_and_an_unreadable_range() {
    let repo = repository();
    run(&repo, &["checkout", "-q", "-b", "new-env", "main"]);
    repo.write("apps/shop/overlays/qa/kustomization.yaml", "resources: [../../base]\nnamespace: shop-qa\n");
    std::fs::remove_dir_all(repo.join("apps/other")).expect("rm");
    run(&repo, &["add", "-A"]);
    run(&repo, &["commit", "-q", "-m", "qa, no other"]);
    let out = tollgate(&repo.path, &["diff", "main..new-env"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("  prod (protected): apps/other/overlays/prod\n    removed v1 ConfigMap/other\n"), "{text}");
    assert!(text.contains("    added apps/v1 Deployment/shop-qa/shop\n"), "{text}");
    let out = tollgate(&repo.path, &["diff", "no-such-ref"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown revision `no-such-ref`"), "{}", stderr(&out));
}
