//! A malicious pull request against tollgate itself: each test builds the
//! repository and the change in the test, runs the change through tollgate
//! the way CI does, and asserts that the gate still fails (or reports what
//! the change tried to hide).

use super::support::{TempRepo, git, governed, stderr, stdout, tollgate};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn findings(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["findings"].as_array().cloned().unwrap_or_default()
}

/// `(rule, path, line)` of every active finding.
fn places(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    findings(v)
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or_default().to_owned(),
                f["location"]["path"].as_str().unwrap_or_default().to_owned(),
                f["location"]["span"]["start_line"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

fn has(v: &serde_json::Value, rule: &str, path: &str) -> bool {
    places(v).iter().any(|(r, p, _)| r == rule && p == path)
}

/// git must run: in CI (`CI=true`) its absence fails the test.
fn commit_all(repo: &TempRepo, message: &str) {
    let add = git(&repo.path, &["add", "-A"]);
    assert!(add.status.success(), "git add: {}", String::from_utf8_lossy(&add.stderr));
    let out = git(&repo.path, &["commit", "-q", "--allow-empty", "-m", message]);
    assert!(out.status.success(), "git commit: {}", String::from_utf8_lossy(&out.stderr));
}

/// A governed repository on `main` with one commit, and a branch `change` checked out.
pub(crate) fn base_and_branch(name: &str, files: &[(&str, &str)]) -> TempRepo {
    let repo = TempRepo::new(name);
    let init = git(&repo.path, &["init", "-q"]);
    assert!(init.status.success(), "git init: {}", String::from_utf8_lossy(&init.stderr));
    governed(&repo);
    for (path, text) in files {
        repo.write(path, text);
    }
    commit_all(&repo, "base");
    assert!(git(&repo.path, &["checkout", "-q", "-b", "change"]).status.success());
    repo
}

const PROD_APP: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  syncPolicy:\n    automated:\n      selfHeal: true\n";

#[test]
fn an_inline_comment_cannot_silence_commit_findings() {
    let repo = base_and_branch("inline-commit", &[("environments/prod/app.yaml", "a: 1\n")]);
    repo.write(
        "environments/prod/app.yaml",
        "# tollgate: ignore[unsigned-commit,untrusted-signer,history-unavailable] signed elsewhere\na: 2\n",
    );
    commit_all(&repo, "unsigned change");
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--range", "main..change"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v = json(&out);
    let unsigned: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "unsigned-commit").collect();
    assert_eq!(unsigned.len(), 1, "{v:#}");
    assert!(unsigned[0].get("suppressed").is_none(), "{v:#}");
    let invalid: Vec<String> = findings(&v)
        .iter()
        .filter(|f| f["rule_id"] == "suppression-invalid")
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(invalid.len(), 3, "{invalid:#?}");
    assert!(invalid.iter().all(|m| m.contains("cannot be suppressed inline")), "{invalid:#?}");
}

#[test]
fn an_inline_comment_cannot_silence_a_parse_error() {
    let repo = TempRepo::new("inline-parse");
    governed(&repo);
    repo.write(
        "environments/prod/app.yaml",
        format!("{PROD_APP}# tollgate: ignore[parse-error] duplicate on purpose\n      selfHeal: false\n"),
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let parse: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "parse-error").collect();
    assert_eq!(parse.len(), 1, "{v:#}");
    assert!(parse[0].get("suppressed").is_none(), "{v:#}");
}

#[test]
fn a_suppression_inside_a_string_is_not_a_comment() {
    let repo = TempRepo::new("inline-string");
    governed(&repo);
    repo.write(
        "environments/prod/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations:\n    note: \"x # tollgate: ignore[plaintext-secret] not a comment\"\nstringData:\n  password: \"hunter2 # tollgate: ignore[plaintext-secret] no\"\n",
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--show-suppressed"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let secret: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "plaintext-secret").collect();
    assert_eq!(secret.len(), 1, "{v:#}");
    assert!(secret[0].get("suppressed").is_none(), "{v:#}");
    // A real comment still works for a rule that may be suppressed inline.
    repo.write(
        "environments/prod/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n# tollgate: ignore[plaintext-secret] test fixture, never deployed\nstringData:\n  password: hunter2\n",
    );
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json", "--show-suppressed"]));
    let secret: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "plaintext-secret").collect();
    assert_eq!(secret.len(), 1, "{v:#}");
    assert_eq!(secret[0]["suppressed"]["kind"], "inline", "{v:#}");
    assert!(!has(&v, "suppression-invalid", "environments/prod/secret.yaml"), "{v:#}");
}

#[test]
fn values_and_names_cannot_inject_into_logs_or_summaries() {
    let repo = TempRepo::new("inject");
    governed(&repo);
    // A Secret whose name carries workflow commands and terminal escapes,
    // in a file whose name carries Markdown and HTML.
    let name = "db\\n::add-mask::x\\n::error file=a.yaml::forged\\u001b[2J";
    repo.write(
        "environments/prod/## ✅ tollgate 0 errors <img src=x onerror=alert(1)> |.yaml",
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: \"{name}\"\nstringData:\n  password: hunter2\n"),
    );
    for format in ["text", "github", "markdown"] {
        let out = tollgate(&repo.path, &["check", ".", "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{format}");
        let text = stdout(&out);
        assert!(!text.contains('\u{1b}'), "{format}: raw ESC in {text}");
        for line in text.lines() {
            assert!(
                !line.starts_with("::add-mask::") && !line.starts_with("::error file=a.yaml"),
                "{format}: forged command line {line:?}"
            );
        }
        assert!(!text.contains("hunter2"), "{format}: secret value printed: {text}");
        if format == "github" {
            assert!(
                text.lines()
                    .all(|l| l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice ")),
                "{text}"
            );
        }
        if format == "markdown" {
            assert!(!text.contains("<img"), "{text}");
            assert_eq!(text.lines().filter(|l| l.starts_with("## ")).count(), 1, "{text}");
        }
    }
}

#[test]
fn long_lines_and_many_findings_render_in_linear_time() {
    let repo = TempRepo::new("output-cost");
    governed(&repo);
    // One finding on a 4 MiB line.
    let padding = "x".repeat(4 * 1024 * 1024);
    repo.write(
        "environments/prod/long.yaml",
        format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: long, annotations: {{pad: \"{padding}\"}}, labels: {{a: b}}}}\nstringData: {{password: hunter2}}\n"),
    );
    // 30,000 Secrets in one file.
    let many: String = (0..30_000)
        .map(|i| format!("---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s{i}}}\nstringData: {{k: v}}\n"))
        .collect();
    repo.write("environments/prod/many.yaml", many);
    let started = std::time::Instant::now();
    let out = tollgate(&repo.path, &["check", "."]);
    let elapsed = started.elapsed();
    let text = stdout(&out);
    assert!(elapsed < std::time::Duration::from_secs(30), "took {elapsed:?}");
    assert!(text.lines().all(|l| l.len() < 2_000), "a snippet line was not cut");
    assert_eq!(text.matches("error[plaintext-secret]").count(), 30_001);
}

#[test]
fn nothing_is_read_outside_the_root() {
    let outside = TempRepo::new("outside");
    outside.write("token", "ghs_SECRETTOKEN1234567890\n");
    outside.write("policy/deny.rego", "package main\ndeny[msg] { msg := \"x\" }\n");
    let repo = TempRepo::new("inside");
    governed(&repo);
    // A committed link from the configuration to a runner's token file.
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.join("token"), repo.join(".tollgate.yaml")).expect("symlink");
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("leaves the repository root"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("SECRETTOKEN") && !stdout(&out).contains("SECRETTOKEN"));
    // Policy paths must be inside the root.
    std::fs::remove_file(repo.join(".tollgate.yaml")).expect("rm");
    let abs = outside.join("policy").display().to_string();
    for path in [abs.as_str(), "../outside/policy", "policy/../../x"] {
        repo.write(".tollgate.yaml", format!("policies:\n  rego: [\"{path}\"]\n"));
        let out = tollgate(&repo.path, &["check", "."]);
        assert_eq!(out.status.code(), Some(2), "{path}: {}", stdout(&out));
        assert!(stderr(&out).contains("must be a path inside the repository"), "{}", stderr(&out));
    }
    // A policy directory that is a link out of the root.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.join("policy"), repo.join("policy")).expect("symlink");
        repo.write(".tollgate.yaml", "policies:\n  rego: [policy]\n");
        let out = tollgate(&repo.path, &["check", "."]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert!(stderr(&out).contains("leaves the repository root"), "{}", stderr(&out));
    }
}

#[test]
fn a_link_from_prod_is_judged_as_prod() {
    let repo = TempRepo::new("prod-link");
    governed(&repo);
    repo.write("apps/blue/app.yaml", super::support::deployment("web", "nginx:latest"));
    let severity = |repo: &TempRepo| -> Vec<String> {
        let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
        findings(&v)
            .iter()
            .filter(|f| f["rule_id"] == "mutable-image-ref")
            .map(|f| f["severity"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(severity(&repo), vec!["warning"]);
    #[cfg(unix)]
    {
        std::fs::create_dir_all(repo.join("environments/prod")).expect("mkdir");
        std::os::unix::fs::symlink("../../apps/blue/app.yaml", repo.join("environments/prod/app.yaml"))
            .expect("symlink");
        assert_eq!(severity(&repo), vec!["error"]);
        // A link to a whole directory.
        std::fs::remove_file(repo.join("environments/prod/app.yaml")).expect("rm");
        std::os::unix::fs::symlink("../../apps/blue", repo.join("environments/prod/blue")).expect("symlink");
        assert_eq!(severity(&repo), vec!["error"]);
    }
}

fn range_json(repo: &TempRepo) -> (Option<i32>, serde_json::Value) {
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--range", "main..change"]);
    (out.status.code(), json(&out))
}

fn active_rules(v: &serde_json::Value) -> Vec<String> {
    findings(v)
        .iter()
        .filter(|f| f.get("suppressed").is_none())
        .map(|f| f["rule_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n";

#[test]
fn the_changes_own_configuration_judges_nothing() {
    let repo = base_and_branch(
        "config-weakened",
        &[
            (".tollgate.yaml", "rules:\n  deploy-after-merge: {enabled: false}\n"),
            ("environments/dev/a.yaml", "a: 1\n"),
        ],
    );
    // The change disables the rules that would fail it, ignores and excludes
    // its files, lowers severities, and adds what they would find.
    repo.write(
        ".tollgate.yaml",
        "rules:\n  unsigned-commit: {enabled: false}\n  untrusted-signer: {enabled: false}\n  parse-error: {enabled: false}\n  history-unavailable: {enabled: false}\n  policy-error: {enabled: false}\n  plaintext-secret: {severity: note}\nignore:\n  - {rule: plaintext-secret, paths: [\"**\"], reason: \"trust me\"}\nexclude: [\"environments/prod/broken.yaml\"]\n",
    );
    repo.write("environments/prod/secret.yaml", SECRET);
    repo.write("environments/prod/broken.yaml", "a: [1\n");
    commit_all(&repo, "weaken");
    let (code, v) = range_json(&repo);
    assert_eq!(code, Some(1), "{v:#}");
    let rules = active_rules(&v);
    for rule in ["unsigned-commit", "plaintext-secret", "parse-error"] {
        assert!(rules.iter().any(|r| r == rule), "{rule} missing: {v:#}");
    }
    let secret = findings(&v).into_iter().find(|f| f["rule_id"] == "plaintext-secret").expect("secret");
    assert_eq!(secret["severity"], "error", "{v:#}");
    // Without a range (after merge) the work tree's configuration is in force.
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    let rules = active_rules(&json(&out));
    assert!(!rules.iter().any(|r| r == "plaintext-secret" || r == "parse-error"), "{rules:?}");
}

#[test]
fn a_broken_configuration_in_the_change_is_a_finding() {
    let repo = base_and_branch("config-broken", &[(".tollgate.yaml", "rules: {}\n")]);
    repo.write(".tollgate.yaml", "rules:\n  no-such-rule: {enabled: false}\n");
    commit_all(&repo, "break");
    let (code, v) = range_json(&repo);
    assert_eq!(code, Some(1));
    let parse: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "parse-error").collect();
    assert_eq!(parse.len(), 1, "{v:#}");
    assert_eq!(parse[0]["location"]["path"], ".tollgate.yaml");
    assert_eq!(parse[0]["location"]["span"]["start_line"], 2);
}

#[test]
fn the_trust_policy_is_the_one_the_base_names() {
    let repo = base_and_branch(
        "signing-policy",
        &[
            (".tollgate.yaml", "signing:\n  policy: .tollgate/signers.yaml\n"),
            (".tollgate/signers.yaml", "signers: []\n"),
            ("other/signers.yaml", "signers: []\n"),
        ],
    );
    repo.write(".tollgate.yaml", "signing:\n  policy: other/signers.yaml\n");
    commit_all(&repo, "point elsewhere");
    let (_, v) = range_json(&repo);
    let source = v["summary"]["range"]["trust_source"].as_str().unwrap_or_default();
    assert!(source.ends_with(":.tollgate/signers.yaml"), "{source}");
}

const DENY_PRIVILEGED: &str =
    "package main\n\ndeny[msg] {\n  input.kind == \"Pod\"\n  input.spec.privileged\n  msg := \"privileged pod\"\n}\n";
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {privileged: true}\n";
const KYVERNO_NO_LATEST: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: no-latest\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: tag\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      message: no latest\n      pattern:\n        spec:\n          containers:\n          - image: '!*:latest'\n";
const LATEST_POD: &str =
    "apiVersion: v1\nkind: Pod\nmetadata: {name: l}\nspec:\n  containers:\n  - {name: c, image: 'nginx:latest'}\n";

#[test]
fn renaming_or_rewriting_a_policy_does_not_drop_it() {
    let repo = base_and_branch(
        "policy-renamed",
        &[
            (".tollgate.yaml", "policies:\n  rego: [policy]\n  kyverno: [kyverno]\n"),
            ("policy/deny.rego", DENY_PRIVILEGED),
            ("kyverno/no-latest.yaml", KYVERNO_NO_LATEST),
        ],
    );
    // The change moves the Rego policy out of its package, switches the
    // Kyverno policy's kind and action, and adds what they would catch.
    repo.write("policy/deny.rego", DENY_PRIVILEGED.replace("package main", "package disabled"));
    repo.write(
        "kyverno/no-latest.yaml",
        KYVERNO_NO_LATEST.replace("kind: ClusterPolicy", "kind: NotAPolicy").replace("Enforce", "Audit"),
    );
    repo.write("environments/prod/pod.yaml", POD);
    repo.write("environments/prod/latest.yaml", LATEST_POD);
    commit_all(&repo, "rewrite policies");
    let (code, v) = range_json(&repo);
    assert_eq!(code, Some(1));
    let rules = active_rules(&v);
    assert!(rules.iter().any(|r| r == "main.deny"), "{v:#}");
    let kyverno = findings(&v).into_iter().find(|f| f["rule_id"] == "no-latest/tag").expect("kyverno finding");
    assert_eq!(kyverno["severity"], "error", "{kyverno:#}");
    // Deleting them changes nothing either.
    assert!(git(&repo.path, &["rm", "-q", "-r", "policy", "kyverno"]).status.success());
    commit_all(&repo, "delete policies");
    let (_, v) = range_json(&repo);
    let rules = active_rules(&v);
    assert!(rules.iter().any(|r| r == "main.deny") && rules.iter().any(|r| r == "no-latest/tag"), "{v:#}");
}

#[test]
fn sops_rules_and_gitignore_come_from_the_base() {
    let repo = base_and_branch(
        "sops-gitignore",
        &[(".sops.yaml", "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n"), (".gitignore", "build/\n")],
    );
    repo.write(".sops.yaml", "creation_rules: []\n");
    repo.write("secrets/app.yaml", "password: hunter2\n");
    std::fs::remove_file(repo.join(".gitignore")).expect("rm");
    commit_all(&repo, "weaken sops and gitignore");
    // An untracked build output the base ignores stays ignored.
    repo.write("build/out.yaml", SECRET);
    let (_, v) = range_json(&repo);
    let secrets: Vec<_> = findings(&v)
        .into_iter()
        .filter(|f| f["rule_id"] == "plaintext-secret")
        .map(|f| f["location"]["path"].clone())
        .collect();
    assert_eq!(secrets, vec![serde_json::json!("secrets/app.yaml")], "{v:#}");
}

/// Every guardrail edit of a pull request, one line each: `rule path:line message-start`.
fn guardrail_lines(v: &serde_json::Value) -> String {
    let mut lines: Vec<String> = findings(v)
        .iter()
        .filter(|f| f["rule_id"] == "guardrail-weakened" || f["rule_id"] == "guardrail-changed")
        .map(|f| {
            let message = f["message"].as_str().unwrap_or_default();
            let what = message.split(". It judges").next().unwrap_or(message);
            format!(
                "{} {} {}:{} {}",
                f["rule_id"].as_str().unwrap_or_default(),
                f["severity"].as_str().unwrap_or_default(),
                f["location"]["path"].as_str().unwrap_or_default(),
                f["location"]["span"]["start_line"],
                what
            )
        })
        .collect();
    lines.sort();
    lines.join("\n") + "\n"
}

#[test]
fn guardrail_edits_are_reported_at_their_lines() {
    let ruleset = r#"{"name": "main", "target": "branch", "enforcement": "active",
  "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
  "rules": [{"type": "pull_request", "parameters": {"required_approving_review_count": 1, "require_code_owner_review": true, "dismiss_stale_reviews_on_push": true}},
            {"type": "required_signatures"}],
  "bypass_actors": []}
"#;
    let repo = base_and_branch(
        "guardrail-edits",
        &[
            (
                ".tollgate.yaml",
                "environments:\n  prod: {paths: [\"environments/prod/**\"], protected: true}\npolicies:\n  rego: [policy]\n  kyverno: [kyverno]\nrules:\n  plaintext-secret: {severity: error}\nignore:\n  - {rule: mutable-image-ref, paths: [\"environments/dev/**\"], reason: \"dev only\"}\n",
            ),
            (".github/CODEOWNERS", "* @acme/platform\n/environments/prod/ @acme/sre\n"),
            (
                ".tollgate/signers.yaml",
                "signers:\n  - name: bot\n    ssh: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1\"]\n    paths: [\"environments/dev/**\"]\n",
            ),
            (".sops.yaml", "creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n"),
            (".github/rulesets/main.json", ruleset),
            ("policy/deny.rego", DENY_PRIVILEGED),
            ("policy/extra.rego", "package main\n\nwarn[msg] {\n  msg := \"x\"\n  false\n}\n"),
            ("kyverno/no-latest.yaml", KYVERNO_NO_LATEST),
            ("environments/prod/app.yaml", "a: 1\n"),
            ("environments/prod-eu/app.yaml", "a: 1\n"),
        ],
    );
    repo.write(
        ".tollgate.yaml",
        "environments:\n  prod: {paths: [\"environments/prod/*.none\"], protected: true}\npolicies:\n  rego: [policy]\n  kyverno: [kyverno]\nrules:\n  plaintext-secret: {severity: note}\n  unsigned-commit: {enabled: false}\n  deploy-after-merge: {enabled: true}\nignore:\n  - {rule: mutable-image-ref, paths: [\"environments/dev/**\"], reason: \"dev only\"}\n  - {rule: plaintext-secret, paths: [\"**\"], reason: \"later\"}\nexclude: [\"environments/prod/**\"]\n",
    );
    repo.write(".github/CODEOWNERS", "* @acme/platform\n");
    repo.write(".tollgate/signers.yaml", "signers:\n  - name: bot\n    ssh: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1\"]\n  - name: mallory\n    ssh: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2\"]\n");
    repo.write(".sops.yaml", "creation_rules: []\n");
    repo.write(".github/rulesets/main.json", ruleset.replace(",\n            {\"type\": \"required_signatures\"}", ""));
    repo.write("policy/deny.rego", DENY_PRIVILEGED.replace("deny[msg]", "ok[msg]"));
    repo.write("policy/extra.rego", "package main\n\n# reworded\nwarn[msg] {\n  msg := \"x\"\n  false\n}\n");
    repo.write("kyverno/no-latest.yaml", KYVERNO_NO_LATEST.replace("Enforce", "Audit"));
    commit_all(&repo, "weaken everything");
    let (_, v) = range_json(&repo);
    insta::assert_snapshot!(guardrail_lines(&v));
    // The summary lists them for the reviewers, in every format.
    let summary = &v["summary"]["sections"];
    let section = summary.as_array().and_then(|s| s.iter().find(|s| s["rule_id"] == "guardrail-weakened")).cloned();
    assert!(section.is_some_and(|s| s["items"].as_array().is_some_and(|i| i.len() > 10)), "{v:#}");
    let markdown = stdout(&tollgate(&repo.path, &["check", ".", "--format", "markdown", "--range", "main..change"]));
    assert!(markdown.contains("change(s) to the guardrails in main..change"), "{markdown}");
    // Not one of them can be silenced by a comment in the change.
    repo.write(
        ".tollgate.yaml",
        format!(
            "# tollgate: ignore[guardrail-weakened] fine\n{}",
            std::fs::read_to_string(repo.join(".tollgate.yaml")).expect("read")
        ),
    );
    commit_all(&repo, "silence");
    let (_, v) = range_json(&repo);
    assert!(
        findings(&v).iter().any(|f| f["rule_id"] == "guardrail-weakened" && f.get("suppressed").is_none()),
        "{v:#}"
    );
}

#[test]
fn suppressions_the_change_adds_are_shown() {
    let repo = base_and_branch(
        "added-suppressions",
        &[("environments/prod/app.yaml", "# tollgate: ignore[prod-self-heal] old exception, already reviewed\na: 1\n")],
    );
    repo.write(
        "environments/prod/app.yaml",
        format!(
            "# tollgate: ignore[prod-self-heal] old exception, already reviewed\na: 1\n---\n{}",
            PROD_APP.replace(
                "      selfHeal: true",
                "      # tollgate: ignore[prod-self-heal] we need it\n      selfHeal: true"
            )
        ),
    );
    commit_all(&repo, "add an exception");
    let (_, v) = range_json(&repo);
    let added: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "suppression-added").collect();
    assert_eq!(added.len(), 1, "{v:#}");
    assert_eq!(added[0]["location"]["span"]["start_line"], 12, "{v:#}");
    let message = added[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("suppression of `prod-self-heal`") && message.contains("silences 1 finding(s)"),
        "{message}"
    );
    let section = v["summary"]["sections"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["rule_id"] == "suppression-added").cloned());
    assert!(section.is_some(), "{v:#}");
    // Outside a range nothing is "added".
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    assert!(!findings(&v).iter().any(|f| f["rule_id"] == "suppression-added"), "{v:#}");
}

#[test]
fn a_broken_policy_in_the_change_is_a_finding_while_the_base_judges() {
    let repo = base_and_branch(
        "policy-broken",
        &[(".tollgate.yaml", "policies:\n  rego: [policy]\n"), ("policy/deny.rego", DENY_PRIVILEGED)],
    );
    repo.write("policy/deny.rego", "package main\n\ndeny[msg] {\n  input.kind ==\n}\n");
    repo.write("environments/prod/pod.yaml", POD);
    commit_all(&repo, "break the policy");
    let (code, v) = range_json(&repo);
    assert_eq!(code, Some(1));
    let rules = active_rules(&v);
    assert!(rules.iter().any(|r| r == "main.deny"), "the base's policy still judges: {v:#}");
    let errors: Vec<_> = findings(&v).into_iter().filter(|f| f["rule_id"] == "policy-error").collect();
    assert_eq!(errors.len(), 1, "{v:#}");
    assert_eq!(errors[0]["location"]["path"], "policy/deny.rego");
    assert!(errors[0]["message"].as_str().unwrap_or_default().contains("change's version"), "{v:#}");
}

#[test]
fn the_gate_itself_must_be_a_required_check() {
    let repo = TempRepo::new("gate-required");
    governed(&repo);
    let workflow = "on: pull_request\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: tollgate-dev/tollgate@v1\n";
    let gate_findings = |repo: &TempRepo| -> Vec<String> {
        let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
        findings(&v)
            .iter()
            .filter(|f| f["rule_id"] == "prod-review-not-required")
            .filter_map(|f| f["message"].as_str().map(str::to_owned))
            .filter(|m| m.contains("status check"))
            .collect()
    };
    // No workflow runs tollgate: nothing to require.
    assert!(gate_findings(&repo).is_empty());
    repo.write(".github/workflows/ci.yml", workflow);
    let found = gate_findings(&repo);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("status check `lint`") && found[0].contains("delete its tollgate step"), "{found:?}");
    // Required by the ruleset: fine.
    let ruleset = std::fs::read_to_string(repo.join(".github/rulesets/main.json")).expect("ruleset");
    let with_check = ruleset.replace(
        "{\"type\": \"required_signatures\"}",
        "{\"type\": \"required_signatures\"}, {\"type\": \"required_status_checks\", \"parameters\": {\"required_status_checks\": [{\"context\": \"lint\"}]}}",
    );
    repo.write(".github/rulesets/main.json", &with_check);
    assert!(gate_findings(&repo).is_empty());
    // The configuration names the check: that name must be required.
    repo.write(".tollgate.yaml", "review:\n  status_check: tollgate / lint\n");
    assert_eq!(gate_findings(&repo).len(), 1);
}

#[test]
fn yaml_kubernetes_reads_differently_cannot_hide_a_prod_object() {
    let repo = TempRepo::new("yaml-hiding");
    governed(&repo);
    // An invisible LINE SEPARATOR after `kind: Application`: Kubernetes sees
    // an Application, a YAML 1.2 reader a kind `Application\u{2028}...`.
    repo.write("environments/prod/app.yaml", PROD_APP.replace("kind: Application\n", "kind: Application\u{2028}"));
    // A tagged quoted boolean: `true` for Kubernetes.
    repo.write("environments/prod/tagged.yaml", PROD_APP.replace("selfHeal: true", "selfHeal: !!bool \"true\""));
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    let found = places(&v);
    assert!(found.iter().any(|(r, p, _)| r == "parse-error" && p == "environments/prod/app.yaml"), "{found:?}");
    assert!(found.iter().any(|(r, p, _)| r == "prod-self-heal" && p == "environments/prod/tagged.yaml"), "{found:?}");
}

#[test]
fn a_policy_link_is_an_error_not_a_silent_skip() {
    let outside = TempRepo::new("policy-link-target");
    outside.write("deny.rego", DENY_PRIVILEGED);
    let repo = TempRepo::new("policy-link");
    repo.write("environments/prod/pod.yaml", POD);
    repo.write("policy/ok.rego", "package other\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.join("deny.rego"), repo.join("policy/deny.rego")).expect("symlink");
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json", "--policy", "policy"]));
    let errors: Vec<String> = findings(&v)
        .iter()
        .filter(|f| f["rule_id"] == "policy-error")
        .filter_map(|f| f["message"].as_str().map(str::to_owned))
        .collect();
    assert!(errors.iter().any(|m| m.contains("symbolic link")), "{v:#}");
}
