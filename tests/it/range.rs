//! Range checks (`--range BASE..HEAD`, `--base REF`) on git repositories
//! built by the test: CODEOWNERS is read from the base commit, changed prod
//! files are listed with their owners, and unreadable history fails closed.

use super::support::{TempRepo, governed, stderr, stdout, tollgate};

fn git(dir: &std::path::Path, args: &[&str]) -> bool {
    super::support::git(dir, args).status.success()
}

/// A repository whose `main` owns prod through SRE, and a branch `change`
/// that edits a prod file and drops SRE from CODEOWNERS.
fn repository(name: &str) -> Option<TempRepo> {
    let repo = TempRepo::new(name);
    if !git(&repo.path, &["init", "-q"]) {
        super::support::skip("git is not available; range tests skipped");
        return None;
    }
    governed(&repo);
    repo.write(".github/CODEOWNERS", "* @acme/platform\n/prod/ @acme/sre\n");
    repo.write("prod/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {replicas: \"3\"}\n");
    repo.write("dev/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n");
    assert!(git(&repo.path, &["add", "-A"]) && git(&repo.path, &["commit", "-q", "-m", "base"]));
    assert!(git(&repo.path, &["checkout", "-q", "-b", "change"]));
    repo.write(".github/CODEOWNERS", "/docs/ @acme/docs\n");
    repo.write("prod/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {replicas: \"1\"}\n");
    repo.write("dev/new.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new}\n");
    assert!(git(&repo.path, &["add", "-A"]) && git(&repo.path, &["commit", "-q", "-m", "change"]));
    Some(repo)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// Paths of the JSON report's findings of one rule.
fn paths_of<'a>(v: &'a serde_json::Value, rule: &str) -> Vec<&'a str> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .filter_map(|f| f["location"]["path"].as_str())
        .collect()
}

#[test]
fn base_codeowners_decide_and_changed_prod_files_are_listed() {
    let Some(repo) = repository("range") else { return };
    // Without a range, the change's own CODEOWNERS decides: prod is unowned.
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    assert_eq!(paths_of(&v, "prod-path-unowned"), vec!["prod/app.yaml"]);
    // In a range check the target branch's CODEOWNERS decides.
    for args in [["--range", "main..change"], ["--base", "main"]] {
        let out = tollgate(&repo.path, &["check", ".", "--format", "json", args[0], args[1]]);
        let v = json(&out);
        assert!(
            !v["findings"].as_array().expect("findings").iter().any(|f| f["rule_id"] == "prod-path-unowned"),
            "{v:#}"
        );
        let changed = &v["summary"]["range"]["changed_paths"];
        assert_eq!(changed, &serde_json::json!([".github/CODEOWNERS", "dev/new.yaml", "prod/app.yaml"]), "{v:#}");
        let section = &v["summary"]["sections"][0];
        assert_eq!(section["rule_id"], "prod-path-unowned");
        assert_eq!(section["items"], serde_json::json!([["prod/app.yaml", "needs review by @acme/sre"]]));
    }
    let text = stdout(&tollgate(&repo.path, &["check", ".", "--range", "main..change"]));
    assert!(
        text.contains("1 changed prod file(s) in main..change (owners from the base commit's CODEOWNERS)"),
        "{text}"
    );
    assert!(text.contains("  prod/app.yaml  needs review by @acme/sre"), "{text}");
    // A table is headed by what it is, not by a rule id.
    assert!(!text.contains("prod-path-unowned: 1 changed"), "{text}");
}

#[test]
fn unreadable_history_fails_closed() {
    let Some(repo) = repository("history") else { return };
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--range", "origin/main..HEAD"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let f = v["findings"].as_array().expect("findings").iter().find(|f| f["rule_id"] == "history-unavailable").cloned();
    let message = f.as_ref().and_then(|f| f["message"].as_str()).unwrap_or_default().to_owned();
    assert!(message.contains("unknown revision `origin/main`") && message.contains("fetch-depth: 0"), "{v:#}");
    // A shallow clone.
    let shallow = TempRepo::new("shallow");
    let url = format!("file://{}", repo.path.display());
    assert!(git(&shallow.path, &["clone", "-q", "--depth", "1", "--branch", "change", &url, "clone"]));
    let out = tollgate(&shallow.join("clone"), &["check", ".", "--format", "json", "--base", "HEAD~1"]);
    let v = json(&out);
    let message = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule_id"] == "history-unavailable")
        .map(|f| f["message"].to_string())
        .unwrap_or_default();
    assert!(message.contains("shallow"), "{v:#}");
    // Not a repository at all.
    let plain = TempRepo::new("plain");
    governed(&plain);
    let out = tollgate(&plain.path, &["check", ".", "--format", "json", "--range", "main..HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("is not inside a git repository"));
}

#[test]
fn malformed_range_is_exit_two() {
    let repo = TempRepo::new("bad-range");
    let out = tollgate(&repo.path, &["check", ".", "--range", "main"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not `BASE..HEAD`"));
    let out = tollgate(&repo.path, &["check", ".", "--range", "main..HEAD", "--base", "main"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gitignore_cannot_hide_a_tracked_file() {
    let Some(repo) = repository("tracked") else { return };
    // The change ignores the prod directory, whose files stay tracked.
    repo.write(".gitignore", "prod/\nbuild/\n");
    repo.write(
        "prod/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
    );
    assert!(git(&repo.path, &["add", ".gitignore"]) && git(&repo.path, &["add", "-f", "prod/secret.yaml"]));
    assert!(git(&repo.path, &["commit", "-q", "-m", "hide prod"]));
    // An ignored, untracked build output is still skipped.
    repo.write("build/prod/out.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: tmp}\nstringData: {a: b}\n");
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    assert_eq!(paths_of(&v, "plaintext-secret"), vec!["prod/secret.yaml"], "{v:#}");
}
