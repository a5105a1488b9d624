//! Evaluation of one validate rule on one resource: the JSON context,
//! `{{ }}` substitution, `context` variables, preconditions, `pattern`,
//! `anyPattern`, `deny` and `foreach` — Kyverno's `validateResourceHandler`.

use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::{Map, Value};

use crate::conditions::{Operator, evaluate};
use crate::jmespath::{Data, JpError, query, query_in};
use crate::pattern::{Pattern, Verdict, match_compiled};
use crate::policy::Rule;
use crate::value::go_json;

/// A rule's result on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Validation succeeded.
    Pass,
    /// Validation failed.
    Fail,
    /// Preconditions false, a conditional anchor did not apply, or every
    /// `foreach` element was skipped.
    Skip,
    /// The rule could not be evaluated.
    Error,
}

impl Status {
    /// `pass`, `fail`, `skip`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

/// One rule response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The rule (`autogen-...` for generated rules).
    pub rule: String,
    /// The verdict.
    pub status: Status,
    /// Kyverno's message.
    pub message: String,
    /// The rejected node as a Kyverno path (`/spec/containers/0/image/`),
    /// when a pattern failed.
    pub path: Option<String>,
}

/// The variables of one evaluation (Kyverno's JSON context): a base shared
/// by every rule evaluated on one object (the request with the object, the
/// images), and the variables set on top of it (values, `context` entries,
/// `element`), so that cloning a context never copies the object.
#[derive(Debug, Clone)]
pub struct Context {
    base: Arc<Value>,
    overlay: Map<String, Value>,
    /// When the evaluation must stop: every `foreach` element checks it, so
    /// nested loops over large lists end as an error, never as a hang.
    deadline: Option<std::time::Instant>,
}

/// The time one rule may take on one resource, as for a Rego evaluation.
pub(crate) const RULE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

impl Context {
    /// The context of an admission request for `resource`.
    pub fn new(resource: &Value, operation: &str) -> Context {
        let mut request = Map::new();
        request.insert("operation".into(), Value::String(operation.into()));
        match operation {
            "DELETE" => {
                request.insert("object".into(), Value::Null);
                request.insert("oldObject".into(), resource.clone());
            }
            "UPDATE" => {
                request.insert("object".into(), resource.clone());
                request.insert("oldObject".into(), resource.clone());
            }
            _ => {
                request.insert("object".into(), resource.clone());
                request.insert("oldObject".into(), Value::Null);
            }
        }
        if let Some(ns) = resource.pointer("/metadata/namespace") {
            request.insert("namespace".into(), ns.clone());
        }
        request.insert("userInfo".into(), serde_json::json!({"username": "", "groups": null}));
        request.insert("roles".into(), Value::Null);
        request.insert("clusterRoles".into(), Value::Null);
        let mut data = Map::new();
        data.insert("request".into(), Value::Object(request));
        data.insert("images".into(), crate::images::images_of(resource));
        data.insert("serviceAccountName".into(), Value::String(String::new()));
        data.insert("serviceAccountNamespace".into(), Value::String(String::new()));
        Context { base: Arc::new(Value::Object(data)), overlay: Map::new(), deadline: None }
    }

    /// Starts the time budget of one evaluation: five seconds from now, as
    /// for a Rego evaluation.
    pub fn start_budget(&mut self) {
        self.deadline = Some(std::time::Instant::now() + RULE_BUDGET);
    }

    /// Whether the evaluation ran past its budget.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// Sets a dotted variable (`request.operation`, `foo.bar`), merging maps.
    pub fn set(&mut self, dotted: &str, value: Value) {
        let parts = split_variable(dotted);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let root = parts[0];
        // A dotted name merges into the map the base may hold under `root`:
        // that entry comes up into the overlay, moved when this context owns
        // the base, else copied alone. The base is never copied whole: a
        // `foreach` element's context shares its parent's base, and copying
        // it would copy the resource once per element. A plain name needs
        // nothing from the base (the overlay shadows it).
        if parts.len() > 1 && !self.overlay.contains_key(root) {
            let entry = match Arc::get_mut(&mut self.base) {
                Some(base) => base.as_object_mut().and_then(|m| m.remove(root)),
                None => self.base.get(root).cloned(),
            };
            if let Some(v) = entry {
                self.overlay.insert(root.to_string(), v);
            }
        }
        if parts.len() == 1 {
            self.overlay.insert(root.to_string(), value);
            return;
        }
        let mut cur = self.overlay.entry(root.to_string()).or_insert_with(|| Value::Object(Map::new()));
        for (i, p) in parts.iter().enumerate().skip(1) {
            if !cur.is_object() {
                *cur = Value::Object(Map::new());
            }
            let Value::Object(m) = cur else { return };
            if i + 1 == parts.len() {
                m.insert((*p).to_string(), value);
                return;
            }
            cur = m.entry((*p).to_string()).or_insert_with(|| Value::Object(Map::new()));
        }
    }

    fn top(&self, key: &str) -> Option<&Value> {
        self.overlay.get(key).or_else(|| self.base.get(key))
    }

    /// The request operation.
    pub fn operation(&self) -> &str {
        self.top("request").and_then(|r| r.get("operation")).and_then(Value::as_str).unwrap_or("CREATE")
    }

    /// `request.object`, borrowed.
    pub fn object(&self) -> Option<&Value> {
        self.top("request").and_then(|r| r.get("object"))
    }

    /// Runs a JMESPath query on the context.
    pub fn query(&self, expr: &str) -> Result<Value, JpError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(JpError::Function("invalid query (nil)".into()));
        }
        query_in(expr, Data::Layers(&self.overlay, &self.base))
    }

    /// Whether a top-level variable exists.
    pub fn has(&self, name: &str) -> bool {
        self.top(name).is_some()
    }
}

/// Splits a variable name at dots outside double quotes, unquoting
/// (`a."b.c".d` is `a`, `b.c`, `d`).
fn split_variable(name: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    for c in name.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(String::new()),
            c => parts.last_mut().map_or((), |p| p.push(c)),
        }
    }
    parts
}

static VARIABLES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").unwrap_or_else(|e| panic!("variable regex: {e}"))
});

static REFERENCES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(^|[^\\])(\$\([^ )]*\))").unwrap_or_else(|e| panic!("reference regex: {e}")));

/// Resolves `$(path)` references of a pattern to the values at `path` in
/// the pattern itself (`memory: "<=$(./../../limits/memory)"` is not valid,
/// `memory: "$(<=./../../limits/memory)"` is), relative to the node holding
/// the reference, anchors ignored; `\$(` is a literal `$(`.
pub(crate) fn substitute_references(pattern: &Value) -> Result<Value, SubstitutionError> {
    if !contains_text(pattern, "$(") {
        return Ok(pattern.clone());
    }
    let mut leaves: Vec<(String, Value)> = Vec::new();
    collect_leaves(pattern, &mut String::new(), &mut leaves);
    replace_references(pattern, &mut String::new(), &leaves)
}

/// Whether a string (key or leaf) of `v` contains `needle`.
pub(crate) fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_text(x, needle)),
        Value::Object(m) => m.iter().any(|(k, x)| k.contains(needle) || contains_text(x, needle)),
        _ => false,
    }
}

/// The patterns of a `validate` block (and of its `foreach` entries,
/// nested) that hold no variable and no reference, compiled when the policy
/// loads; a pattern with either is compiled after substitution, per object.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CompiledPatterns {
    pattern: Option<Pattern>,
    /// `anyPattern`, when it is a list.
    any_pattern: Option<Vec<Pattern>>,
    /// Per `foreach` entry, in order.
    foreach: Vec<CompiledPatterns>,
}

impl CompiledPatterns {
    /// The fixed patterns of `block` (a `validate` block or a `foreach` entry).
    pub(crate) fn new(block: &Value) -> CompiledPatterns {
        let fixed = |p: &&Value| !contains_text(p, "{{") && !contains_text(p, "$(");
        CompiledPatterns {
            pattern: block.get("pattern").filter(fixed).map(Pattern::new),
            any_pattern: block
                .get("anyPattern")
                .filter(fixed)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Pattern::new).collect()),
            foreach: block
                .get("foreach")
                .and_then(Value::as_array)
                .map(|l| l.iter().map(CompiledPatterns::new).collect())
                .unwrap_or_default(),
        }
    }
}

/// A pattern that [`CompiledPatterns`] did not compile (it has variables or
/// references) with both resolved for this object.
fn resolved_pattern(p: &Value, ctx: &Context) -> Result<Value, SubstitutionError> {
    substitute_references(p).and_then(|p| substitute(&p, ctx))
}

fn strip_anchors(path: &str) -> String {
    path.split('/').map(|seg| crate::pattern::parse_anchor(seg).map_or(seg, |(_, k)| k)).collect::<Vec<_>>().join("/")
}

fn collect_leaves(v: &Value, path: &mut String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                collect_leaves(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                collect_leaves(child, path, out);
                path.truncate(len);
            }
        }
        leaf => out.push((strip_anchors(path), leaf.clone())),
    }
}

fn replace_references(v: &Value, path: &mut String, leaves: &[(String, Value)]) -> Result<Value, SubstitutionError> {
    Ok(match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                out.insert(k.clone(), replace_references(child, path, leaves)?);
                path.truncate(len);
            }
            Value::Object(out)
        }
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, child) in a.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                out.push(replace_references(child, path, leaves)?);
                path.truncate(len);
            }
            Value::Array(out)
        }
        Value::String(s) if s.contains("$(") => {
            let mut value = s.clone();
            let found: Vec<(String, String)> = REFERENCES
                .captures_iter(s)
                .map(|c| {
                    (c.get(1).map_or("", |m| m.as_str()).to_string(), c.get(2).map_or("", |m| m.as_str()).to_string())
                })
                .collect();
            for (prefix, reference) in found {
                let inner = &reference[2..reference.len() - 1];
                let op = [">=", "<=", ">", "<", "!"].into_iter().find(|o| inner.starts_with(o)).unwrap_or("");
                let target = &inner[op.len()..];
                if target.is_empty() {
                    return Err(SubstitutionError::new(format!("empty reference {reference} at path {path}")));
                }
                let absolute = if target.starts_with('/') {
                    crate::value::clean_path(target)
                } else {
                    crate::value::clean_path(&format!("{path}/{target}"))
                };
                let absolute = strip_anchors(&absolute);
                let resolved = leaves.iter().find(|(p, _)| *p == absolute).map(|(_, v)| v).ok_or_else(|| {
                    SubstitutionError::new(format!("reference {reference} at path {path} does not resolve"))
                })?;
                let text = match (op, resolved) {
                    (_, Value::String(t)) => format!("{op}{t}"),
                    ("", _) => {
                        return Err(SubstitutionError::new(format!(
                            "reference {reference} at path {path} resolves to a non-string value"
                        )));
                    }
                    (_, other) => format!("{op}{}", crate::value::go_sprint(other)),
                };
                value = value.replacen(&format!("{prefix}{reference}"), &format!("{prefix}{text}"), 1);
            }
            Value::String(value.replace("\\$(", "$("))
        }
        other => other.clone(),
    })
}

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubstitutionError {
    /// What failed, as Kyverno words it.
    pub message: String,
    /// The query found no such key (JMESPath's `Unknown key`): a `foreach`
    /// list that names a field the resource lacks is no list, not an error.
    pub unresolved: bool,
}

impl SubstitutionError {
    fn new(message: String) -> SubstitutionError {
        SubstitutionError { message, unresolved: false }
    }

    /// A query's failure, `unresolved` when it was a missing key.
    fn query(message: String, error: &crate::jmespath::JpError) -> SubstitutionError {
        SubstitutionError { message, unresolved: matches!(error, crate::jmespath::JpError::NotFound(_)) }
    }
}

/// Replaces every `{{ expr }}` in the strings (keys included) of `doc`.
pub(crate) fn substitute(doc: &Value, ctx: &Context) -> Result<Value, SubstitutionError> {
    Ok(match doc {
        Value::String(s) => substitute_string(s, ctx)?,
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, ctx)).collect::<Result<_, _>>()?),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = if k.contains("{{") {
                    match substitute_string(k, ctx)? {
                        Value::String(s) => s,
                        other => go_json(&other),
                    }
                } else {
                    k.clone()
                };
                out.insert(key, substitute(v, ctx)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn substitute_string(s: &str, ctx: &Context) -> Result<Value, SubstitutionError> {
    if !s.contains("{{") {
        return Ok(Value::String(s.to_string()));
    }
    let mut value = s.to_string();
    let mut rounds = 0;
    loop {
        let vars: Vec<(String, String)> = VARIABLES
            .captures_iter(&value)
            .map(|c| (c.get(1).map_or("", |m| m.as_str()).to_string(), c.get(2).map_or("", |m| m.as_str()).to_string()))
            .collect();
        if vars.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 32 {
            return Err(SubstitutionError::new(format!(
                "variables in `{s}` do not resolve (nested more than 32 levels)"
            )));
        }
        let original = value.clone();
        let mut shallow = false;
        for (prefix, var) in vars {
            let inner = var[2..var.len() - 2].trim();
            let (inner, sh) = match inner.strip_prefix('-') {
                Some(rest) => (rest.trim(), true),
                None => (inner, false),
            };
            shallow = sh;
            let mut expr = inner.to_string();
            if expr == "@" {
                return Err(SubstitutionError::new(
                    "the relative `{{@}}` variable is not supported by tollgate".into(),
                ));
            }
            if ctx.operation() == "DELETE" {
                expr = expr.replace("request.object", "request.oldObject");
            }
            let result =
                ctx.query(&expr).map_err(|e| SubstitutionError::query(format!("failed to resolve {expr}: {e}"), &e))?;
            if original == var {
                return Ok(result);
            }
            let text = match &result {
                Value::String(t) if shallow => t.replace("{{", "\\{{"),
                Value::String(t) => t.clone(),
                other => go_json(other),
            };
            value = value.replacen(&format!("{prefix}{var}"), &format!("{prefix}{text}"), 1);
        }
        if shallow {
            break;
        }
    }
    Ok(Value::String(value.replace("\\{{", "{{")))
}

/// Why conditions could not be evaluated, in Kyverno's words (the rule's
/// response quotes it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ConditionError {
    /// Neither a list nor an `any`/`all` object.
    #[error("conditions must be a list or an object with `any`/`all`")]
    Shape,
    /// A variable of the condition's `key` or `value` did not resolve.
    #[error("failed to substitute variables in condition {part}: {}", error.message)]
    Substitution {
        /// `key` or `value`.
        part: &'static str,
        /// What did not resolve.
        error: SubstitutionError,
    },
    /// The operator is not one Kyverno has.
    #[error("unknown condition operator `{0}`")]
    Operator(String),
}

/// Why a rule's `context` could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ContextError {
    /// An entry has no `name`.
    #[error("context entry without a name")]
    Unnamed,
    /// A variable of the entry did not resolve.
    #[error("{}", .0.message)]
    Substitution(SubstitutionError),
    /// A `variable.jmesPath` without a `default` found nothing.
    #[error("failed to add context entry `{0}`: the JMESPath query returned nothing")]
    Empty(String),
    /// An entry only a cluster or a registry can answer, with no value given.
    #[error(
        "context entry `{name}` ({kind}) needs a live cluster or registry; tollgate evaluates offline and cannot resolve it (provide its value in a test's values file)"
    )]
    Offline {
        /// The entry.
        name: String,
        /// `apiCall`, `configMap`, `imageRegistry` or `globalReference`.
        kind: &'static str,
    },
}

/// Evaluates `any`/`all` conditions (or the legacy list). `Ok((result,
/// message))`; `Err` when a variable cannot be resolved.
pub(crate) fn conditions(raw: &Value, ctx: &Context) -> Result<(bool, String), ConditionError> {
    match raw {
        Value::Null => Ok((true, String::new())),
        Value::Array(list) => {
            for c in list {
                let (ok, msg) = condition(c, ctx)?;
                if !ok {
                    return Ok((false, msg));
                }
            }
            Ok((true, String::new()))
        }
        Value::Object(m) => {
            let mut false_msgs = Vec::new();
            let mut any_ok = true;
            if let Some(any) = m.get("any").and_then(Value::as_array) {
                any_ok = false;
                for c in any {
                    let (ok, msg) = condition(c, ctx)?;
                    if ok {
                        any_ok = true;
                        break;
                    }
                    false_msgs.push(msg);
                }
            }
            let mut all_ok = true;
            if let Some(all) = m.get("all").and_then(Value::as_array) {
                for c in all {
                    let (ok, msg) = condition(c, ctx)?;
                    if !ok {
                        all_ok = false;
                        false_msgs.push(msg);
                        break;
                    }
                }
            }
            let result = any_ok && all_ok;
            let msg = if result {
                String::new()
            } else {
                false_msgs.into_iter().filter(|m| !m.is_empty()).collect::<Vec<_>>().join("; ")
            };
            Ok((result, msg))
        }
        _ => Err(ConditionError::Shape),
    }
}

fn condition(c: &Value, ctx: &Context) -> Result<(bool, String), ConditionError> {
    let side = |part: &'static str| {
        substitute(c.get(part).unwrap_or(&Value::Null), ctx)
            .map_err(|error| ConditionError::Substitution { part, error })
    };
    let key = side("key")?;
    let value = side("value")?;
    let op_name = c.get("operator").and_then(Value::as_str).unwrap_or("");
    let op = Operator::parse(op_name).ok_or_else(|| ConditionError::Operator(op_name.to_owned()))?;
    let message = c.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    Ok((evaluate(op, &key, &value), message))
}

/// Values supplied for context entries (a test's values file), by name.
pub(crate) type Provided = Map<String, Value>;

/// Loads `context` entries into `ctx`. Entries that need a cluster
/// (`apiCall`, `configMap`, `imageRegistry`, `globalReference`) must be
/// provided.
pub(crate) fn load_context(
    entries: Option<&Value>,
    ctx: &mut Context,
    provided: &Provided,
) -> Result<(), ContextError> {
    let Some(Value::Array(entries)) = entries else { return Ok(()) };
    for e in entries {
        let name = e.get("name").and_then(Value::as_str).ok_or(ContextError::Unnamed)?;
        if let Some(v) = provided.get(name) {
            ctx.set(name, v.clone());
            continue;
        }
        // Values given for parts of the entry (`saMap.data.key`), for the
        // rule or the resource, stand in for it as a whole.
        let prefix = format!("{name}.");
        if provided.keys().any(|k| k.starts_with(&prefix)) || (e.get("variable").is_none() && ctx.has(name)) {
            continue;
        }
        if let Some(var) = e.get("variable") {
            let value = match var.get("value") {
                Some(v) => Some(substitute(v, ctx).map_err(ContextError::Substitution)?),
                None => None,
            };
            let mut result = match var.get("jmesPath").and_then(Value::as_str) {
                Some(path) => {
                    let path = match substitute_string(path, ctx).map_err(ContextError::Substitution)? {
                        Value::String(s) => s,
                        other => go_json(&other),
                    };
                    match &value {
                        Some(v) => query(&path, v),
                        None => ctx.query(&path),
                    }
                    .map_or(Value::Null, |v| v)
                }
                None => value.unwrap_or(Value::Null),
            };
            if result.is_null()
                && let Some(d) = var.get("default")
            {
                result = substitute(d, ctx).map_err(ContextError::Substitution)?;
            }
            if result.is_null() && var.get("default").is_none() && var.get("jmesPath").is_some() {
                return Err(ContextError::Empty(name.to_owned()));
            }
            ctx.set(name, result);
            continue;
        }
        let kind = ["apiCall", "configMap", "imageRegistry", "globalReference"]
            .into_iter()
            .find(|k| e.get(*k).is_some())
            .unwrap_or("unknown");
        return Err(ContextError::Offline { name: name.to_owned(), kind });
    }
    Ok(())
}

/// Evaluates a validate rule. `None` when Kyverno gives no response (a
/// `foreach` whose lists were all empty or missing).
pub(crate) fn validate_rule(rule: &Rule, ctx: &mut Context, provided: &Provided) -> Option<Response> {
    let v = Validator {
        rule_name: &rule.name,
        message: rule.validate().get("message").and_then(Value::as_str).unwrap_or(""),
        context: rule.raw.get("context"),
        preconditions: rule.raw.get("preconditions"),
        pattern: rule.validate().get("pattern"),
        any_pattern: rule.validate().get("anyPattern"),
        deny: rule.validate().get("deny"),
        foreach: rule.validate().get("foreach"),
        nesting: 0,
        provided,
        compiled: Some(rule.patterns()),
    };
    v.validate(ctx, None)
}

struct Validator<'a> {
    rule_name: &'a str,
    message: &'a str,
    context: Option<&'a Value>,
    preconditions: Option<&'a Value>,
    pattern: Option<&'a Value>,
    any_pattern: Option<&'a Value>,
    deny: Option<&'a Value>,
    foreach: Option<&'a Value>,
    nesting: usize,
    provided: &'a Provided,
    /// This block's patterns compiled when the policy loaded; a pattern it
    /// lacks is resolved and compiled per object.
    compiled: Option<&'a CompiledPatterns>,
}

impl Validator<'_> {
    fn response(&self, status: Status, message: String, path: Option<String>) -> Response {
        Response { rule: self.rule_name.to_string(), status, message, path }
    }

    fn validate(&self, ctx: &mut Context, element: Option<&Value>) -> Option<Response> {
        if let Err(e) = load_context(self.context, ctx, self.provided) {
            return Some(self.response(Status::Error, format!("failed to load context: {e}"), None));
        }
        match conditions(self.preconditions.unwrap_or(&Value::Null), ctx) {
            Err(e) => {
                return Some(self.response(Status::Error, format!("failed to evaluate preconditions: {e}"), None));
            }
            Ok((false, msg)) => {
                let m = if msg.is_empty() {
                    "preconditions not met".to_string()
                } else {
                    format!("preconditions not met; {msg}")
                };
                return Some(self.response(Status::Skip, m, None));
            }
            Ok((true, _)) => {}
        }
        if let Some(deny) = self.deny {
            return Some(self.validate_deny(deny, ctx));
        }
        if self.pattern.is_some() || self.any_pattern.is_some() {
            return Some(self.validate_patterns(ctx, element));
        }
        if let Some(fe) = self.foreach {
            return self.validate_foreach(fe, ctx);
        }
        Some(self.response(Status::Error, "the rule has no pattern, anyPattern, deny or foreach".into(), None))
    }

    fn substituted_message(&self, ctx: &Context) -> Result<String, SubstitutionError> {
        match substitute_string(self.message, ctx)? {
            Value::String(s) => Ok(s),
            _ => Ok("the produced message didn't resolve to a string, check your policy definition.".into()),
        }
    }

    fn validate_deny(&self, deny: &Value, ctx: &Context) -> Response {
        match conditions(deny.get("conditions").unwrap_or(&Value::Null), ctx) {
            Err(e) => self.response(Status::Error, format!("failed to check deny conditions: {e}"), None),
            Ok((false, _)) => {
                self.response(Status::Pass, format!("validation rule '{}' passed.", self.rule_name), None)
            }
            Ok((true, msg)) => {
                let m = if self.message.is_empty() && msg.is_empty() {
                    format!("validation error: rule {} failed", self.rule_name)
                } else {
                    let joined = [self.message, msg.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("; ");
                    match substitute_string(&joined, ctx) {
                        Ok(Value::String(s)) => s,
                        Ok(_) => {
                            "the produced message didn't resolve to a string, check your policy definition.".into()
                        }
                        Err(_) => msg,
                    }
                };
                self.response(Status::Fail, m, None)
            }
        }
    }

    fn error_message(&self, ctx: &Context, detail: &str, path: Option<&str>) -> String {
        if self.message.is_empty() {
            return match path {
                Some(p) => format!("validation error: rule {} failed at path {p}", self.rule_name),
                None => format!("validation error: rule {} execution error: {detail}", self.rule_name),
            };
        }
        match self.substituted_message(ctx) {
            Err(_) => format!(
                "validation error: variables substitution error in rule {} execution error: {detail}",
                self.rule_name
            ),
            Ok(mut m) => {
                if !m.ends_with('.') {
                    m.push('.');
                }
                match path {
                    Some(p) => format!("validation error: {m} rule {} failed at path {p}", self.rule_name),
                    None => format!("validation error: {m} rule {} execution error: {detail}", self.rule_name),
                }
            }
        }
    }

    fn validate_patterns(&self, ctx: &Context, element: Option<&Value>) -> Response {
        // Patterns see the object as decoded from YAML (integers stay
        // integers), as Kyverno matches the unstructured resource.
        let target: &Value = if let Some(e) = element {
            e
        } else {
            if ctx.operation() == "DELETE" {
                return self.response(Status::Skip, "DELETE requests are not validated by patterns".into(), None);
            }
            ctx.object().unwrap_or(&Value::Null)
        };
        if let Some(p) = self.pattern {
            let resolved;
            let p = match self.compiled.and_then(|c| c.pattern.as_ref()) {
                Some(p) => p,
                None => match resolved_pattern(p, ctx) {
                    Ok(p) => {
                        resolved = Pattern::from_value(p);
                        &resolved
                    }
                    Err(e) => {
                        let message = format!("variable substitution failed: {}", e.message);
                        return self.response(Status::Error, message, None);
                    }
                },
            };
            return match match_compiled(target, p) {
                Verdict::Pass => {
                    self.response(Status::Pass, format!("validation rule '{}' passed.", self.rule_name), None)
                }
                Verdict::Skip(m) => self.response(Status::Skip, m, None),
                Verdict::Error(m) => self.response(Status::Error, self.error_message(ctx, &m, None), None),
                Verdict::Fail { path, message } => {
                    let msg = self.error_message(ctx, &message, Some(&path));
                    self.response(Status::Fail, msg, Some(path))
                }
            };
        }
        let resolved: Vec<Pattern>;
        let patterns = if let Some(patterns) = self.compiled.and_then(|c| c.any_pattern.as_deref()) {
            patterns
        } else {
            let ap = match resolved_pattern(self.any_pattern.unwrap_or(&Value::Null), ctx) {
                Ok(p) => p,
                Err(e) => {
                    let message = format!("variable substitution failed: {}", e.message);
                    return self.response(Status::Error, message, None);
                }
            };
            let Value::Array(patterns) = ap else {
                let message = "failed to deserialize anyPattern, expected type array".into();
                return self.response(Status::Error, message, None);
            };
            resolved = patterns.into_iter().map(Pattern::from_value).collect();
            &resolved
        };
        let mut failed = Vec::new();
        let mut skipped = Vec::new();
        let mut first_path = None;
        for (i, p) in patterns.iter().enumerate() {
            match match_compiled(target, p) {
                Verdict::Pass => {
                    return self.response(
                        Status::Pass,
                        format!("validation rule '{}' anyPattern[{i}] passed.", self.rule_name),
                        None,
                    );
                }
                Verdict::Skip(m) => skipped.push(format!("rule {}[{i}] skipped: {m}", self.rule_name)),
                Verdict::Error(m) => failed.push(format!("rule {}[{i}] failed: {m}", self.rule_name)),
                Verdict::Fail { path, .. } => {
                    failed.push(format!("rule {}[{i}] failed at path {path}", self.rule_name));
                    first_path.get_or_insert(path);
                }
            }
        }
        if failed.is_empty() && !skipped.is_empty() {
            return self.response(Status::Skip, skipped.join(" "), None);
        }
        if !failed.is_empty() {
            let errs = failed.join(" ");
            let msg = if self.message.is_empty() {
                format!("validation error: {errs}")
            } else {
                match self.substituted_message(ctx) {
                    Ok(m) if m.ends_with('.') => format!("validation error: {m} {errs}"),
                    Ok(m) => format!("validation error: {m}. {errs}"),
                    Err(_) => format!(
                        "validation error: variables substitution error in rule {} execution error: {errs}",
                        self.rule_name
                    ),
                }
            };
            return self.response(Status::Fail, msg, first_path);
        }
        self.response(Status::Pass, self.message.to_string(), None)
    }

    fn validate_foreach(&self, foreach: &Value, ctx: &mut Context) -> Option<Response> {
        let Value::Array(loops) = foreach else {
            return Some(self.response(Status::Error, "validate.foreach must be a list".into(), None));
        };
        let mut applied = 0;
        let mut list_error: Option<String> = None;
        for (at, fe) in loops.iter().enumerate() {
            let list_expr = fe.get("list").and_then(Value::as_str).unwrap_or("");
            let elements = match substitute_string(list_expr, ctx).and_then(|v| match v {
                Value::String(s) => ctx.query(&s).map_err(|e| SubstitutionError::query(e.to_string(), &e)),
                other => Ok(other),
            }) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => Vec::new(),
                Ok(other) => vec![other],
                Err(e) => {
                    if e.unresolved {
                        continue;
                    }
                    list_error = Some(e.message);
                    continue;
                }
            };
            let compiled = self.compiled.and_then(|c| c.foreach.get(at));
            let (resp, count) = self.validate_elements(fe, compiled, &elements, ctx);
            if resp.status != Status::Pass {
                return Some(resp);
            }
            applied += count;
        }
        if applied == 0 {
            return list_error.map(|e| self.response(Status::Error, format!("failed to evaluate list: {e}"), None));
        }
        Some(self.response(Status::Pass, "rule passed".into(), None))
    }

    fn validate_elements(
        &self,
        fe: &Value,
        compiled: Option<&CompiledPatterns>,
        elements: &[Value],
        ctx: &Context,
    ) -> (Response, usize) {
        let mut applied = 0;
        let element_scope = fe.get("elementScope").and_then(Value::as_bool);
        for (index, element) in elements.iter().enumerate() {
            if ctx.expired() {
                let msg = format!(
                    "the evaluation ran over its {} s budget in `foreach` (element {index} of {}); tollgate stopped it",
                    RULE_BUDGET.as_secs(),
                    elements.len()
                );
                return (self.response(Status::Error, msg, None), applied);
            }
            if element.is_null() {
                continue;
            }
            let mut ectx = ctx.clone();
            ectx.set("element", element.clone());
            ectx.set("elementIndex", crate::jmespath::num(index as f64));
            // `element0`, `element1`, ... name the elements of each level.
            ectx.set(&format!("element{}", self.nesting), element.clone());
            ectx.set(&format!("elementIndex{}", self.nesting), crate::jmespath::num(index as f64));
            // Patterns apply to the element when it is an object (unless
            // `elementScope: false`).
            let scoped = match element_scope {
                Some(true) if !element.is_object() => {
                    let msg = format!(
                        "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps (element {index} is {})",
                        crate::value::go_json(element)
                    );
                    return (self.response(Status::Error, msg, None), applied);
                }
                Some(s) => s,
                None => element.is_object(),
            };
            let v = Validator {
                rule_name: self.rule_name,
                message: self.message,
                context: fe.get("context"),
                preconditions: fe.get("preconditions"),
                pattern: fe.get("pattern"),
                any_pattern: fe.get("anyPattern"),
                deny: fe.get("deny"),
                foreach: fe.get("foreach"),
                nesting: self.nesting + 1,
                provided: self.provided,
                compiled,
            };
            let r = v.validate(&mut ectx, if scoped { Some(element) } else { None });
            let Some(r) = r else { continue };
            match r.status {
                // Skipped elements, and elements whose preconditions cannot
                // be evaluated, do not count.
                Status::Skip => {}
                Status::Pass => applied += 1,
                // On the message text, deliberately: Kyverno decides this
                // with `strings.Contains(r.Message(), "failed to evaluate
                // preconditions")` (validate_resource.go), so a nested
                // element's error wrapped in another message counts too. A
                // typed status would disagree with Kyverno there.
                Status::Error if r.message.contains("failed to evaluate preconditions") => {}
                _ => {
                    // A `deny` has no failure path: point at the element's
                    // field its conditions test, when they test one.
                    let inner = r.path.clone().or_else(|| {
                        (r.status == Status::Fail && fe.get("deny").is_some())
                            .then(|| denied_field(fe.get("deny").unwrap_or(&Value::Null)))
                    });
                    let mut resp = self.response(r.status, format!("validation failure: {}", r.message), None);
                    resp.path = inner.and_then(|p| element_path(fe, index, &p));
                    return (resp, applied);
                }
            }
        }
        (self.response(Status::Pass, String::new(), None), applied)
    }
}

/// The one field of `element` a `deny` block's conditions test
/// (`/image/` for `element.image`), or the element itself (`/`).
fn denied_field(deny: &Value) -> String {
    static FIELD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\belement\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
            .expect("a constant pattern, compiled by the denied-field unit test")
    });
    let re = &*FIELD;
    let text = deny.to_string();
    let fields: std::collections::BTreeSet<&str> =
        re.captures_iter(&text).filter_map(|c| c.get(1)).map(|m| m.as_str()).collect();
    match fields.iter().next() {
        Some(f) if fields.len() == 1 => format!("/{}/", f.replace('.', "/")),
        _ => "/".to_owned(),
    }
}

/// The resource path of a failure inside a foreach element: the list's
/// `request.object.a.b` path, the element index, then the path inside the
/// element (`/spec/containers/1/image/`); `None` when the list is not such
/// a plain path (a multi-select, a filter).
fn element_path(fe: &Value, index: usize, inner: &str) -> Option<String> {
    let list = fe.get("list").and_then(Value::as_str).unwrap_or("").trim();
    let list = list.trim_start_matches("{{").trim_end_matches("}}").trim();
    if let Some(rest) = list.strip_prefix("request.object.")
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
    {
        let mut p = String::from("/");
        for seg in rest.split('.') {
            p.push_str(seg);
            p.push('/');
        }
        p.push_str(&index.to_string());
        p.push_str(inner);
        return Some(p);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_denied_foreach_element_points_at_the_field_it_tests() {
        let deny = json!({"conditions": {"any": [{"key": "{{ ends_with(element.image, ':latest') }}", "operator": "Equals", "value": true}]}});
        assert_eq!(denied_field(&deny), "/image/");
        let two = json!({"conditions": {"any": [{"key": "{{ element.name }}{{ element.image }}"}]}});
        assert_eq!(denied_field(&two), "/");
        let fe = json!({"list": "request.object.spec.template.spec.containers"});
        assert_eq!(element_path(&fe, 1, "/image/").as_deref(), Some("/spec/template/spec/containers/1/image/"));
        let multi = json!({"list": "request.object.spec.[containers, initContainers][]"});
        assert_eq!(element_path(&multi, 1, "/image/"), None);
    }

    #[test]
    fn substitution_whole_and_embedded() {
        let ctx = Context::new(&json!({"metadata": {"name": "web", "labels": {"n": 3}}}), "CREATE");
        assert_eq!(substitute(&json!("{{ request.object.metadata.name }}"), &ctx), Ok(json!("web")));
        assert_eq!(substitute(&json!("name={{request.object.metadata.name}}!"), &ctx), Ok(json!("name=web!")));
        assert_eq!(substitute(&json!("n={{request.object.metadata.labels.n}}"), &ctx), Ok(json!("n=3")));
        assert_eq!(substitute(&json!("{{request.operation}}"), &ctx), Ok(json!("CREATE")));
        assert_eq!(substitute(&json!(r"\{{ not a var }}"), &ctx), Ok(json!("{{ not a var }}")));
        assert!(substitute(&json!("{{ request.object.metadata.missing }}"), &ctx).is_err());
    }

    #[test]
    fn conditions_any_all() {
        let ctx = Context::new(&json!({"spec": {"hostPID": true}}), "CREATE");
        let c = json!({"any": [{"key": "{{ request.object.spec.hostPID }}", "operator": "Equals", "value": true}]});
        assert_eq!(conditions(&c, &ctx), Ok((true, String::new())));
        let c = json!({"all": [{"key": "{{ request.operation }}", "operator": "AnyIn", "value": ["UPDATE"], "message": "not update"}]});
        assert_eq!(conditions(&c, &ctx), Ok((false, "not update".into())));
        let c = json!({"all": [{"key": "{{ request.object.spec.x }}", "operator": "Equals", "value": 1}]});
        let error = conditions(&c, &ctx).expect_err("an unresolved key").to_string();
        assert!(error.starts_with("failed to substitute variables in condition key: "), "{error}");
        let c = json!({"all": [{"key": 1, "operator": "Bigger", "value": 1}]});
        assert_eq!(conditions(&c, &ctx), Err(ConditionError::Operator("Bigger".into())));
        assert_eq!(
            conditions(&json!("x"), &ctx).map_err(|e| e.to_string()),
            Err("conditions must be a list or an object with `any`/`all`".into())
        );
    }

    fn rule(raw: Value) -> Rule {
        Rule::new("r".into(), raw, None)
    }

    #[test]
    fn fixed_patterns_are_compiled_when_the_rule_loads() {
        let r = rule(json!({"validate": {
        "pattern": {"spec": {"=(hostNetwork)": false}},
        "anyPattern": [{"a": "{{ request.operation }}"}, {"b": 1}],
        "foreach": [
            {"list": "request.object.spec.containers", "pattern": {"image": "*:*"}},
            {"list": "x", "foreach": [{"list": "y", "pattern": {"name": "$(../image)"}}]}
        ]}}));
        let c = r.patterns();
        assert_eq!(c.pattern, Some(Pattern::new(&json!({"spec": {"=(hostNetwork)": false}}))));
        // A variable or a reference anywhere in it: compiled per object.
        assert_eq!(c.any_pattern, None);
        assert_eq!(c.foreach.len(), 2);
        assert_eq!(c.foreach[0].pattern, Some(Pattern::new(&json!({"image": "*:*"}))));
        assert_eq!(c.foreach[1].foreach[0].pattern, None);
        // Both kinds judge the same: the compiled one, and the one resolved
        // per object.
        let pod = |image: &str| json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": image}]}});
        let foreach = rule(json!({"validate": {"foreach": [
            {"list": "request.object.spec.containers", "pattern": {"image": "*:*"}},
            {"list": "request.object.spec.containers", "pattern": {"image": "{{ element.name }}:*"}}
        ]}}));
        let status = |image: &str| {
            validate_rule(&foreach, &mut Context::new(&pod(image), "CREATE"), &Provided::new()).map(|r| r.status)
        };
        assert_eq!(status("a:1"), Some(Status::Pass));
        assert_eq!(status("b:1"), Some(Status::Fail), "the second pattern, resolved per element");
        assert_eq!(status("a"), Some(Status::Fail), "the first pattern, compiled at load");
    }

    #[test]
    fn nested_loops_end_at_the_budget() {
        // Three nested loops over 300 elements: 27 million iterations.
        let list: Vec<Value> = (0..300).map(|i| json!(i)).collect();
        let deny = json!({"conditions": {"any": [{"key": "{{ element }}", "operator": "Equals", "value": -1}]}});
        let r = rule(json!({"validate": {"foreach": [{"list": "request.object.items", "foreach": [{
            "list": "request.object.items", "foreach": [{"list": "request.object.items", "deny": deny}]}]}]}}));
        let mut ctx = Context::new(&json!({"items": list}), "CREATE");
        ctx.deadline = Some(std::time::Instant::now() + std::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        let response = validate_rule(&r, &mut ctx, &Provided::new()).expect("a response");
        assert_eq!(response.status, Status::Error, "{response:?}");
        assert!(response.message.contains("budget"), "{response:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn a_foreach_list_naming_what_is_not_there_is_no_list_but_a_bad_one_is_an_error() {
        let deny = json!({"conditions": {"any": [{"key": "{{ element }}", "operator": "Equals", "value": "x"}]}});
        let run = |list: &str| {
            let r = rule(json!({"validate": {"foreach": [{"list": list, "deny": deny.clone()}]}}));
            validate_rule(&r, &mut Context::new(&json!({"kind": "Pod", "spec": {}}), "CREATE"), &Provided::new())
                .map(|r| (r.status, r.message))
        };
        // A variable that does not resolve (a missing key, typed as such):
        // nothing to iterate, no error.
        assert_eq!(run("{{ request.object.spec.missing.names }}"), None);
        assert_eq!(run("nosuchvariable.items"), None);
        // Any other failure is the rule's error.
        let (status, message) = run("request.object.spec.[").expect("a response");
        assert_eq!(status, Status::Error, "{message}");
        assert!(message.starts_with("failed to evaluate list"), "{message}");
    }

    #[test]
    fn nested_foreach_element_scope_and_indices() {
        let r = rule(json!({"match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"foreach": [{
            "list": "request.object.spec.containers",
            "foreach": [{"list": "element.ports", "deny": {"conditions": {"any": [
                {"key": "{{ element.containerPort }}", "operator": "LessThan", "value": 1024}]}}}]}]}}));
        let pod = |port: i64| {
            json!({"kind": "Pod", "spec": {"containers": [
            {"name": "a", "ports": [{"containerPort": 8080}]}, {"name": "b", "ports": [{"containerPort": 9090}, {"containerPort": port}]}]}})
        };
        let run = |p: &Value| validate_rule(&r, &mut Context::new(p, "CREATE"), &Provided::new());
        assert_eq!(run(&pod(80)).map(|r| r.status), Some(Status::Fail));
        assert_eq!(run(&pod(8081)).map(|r| r.status), Some(Status::Pass));
        // No elements at all: no response (the CLI reports the rule as not applied).
        let empty = json!({"kind": "Pod", "spec": {"containers": []}});
        assert_eq!(run(&empty), None);
        // elementScope: true on non-object elements is an error.
        let strings = rule(json!({"validate": {"foreach": [{"list": "request.object.spec.containers[].name",
            "elementScope": true, "deny": {"conditions": {"any": [{"key": "{{ element }}", "operator": "Equals", "value": "x"}]}}}]}}));
        let r = validate_rule(&strings, &mut Context::new(&pod(80), "CREATE"), &Provided::new());
        assert_eq!(r.map(|r| r.status), Some(Status::Error));
        // element0 and elementIndex name the outer level inside the inner one.
        let outer = rule(json!({"validate": {"foreach": [{"list": "request.object.spec.containers",
            "foreach": [{"list": "element.ports", "deny": {"conditions": {"all": [
                {"key": "{{ element0.name }}", "operator": "Equals", "value": "b"},
                {"key": "{{ elementIndex1 }}", "operator": "Equals", "value": 1}]}}}]}]}}));
        let r = validate_rule(&outer, &mut Context::new(&pod(80), "CREATE"), &Provided::new());
        assert_eq!(r.map(|r| r.status), Some(Status::Fail));
    }

    #[test]
    fn pattern_references_resolve_within_the_pattern() {
        let p = json!({"spec": {"containers": [{"resources": {
            "requests": {"memory": "$(<=./../../limits/memory)", "cpu": "\\$(literal)"},
            "limits": {"memory": "2Gi"}}}]}});
        let out = substitute_references(&p).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(out.pointer("/spec/containers/0/resources/requests/memory"), Some(&json!("<=2Gi")));
        assert_eq!(out.pointer("/spec/containers/0/resources/requests/cpu"), Some(&json!("$(literal)")));
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"memory": "1Gi", "cpu": "$(literal)"}, "limits": {"memory": "2Gi"}}}]}});
        assert_eq!(crate::pattern::match_pattern(&pod, &out), Verdict::Pass);
        assert!(substitute_references(&json!({"a": "$(./missing)"})).is_err());
    }

    #[test]
    fn quoted_variable_names() {
        let mut ctx = Context::new(&json!({"metadata": {"name": "r"}}), "CREATE");
        ctx.set(r#"request.object.metadata.annotations."example.com/owner""#, json!("platform"));
        assert_eq!(ctx.query(r#"request.object.metadata.annotations."example.com/owner""#), Ok(json!("platform")));
        assert_eq!(ctx.query("request.object.metadata.name"), Ok(json!("r")));
    }

    #[test]
    fn context_variables() {
        let mut ctx = Context::new(&json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}), "CREATE");
        let entries = json!([{"name": "names", "variable": {"jmesPath": "request.object.spec.containers[].name"}},
                            {"name": "fixed", "variable": {"value": {"k": "{{ names[0] }}"}}}]);
        load_context(Some(&entries), &mut ctx, &Provided::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ctx.query("fixed.k"), Ok(json!("a")));
        let api = json!([{"name": "x", "apiCall": {"urlPath": "/api/v1/namespaces"}}]);
        assert_eq!(
            load_context(Some(&api), &mut ctx, &Provided::new()),
            Err(ContextError::Offline { name: "x".into(), kind: "apiCall" })
        );
        // A test's values for a part of the entry mock the lookup.
        let mut provided = Provided::new();
        provided.insert("x.data.k".into(), json!("v"));
        ctx.set("x.data.k", json!("v"));
        assert!(load_context(Some(&api), &mut ctx, &provided).is_ok());
        assert_eq!(ctx.query("x.data.k"), Ok(json!("v")));
    }
}
