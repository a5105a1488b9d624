//! `replacements`: copy a value from one field of one object (or a literal
//! `sourceValue`) into fields of the objects a target selects, as
//! kustomize's replacement transformer (v5.5) does. It runs last among a
//! kustomization's transformers, before generated names get their hash.
//!
//! The semantics follow kustomize exactly, quirks included, because a
//! render that differs from `kustomize build` would judge something the
//! cluster never runs:
//! - source and target selectors match group, version, kind, name and
//!   namespace exactly (empty fields match anything), against an object's
//!   current identity and every identity it had before a transformer renamed
//!   it; an unset namespace and `default` are the same;
//! - a source must be selected exactly once; its `fieldPath` (default
//!   `metadata.name`) must hold a value;
//! - in target field paths, `[field=value]` matches list elements whose
//!   field matches `value` as an *unanchored* regular expression, `*` is
//!   every element, a number is an index; `options.create` makes what is
//!   missing;
//! - a scalar target keeps its type: only its text changes, so `"8080"`
//!   stays a string and `replicas: 1` stays a number;
//! - `options.delimiter` and `index` take one part of the source value and
//!   put it into one part of the target (a negative index prefixes, one past
//!   the end appends).
//!
//! The copied value keeps its origin: a finding on a replaced image points
//! at the line the value was written in, not at the target.

use crate::RenderError;
use crate::build::Builder;
use crate::kustomization::Kustomization;
use crate::node::{Origin, RNode, RValue};
use crate::patch::LabelSelector;
use crate::resource::{ResId, Resource};
use tollgate_yaml::ScalarStyle;

/// Where errors of a replacement are reported, and whether unknown fields
/// are errors (inline replacements are decoded strictly with the
/// kustomization, files named by `path` leniently, as kustomize does).
struct Errors<'a> {
    path: &'a str,
    strict: bool,
}

impl Errors<'_> {
    fn at(&self, origin: Origin, message: String) -> RenderError {
        RenderError::at(self.path, origin.span, message)
    }
}

/// Fields of an inline replacement (kustomize decodes the kustomization
/// strictly: anything else is an error).
const REPLACEMENT_FIELDS: [&str; 4] = ["path", "source", "sourceValue", "targets"];
const SOURCE_FIELDS: [&str; 7] = ["group", "version", "kind", "name", "namespace", "fieldPath", "options"];
const TARGET_FIELDS: [&str; 4] = ["select", "reject", "fieldPaths", "options"];
const SELECT_FIELDS: [&str; 7] =
    ["group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"];
const OPTION_FIELDS: [&str; 4] = ["delimiter", "index", "encoding", "create"];

/// Most fields one replacement may write (a wildcard path over a huge
/// render ends here).
const MAX_WRITES: usize = 100_000;

/// Runs the `replacements` of `k` on `resources`.
pub(crate) fn run(b: &mut Builder<'_>, k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let Some(list) = k.field("replacements") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`replacements` must be a list".to_owned()));
    };
    for item in items {
        let strict = item.get("path").is_none_or(RNode::is_null);
        for (replacement, path) in load(b, k, item)? {
            apply(&replacement, resources, &Errors { path: &path, strict })?;
        }
    }
    Ok(())
}

/// The replacements of one entry, with the path of the file they were
/// written in: inline, or loaded from `path` (a list or a single one).
fn load(b: &mut Builder<'_>, k: &Kustomization, item: &RNode) -> Result<Vec<(RNode, String)>, RenderError> {
    let Some(map) = item.as_map() else {
        return Err(k.error(item.origin, "a replacement must be a mapping".to_owned()));
    };
    strict(k, item, &REPLACEMENT_FIELDS, "replacement")?;
    let Some(path) = item.get("path").filter(|p| !p.is_null()) else {
        return Ok(vec![(item.clone(), k.path.clone())]);
    };
    if map.iter().any(|(key, v)| (key.text == "source" || key.text == "targets") && !v.is_null()) {
        return Err(k.error(
            item.origin,
            "a replacement has either a `path` or an inline `source` and `targets`, not both".to_owned(),
        ));
    }
    let Some(rel) = path.as_str().filter(|s| !s.is_empty()) else {
        return Err(k.error(path.origin, "`path` must name a file".to_owned()));
    };
    let (text, file) = b.read_in(k, rel, path.origin)?;
    let full = b.path_of(file);
    let docs = tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default()).map_err(|e| {
        let p = e.position();
        RenderError::at(&full, tollgate_yaml::Span { start: p, end: p }, e.message().to_owned())
    })?;
    let Some(doc) = docs.iter().find(|d| !d.root.is_null()) else {
        return Err(k.error(path.origin, format!("`{rel}` holds no replacement")));
    };
    let root = RNode::from_node(&doc.root, file);
    match &root.value {
        RValue::Seq(items) => Ok(items.iter().map(|i| (i.clone(), full.clone())).collect()),
        RValue::Map(_) => Ok(vec![(root, full)]),
        RValue::Scalar(_) => Err(RenderError::at(
            &full,
            root.origin.span,
            "a replacement file must hold a replacement or a list of them".to_owned(),
        )),
    }
}

/// Rejects fields kustomize does not know in an inline replacement.
fn strict(k: &Kustomization, node: &RNode, known: &[&str], what: &str) -> Result<(), RenderError> {
    for (key, _) in node.as_map().unwrap_or_default() {
        if !known.contains(&key.text.as_str()) {
            return Err(k.error(
                key.origin,
                format!("unknown field `{}` in a {what} (expected one of {})", key.text, known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Applies one replacement.
fn apply(r: &RNode, resources: &mut [Resource], err: &Errors<'_>) -> Result<(), RenderError> {
    if r.as_map().is_none() {
        return Err(err.at(r.origin, "a replacement must be a mapping".to_owned()));
    }
    let source = r.get("source").filter(|n| !n.is_null());
    let source_value = r.get("sourceValue").filter(|n| !n.is_null());
    let targets = r.get("targets").filter(|n| !n.is_null());
    let (Some(targets), true) = (targets, source.is_some() || source_value.is_some()) else {
        return Err(
            err.at(r.origin, "a replacement needs a `source` (or `sourceValue`) and at least one target".to_owned())
        );
    };
    let value = match (source, source_value) {
        (Some(_), Some(v)) => {
            return Err(err.at(v.origin, "`source` and `sourceValue` are mutually exclusive".to_owned()));
        }
        (None, Some(v)) => match v.as_str() {
            Some(text) => RNode::plain(text, v.origin),
            None => return Err(err.at(v.origin, "`sourceValue` must be a string".to_owned())),
        },
        (Some(s), None) => source_node(s, resources, err)?,
        (None, None) => unreachable!("checked above"),
    };
    let Some(targets) = targets.as_seq() else {
        return Err(err.at(targets.origin, "`targets` must be a list".to_owned()));
    };
    for target in targets {
        apply_target(target, &value, resources, err)?;
    }
    Ok(())
}

/// A selector of objects: exact group, version, kind, name and namespace
/// (empty matches anything), and label and annotation selectors.
struct Select {
    id: ResId,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl Select {
    fn of(node: &RNode, err: &Errors<'_>, what: &str) -> Result<Select, RenderError> {
        if node.as_map().is_none() {
            return Err(err.at(node.origin, format!("`{what}` must be a mapping")));
        }
        let text = |key: &str| -> Result<String, RenderError> {
            match node.get(key).filter(|n| !n.is_null()) {
                None => Ok(String::new()),
                Some(n) => n
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err.at(n.origin, format!("`{what}.{key}` must be a string"))),
            }
        };
        let selector = |key: &str| -> Result<Option<LabelSelector>, RenderError> {
            let Some(n) = node.get(key).filter(|n| !n.is_null()) else { return Ok(None) };
            LabelSelector::parse(n.as_str().unwrap_or_default())
                .map(Some)
                .map_err(|m| err.at(n.origin, format!("`{what}.{key}`: {m}")))
        };
        Ok(Select {
            id: ResId {
                group: text("group")?,
                version: text("version")?,
                kind: text("kind")?,
                namespace: text("namespace")?,
                name: text("name")?,
            },
            labels: selector("labelSelector")?,
            annotations: selector("annotationSelector")?,
        })
    }

    /// Whether the id part is empty (kustomize then ignores it in rejects).
    fn id_is_empty(&self) -> bool {
        self.id == ResId::default()
    }

    /// kustomize's `ResId.IsSelectedBy`.
    fn selects_id(&self, id: &ResId) -> bool {
        let s = &self.id;
        (s.name.is_empty() || s.name == id.name)
            && (s.namespace.is_empty() || s.effective_namespace() == id.effective_namespace())
            && (s.group.is_empty() || s.group == id.group)
            && (s.version.is_empty() || s.version == id.version)
            && (s.kind.is_empty() || s.kind == id.kind)
    }

    fn selects_any_id(&self, r: &Resource) -> bool {
        ids(r).iter().any(|id| self.selects_id(id))
    }

    fn selects_metadata(&self, r: &Resource) -> bool {
        self.labels.as_ref().is_none_or(|s| s.matches(r.node.at("metadata/labels")))
            && self.annotations.as_ref().is_none_or(|s| s.matches(r.node.at("metadata/annotations")))
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("group", &self.id.group),
            ("version", &self.id.version),
            ("kind", &self.id.kind),
            ("name", &self.id.name),
            ("namespace", &self.id.namespace),
        ] {
            if !value.is_empty() {
                parts.push(format!("{key} {value}"));
            }
        }
        if parts.is_empty() { "any object".to_owned() } else { parts.join(", ") }
    }
}

/// An object's current identity and every one it had before.
fn ids(r: &Resource) -> Vec<ResId> {
    std::iter::once(r.id()).chain(r.previous_ids()).collect()
}

/// `options`: delimiter, index, create.
#[derive(Default)]
struct Options {
    delimiter: String,
    index: i64,
    create: bool,
}

impl Options {
    fn of(node: Option<&RNode>, err: &Errors<'_>) -> Result<Options, RenderError> {
        let Some(node) = node.filter(|n| !n.is_null()) else { return Ok(Options::default()) };
        let Some(map) = node.as_map() else {
            return Err(err.at(node.origin, "`options` must be a mapping".to_owned()));
        };
        let mut o = Options::default();
        for (key, value) in map {
            match key.text.as_str() {
                "delimiter" => value.as_str().unwrap_or_default().clone_into(&mut o.delimiter),
                "index" => {
                    o.index = value
                        .as_str()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| err.at(value.origin, "`options.index` must be an integer".to_owned()))?;
                }
                "create" => {
                    o.create = match value.as_str() {
                        Some("true") => true,
                        Some("false") => false,
                        _ => return Err(err.at(value.origin, "`options.create` must be true or false".to_owned())),
                    };
                }
                "encoding" => {}
                other => {
                    return Err(err.at(
                        key.origin,
                        format!("unknown field `{other}` in `options` (expected one of {})", OPTION_FIELDS.join(", ")),
                    ));
                }
            }
        }
        Ok(o)
    }
}

/// Rejects unknown fields of a part of a replacement.
fn known(node: &RNode, fields: &[&str], what: &str, err: &Errors<'_>) -> Result<(), RenderError> {
    if !err.strict {
        return Ok(());
    }
    for (key, _) in node.as_map().unwrap_or_default() {
        if !fields.contains(&key.text.as_str()) {
            return Err(err.at(
                key.origin,
                format!("unknown field `{}` in `{what}` (expected one of {})", key.text, fields.join(", ")),
            ));
        }
    }
    Ok(())
}

/// The value a `source` names.
fn source_node(s: &RNode, resources: &[Resource], err: &Errors<'_>) -> Result<RNode, RenderError> {
    known(s, &SOURCE_FIELDS, "source", err)?;
    let select = Select::of(s, err, "source")?;
    let mut found = resources.iter().filter(|r| select.selects_any_id(r));
    let Some(object) = found.next() else {
        return Err(err.at(s.origin, format!("the replacement source selects nothing ({})", select.describe())));
    };
    if found.next().is_some() {
        return Err(err.at(
            s.origin,
            format!("the replacement source selects more than one object ({}); name one", select.describe()),
        ));
    }
    let field_path = match s.get("fieldPath").filter(|n| !n.is_null()) {
        Some(f) => f.as_str().unwrap_or_default().to_owned(),
        None => "metadata.name".to_owned(),
    };
    let field_path = if field_path.is_empty() { "metadata.name".to_owned() } else { field_path };
    let path = split_path(&field_path);
    let value = lookup(&object.node, &path).map_err(|e| err.at(s.origin, e.to_string()))?;
    let Some(value) = value.filter(|v| !is_nil_or_empty(v)) else {
        return Err(err.at(
            s.get("fieldPath").map_or(s.origin, |f| f.origin),
            format!("`{field_path}` is missing in the replacement source {}", object.id().display()),
        ));
    };
    let options = Options::of(s.get("options"), err)?;
    if options.delimiter.is_empty() {
        return Ok(value.clone());
    }
    let RValue::Scalar(scalar) = &value.value else {
        return Err(err.at(s.origin, "`options.delimiter` can only be used with a scalar value".to_owned()));
    };
    let parts: Vec<&str> = scalar.text.split(options.delimiter.as_str()).collect();
    let Some(part) = usize::try_from(options.index).ok().and_then(|i| parts.get(i)) else {
        return Err(err.at(
            s.origin,
            format!("`options.index` {} is out of bounds for the value `{}`", options.index, scalar.text),
        ));
    };
    let mut refined = value.clone();
    if let RValue::Scalar(s) = &mut refined.value {
        s.text = (*part).into();
    }
    Ok(refined)
}

/// kustomize's `IsNilOrEmpty`: null, an empty mapping or an empty list.
fn is_nil_or_empty(node: &RNode) -> bool {
    match &node.value {
        RValue::Scalar(s) => s.style == ScalarStyle::Plain && s.is_null(),
        RValue::Seq(items) => items.is_empty(),
        RValue::Map(entries) => entries.is_empty(),
    }
}

/// Splits a field path at dots, keeping `[a.b=c]` together and taking
/// `[a.b]` as the key `a.b`; `\.` escapes a dot (kustomize's
/// `SmarterPathSplitter`).
fn split_path(path: &str) -> Vec<String> {
    let mut raw: Vec<String> = path.split('.').map(str::to_owned).collect();
    if raw.len() > 1 && raw[0].is_empty() {
        raw.remove(0);
    }
    let mut escaped: Vec<String> = Vec::new();
    for part in raw {
        match escaped.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(&part);
            }
            _ => escaped.push(part),
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < escaped.len() {
        let part = &escaped[i];
        if part.starts_with('[') && !part.ends_with(']') {
            let mut joined = vec![part.clone()];
            while i < escaped.len() - 1 {
                i += 1;
                joined.push(escaped[i].clone());
                if escaped[i].ends_with(']') {
                    break;
                }
            }
            let joined = joined.join(".");
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_owned());
            }
        } else {
            out.push(part.clone());
        }
        i += 1;
    }
    out
}

fn is_list_index(part: &str) -> bool {
    part.starts_with('[') && part.ends_with(']')
}

fn index_number(part: &str) -> Option<usize> {
    part.parse::<i64>().ok().and_then(|i| usize::try_from(i).ok())
}

/// Why a replacement's field path cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PathError {
    #[error("the list element `{0}` must read `[field=value]`")]
    ListElementForm(String),
    #[error("a wildcard `*` cannot select a replacement source")]
    WildcardSource,
    #[error("the index {0} cannot be negative")]
    NegativeIndex(i64),
    #[error("`{0}` indexes a list, but the field is not a list")]
    IndexesNonList(String),
    #[error("index {index} is given but the list has {len} elements")]
    IndexBeyond { index: usize, len: usize },
    #[error("`{part}`: not a valid regular expression: {message}")]
    Regex { part: String, message: String },
    #[error("`{0}` selects list elements, but the field is not a list")]
    SelectsNonList(String),
    #[error("`*` walks every list element, but the field is not a list")]
    WildcardNonList,
    #[error("cannot create `{0}`: the field above it is not a mapping")]
    CannotCreate(String),
    #[error("`options.delimiter` can only be used with a scalar target")]
    DelimiterOnNonScalar,
}

fn split_index(part: &str) -> Result<(String, String), PathError> {
    let inner = part.strip_prefix('[').unwrap_or(part);
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    inner
        .split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| PathError::ListElementForm(part.to_owned()))
}

/// A source lookup (kustomize's `PathGetter`): exact `[field=value]`
/// matches, the first one wins; no wildcards.
fn lookup<'a>(node: &'a RNode, path: &[String]) -> Result<Option<&'a RNode>, PathError> {
    let mut at = node;
    for part in path.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let next = if part == "*" {
            return Err(PathError::WildcardSource);
        } else if let Ok(i) = part.parse::<i64>() {
            if i < 0 {
                return Err(PathError::NegativeIndex(i));
            }
            at.as_seq().and_then(|items| usize::try_from(i).ok().and_then(|i| items.get(i)))
        } else if part == "-" {
            at.as_seq().and_then(<[RNode]>::last)
        } else if is_list_index(part) {
            let (field, value) = split_index(part)?;
            let Some(items) = at.as_seq() else { return Ok(None) };
            if field.is_empty() {
                items.iter().find(|i| i.as_str() == Some(value.as_str()))
            } else {
                items.iter().find(|i| i.get(&field).and_then(RNode::as_str) == Some(value.as_str()))
            }
        } else {
            at.get(part)
        };
        match next {
            Some(n) => at = n,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// The kind of node `create` makes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Map,
    Seq,
}

fn kind_of(node: &RNode) -> Kind {
    match node.value {
        RValue::Scalar(_) => Kind::Scalar,
        RValue::Map(_) => Kind::Map,
        RValue::Seq(_) => Kind::Seq,
    }
}

/// The node made for a missing path part, given the part after it.
fn made(next: Option<&str>, leaf: Kind, origin: Origin) -> RNode {
    let kind = match next {
        Some(p) if is_list_index(p) || index_number(p).is_some() => Kind::Seq,
        Some(_) => Kind::Map,
        None => leaf,
    };
    match kind {
        // An empty plain scalar: the value written into it reads as YAML.
        Kind::Scalar => RNode::plain("", origin),
        Kind::Map => RNode::map(origin),
        Kind::Seq => RNode { value: RValue::Seq(Vec::new()), origin },
    }
}

/// The element a `[field=value]` part matches against, as kustomize reads
/// it: the node written as YAML (quotes included).
fn match_text(node: &RNode) -> String {
    match &node.value {
        RValue::Scalar(s) => match s.style {
            ScalarStyle::DoubleQuoted => format!("\"{}\"", s.text),
            ScalarStyle::SingleQuoted => format!("'{}'", s.text),
            _ => s.text.trim().to_owned(),
        },
        _ => node.to_json().to_string(),
    }
}

/// Walks a target path (kustomize's `PathMatcher`), calling `f` on every
/// node it reaches; returns how many.
fn walk(
    node: &mut RNode,
    path: &[String],
    create: Option<Kind>,
    origin: Origin,
    f: &mut dyn FnMut(&mut RNode) -> Result<(), PathError>,
) -> Result<usize, PathError> {
    let Some((part, rest)) = path.split_first() else {
        f(node)?;
        return Ok(1);
    };
    let next = rest.first().map(String::as_str);
    if let Some(index) = index_number(part) {
        let Some(items) = node.as_seq_mut() else {
            return Err(PathError::IndexesNonList(part.clone()));
        };
        if let Some(kind) = create
            && items.len() == index
        {
            items.push(made(next, kind, origin));
        }
        let len = items.len();
        let Some(item) = items.get_mut(index) else {
            return Err(PathError::IndexBeyond { index, len });
        };
        return walk(item, rest, create, origin, f);
    }
    if is_list_index(part) {
        let (field, pattern) = split_index(part)?;
        let re =
            regex::Regex::new(&pattern).map_err(|e| PathError::Regex { part: part.clone(), message: e.to_string() })?;
        if node.is_null() && create.is_some() {
            node.value = RValue::Seq(Vec::new());
        }
        let Some(items) = node.as_seq_mut() else {
            return Err(PathError::SelectsNonList(part.clone()));
        };
        let mut count = 0;
        for item in items.iter_mut() {
            if field.is_empty() {
                // A scalar element matches itself; the rest of the path is
                // not walked (kustomize's behaviour).
                if re.is_match(&match_text(item)) {
                    f(item)?;
                    count += 1;
                }
            } else if let Some(v) = item.get(&field)
                && !v.is_null()
                && re.is_match(&match_text(v))
            {
                count += walk(item, rest, create, origin, f)?;
            }
        }
        if count > 0 || create.is_none() {
            return Ok(count);
        }
        let mut element = if field.is_empty() {
            RNode::plain(pattern.clone(), origin)
        } else {
            let mut m = RNode::map(origin);
            m.set(&field, RNode::plain(pattern.clone(), origin));
            m
        };
        let count = if field.is_empty() {
            f(&mut element)?;
            1
        } else {
            walk(&mut element, rest, create, origin, f)?
        };
        items.push(element);
        return Ok(count);
    }
    if part == "*" {
        let Some(items) = node.as_seq_mut() else {
            return Err(PathError::WildcardNonList);
        };
        let mut count = 0;
        for item in items.iter_mut() {
            count += walk(item, rest, create, origin, f)?;
        }
        return Ok(count);
    }
    if node.get(part).is_none() {
        let Some(kind) = create else { return Ok(0) };
        if node.is_null() {
            node.value = RValue::Map(Vec::new());
        }
        if node.as_map().is_none() {
            return Err(PathError::CannotCreate(part.clone()));
        }
        node.set(part, made(next, kind, origin));
    }
    match node.get_mut(part) {
        Some(child) => walk(child, rest, create, origin, f),
        None => Ok(0),
    }
}

/// Whether go-yaml v3 reads a plain scalar as a string.
fn plain_reads_as_string(text: &str) -> bool {
    !matches!(text, "" | "~" | "null" | "Null" | "NULL") && !crate::emit::core_resolves_to_non_string(text)
}

/// Writes `value` into a target node (kustomize's `setFieldValue`).
fn set_value(target: &mut RNode, value: &RNode, options: &Options) -> Result<(), PathError> {
    let mut value = value.clone();
    if !options.delimiter.is_empty() {
        let RValue::Scalar(t) = &target.value else {
            return Err(PathError::DelimiterOnNonScalar);
        };
        let mut parts: Vec<String> = t.text.split(options.delimiter.as_str()).map(str::to_owned).collect();
        let v = value.as_str().unwrap_or_default().to_owned();
        match usize::try_from(options.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        let joined = parts.join(&options.delimiter);
        match &mut value.value {
            RValue::Scalar(s) => s.text = joined.into(),
            other => *other = RValue::Scalar(tollgate_yaml::Scalar { text: joined.into(), style: ScalarStyle::Plain }),
        }
    }
    if let RValue::Scalar(t) = &mut target.value {
        // Only the text changes: the target keeps its type.
        let was_string = t.style != ScalarStyle::Plain || plain_reads_as_string(&t.text);
        let text: Box<str> = match &value.value {
            RValue::Scalar(s) => s.text.clone(),
            _ => "".into(),
        };
        if t.style == ScalarStyle::Plain && was_string && !plain_reads_as_string(&text) {
            t.style = ScalarStyle::DoubleQuoted;
        }
        t.text = text;
        target.origin = value.origin;
    } else {
        *target = value;
    }
    Ok(())
}

/// Applies one target of a replacement.
fn apply_target(
    target: &RNode,
    value: &RNode,
    resources: &mut [Resource],
    err: &Errors<'_>,
) -> Result<(), RenderError> {
    if target.as_map().is_none() {
        return Err(err.at(target.origin, "a replacement target must be a mapping".to_owned()));
    }
    known(target, &TARGET_FIELDS, "targets", err)?;
    let Some(select) = target.get("select").filter(|n| !n.is_null()) else {
        return Err(err.at(target.origin, "a replacement target must `select` the objects it writes to".to_owned()));
    };
    known(select, &SELECT_FIELDS, "select", err)?;
    let select = Select::of(select, err, "select")?;
    let mut rejects = Vec::new();
    if let Some(list) = target.get("reject").filter(|n| !n.is_null()) {
        let Some(items) = list.as_seq() else {
            return Err(err.at(list.origin, "`reject` must be a list".to_owned()));
        };
        for item in items {
            known(item, &SELECT_FIELDS, "reject", err)?;
            rejects.push(Select::of(item, err, "reject")?);
        }
    }
    let mut field_paths = Vec::new();
    match target.get("fieldPaths").filter(|n| !n.is_null()) {
        None => field_paths.push(("metadata.name".to_owned(), target.origin)),
        Some(list) => {
            let Some(items) = list.as_seq() else {
                return Err(err.at(list.origin, "`fieldPaths` must be a list of strings".to_owned()));
            };
            for item in items {
                let Some(text) = item.as_str() else {
                    return Err(err.at(item.origin, "`fieldPaths` must be a list of strings".to_owned()));
                };
                field_paths.push((text.to_owned(), item.origin));
            }
            if field_paths.is_empty() {
                field_paths.push(("metadata.name".to_owned(), list.origin));
            }
        }
    }
    let options = Options::of(target.get("options"), err)?;
    let create = options.create.then(|| kind_of(value));
    let mut writes = 0;
    for r in resources.iter_mut() {
        if !select.selects_metadata(r) {
            continue;
        }
        let has_metadata_selector = |s: &Select| s.labels.is_some() || s.annotations.is_some();
        if rejects.iter().any(|x| has_metadata_selector(x) && x.selects_metadata(r)) {
            continue;
        }
        let r_ids = ids(r);
        if rejects.iter().any(|x| !x.id_is_empty() && r_ids.iter().any(|id| x.selects_id(id))) {
            continue;
        }
        if !r_ids.iter().any(|id| select.selects_id(id)) {
            continue;
        }
        for (field_path, origin) in &field_paths {
            let path = split_path(field_path);
            let count = walk(&mut r.node, &path, create, value.origin, &mut |n| set_value(n, value, &options))
                .map_err(|m| err.at(*origin, format!("`{field_path}` in {}: {m}", r.id().display())))?;
            if count == 0 {
                let how = if options.create { "find or create" } else { "find" };
                return Err(err.at(
                    *origin,
                    format!(
                        "cannot {how} `{field_path}` in the replacement target {}{}",
                        r.id().display(),
                        if options.create { "" } else { " (set `options.create: true` to add it)" }
                    ),
                ));
            }
            writes += count;
            if writes > MAX_WRITES {
                return Err(err.at(
                    *origin,
                    format!("the replacement writes more than {MAX_WRITES} fields; tollgate stops here"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{MemorySource, render};

    const OBJECTS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  port: \"9090\"\n  image: nginx:1.27\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: web\n        image: x\n        ports:\n        - containerPort: 80\n";

    fn build(kustomization: &str) -> Result<String, crate::RenderError> {
        let files = MemorySource::new([
            ("k/kustomization.yaml".to_owned(), kustomization.to_owned()),
            ("k/objects.yaml".to_owned(), OBJECTS.to_owned()),
        ]);
        render(&files, "k").map(|r| r.to_yaml())
    }

    #[test]
    fn path_errors_are_typed() {
        use super::{PathError, lookup, split_index};
        let node = crate::node::RNode::map(crate::node::Origin::default());
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(lookup(&node, &path(&["*"])).err(), Some(PathError::WildcardSource));
        assert_eq!(lookup(&node, &path(&["-2"])).err(), Some(PathError::NegativeIndex(-2)));
        assert_eq!(split_index("[name]"), Err(PathError::ListElementForm("[name]".to_owned())));
        assert_eq!(
            PathError::IndexBeyond { index: 3, len: 1 }.to_string(),
            "index 3 is given but the list has 1 elements"
        );
    }

    #[test]
    fn a_source_must_select_exactly_one_object() {
        let e = build("resources: [objects.yaml]\nreplacements:\n- source:\n    kind: ConfigMap\n  targets:\n  - select: {kind: Deployment}\n").expect_err("the build fails");
        assert_eq!((e.path.as_str(), e.line), ("k/kustomization.yaml", 4));
        assert!(e.message.contains("more than one object (kind ConfigMap)"), "{e}");
        let e = build("resources: [objects.yaml]\nreplacements:\n- source:\n    kind: Secret\n  targets:\n  - select: {kind: Deployment}\n").expect_err("the build fails");
        assert!(e.message.contains("selects nothing (kind Secret)"), "{e}");
    }

    #[test]
    fn a_missing_target_field_is_named_and_create_adds_it() {
        let k = "resources: [objects.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: a, fieldPath: data.port}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.template.spec.containers.0.ports.0.hostPort]\n";
        let e = build(k).expect_err("the build fails");
        assert_eq!(e.line, 6);
        assert!(e.message.contains("cannot find `spec.template.spec.containers.0.ports.0.hostPort`"), "{e}");
        assert!(e.message.contains("options.create"), "{e}");
        let out = build(&format!("{k}    options: {{create: true}}\n")).expect("present");
        // The string "9090" written into a created field reads as YAML: a number.
        assert!(out.contains("        - containerPort: 80\n          hostPort: 9090\n"), "{out}");
    }

    #[test]
    fn scalar_targets_keep_their_type_and_list_matches_are_unanchored() {
        let k = "resources: [objects.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: a, fieldPath: data.port}\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: [spec.replicas, 'spec.template.spec.containers.[name=we].image']\n";
        let out = build(k).expect("present");
        assert!(out.contains("  replicas: 9090\n"), "{out}");
        assert!(out.contains("image: \"9090\"\n"), "{out}");
    }

    #[test]
    fn a_source_value_and_the_origin_of_the_copied_value() {
        let k = "resources: [objects.yaml]\nreplacements:\n- sourceValue: registry.example.com/web:2.0\n  targets:\n  - select: {kind: Deployment}\n    fieldPaths: ['spec.template.spec.containers.*.image']\n";
        let files = MemorySource::new([
            ("k/kustomization.yaml".to_owned(), k.to_owned()),
            ("k/objects.yaml".to_owned(), OBJECTS.to_owned()),
        ]);
        let r = render(&files, "k").expect("present");
        let web = r.resources.iter().find(|x| x.kind() == "Deployment").expect("present");
        let image = web.node.at("spec/template/spec/containers").and_then(|c| c.as_seq()).expect("present")[0]
            .get("image")
            .expect("present");
        assert_eq!(image.as_str(), Some("registry.example.com/web:2.0"));
        assert_eq!((r.path(image.origin.file), image.origin.span.start.line), ("k/kustomization.yaml", 3));
    }

    #[test]
    fn unknown_fields_and_both_path_and_source_are_errors() {
        let e = build("resources: [objects.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: a, feldPath: data.port}\n  targets:\n  - select: {kind: Deployment}\n").expect_err("the build fails");
        assert!(e.message.contains("unknown field `feldPath`"), "{e}");
        let e = build("resources: [objects.yaml]\nreplacements:\n- path: r.yaml\n  source: {kind: ConfigMap}\n")
            .expect_err("the build fails");
        assert!(e.message.contains("either a `path` or"), "{e}");
    }

    #[test]
    fn field_paths_split_like_kustomize() {
        assert_eq!(
            super::split_path("spec.containers.[name=com.foo.app].image"),
            ["spec", "containers", "[name=com.foo.app]", "image"]
        );
        assert_eq!(super::split_path("metadata.annotations.[a.b/c]"), ["metadata", "annotations", "a.b/c"]);
        assert_eq!(super::split_path(r"data.a\.b"), ["data", "a.b"]);
    }
}
