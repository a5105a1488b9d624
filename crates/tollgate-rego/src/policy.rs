//! Loading Rego: modules (v1 first, v0 when only v0 parses), data files,
//! rule heads per package and `# METADATA` annotations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tollgate_yaml::{Limits, Node};

/// A policy that could not be loaded: file, line, column and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct PolicyProblem {
    /// The file (as given).
    pub path: String,
    /// 1-based line (1 when unknown).
    pub line: u32,
    /// 1-based column (1 when unknown).
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl PolicyProblem {
    pub(crate) fn at(path: &str, message: impl Into<String>) -> PolicyProblem {
        PolicyProblem { path: path.to_owned(), line: 1, column: 1, message: message.into() }
    }

    /// From a regorus error: `--> file:line:col`, the snippet, `error: message`.
    pub(crate) fn from_regorus(path: &str, error: &str) -> PolicyProblem {
        let mut problem = PolicyProblem::at(path, error.trim());
        if let Some(arrow) = error.lines().find_map(|l| l.trim().strip_prefix("--> ")) {
            let mut parts = arrow.rsplitn(3, ':');
            let column = parts.next().and_then(|c| c.parse().ok());
            let line = parts.next().and_then(|l| l.parse().ok());
            if let (Some(line), Some(column)) = (line, column) {
                problem.line = line;
                problem.column = column;
            }
            if let Some(message) = error.lines().rev().find_map(|l| l.trim().strip_prefix("error: ")) {
                message.clone_into(&mut problem.message);
            }
        }
        problem
    }
}

/// One `.rego` file.
#[derive(Debug, Clone)]
pub struct RegoFile {
    /// The path as given (for messages).
    pub path: String,
    /// The source.
    pub text: String,
}

/// Adds `file` to `engine`: Rego v1 first (conftest's default), then v0
/// (Gatekeeper's), the error of the syntax the file looks written in otherwise.
pub(crate) fn add_module(
    engine: &mut regorus::Engine,
    file: &RegoFile,
    v0_first: bool,
) -> Result<String, PolicyProblem> {
    let order = if v0_first { [true, false] } else { [false, true] };
    let mut errors = Vec::new();
    let text = terminate_lines_before_parentheses(&file.text).unwrap_or_else(|| file.text.clone());
    for v0 in order {
        engine.set_rego_v0(v0);
        match engine.add_policy(file.path.clone(), text.clone()) {
            Ok(package) => {
                engine.set_rego_v0(false);
                return Ok(package.trim_start_matches("data.").to_owned());
            }
            Err(e) => errors.push((v0, e.to_string())),
        }
    }
    // Rego v0 lets a rule have several bodies (`head { a } { b }`, each an
    // alternative); regorus does not parse that form, so the rule is
    // restated per body, on the same lines (locations are unchanged).
    if let Some(text) = split_multi_body_rules(&text) {
        engine.set_rego_v0(true);
        if let Ok(package) = engine.add_policy(file.path.clone(), text) {
            engine.set_rego_v0(false);
            return Ok(package.trim_start_matches("data.").to_owned());
        }
    }
    engine.set_rego_v0(false);
    // Report the error of the syntax the file is written in.
    let looks_v1 =
        file.text.contains("import rego.v1") || file.text.contains(" if ") || file.text.contains(" contains ");
    let error =
        errors.iter().find(|(v0, _)| *v0 != looks_v1).or(errors.first()).map(|(_, e)| e.clone()).unwrap_or_default();
    Err(PolicyProblem::from_regorus(&file.path, &error))
}

/// Rewrites v0 rules with several bodies (`head { a } { b }`) as one rule per
/// body (`head { a } head { b }`), keeping every line where it was; `None`
/// when the text has no such rule. Strings, raw strings and comments are
/// skipped; a `{` that opens a value (after `=`, `:=`, `,`, `(`, `[`, `{` or
/// `:`) is not a body.
pub(crate) fn split_multi_body_rules(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 64);
    let mut depth = 0usize;
    let mut stmt_start = 0usize;
    let mut head: Option<String> = None;
    let mut last_closed_body = false;
    let mut body_stack: Vec<bool> = Vec::new();
    let mut changed = false;
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'{' | b'[' | b'(' => {
                if depth == 0 && c == b'{' {
                    let before = text[stmt_start..i].trim_end();
                    let is_value = before.is_empty()
                        || [b'=', b',', b'(', b'[', b'{', b':'].contains(before.as_bytes().last().unwrap_or(&b'='));
                    if last_closed_body && before.is_empty() {
                        if let Some(h) = &head {
                            out.push_str(&text[copied..i]);
                            out.push_str(h);
                            out.push(' ');
                            copied = i;
                            changed = true;
                        }
                        body_stack.push(true);
                    } else {
                        if !is_value && head.is_none() {
                            head = Some(before.to_string());
                        }
                        body_stack.push(!is_value);
                    }
                } else if c == b'{' {
                    body_stack.push(false);
                }
                depth += 1;
                last_closed_body = false;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                let closed_body = c == b'}' && body_stack.pop().unwrap_or(false);
                if depth == 0 && c == b'}' {
                    last_closed_body = closed_body;
                    stmt_start = i + 1;
                }
            }
            b'\n' if depth == 0 => {
                // A new statement starts on a line that does not begin with `{`.
                let rest = text[i + 1..].trim_start_matches([' ', '\t', '\r']);
                if !rest.starts_with('{') && !rest.starts_with('\n') {
                    if !rest.starts_with('#') {
                        last_closed_body = false;
                        head = None;
                    }
                    stmt_start = i + 1;
                }
            }
            c if depth == 0 && !c.is_ascii_whitespace() && last_closed_body => {
                // `else`, or another statement: not a further body.
                last_closed_body = false;
                head = None;
                stmt_start = i;
            }
            _ => {}
        }
        i += 1;
    }
    if !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// In Rego a newline ends an expression, so a body line starting with `(`
/// is a new expression (`x\n(a - b) > 1`); regorus reads it as a call of
/// the previous line. Ends such lines with `;` (same lines, same columns
/// before it); `None` when there is none.
pub(crate) fn terminate_lines_before_parentheses(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut stack: Vec<u8> = Vec::new();
    let mut last_sig: Option<usize> = None;
    let mut inserts: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                last_sig = Some(i);
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
                last_sig = Some(i);
            }
            b'{' | b'[' | b'(' => {
                stack.push(c);
                last_sig = Some(i);
            }
            b'}' | b']' | b')' => {
                stack.pop();
                last_sig = Some(i);
            }
            b'\n' => {
                let in_body = stack.len() == 1 && stack[0] == b'{';
                let next = text[i + 1..].trim_start_matches([' ', '\t', '\r']);
                if in_body
                    && next.starts_with('(')
                    && let Some(p) = last_sig
                {
                    let prev = b[p];
                    if prev.is_ascii_alphanumeric() || matches!(prev, b'_' | b']' | b')' | b'"' | b'`') {
                        inserts.push(p + 1);
                    }
                }
            }
            c if !c.is_ascii_whitespace() => last_sig = Some(i),
            _ => {}
        }
        i += 1;
    }
    if inserts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + inserts.len());
    let mut copied = 0;
    for p in inserts {
        out.push_str(&text[copied..p]);
        out.push(';');
        copied = p;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Every `.rego` file under `paths` (files or directories), sorted.
pub fn rego_files(paths: &[PathBuf]) -> Result<Vec<RegoFile>, PolicyProblem> {
    let mut found = Vec::new();
    for path in paths {
        collect(path, &mut found, &|p| p.extension().is_some_and(|e| e == "rego"))?;
    }
    found.sort();
    found.dedup();
    found
        .into_iter()
        .map(|p| {
            let path = p.display().to_string();
            std::fs::read_to_string(&p)
                .map(|text| RegoFile { path: path.clone(), text })
                .map_err(|e| PolicyProblem::at(&path, format!("cannot read: {e}")))
        })
        .collect()
}

/// Files under `path` that `keep` accepts; symlinks are not followed.
pub(crate) fn collect(path: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) -> Result<(), PolicyProblem> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| PolicyProblem::at(&path.display().to_string(), format!("cannot read: {e}")))?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| PolicyProblem::at(&path.display().to_string(), format!("cannot read: {e}")))?;
        for entry in entries.flatten() {
            let p = entry.path();
            let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') && n.len() > 1);
            if !hidden {
                collect(&p, out, keep)?;
            }
        }
    } else if meta.is_file() && keep(path) {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Loads `--data` files (YAML or JSON; every document's top-level keys are
/// merged under `data`).
pub fn load_data(paths: &[PathBuf]) -> Result<serde_json::Value, PolicyProblem> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, &|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })?;
    }
    files.sort();
    let mut data = serde_json::Map::new();
    for file in files {
        let shown = file.display().to_string();
        let text =
            std::fs::read_to_string(&file).map_err(|e| PolicyProblem::at(&shown, format!("cannot read: {e}")))?;
        for doc in parse_documents(&shown, &text)? {
            match doc.to_json() {
                serde_json::Value::Object(map) => merge(&mut data, map),
                serde_json::Value::Null => {}
                _ => return Err(PolicyProblem::at(&shown, "data must be a mapping (its keys land under `data.`)")),
            }
        }
    }
    Ok(serde_json::Value::Object(data))
}

fn merge(into: &mut serde_json::Map<String, serde_json::Value>, from: serde_json::Map<String, serde_json::Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Parses YAML or JSON text into documents, with the position of an error.
pub(crate) fn parse_documents(path: &str, text: &str) -> Result<Vec<Node>, PolicyProblem> {
    tollgate_yaml::parse_yaml(text, &Limits::default()).map(|docs| docs.into_iter().map(|d| d.root).collect()).map_err(
        |e| {
            let p = e.position();
            PolicyProblem { path: path.to_owned(), line: p.line, column: p.column, message: e.message().to_owned() }
        },
    )
}

/// What an `# METADATA` annotation says about a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `custom.id`: the rule id findings carry.
    pub id: Option<String>,
    /// `custom.severity`: `error`, `warning` or `note` (also `high`/`medium`/`low`).
    pub severity: Option<String>,
    /// `related_resources[].ref`: the first becomes the help URI.
    pub related: Vec<String>,
}

/// The rule heads of one package that conftest queries, with definition counts.
#[derive(Debug, Clone, Default)]
pub struct PackageRules {
    /// `name` → number of definitions (conftest counts each as a test).
    pub rules: BTreeMap<String, usize>,
    /// `name` → annotation (rule scope, or the package's).
    pub annotations: BTreeMap<String, Annotation>,
    /// The package's own annotation.
    pub package_annotation: Option<Annotation>,
    /// `test_*` rule names (for `tollgate test`).
    pub tests: Vec<String>,
    /// `(0-based line, name)` of every `test_*` definition, duplicates included.
    pub test_heads: Vec<(usize, String)>,
    /// Whether the package defines `exception` (else no exception query runs).
    pub has_exception: bool,
}

/// Whether `name` is a conftest rule name: `deny`, `violation`, `warn`, with `_suffix`es.
pub fn rule_kind(name: &str) -> Option<&'static str> {
    let (base, rest) = if let Some(r) = name.strip_prefix("violation") {
        ("violation", r)
    } else if let Some(r) = name.strip_prefix("deny") {
        ("deny", r)
    } else if let Some(r) = name.strip_prefix("warn") {
        ("warn", r)
    } else {
        return None;
    };
    let ok = rest.is_empty()
        || rest.starts_with('_')
            && rest[1..].split('_').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()));
    ok.then_some(base)
}

/// Scans a module for its top-level rule heads (at brace depth 0, outside
/// strings and comments) and `# METADATA` blocks.
pub(crate) fn scan_module(text: &str, into: &mut PackageRules) {
    let mut depth: i32 = 0;
    let mut pending: Option<Annotation> = None;
    let mut lines = text.lines().enumerate().peekable();
    let mut in_raw = false;
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if depth == 0 && !in_raw && trimmed.starts_with("# METADATA") {
            let mut block = String::new();
            while let Some((_, next)) = lines.peek() {
                let t = next.trim_start();
                let Some(rest) = t.strip_prefix('#') else { break };
                block.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                block.push('\n');
                lines.next();
            }
            pending = Some(parse_annotation(&block));
            continue;
        }
        if depth == 0 && !in_raw {
            let word: String = trimmed.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if word == "package" {
                if let Some(a) = pending.take() {
                    into.package_annotation = Some(a);
                }
            } else if !word.is_empty() && word != "import" && word != "default" && !trimmed.starts_with('#') {
                if rule_kind(&word).is_some() {
                    *into.rules.entry(word.clone()).or_default() += 1;
                    if let Some(a) = pending.take() {
                        into.annotations.insert(word.clone(), a);
                    }
                } else if word == "exception" {
                    into.has_exception = true;
                } else if word.starts_with("test_") {
                    into.test_heads.push((number, word.clone()));
                    if !into.tests.contains(&word) {
                        into.tests.push(word.clone());
                    }
                }
                pending = None;
            }
        }
        // Track nesting outside strings and comments.
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            if in_raw {
                if c == '`' {
                    in_raw = false;
                }
                continue;
            }
            if in_string {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '#' => break,
                '"' => in_string = true,
                '`' => in_raw = true,
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth = (depth - 1).max(0),
                _ => {}
            }
        }
    }
}

fn parse_annotation(block: &str) -> Annotation {
    let mut a = Annotation::default();
    let Ok(docs) = tollgate_yaml::parse_yaml(block, &Limits::default()) else { return a };
    let Some(root) = docs.first().map(|d| &d.root) else { return a };
    let text = |n: Option<&Node>| n.and_then(Node::as_str).map(str::to_owned);
    a.title = text(root.get_key("title"));
    a.description = text(root.get_key("description"));
    if let Some(custom) = root.get_key("custom") {
        a.id = text(custom.get_key("id"));
        a.severity = text(custom.get_key("severity"));
    }
    if let Some(list) = root.get_key("related_resources").and_then(Node::as_sequence) {
        a.related =
            list.iter().filter_map(|r| text(r.get_key("ref")).or_else(|| r.as_str().map(str::to_owned))).collect();
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_body_rules_are_restated_per_body() {
        let text = "package p\n\nf(x) = y {\n  x == 1\n  y := \"a\"\n} {\n  x == 2 # }\n  y := \"{b}\"\n}\n\nv = {\"k\": 1}\n\ng { true } else = false { true }\n";
        let out = split_multi_body_rules(text).expect("rewritten");
        assert_eq!(out.lines().count(), text.lines().count());
        assert!(out.contains("} f(x) = y {\n  x == 2"), "{out}");
        assert!(out.contains("v = {\"k\": 1}") && out.contains("g { true } else = false { true }"), "{out}");
        assert_eq!(split_multi_body_rules("package p\nq { true }\nr = {\"a\": 1}\n"), None);
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.add_policy("p.rego".into(), out).expect("compiles");
        engine.set_input(regorus::Value::from_json_str("{}").expect("json"));
        let r = engine.eval_query("data.p.f(2)".into(), false).expect("evaluates");
        assert_eq!(r.result[0].expressions[0].value, regorus::Value::from("{b}"));
    }

    #[test]
    fn a_line_starting_with_a_parenthesis_is_a_new_expression() {
        let text =
            "package p\nr(h) {\n    input.min # the minimum\n    (h.max - h.lo) >= input.min\n}\nq := f(\n  (1)\n)\n";
        let out = terminate_lines_before_parentheses(text).expect("rewritten");
        assert_eq!(out, text.replacen("input.min #", "input.min; #", 1));
        assert_eq!(terminate_lines_before_parentheses("package p\nq := f(\n  (1)\n)\n"), None);
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.add_policy("p.rego".into(), out).expect("compiles");
        engine.set_input(regorus::Value::from_json_str(r#"{"min": 2}"#).expect("json"));
        let r = engine.eval_query(r#"data.p.r({"max": 5, "lo": 1})"#.into(), false).expect("evaluates");
        assert_eq!(r.result[0].expressions[0].value, regorus::Value::from(true));
    }

    #[test]
    fn rule_names() {
        for (name, kind) in [("deny", Some("deny")), ("deny_foo", Some("deny")), ("violation_a_b", Some("violation"))] {
            assert_eq!(rule_kind(name), kind, "{name}");
        }
        for name in ["denyx", "deny_", "warning", "deny__a", "allow"] {
            assert_eq!(rule_kind(name), None, "{name}");
        }
        assert_eq!(rule_kind("warn_x1"), Some("warn"));
    }

    #[test]
    fn scan_counts_definitions_and_reads_metadata() {
        let text = r#"package main
import rego.v1

# METADATA
# title: No latest
# custom:
#   id: K8S-001
#   severity: warning
deny contains msg if {
  input.kind == "Deployment"
  x := {"deny": 1}
  msg := "a { b"
}

deny contains msg if { false; msg := "x" }

warn_label[msg] {
  not input.metadata.labels
  msg := `raw { string`
}
test_deny_fires if { count(deny) > 0 }
exception contains rules if { rules := ["label"] }
"#;
        let mut rules = PackageRules::default();
        scan_module(text, &mut rules);
        assert_eq!(rules.rules.get("deny"), Some(&2));
        assert_eq!(rules.rules.get("warn_label"), Some(&1));
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.tests, vec!["test_deny_fires".to_owned()]);
        let a = &rules.annotations["deny"];
        assert_eq!(a.title.as_deref(), Some("No latest"));
        assert_eq!(a.id.as_deref(), Some("K8S-001"));
        assert_eq!(a.severity.as_deref(), Some("warning"));
    }

    #[test]
    fn regorus_errors_become_positions() {
        let mut engine = regorus::Engine::new();
        let file = RegoFile {
            path: "p/bad.rego".to_owned(),
            text: "package main\n\ndeny contains msg if {\n  msg := sprintf(\"%s\", [1]\n}\n".to_owned(),
        };
        let problem = add_module(&mut engine, &file, false).expect_err("does not parse");
        assert_eq!(problem.path, "p/bad.rego");
        assert!(problem.line >= 4, "{problem}");
        assert!(!problem.message.contains("-->"), "{problem}");
    }
}
