//! Text, JSON, SARIF and GitHub output of a fixture repository, pinned by
//! snapshots; SARIF validated against the official SARIF 2.1.0 schema.

use std::path::PathBuf;

use super::support::{TempRepo, deployment, governed, stdout, tollgate, workspace};

fn basic(format: &str) -> String {
    let out = tollgate(&workspace(), &["check", "testdata/repos/basic", "--format", format]);
    assert_eq!(out.status.code(), Some(1), "findings make exit 1");
    stdout(&out)
}

#[test]
fn text_output() {
    insta::assert_snapshot!(basic("text"));
}

#[test]
fn json_output() {
    let text = basic("json");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    v["version"] = "[version]".into();
    insta::assert_json_snapshot!(v);
}

#[test]
fn sarif_output() {
    let text = basic("sarif");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let driver = &mut v["runs"][0]["tool"]["driver"];
    driver["semanticVersion"] = "[version]".into();
    driver["version"] = "[version]".into();
    // Every description is whole sentences within GitHub's limit: a page's
    // paragraph that introduces a list carries the list's items.
    for rule in driver["rules"].as_array().expect("rules") {
        let full = rule["fullDescription"]["text"].as_str().unwrap_or("");
        assert!(full.chars().count() <= 1024 && full.ends_with(['.', ')']), "{}: {full}", rule["id"]);
    }
    // Descriptors come from the rule pages, which the registry and generated
    // docs tests pin: the snapshot keeps their shape (id, level, tags) and
    // the results, so editing a page does not churn it.
    for rule in driver["rules"].as_array_mut().expect("rules") {
        assert!(rule["shortDescription"]["text"].as_str().is_some_and(|t| !t.is_empty()), "{rule}");
        rule["help"]["text"] = "[page]".into();
        rule["help"]["markdown"] = "[page]".into();
        rule["shortDescription"]["text"] = "[page]".into();
        rule["fullDescription"]["text"] = "[page]".into();
    }
    insta::assert_json_snapshot!(v);
}

#[test]
fn github_output() {
    insta::assert_snapshot!(basic("github"));
}

/// The official OASIS SARIF 2.1.0 schema, as shipped in the source of our
/// `serde-sarif` dependency (found in Cargo's registry, no network needed).
pub(crate) fn sarif_schema() -> serde_json::Value {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"serde-sarif\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_owned())
        .expect("serde-sarif in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let sources = cargo_home.join("registry/src");
    let path = std::fs::read_dir(&sources)
        .expect("cargo registry sources")
        .filter_map(Result::ok)
        .map(|index| index.path().join(format!("serde-sarif-{version}/src/schema.json")))
        .find(|p| p.is_file())
        .expect("serde-sarif's schema.json in the registry");
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema.json")).expect("schema JSON");
    // The official schema's `language` pattern has a bare `]`, a literal in
    // ECMAScript regexes but a syntax error in Rust's; escaping it keeps the
    // meaning identical.
    let mut patched = 0;
    for pointer in
        ["/definitions/run/properties/language/pattern", "/definitions/toolComponent/properties/language/pattern"]
    {
        let language = schema.pointer_mut(pointer).expect("language pattern");
        assert_eq!(language, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *language = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$".into();
        patched += 1;
    }
    assert_eq!(patched, 2);
    assert_eq!(schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema");
    schema
}

pub(crate) fn assert_valid_sarif(validator: &jsonschema::Validator, text: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(text).expect("SARIF is JSON");
    let errors: Vec<String> =
        validator.iter_errors(&v).map(|e| format!("{} at {}", e, e.instance_path().as_str())).collect();
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
    v
}

#[test]
fn sarif_passes_the_official_schema_and_github_rules() {
    let validator = jsonschema::validator_for(&sarif_schema()).expect("schema compiles");
    for repo in [
        "testdata/repos/basic",
        "examples/gitops-demo",
        "testdata/rules/mutable-image-ref",
        "testdata/rules/plaintext-secret",
    ] {
        let out = tollgate(&workspace(), &["check", repo, "--format", "sarif", "--sarif-category", "gitops"]);
        let v = assert_valid_sarif(&validator, &stdout(&out));
        let runs = v["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 1, "one run per file");
        let run = &runs[0];
        assert_eq!(run["automationDetails"]["id"], "tollgate/gitops/");
        assert_eq!(run["tool"]["driver"]["name"], "tollgate");
        let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
        for rule in rules {
            for key in ["shortDescription", "fullDescription"] {
                assert!(rule[key]["text"].as_str().expect(key).chars().count() <= 1024);
            }
            assert!(rule["help"]["markdown"].as_str().is_some_and(|m| m.contains("## Why it matters")));
            assert!(rule["properties"]["tags"].is_array());
            assert!(rule["defaultConfiguration"]["level"].is_string());
        }
        for result in run["results"].as_array().expect("results") {
            let locations = result["locations"].as_array().expect("locations");
            assert_eq!(locations.len(), 1, "exactly one location: {result}");
            let pl = &locations[0]["physicalLocation"];
            assert_eq!(pl["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            let uri = pl["artifactLocation"]["uri"].as_str().expect("uri");
            assert!(!uri.starts_with('/') && !uri.contains(':'), "repo-relative: {uri}");
            for k in ["startLine", "startColumn", "endLine", "endColumn"] {
                assert!(pl["region"][k].as_i64().is_some_and(|n| n >= 1), "{k} in {result}");
            }
            let idx = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[idx]["id"], result["ruleId"]);
            assert!(result["partialFingerprints"]["tollgateFingerprint/v1"].is_string());
            assert!(result.get("suppressions").is_none());
        }
    }
}

#[test]
fn sarif_caps_results_at_25000_with_a_notification() {
    let repo = TempRepo::new("cap");
    // 25,010 findings: one image per container, 10 files of 2,501 containers.
    for f in 0..10 {
        let mut s = String::from("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n");
        for i in 0..2501 {
            s.push_str(&format!("    - {{name: c{i}, image: app{f}x{i}}}\n"));
        }
        repo.write(&format!("pods-{f}.yaml"), s);
    }
    repo.write("prod/a.yaml", deployment("a", "nginx"));
    governed(&repo);
    let out = tollgate(&repo.path, &["check", ".", "--format", "sarif"]);
    let validator = jsonschema::validator_for(&sarif_schema()).expect("schema compiles");
    let v = assert_valid_sarif(&validator, &stdout(&out));
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 25_000);
    // The most severe (the prod error) is kept.
    assert!(results.iter().any(|r| r["level"] == "error"));
    let note = &v["runs"][0]["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"];
    assert!(note.as_str().is_some_and(|t| t.starts_with("25011 results were found")), "{note}");
}
