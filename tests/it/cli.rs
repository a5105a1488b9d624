//! The command line: exit codes, flags, suppression, baselines, fingerprints.

use super::support::{TempRepo, deployment, governed, stderr, stdout, tollgate, workspace};

#[test]
fn exit_codes_follow_fail_on() {
    let repo = TempRepo::new("fail-on");
    repo.write("apps/dev/web.yaml", deployment("web", "nginx:latest"));
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(0), "a warning does not fail the default run:\n{}", stdout(&out));
    assert!(stdout(&out).contains("warning[mutable-image-ref]"));
    let out = tollgate(&repo.path, &["check", ".", "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(1));
    repo.write("apps/prod/web.yaml", deployment("web", "nginx:latest"));
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("error[mutable-image-ref]"));
}

#[test]
fn clean_repository_exits_zero_with_summary() {
    let repo = TempRepo::new("clean");
    repo.write("apps/prod/web.yaml", deployment("web", "nginx:1.27.3"));
    governed(&repo);
    let out = tollgate(&repo.path, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "summary: 0 errors, 0 warnings, 0 notes in 3 files (2 documents)\n");
}

#[test]
fn bad_arguments_and_missing_root_exit_two() {
    let repo = TempRepo::new("args");
    let out = tollgate(&repo.path, &["check", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate(&repo.path, &["check", "does-not-exist"]);
    assert_eq!(out.status.code(), Some(2));
    // A missing path is called missing, a file a file.
    assert!(stderr(&out).contains("`does-not-exist`: no such directory"), "{}", stderr(&out));
    repo.write("a.yaml", "a: 1\n");
    let out = tollgate(&repo.path, &["check", "a.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("it is a file, not a directory"), "{}", stderr(&out));
    let out = tollgate(&repo.path, &["explain", "prod-self-heel"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate(&repo.path, &["explain", "plaintext-secrets"]);
    assert!(stderr(&out).contains("Did you mean `plaintext-secret`?"), "{}", stderr(&out));
}

#[test]
fn config_typo_is_exit_two_with_position() {
    let repo = TempRepo::new("config");
    repo.write(".tollgate.yaml", "environments:\n  prod: { paths: [\"p/**\"], protectd: true }\nrules:\n  mutable-image-ref: { severity: fatal }\n");
    let started = std::time::Instant::now();
    let out = tollgate(&repo.path, &["check", "."]);
    assert!(started.elapsed().as_secs_f64() < 5.0);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            ".tollgate.yaml:2:28: unknown key `protectd` (expected one of: paths, protected); did you mean `protected`?"
        ),
        "{err}"
    );
    assert!(err.contains(".tollgate.yaml:4:34: `rules.mutable-image-ref.severity`"), "{err}");
    assert!(err.contains("2 problems"), "{err}");
    // Schema problems and unknown rule ids come in one wave.
    repo.write(".tollgate.yaml", "revieww: {}\nrules:\n  prod-self-heel: {enabled: false}\n");
    let err = stderr(&tollgate(&repo.path, &["check", "."]));
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains(".tollgate.yaml:1:1: unknown key `revieww`")
            && err.contains(".tollgate.yaml:3:3: unknown rule `prod-self-heel`"),
        "{err}"
    );
}

#[test]
fn output_file_and_formats() {
    let repo = TempRepo::new("output");
    governed(&repo);
    repo.write("apps/prod/web.yaml", deployment("web", "nginx"));
    let out = tollgate(&repo.path, &["check", ".", "--format", "sarif", "--output", "out.sarif"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let sarif = std::fs::read_to_string(repo.join("out.sarif")).expect("written");
    assert!(sarif.contains("\"ruleId\": \"mutable-image-ref\""));
    let out = tollgate(&repo.path, &["check", ".", "--format", "github"]);
    assert_eq!(
        stdout(&out),
        "::error file=apps/prod/web.yaml,line=10,col=11,endLine=10,endColumn=23,title=tollgate mutable-image-ref::Container `web` runs `nginx`, a mutable image reference in a protected environment: it has no tag, so it means `latest`. A `git revert` cannot bring back what ran before. Pin the image by digest (`nginx@sha256:…`) or an immutable version tag.\n"
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["findings"][0]["location"]["span"]["start_line"], 10);
    assert_eq!(v["summary"]["errors"], 1);
}

#[test]
fn text_output_has_no_colour_when_not_a_terminal() {
    let repo = TempRepo::new("colour");
    repo.write("apps/prod/web.yaml", deployment("web", "nginx"));
    let out = tollgate(&repo.path, &["check", "."]);
    assert!(!stdout(&out).contains('\x1b'));
}

#[test]
fn inline_and_config_suppressions() {
    let repo = TempRepo::new("suppress");
    governed(&repo);
    repo.write(
        "apps/prod/a.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n    # tollgate: ignore[mutable-image-ref] vendor only ships latest\n    - {name: a, image: vendor:latest}\n    - name: b\n      image: vendor:latest # tollgate: ignore[mutable-image-ref]\n",
    );
    repo.write("apps/prod/b.yaml", deployment("b", "nginx"));
    repo.write("apps/prod/c.yaml", deployment("c", "nginx"));
    repo.write(
        ".tollgate.yaml",
        "ignore:\n  - { rule: mutable-image-ref, paths: [\"apps/prod/b.yaml\"], reason: \"migrating\", expires: \"2099-01-01\" }\n  - { rule: mutable-image-ref, paths: [\"apps/prod/c.yaml\"], reason: \"was migrating\", expires: \"2001-01-01\" }\n  - { rule: mutable-image-refs, paths: [\"**\"], reason: \"typo\" }\n",
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let findings: Vec<(String, String, i64)> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_owned(),
                f["location"]["path"].as_str().unwrap_or("").to_owned(),
                f["location"]["span"]["start_line"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        findings,
        vec![
            ("suppression-invalid".into(), ".tollgate.yaml".into(), 3),
            ("suppression-invalid".into(), ".tollgate.yaml".into(), 4),
            ("mutable-image-ref".into(), "apps/prod/a.yaml".into(), 9),
            ("suppression-invalid".into(), "apps/prod/a.yaml".into(), 9),
            ("mutable-image-ref".into(), "apps/prod/c.yaml".into(), 10),
        ],
        "{}",
        stdout(&out)
    );
    assert_eq!(v["summary"]["suppressed"], 2);
    let listed = stdout(&tollgate(&repo.path, &["suppressions", "."]));
    assert!(listed.contains("apps/prod/a.yaml:6: ignore[mutable-image-ref] vendor only ships latest\n"), "{listed}");
    assert!(listed.contains("apps/prod/a.yaml:9: ignore[mutable-image-ref]   [INVALID: no reason]"), "{listed}");
    assert!(listed.contains("[INVALID: expired]"), "{listed}");
    assert!(listed.contains("[INVALID: unknown rule `mutable-image-refs`]"), "{listed}");
    assert!(listed.ends_with("5 suppressions\n"), "{listed}");
}

#[test]
fn fingerprints_survive_unrelated_edits_and_baseline_reports_only_new() {
    let repo = TempRepo::new("baseline");
    governed(&repo);
    repo.write("apps/prod/web.yaml", deployment("web", "nginx:latest"));
    let out = tollgate(&repo.path, &["check", ".", "--format", "sarif", "--output", "base.sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let fingerprint = |sarif: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(sarif).expect("sarif");
        v["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| r["partialFingerprints"]["tollgateFingerprint/v1"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let before = fingerprint(&std::fs::read_to_string(repo.join("base.sarif")).expect("sarif"));
    // Unrelated lines move the finding down and re-indent nothing it is about.
    repo.write(
        "apps/prod/web.yaml",
        format!(
            "# owner: team-web\n# see runbook\n{}",
            deployment("web", "nginx:latest").replace("metadata:\n", "metadata:\n  labels: {app: web}\n")
        ),
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "sarif"]);
    let after = fingerprint(&stdout(&out));
    assert_eq!(before, after);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("sarif");
    assert_eq!(v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 13);
    // Baseline: the old finding is not reported, a new one is.
    let out = tollgate(&repo.path, &["check", ".", "--baseline", "base.sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    repo.write("apps/prod/api.yaml", deployment("api", "api:main"));
    let out = tollgate(&repo.path, &["check", ".", "--baseline", "base.sarif", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let paths: Vec<&str> =
        v["findings"].as_array().expect("findings").iter().filter_map(|f| f["location"]["path"].as_str()).collect();
    assert_eq!(paths, vec!["apps/prod/api.yaml"]);
    let out = tollgate(&repo.path, &["check", ".", "--baseline", "missing.sarif"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn rules_explain_schema() {
    let root = workspace();
    let out = tollgate(&root, &["rules"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("plaintext-secret"));
    let out = tollgate(&root, &["rules", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(v.as_array().is_some_and(|a| a.iter().any(|r| r["id"] == "mutable-image-ref" && r["severity"] == "error")));
    let out = tollgate(&root, &["explain", "mutable-image-ref"]);
    assert!(stdout(&out).starts_with("# mutable-image-ref\n"));
    assert!(stdout(&out).contains("## Why it matters"));
    let out = tollgate(&root, &["schema"]);
    let schema: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("schema is JSON");
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn gitignore_and_exclude_are_honoured() {
    let repo = TempRepo::new("ignore");
    governed(&repo);
    repo.write(".gitignore", "build/\n");
    repo.write("build/prod/out.yaml", deployment("x", "nginx"));
    repo.write("vendor/prod/x.yaml", deployment("x", "nginx"));
    repo.write(".tollgate.yaml", "exclude: [\"vendor/**\"]\n");
    repo.write("apps/prod/ok.yaml", deployment("x", "nginx:1.0.0"));
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("in 4 files"), "{}", stdout(&out));
}

#[test]
fn demo_repository_shows_real_findings() {
    let out = tollgate(&workspace(), &["check", "examples/gitops-demo"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for rule in [
        "plaintext-secret",
        "mutable-image-ref",
        "parse-error",
        "auto-merge-to-prod",
        "prod-self-heal",
        "prod-auto-prune",
    ] {
        assert!(text.contains(&format!("[{rule}]")), "{rule} missing:\n{text}");
    }
    // The Helm chart template is not parsed as YAML.
    assert!(!text.contains("charts/shop/templates"), "{text}");
}
