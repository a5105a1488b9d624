//! The registry and the rule pages are one: every registered rule has its
//! page `rules/<id>.md`, every page a rule, ids are unique kebab-case slugs.

use std::collections::BTreeSet;

use super::support::workspace;

#[test]
fn every_rule_has_its_page_and_every_page_a_rule() {
    let registry = tollgate::registry().expect("every page parses and has its sections");
    let registered: BTreeSet<String> = registry.rules().iter().map(|r| r.meta.id.to_string()).collect();
    let pages: BTreeSet<String> = std::fs::read_dir(workspace().join("rules"))
        .expect("rules/")
        .filter_map(std::result::Result::ok)
        .filter_map(|e| e.file_name().to_string_lossy().strip_suffix(".md").map(str::to_owned))
        .collect();
    assert_eq!(registered, pages, "rules/*.md and the registry must list the same ids");
    // Each registered rule is the generated identity of its page: a rule has
    // exactly one `RuleId`, and each `RuleId` one rule.
    let generated: BTreeSet<String> = tollgate_core::RuleId::ALL.iter().map(|r| r.as_str().to_owned()).collect();
    assert_eq!(registered, generated, "RuleId (generated from rules/) and the registry must list the same ids");
    for r in registry.rules() {
        let id = tollgate_core::RuleId::from_id(&r.meta.id).expect("generated");
        assert_eq!(id.page(), r.rule.page(), "{}: the rule's page is its RuleId's", r.meta.id);
        assert!(tollgate_core::is_kebab_case(&r.meta.id), "{}", r.meta.id);
        let on_disk = std::fs::read_to_string(workspace().join(format!("rules/{}.md", r.meta.id))).expect("page");
        assert_eq!(on_disk, r.rule.page(), "{}: the embedded page is the file", r.meta.id);
        assert!(r.meta.summary.ends_with('.'), "{}: summary is a sentence", r.meta.id);
        assert!(!r.meta.tags.is_empty(), "{}: has tags", r.meta.id);
    }
}

#[test]
fn every_rule_has_fixtures() {
    let registry = tollgate::registry().expect("registry");
    // History rules need a git repository; their tests build one at run time
    // (history and keys are never checked in), see `tests/it/range.rs`.
    for r in registry.rules().iter().filter(|r| !r.meta.tags.iter().any(|t| t == "git")) {
        let dir = workspace().join("testdata/rules").join(&*r.meta.id);
        let mut files = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path.strip_prefix(&dir).expect("inside").to_string_lossy().into_owned());
                }
            }
        }
        let ok = |f: &String| f.split('/').any(|part| part.starts_with("ok-"));
        assert!(files.iter().any(ok), "{}: needs an ok-* fixture", r.meta.id);
        assert!(files.iter().any(|f| !ok(f)), "{}: needs a failing fixture", r.meta.id);
    }
}

/// Like cargo-deny's code list: any addition, rename or severity change shows up in review.
#[test]
fn catalog_snapshot() {
    let registry = tollgate::registry().expect("registry");
    let list: String = registry
        .rules()
        .iter()
        .map(|r| {
            format!(
                "{} [{}{}] {}\n",
                r.meta.id,
                r.meta.severity,
                if r.meta.enabled_by_default { "" } else { ", off" },
                r.meta.tags.join(",")
            )
        })
        .collect();
    insta::assert_snapshot!(list);
}

#[test]
fn generated_docs_are_current() {
    let registry = tollgate::registry().expect("registry");
    let dir = workspace().join("docs/rules");
    let expected = tollgate::rule_docs(&registry);
    let stale = "docs/rules is stale: run `cargo run -p tollgate -- rules --docs docs/rules`";
    for (name, content) in &expected {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(&on_disk == content, "{name}: {stale}");
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("docs/rules")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let names: BTreeSet<String> = expected.into_iter().map(|(n, _)| n).collect();
    assert_eq!(on_disk, names, "{stale}");
}

#[test]
fn schema_file_is_the_shipped_schema() {
    let on_disk = std::fs::read_to_string(workspace().join("schemas/tollgate.schema.json")).expect("schema file");
    let printed = super::support::stdout(&super::support::tollgate(&workspace(), &["schema"]));
    assert_eq!(printed.trim_end(), on_disk.trim_end());
}
