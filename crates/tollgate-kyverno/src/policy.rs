//! Kyverno `ClusterPolicy`/`Policy` documents: loading, rule kinds, autogen
//! for Pod controllers, and `match`/`exclude` selection.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::pattern::wildcard;

/// How a rule can be evaluated offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `validate` with `pattern`, `anyPattern`, `deny`, `foreach` or `cel`.
    Validate,
    /// A `validate` tollgate does not evaluate (`podSecurity`,
    /// `manifests`, `assert`), named.
    UnsupportedValidate(&'static str),
    /// `mutate`, `generate`, `verifyImages`: not a validation.
    NotValidate(&'static str),
}

/// One rule, autogen rules included.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `name` (`autogen-<rule>` for generated rules).
    pub name: String,
    /// The rule as written (or as generated), JSON. Facts derived from it
    /// (kinds, substitutions, compiled CEL) are computed once by
    /// [`Rule::new`]: build a new rule rather than editing this one.
    pub raw: Value,
    /// What it is.
    pub kind: RuleKind,
    /// The rule it was generated from, for autogen rules.
    pub autogen_of: Option<String>,
    /// The kinds `match` can select (`None`: any kind), to skip rules
    /// cheaply before the full match.
    kinds: Option<Vec<String>>,
    /// A `validate.cel` rule, compiled once (or why it does not compile;
    /// the error's pointer is relative to the rule).
    pub cel: Option<Result<std::sync::Arc<crate::cel::CelRule>, crate::cel::CelCompileError>>,
    /// The `validate` block's patterns without variables or references,
    /// compiled once: used as written on every object, never searched again.
    patterns: std::sync::Arc<crate::eval::CompiledPatterns>,
}

impl Rule {
    /// A rule from its JSON form.
    pub fn new(name: String, raw: Value, autogen_of: Option<String>) -> Rule {
        let kinds = match_kinds(raw.get("match"));
        let cel = raw
            .pointer("/validate/cel")
            .filter(|c| c.is_object())
            .map(|_| crate::cel::CelRule::compile(&raw, "").map(std::sync::Arc::new));
        let validate = raw.get("validate").unwrap_or(&Value::Null);
        let patterns = std::sync::Arc::new(crate::eval::CompiledPatterns::new(validate));
        Rule { name, kind: rule_kind(&raw), raw, autogen_of, kinds, cel, patterns }
    }

    /// The patterns of the `validate` block compiled when it loaded.
    pub(crate) fn patterns(&self) -> &crate::eval::CompiledPatterns {
        &self.patterns
    }

    /// Whether the rule may select objects of `kind` (a cheap pre-check).
    pub fn may_select(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|ks| ks.iter().any(|k| k == kind))
    }
    /// The `validate` block.
    pub fn validate(&self) -> &Value {
        self.raw.get("validate").unwrap_or(&Value::Null)
    }

    /// `Enforce` or `Audit` for this rule (`validate.failureAction`, else the
    /// policy's `validationFailureAction`).
    pub fn failure_action<'a>(&'a self, policy: &'a Policy) -> &'a str {
        self.validate().get("failureAction").and_then(Value::as_str).unwrap_or(&policy.failure_action)
    }

    /// The action for an object in `namespace` (with `labels`): the first
    /// entry of the rule's `failureActionOverrides`, else of the policy's
    /// `validationFailureActionOverrides`, whose `namespaces` (wildcards) or
    /// `namespaceSelector` match; else [`Rule::failure_action`].
    pub fn failure_action_in<'a>(
        &'a self,
        policy: &'a Policy,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> &'a str {
        let overrides = self
            .validate()
            .get("failureActionOverrides")
            .and_then(Value::as_array)
            .or_else(|| policy.action_overrides.as_ref().and_then(Value::as_array));
        for o in overrides.into_iter().flatten() {
            let Some(action) = o.get("action").and_then(Value::as_str) else { continue };
            let by_name = o
                .get("namespaces")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().filter_map(Value::as_str).any(|n| wildcard(n, namespace)));
            let by_labels = o.get("namespaceSelector").is_some_and(|s| selector_matches(s, labels).unwrap_or(false));
            if by_name || by_labels {
                return action;
            }
        }
        self.failure_action(policy)
    }
}

/// A Kyverno policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` of a namespaced `Policy`.
    pub namespace: Option<String>,
    /// `ClusterPolicy` or `Policy`.
    pub kind: String,
    /// `spec.validationFailureAction` (default `Audit`).
    pub failure_action: String,
    /// `spec.validationFailureActionOverrides`.
    pub action_overrides: Option<Value>,
    /// `metadata.annotations`.
    pub annotations: Map<String, Value>,
    /// The rules, autogen rules appended.
    pub rules: Vec<Rule>,
    /// File the policy came from.
    pub path: String,
    /// Index of its document in the file.
    pub document: usize,
}

/// Whether a JSON object is a Kyverno validate-capable policy.
pub fn is_kyverno_policy(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    api.starts_with("kyverno.io/") && matches!(kind, "ClusterPolicy" | "Policy")
}

/// The kind of a `validate` block with none of the bodies Kyverno knows.
pub(crate) const NO_VALIDATE_BODY: &str = "validate without pattern, anyPattern, deny or foreach";

/// The `validate` key a misspelt one was meant to be, if one is close.
pub(crate) fn did_you_mean(key: &str) -> Option<&'static str> {
    const KEYS: &[&str] = &[
        "pattern",
        "anyPattern",
        "deny",
        "foreach",
        "cel",
        "podSecurity",
        "manifests",
        "assert",
        "message",
        "failureAction",
        "failureActionOverrides",
        "allowExistingViolations",
    ];
    if KEYS.contains(&key) {
        return None;
    }
    tollgate_core::closest(key, KEYS.iter().copied())
}

fn rule_kind(rule: &Value) -> RuleKind {
    if let Some(v) = rule.get("validate").filter(|v| v.is_object()) {
        if v.get("cel").is_some_and(Value::is_object) {
            return RuleKind::Validate;
        }
        if v.get("podSecurity").is_some() {
            return RuleKind::UnsupportedValidate("validate.podSecurity (Pod Security Standards)");
        }
        if v.get("manifests").is_some() {
            return RuleKind::UnsupportedValidate("validate.manifests (signed manifests)");
        }
        if v.get("assert").is_some() {
            return RuleKind::UnsupportedValidate("validate.assert");
        }
        if ["pattern", "anyPattern", "deny", "foreach"].iter().any(|k| v.get(*k).is_some()) {
            return RuleKind::Validate;
        }
        return RuleKind::UnsupportedValidate(NO_VALIDATE_BODY);
    }
    if rule.get("mutate").is_some() {
        RuleKind::NotValidate("mutate")
    } else if rule.get("generate").is_some() {
        RuleKind::NotValidate("generate")
    } else if rule.get("verifyImages").is_some() {
        RuleKind::NotValidate("verifyImages")
    } else {
        RuleKind::NotValidate("no validate block")
    }
}

/// What keeps a document from being read as a Kyverno policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPolicy {
    /// `metadata.name` is missing.
    #[error("the policy has no metadata.name")]
    NoName,
    /// `spec` is missing or not a mapping.
    #[error("policy `{0}` has no spec")]
    NoSpec(String),
    /// `spec.rules` is missing or not a list.
    #[error("policy `{0}` has no spec.rules")]
    NoRules(String),
    /// A rule has no `name`.
    #[error("policy `{policy}`: spec.rules[{index}] has no name")]
    UnnamedRule {
        /// The policy.
        policy: String,
        /// The rule's index in `spec.rules`.
        index: usize,
    },
}

impl Policy {
    /// Reads a policy from its JSON form; `Err` says what is wrong.
    pub fn from_json(doc: &Value, path: &str, document: usize) -> Result<Policy, InvalidPolicy> {
        let name = doc.pointer("/metadata/name").and_then(Value::as_str).ok_or(InvalidPolicy::NoName)?.to_string();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("ClusterPolicy").to_string();
        let spec = doc.get("spec").and_then(Value::as_object).ok_or_else(|| InvalidPolicy::NoSpec(name.clone()))?;
        let rules = spec.get("rules").and_then(Value::as_array).ok_or_else(|| InvalidPolicy::NoRules(name.clone()))?;
        let mut out = Vec::new();
        for (index, r) in rules.iter().enumerate() {
            let rname = r
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| InvalidPolicy::UnnamedRule { policy: name.clone(), index })?;
            out.push(Rule::new(rname.to_string(), r.clone(), None));
        }
        let annotations = doc.pointer("/metadata/annotations").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut policy = Policy {
            name,
            namespace: if kind == "Policy" {
                Some(doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string())
            } else {
                None
            },
            kind,
            failure_action: spec.get("validationFailureAction").and_then(Value::as_str).unwrap_or("Audit").to_string(),
            action_overrides: spec.get("validationFailureActionOverrides").cloned(),
            annotations,
            rules: out,
            path: path.to_string(),
            document,
        };
        policy.autogen();
        Ok(policy)
    }

    /// Adds Kyverno's Pod-controller rules (`autogen-<rule>`,
    /// `autogen-cronjob-<rule>`), as `pkg/autogen/v1` does.
    fn autogen(&mut self) {
        let Some(controllers) = self.autogen_controllers() else { return };
        let mut generated = Vec::new();
        let non_cron: Vec<&str> = controllers.iter().map(String::as_str).filter(|c| *c != "CronJob").collect();
        for rule in &self.rules {
            if rule.name.starts_with("autogen-") {
                continue;
            }
            if !non_cron.is_empty()
                && let Some(r) = generate(rule, &non_cron, false)
            {
                generated.push(r);
            }
            if controllers.iter().any(|c| c == "CronJob")
                && let Some(r) = generate(rule, &["CronJob"], true)
            {
                generated.push(r);
            }
        }
        self.rules.retain(|r| !r.name.starts_with("autogen-"));
        self.rules.extend(generated);
    }

    fn autogen_controllers(&self) -> Option<Vec<String>> {
        const ALL: [&str; 7] =
            ["DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController", "CronJob"];
        let mut needed = false;
        for rule in &self.rules {
            if rule.raw.get("generate").is_some() {
                return None;
            }
            for block in ["match", "exclude"] {
                let Some(m) = rule.raw.get(block) else { continue };
                for desc in descriptions(m) {
                    if desc.get("name").is_some_and(|n| n.as_str().is_some_and(|s| !s.is_empty()))
                        || desc.get("names").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
                        || desc.get("selector").is_some_and(|s| !s.is_null())
                        || desc.get("annotations").is_some_and(|s| !s.is_null())
                    {
                        return None;
                    }
                    let kinds = kinds_of(desc);
                    if kinds.len() > 1 && kinds.iter().any(|k| kind_name(k) == "Pod") {
                        return None;
                    }
                    needed |= kinds.iter().any(|k| kind_name(k) == "Pod" || ALL.contains(&kind_name(k)));
                }
            }
        }
        if !needed {
            return None;
        }
        let annotation = self.annotations.get("pod-policies.kyverno.io/autogen-controllers").and_then(Value::as_str);
        let list: Vec<String> = match annotation {
            None => ALL.iter().map(|s| (*s).to_string()).collect(),
            Some("none") => return None,
            Some("all") => ALL.iter().map(|s| (*s).to_string()).collect(),
            Some(s) => s.split(',').map(|c| c.trim().to_string()).filter(|c| ALL.contains(&c.as_str())).collect(),
        };
        if list.is_empty() { None } else { Some(list) }
    }
}

/// The kind names a `match` block can select; `None` when any kind can be
/// (a filter without kinds, or a wildcard kind).
fn match_kinds(block: Option<&Value>) -> Option<Vec<String>> {
    let block = block?;
    let mut filters: Vec<&Value> = Vec::new();
    let any: Vec<&Value> = block
        .get("any")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.get("resources")).collect())
        .unwrap_or_default();
    let all: Vec<&Value> = block
        .get("all")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.get("resources")).collect())
        .unwrap_or_default();
    if block.get("any").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        if any.len() != block["any"].as_array().map_or(0, Vec::len) {
            return None;
        }
        filters = any;
    } else if block.get("all").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        // Every filter must match: one with kinds is enough to restrict.
        filters = all.into_iter().filter(|d| !kinds_of(d).is_empty()).take(1).collect();
        if filters.is_empty() {
            return None;
        }
    } else if let Some(r) = block.get("resources") {
        filters.push(r);
    }
    let mut out = Vec::new();
    for d in filters {
        let kinds = kinds_of(d);
        if kinds.is_empty() {
            return None;
        }
        for k in kinds {
            let (_, _, kind, _) = parse_kind_selector(k);
            if kind.contains(['*', '?']) {
                return None;
            }
            out.push(kind.to_owned());
        }
    }
    Some(out)
}

/// The resource descriptions of a `match`/`exclude` block (`any`, `all`, or
/// the legacy top-level `resources`).
fn descriptions(block: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for key in ["any", "all"] {
        if let Some(a) = block.get(key).and_then(Value::as_array) {
            out.extend(a.iter().filter_map(|f| f.get("resources")));
        }
    }
    if let Some(r) = block.get("resources") {
        out.push(r);
    }
    out
}

fn kinds_of(desc: &Value) -> Vec<&str> {
    desc.get("kinds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn kind_name(k: &str) -> &str {
    let last = k.rsplit('/').next().unwrap_or(k);
    last.split('.').next().unwrap_or(last)
}

fn all_kinds(block: Option<&Value>) -> Vec<String> {
    block.map(|b| descriptions(b).into_iter().flat_map(kinds_of).map(str::to_string).collect()).unwrap_or_default()
}

fn generate(rule: &Rule, controllers: &[&str], cronjob: bool) -> Option<Rule> {
    let match_kinds = all_kinds(rule.raw.get("match"));
    let exclude_kinds = all_kinds(rule.raw.get("exclude"));
    if !match_kinds.iter().any(|k| kind_name(k) == "Pod")
        || (!exclude_kinds.is_empty() && !exclude_kinds.iter().any(|k| kind_name(k) == "Pod"))
    {
        return None;
    }
    let validate = rule.raw.get("validate")?;
    if !matches!(rule.kind, RuleKind::Validate | RuleKind::UnsupportedValidate(_)) {
        return None;
    }
    let kinds: Vec<Value> = controllers.iter().map(|c| Value::String((*c).to_string())).collect();
    let mut raw = rule.raw.clone();
    let prefix = if cronjob { "autogen-cronjob-" } else { "autogen-" };
    let mut name = format!("{prefix}{}", rule.name);
    name.truncate(63);
    raw["name"] = Value::String(name.clone());
    for block in ["match", "exclude"] {
        let Some(b) = raw.get_mut(block) else { continue };
        let mut replaced = false;
        for key in ["any", "all"] {
            if let Some(filters) = b.get_mut(key).and_then(Value::as_array_mut) {
                if filters.is_empty() {
                    continue;
                }
                for f in filters.iter_mut() {
                    let has_pod = f
                        .pointer("/resources/kinds")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|k| k.as_str().is_some_and(|k| kind_name(k) == "Pod")));
                    if (has_pod || cronjob)
                        && let Some(r) = f.get_mut("resources").and_then(Value::as_object_mut)
                    {
                        r.insert("kinds".into(), Value::Array(kinds.clone()));
                    }
                }
                replaced = true;
                break;
            }
        }
        if !replaced
            && let Some(r) = b.get_mut("resources").and_then(Value::as_object_mut)
            && (block == "match" || r.get("kinds").and_then(Value::as_array).is_some_and(|a| !a.is_empty()))
        {
            r.insert("kinds".into(), Value::Array(kinds.clone()));
        }
    }
    // Patterns are re-rooted under the template; deny/foreach keep their
    // shape and have their `request.object` paths rewritten below.
    let key = if cronjob { "jobTemplate" } else { "template" };
    let wrap = |p: &Value| -> Value {
        let inner = if cronjob { serde_json::json!({"spec": {"template": p}}) } else { p.clone() };
        serde_json::json!({"spec": {key: inner}})
    };
    let mut new_validate = validate.clone();
    if let Some(p) = validate.get("pattern") {
        new_validate["pattern"] = wrap(p);
    } else if let Some(Value::Array(ps)) = validate.get("anyPattern") {
        new_validate["anyPattern"] = Value::Array(ps.iter().map(wrap).collect());
    }
    raw["validate"] = new_validate;
    // Kyverno rewrites the serialised rule text (patterns, conditions,
    // foreach lists, messages alike).
    let cel = rule.raw.pointer("/validate/cel").is_some();
    let replacements: &[(&str, &str)] = if cel && cronjob {
        &[
            ("object.spec", "object.spec.jobTemplate.spec.template.spec"),
            ("oldObject.spec", "oldObject.spec.jobTemplate.spec.template.spec"),
            ("object.metadata", "object.spec.jobTemplate.spec.template.metadata"),
            ("oldObject.metadata", "oldObject.spec.jobTemplate.spec.template.metadata"),
        ]
    } else if cel {
        &[
            ("object.spec", "object.spec.template.spec"),
            ("oldObject.spec", "oldObject.spec.template.spec"),
            ("object.metadata", "object.spec.template.metadata"),
            ("oldObject.metadata", "oldObject.spec.template.metadata"),
        ]
    } else if cronjob {
        &[
            ("request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"),
            ("request.oldObject.spec", "request.oldObject.spec.jobTemplate.spec.template.spec"),
            ("request.object.metadata", "request.object.spec.jobTemplate.spec.template.metadata"),
            ("request.oldObject.metadata", "request.oldObject.spec.jobTemplate.spec.template.metadata"),
        ]
    } else {
        &[
            ("request.object.spec", "request.object.spec.template.spec"),
            ("request.oldObject.spec", "request.oldObject.spec.template.spec"),
            ("request.object.metadata", "request.object.spec.template.metadata"),
            ("request.oldObject.metadata", "request.oldObject.spec.template.metadata"),
        ]
    };
    let mut text = serde_json::to_string(&raw).unwrap_or_default();
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let raw: Value = serde_json::from_str(&text).unwrap_or(raw);
    Some(Rule::new(name, raw, Some(rule.name.clone())))
}

/// What an offline match knows about the request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// `CREATE`, `UPDATE`, `DELETE`.
    pub operation: String,
    /// Labels of the resource's namespace (`namespaceSelector`).
    pub namespace_labels: BTreeMap<String, String>,
    /// `roles` of the requesting user.
    pub roles: Vec<String>,
    /// `clusterRoles` of the requesting user.
    pub cluster_roles: Vec<String>,
    /// `username`.
    pub username: String,
    /// `groups`.
    pub groups: Vec<String>,
}

impl RequestInfo {
    fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.cluster_roles.is_empty() && self.username.is_empty() && self.groups.is_empty()
    }
}

/// Group, version and kind of a resource.
pub(crate) fn gvk(resource: &Value) -> (&str, &str, &str) {
    let api = resource.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api.rsplit_once('/').map_or(("", api), |(g, v)| (g, v));
    (group, version, resource.get("kind").and_then(Value::as_str).unwrap_or(""))
}

fn is_version(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let Some(rest) = s.strip_prefix('v') else { return false };
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    if digits == 0 {
        return false;
    }
    let tail = &rest[digits..];
    tail.is_empty()
        || ["alpha", "beta"]
            .iter()
            .any(|p| tail.strip_prefix(p).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// Kyverno's `ParseKindSelector`: (group, version, kind, subresource).
/// A kind selector's group, version, kind and subresource (`*` where it
/// names none), borrowed from `input`: it runs for every rule on every object.
fn parse_kind_selector(input: &str) -> (&str, &str, &str, &str) {
    // At most four parts count; a fifth makes the selector match nothing.
    let mut parts: [&str; 5] = [""; 5];
    let mut n = 0;
    let (head, last) = input.rsplit_once('/').map_or((None, input), |(h, l)| (Some(h), l));
    for part in head.into_iter().flat_map(|h| h.split('/')).chain(last.split('.')) {
        if n == parts.len() {
            break;
        }
        parts[n] = part;
        n += 1;
    }
    // `to_lowercase() == b`, without allocating.
    let lower = |s: &str| s.chars().all(|c| c.to_lowercase().eq(std::iter::once(c)));
    match &parts[..n] {
        [k] => ("*", "*", k, ""),
        [a, b] => {
            if *a == "*" && *b == "*" {
                ("*", "*", "*", "*")
            } else if *a == "*" && lower(b) {
                ("*", "*", a, b)
            } else if is_version(a) {
                ("*", a, b, "")
            } else {
                ("*", "*", a, b)
            }
        }
        [a, b, c] => {
            if is_version(a) {
                ("*", a, b, c)
            } else {
                (a, b, c, "")
            }
        }
        [a, b, c, d] => (a, b, c, d),
        _ => ("", "", "", ""),
    }
}

fn check_kinds(kinds: &[&str], resource: &Value, kind_only: bool) -> bool {
    let (g, v, k) = gvk(resource);
    kinds.iter().any(|sel| {
        let (sg, sv, sk, sub) = parse_kind_selector(sel);
        let gv_ok = kind_only || (wildcard(sg, g) && wildcard(sv, v));
        gv_ok && wildcard(sk, k) && wildcard(sub, "")
    })
}

pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// Why a label selector cannot be used (it then selects nothing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectorError {
    #[error("matchExpressions entry without key")]
    NoKey,
    #[error("matchExpressions entry without operator")]
    NoOperator,
    #[error("unknown selector operator `{0}`")]
    UnknownOperator(String),
}

/// A Kubernetes label selector (with Kyverno's wildcards in `matchLabels`).
pub(crate) fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> Result<bool, SelectorError> {
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            let v = v.as_str().unwrap_or("");
            let ok = if k.contains(['*', '?']) || v.contains(['*', '?']) {
                labels.iter().any(|(lk, lv)| wildcard(k, lk) && wildcard(v, lv))
            } else {
                labels.get(k).is_some_and(|lv| lv == v)
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).ok_or(SelectorError::NoKey)?;
            let op = e.get("operator").and_then(Value::as_str).ok_or(SelectorError::NoOperator)?;
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = labels.get(key);
            let ok = match op {
                "In" => have.is_some_and(|h| values.contains(&h.as_str())),
                "NotIn" => have.is_none_or(|h| !values.contains(&h.as_str())),
                "Exists" => have.is_some(),
                "DoesNotExist" => have.is_none(),
                other => return Err(SelectorError::UnknownOperator(other.to_owned())),
            };
            if !ok {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn description_matches(
    desc: &Value,
    user: Option<&Value>,
    resource: &Value,
    req: &RequestInfo,
    kind_only: bool,
) -> bool {
    let empty_desc = desc.as_object().is_none_or(Map::is_empty);
    let user_fields = user.filter(|u| ["roles", "clusterRoles", "subjects"].iter().any(|k| u.get(*k).is_some()));
    if empty_desc && user_fields.is_none() {
        return false;
    }
    if let Some(ops) = desc.get("operations").and_then(Value::as_array)
        && !ops.is_empty()
        && !ops.iter().any(|o| o.as_str() == Some(req.operation.as_str()))
    {
        return false;
    }
    let kinds = kinds_of(desc);
    if !kinds.is_empty() && !check_kinds(&kinds, resource, kind_only) {
        return false;
    }
    let meta = resource.get("metadata");
    let name = meta
        .and_then(|m| m.get("name").and_then(Value::as_str).or_else(|| m.get("generateName").and_then(Value::as_str)))
        .unwrap_or("");
    if let Some(n) = desc.get("name").and_then(Value::as_str).filter(|n| !n.is_empty())
        && !wildcard(n, name)
    {
        return false;
    }
    if let Some(names) = desc.get("names").and_then(Value::as_array).filter(|a| !a.is_empty())
        && !names.iter().filter_map(Value::as_str).any(|n| wildcard(n, name))
    {
        return false;
    }
    if let Some(nss) = desc.get("namespaces").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
        let ns = if kind == "Namespace" {
            name
        } else {
            meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).unwrap_or("")
        };
        if !nss.iter().filter_map(Value::as_str).any(|n| wildcard(n, ns)) {
            return false;
        }
    }
    if let Some(want) = desc.get("annotations").and_then(Value::as_object) {
        let annotations = string_map(meta.and_then(|m| m.get("annotations")));
        for (k, v) in want {
            let v = v.as_str().unwrap_or("");
            if !annotations.iter().any(|(ak, av)| wildcard(k, ak) && wildcard(v, av)) {
                return false;
            }
        }
    }
    if let Some(sel) = desc.get("selector").filter(|s| !s.is_null()) {
        let labels = string_map(meta.and_then(|m| m.get("labels")));
        if !selector_matches(sel, &labels).unwrap_or(false) {
            return false;
        }
    }
    if let Some(sel) = desc.get("namespaceSelector").filter(|s| !s.is_null()) {
        let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind == "Namespace" || !selector_matches(sel, &req.namespace_labels).unwrap_or(false) {
            return false;
        }
    }
    if let Some(u) = user_fields {
        let list = |k: &str| -> Vec<String> {
            u.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        let roles = list("roles");
        if !roles.is_empty() && !roles.iter().any(|r| req.roles.contains(r)) {
            return false;
        }
        let croles = list("clusterRoles");
        if !croles.is_empty() && !croles.iter().any(|r| req.cluster_roles.contains(r)) {
            return false;
        }
        if let Some(subjects) = u.get("subjects").and_then(Value::as_array).filter(|a| !a.is_empty()) {
            let ok = subjects.iter().any(|s| {
                let sname = s.get("name").and_then(Value::as_str).unwrap_or("");
                match s.get("kind").and_then(Value::as_str).unwrap_or("") {
                    "ServiceAccount" => {
                        let ns = s.get("namespace").and_then(Value::as_str).unwrap_or("");
                        req.username == format!("system:serviceaccount:{ns}:{sname}")
                    }
                    "User" => wildcard(sname, &req.username),
                    "Group" => req.groups.iter().any(|g| wildcard(sname, g)),
                    _ => false,
                }
            });
            if !ok {
                return false;
            }
        }
    }
    true
}

/// The `(resources, filter)` pairs of `block.any`/`block.all`: the filter
/// object itself carries the user-info fields.
static NULL: Value = Value::Null;

fn filters<'a>(block: &'a Value, key: &str) -> Vec<(&'a Value, &'a Value)> {
    block
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|f| (f.get("resources").unwrap_or(&NULL), f)).collect())
        .unwrap_or_default()
}

fn user_for<'v>(req: &RequestInfo, filter: &'v Value) -> Option<&'v Value> {
    if req.is_empty() { None } else { Some(filter) }
}

/// Whether `rule` selects `resource`: `match` holds and `exclude` does not
/// (Kyverno's `MatchesResourceDescription`).
pub fn rule_selects(rule: &Rule, policy: &Policy, resource: &Value, req: &RequestInfo) -> bool {
    if !rule.may_select(resource.get("kind").and_then(Value::as_str).unwrap_or("")) {
        return false;
    }
    if let Some(ns) = &policy.namespace
        && resource.pointer("/metadata/namespace").and_then(Value::as_str) != Some(ns.as_str())
    {
        return false;
    }
    // Autogen rules match controllers by kind (resources in tests often
    // carry a loose apiVersion).
    let kind_only = rule.autogen_of.is_some();
    let Some(m) = rule.raw.get("match") else { return false };
    // Without user information the match's user fields are ignored (the
    // Kyverno CLI clears them); exclusions keep them, so they never match.
    let any = filters(m, "any");
    let all = filters(m, "all");
    let matched = if !any.is_empty() {
        any.iter().any(|(d, u)| description_matches(d, user_for(req, u), resource, req, kind_only))
    } else if !all.is_empty() {
        all.iter().all(|(d, u)| description_matches(d, user_for(req, u), resource, req, kind_only))
    } else {
        description_matches(m.get("resources").unwrap_or(&NULL), user_for(req, m), resource, req, kind_only)
    };
    if !matched {
        return false;
    }
    let Some(x) = rule.raw.get("exclude").filter(|x| x.as_object().is_some_and(|o| !o.is_empty())) else { return true };
    let any = filters(x, "any");
    let all = filters(x, "all");
    let excluded = if !any.is_empty() {
        any.iter().any(|(d, u)| description_matches(d, Some(u), resource, req, kind_only))
    } else if !all.is_empty() {
        all.iter().all(|(d, u)| description_matches(d, Some(u), resource, req, kind_only))
    } else {
        description_matches(x.get("resources").unwrap_or(&NULL), Some(x), resource, req, kind_only)
    };
    !excluded
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[allow(clippy::needless_pass_by_value)]
    fn policy(rules: Value, annotations: Value) -> Policy {
        let doc = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
            "metadata": {"name": "p", "annotations": annotations}, "spec": {"rules": rules}});
        Policy::from_json(&doc, "p.yaml", 0).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn autogen_rules_for_pod_policies() {
        let p = policy(
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {"pattern": {"spec": {"containers": [{"image": "*:*"}]}}}}]),
            json!({}),
        );
        let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r", "autogen-r", "autogen-cronjob-r"]);
        assert_eq!(
            p.rules[1].raw["validate"]["pattern"],
            json!({"spec": {"template": {"spec": {"containers": [{"image": "*:*"}]}}}})
        );
        assert_eq!(
            p.rules[2].raw["validate"]["pattern"],
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": "*:*"}]}}}}}})
        );
        let deploy = json!({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "d"}});
        let req = RequestInfo { operation: "CREATE".into(), ..Default::default() };
        assert!(rule_selects(&p.rules[1], &p, &deploy, &req));
        assert!(!rule_selects(&p.rules[0], &p, &deploy, &req));
        let only = policy(
            json!([{"name": "r", "match": {"resources": {"kinds": ["Pod"]}}, "validate": {"deny": {}}}]),
            json!({"pod-policies.kyverno.io/autogen-controllers": "Deployment"}),
        );
        assert_eq!(only.rules.len(), 2);
        let none = policy(
            json!([{"name": "r", "match": {"resources": {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}}}, "validate": {"deny": {}}}]),
            json!({}),
        );
        assert_eq!(none.rules.len(), 1);
    }

    #[test]
    fn deny_paths_are_rewritten_for_controllers() {
        let p = policy(
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {"deny": {"conditions": {"any": [{"key": "{{ request.object.spec.hostPID }}", "operator": "Equals", "value": true}]}}}}]),
            json!({}),
        );
        assert_eq!(
            p.rules[1].raw.pointer("/validate/deny/conditions/any/0/key"),
            Some(&json!("{{ request.object.spec.template.spec.hostPID }}"))
        );
    }

    #[test]
    fn failure_action_overrides_by_namespace() {
        let doc = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
            "spec": {"validationFailureAction": "Audit",
                "validationFailureActionOverrides": [{"action": "Enforce", "namespaces": ["prod-*"]}],
                "rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"deny": {}}},
                          {"name": "s", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"deny": {},
                            "failureActionOverrides": [{"action": "Enforce", "namespaceSelector": {"matchLabels": {"tier": "prod"}}}]}}]}});
        let p = Policy::from_json(&doc, "p.yaml", 0).unwrap_or_else(|e| panic!("{e}"));
        let none = BTreeMap::new();
        assert_eq!(p.rules[0].failure_action_in(&p, "prod-eu", &none), "Enforce");
        assert_eq!(p.rules[0].failure_action_in(&p, "dev", &none), "Audit");
        let prod = BTreeMap::from([("tier".to_owned(), "prod".to_owned())]);
        assert_eq!(p.rules[1].failure_action_in(&p, "any", &prod), "Enforce");
        assert_eq!(p.rules[1].failure_action_in(&p, "prod-eu", &none), "Audit");
    }

    #[test]
    fn match_and_exclude() {
        let p = policy(
            json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["apps/v1/Deployment"], "namespaces": ["prod-*"]}}]},
                "exclude": {"any": [{"resources": {"names": ["skip-*"]}}]},
                "validate": {"deny": {}}}]),
            json!({}),
        );
        let req = RequestInfo { operation: "CREATE".into(), ..Default::default() };
        let d = |name: &str, ns: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}});
        assert!(rule_selects(&p.rules[0], &p, &d("a", "prod-1"), &req));
        assert!(!rule_selects(&p.rules[0], &p, &d("a", "dev"), &req));
        assert!(!rule_selects(&p.rules[0], &p, &d("skip-a", "prod-1"), &req));
        assert_eq!(parse_kind_selector("Pod/status"), ("*", "*", "Pod", "status"));
        assert_eq!(parse_kind_selector("v1/Pod"), ("*", "v1", "Pod", ""));
        assert_eq!(parse_kind_selector("Pod"), ("*", "*", "Pod", ""));
        assert_eq!(parse_kind_selector("*/*"), ("*", "*", "*", "*"));
        assert_eq!(parse_kind_selector("*/scale"), ("*", "*", "*", "scale"));
        assert_eq!(parse_kind_selector("apps/v1/Deployment"), ("apps", "v1", "Deployment", ""));
        assert_eq!(parse_kind_selector("v1/Pod.status"), ("*", "v1", "Pod", "status"));
        assert_eq!(
            parse_kind_selector("networking.k8s.io/v1/Ingress/status"),
            ("networking.k8s.io", "v1", "Ingress", "status")
        );
        // An empty part is kept (it matches only the empty string), and a
        // fifth part makes the selector match nothing.
        assert_eq!(parse_kind_selector("/Pod"), ("*", "*", "", "Pod"));
        assert_eq!(parse_kind_selector("a/b/c/d/e"), ("", "", "", ""));
    }
}
