//! YAML output as `kustomize build` prints it: one document per object,
//! `---` between them, keys sorted, two-space indentation, list items not
//! indented under their key, strings quoted when they would read as
//! something else.

use std::fmt::Write as _;

use tollgate_yaml::{Resolved, ScalarStyle};

use crate::node::{RNode, RValue};

/// The rendered stream: every node a document.
pub fn to_yaml(nodes: &[&RNode]) -> String {
    let mut out = String::new();
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        document(&mut out, node);
    }
    out
}

fn document(out: &mut String, node: &RNode) {
    match &node.value {
        RValue::Map(entries) if !entries.is_empty() => map(out, node, 0),
        RValue::Seq(items) if !items.is_empty() => seq(out, node, 0),
        _ => {
            out.push_str(&inline(node));
            out.push('\n');
        }
    }
}

fn map(out: &mut String, node: &RNode, indent: usize) {
    let RValue::Map(entries) = &node.value else { return };
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.text.cmp(&b.0.text));
    for (key, value) in sorted {
        let _ = write!(out, "{:indent$}{}:", "", scalar_text(&key.text, ScalarStyle::DoubleQuoted));
        block_value(out, value, indent, true);
    }
}

fn seq(out: &mut String, node: &RNode, indent: usize) {
    let RValue::Seq(items) = &node.value else { return };
    for item in items {
        let _ = write!(out, "{:indent$}-", "");
        match &item.value {
            RValue::Map(entries) if !entries.is_empty() => {
                // The first key on the dash's line, the rest aligned under it.
                let mut nested = String::new();
                map(&mut nested, item, indent + 2);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
            RValue::Seq(inner) if !inner.is_empty() => {
                let mut nested = String::new();
                seq(&mut nested, item, indent + 2);
                out.push(' ');
                out.push_str(nested.trim_start());
            }
            _ => {
                out.push(' ');
                out.push_str(&inline(item));
                out.push('\n');
            }
        }
    }
}

/// A value after `key:`: on the same line when it is a scalar or empty,
/// else on the following lines.
fn block_value(out: &mut String, value: &RNode, indent: usize, _in_map: bool) {
    match &value.value {
        RValue::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            map(out, value, indent + 2);
        }
        RValue::Seq(items) if !items.is_empty() => {
            out.push('\n');
            seq(out, value, indent);
        }
        _ => {
            out.push(' ');
            out.push_str(&inline(value));
            out.push('\n');
        }
    }
}

fn inline(node: &RNode) -> String {
    match &node.value {
        RValue::Map(_) => "{}".to_owned(),
        RValue::Seq(_) => "[]".to_owned(),
        RValue::Scalar(s) => scalar_text(&s.text, s.style),
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
}
