//! tollgate's Kyverno gate: a native evaluator of Kyverno `ClusterPolicy` /
//! `Policy` validate rules — `match`/`exclude`, `preconditions`, `pattern`
//! and `anyPattern` with every anchor, `deny` conditions, `foreach`, `{{ }}`
//! JMESPath variables with Kyverno's functions, and Pod-controller autogen —
//! so that Kyverno's verdicts are available in CI without a cluster or a Go
//! binary, pointing at the exact node a pattern rejected.
//!
//! ```
//! use tollgate_kyverno::{EvalInput, Policy, Status, evaluate_policy};
//! let policy = serde_json::json!({
//!     "apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
//!     "metadata": {"name": "disallow-latest-tag"},
//!     "spec": {"rules": [{"name": "require-tag",
//!         "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
//!         "validate": {"pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}]}
//! });
//! let policy = Policy::from_json(&policy, "policy.yaml", 0).unwrap();
//! let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app", "image": "nginx:latest"}]}});
//! let responses = evaluate_policy(&policy, &pod, &EvalInput::default());
//! assert_eq!(responses[0].status, Status::Fail);
//! assert_eq!(responses[0].path.as_deref(), Some("/spec/containers/0/image/"));
//! ```

// Exact float comparison is Kyverno's semantics (Go compares float64 with
// `==`), and the Go-mirroring helpers use short names for operands.
#![allow(clippy::float_cmp, clippy::many_single_char_names)]

mod builtin;
pub mod cel;
mod conditions;
mod engine;
mod eval;
mod functions;
mod images;
pub mod jmespath;
mod pattern;
mod policy;
mod testing;
mod value;

use std::collections::HashMap;

use serde_json::{Map, Value};

pub use builtin::{BUILTIN_POLICY_SETS, BuiltinPolicySet, builtin_policy_set};
pub use conditions::{Operator, evaluate as evaluate_condition};
pub use engine::{KyvernoEngine, KyvernoOptions};
pub use eval::{Context, Response, Status};
pub use pattern::{Verdict, match_pattern, value_matches};
pub use policy::{InvalidPolicy, Policy, RequestInfo, Rule, RuleKind, is_kyverno_policy, rule_selects};
pub use testing::{CaseOutcome, RowOutcome, TestFileOutcome, find_kyverno_tests, is_namespaced, run_test_file};

/// What an evaluation knows beyond the resource.
#[derive(Debug, Clone)]
pub struct EvalInput {
    /// Operation, user and namespace labels of the (simulated) request.
    pub request: RequestInfo,
    /// Variables set in the context (`request.operation`, values files).
    pub variables: Vec<(String, Value)>,
    /// Values per rule name: they also stand in for `context` entries of
    /// the same name (how tests mock `apiCall`/`configMap` offline).
    pub rule_values: HashMap<String, Map<String, Value>>,
    /// PolicyExceptions, shared by every input of a run (not copied per object).
    pub exceptions: std::sync::Arc<Vec<Exception>>,
    /// What CEL expressions see besides the resource.
    pub cel: cel::CelInput,
}

impl Default for EvalInput {
    fn default() -> Self {
        EvalInput {
            request: RequestInfo { operation: "CREATE".into(), ..RequestInfo::default() },
            variables: Vec::new(),
            rule_values: HashMap::new(),
            exceptions: std::sync::Arc::default(),
            cel: cel::CelInput::default(),
        }
    }
}

/// A `PolicyException`: named rules of a policy do not apply to matching
/// resources.
#[derive(Debug, Clone)]
pub struct Exception {
    name: String,
    entries: Vec<(String, Vec<String>)>,
    matcher: Rule,
    conditions: Option<Value>,
}

impl Exception {
    /// Reads a `PolicyException` document; `None` for other documents.
    pub fn from_json(doc: &Value) -> Option<Exception> {
        if doc.get("kind").and_then(Value::as_str) != Some("PolicyException") {
            return None;
        }
        let spec = doc.get("spec")?;
        let entries = spec
            .get("exceptions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        let p = e.get("policyName").and_then(Value::as_str).unwrap_or("");
                        let p = p.rsplit('/').next().unwrap_or(p).to_string();
                        let rules = e
                            .get("ruleNames")
                            .and_then(Value::as_array)
                            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .unwrap_or_default();
                        (p, rules)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let matcher = Rule::new(
            "exception".into(),
            serde_json::json!({"match": spec.get("match").cloned().unwrap_or(Value::Null)}),
            None,
        );
        Some(Exception {
            name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
            entries,
            matcher,
            conditions: spec.get("conditions").cloned(),
        })
    }

    /// The response of a rule this exception exempts.
    fn skip(&self, rule: &str) -> Response {
        Response {
            rule: rule.to_owned(),
            status: Status::Skip,
            message: format!("rule is skipped due to policy exception {}", self.name),
            path: None,
        }
    }

    fn applies(&self, policy: &Policy, rule: &str, resource: &Value, req: &RequestInfo, ctx: &Context) -> bool {
        let named = self
            .entries
            .iter()
            .any(|(p, rules)| pattern::wildcard(p, &policy.name) && rules.iter().any(|r| pattern::wildcard(r, rule)));
        if !named {
            return false;
        }
        let any_policy = Policy { namespace: None, ..policy.clone() };
        if !rule_selects(&self.matcher, &any_policy, resource, req) {
            return false;
        }
        match &self.conditions {
            Some(c) => eval::conditions(c, ctx).is_ok_and(|(ok, _)| ok),
            None => true,
        }
    }
}

/// Evaluates every validate rule of `policy` that selects `resource`.
/// Rules that tollgate does not evaluate (CEL, `podSecurity`, mutate, ...)
/// give an `Error` response saying so when they select the resource, so a
/// caller never mistakes them for a pass.
pub fn evaluate_policy(policy: &Policy, resource: &Value, input: &EvalInput) -> Vec<Response> {
    evaluate_in(policy, resource, input, &base_context(resource, input), &std::cell::OnceCell::new())
}

/// [`evaluate_policy`] for several policies on one resource, the context
/// built once: one response list per policy.
pub fn evaluate_policies(policies: &[Policy], resource: &Value, input: &EvalInput) -> Vec<Vec<Response>> {
    let base = base_context(resource, input);
    let cel = std::cell::OnceCell::new();
    policies.iter().map(|p| evaluate_in(p, resource, input, &base, &cel)).collect()
}

fn base_context(resource: &Value, input: &EvalInput) -> Context {
    let mut base = Context::new(resource, &input.request.operation);
    for (k, v) in &input.variables {
        base.set(k, v.clone());
    }
    base
}

/// `cel`: the resource converted for CEL, made by the first `validate.cel`
/// rule that needs it and shared by the others.
fn evaluate_in<'r>(
    policy: &Policy,
    resource: &'r Value,
    input: &EvalInput,
    base: &Context,
    cel: &std::cell::OnceCell<cel::CelResource<'r>>,
) -> Vec<Response> {
    let mut out = Vec::new();
    for rule in &policy.rules {
        if !rule_selects(rule, policy, resource, &input.request) {
            continue;
        }
        match &rule.kind {
            RuleKind::Validate => {}
            RuleKind::UnsupportedValidate(what) => {
                out.push(Response {
                    rule: rule.name.clone(),
                    status: Status::Error,
                    message: format!("{what} is not evaluated by tollgate; this rule was not checked"),
                    path: None,
                });
                continue;
            }
            RuleKind::NotValidate(_) => continue,
        }
        if let Some(compiled) = &rule.cel {
            if let Some(e) =
                input.exceptions.iter().find(|e| e.applies(policy, &rule.name, resource, &input.request, base))
            {
                out.push(e.skip(&rule.name));
                continue;
            }
            out.push(match compiled {
                Ok(c) => {
                    let r = cel.get_or_init(|| cel::CelResource::new(resource, &input.cel));
                    c.evaluate(&rule.name, r, &input.cel)
                }
                Err(e) => Response {
                    rule: rule.name.clone(),
                    status: Status::Error,
                    message: format!("a CEL expression does not compile: {e}"),
                    path: None,
                },
            });
            continue;
        }
        let mut ctx = base.clone();
        ctx.start_budget();
        let source = rule.autogen_of.as_deref().unwrap_or(&rule.name);
        let provided = input.rule_values.get(&rule.name).or_else(|| input.rule_values.get(source));
        let empty = Map::new();
        let provided = provided.unwrap_or(&empty);
        for (k, v) in provided {
            ctx.set(k, v.clone());
        }
        if let Some(e) = input.exceptions.iter().find(|e| e.applies(policy, &rule.name, resource, &input.request, &ctx))
        {
            out.push(e.skip(&rule.name));
            continue;
        }
        if let Some(r) = eval::validate_rule(rule, &mut ctx, provided) {
            out.push(r);
        }
    }
    out
}
