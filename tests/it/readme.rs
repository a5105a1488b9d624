//! The README cannot drift: its sample output is the demo's output, its
//! command list names every subcommand and flag the binary accepts, its rule
//! table is the registry, and its snippets name a release that exists.
//! (Its Rust blocks are doctests: `ReadmeDoctests` in `src/lib.rs`.)

use std::collections::BTreeSet;

use super::support::{stdout, tollgate, workspace};

fn readme() -> String {
    std::fs::read_to_string(workspace().join("README.md")).expect("README.md")
}

/// The fenced block that follows `marker` in the README.
fn block_after(text: &str, marker: &str) -> String {
    let at = text.find(marker).unwrap_or_else(|| panic!("README has no `{marker}`"));
    let rest = &text[at..];
    let open = rest.find("```").expect("a fenced block after the marker");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    body[..body.find("```").expect("closing fence")].to_owned()
}

#[test]
fn sample_output_is_what_the_demo_prints() {
    let sample = block_after(&readme(), "Sample output of the first command");
    let out = tollgate(&workspace(), &["check", "examples/gitops-demo"]);
    assert_eq!(out.status.code(), Some(1), "the README says exit code 1");
    let actual = stdout(&out);
    let paragraphs: Vec<&str> = sample.split("\n\n").map(str::trim_end).filter(|p| !p.is_empty()).collect();
    assert!(paragraphs.len() >= 3, "the sample shows findings and the summary");
    let (summary, findings) = paragraphs.split_last().expect("a summary line");
    // Abridged: each finding shown is printed exactly so, and the summary is the real one.
    for finding in findings {
        assert!(
            actual.contains(&format!("{finding}\n")),
            "README sample finding not in the demo's output:\n{finding}\n\n--- actual output ---\n{actual}"
        );
    }
    let last = actual.lines().rfind(|l| l.starts_with("summary:")).expect("a summary line");
    assert_eq!(summary.trim(), last, "README summary line differs from the demo's");
}

/// `--flags` of a help text (without `--help` and `--version`).
fn flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for word in help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if let Some(name) = word.strip_prefix("--")
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name != "help"
            && name != "version"
        {
            flags.insert(format!("--{name}"));
        }
    }
    flags
}

#[test]
fn command_list_names_every_subcommand_and_flag() {
    let list = block_after(&readme(), "## Command line");
    // Each `tollgate <command>` line and its indented continuation lines.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in list.lines() {
        if let Some(rest) = line.strip_prefix("tollgate ") {
            let name = rest.split_whitespace().next().expect("a command name").to_owned();
            entries.push((name, line.to_owned()));
        } else if let Some((_, text)) = entries.last_mut() {
            text.push('\n');
            text.push_str(line);
        }
    }
    let help = stdout(&tollgate(&workspace(), &["--help"]));
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .expect("a command list")
        .split("Options:")
        .next()
        .expect("commands")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 7, "{help}");
    for command in commands {
        let (_, documented) = entries
            .iter()
            .find(|(name, _)| name == command)
            .unwrap_or_else(|| panic!("`tollgate {command}` is missing from the README's command list"));
        let help = stdout(&tollgate(&workspace(), &[command, "--help"]));
        for flag in flags(&help) {
            assert!(
                flags(documented).contains(&flag),
                "`tollgate {command} {flag}` is missing from the README's command list:\n{documented}"
            );
        }
        for flag in flags(documented) {
            assert!(
                flags(&help).contains(&flag),
                "the README documents `tollgate {command} {flag}`, which does not exist"
            );
        }
    }
    // `tollgate test --help` names every kind of test file it runs.
    let test_help = stdout(&tollgate(&workspace(), &["test", "--help"]));
    for kind in ["_test.rego", "suite.yaml", "kyverno-test.yaml"] {
        assert!(test_help.contains(kind), "`tollgate test --help` does not name {kind}:\n{test_help}");
    }
}

#[test]
fn rule_table_is_the_registry() {
    let text = readme();
    let table = &text[text.find("| id | default | what it reports |").expect("the rule table")..];
    let registry = tollgate::registry().expect("registry");
    let mut documented = BTreeSet::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (ids, default) = (cells[1], cells[2]);
        for id in ids.split(", ") {
            let id = id.trim_matches('`');
            let rule = registry.get(id).unwrap_or_else(|| panic!("the README's rule table names `{id}`, no such rule"));
            let severity = rule.meta.severity.to_string();
            assert!(
                default.starts_with(&severity),
                "README says `{id}` defaults to `{default}`, its page says `{severity}`"
            );
            assert_eq!(
                default.contains("off by default"),
                !rule.meta.enabled_by_default,
                "README and the page of `{id}` disagree on whether it is on by default"
            );
            documented.insert(id.to_owned());
        }
    }
    let registered: BTreeSet<String> = registry.rules().iter().map(|r| r.meta.id.clone()).collect();
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(missing.is_empty(), "rules missing from the README's rule table: {missing:?}");
}

/// The `vX.Y.Z` written after each of `prefixes` in `text`.
fn versions_after(text: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in prefixes {
        for (at, _) in text.match_indices(prefix) {
            let rest = &text[at + prefix.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')).unwrap_or(rest.len());
            found.push(rest[..end].to_owned());
        }
    }
    found
}

#[test]
fn snippets_name_a_release_that_exists() {
    let root = workspace();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let version = env!("CARGO_PKG_VERSION");
    let tag = format!("v{version}");
    // Every place a user copies a version from names the crate's version.
    let mut named = Vec::new();
    for file in ["README.md", "docs/github-workflow.yml", ".pre-commit-hooks.yaml"] {
        let found = versions_after(&read(file), &["tollgate-dev/tollgate@", "rev: "]);
        assert!(!found.is_empty(), "{file} names no release");
        named.extend(found.into_iter().map(|v| (file, v)));
    }
    let action = read("action.yml");
    let default = action
        .split("  version:")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.trim().strip_prefix("default: ")))
        .expect("action.yml inputs.version.default");
    named.push(("action.yml", format!("v{}", default.trim_matches('"'))));
    for (file, v) in &named {
        assert_eq!(v, &tag, "{file} names {v}, but the crate is {version} (docs/releasing.md)");
    }
    assert!(
        read("CHANGELOG.md").contains(&format!("## [{version}] - ")),
        "CHANGELOG.md has no `## [{version}] - DATE` section"
    );
    // The tag exists, is annotated, and its commit declares this version.
    if !root.join(".git").exists() {
        super::support::skip("not a git checkout; the release tag cannot be checked");
        return;
    }
    let kind = super::support::git(&root, &["cat-file", "-t", &tag]);
    assert!(
        kind.status.success(),
        "the snippets name {tag}, which this repository does not have (a clone without tags? `git fetch --tags`; a release in progress? docs/releasing.md)"
    );
    assert_eq!(String::from_utf8_lossy(&kind.stdout).trim(), "tag", "{tag} must be an annotated tag");
    let manifest = super::support::git(&root, &["show", &format!("{tag}:Cargo.toml")]);
    assert!(
        String::from_utf8_lossy(&manifest.stdout).contains(&format!("version = \"{version}\"")),
        "the commit tagged {tag} does not declare version {version}"
    );
}
