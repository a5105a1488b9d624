//! YAML output as `kustomize build` prints it: one document per object,
//! `---` between them, keys sorted, two-space indentation, list items not
//! indented under their key, strings quoted when they would read as
//! something else.

use std::fmt::Write as _;

use tollgate_yaml::{Document, Mapping, Node, Position, Resolved, Scalar, ScalarStyle, Span, Value};

use crate::node::{Origin, RNode, RValue};

/// The rendered stream: every node a document.
pub fn to_yaml(nodes: &[&RNode]) -> String {
    emit(nodes).0
}

/// The rendered stream, and its documents as a YAML parser would read them
/// back, without parsing it: rules judge the documents. Each node's span
/// has the byte offsets of the node in the stream and, instead of lines and
/// columns, the node's origin (see [`tollgate_core::origin_position`]).
pub(crate) fn emit(nodes: &[&RNode]) -> (String, Vec<Document>) {
    let mut w = Writer { text: String::new(), count: 0 };
    let mut documents = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        if index > 0 {
            w.push("---\n");
        }
        w.count = 0;
        let root = w.document(node);
        documents.push(Document { index, root, nodes: w.count });
    }
    (w.text, documents)
}

/// Writes YAML and knows where it is.
struct Writer {
    text: String,
    count: usize,
}

impl Writer {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn spaces(&mut self, n: usize) {
        let _ = write!(self.text, "{:n$}", "");
    }

    /// Here, as the start of a node written at `origin`.
    fn start(&self, origin: Origin) -> Position {
        tollgate_core::origin_position(Some(origin.file.0), origin.span.start.offset, self.offset())
    }

    /// Here, as the end of a node written at `origin`.
    fn end(&self, origin: Origin) -> Position {
        let end = origin.span.end.offset.max(origin.span.start.offset);
        tollgate_core::origin_position(Some(origin.file.0), end, self.offset())
    }

    fn offset(&self) -> u32 {
        u32::try_from(self.text.len()).unwrap_or(u32::MAX)
    }

    fn document(&mut self, node: &RNode) -> Node {
        match &node.value {
            RValue::Map(entries) if !entries.is_empty() => self.map(node, 0, false),
            RValue::Seq(items) if !items.is_empty() => self.seq(node, 0, false, true),
            _ => {
                let n = self.inline(node);
                self.push("\n");
                n
            }
        }
    }

    /// A block mapping, keys sorted; the first key on the current line when
    /// `first_inline` (after a list's dash).
    fn map(&mut self, node: &RNode, indent: usize, first_inline: bool) -> Node {
        let RValue::Map(entries) = &node.value else { return self.inline(node) };
        let mut sorted: Vec<_> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.text.cmp(&b.0.text));
        let start = self.start(node.origin);
        self.count += 1;
        let mut out = Vec::with_capacity(sorted.len());
        for (i, (key, value)) in sorted.into_iter().enumerate() {
            if i > 0 || !first_inline {
                self.spaces(indent);
            }
            let text = scalar_text(&key.text, ScalarStyle::DoubleQuoted);
            let key_node = self.scalar_node(&key.text, &text, key.origin);
            self.push(":");
            let value_node = self.block_value(value, indent);
            out.push((key_node, value_node));
        }
        let end =
            Position { offset: out.last().map_or(start.offset, |(_, v)| v.span.end.offset), ..self.end(node.origin) };
        Node { value: Value::Mapping(Mapping { entries: out.into_boxed_slice() }), span: Span { start, end } }
    }

    /// A block sequence, not indented under its key; the first item on the
    /// current line when `first_inline`.
    fn seq(&mut self, node: &RNode, indent: usize, first_inline: bool, at_dash: bool) -> Node {
        let RValue::Seq(items) = &node.value else { return self.inline(node) };
        self.count += 1;
        // A parser starts a block sequence at its first dash, except a list
        // under a key, which it starts after its first `- `.
        let mut start = None;
        if first_inline || at_dash {
            start = Some(self.start(node.origin));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !first_inline {
                self.spaces(indent);
            }
            self.push("- ");
            if start.is_none() {
                start = Some(self.start(node.origin));
            }
            let child = match &item.value {
                RValue::Map(entries) if !entries.is_empty() => self.map(item, indent + 2, true),
                RValue::Seq(inner) if !inner.is_empty() => self.seq(item, indent + 2, true, true),
                _ => {
                    let n = self.inline(item);
                    self.push("\n");
                    n
                }
            };
            out.push(child);
        }
        let start = start.unwrap_or_else(|| self.start(node.origin));
        let end = Position { offset: out.last().map_or(start.offset, |n| n.span.end.offset), ..self.end(node.origin) };
        Node { value: Value::Sequence(out.into_boxed_slice()), span: Span { start, end } }
    }

    /// A value after `key:`: on the same line when it is a scalar or empty,
    /// else on the following lines.
    fn block_value(&mut self, value: &RNode, indent: usize) -> Node {
        match &value.value {
            RValue::Map(entries) if !entries.is_empty() => {
                self.push("\n");
                self.map(value, indent + 2, false)
            }
            RValue::Seq(items) if !items.is_empty() => {
                self.push("\n");
                self.seq(value, indent, false, false)
            }
            _ => {
                self.push(" ");
                let n = self.inline(value);
                self.push("\n");
                n
            }
        }
    }

    /// A scalar, `{}` or `[]` on the current line.
    fn inline(&mut self, node: &RNode) -> Node {
        match &node.value {
            RValue::Map(_) | RValue::Seq(_) => {
                let start = self.start(node.origin);
                self.count += 1;
                let is_map = matches!(node.value, RValue::Map(_));
                self.push(if is_map { "{}" } else { "[]" });
                let span = Span { start, end: self.end(node.origin) };
                let value = if is_map { Value::Mapping(Mapping::default()) } else { Value::Sequence(Box::new([])) };
                Node { value, span }
            }
            RValue::Scalar(s) => {
                let text = scalar_text(&s.text, s.style);
                let value = if text == "null" && s.style == ScalarStyle::Plain { "null" } else { &s.text };
                self.scalar_node(value, &text, node.origin)
            }
        }
    }

    /// Writes a scalar as `written` (plain or double-quoted) and returns the
    /// node a parser reads back from it: `value`, in the style written.
    fn scalar_node(&mut self, value: &str, written: &str, origin: Origin) -> Node {
        let start = self.start(origin);
        self.count += 1;
        self.push(written);
        let style = if written.starts_with('"') { ScalarStyle::DoubleQuoted } else { ScalarStyle::Plain };
        let text = if style == ScalarStyle::Plain { written } else { value };
        Node { value: Value::Scalar(Scalar { text: text.into(), style }), span: Span { start, end: self.end(origin) } }
    }
}

/// A scalar as output: plain scalars that resolve to a non-string keep
/// their text (`3`, `true`, `null`); strings are written plain when they
/// read back as the same string, else double-quoted.
fn scalar_text(text: &str, style: ScalarStyle) -> String {
    if style == ScalarStyle::Plain {
        match tollgate_yaml::resolve_plain(text) {
            Resolved::Str => {}
            Resolved::Null => return "null".to_owned(),
            _ if core_resolves_to_non_string(text) => return text.to_owned(),
            _ => {}
        }
    }
    if plain_safe(text) { text.to_owned() } else { quoted(text) }
}

/// Whether kustomize's reader (go-yaml v3) reads a plain scalar as a
/// non-string: booleans `true`/`false` and numbers only (not `yes`).
pub(crate) fn core_resolves_to_non_string(text: &str) -> bool {
    matches!(text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
        || matches!(tollgate_yaml::resolve_plain(text), Resolved::Int(_) | Resolved::Float(_))
}

/// Whether a string can be written plain and still read as that string by
/// YAML 1.1 and 1.2 readers alike.
fn plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    if text != text.trim() || text == "<<" {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if text.contains(": ") || text.contains(" #") || text.ends_with(':') {
        return false;
    }
    if text.chars().any(|c| c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')) {
        return false;
    }
    tollgate_yaml::resolve_plain(text) == Resolved::Str
}

fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{FileId, RNode};

    fn render(yaml: &str) -> String {
        let docs = tollgate_yaml::parse_yaml(yaml, &tollgate_yaml::Limits::default()).expect("yaml");
        let nodes: Vec<RNode> = docs.iter().map(|d| RNode::from_node(&d.root, FileId(0))).collect();
        to_yaml(&nodes.iter().collect::<Vec<_>>())
    }

    #[test]
    fn output_reads_back_as_the_same_document() {
        let input = "kind: X\nb: [1, \"2\", yes, 'no', null, ~, \"a: b\", \"\", '-x']\na:\n  - {n: 1, m: [x]}\n  - - y\n  - []\nc: {}\nd: \"line\\nbreak\"\ne: 1.50\n";
        let out = render(input);
        let before = tollgate_yaml::parse_yaml(input, &tollgate_yaml::Limits::default()).expect("in")[0].root.to_json();
        let after = tollgate_yaml::parse_yaml(&out, &tollgate_yaml::Limits::default()).expect(&out)[0].root.to_json();
        assert_eq!(before, after, "{out}");
        assert!(out.starts_with("a:\n- m:\n  - x\n  \"n\": 1\n"), "{out}");
    }

    fn same(a: &tollgate_yaml::Node, b: &tollgate_yaml::Node, text: &str) {
        assert_eq!(a.span.start.offset, b.span.start.offset, "{text}");
        match (&a.value, &b.value) {
            (Value::Scalar(x), Value::Scalar(y)) => {
                assert_eq!((&x.text, x.style), (&y.text, y.style), "{text}");
                assert_eq!(a.span.end.offset, b.span.end.offset, "{text}");
            }
            (Value::Sequence(x), Value::Sequence(y)) => {
                assert_eq!(x.len(), y.len(), "{text}");
                x.iter().zip(y.iter()).for_each(|(a, b)| same(a, b, text));
            }
            (Value::Mapping(x), Value::Mapping(y)) => {
                assert_eq!(x.entries.len(), y.entries.len(), "{text}");
                for ((ak, av), (bk, bv)) in x.entries.iter().zip(y.entries.iter()) {
                    same(ak, bk, text);
                    same(av, bv, text);
                }
            }
            _ => panic!("different kinds: {a:?} {b:?}\n{text}"),
        }
    }

    #[test]
    fn the_documents_built_are_those_a_parser_reads_back() {
        let input = "kind: X\nb: [1, \"2\", yes, 'no', null, ~, \"a: b\", \"\", '-x', \"\\u00e9t\u{e9}\"]\na:\n  - {n: 1, m: [x]}\n  - - y\n    - z\n  - []\nc: {}\nd: \"line\\nbreak\"\ne: 1.50\n---\n- 1\n---\nplain\n";
        let docs = tollgate_yaml::parse_yaml(input, &tollgate_yaml::Limits::default()).expect("yaml");
        let nodes: Vec<RNode> = docs.iter().map(|d| RNode::from_node(&d.root, FileId(0))).collect();
        let (text, built) = emit(&nodes.iter().collect::<Vec<_>>());
        let parsed = tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default()).expect(&text);
        assert_eq!(built.len(), parsed.len());
        for (a, b) in built.iter().zip(&parsed) {
            same(&a.root, &b.root, &text);
            assert_eq!(a.root.to_json(), b.root.to_json());
        }
    }
}
