//! Ownership rules on small repositories built in the test.

use tollgate_core::{CheckOptions, Config, Finding, RuleSettings, check};

use super::support::TempRepo;

fn findings(repo: &TempRepo, rule: &str, config_text: &str) -> Vec<Finding> {
    let registry = tollgate::registry().expect("registry");
    let mut config = Config::from_text(config_text, ".tollgate.yaml", &[]).expect("config");
    for r in registry.rules() {
        let on = r.meta.id == rule;
        config.rules.insert(r.meta.id.clone(), RuleSettings { enabled: Some(on), severity: None });
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
