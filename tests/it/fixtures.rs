//! Per-rule fixtures: `testdata/rules/<rule-id>/**` checked with only that
//! rule (and `parse-error`) enabled. Files named `ok-*` (or below an `ok-*`
//! folder) must produce nothing; every other file's findings are an insta
//! snapshot.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tollgate_core::{CheckOptions, CheckReport, Config, RuleSettings, check};

fn report_for(rule_dir: &Path, rule: &str) -> CheckReport {
    let registry = tollgate::registry().expect("registry");
    // A fixture directory may configure policies (`policies.rego`).
    let mut config = Config::discover(rule_dir, None, &registry).expect("fixture config");
    for r in registry.rules() {
        let on = r.meta.id == rule || r.meta.id == "parse-error";
        config.rules.insert(r.meta.id.to_string(), RuleSettings { enabled: Some(on), severity: None });
    }
    let options = CheckOptions {
        engines: tollgate::policy_engines(rule_dir, &config, &tollgate_rego::RegoOptions::default(), &[])
            .expect("fixture policies"),
        ..CheckOptions::default()
    };
    check(rule_dir, &config, &registry, &options).expect("check runs")
}

/// Findings of one file, one line each, suppressed ones marked.
fn render(report: &CheckReport, rel: &str) -> String {
    let mut s = String::new();
    for f in report.findings.iter().filter(|f| f.location.path == rel) {
        let sp = f.location.span;
        let _ = write!(
            s,
            "{}:{}-{}:{} {} [{}] {}",
            sp.start.line, sp.start.column, sp.end.line, sp.end.column, f.severity, f.rule_id, f.message
        );
        if let Some(route) = &f.location.route {
            let _ = write!(s, "\n    route: {route}");
        }
        if let Some(r) = &f.resource {
            let _ = write!(s, "\n    resource: {}", r.display_name());
        }
        if let Some(sup) = &f.suppressed {
            let _ = write!(s, "\n    suppressed ({}): {}", sup.kind, sup.reason);
        }
        s.push('\n');
    }
    if s.is_empty() { "(no findings)\n".to_owned() } else { s }
}

#[test]
fn rule_fixtures() {
    let base: PathBuf = super::support::workspace().join("testdata/rules");
    let reports: Mutex<HashMap<String, std::sync::Arc<CheckReport>>> = Mutex::new(HashMap::new());
    insta::glob!("../../testdata/rules", "**/{*.yaml,*.yml,*.json,*.tf,*.rego,CODEOWNERS}", |path| {
        let rel_to_base = path.strip_prefix(&base).expect("inside testdata/rules");
        let rule = rel_to_base.components().next().expect("rule dir").as_os_str().to_string_lossy().into_owned();
        let rel: String = rel_to_base
            .components()
            .skip(1)
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let report = {
            let mut cache = reports.lock().expect("lock");
            cache
                .entry(rule.clone())
                .or_insert_with(|| std::sync::Arc::new(report_for(&base.join(&rule), &rule)))
                .clone()
        };
        if rel.split('/').any(|part| part.starts_with("ok-")) {
            let active: Vec<_> =
                report.findings.iter().filter(|f| f.location.path == rel && !f.is_suppressed()).collect();
            assert!(active.is_empty(), "{rule}/{rel} must produce no findings, got {active:#?}");
        } else {
            insta::assert_snapshot!(render(&report, &rel));
        }
    });
}
