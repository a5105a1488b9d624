//! The render tree: a mutable YAML tree in which every value remembers where
//! it was written (its [`Origin`]: a file of the render and a span in it).
//!
//! Parsed files are `tollgate_yaml` trees, which are read-only and know
//! nothing of their file. A render copies values between files (a base's
//! container into an overlay's output, a patch's field into a base object)
//! and makes new ones (a namespace, a label, a hashed name); each keeps the
//! origin of the text that produced it, which is how a finding on a rendered
//! object is placed on the line a reviewer must change.

use tollgate_yaml::{Node, Scalar, ScalarStyle, Span, Value};

/// Index of a file in a render's file table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u32);

/// Where a rendered value was written: the file and span of the text that
/// produced it. A value a transformer made (a namespace, a prefixed name, a
/// hash suffix) points at the kustomization field that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Origin {
    /// The file.
    pub file: FileId,
    /// The span in it.
    pub span: Span,
}

/// A folded scalar's value as kustomize prints it, and so as the cluster
/// receives it. kustomize's YAML writer (go-yaml v3) writes a multi-line
/// string as a block, and adds a line break before each more-indented line
/// that follows a line that is not (`a\n  b` comes out as `a\n\n  b`). A
/// string it cannot write as a block (a space before a line break or at
/// the end, a control character) is written quoted, unchanged.
fn go_yaml_folded(text: &str) -> String {
    let quoted = text.contains(" \n")
        || text.ends_with(' ')
        || text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{feff}');
    if quoted {
        return text.to_owned();
    }
    let indented = |l: &str| l.starts_with([' ', '\t']);
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous: Option<&str> = None;
    for line in text.split('\n') {
        if let Some(p) = previous {
            out.push('\n');
            if indented(line) && !indented(p) {
                out.push('\n');
            }
        }
        out.push_str(line);
        previous = Some(line);
    }
    out
}

/// A value of the render tree.
#[derive(Debug, Clone, PartialEq)]
pub enum RValue {
    /// A scalar, with the style that decides how it resolves.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<RNode>),
    /// A mapping, in source order (keys are unique).
    Map(Vec<(Key, RNode)>),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub text: String,
    /// Where the key was written.
    pub origin: Origin,
}

/// One node of the render tree.
#[derive(Debug, Clone, PartialEq)]
pub struct RNode {
    /// The value.
    pub value: RValue,
    /// Where the value was written.
    pub origin: Origin,
}

impl RNode {
    /// Copies a parsed node of `file` into the render tree.
    pub fn from_node(node: &Node, file: FileId) -> RNode {
        let origin = Origin { file, span: node.span };
        let value = match &node.value {
            Value::Scalar(s) if s.style == ScalarStyle::Folded && s.text.contains('\n') => {
                RValue::Scalar(Scalar { text: go_yaml_folded(&s.text).into_boxed_str(), style: s.style })
            }
            Value::Scalar(s) => RValue::Scalar(s.clone()),
            Value::Sequence(items) => RValue::Seq(items.iter().map(|n| RNode::from_node(n, file)).collect()),
            Value::Mapping(m) => RValue::Map(
                m.entries
                    .iter()
                    .map(|(k, v)| {
                        let text = match &k.value {
                            Value::Scalar(s) => s.text.to_string(),
                            _ => k.to_json().to_string(),
                        };
                        (Key { text, origin: Origin { file, span: k.span } }, RNode::from_node(v, file))
                    })
                    .collect(),
            ),
        };
        RNode { value, origin }
    }

    /// A string scalar (always a string, however it reads).
    pub fn string(text: impl Into<String>, origin: Origin) -> RNode {
        RNode {
            value: RValue::Scalar(Scalar { text: text.into().into_boxed_str(), style: ScalarStyle::DoubleQuoted }),
            origin,
        }
    }

    /// A plain scalar (resolved like YAML text: `3` is a number).
    pub fn plain(text: impl Into<String>, origin: Origin) -> RNode {
        RNode {
            value: RValue::Scalar(Scalar { text: text.into().into_boxed_str(), style: ScalarStyle::Plain }),
            origin,
        }
    }

    /// An empty mapping.
    pub fn map(origin: Origin) -> RNode {
        RNode { value: RValue::Map(Vec::new()), origin }
    }

    /// The scalar text (of any scalar).
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            RValue::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, RValue::Scalar(s) if s.is_null())
    }

    /// The entries, when a mapping.
    pub fn as_map(&self) -> Option<&[(Key, RNode)]> {
        match &self.value {
            RValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The entries, when a mapping.
    pub fn as_map_mut(&mut self) -> Option<&mut Vec<(Key, RNode)>> {
        match &mut self.value {
            RValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when a sequence.
    pub fn as_seq(&self) -> Option<&[RNode]> {
        match &self.value {
            RValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The items, when a sequence.
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<RNode>> {
        match &mut self.value {
            RValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&RNode> {
        self.as_map()?.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }

    /// The value under `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut RNode> {
        self.as_map_mut()?.iter_mut().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }

    /// The node at a `/`-separated path of keys.
    pub fn at(&self, path: &str) -> Option<&RNode> {
        path.split('/').filter(|p| !p.is_empty()).try_fold(self, |n, k| n.get(k))
    }

    /// The string at a path.
    pub fn str_at(&self, path: &str) -> Option<&str> {
        self.at(path).and_then(RNode::as_str)
    }

    /// Sets `key` to `value` (replacing it in place, or appending it).
    pub fn set(&mut self, key: &str, value: RNode) {
        let origin = value.origin;
        if !matches!(self.value, RValue::Map(_)) {
            self.value = RValue::Map(Vec::new());
        }
        if let Some(map) = self.as_map_mut() {
            match map.iter_mut().find(|(k, _)| k.text == key) {
                Some((_, v)) => *v = value,
                None => map.push((Key { text: key.to_owned(), origin }, value)),
            }
        }
    }

    /// The mapping under `key`, made (at `origin`) when missing or null.
    pub fn entry_map(&mut self, key: &str, origin: Origin) -> &mut RNode {
        let missing = self.get(key).is_none_or(|v| v.as_map().is_none());
        if missing {
            self.set(key, RNode::map(origin));
        }
        // Just set when missing: the lookup succeeds.
        let index = self.as_map().and_then(|m| m.iter().position(|(k, _)| k.text == key)).unwrap_or(0);
        match &mut self.value {
            RValue::Map(m) => &mut m[index].1,
            _ => unreachable!("set() made a mapping"),
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<RNode> {
        let map = self.as_map_mut()?;
        let index = map.iter().position(|(k, _)| k.text == key)?;
        Some(map.remove(index).1)
    }

    /// The value as JSON, as the output reads it (go-yaml v3 resolution of
    /// plain scalars, as kustomize's reader does).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            RValue::Scalar(s) => {
                let node = Node { value: Value::Scalar(s.clone()), span: Span::default() };
                node.to_json()
            }
            RValue::Seq(items) => serde_json::Value::Array(items.iter().map(RNode::to_json).collect()),
            RValue::Map(entries) => {
                serde_json::Value::Object(entries.iter().map(|(k, v)| (k.text.clone(), v.to_json())).collect())
            }
        }
    }

    /// Every node below this one (itself included), depth first, with a
    /// mutable handle: for transformers that rewrite origins.
    pub fn for_each_mut(&mut self, f: &mut dyn FnMut(&mut RNode)) {
        f(self);
        match &mut self.value {
            RValue::Scalar(_) => {}
            RValue::Seq(items) => items.iter_mut().for_each(|n| n.for_each_mut(f)),
            RValue::Map(m) => m.iter_mut().for_each(|(_, v)| v.for_each_mut(f)),
        }
    }
}
