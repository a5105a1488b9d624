//! New vs existing findings in a range check: each finding is marked `new`,
//! or `existing` when a check of the base commit produces its fingerprint;
//! `--new-only` fails only on new ones. Fingerprints survive unrelated edits
//! (a document moved down its file, an overlay added), so adopting tollgate
//! on a repository with findings needs no hand-kept baseline.

use super::support::{TempRepo, git, governed, stderr, stdout, tollgate};

fn run(repo: &TempRepo, args: &[&str]) {
    let out = git(&repo.path, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn commit(repo: &TempRepo, message: &str) {
    run(repo, &["add", "-A"]);
    run(repo, &["commit", "-q", "-m", message]);
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// `(rule, path, state)` of every finding of a JSON report.
fn states(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_owned(),
                f["location"]["path"].as_str().unwrap_or_default().to_owned(),
                f["state"].as_str().unwrap_or("unmarked").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n";

/// `main`: a prod Deployment running `nginx:latest` (an existing error), and
/// a Kustomize base whose `latest` image the prod overlay renders.
fn repository(name: &str) -> TempRepo {
    let repo = TempRepo::new(name);
    run(&repo, &["init", "-q"]);
    governed(&repo);
    // Commit signatures are not what these tests are about.
    repo.write(".tollgate.yaml", "rules:\n  unsigned-commit: {enabled: false}\npolicies:\n  rego: [policy]\n");
    // A policy finding on a plain manifest is fingerprinted by its object,
    // not by the document's position in the file.
    repo.write(
        "policy/labels.rego",
        "package main\nimport rego.v1\ndeny contains msg if {\n  input.kind == \"Deployment\"\n  not input.metadata.labels.team\n  msg := sprintf(\"Deployment %s has no team label\", [input.metadata.name])\n}\n",
    );
    repo.write("apps/prod/web.yaml", WEB);
    repo.write("apps/shop/base/kustomization.yaml", "resources: [deployment.yaml]\n");
    repo.write(
        "apps/shop/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  template:\n    spec:\n      containers:\n        - name: shop\n          image: shop:latest\n",
    );
    repo.write("apps/shop/overlays/prod/kustomization.yaml", "resources: [../../base]\nnamespace: shop-prod\n");
    commit(&repo, "base");
    repo
}

#[test]
fn existing_findings_pass_with_new_only_and_new_ones_fail() {
    let repo = repository("new-only");
    // An unrelated change: the Deployment moves down its file below a new
    // ConfigMap, and a staging overlay of the shop is added.
    run(&repo, &["checkout", "-q", "-b", "tidy"]);
    repo.write(
        "apps/prod/web.yaml",
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web-config}}\n---\n{WEB}"),
    );
    repo.write("apps/shop/overlays/staging/kustomization.yaml", "resources: [../../base]\nnamespace: shop-staging\n");
    commit(&repo, "tidy");

    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "existing errors still fail without --new-only");
    let v = json(&out);
    assert_eq!(
        states(&v),
        vec![
            ("main.deny".into(), "apps/prod/web.yaml".into(), "existing".into()),
            ("main.deny".into(), "apps/shop/base/deployment.yaml".into(), "existing".into()),
            ("mutable-image-ref".into(), "apps/prod/web.yaml".into(), "existing".into()),
            ("mutable-image-ref".into(), "apps/shop/base/deployment.yaml".into(), "existing".into()),
        ],
        "{v:#}"
    );
    assert_eq!(v["summary"]["existing"], 4, "{v:#}");
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only"]);
    assert_eq!(out.status.code(), Some(0), "nothing new: {}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("= existing: the base commit has this finding too"), "{text}");
    assert!(
        text.contains(
            "0 new with the change, 4 existing at the base (--new-only: existing findings do not fail the run)"
        ),
        "{text}"
    );

    // A change that brings a plaintext Secret: it fails, the old ones do not.
    run(&repo, &["checkout", "-q", "-b", "secret", "main"]);
    repo.write(
        "apps/prod/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
    );
    commit(&repo, "secret");
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out);
    assert!(states(&v).contains(&("plaintext-secret".into(), "apps/prod/secret.yaml".into(), "new".into())), "{v:#}");
    assert!(
        states(&v).contains(&("mutable-image-ref".into(), "apps/prod/web.yaml".into(), "existing".into())),
        "{v:#}"
    );

    // SARIF: `baselineState` and `properties.state`.
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let of = |rule: &str| results.iter().find(|r| r["ruleId"] == rule).unwrap_or_else(|| panic!("{rule}: {sarif:#}"));
    assert_eq!(of("plaintext-secret")["baselineState"], "new");
    assert_eq!(of("plaintext-secret")["properties"]["state"], "new");
    assert_eq!(of("mutable-image-ref")["baselineState"], "unchanged");
    assert_eq!(of("mutable-image-ref")["properties"]["state"], "existing");

    // Markdown job summary and annotations say which is which.
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only", "--format", "markdown"]);
    let md = stdout(&out);
    assert!(md.starts_with("## ❌ tollgate: 5 error(s)"), "{md}");
    assert!(
        md.contains("**1 new** with this change, 4 existing at the base (existing findings do not fail the check: `--new-only`)."),
        "{md}"
    );
    assert!(md.contains("| <code>mutable-image-ref</code> | error | 2 | 0 |"), "{md}");
    assert!(md.contains("| <code>plaintext-secret</code> | error | 1 | 1 |"), "{md}");
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only", "--format", "github"]);
    let log = stdout(&out);
    assert!(log.contains("::notice file=apps/prod/web.yaml"), "{log}");
    assert!(log.contains("title=tollgate mutable-image-ref (existing at the base)"), "{log}");
    assert!(log.contains("::error file=apps/prod/secret.yaml"), "{log}");
}

#[test]
fn without_a_readable_base_every_finding_counts() {
    let repo = repository("new-only-range");
    // Without a range nothing can be existing: every finding counts.
    let out = tollgate(&repo.path, &["check", ".", "--new-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--new-only compares a change with its base"), "{}", stderr(&out));
    // An unknown base: `history-unavailable`, nothing is called existing, and
    // every finding fails the run.
    let out = tollgate(&repo.path, &["check", ".", "--base", "no-such-branch", "--new-only", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert!(states(&v).iter().all(|(_, _, state)| state == "unmarked"), "{v:#}");
    assert!(states(&v).iter().any(|(rule, _, _)| rule == "history-unavailable"), "{v:#}");
}

#[test]
fn an_application_with_overrides_is_judged_at_the_head_and_at_the_base() {
    // Argo CD renders the path with the Application's `kustomize` overrides,
    // in an overlay made in memory; the Application itself is still an
    // object of the repository, judged as such (its self-heal in prod).
    let repo = TempRepo::new("overrides-base");
    run(&repo, &["init", "-q"]);
    governed(&repo);
    repo.write(".tollgate.yaml", "rules:\n  unsigned-commit: {enabled: false}\n");
    repo.write("apps/web/base/kustomization.yaml", "resources: [d.yaml]\n");
    repo.write(
        "apps/web/base/d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: web@sha256:0123456789012345678901234567890123456789012345678901234567890123\n",
    );
    repo.write(
        "argocd/web-prod.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web-prod, namespace: argocd}\nspec:\n  project: default\n  source:\n    repoURL: https://github.com/acme/gitops\n    path: apps/web/base\n    kustomize: {namePrefix: prod-}\n  destination: {server: 'https://kubernetes.default.svc', namespace: prod}\n  syncPolicy: {automated: {selfHeal: true}}\n",
    );
    commit(&repo, "base");
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    assert!(states(&v).contains(&("prod-self-heal".into(), "argocd/web-prod.yaml".into(), "unmarked".into())), "{v:#}");
    // An unrelated change: the base's render of the root is the head's, and
    // the Application is judged there too, so its finding is existing.
    run(&repo, &["checkout", "-q", "-b", "docs"]);
    repo.write("docs/README.md", "# web\n");
    commit(&repo, "docs");
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--new-only", "--format", "json"]);
    let v = json(&out);
    assert!(states(&v).contains(&("prod-self-heal".into(), "argocd/web-prod.yaml".into(), "existing".into())), "{v:#}");
    assert_eq!(out.status.code(), Some(0), "{v:#}");
}
