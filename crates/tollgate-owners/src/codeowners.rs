//! CODEOWNERS parsing and matching with GitHub's semantics.
//!
//! GitHub reads the first of `.github/CODEOWNERS`, `CODEOWNERS` and
//! `docs/CODEOWNERS`. Each line is a gitignore-style pattern followed by
//! owners (`@user`, `@org/team`, or an email); the **last** matching line
//! wins, and a line with no owners removes ownership. Unlike gitignore,
//! `!` negation, `[...]` ranges and `\#` escapes are not supported, and
//! `dir/*` matches the files directly in `dir` only. Lines GitHub cannot
//! read are skipped (they own nothing) and reported.

use std::collections::HashMap;

/// Where GitHub looks, in order; the first existing file is used.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// GitHub does not load a CODEOWNERS file larger than this.
pub const MAX_SIZE: usize = 3 * 1024 * 1024;

/// One usable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRule {
    /// 1-based line number.
    pub line: u32,
    /// The pattern as written.
    pub pattern: String,
    /// The owners as written (`@user`, `@org/team`, `a@b.c`); empty removes ownership.
    pub owners: Vec<String>,
}

impl OwnerRule {
    /// The owners that are teams (`@org/team`).
    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.owners.iter().map(String::as_str).filter(|o| is_team(o))
    }
}

/// A line GitHub rejects or ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: u32,
    /// 1-based column of the offending token.
    pub column: u32,
    /// Its length in characters (at least 1).
    pub width: u32,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A parsed CODEOWNERS file.
#[derive(Debug)]
pub struct CodeOwners {
    /// Its repository path.
    pub path: String,
    /// The usable lines, in file order.
    pub rules: Vec<OwnerRule>,
    /// The lines GitHub rejects or ignores.
    pub problems: Vec<Problem>,
    /// Rules whose last pattern segment has wildcards, tested for every path.
    always: Vec<usize>,
    /// Rules whose last segment is a literal name can only match a path that
    /// has a segment of that name: they are looked up by it, then tested
    /// one by one. Generated CODEOWNERS with thousands of lines stay fast.
    by_segment: HashMap<String, Vec<usize>>,
    /// The compiled pattern of each rule.
    compiled: Vec<Pattern>,
}

fn is_user(owner: &str) -> bool {
    owner.strip_prefix('@').is_some_and(|u| {
        !u.is_empty()
            && u.len() <= 39
            && !u.starts_with('-')
            && !u.ends_with('-')
            && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn is_team(owner: &str) -> bool {
    owner.strip_prefix('@').and_then(|t| t.split_once('/')).is_some_and(|(org, team)| {
        is_user(&format!("@{org}"))
            && !team.is_empty()
            && team.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    })
}

fn is_email(owner: &str) -> bool {
    let Some((local, domain)) = owner.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !owner.contains(char::is_whitespace)
}

/// Whether an owner token is one GitHub accepts.
pub fn is_valid_owner(owner: &str) -> bool {
    is_user(owner) || is_team(owner) || is_email(owner)
}

/// A compiled CODEOWNERS pattern: path segments, where `**` spans any number
/// of segments and `*`/`?` match within one. No regex is built, so files with
/// thousands of lines compile and match quickly.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<String>,
    /// Matches the path itself (not only what is below it).
    itself: bool,
    /// Matches everything below a matching directory.
    below: bool,
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        let anchored_at_root = pattern.starts_with('/');
        let p = pattern.trim_start_matches('/');
        let dir_only = p.ends_with('/');
        let p = p.trim_end_matches('/');
        if p.is_empty() {
            // `/` alone: the whole repository.
            return Pattern { segments: vec!["**".to_owned()], itself: true, below: true };
        }
        let anchored = anchored_at_root || p.contains('/');
        let mut segments: Vec<String> = p.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if !anchored && segments.first().is_none_or(|s| s != "**") {
            segments.insert(0, "**".to_owned());
        }
        // `docs/*` owns the files directly in docs/, not nested ones (GitHub's rule).
        let single_level = p.ends_with("/*") && !p.ends_with("/**/*");
        Pattern { segments, itself: !dir_only, below: !single_level || dir_only }
    }

    fn matches(&self, parts: &[&str]) -> bool {
        if self.itself && match_segments(&self.segments, parts) {
            return true;
        }
        self.below && (1..parts.len()).any(|k| match_segments(&self.segments, &parts[..k]))
    }

    /// Segments without wildcards: each must be a segment of any path the pattern matches.
    fn literal_segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(String::as_str).filter(|s| !s.contains(['*', '?', '\\']))
    }
}

/// Whether pattern segments match all of `parts`.
fn match_segments(pattern: &[String], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == "**" => (0..=parts.len()).any(|k| match_segments(rest, &parts[k..])),
        Some((first, rest)) => {
            parts.split_first().is_some_and(|(p, tail)| match_segment(first, p) && match_segments(rest, tail))
        }
    }
}

/// `*` and `?` within one segment; `\` escapes the next character.
fn match_segment(pattern: &str, text: &str) -> bool {
    tollgate_core::wildcard_match(pattern, text)
}

impl CodeOwners {
    /// Parses a CODEOWNERS file; never fails, problems are collected.
    pub fn parse(path: &str, text: &str) -> CodeOwners {
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        let mut always: Vec<usize> = Vec::new();
        let mut by_segment: HashMap<String, Vec<usize>> = HashMap::new();
        let mut compiled: Vec<Pattern> = Vec::new();
        if text.len() > MAX_SIZE {
            problems.push(Problem {
                line: 1,
                column: 1,
                width: 1,
                message: format!(
                    "CODEOWNERS is {} bytes; GitHub does not load a file over 3 MB, so nothing in the repository has an owner. Use broader patterns (directories, teams) to shrink it",
                    text.len()
                ),
            });
            return CodeOwners {
                path: path.to_owned(),
                rules,
                problems,
                always: Vec::new(),
                by_segment: HashMap::new(),
                compiled: Vec::new(),
            };
        }
        for (i, raw) in text.lines().enumerate() {
            let line_no = i as u32 + 1;
            let column_of =
                |token: &str| raw[..token.as_ptr() as usize - raw.as_ptr() as usize].chars().count() as u32 + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            // A `#` after white space starts a comment.
            let content = match raw.find(" #").or_else(|| raw.find("\t#")) {
                Some(at) => &raw[..at],
                None => raw,
            };
            let mut tokens = content.split_whitespace();
            let Some(pattern) = tokens.next() else { continue };
            let owners: Vec<&str> = tokens.collect();
            let mut problem = |token: &str, message: String| {
                problems.push(Problem {
                    line: line_no,
                    column: column_of(token),
                    width: token.chars().count().max(1) as u32,
                    message,
                });
            };
            let mut usable = true;
            if pattern.starts_with('!') {
                problem(
                    pattern,
                    format!(
                        "`{pattern}`: GitHub does not support `!` negation in CODEOWNERS, so this line is skipped. Give the path an explicit owner (or an empty owner list) on a later line instead"
                    ),
                );
                usable = false;
            } else if pattern.contains('[') || pattern.contains(']') {
                problem(
                    pattern,
                    format!(
                        "`{pattern}`: GitHub does not support `[...]` character ranges in CODEOWNERS, so this line is skipped. List the paths separately"
                    ),
                );
                usable = false;
            } else if pattern.starts_with("\\#") {
                problem(
                    pattern,
                    format!(
                        "`{pattern}`: GitHub does not support `\\#` escapes in CODEOWNERS, so this line is skipped"
                    ),
                );
                usable = false;
            }
            for owner in &owners {
                if !is_valid_owner(owner) {
                    problem(
                        owner,
                        format!(
                            "owner `{owner}` is not `@user`, `@org/team` or an email address, so GitHub skips this line and its pattern owns nothing. Fix the owner"
                        ),
                    );
                    usable = false;
                }
            }
            if !usable {
                continue;
            }
            compiled.push(Pattern::new(pattern));
            rules.push(OwnerRule {
                line: line_no,
                pattern: pattern.to_owned(),
                owners: owners.iter().map(|o| (*o).to_owned()).collect(),
            });
        }
        // Index each rule by its rarest literal segment: a path can only match
        // a rule if it has that segment, so few rules are tested per path.
        let mut frequency: HashMap<&str, usize> = HashMap::new();
        for p in &compiled {
            let unique: std::collections::BTreeSet<&str> = p.literal_segments().collect();
            for seg in unique {
                *frequency.entry(seg).or_default() += 1;
            }
        }
        for (rule, p) in compiled.iter().enumerate() {
            match p.literal_segments().min_by_key(|s| frequency.get(s).copied().unwrap_or(0)) {
                Some(key) => by_segment.entry(key.to_owned()).or_default().push(rule),
                None => always.push(rule),
            }
        }
        CodeOwners { path: path.to_owned(), rules, problems, always, by_segment, compiled }
    }

    /// The rule that decides a path's owners (the last matching line), if any.
    pub fn owners_of(&self, path: &str) -> Option<&OwnerRule> {
        let parts: Vec<&str> = path.split('/').collect();
        let mut last: Option<usize> = None;
        let mut consider = |rule: usize| {
            if last.is_none_or(|l| rule > l) && self.compiled[rule].matches(&parts) {
                last = Some(rule);
            }
        };
        for &rule in self.always.iter().rev() {
            consider(rule);
        }
        for segment in &parts {
            for &rule in self.by_segment.get(*segment).map(Vec::as_slice).unwrap_or_default() {
                consider(rule);
            }
        }
        last.map(|i| &self.rules[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (CODEOWNERS, path, expected owners or None for no matching line).
    const CASES: &[(&str, &str, Option<&[&str]>)] = &[
        // `*` owns everything, at any depth.
        ("* @a", "README.md", Some(&["@a"])),
        ("* @a", "apps/prod/deep/x.yaml", Some(&["@a"])),
        // Extensions match at any depth.
        ("*.yaml @a", "x.yaml", Some(&["@a"])),
        ("*.yaml @a", "apps/prod/x.yaml", Some(&["@a"])),
        ("*.yaml @a", "apps/prod/x.yml", None),
        // A name without slash matches files and directories anywhere.
        ("Makefile @a", "tools/Makefile", Some(&["@a"])),
        ("apps @a", "src/apps/x.go", Some(&["@a"])),
        // Trailing slash: a directory anywhere, with everything below.
        ("apps/ @a", "apps/x.yaml", Some(&["@a"])),
        ("apps/ @a", "src/apps/deep/x.yaml", Some(&["@a"])),
        ("apps/ @a", "apps", None),
        // Leading slash anchors at the root.
        ("/apps/ @a", "apps/x.yaml", Some(&["@a"])),
        ("/apps/ @a", "src/apps/x.yaml", None),
        ("/README.md @a", "README.md", Some(&["@a"])),
        ("/README.md @a", "docs/README.md", None),
        // A slash in the middle anchors too.
        ("apps/prod @a", "apps/prod/x.yaml", Some(&["@a"])),
        ("apps/prod @a", "src/apps/prod/x.yaml", None),
        ("docs/build @a", "docs/build/x.md", Some(&["@a"])),
        // `dir/*` owns the files directly in dir only.
        ("docs/* @a", "docs/getting-started.md", Some(&["@a"])),
        ("docs/* @a", "docs/build-app/troubleshooting.md", None),
        ("/docs/* @a", "docs/a.md", Some(&["@a"])),
        // `**` crosses directories.
        ("**/logs @a", "build/logs/x.log", Some(&["@a"])),
        ("**/logs @a", "deeply/nested/logs/x.log", Some(&["@a"])),
        ("**/logs @a", "logs/x.log", Some(&["@a"])),
        ("apps/**/prod @a", "apps/shop/eu/prod/x.yaml", Some(&["@a"])),
        ("apps/**/prod @a", "apps/prod/x.yaml", Some(&["@a"])),
        ("docs/** @a", "docs/a/b/c.md", Some(&["@a"])),
        ("/build/logs/ @a", "build/logs/deep/x.log", Some(&["@a"])),
        // `?` is one character, not a slash.
        ("v?.yaml @a", "v1.yaml", Some(&["@a"])),
        ("v?.yaml @a", "v10.yaml", None),
        // The last matching line wins.
        ("* @a\n*.yaml @b", "x.yaml", Some(&["@b"])),
        ("*.yaml @b\n* @a", "x.yaml", Some(&["@a"])),
        ("/apps/ @a\n/apps/github @b", "apps/github/x", Some(&["@b"])),
        // A line without owners removes ownership.
        ("/apps/ @a\n/apps/github", "apps/github/x", Some(&[])),
        ("/apps/ @a\n/apps/github", "apps/other/x", Some(&["@a"])),
        // Several owners, teams and emails.
        ("* @a @org/team dev@example.com", "x", Some(&["@a", "@org/team", "dev@example.com"])),
        // Comments: whole-line, and after white space.
        ("# * @a\n*.md @b", "x.md", Some(&["@b"])),
        ("*.md @b # docs owners", "x.md", Some(&["@b"])),
        // Paths are case-sensitive.
        ("/Apps/ @a", "apps/x", None),
        // Unsupported syntax: the line is skipped.
        ("* @a\n!apps/ @b", "apps/x", Some(&["@a"])),
        ("* @a\napps/[ab].yaml @b", "apps/a.yaml", Some(&["@a"])),
        ("* @a\n\\#x @b", "#x", Some(&["@a"])),
        // An invalid owner skips the whole line.
        ("* @a\n*.yaml not-an-owner", "x.yaml", Some(&["@a"])),
        ("* @a\n*.yaml @org/", "x.yaml", Some(&["@a"])),
        // `/` alone owns the whole repository.
        ("/ @a", "deep/x", Some(&["@a"])),
        // Nothing matches.
        ("/apps/ @a", "src/x", None),
    ];

    #[test]
    fn github_pattern_semantics() {
        assert!(CASES.len() >= 40);
        for (text, path, expected) in CASES {
            let owners = CodeOwners::parse("CODEOWNERS", text);
            let got = owners.owners_of(path).map(|r| r.owners.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(got.as_deref(), *expected, "CODEOWNERS {text:?}, path {path:?}");
        }
    }

    #[test]
    fn problems_are_located() {
        let owners = CodeOwners::parse("CODEOWNERS", "* @a\n!apps/ @b\napps/[ab] @b\n*.yaml @ok bad@\n\\#x @b\n");
        let got: Vec<(u32, u32, u32)> = owners.problems.iter().map(|p| (p.line, p.column, p.width)).collect();
        assert_eq!(got, vec![(2, 1, 6), (3, 1, 9), (4, 12, 4), (5, 1, 3)]);
        assert!(owners.problems[0].message.contains("negation"));
        assert!(owners.problems[2].message.contains("`bad@`"));
    }

    #[test]
    fn owner_tokens() {
        for ok in ["@octocat", "@octo-cat", "@acme/platform-team", "@acme/team_x", "dev@example.com"] {
            assert!(is_valid_owner(ok), "{ok}");
        }
        for bad in ["octocat", "@", "@-x", "@acme/", "@/team", "bad@", "@a b"] {
            assert!(!is_valid_owner(bad), "{bad}");
        }
    }

    #[test]
    fn oversized_file_owns_nothing() {
        let big = format!("* @a\n{}", "#".repeat(MAX_SIZE));
        let owners = CodeOwners::parse("CODEOWNERS", &big);
        assert!(owners.owners_of("x").is_none());
        assert_eq!(owners.problems.len(), 1);
    }

    #[test]
    #[expect(clippy::print_stdout, reason = "prints the measured figure")]
    fn matching_a_large_tree_is_fast() {
        let mut text = String::from("* @acme/all\n");
        for i in 0..500 {
            text.push_str(&format!("/apps/app-{i}/ @acme/team-{i}\n/apps/app-{i}/overlays/prod/ @acme/sre\n"));
        }
        let owners = CodeOwners::parse("CODEOWNERS", &text);
        let paths: Vec<String> =
            (0..100_000).map(|i| format!("apps/app-{}/overlays/prod/f{i}.yaml", i % 500)).collect();
        let started = std::time::Instant::now();
        let owned = paths.iter().filter(|p| owners.owners_of(p).is_some_and(|r| r.owners == ["@acme/sre"])).count();
        assert_eq!(owned, 100_000);
        println!("owners of 100,000 paths against 1,001 patterns: {:?}", started.elapsed());
        // Generous bound for unoptimised test builds; the benchmark reports the real figure.
        assert!(started.elapsed().as_secs_f64() < 20.0, "{:?}", started.elapsed());
    }
}
