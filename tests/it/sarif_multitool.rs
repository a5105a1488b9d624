//! Microsoft's SARIF multitool (`npm @microsoft/sarif-multitool`) validates
//! the SARIF of every fixture against the spec's rules and GitHub code
//! scanning's ingestion rules (GH1001...). Installed into `target/` with npm
//! when npm is present; skipped with a notice otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{TempRepo, tollgate, workspace};

fn multitool() -> Option<PathBuf> {
    let prefix = workspace().join("target/sarif-multitool");
    let find = || -> Option<PathBuf> {
        let dir = prefix.join("node_modules/@microsoft");
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("Sarif.Multitool"))
            .find(|p| p.is_file())
    };
    if let Some(found) = find() {
        return Some(found);
    }
    let installed = Command::new("npm")
        .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg("@microsoft/sarif-multitool")
        .output()
        .is_ok_and(|o| o.status.success());
    if installed { find() } else { None }
}

/// Validates one SARIF file; returns the multitool's error results.
fn errors(tool: &Path, sarif: &Path, dir: &Path) -> Vec<String> {
    let report = dir.join("report.sarif");
    let _ = std::fs::remove_file(&report);
    let out = Command::new(tool)
        .arg("validate")
        .arg(sarif)
        .arg("--output")
        .arg(&report)
        .args(["--rule-kind", "Gh;Sarif"])
        .output()
        .expect("multitool runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("report json");
    v["runs"][0]["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|x| x["level"] == "error")
                .map(|x| format!("{}: {}", x["ruleId"], x["message"]["text"]))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_fixture_passes_the_multitool_with_github_rules() {
    let Some(tool) = multitool() else {
        super::support::skip("npm or @microsoft/sarif-multitool unavailable; SARIF multitool validation skipped");
        return;
    };
    let tmp = TempRepo::new("multitool");
    let root = workspace();
    let mut dirs: Vec<PathBuf> = vec![root.join("examples/gitops-demo"), root.join("testdata/repos/basic")];
    dirs.extend(
        std::fs::read_dir(root.join("testdata/rules")).expect("rules").filter_map(Result::ok).map(|e| e.path()),
    );
    for dir in &dirs {
        let sarif = tmp.join("out.sarif");
        let out = tollgate(
            &root,
            &["check", &dir.to_string_lossy(), "--format", "sarif", "--output", &sarif.to_string_lossy()],
        );
        assert!(out.status.code().is_some_and(|c| c < 2));
        let found = errors(&tool, &sarif, &tmp.path);
        assert!(found.is_empty(), "{}: {found:#?}", dir.display());
    }
    // The validator is really checking: a result without a location is an error.
    let demo = tollgate(&root, &["check", "examples/gitops-demo", "--format", "sarif"]);
    let mut broken: serde_json::Value = serde_json::from_slice(&demo.stdout).expect("json");
    let first = broken["runs"][0]["results"][0].as_object_mut().expect("the demo has results");
    first.remove("locations");
    std::fs::write(tmp.join("broken.sarif"), broken.to_string()).expect("write");
    assert!(!errors(&tool, &tmp.join("broken.sarif"), &tmp.path).is_empty());
    println!("SARIF of {} fixture repositories validated by the SARIF multitool with GitHub rules", dirs.len());
}
