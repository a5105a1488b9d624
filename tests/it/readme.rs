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
    let registered: BTreeSet<String> = registry.rules().iter().map(|r| r.meta.id.to_string()).collect();
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
    // The release commit as docs/releasing.md records it (from the commit
    // after the release on), and the date beside it is the changelog's.
    let releases = read("docs/releasing.md");
    let recorded = releases.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        (cells.len() == 5 && cells[1] == version).then(|| (cells[2].to_owned(), cells[3].to_owned()))
    });
    if let Some((date, commit)) = &recorded {
        assert!(
            commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "docs/releasing.md records {version} at {commit:?}, not a full commit hash"
        );
        assert!(
            read("CHANGELOG.md").contains(&format!("## [{version}] - {date}")),
            "docs/releasing.md dates {version} {date}, the changelog does not"
        );
    }
    if !root.join(".git").exists() {
        super::support::skip("not a git checkout; the release tag cannot be checked");
        return;
    }
    let git = |args: &[&str]| super::support::git(&root, args);
    let declares = |commit: &str| {
        let manifest = git(&["show", &format!("{commit}:Cargo.toml")]);
        String::from_utf8_lossy(&manifest.stdout).contains(&format!("version = \"{version}\""))
    };
    let kind = git(&["cat-file", "-t", &tag]);
    if kind.status.success() {
        // The tag is here: annotated, on this history, on a commit that
        // declares the version, and the one the record names.
        assert_eq!(String::from_utf8_lossy(&kind.stdout).trim(), "tag", "{tag} must be an annotated tag");
        assert!(declares(&tag), "the commit tagged {tag} does not declare version {version}");
        assert!(
            git(&["merge-base", "--is-ancestor", &tag, "HEAD"]).status.success(),
            "{tag} is not on this branch's history"
        );
        if let Some((_, commit)) = &recorded {
            let tagged = git(&["rev-parse", &format!("{tag}^{{commit}}")]);
            assert_eq!(
                String::from_utf8_lossy(&tagged.stdout).trim(),
                commit,
                "docs/releasing.md records another commit for {version} than {tag} names"
            );
        }
        return;
    }
    // No such tag. A clone that has tags but not this one lacks the release.
    let tags = git(&["tag", "--list"]);
    assert!(
        String::from_utf8_lossy(&tags.stdout).trim().is_empty(),
        "the snippets name {tag}, which this repository does not have (a release in progress? docs/releasing.md)"
    );
    // A clone made without tags (as CI checks out): the record stands in for
    // the tag, and the recorded commit must be this history's.
    let (_, commit) = recorded.unwrap_or_else(|| {
        panic!(
            "this clone has no tags, so {tag} cannot be seen, and docs/releasing.md records no release commit for {version} \
             (`git fetch --tags`; or record the release, docs/releasing.md step 7)"
        )
    });
    if git(&["cat-file", "-e", &format!("{commit}^{{commit}}")]).status.success() {
        assert!(
            git(&["merge-base", "--is-ancestor", &commit, "HEAD"]).status.success(),
            "the release commit of {version}, {commit}, is not on this branch's history"
        );
        assert!(declares(&commit), "the release commit of {version}, {commit}, does not declare that version");
    } else {
        let shallow = git(&["rev-parse", "--is-shallow-repository"]);
        assert_eq!(
            String::from_utf8_lossy(&shallow.stdout).trim(),
            "true",
            "the release commit of {version}, {commit}, is not in this repository's history"
        );
        // A shallow clone without tags holds neither the tag nor the commit:
        // what is checkable here (the snippets, the changelog, the record)
        // was checked above.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "notice: shallow clone without tags: the release commit {commit} of {tag} is not here to inspect\n"
            )
            .as_bytes(),
        );
    }
}
