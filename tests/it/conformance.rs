//! Measurements against shared data: the real GitOps repositories and peer
//! suites of `../shared/conformance`, and the seeded answers of the synthetic
//! repository generator in `../shared/bench`. Read at test time (never
//! copied); skipped with a notice when absent. `TOLLGATE_SHARED` overrides
//! the location.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use tollgate_core::{CheckOptions, Config, check};

use super::support::{TempRepo, workspace};

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("TOLLGATE_SHARED").map_or_else(|| workspace().join("../shared"), PathBuf::from);
    dir.is_dir().then_some(dir)
}

#[test]
fn real_repositories_and_suites_parse_without_false_errors() {
    let Some(shared) = shared() else {
        super::support::skip("../shared not found; conformance corpora not checked");
        return;
    };
    let registry = tollgate::registry().expect("registry");
    let corpora = shared.join("conformance");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&corpora)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    assert!(!dirs.is_empty(), "no corpora under {}", corpora.display());
    let mut total_files = 0;
    for dir in dirs {
        let report = check(&dir, &Config::default(), &registry, &CheckOptions::default()).expect("check runs");
        let parse_errors: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.rule_id == "parse-error")
            .map(|f| format!("{}:{}: {}", f.location.path, f.location.span.start.line, f.message))
            .collect();
        let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for f in report.active() {
            *by_rule.entry(f.rule_id.as_str()).or_default() += 1;
        }
        total_files += report.stats.files;
        println!(
            "{}: {} files, {} documents, findings {by_rule:?}",
            dir.file_name().unwrap_or_default().to_string_lossy(),
            report.stats.files,
            report.stats.documents
        );
        assert!(parse_errors.is_empty(), "valid upstream files reported as unparseable:\n{}", parse_errors.join("\n"));
    }
    println!("parsed {total_files} files of the shared corpora with no parse-error");
}

/// The generator seeds violations and lists them in `OUT.answers.json`;
/// tollgate must find exactly the ones its rules cover.
#[test]
fn synthetic_repository_answers_agree() {
    let Some(shared) = shared() else {
        super::support::skip("../shared not found; generator answers not checked");
        return;
    };
    let generator = shared.join("bench/gen_gitops_repo.py");
    let tmp = TempRepo::new("bench");
    let out = tmp.join("repo");
    let generated = Command::new("python3").arg(&generator).args(["200"]).arg(&out).args(["--seed", "11"]).output();
    if !generated.is_ok_and(|o| o.status.success()) {
        super::support::skip(&format!("python3 or {} unavailable; generator answers not checked", generator.display()));
        return;
    }
    let answers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.join("repo.answers.json")).expect("answers")).expect("json");
    let mapping = [
        ("K8S_IMAGE_LATEST", "mutable-image-ref"),
        ("KUSTOMIZE_IMAGE_LATEST", "mutable-image-ref"),
        ("K8S_PLAINTEXT_SECRET", "plaintext-secret"),
    ];
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for v in answers["violations"].as_array().expect("violations") {
        if let Some((_, rule)) = mapping.iter().find(|(a, _)| v["rule"] == *a) {
            *expected.entry(((*rule).to_owned(), v["file"].as_str().unwrap_or("").to_owned())).or_default() += 1;
        }
    }
    let registry = tollgate::registry().expect("registry");
    let report = check(&out, &Config::default(), &registry, &CheckOptions::default()).expect("check");
    let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in report.active().filter(|f| mapping.iter().any(|(_, r)| *r == f.rule_id)) {
        *found.entry((f.rule_id.clone(), f.location.path.clone())).or_default() += 1;
    }
    let agree = expected.iter().filter(|(k, n)| found.get(*k) == Some(n)).count();
    println!(
        "generator answers: {agree}/{} expected (rule, file) pairs found exactly; {} found in all",
        expected.len(),
        found.len()
    );
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
}
