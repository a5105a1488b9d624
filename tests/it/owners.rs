//! Ownership rules on small repositories built in the test.

use tollgate_core::{CheckOptions, Config, Finding, RuleSettings, check};

use super::support::TempRepo;

fn findings(repo: &TempRepo, rule: &str, config_text: &str) -> Vec<Finding> {
    let registry = tollgate::registry().expect("registry");
    let mut config =
        Config::from_text(config_text, ".tollgate.yaml", &tollgate::registry().expect("registry")).expect("config");
    for r in registry.rules() {
        let on = r.meta.id == rule;
        config.rules.insert(r.meta.id.to_string(), RuleSettings { enabled: Some(on), severity: None });
    }
    let report = check(&repo.path, &config, &registry, &CheckOptions::default()).expect("check");
    report.findings.into_iter().filter(|f| !f.is_suppressed()).collect()
}

#[test]
fn teams_and_minimum_owners() {
    let repo = TempRepo::new("owners");
    repo.write(".github/CODEOWNERS", "/prod/a/ @alice\n/prod/b/ @acme/sre\n/prod/c/ @acme/sre @bob\n");
    for f in ["prod/a/x.yaml", "prod/b/x.yaml", "prod/c/x.yaml", "prod/d/README.md"] {
        repo.write(f, "a: 1\n");
    }
    let paths = |config: &str| -> Vec<String> {
        findings(&repo, "prod-path-unowned", config).into_iter().map(|f| f.location.path).collect()
    };
    // Files tollgate does not parse (README.md) need owners too.
    assert_eq!(paths(""), vec!["prod/d/README.md"]);
    assert_eq!(paths("review: { owners_must_be_teams: true }"), vec!["prod/a/x.yaml", "prod/d/README.md"]);
    assert_eq!(paths("review: { min_owners: 2 }"), vec!["prod/a/x.yaml", "prod/b/x.yaml", "prod/d/README.md"]);
}

#[test]
fn first_codeowners_location_wins() {
    let repo = TempRepo::new("locations");
    repo.write("CODEOWNERS", "* @acme/platform\n");
    repo.write(".github/CODEOWNERS", "/prod/ @acme/sre\n");
    repo.write("prod/x.yaml", "a: 1\n");
    repo.write("dev/x.yaml", "a: 1\n");
    let f = findings(&repo, "codeowners-invalid", "");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location.path, "CODEOWNERS");
    assert!(f[0].message.contains("which is `.github/CODEOWNERS`"));
    // The ignored root CODEOWNERS owns nothing: its `*` does not cover the workflow.
    repo.write(".github/workflows/ci.yml", "on: push\njobs: {}\n");
    let f = findings(&repo, "guardrails-unowned", "");
    let paths: Vec<&str> = f.iter().map(|f| f.location.path.as_str()).collect();
    assert_eq!(paths, vec![".github/CODEOWNERS", ".github/workflows/ci.yml", "CODEOWNERS"]);
}

const STRONG_RULESET: &str = r#"{"name": "main", "target": "branch", "enforcement": "active",
  "conditions": {"ref_name": {"include": ["refs/heads/main"], "exclude": []}},
  "rules": [{"type": "pull_request", "parameters": {"required_approving_review_count": 2, "require_code_owner_review": true, "dismiss_stale_reviews_on_push": true}},
            {"type": "required_signatures"}],
  "bypass_actors": []}"#;

fn protection_messages(files: &[(&str, &str)], config: &str) -> Vec<String> {
    let repo = TempRepo::new("protection");
    repo.write(".github/CODEOWNERS", "* @acme/platform\n");
    for (path, text) in files {
        repo.write(path, text);
    }
    findings(&repo, "prod-review-not-required", config)
        .into_iter()
        .map(|f| format!("{}:{} {} {}", f.location.path, f.location.span.start.line, f.severity, f.message))
        .collect()
}

#[test]
fn branch_protection_sources() {
    // A complete ruleset: nothing to report.
    assert!(protection_messages(&[(".github/rulesets/main.json", STRONG_RULESET)], "").is_empty());
    // `review.min_approvals` raises the bar.
    let m = protection_messages(&[(".github/rulesets/main.json", STRONG_RULESET)], "review: { min_approvals: 3 }");
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("2 approving review(s) required, fewer than `review.min_approvals: 3`"), "{m:#?}");
    // No settings as code: one note, nothing else.
    let m = protection_messages(&[], "");
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].starts_with(".github/CODEOWNERS:1 note No branch protection is kept as code"), "{m:#?}");
    // The Settings app, complete.
    let settings = "branches:\n  - name: main\n    protection:\n      required_pull_request_reviews:\n        required_approving_review_count: 1\n        dismiss_stale_reviews: true\n        require_code_owner_reviews: true\n      required_signatures: true\n      enforce_admins: true\n";
    assert!(protection_messages(&[(".github/settings.yml", settings)], "").is_empty());
    // The Settings app without a protection block: nothing is required.
    let m = protection_messages(&[(".github/settings.yml", "branches:\n  - name: main\n    protection: null\n")], "");
    assert!(m.iter().any(|x| x.contains("is not enforced")), "{m:#?}");
    assert!(m.iter().any(|x| x.contains("pull requests are not required")), "{m:#?}");
    // Terraform: a classic protection plus a ruleset with signatures, complete.
    let tf = r#"
resource "github_branch_protection_v3" "main" {
  repository     = "gitops"
  branch         = "main"
  enforce_admins = true
  required_pull_request_reviews {
    dismiss_stale_reviews           = true
    require_code_owner_reviews      = true
    required_approving_review_count = 1
  }
}
resource "github_repository_ruleset" "signed" {
  name        = "signed"
  repository  = "gitops"
  target      = "branch"
  enforcement = "active"
  conditions {
    ref_name {
      include = ["~DEFAULT_BRANCH"]
      exclude = []
    }
  }
  rules {
    required_signatures = true
  }
}
"#;
    assert!(protection_messages(&[("infra/github.tf", tf)], "").is_empty());
    // The same without the signed-commits ruleset and with admins exempt.
    let weak = tf.replace("enforce_admins = true", "enforce_admins = false").replace("required_signatures = true", "");
    let m = protection_messages(&[("infra/github.tf", &weak)], "");
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m.iter().any(|x| x.starts_with("infra/github.tf:5 error") && x.contains("repository administrators")),
        "{m:#?}"
    );
    assert!(m.iter().any(|x| x.contains("signed commits are not required")), "{m:#?}");
}

#[test]
fn only_workflow_files_are_guarded_as_workflows() {
    let repo = TempRepo::new("workflow-kinds");
    repo.write(".github/CODEOWNERS", "/apps/ @acme/dev\n");
    repo.write(".github/workflows/deploy.yml", "on: push\njobs: {}\n");
    repo.write(".github/workflows/README.md", "How our workflows deploy.\n");
    repo.write(".github/workflows/scripts/helper.yml", "a: 1\n");
    let paths: Vec<String> = findings(&repo, "guardrails-unowned", "").into_iter().map(|f| f.location.path).collect();
    // GitHub runs only the YAML files directly in the folder.
    assert_eq!(paths, vec![".github/CODEOWNERS", ".github/workflows/deploy.yml"]);
}
