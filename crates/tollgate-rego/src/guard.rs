//! Refusals before regorus sees a policy, for what would otherwise escape
//! every budget.
//!
//! - **Recursive functions.** OPA rejects recursion at compile time
//!   (`rego_recursion_error`). regorus detects a rule that depends on itself
//!   while evaluating it, but a function that calls itself (directly or
//!   through other functions) recurses until the thread's stack overflows,
//!   which aborts the whole process. The call graph of the functions is
//!   built from the source here and every cycle is refused, as OPA does.
//! - **Deep nesting.** regorus' parser takes time exponential in the nesting
//!   of collection literals (24 levels: more than a minute), outside any
//!   evaluation budget. A policy whose nesting costs more than
//!   [`MAX_PARSE_COST`] is refused.
//!
//! Both work on the lexical scan the source rewrites share (strings and
//! comments are never code).

use std::collections::{BTreeMap, BTreeSet};

use crate::policy::{PolicyProblem, RegoFile, lex_code};

/// How much nesting of collection literals a policy may cost to parse.
/// regorus parses each `[` or `{` at depth `d` in time growing like `2^d`
/// (it tries a comprehension, then backtracks), so a policy's cost is
/// `Σ 2^depth` over its opening brackets. This limit is about two seconds
/// of parsing on one core; the most nested policy of the Gatekeeper library
/// (a test with objects nested 13 deep) costs 18,088.
pub(crate) const MAX_PARSE_COST: u64 = 1 << 16;

/// The place where the nesting of `[` and `{` in `text` makes parsing cost
/// more than [`MAX_PARSE_COST`].
pub(crate) fn too_deep(file: &RegoFile) -> Option<PolicyProblem> {
    let code = lex_code(&file.text);
    let mut depth = 0u32;
    let mut cost = 0u64;
    for (i, b) in file.text.bytes().enumerate() {
        if !code[i] {
            continue;
        }
        match b {
            b'[' | b'{' => {
                depth += 1;
                cost = cost.saturating_add(1u64.checked_shl(depth).unwrap_or(u64::MAX));
                if cost > MAX_PARSE_COST {
                    let (line, column) = line_column(&file.text, i);
                    return Some(PolicyProblem {
                        path: file.path.clone(),
                        line,
                        column,
                        message: format!(
                            "collection literals nest so deeply here (depth {depth}) that parsing the policy would take exponential time; tollgate refuses it. Flatten the literals or move the data into `data`"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, column)
}

/// A function definition found in the source.
#[derive(Debug)]
struct Function {
    file: usize,
    line: u32,
    column: u32,
    /// Fully qualified callees (`pkg.name`).
    calls: BTreeSet<String>,
}

/// Every file holding a function that takes part in a cycle of calls, with
/// a problem naming the cycle. Files without one are not listed.
pub(crate) fn recursive_functions(files: &[&RegoFile]) -> Vec<(usize, PolicyProblem)> {
    let mut functions: BTreeMap<String, Function> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        scan_functions(index, file, &mut functions);
    }
    let mut problems = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for name in functions.keys() {
        if reported.contains(name) {
            continue;
        }
        if let Some(cycle) = cycle_from(name, &functions) {
            let f = &functions[name];
            let path = cycle.join(" -> ");
            reported.extend(cycle.iter().cloned());
            problems.push((
                f.file,
                PolicyProblem {
                    path: files[f.file].path.clone(),
                    line: f.line,
                    column: f.column,
                    message: format!(
                        "rego_recursion_error: function data.{name} is recursive: {path}. OPA rejects recursion at compile time, and evaluating it would never end; rewrite it without recursion"
                    ),
                },
            ));
        }
    }
    problems
}

/// A cycle of calls through `start`, as the list of functions ending where it began.
fn cycle_from(start: &str, functions: &BTreeMap<String, Function>) -> Option<Vec<String>> {
    // Depth-first search with an explicit stack: (function, next callee index).
    let mut path: Vec<String> = vec![start.to_owned()];
    let mut stack: Vec<(String, Vec<String>, usize)> = Vec::new();
    let callees = |name: &str| -> Vec<String> {
        functions
            .get(name)
            .map(|f| f.calls.iter().filter(|c| functions.contains_key(*c)).cloned().collect())
            .unwrap_or_default()
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    stack.push((start.to_owned(), callees(start), 0));
    while let Some((name, next, i)) = stack.last_mut() {
        if *i >= next.len() {
            seen.insert(name.clone());
            stack.pop();
            path.pop();
            continue;
        }
        let callee = next[*i].clone();
        *i += 1;
        if callee == start {
            path.push(callee);
            return Some(path);
        }
        if seen.contains(&callee) || path.contains(&callee) {
            continue;
        }
        path.push(callee.clone());
        let more = callees(&callee);
        stack.push((callee, more, 0));
    }
    None
}

/// Finds the functions a file defines (`name(args) ... {` at the top level)
/// and the functions each one calls.
fn scan_functions(index: usize, file: &RegoFile, out: &mut BTreeMap<String, Function>) {
    let text = &file.text;
    let code = lex_code(text);
    let bytes = text.as_bytes();
    let mut package = String::new();
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    // Top-level lines (brace depth 0 at their start) that begin a definition.
    let mut heads: Vec<(usize, String)> = Vec::new();
    let mut depth = 0i64;
    let mut line_start = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        if i == line_start && depth == 0 {
            let line = &text[i..text[i..].find('\n').map_or(text.len(), |e| i + e)];
            if let Some(p) = line.strip_prefix("package ") {
                p.split_whitespace().next().unwrap_or_default().clone_into(&mut package);
            } else if let Some(rest) = line.strip_prefix("import ") {
                let mut words = rest.split_whitespace();
                let target = words.next().unwrap_or_default();
                let alias = match (words.next(), words.next()) {
                    (Some("as"), Some(a)) => a.to_owned(),
                    _ => target.rsplit('.').next().unwrap_or_default().to_owned(),
                };
                if let Some(path) = target.strip_prefix("data.") {
                    aliases.insert(alias, path.to_owned());
                }
            } else if line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !line.starts_with("default ") {
                let name: String =
                    line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').collect();
                heads.push((i, name));
            }
        }
        if code[i] {
            match b {
                b'{' | b'[' | b'(' => depth += 1,
                b'}' | b']' | b')' => depth -= 1,
                _ => {}
            }
        }
        if b == b'\n' {
            line_start = i + 1;
        }
    }
    for (n, (start, name)) in heads.iter().enumerate() {
        let end = heads.get(n + 1).map_or(text.len(), |(s, _)| *s);
        let after = text[*start + name.len()..end].trim_start();
        if !after.starts_with('(') {
            continue; // a rule, not a function
        }
        let qualified = format!("{package}.{name}");
        let body = &text[*start + name.len()..end];
        let calls = calls_in(body, &code[*start + name.len()..end], &package, &aliases);
        let (line, column) = line_column(text, *start);
        let entry = out.entry(qualified).or_insert(Function { file: index, line, column, calls: BTreeSet::new() });
        entry.calls.extend(calls);
    }
}

/// The fully qualified names `body` calls (`name(`).
fn calls_in(body: &str, code: &[bool], package: &str, aliases: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    let bytes = body.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if !code[i] || !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') || (i > 0 && ident(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && code[i] && ident(bytes[i]) {
            i += 1;
        }
        let name = &body[start..i];
        let mut j = i;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'\t') {
            j += 1;
        }
        if bytes.get(j) != Some(&b'(') {
            continue;
        }
        let qualified = if let Some(full) = name.strip_prefix("data.") {
            full.to_owned()
        } else if let Some((head, rest)) = name.split_once('.') {
            match aliases.get(head) {
                Some(path) => format!("{path}.{rest}"),
                None => continue, // a builtin such as `json.marshal`
            }
        } else {
            format!("{package}.{name}")
        };
        calls.insert(qualified);
    }
    calls
}

/// regorus's time limit for one evaluation: `limit` of wall time, the clock
/// read every 64 units of work. Read at every unit, the clock was 3% of a
/// large policy run; 64 units are microseconds, so an evaluation still ends
/// within its limit.
pub(crate) fn time_limit(limit: std::time::Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    const CHECK_INTERVAL: std::num::NonZeroU32 = std::num::NonZeroU32::new(64).expect("64 is not zero");
    regorus::utils::limits::ExecutionTimerConfig { limit, check_interval: CHECK_INTERVAL }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> RegoFile {
        RegoFile { path: "p.rego".into(), text: text.into() }
    }

    #[test]
    fn recursion_is_found_directly_and_through_other_functions() {
        let direct = file("package main\nf(x) = y { y := f(x) }\ndeny[msg] { msg := sprintf(\"%v\", [f(1)]) }\n");
        let found = recursive_functions(&[&direct]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].1.line, found[0].1.column), (2, 1));
        assert!(found[0].1.message.contains("main.f -> main.f"), "{found:?}");
        let mutual = file(
            "package lib\n\neven(n) := true if n == 0\neven(n) := odd(n - 1) if n > 0\nodd(n) := even(n - 1) if n > 0\n",
        );
        let other = file("package main\nimport data.lib\nuse := lib.even(4)\n");
        let found = recursive_functions(&[&mutual, &other]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.message.contains("lib.even -> lib.odd -> lib.even"), "{found:?}");
        // Calls in strings and comments, builtins and non-recursive chains are fine.
        let fine = file("package main\n# f(1)\ng(x) := count(x)\nf(x) := g(x) + 1 # f(2)\nmsg := \"f(3)\"\n");
        assert!(recursive_functions(&[&fine]).is_empty());
    }

    #[test]
    fn deep_nesting_is_refused_where_it_starts() {
        let ok = file(&format!("package main\nx := {}1{}\n", "[".repeat(14), "]".repeat(14)));
        assert!(too_deep(&ok).is_none());
        let deep = file(&format!("package main\nx := {}1{}\n", "[".repeat(40), "]".repeat(40)));
        let problem = too_deep(&deep).expect("too deep");
        assert_eq!((problem.line, problem.column), (2, 6 + 15));
        // Many moderately nested literals add up.
        let many =
            file(&format!("package main\n{}", format!("x := {}1{}\n", "[".repeat(12), "]".repeat(12)).repeat(20)));
        assert!(too_deep(&many).is_some());
        // Brackets in strings and comments do not count.
        let strings = file(&format!("package main\nx := \"{}\" # {}\n", "[".repeat(40), "{".repeat(40)));
        assert!(too_deep(&strings).is_none());
    }
}
