//! The document tree: nodes, scalars and spans.

use crate::route::{Route, Segment};

/// A place in a text: 1-based line and column (in characters) and the byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in Unicode scalar values.
    pub column: u32,
    /// 0-based byte offset into the text (a `u32`: files over 4 GiB are never
    /// read, and every node of the tree carries two of these).
    pub offset: u32,
}

impl Position {
    /// The byte offset as an index into the text.
    pub fn byte(self) -> usize {
        self.offset as usize
    }
}

/// A range of text, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First character of the range.
    pub start: Position,
    /// Position just past the last character of the range.
    pub end: Position,
}

impl Span {
    /// The smallest span covering both.
    #[must_use]
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The source text the span covers (empty when it lies outside `text`).
    pub fn text(self, text: &str) -> &str {
        text.get(self.start.offset as usize..self.end.offset as usize).unwrap_or("")
    }
}

/// How a scalar was written; it decides how plain text such as `true` resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarStyle {
    /// Unquoted: subject to type resolution (`true`, `null`, `42`).
    Plain,
    /// `'single quoted'`: always a string.
    SingleQuoted,
    /// `"double quoted"` (and every JSON string): always a string.
    DoubleQuoted,
    /// `|` literal block: always a string.
    Literal,
    /// `>` folded block: always a string.
    Folded,
}

/// A scalar value and the way it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// The value after unescaping and folding.
    pub text: Box<str>,
    /// The style it was written in.
    pub style: ScalarStyle,
}

impl Scalar {
    /// What the scalar resolves to for Kubernetes (go-yaml v2, YAML 1.1):
    /// quoted and block scalars are strings, plain ones are resolved.
    pub fn resolve(&self) -> crate::Resolved {
        if self.style == ScalarStyle::Plain { crate::resolve_plain(&self.text) } else { crate::Resolved::Str }
    }

    /// True for a plain `null`, `~`, `Null`, `NULL` or an empty plain value.
    pub fn is_null(&self) -> bool {
        self.resolve() == crate::Resolved::Null
    }

    /// The boolean this plain scalar resolves to.
    ///
    /// Kubernetes reads manifests with a YAML 1.1 resolver, so `yes`/`no`/`on`/`off`
    /// count as booleans here too: a `selfHeal: yes` really is enabled.
    pub fn as_bool(&self) -> Option<bool> {
        match self.resolve() {
            crate::Resolved::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer this plain scalar resolves to (`0755` is octal, as for Kubernetes).
    pub fn as_i64(&self) -> Option<i64> {
        match self.resolve() {
            crate::Resolved::Int(i) => i64::try_from(i).ok(),
            _ => None,
        }
    }

    /// The float this plain scalar resolves to (integers included).
    pub fn as_f64(&self) -> Option<f64> {
        match self.resolve() {
            crate::Resolved::Int(i) => Some(i as f64),
            crate::Resolved::Float(f) => Some(f),
            _ => None,
        }
    }

    /// True when the scalar resolves to a string (not null, bool or number).
    pub fn is_string(&self) -> bool {
        self.resolve() == crate::Resolved::Str
    }

    /// The scalar as JSON types it, the way conftest, gator and JSON Schema
    /// validators read documents: the YAML 1.2 core schema for booleans
    /// (`yes` stays a string), YAML 1.1 numbers and nulls (as
    /// [`Scalar::resolve`]). [`Node::to_json`] is built on it; engines that
    /// take another value type convert from it, so every engine sees the
    /// same types.
    ///
    /// ```
    /// use tollgate_yaml::{CoreScalar, Scalar, ScalarStyle};
    /// let plain = |t: &str| Scalar { text: t.into(), style: ScalarStyle::Plain };
    /// assert_eq!(plain("yes").core(), CoreScalar::Str("yes"));
    /// assert_eq!(plain("True").core(), CoreScalar::Bool(true));
    /// assert_eq!(plain("0755").core(), CoreScalar::Int(493));
    /// assert_eq!(Scalar { text: "1".into(), style: ScalarStyle::DoubleQuoted }.core(), CoreScalar::Str("1"));
    /// ```
    pub fn core(&self) -> CoreScalar<'_> {
        if self.style != ScalarStyle::Plain {
            return CoreScalar::Str(&self.text);
        }
        match self.resolve() {
            crate::Resolved::Null => CoreScalar::Null,
            crate::Resolved::Bool(b)
                if matches!(&*self.text, "true" | "True" | "TRUE" | "false" | "False" | "FALSE") =>
            {
                CoreScalar::Bool(b)
            }
            crate::Resolved::Int(i) => i64::try_from(i).map_or(CoreScalar::Float(i as f64), CoreScalar::Int),
            crate::Resolved::Float(f) if f.is_finite() => CoreScalar::Float(f),
            _ => CoreScalar::Str(&self.text),
        }
    }
}

/// What a scalar is as JSON: see [`Scalar::core`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoreScalar<'a> {
    /// `null`, `~`, `Null`, `NULL` or nothing.
    Null,
    /// `true`/`false` in the core schema's spellings.
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A finite float, or an integer too large for 64 bits.
    Float(f64),
    /// Anything else, quoted and block scalars included.
    Str(&'a str),
}

/// A mapping: key/value pairs in source order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Mapping {
    /// The entries, keys first.
    pub entries: Box<[(Node, Node)]>,
}

impl Mapping {
    /// The value under a string key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under a string key.
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.entries.iter().find(|(k, _)| k.as_str() == Some(key))
    }

    /// Iterates over `(key text, value)` pairs whose key is a scalar.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().filter_map(|(k, v)| k.as_str().map(|k| (k, v)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar (string, number, boolean or null, see [`Scalar`]).
    Scalar(Scalar),
    /// A sequence.
    Sequence(Box<[Node]>),
    /// A mapping.
    Mapping(Mapping),
}

/// One node of a document with the span of text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub value: Value,
    /// Where it was written. A node copied by an alias keeps its anchor's span.
    pub span: Span,
}

impl Node {
    /// A null scalar at `span`.
    pub fn null(span: Span) -> Node {
        Node { value: Value::Scalar(Scalar { text: Box::default(), style: ScalarStyle::Plain }), span }
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar's text, whatever its type (`true`, `42` and `x` alike).
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| &*s.text)
    }

    /// The scalar's text when it resolves to a string.
    pub fn as_string(&self) -> Option<&str> {
        self.as_scalar().filter(|s| s.is_string()).map(|s| &*s.text)
    }

    /// The boolean a plain scalar resolves to.
    pub fn as_bool(&self) -> Option<bool> {
        self.as_scalar().and_then(Scalar::as_bool)
    }

    /// The integer a plain scalar resolves to.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_scalar().and_then(Scalar::as_i64)
    }

    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        self.as_scalar().is_some_and(Scalar::is_null)
    }

    /// The mapping, if this is one.
    pub fn as_mapping(&self) -> Option<&Mapping> {
        match &self.value {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence items, if this is a sequence.
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get_key(&self, key: &str) -> Option<&Node> {
        self.as_mapping().and_then(|m| m.get(key))
    }

    /// One step down: a mapping key, or a sequence index.
    pub fn child(&self, segment: &Segment) -> Option<&Node> {
        match (&self.value, segment) {
            (Value::Mapping(m), Segment::Key(k)) => m.get(k),
            (Value::Mapping(m), Segment::Index(i)) => m.get(&i.to_string()),
            (Value::Sequence(s), Segment::Index(i)) => s.get(*i),
            (Value::Sequence(s), Segment::Key(k)) => k.parse::<usize>().ok().and_then(|i| s.get(i)),
            (Value::Scalar(_), _) => None,
        }
    }

    /// The node at `route`, if it exists.
    pub fn get(&self, route: &Route) -> Option<&Node> {
        route.segments().iter().try_fold(self, |node, seg| node.child(seg))
    }

    /// The node at `route`, or its nearest existing ancestor; the second value
    /// is how many segments of the route exist.
    pub fn locate(&self, route: &Route) -> (&Node, usize) {
        let mut node = self;
        for (depth, seg) in route.segments().iter().enumerate() {
            match node.child(seg) {
                Some(next) => node = next,
                None => return (node, depth),
            }
        }
        (node, route.segments().len())
    }

    /// The span of the entry at `route`: for a mapping value it runs from its key
    /// to the end of the value (the whole `selfHeal: true`); for anything else it
    /// is the node's own span. Falls back to the nearest existing ancestor.
    pub fn entry_span(&self, route: &Route) -> Span {
        let segs = route.segments();
        let (found, depth) = self.locate(route);
        if depth == 0 || depth < segs.len() {
            return found.span;
        }
        let parent_route = Route::from_segments(segs[..depth - 1].to_vec());
        let parent = self.get(&parent_route).unwrap_or(self);
        if let (Value::Mapping(m), Segment::Key(k)) = (&parent.value, &segs[depth - 1])
            && let Some((key, value)) = m.entry(k)
        {
            // A key is written before its value: the entry runs from one to
            // the other (positions are not compared, so the documents of a
            // render, whose lines and columns name origins, work too).
            return Span { start: key.span.start, end: value.span.end };
        }
        found.span
    }

    /// The span of the key under which the node at `route` sits, when its
    /// parent is a mapping.
    pub fn key_span(&self, route: &Route) -> Option<Span> {
        let segs = route.segments();
        let (last, parent) = segs.split_last()?;
        let parent = self.get(&Route::from_segments(parent.to_vec()))?;
        match (&parent.value, last) {
            (Value::Mapping(m), Segment::Key(k)) => m.entry(k).map(|(key, _)| key.span),
            _ => None,
        }
    }

    /// Converts the node into JSON with YAML 1.2 core-schema type resolution
    /// (`yes` stays a string; [`Node::as_bool`] is the lenient reader).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar(s) => scalar_to_json(s),
            Value::Sequence(items) => serde_json::Value::Array(items.iter().map(Node::to_json).collect()),
            Value::Mapping(m) => {
                let mut obj = serde_json::Map::with_capacity(m.entries.len());
                for (k, v) in &m.entries {
                    let key = match &k.value {
                        Value::Scalar(s) => s.text.to_string(),
                        _ => k.to_json().to_string(),
                    };
                    obj.insert(key, v.to_json());
                }
                serde_json::Value::Object(obj)
            }
        }
    }

    /// Converts the node into JSON as Kubernetes reads it (`sigs.k8s.io/yaml`
    /// on go-yaml v2): YAML 1.1 resolution for values and keys (`yes` is
    /// `true`, `0755` is `493`, a key `y` is `"true"`). Non-finite floats,
    /// which Kubernetes' JSON cannot hold, become `null`.
    ///
    /// ```
    /// let docs = tollgate_yaml::parse_yaml("a: yes\nb: 0755\ny: !!bool \"true\"\n", &Default::default()).unwrap();
    /// assert_eq!(docs[0].root.to_kubernetes_json(), serde_json::json!({"a": true, "b": 493, "true": true}));
    /// ```
    pub fn to_kubernetes_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                crate::Resolved::Null => serde_json::Value::Null,
                crate::Resolved::Bool(b) => serde_json::Value::Bool(b),
                crate::Resolved::Int(i) => i64::try_from(i)
                    .map(serde_json::Value::from)
                    .or_else(|_| u64::try_from(i).map(serde_json::Value::from))
                    .unwrap_or(serde_json::Value::Null),
                crate::Resolved::Float(f) => {
                    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
                }
                crate::Resolved::Str => serde_json::Value::String(s.text.to_string()),
            },
            Value::Sequence(items) => serde_json::Value::Array(items.iter().map(Node::to_kubernetes_json).collect()),
            Value::Mapping(m) => {
                let mut obj = serde_json::Map::with_capacity(m.entries.len());
                for (k, v) in &m.entries {
                    let key = match &k.value {
                        Value::Scalar(s) => {
                            crate::resolve::kubernetes_key(&s.text, s.style == ScalarStyle::Plain).into_owned()
                        }
                        _ => k.to_kubernetes_json().to_string(),
                    };
                    obj.insert(key, v.to_kubernetes_json());
                }
                serde_json::Value::Object(obj)
            }
        }
    }

    /// Visits this node and every node below it, depth first, with its route.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&Route, &'a Node)) {
        let mut route = Route::root();
        walk_inner(self, &mut route, f);
    }
}

fn walk_inner<'a>(node: &'a Node, route: &mut Route, f: &mut dyn FnMut(&Route, &'a Node)) {
    f(route, node);
    match &node.value {
        Value::Scalar(_) => {}
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                route.push(Segment::Index(i));
                walk_inner(item, route, f);
                route.pop();
            }
        }
        Value::Mapping(m) => {
            for (k, v) in &m.entries {
                route.push(Segment::Key(k.as_str().unwrap_or("").to_owned()));
                walk_inner(v, route, f);
                route.pop();
            }
        }
    }
}

fn scalar_to_json(s: &Scalar) -> serde_json::Value {
    match s.core() {
        CoreScalar::Null => serde_json::Value::Null,
        CoreScalar::Bool(b) => serde_json::Value::Bool(b),
        CoreScalar::Int(i) => serde_json::Value::from(i),
        CoreScalar::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| serde_json::Value::String(s.text.to_string()), serde_json::Value::Number),
        CoreScalar::Str(text) => serde_json::Value::String(text.to_owned()),
    }
}

/// One document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position of the document in its file.
    pub index: usize,
    /// The document's root node (a null scalar for an empty document).
    pub root: Node,
    /// How many nodes the document holds (keys and alias copies included).
    pub nodes: usize,
}
