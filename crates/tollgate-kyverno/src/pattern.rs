//! Kyverno's overlay pattern language: a pattern is a YAML tree the resource
//! must match, whose keys may carry anchors (`(k)` conditional, `=(k)`
//! equality, `^(k)` existence, `<(k)` global, `X(k)` negation) and whose
//! leaves are value patterns (`*`, `?`, `!x`, `>=1`, `1-5`, `a | b`, `100Mi`,
//! `30s`, `null`). The evaluation order and error classes follow Kyverno's
//! engine (`pkg/engine/validate`) so that pass, fail, skip and error agree.
//! A pattern is compiled ([`Pattern`]) before it is walked: its keys'
//! anchors are parsed and each map and list knows whether anchors sit inside
//! it, once per rule for patterns without variables.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::value::{go_sprint, parse_duration, parse_quantity};

static NULL: Value = Value::Null;

/// Kyverno's wildcard match (`*` any run, `?` exactly one character; no
/// escapes), as `IGLOU-EU/go-wildcard` which Kyverno uses: the core matcher
/// with its escape character made literal.
pub(crate) fn wildcard(pattern: &str, name: &str) -> bool {
    if pattern.contains('\\') {
        return tollgate_core::wildcard_match(&pattern.replace('\\', "\\\\"), name);
    }
    tollgate_core::wildcard_match(pattern, name)
}

/// Whether a string holds a wildcard.
pub(crate) fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// An anchor on a pattern key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnchorKind {
    /// `(key)`: if the key matches, the siblings must too.
    Condition,
    /// `<(key)`: if the key does not match, the whole pattern is skipped.
    Global,
    /// `X(key)`: the key must be absent.
    Negation,
    /// `+(key)`: mutate only.
    AddIfNotPresent,
    /// `=(key)`: if the key is present, it must match.
    Equality,
    /// `^(key)`: at least one list element must match.
    Existence,
}

/// Splits an anchored key: `=(name)` is `(Equality, "name")`.
pub(crate) fn parse_anchor(key: &str) -> Option<(AnchorKind, &str)> {
    let k = key.trim();
    let (kind, rest) = match k.as_bytes().first()? {
        b'(' => (AnchorKind::Condition, k),
        b'<' => (AnchorKind::Global, &k[1..]),
        b'X' => (AnchorKind::Negation, &k[1..]),
        b'+' => (AnchorKind::AddIfNotPresent, &k[1..]),
        b'=' => (AnchorKind::Equality, &k[1..]),
        b'^' => (AnchorKind::Existence, &k[1..]),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() { None } else { Some((kind, inner)) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Conditional,
    Global,
    Negation,
    Other,
}

/// An error inside the walk, classified the way Kyverno classifies it.
#[derive(Debug, Clone)]
struct PErr {
    class: Class,
    message: String,
    /// A `PatternError` (combined skip errors of a nested level) rather
    /// than an anchor error itself.
    wrapped: bool,
}

const COND_MSG: &str = "conditional anchor mismatch";
const GLOBAL_MSG: &str = "global anchor mismatch";
const NEG_MSG: &str = "negation anchor matched in resource";

impl PErr {
    fn other(message: String) -> PErr {
        PErr { class: Class::Other, message, wrapped: false }
    }
    fn anchor(class: Class, msg: &str) -> PErr {
        let prefix = match class {
            Class::Conditional => COND_MSG,
            Class::Global => GLOBAL_MSG,
            _ => NEG_MSG,
        };
        PErr { class, message: format!("{prefix}: {msg}"), wrapped: false }
    }
    // `Other` errors are classified by their text, as Kyverno's
    // `IsConditionalAnchorError` and friends do (`strings.Contains` on the
    // error): an error that wraps a nested anchor's message takes its class.
    // The class of an error made here is typed; only wrapped text is read.
    fn is_skip(&self) -> bool {
        match self.class {
            Class::Conditional | Class::Global => true,
            Class::Negation => false,
            Class::Other => self.message.contains(COND_MSG) || self.message.contains(GLOBAL_MSG),
        }
    }
    fn is_fail(&self) -> bool {
        match self.class {
            Class::Negation => true,
            Class::Other => self.message.contains(NEG_MSG),
            _ => false,
        }
    }
}

/// What a pattern said about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The resource matches.
    Pass,
    /// A conditional or global anchor did not hold: the rule does not apply.
    Skip(String),
    /// The resource does not match at `path` (`/spec/containers/0/image/`).
    Fail {
        /// Kyverno's path of the rejected node, anchors kept.
        path: String,
        /// Why.
        message: String,
    },
    /// The pattern could not be applied (an anchor key missing everywhere).
    Error(String),
}

type Walk = Result<(), (String, PErr)>;

/// A pattern compiled once: every key's anchor parsed, and every map and
/// list knowing whether anchors sit anywhere inside it (Kyverno orders a
/// map's keys by that). A rule's patterns without variables are compiled
/// when the policy loads, so the walk over every object parses no key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// A map, its entries in key order (as the JSON object has them).
    Map {
        entries: Vec<Entry>,
        /// An anchor (other than `+()`) on a key here or below.
        anchored: bool,
    },
    /// A list.
    Array {
        items: Vec<Pattern>,
        /// An anchor (other than `+()`) on a key below.
        anchored: bool,
    },
    /// A value pattern (`*`, `>=1`, `a | b`, a number, `null`).
    Scalar(Value),
}

/// One key of a map pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key as written (`=(hostNetwork)`).
    key: String,
    /// Its anchor and the key inside it; `None` for a plain key.
    anchor: Option<(AnchorKind, String)>,
    value: Pattern,
}

impl Entry {
    fn new(key: String, value: Pattern) -> Entry {
        let anchor = parse_anchor(&key).map(|(kind, name)| (kind, name.to_owned()));
        Entry { key, anchor, value }
    }

    /// The key without its anchor.
    fn name(&self) -> &str {
        self.anchor.as_ref().map_or(&self.key, |(_, name)| name)
    }

    fn kind(&self) -> Option<AnchorKind> {
        self.anchor.as_ref().map(|(kind, _)| *kind)
    }
}

impl Pattern {
    /// Compiles a pattern written as JSON.
    pub(crate) fn new(pattern: &Value) -> Pattern {
        Pattern::from_value(pattern.clone())
    }

    /// Compiles a pattern, taking its strings rather than copying them (a
    /// pattern just made by substituting variables).
    pub(crate) fn from_value(pattern: Value) -> Pattern {
        match pattern {
            Value::Object(m) => {
                Pattern::map(m.into_iter().map(|(k, v)| Entry::new(k, Pattern::from_value(v))).collect())
            }
            Value::Array(a) => {
                let items: Vec<Pattern> = a.into_iter().map(Pattern::from_value).collect();
                let anchored = items.iter().any(Pattern::anchored);
                Pattern::Array { items, anchored }
            }
            scalar => Pattern::Scalar(scalar),
        }
    }

    fn map(entries: Vec<Entry>) -> Pattern {
        let anchored = entries
            .iter()
            .any(|e| e.kind().is_some_and(|kind| kind != AnchorKind::AddIfNotPresent) || e.value.anchored());
        Pattern::Map { entries, anchored }
    }

    /// Kyverno's `hasNestedAnchors`: an anchor other than `+()` anywhere.
    fn anchored(&self) -> bool {
        match self {
            Pattern::Map { anchored, .. } | Pattern::Array { anchored, .. } => *anchored,
            Pattern::Scalar(_) => false,
        }
    }

    /// The Go type Kyverno names in its messages.
    fn type_name(&self) -> &'static str {
        match self {
            Pattern::Map { .. } => "map[string]interface {}",
            Pattern::Array { .. } => "[]interface {}",
            Pattern::Scalar(v) => type_name(v),
        }
    }
}

/// Matches `resource` against `pattern` (Kyverno's `MatchPattern`).
pub fn match_pattern(resource: &Value, pattern: &Value) -> Verdict {
    match_compiled(resource, &Pattern::new(pattern))
}

/// [`match_pattern`] with a compiled pattern.
pub(crate) fn match_compiled(resource: &Value, pattern: &Pattern) -> Verdict {
    let mut ac = AnchorMap::default();
    match element(resource, pattern, "/", &mut ac) {
        Ok(()) => Verdict::Pass,
        Err((path, e)) => {
            if e.is_skip() {
                Verdict::Skip(e.message)
            } else if e.is_fail() {
                Verdict::Fail { path, message: e.message }
            } else if ac.keys_are_missing() {
                Verdict::Error(e.message)
            } else {
                Verdict::Fail { path, message: e.message }
            }
        }
    }
}

/// The condition, existence and negation anchor keys met in the walk, and
/// whether the resource had each somewhere.
#[derive(Default)]
struct AnchorMap {
    seen: HashMap<String, (AnchorKind, bool)>,
}

impl AnchorMap {
    fn keys_are_missing(&self) -> bool {
        self.seen.values().any(|(kind, present)| !*present && *kind != AnchorKind::Negation)
    }
    fn check(&mut self, pattern: &[Entry], resource: &Map<String, Value>) {
        for e in pattern {
            if let Some((kind, name)) = &e.anchor
                && matches!(kind, AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation)
            {
                let entry = self.seen.entry(e.key.clone()).or_insert((*kind, false));
                if !entry.1 && resource.contains_key(name.as_str()) {
                    entry.1 = true;
                }
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn element(resource: &Value, pattern: &Pattern, path: &str, ac: &mut AnchorMap) -> Walk {
    match pattern {
        Pattern::Map { entries, .. } => {
            let Value::Object(rm) = resource else {
                return Err((
                    path.to_string(),
                    PErr::other(format!(
                        "pattern and resource have different structures. Path: {path}. Expected {}, found {}",
                        pattern.type_name(),
                        type_name(resource)
                    )),
                ));
            };
            ac.check(entries, rm);
            validate_map(rm, entries, path, ac)
        }
        Pattern::Array { items, .. } => {
            let Value::Array(ra) = resource else {
                return Err((
                    path.to_string(),
                    PErr::other(format!(
                        "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                    )),
                ));
            };
            validate_array(ra, items, path, ac)
        }
        Pattern::Scalar(scalar) => match resource {
            Value::Array(items) => scalars_match(items, scalar, path),
            _ if value_matches(resource, scalar) => Ok(()),
            _ => Err((
                path.to_string(),
                PErr::other(format!(
                    "resource value '{}' does not match '{}' at path {path}",
                    go_sprint(resource),
                    go_sprint(scalar)
                )),
            )),
        },
    }
}

/// Expands wildcard keys under `metadata.labels`/`annotations` of a pattern
/// to the resource's matching keys (Kyverno's `ExpandInMetadata`). Only
/// string values are kept there, as Kyverno keeps them.
fn expand_metadata(pattern: &[Entry], resource: &Map<String, Value>) -> Option<Vec<Entry>> {
    // The first key named `metadata` (anchored or not), if it is a map.
    let meta_at = pattern.iter().position(|e| e.name() == "metadata")?;
    let Pattern::Map { entries: pmeta, .. } = &pattern[meta_at].value else { return None };
    let Some(Value::Object(rmeta)) = resource.get("metadata") else { return None };
    let mut new_meta = pmeta.clone();
    let mut changed = false;
    for tag in ["labels", "annotations"] {
        let Some(tag_at) = new_meta.iter().position(|e| e.name() == tag) else { continue };
        let Pattern::Map { entries: pdata, .. } = &new_meta[tag_at].value else { continue };
        let Some((_, Value::Object(rdata))) = rmeta.iter().find(|(k, _)| anchor_key(k) == tag) else { continue };
        if !pdata.iter().any(|e| has_wildcard(&e.key)) {
            continue;
        }
        // Keyed by the new key: the last value for a key wins, and keys
        // sort as in the JSON map the pattern came from (serde_json's `Map`
        // is sorted: the workspace does not enable `preserve_order`).
        let mut out: std::collections::BTreeMap<String, Pattern> = std::collections::BTreeMap::new();
        for e in pdata {
            if !matches!(e.value, Pattern::Scalar(Value::String(_))) {
                continue;
            }
            if has_wildcard(&e.key) {
                let (anchor, inner) = match &e.anchor {
                    Some((kind, inner)) => (Some(*kind), inner.as_str()),
                    None => (None, e.key.as_str()),
                };
                let matched = rdata.keys().find(|rk| rdata[*rk].is_string() && wildcard(inner, rk)).cloned();
                let new_key = matched.unwrap_or_else(|| inner.to_string());
                let new_key = match anchor {
                    Some(kind) => format!("{}({new_key})", anchor_prefix(kind)),
                    None => new_key,
                };
                out.insert(new_key, e.value.clone());
            } else {
                out.insert(e.key.clone(), e.value.clone());
            }
        }
        let expanded = Pattern::map(out.into_iter().map(|(k, v)| Entry::new(k, v)).collect());
        new_meta[tag_at] = Entry::new(new_meta[tag_at].key.clone(), expanded);
        changed = true;
    }
    if !changed {
        return None;
    }
    let mut p = pattern.to_vec();
    p[meta_at] = Entry::new(p[meta_at].key.clone(), Pattern::map(new_meta));
    Some(p)
}

fn anchor_prefix(kind: AnchorKind) -> &'static str {
    match kind {
        AnchorKind::Condition => "",
        AnchorKind::Global => "<",
        AnchorKind::Negation => "X",
        AnchorKind::AddIfNotPresent => "+",
        AnchorKind::Equality => "=",
        AnchorKind::Existence => "^",
    }
}

fn anchor_key(k: &str) -> &str {
    parse_anchor(k).map_or(k, |(_, inner)| inner)
}

fn validate_map(rm: &Map<String, Value>, pm: &[Entry], path: &str, ac: &mut AnchorMap) -> Walk {
    let expanded = expand_metadata(pm, rm);
    let pm = expanded.as_deref().unwrap_or(pm);
    // Phase 1: condition, existence, equality and negation anchors, in key order.
    let mut skip_errors: Vec<PErr> = Vec::new();
    let mut apply = 0;
    let mut plain: Vec<&Entry> = Vec::new();
    for e in pm {
        match &e.anchor {
            Some((kind, name))
                if matches!(
                    kind,
                    AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Equality | AnchorKind::Negation
                ) =>
            {
                match handle(*kind, name, &e.value, rm, path, ac) {
                    Ok(()) => apply += 1,
                    Err((p, err)) => {
                        if err.is_skip() {
                            skip_errors.push(err);
                            continue;
                        }
                        if !skip_errors.iter().any(|s| !s.wrapped) {
                            return Err((p, err));
                        }
                    }
                }
            }
            _ => plain.push(e),
        }
    }
    if !skip_errors.is_empty() && (apply == 0 || skip_errors.iter().any(|s| !s.wrapped)) {
        return Err((path.to_string(), combined_skip(&skip_errors)));
    }
    // Phase 2: the other keys; global anchors and keys with nested anchors
    // first (Kyverno pushes them to the front in sorted order, so they run
    // in reverse key order), then the rest in key order.
    let (mut front, back): (Vec<&Entry>, Vec<&Entry>) =
        plain.into_iter().partition(|e| e.kind() == Some(AnchorKind::Global) || e.value.anchored());
    front.reverse();
    for e in front.into_iter().chain(back) {
        match &e.anchor {
            Some((AnchorKind::Global, name)) => handle(AnchorKind::Global, name, &e.value, rm, path, ac)?,
            Some((AnchorKind::AddIfNotPresent, _)) => {}
            _ => default_handle(&e.key, &e.value, rm, path, ac)?,
        }
    }
    Ok(())
}

fn default_handle(key: &str, pv: &Pattern, rm: &Map<String, Value>, path: &str, ac: &mut AnchorMap) -> Walk {
    let current = format!("{path}{key}/");
    let rv = rm.get(key).unwrap_or(&NULL);
    if matches!(pv, Pattern::Scalar(Value::String(s)) if s == "*") {
        if rv.is_null() {
            return Err((path.to_string(), PErr::other(format!("{path}/{key} not found"))));
        }
        return Ok(());
    }
    element(rv, pv, &current, ac)
}

fn handle(kind: AnchorKind, name: &str, pv: &Pattern, rm: &Map<String, Value>, path: &str, ac: &mut AnchorMap) -> Walk {
    let current = format!("{path}{name}/");
    let present = rm.get(name);
    match kind {
        AnchorKind::Negation => {
            if present.is_some() {
                let e = PErr::anchor(Class::Negation, &format!("{current} is not allowed"));
                return Err((current, e));
            }
            Ok(())
        }
        AnchorKind::Equality => match present {
            Some(v) => element(v, pv, &current, ac),
            None => Ok(()),
        },
        AnchorKind::Condition => match present {
            Some(v) => element(v, pv, &current, ac).map_err(|(p, e)| (p, PErr::anchor(Class::Conditional, &e.message))),
            None => {
                Err((current, PErr::anchor(Class::Conditional, "conditional anchor key doesn't exist in the resource")))
            }
        },
        AnchorKind::Global => match present {
            Some(v) => element(v, pv, &current, ac).map_err(|(p, e)| (p, PErr::anchor(Class::Global, &e.message))),
            None => Ok(()),
        },
        AnchorKind::Existence => match present {
            None => Ok(()),
            Some(Value::Array(items)) => {
                let Pattern::Array { items: patterns, .. } = pv else {
                    return Err((
                        current,
                        PErr::other(format!(
                            "invalid pattern type {}: Pattern has to be of list to compare against resource",
                            pv.type_name()
                        )),
                    ));
                };
                for p in patterns {
                    if !matches!(p, Pattern::Map { .. }) {
                        return Err((
                            current,
                            PErr::other(format!(
                                "invalid pattern type {}: Pattern has to be of type map to compare against items in resource",
                                pv.type_name()
                            )),
                        ));
                    }
                    let found = items
                        .iter()
                        .enumerate()
                        .any(|(i, item)| element(item, p, &format!("{current}{i}/"), ac).is_ok());
                    if !found {
                        return Err((
                            current.clone(),
                            PErr::other(format!("existence anchor validation failed at path {current}")),
                        ));
                    }
                }
                Ok(())
            }
            Some(other) => Err((
                current,
                PErr::other(format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    type_name(other)
                )),
            )),
        },
        AnchorKind::AddIfNotPresent => Ok(()),
    }
}

fn validate_array(ra: &[Value], pa: &[Pattern], path: &str, ac: &mut AnchorMap) -> Walk {
    let Some(first) = pa.first() else {
        return Err((path.to_string(), PErr::other("pattern Array empty".into())));
    };
    match first {
        // Every element against the one map pattern.
        Pattern::Map { .. } => each_applies(ra.iter().map(|item| (item, first)), path, ac),
        // Element by element.
        Pattern::Array { .. } => {
            if ra.len() < pa.len() {
                return Err((
                    String::new(),
                    PErr::other(format!(
                        "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                        ra.len(),
                        pa.len()
                    )),
                ));
            }
            each_applies(ra.iter().zip(pa), path, ac)
        }
        Pattern::Scalar(scalar) => scalars_match(ra, scalar, path),
    }
}

/// Kyverno's array walk: every pair must match, except that elements whose
/// conditional anchors do not apply are skipped; when none applies, the
/// whole array is skipped.
fn each_applies<'v>(pairs: impl Iterator<Item = (&'v Value, &'v Pattern)>, path: &str, ac: &mut AnchorMap) -> Walk {
    let mut apply = 0;
    let mut skips: Vec<PErr> = Vec::new();
    for (i, (item, pattern)) in pairs.enumerate() {
        match element(item, pattern, &format!("{path}{i}/"), ac) {
            Ok(()) => apply += 1,
            Err((_, e)) if e.is_skip() => skips.push(e),
            Err(other) => return Err(other),
        }
    }
    if apply == 0 && !skips.is_empty() {
        return Err((path.to_string(), combined_skip(&skips)));
    }
    Ok(())
}

/// The skip errors of one level as one `PatternError`.
fn combined_skip(skips: &[PErr]) -> PErr {
    let message = skips.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
    PErr { class: Class::Other, message, wrapped: true }
}

/// Every item of a resource array against one scalar pattern.
fn scalars_match(items: &[Value], scalar: &Value, path: &str) -> Walk {
    if items.iter().all(|item| value_matches(item, scalar)) {
        return Ok(());
    }
    let shown = format!("[{}]", items.iter().map(go_sprint).collect::<Vec<_>>().join(" "));
    Err((
        path.to_string(),
        PErr::other(format!("resource value '{shown}' does not match '{}' at path {path}", go_sprint(scalar))),
    ))
}

/// Kyverno's `pattern.Validate`: does a resource value satisfy a scalar
/// pattern?
pub fn value_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Number(n) if !n.is_f64() => {
            let p = n.as_i64().unwrap_or(i64::MAX);
            match value {
                Value::Number(v) if v.is_f64() => {
                    let f = v.as_f64().unwrap_or(f64::NAN);
                    f.fract() == 0.0 && f as i64 == p
                }
                Value::Number(v) => v.as_i64() == Some(p),
                Value::String(s) => s.parse::<i64>().ok() == Some(p),
                _ => false,
            }
        }
        Value::Number(n) => {
            let p = n.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) if v.is_f64() => v.as_f64() == Some(p),
                Value::Number(v) => p.fract() == 0.0 && v.as_i64() == Some(p as i64),
                Value::String(s) => s.parse::<f64>().ok() == Some(p),
                _ => false,
            }
        }
        Value::Null => match value {
            Value::Number(v) => v.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Bool(b) => !b,
            Value::Null => true,
            _ => false,
        },
        Value::Object(_) => value.is_object(),
        Value::String(p) => string_patterns(value, p),
        Value::Array(_) => false,
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| alt.trim_matches(' ').split('&').all(|c| string_pattern(value, c.trim_matches(' '))))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    MoreEqual,
    LessEqual,
    NotEqual,
    More,
    Less,
    InRange,
    NotInRange,
}

fn range_parts(pattern: &str, sep: &str) -> Option<(String, String)> {
    // `^([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)SEP([-|\+]?\d+(?:\.\d+)?[A-Za-z]*)$`
    fn bound(s: &str) -> Option<usize> {
        let b = s.as_bytes();
        let mut i = 0;
        if i < b.len() && matches!(b[i], b'-' | b'|' | b'+') {
            i += 1;
        }
        let d0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == d0 {
            return None;
        }
        if i < b.len() && b[i] == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        Some(i)
    }
    let end = bound(pattern)?;
    let rest = pattern[end..].strip_prefix(sep)?;
    let end2 = bound(rest)?;
    if end2 != rest.len() {
        return None;
    }
    Some((pattern[..end].to_string(), rest.to_string()))
}

fn operator_of(pattern: &str) -> Op {
    if pattern.len() < 2 {
        return Op::Equal;
    }
    if pattern.starts_with(">=") {
        Op::MoreEqual
    } else if pattern.starts_with("<=") {
        Op::LessEqual
    } else if pattern.starts_with('>') {
        Op::More
    } else if pattern.starts_with('<') {
        Op::Less
    } else if pattern.starts_with('!') {
        Op::NotEqual
    } else if range_parts(pattern, "!-").is_some() {
        Op::NotInRange
    } else if range_parts(pattern, "-").is_some() {
        Op::InRange
    } else {
        Op::Equal
    }
}

/// Whether a string is a range pattern (`1-5`), used by the `In` operators.
pub(crate) fn is_range(pattern: &str) -> bool {
    operator_of(pattern) == Op::InRange
}

fn string_pattern(value: &Value, pattern: &str) -> bool {
    let op = operator_of(pattern);
    match op {
        Op::InRange => range_parts(pattern, "-").is_some_and(|(l, r)| {
            string_pattern(value, &format!(">= {l}")) && string_pattern(value, &format!("<= {r}"))
        }),
        Op::NotInRange => range_parts(pattern, "!-")
            .is_some_and(|(l, r)| string_pattern(value, &format!("< {l}")) || string_pattern(value, &format!("> {r}"))),
        _ => {
            let len = match op {
                Op::Equal => 0,
                Op::MoreEqual | Op::LessEqual => 2,
                _ => 1,
            };
            let p = pattern[len..].trim();
            if let Some(r) = compare_numeric(value, p, op, parse_duration) {
                return r;
            }
            if let Some(r) = compare_numeric(value, p, op, parse_quantity) {
                return r;
            }
            compare_string(value, p, op)
        }
    }
}

fn number_to_string(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some("0".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_f64() => Some(format!("{:.6}", n.as_f64().unwrap_or(0.0))),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn compare_numeric(value: &Value, pattern: &str, op: Op, parse: fn(&str) -> Option<f64>) -> Option<bool> {
    let p = parse(pattern)?;
    let v = parse(&number_to_string(value)?)?;
    Some(match op {
        Op::Equal => v == p,
        Op::NotEqual => v != p,
        Op::More => v > p,
        Op::Less => v < p,
        Op::MoreEqual => v >= p,
        Op::LessEqual => v <= p,
        _ => return None,
    })
}

fn go_float_e(f: f64) -> String {
    let s = format!("{f:E}");
    let (m, e) = s.split_once('E').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    format!("{m}E{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn compare_string(value: &Value, pattern: &str, op: Op) -> bool {
    if !matches!(op, Op::Equal | Op::NotEqual) {
        return false;
    }
    let s = match value {
        Value::Number(n) if n.is_f64() => go_float_e(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    let m = wildcard(pattern, &s);
    if op == Op::NotEqual { !m } else { m }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)]
    fn verdict(resource: Value, pattern: Value) -> Verdict {
        match_pattern(&resource, &pattern)
    }

    #[test]
    fn wildcards_have_no_escape_character() {
        assert!(wildcard("a\\*", "a\\bc"));
        assert!(!wildcard("a\\*", "a*"));
        assert!(wildcard("a?c", "abc") && !wildcard("a?c", "ac"));
        assert!(wildcard("", "") && !wildcard("", "x"));
    }

    #[test]
    fn value_patterns() {
        assert!(value_matches(&json!("nginx:1.2"), &json!("*:*")));
        assert!(!value_matches(&json!("nginx"), &json!("*:*")));
        assert!(value_matches(&json!("nginx:1"), &json!("!*:latest")));
        assert!(!value_matches(&json!("nginx:latest"), &json!("!*:latest")));
        assert!(value_matches(&json!(3), &json!(">1")));
        assert!(value_matches(&json!("200Mi"), &json!("<=1Gi")));
        assert!(!value_matches(&json!("2Gi"), &json!("<=1Gi")));
        assert!(value_matches(&json!(5), &json!("1-10")));
        assert!(!value_matches(&json!(11), &json!("1-10")));
        assert!(value_matches(&json!(11), &json!("1!-10")));
        assert!(value_matches(&json!("a"), &json!("b | a")));
        assert!(value_matches(&json!("30s"), &json!("<1m")));
        assert!(value_matches(&json!(null), &json!(null)));
        assert!(value_matches(&json!(false), &json!(null)));
        assert!(value_matches(&json!(2.0), &json!(2)));
        assert!(value_matches(&json!("8080"), &json!(8080)));
        assert!(value_matches(&json!("ab"), &json!("a?")));
        assert!(!value_matches(&json!("a"), &json!("a?")));
        assert!(value_matches(&json!("x"), &json!("?* & !y")));
        assert!(!value_matches(&json!("y"), &json!("?* & !y")));
        // Comparison operators do not apply to plain strings.
        assert!(!value_matches(&json!("x"), &json!(">0")));
    }

    #[test]
    fn plain_maps_and_arrays() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}});
        assert_eq!(
            verdict(pod.clone(), json!({"spec": {"containers": [{"image": "*:*"}]}})),
            Verdict::Fail {
                path: "/spec/containers/1/image/".into(),
                message: "resource value 'y' does not match '*:*' at path /spec/containers/1/image/".into()
            }
        );
        assert_eq!(verdict(pod.clone(), json!({"spec": {"containers": [{"name": "?*"}]}})), Verdict::Pass);
        // `*` requires presence.
        assert!(matches!(verdict(pod, json!({"spec": {"hostname": "*"}})), Verdict::Fail { .. }));
    }

    #[test]
    fn conditional_anchors_skip_or_apply() {
        let p = json!({"spec": {"containers": [{"(name)": "a", "image": "*:*"}]}});
        let ok = json!({"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y"}]}});
        assert_eq!(verdict(ok, p.clone()), Verdict::Pass);
        let bad = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        assert!(matches!(verdict(bad, p.clone()), Verdict::Fail { .. }));
        let none = json!({"spec": {"containers": [{"name": "b", "image": "x"}]}});
        assert!(matches!(verdict(none, p), Verdict::Skip(_)));
        // A conditional anchor on a missing key skips.
        let p = json!({"metadata": {"(labels)": {"app": "x"}}, "spec": {"x": 1}});
        assert!(matches!(verdict(json!({"metadata": {}, "spec": {"x": 2}}), p), Verdict::Skip(_)));
    }

    #[test]
    fn equality_negation_existence_global() {
        let p = json!({"spec": {"=(hostNetwork)": false}});
        assert_eq!(verdict(json!({"spec": {}}), p.clone()), Verdict::Pass);
        assert!(matches!(verdict(json!({"spec": {"hostNetwork": true}}), p), Verdict::Fail { .. }));
        let p = json!({"spec": {"X(hostPath)": "null"}});
        assert_eq!(verdict(json!({"spec": {}}), p.clone()), Verdict::Pass);
        assert!(
            matches!(verdict(json!({"spec": {"hostPath": {"path": "/"}}}), p), Verdict::Fail { path, .. } if path == "/spec/hostPath/")
        );
        let p = json!({"spec": {"^(containers)": [{"image": "nginx*"}]}});
        assert_eq!(
            verdict(json!({"spec": {"containers": [{"image": "a"}, {"image": "nginx:1"}]}}), p.clone()),
            Verdict::Pass
        );
        assert!(matches!(verdict(json!({"spec": {"containers": [{"image": "a"}]}}), p), Verdict::Fail { .. }));
        let p = json!({"spec": {"containers": [{"<(image)": "*corp*"}], "imagePullSecrets": [{"name": "regcred"}]}});
        assert!(matches!(verdict(json!({"spec": {"containers": [{"image": "public"}]}}), p.clone()), Verdict::Skip(_)));
        assert!(matches!(verdict(json!({"spec": {"containers": [{"image": "corp/x"}]}}), p), Verdict::Fail { .. }));
    }

    #[test]
    fn conditional_anchor_on_arrays_of_scalars() {
        let p = json!({"metadata": {"annotations": {"(a)": "?*"}}, "spec": {"x": "y"}});
        assert!(matches!(
            verdict(json!({"metadata": {"annotations": {"a": "1"}}, "spec": {"x": "z"}}), p),
            Verdict::Fail { .. }
        ));
    }

    #[test]
    fn compiling_parses_each_key_once_and_marks_nested_anchors() {
        let p = Pattern::new(&json!({"spec": {"containers": [{"=(image)": "*:*"}], "+(x)": 1}, "kind": "Pod"}));
        let Pattern::Map { entries, anchored } = &p else { panic!("{p:?}") };
        assert!(anchored, "an equality anchor below");
        let keys: Vec<(&str, &str, Option<AnchorKind>, bool)> =
            entries.iter().map(|e| (e.key.as_str(), e.name(), e.kind(), e.value.anchored())).collect();
        assert_eq!(keys, [("kind", "kind", None, false), ("spec", "spec", None, true)]);
        let Pattern::Map { entries: spec, .. } = &entries[1].value else { panic!() };
        assert_eq!(spec[0].key, "+(x)");
        assert_eq!((spec[0].name(), spec[0].kind()), ("x", Some(AnchorKind::AddIfNotPresent)));
        // `+()` alone is no nested anchor (Kyverno's `hasNestedAnchors`).
        assert!(!Pattern::new(&json!({"a": {"+(b)": 1}})).anchored());
        assert!(Pattern::new(&json!([{"a": [{"X(b)": null}]}])).anchored());
        // Compiling an owned value gives the same pattern.
        let v = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}, "^(x)": [{"y": 1}]});
        assert_eq!(Pattern::new(&v), Pattern::from_value(v));
    }

    #[test]
    fn only_a_metadata_map_has_its_wildcard_keys_expanded() {
        // The first key named `metadata` decides, as in Kyverno: a scalar
        // there expands nothing, and the pattern is matched as written.
        let p = json!({"=(metadata)": "*", "metadata": {"labels": {"a*": "x"}}});
        let r = json!({"metadata": {"labels": {"ab": "x"}}});
        assert!(matches!(verdict(r.clone(), p), Verdict::Fail { .. }));
        let p = json!({"metadata": {"labels": {"a*": "x", "n": 1}}});
        // The non-string value is dropped by the expansion.
        assert_eq!(verdict(r, p), Verdict::Pass);
    }

    #[test]
    fn wildcard_label_keys_expand() {
        let p = json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}});
        assert_eq!(verdict(json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}), p.clone()), Verdict::Pass);
        assert!(matches!(verdict(json!({"metadata": {"labels": {"other": "x"}}}), p), Verdict::Fail { .. }));
    }
}
