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

/// A regorus error as one line: its code frame (`--> file:line:col`, the
/// source line, `^`) folded into `message (at file:line:col)`, so that it
/// never nests inside tollgate's own frame or spills escaped newlines into
/// a GitHub annotation.
pub(crate) fn tidy_regorus(error: &str) -> String {
    let Some(arrow) = error.lines().find_map(|l| l.trim().strip_prefix("--> ")) else {
        return error.split_whitespace().collect::<Vec<_>>().join(" ");
    };
    let prefix = error.split("-->").next().unwrap_or("").trim().trim_end_matches("error:").trim();
    let message = error.lines().rev().find_map(|l| l.trim().strip_prefix("error: ")).unwrap_or("error").trim();
    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix} ") };
    format!("{prefix}{message} (at {})", arrow.trim())
}

/// One `.rego` file.
#[derive(Debug, Clone)]
pub struct RegoFile {
    /// The path as given (for messages).
    pub path: String,
    /// The source.
    pub text: String,
}

/// A source rewrite: the rewritten text, or `None` when it changes nothing.
type Rewrite = fn(&str) -> Option<String>;

/// The rewrites loading makes to a policy's source so that regorus
/// evaluates it as OPA does (the ones module loading applies), each as a sentence; empty
/// when the policy runs as written. `tollgate test -v` lists them, so a user
/// sees that their policy was changed before evaluation.
///
/// ```
/// let text = "package p\ndeny[msg] {\n  not startswith(input.image, \"r/\")\n  msg := \"x\"\n}\n";
/// assert_eq!(tollgate_rego::rewrites(text), vec!["the reference arguments of a call under `not` are evaluated before the negation"]);
/// assert!(tollgate_rego::rewrites("package p\ndeny[msg] { msg := \"x\" }\n").is_empty());
/// ```
pub fn rewrites(text: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut text = text.to_owned();
    let steps: [(Rewrite, &'static str); 5] = [
        (terminate_lines_before_parentheses, "a body line starting with `(` starts a new expression"),
        (
            hoist_negated_call_arguments,
            "the reference arguments of a call under `not` are evaluated before the negation",
        ),
        (drop_vacuous_some, "a `some x` whose variable only comprehensions use is dropped"),
        (
            scope_comprehension_locals,
            "a comprehension local declared after a use of the same name is renamed apart from it",
        ),
        (split_multi_body_rules, "a v0 rule with several bodies is restated once per body"),
    ];
    for (rewrite, what) in steps {
        if let Some(rewritten) = rewrite(&text) {
            out.push(what);
            text = rewritten;
        }
    }
    out
}

/// Adds `file` to `engine`: Rego v1 first (conftest's default), then v0
/// (Gatekeeper's), the error of the syntax the file looks written in otherwise.
pub(crate) fn add_module(
    engine: &mut crate::replica::Recorded,
    file: &RegoFile,
    v0_first: bool,
) -> Result<String, PolicyProblem> {
    if let Some(problem) = crate::guard::too_deep(file) {
        return Err(problem);
    }
    let order = if v0_first { [true, false] } else { [false, true] };
    let mut errors = Vec::new();
    let text = terminate_lines_before_parentheses(&file.text).unwrap_or_else(|| file.text.clone());
    let text = hoist_negated_call_arguments(&text).unwrap_or(text);
    let text = drop_vacuous_some(&text).unwrap_or(text);
    let text = scope_comprehension_locals(&text).unwrap_or(text);
    for v0 in order {
        match engine.add_policy(&file.path, &text, v0) {
            Ok(package) => return Ok(package.trim_start_matches("data.").to_owned()),
            Err(e) => errors.push((v0, e.to_string())),
        }
    }
    // Rego v0 lets a rule have several bodies (`head { a } { b }`, each an
    // alternative); regorus does not parse that form, so the rule is
    // restated per body, on the same lines (locations are unchanged).
    if let Some(text) = split_multi_body_rules(&text)
        && let Ok(package) = engine.add_policy(&file.path, &text, true)
    {
        return Ok(package.trim_start_matches("data.").to_owned());
    }
    // Report the error of the syntax the file is written in, told by its
    // tokens: `if` in a message string says nothing.
    let looks_v1 = lex(&file.text).looks_v1(&file.text);
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
    let mut copied = 0;
    let kinds = lex_complete(text)?;
    for (i, &c) in b.iter().enumerate() {
        if kinds[i] != Lex::Code {
            continue;
        }
        match c {
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
    let kinds = lex_complete(text)?;
    let mut stack: Vec<u8> = Vec::new();
    let mut last_sig: Option<usize> = None;
    let mut inserts: Vec<usize> = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        match kinds[i] {
            Lex::Comment => continue,
            Lex::Str => {
                last_sig = Some(i);
                continue;
            }
            Lex::Code => {}
        }
        match c {
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

/// OPA evaluates the reference arguments of a call under `not` before the
/// negation (`not f(x.y)` with `x.y` undefined fails the body); regorus
/// negates the undefined call instead. Hoists such arguments into variables
/// on the same line (`__tg_n3_0 := x.y; not f(__tg_n3_0)`); `None` when no
/// line has one.
pub(crate) fn hoist_negated_call_arguments(text: &str) -> Option<String> {
    static NEGATED_CALL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\s+)not\s+([A-Za-z_][A-Za-z0-9_.]*)\((.*)\)(\s*)$").unwrap_or_else(|e| panic!("{e}"))
    });
    static STATIC_REF: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*|\["[^"]*"\]|\[[0-9]+\])+$"#)
            .unwrap_or_else(|e| panic!("{e}"))
    });
    // Matched on the code of each line only: a line inside a raw string
    // (which may span lines) is text, whatever it looks like, and a
    // comment's parentheses are not the call's.
    let kinds = lex_complete(text)?;
    let mut changed = false;
    let mut out = String::with_capacity(text.len() + 64);
    let mut start = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let at = start;
        start += line.len();
        let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let kind = |k: usize| kinds[at + k];
        let code_end = (0..body.len()).find(|&k| kind(k) == Lex::Comment).unwrap_or(body.len());
        let (code, comment) = body.split_at(code_end);
        let begins_in_code = code.find(|c: char| !c.is_whitespace()).is_some_and(|k| kind(k) == Lex::Code);
        let Some(c) = NEGATED_CALL.captures(code).filter(|_| begins_in_code) else {
            out.push_str(line);
            continue;
        };
        let (Some(open), Some(close)) = (c.get(3), c.get(4)) else {
            out.push_str(line);
            continue;
        };
        // The call's own closing parenthesis must be code, and close the
        // opening one: `not f(a) == g(b)` is not a call with one argument.
        let args = &code[open.start()..open.end()];
        let Some(args) = split_arguments(args, &kinds[at + open.start()..at + open.end()]) else {
            out.push_str(line);
            continue;
        };
        if kind(close.start() - 1) != Lex::Code {
            out.push_str(line);
            continue;
        }
        let mut hoisted = Vec::new();
        let mut new_args = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let a = a.trim();
            if STATIC_REF.is_match(a) {
                let var = format!("__tg_n{n}_{i}");
                hoisted.push(format!("{var} := {a}; "));
                new_args.push(var);
            } else {
                new_args.push(a.to_string());
            }
        }
        if hoisted.is_empty() {
            out.push_str(line);
            continue;
        }
        changed = true;
        out.push_str(&format!(
            "{}{}not {}({}){}{comment}{nl}",
            &c[1],
            hoisted.concat(),
            &c[2],
            new_args.join(", "),
            &c[4]
        ));
    }
    changed.then_some(out)
}

/// A bracket group: its opening and closing offsets, and whether it is a
/// comprehension.
type Group = (usize, usize, bool);

/// The code mask of `text` (strings and comments are not code) and its
/// bracket groups `(open, close, is_comprehension)`; a group is a
/// comprehension when a single `|` stands at its own level.
fn scan_groups(text: &str) -> Option<(Vec<bool>, Vec<Group>)> {
    let b = text.as_bytes();
    let code: Vec<bool> = lex_complete(text)?.into_iter().map(|k| k == Lex::Code).collect();
    let mut groups: Vec<(usize, usize, bool)> = Vec::new(); // (open, close, comprehension)
    let mut stack: Vec<(usize, bool)> = Vec::new();
    for (i, &c) in b.iter().enumerate() {
        if !code[i] {
            continue;
        }
        match c {
            b'{' | b'[' | b'(' => stack.push((i, false)),
            b'}' | b']' | b')' => {
                if let Some((open, comp)) = stack.pop() {
                    groups.push((open, i, comp));
                }
            }
            b'|' => {
                let double = b.get(i + 1) == Some(&b'|') || (i > 0 && b[i - 1] == b'|');
                if !double && let Some(top) = stack.last_mut() {
                    top.1 = true;
                }
            }
            _ => {}
        }
    }
    Some((code, groups))
}

/// What a byte of Rego text is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    Code,
    /// A string or raw string, quotes included.
    Str,
    /// A `#` comment, up to (not including) the end of its line.
    Comment,
}

/// The class of every byte of `text`, read off regorus's own lexer (the one
/// that will parse the policy), so that no source rewrite or guard looks at
/// brackets inside strings or comments, and none of them disagrees with
/// regorus about where a string ends. regorus skips comments between tokens
/// (`#` to the end of the line); those gaps hold nothing else but blanks.
/// Where the lexer stops at an error (an unterminated string, a line over
/// its column limit), the rest is classed as code and `complete` is false:
/// regorus then rejects the file with that error, whatever is rewritten.
fn lex(text: &str) -> Lexed {
    let mut kinds = vec![Lex::Code; text.len()];
    let mark_comments = |kinds: &mut [Lex], from: usize, to: usize| {
        let gap = &text.as_bytes()[from..to];
        let mut i = 0;
        while let Some(p) = gap[i..].iter().position(|&c| c == b'#') {
            let start = i + p;
            let end = gap[start..].iter().position(|&c| c == b'\n').map_or(gap.len(), |e| start + e);
            kinds[from + start..from + end].fill(Lex::Comment);
            i = end;
        }
    };
    let mut words = Vec::new();
    let Ok(source) = regorus::Source::from_contents(String::new(), text.to_owned()) else {
        return Lexed { kinds, words, complete: false };
    };
    let mut lexer = regorus::unstable::Lexer::new(&source);
    let mut after_last = 0usize;
    let complete = loop {
        let Ok(regorus::unstable::Token(kind, span)) = lexer.next_token() else { break false };
        let (start, end) = (span.start as usize, span.end as usize);
        let range = match kind {
            regorus::unstable::TokenKind::Eof => {
                mark_comments(&mut kinds, after_last, text.len());
                break true;
            }
            // A string's span is its contents: the quotes are one byte
            // either side.
            regorus::unstable::TokenKind::String | regorus::unstable::TokenKind::RawString => {
                let range = start.saturating_sub(1)..(end + 1).min(text.len());
                kinds[range.clone()].fill(Lex::Str);
                range
            }
            regorus::unstable::TokenKind::Ident => {
                words.push((start, span.text().to_owned()));
                start..end
            }
            _ => start..end,
        };
        if range.start >= after_last {
            mark_comments(&mut kinds, after_last, range.start);
        }
        after_last = after_last.max(range.end);
    };
    Lexed { kinds, words, complete }
}

/// What [`lex`] read: each byte's class, the identifiers (keywords
/// included) with their offsets, and whether the whole text lexed.
struct Lexed {
    kinds: Vec<Lex>,
    words: Vec<(usize, String)>,
    complete: bool,
}

impl Lexed {
    /// Whether the text is written in Rego v1 syntax, by its tokens: it
    /// imports `rego.v1` or uses the v1 keywords `if` or `contains` (words
    /// in strings and comments are not tokens, so say nothing).
    fn looks_v1(&self, text: &str) -> bool {
        // `contains(s, t)` is the v0 built-in, not the keyword.
        let called = |at: usize| text[at..].trim_start().starts_with('(');
        self.words.iter().any(|(at, w)| w == "if" || (w == "contains" && !called(at + w.len())))
            || self.words.windows(3).any(|w| w[0].1 == "import" && w[1].1 == "rego" && w[2].1 == "v1")
    }
}

/// The classes of [`lex`] when the whole text lexed; `None` otherwise, and
/// no rewrite is made: regorus reports the lexical error of the text as
/// written.
fn lex_complete(text: &str) -> Option<Vec<Lex>> {
    let lexed = lex(text);
    lexed.complete.then_some(lexed.kinds)
}

/// Whether each byte of `text` is code (not a string or a comment).
pub(crate) fn lex_code(text: &str) -> Vec<bool> {
    lex(text).kinds.into_iter().map(|k| k == Lex::Code).collect()
}

/// In a comprehension, `x := e` declares a new local `x` from there on:
/// OPA reads the uses of `x` before it as the enclosing body's `x`, and the
/// ones after it, and in the comprehension's head, as the local (in
/// `name := "a"; [name | input[i].n == name; name := input[i].m]` the test
/// is against `"a"` and the result holds the `m`s). regorus rejects the use
/// before the definition. Renames the local (its definition, the later uses
/// and the head's) so the two are distinct variables; `None` when there is
/// none.
pub(crate) fn scope_comprehension_locals(text: &str) -> Option<String> {
    static ASSIGN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b([A-Za-z_][A-Za-z0-9_]*)[ \t]*:=").unwrap_or_else(|e| panic!("{e}"))
    });
    let b = text.as_bytes();
    let (code, groups) = scan_groups(text)?;
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for &(open, close, comprehension) in &groups {
        if !comprehension {
            continue;
        }
        // The body starts after the group's own `|`.
        let mut depth = 0;
        let mut bar = None;
        for k in open + 1..close {
            if !code[k] {
                continue;
            }
            match b[k] {
                b'{' | b'[' | b'(' => depth += 1,
                b'}' | b']' | b')' => depth -= 1,
                b'|' if depth == 0 && b.get(k + 1) != Some(&b'|') && b[k - 1] != b'|' => {
                    bar = Some(k);
                    break;
                }
                _ => {}
            }
        }
        let Some(bar) = bar else { continue };
        for m in ASSIGN.captures_iter(&text[bar..close]) {
            let Some(var) = m.get(1) else { continue };
            let def = bar + var.start();
            if !code[def] || (def > 0 && b[def - 1] == b'.') {
                continue;
            }
            // Only this comprehension's own locals: one in a nested group is
            // that group's (and a rule body's `a | b` is a union, not a
            // comprehension whose locals could be scoped).
            let nested = (bar + 1..def).filter(|&k| code[k]).fold(0i32, |d, k| match b[k] {
                b'{' | b'[' | b'(' => d + 1,
                b'}' | b']' | b')' => d - 1,
                _ => d,
            });
            if nested != 0 {
                continue;
            }
            let name = var.as_str();
            let occurrences: Vec<usize> = text[open..=close]
                .match_indices(name)
                .map(|(p, _)| open + p)
                .filter(|&p| {
                    code[p]
                        && !(p > 0 && (is_word(b[p - 1]) || b[p - 1] == b'.'))
                        && !b.get(p + name.len()).is_some_and(|&c| is_word(c))
                })
                .collect();
            let used_before = occurrences.iter().any(|&p| p > bar && p < def);
            if !used_before {
                continue;
            }
            // The head and everything from the definition on: the local.
            for p in occurrences.into_iter().filter(|&p| p < bar || p >= def) {
                edits.push((p, p + name.len(), format!("__tg_{name}")));
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|e| e.0);
    edits.dedup_by_key(|e| e.0);
    let mut out = String::with_capacity(text.len() + edits.len() * 5);
    let mut copied = 0;
    for (start, end, rep) in edits {
        if start < copied {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(&rep);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A body's `some x` whose variable is used only inside comprehensions
/// binds nothing in OPA (each comprehension iterates its own `x`); regorus
/// makes the comprehensions share one unbound `x` and yields nothing. Blanks
/// such declarations (same lines and columns); `None` when there is none.
pub(crate) fn drop_vacuous_some(text: &str) -> Option<String> {
    static SOME_LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)^[ \t]*some[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?:#.*)?$")
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let b = text.as_bytes();
    let (code, groups) = scan_groups(text)?;
    let bodies: Vec<(usize, usize)> = {
        let mut depth_zero: Vec<(usize, usize)> = Vec::new();
        let mut sorted = groups.clone();
        sorted.sort_unstable();
        for (open, close, _) in sorted {
            if b[open] == b'{' && !depth_zero.iter().any(|(o, c)| *o < open && close < *c) {
                depth_zero.push((open, close));
            }
        }
        depth_zero
    };
    let comprehensions: Vec<(usize, usize)> = groups.iter().filter(|g| g.2).map(|g| (g.0, g.1)).collect();
    let mut out = text.to_string();
    let mut changed = false;
    for m in SOME_LINE.captures_iter(text) {
        let (Some(whole), Some(var)) = (m.get(0), m.get(1)) else { continue };
        if !code[var.start()] {
            continue;
        }
        let Some(&(open, close)) = bodies.iter().find(|(o, c)| *o < whole.start() && whole.end() < *c) else {
            continue;
        };
        if comprehensions.iter().any(|(o, c)| *o < whole.start() && whole.end() < *c) {
            continue;
        }
        let name = var.as_str();
        let body = &text[open..=close];
        let mut used_outside = false;
        let mut used_inside = false;
        let mut from = 0;
        while let Some(p) = body[from..].find(name) {
            let at = open + from + p;
            from += p + name.len();
            let before = at.checked_sub(1).map(|k| b[k]);
            let after = b.get(at + name.len()).copied();
            let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.');
            if word(before) || after.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') || !code[at] {
                continue;
            }
            if at == var.start() {
                continue;
            }
            if comprehensions.iter().any(|(o, c)| *o < at && at < *c && *o > open) {
                used_inside = true;
            } else {
                used_outside = true;
            }
        }
        if used_inside && !used_outside {
            out.replace_range(whole.start()..whole.end(), &" ".repeat(whole.end() - whole.start()));
            changed = true;
        }
    }
    changed.then_some(out)
}

/// Splits call arguments at their top-level commas, by the lexical classes
/// `kinds` of their bytes (so commas and brackets in strings, raw strings
/// included, are text). `None` when the brackets do not balance: the text
/// is then not one call's arguments (`f(a) == g(b)` read as `a) == g(b`).
fn split_arguments(args: &str, kinds: &[Lex]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut from = 0;
    for (i, c) in args.bytes().enumerate() {
        if kinds[i] != Lex::Code {
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            b',' if depth == 0 => {
                out.push(args[from..i].to_owned());
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(args[from..].to_owned());
    (depth == 0).then_some(out)
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
    if meta.file_type().is_symlink() && (keep(path) || path.is_dir()) {
        // Never followed (it may leave the repository), never dropped silently.
        return Err(PolicyProblem::at(
            &path.display().to_string(),
            "is a symbolic link; tollgate does not follow links to policies. Commit the policy itself",
        ));
    }
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
/// merged under `data`) and data held in memory (`(path, text)`).
pub fn load_data(paths: &[PathBuf], in_memory: &[(String, String)]) -> Result<serde_json::Value, PolicyProblem> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, &|p| {
            p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })?;
    }
    files.sort();
    let mut texts = Vec::with_capacity(files.len() + in_memory.len());
    for file in files {
        let shown = file.display().to_string();
        let text =
            std::fs::read_to_string(&file).map_err(|e| PolicyProblem::at(&shown, format!("cannot read: {e}")))?;
        texts.push((shown, text));
    }
    texts.extend(in_memory.iter().cloned());
    let mut data = serde_json::Map::new();
    for (shown, text) in texts {
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
    // Strings (raw strings span lines) and comments as regorus lexes them.
    let kinds = lex(text).kinds;
    let mut depth: i32 = 0;
    let mut pending: Option<Annotation> = None;
    let mut offset = 0usize;
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    while let Some((number, line)) = lines.next() {
        let at = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let first = at + (line.len() - trimmed.len());
        let starts = |class: Lex| kinds.get(first) == Some(&class);
        if depth == 0 && starts(Lex::Comment) && trimmed.starts_with("# METADATA") {
            let mut block = String::new();
            while let Some((_, next)) = lines.peek() {
                let t = next.trim_start();
                let Some(rest) = t.strip_prefix('#') else { break };
                let rest = rest.trim_end_matches(['\n', '\r']);
                block.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                block.push('\n');
                offset += next.len();
                lines.next();
            }
            pending = Some(parse_annotation(&block));
            continue;
        }
        if depth == 0 && starts(Lex::Code) {
            let word: String = trimmed.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if word == "package" {
                if let Some(a) = pending.take() {
                    into.package_annotation = Some(a);
                }
            } else if !word.is_empty() && word != "import" && word != "default" {
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
        // Nesting, in code only.
        for (i, c) in line.bytes().enumerate() {
            if kinds.get(at + i) != Some(&Lex::Code) {
                continue;
            }
            match c {
                b'{' | b'[' | b'(' => depth += 1,
                b'}' | b']' | b')' => depth = (depth - 1).max(0),
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
    fn regorus_frames_fold_into_one_line() {
        let raw = "data.main.deny: \n--> policy/bad.rego:5:18\n  |\n5 |   msg := nosuchfn(1)\n  |                  ^\nerror: could not find function nosuchfn";
        assert_eq!(tidy_regorus(raw), "data.main.deny: could not find function nosuchfn (at policy/bad.rego:5:18)");
        assert_eq!(tidy_regorus("plain\nerror"), "plain error");
    }

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
    fn negated_call_arguments_are_evaluated_first() {
        let text =
            "package p\nv(params) {\n  not accept(\"x\", params.ranges, [1, 2]) # why\n}\naccept(_, _, _) = false\n";
        let out = hoist_negated_call_arguments(text).expect("rewritten");
        assert!(out.contains("  __tg_n2_1 := params.ranges; not accept(\"x\", __tg_n2_1, [1, 2]) # why\n"), "{out}");
        assert_eq!(out.lines().count(), text.lines().count());
        let mut engine = regorus::Engine::new();
        engine.set_rego_v0(true);
        engine.add_policy("p.rego".into(), out).expect("compiles");
        engine.set_input(regorus::Value::from_json_str("{}").expect("json"));
        // `params.ranges` undefined: the body fails, as in OPA.
        let r = engine.eval_query(r#"data.p.v({"rule": "a"})"#.into(), false).expect("evaluates");
        assert!(r.result.is_empty(), "{r:?}");
        let r = engine.eval_query(r#"data.p.v({"ranges": []})"#.into(), false).expect("evaluates");
        assert_eq!(r.result[0].expressions[0].value, regorus::Value::from(true));
        assert_eq!(hoist_negated_call_arguments("package p\nq {\n  not f(x)\n}\n"), None);
    }

    #[test]
    fn negated_calls_are_found_in_code_only() {
        // A raw string that spans lines is text: its lines are never rewritten.
        let raw = "package p\nmsg := `\n  not f(input.x)\n`\n";
        assert_eq!(hoist_negated_call_arguments(raw), None);
        assert!(rewrites(raw).is_empty());
        // A comment's parentheses are not the call's, and stay as written.
        let commented = "package p\nq {\n  not f(input.x) # see f(a, b)\n}\n";
        let out = hoist_negated_call_arguments(commented).expect("rewritten");
        assert!(out.contains("  __tg_n2_0 := input.x; not f(__tg_n2_0) # see f(a, b)\n"), "{out}");
        // Commas and brackets in strings, raw ones included, are text.
        let strings = "package p\nq {\n  not f(`a, (b`, \"c, ]d\", input.x)\n}\n";
        let out = hoist_negated_call_arguments(strings).expect("rewritten");
        assert!(out.contains("  __tg_n2_2 := input.x; not f(`a, (b`, \"c, ]d\", __tg_n2_2)\n"), "{out}");
        // Two calls compared are not one call: nothing is hoisted.
        assert_eq!(hoist_negated_call_arguments("package p\nq {\n  not f(input.a) == g(input.b)\n}\n"), None);
        // The case the bracket balance decides: split naively, `input.c`
        // would look like an argument of `f` and be hoisted.
        assert_eq!(hoist_negated_call_arguments("package p\nq {\n  not f(input.a) == g(input.b, input.c)\n}\n"), None);
    }

    #[test]
    fn code_strings_and_comments_are_what_regorus_lexes() {
        let class = |text: &str| -> String {
            lex(text)
                .kinds
                .iter()
                .map(|k| match k {
                    Lex::Code => 'c',
                    Lex::Str => 's',
                    Lex::Comment => '#',
                })
                .collect()
        };
        // An escaped quote stays in its string; `#` in a string is text.
        assert_eq!(class(r##"x := "a\"#" # c"##), "cccccssssssc###");
        // A raw string has no escapes: it ends at the first backtick.
        assert_eq!(class(r"x := `a\` # c"), "ccccc".to_owned() + "ssss" + "c###");
        // A quote or backtick in a comment opens nothing.
        assert_eq!(class("# \"`\nx"), "####cc");
        assert!(lex("x := 1 # `\ny := `\nz\n`\n").complete);
        // An unterminated string: the lexer stops, nothing is rewritten.
        let broken = "package p\nq {\n  not f(input.x)\n  y := \"open\n}\n";
        assert!(!lex(broken).complete);
        assert_eq!(hoist_negated_call_arguments(broken), None);
        // Rego v1 is told by its keywords as tokens, not by words in text.
        let v1 = |text: &str| lex(text).looks_v1(text);
        assert!(v1("package p\nallow if input.x\n"));
        assert!(v1("package p\nimport rego.v1\n"));
        assert!(v1("package p\ndeny contains msg if { msg := \"x\" }\n"));
        assert!(!v1("package p\nallow { msg := \"only if \"; contains(msg, \"y\") } # if\n"));
    }

    #[test]
    fn a_some_used_only_in_comprehensions_is_dropped() {
        let text = "package p\nr := n if {\n  some i\n  a := [x | x := input.a[i]]\n  b := {y | some i; y := input.b[i]}\n  n := count(a) + count(b)\n}\nq if {\n  some i\n  input.a[i] == 1\n  c := [x | x := input.a[i]]\n}\n";
        let out = drop_vacuous_some(text).expect("rewritten");
        assert_eq!(out.len(), text.len());
        assert!(out.starts_with("package p\nr := n if {\n        \n  a := [x"), "{out}");
        assert!(out.contains("q if {\n  some i\n"), "{out}");
        assert_eq!(drop_vacuous_some("package p\nq if {\n  some i\n  input.a[i] == 1\n}\n"), None);
    }

    #[test]
    fn a_comprehension_local_declared_after_a_use_is_renamed_apart() {
        // OPA: the use before `:=` is the outer `name`, the head and the
        // definition are the local (OPA 1.x gives `["q"]` for items
        // `{n: x, m: x}, {n: a, m: q}`).
        let text = "package p\nr := c if {\n  name := \"a\"\n  c := [name | some i; input[i].n == name; name := input[i].m]\n}\n";
        let out = scope_comprehension_locals(text).expect("rewritten");
        assert!(out.contains("c := [__tg_name | some i; input[i].n == name; __tg_name := input[i].m]"), "{out}");
        assert!(out.contains("  name := \"a\"\n"), "{out}");
        assert_eq!(scope_comprehension_locals("package p\nq := [x | x := 1]\n"), None);
        // A body's `a | b` is a union: the nested comprehension's own `k`
        // (used in its head only) is not renamed by the body around it.
        let union = "package p\nf(obj) = out {\n  keys := {k | obj[k]}\n  all := keys | {\"n\"}\n  out := {k: v | k := all[_]; v := obj[k]}\n}\n";
        assert_eq!(scope_comprehension_locals(union), None);
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
        let mut engine = crate::replica::Recorded::default();
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
