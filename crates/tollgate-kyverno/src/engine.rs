//! The Kyverno gate as a [`PolicyEngine`]: every Kubernetes object of the
//! shared model is checked by every Kyverno policy, objects in parallel, each
//! policy loaded (and its autogen rules built) once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;
use tollgate_core::{
    Config, Finding, FindingBuilder, PolicyEngine, RepositoryModel, Route, RuleId, RuleMeta, Segment, Severity,
    SourceFile,
};

use crate::cel::{Binding, CelException, CelInput, CelPolicy, CelResource, PolicyError, ResourceNames, is_cel_policy};
use crate::eval::Status;
use crate::policy::{InvalidPolicy, Policy, RequestInfo, is_kyverno_policy};
use crate::testing::is_namespaced;
use crate::{EvalInput, evaluate_policies};

/// Where the Kyverno policies come from.
#[derive(Debug, Clone, Default)]
pub struct KyvernoOptions {
    /// Files or directories holding `ClusterPolicy`/`Policy` YAML.
    pub policy: Vec<PathBuf>,
    /// Policies held in memory, as `(path, YAML text)`.
    pub sources: Vec<(String, String)>,
}

/// A policy file that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// Kyverno policies loaded once, evaluated on every object.
///
/// ```
/// use tollgate_kyverno::{KyvernoEngine, KyvernoOptions};
/// let policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: no-latest\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: tag\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern:\n        spec:\n          containers:\n          - image: '!*:latest'\n";
/// let options = KyvernoOptions { sources: vec![("policy.yaml".into(), policy.into())], ..Default::default() };
/// let engine = KyvernoEngine::load(".".as_ref(), &options);
/// assert!(engine.problems().is_empty());
/// assert_eq!(engine.policies().len(), 1);
/// ```
#[derive(Debug)]
pub struct KyvernoEngine {
    root: PathBuf,
    policies: Vec<Policy>,
    cel_policies: Vec<CelPolicy>,
    problems: Vec<Problem>,
    /// Notes: a `ValidatingAdmissionPolicy` no binding puts in force.
    notes: Vec<Problem>,
    metas: BTreeMap<String, RuleMeta>,
    exceptions: std::sync::Arc<Vec<crate::Exception>>,
    cel_exceptions: Vec<CelException>,
}

/// Why a policy path cannot be listed.
#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} is a symbolic link; tollgate does not follow links to policies. Commit the policy itself", .0.display())]
    Link(PathBuf),
}

fn yaml_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), ListError> {
    let io = |source| ListError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let policy_like = path.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json");
    if meta.file_type().is_symlink() {
        // Never followed (it may leave the repository), never dropped silently.
        return if policy_like || path.is_dir() { Err(ListError::Link(path.to_path_buf())) } else { Ok(()) };
    }
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).map_err(io)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            if e.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                continue;
            }
            yaml_files(&e, out)?;
        }
    } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

impl KyvernoEngine {
    /// Loads every `ClusterPolicy`/`Policy` of `options` (other documents
    /// are ignored). Problems are kept and reported as `policy-error`.
    pub fn load(root: &Path, options: &KyvernoOptions) -> KyvernoEngine {
        let mut engine = KyvernoEngine {
            root: root.to_path_buf(),
            policies: Vec::new(),
            cel_policies: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
            metas: BTreeMap::new(),
            exceptions: std::sync::Arc::default(),
            cel_exceptions: Vec::new(),
        };
        let mut bindings: Vec<(Binding, Problem)> = Vec::new();
        let mut cel_positions: Vec<(u32, u32)> = Vec::new();
        let mut texts: Vec<(String, String)> = Vec::new();
        for p in &options.policy {
            let mut files = Vec::new();
            if let Err(e) = yaml_files(p, &mut files) {
                engine.problems.push(Problem {
                    path: p.display().to_string(),
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                });
                continue;
            }
            for f in files {
                match std::fs::read_to_string(&f) {
                    Ok(t) => texts.push((f.display().to_string(), t)),
                    Err(e) => engine.problems.push(Problem {
                        path: f.display().to_string(),
                        line: 1,
                        column: 1,
                        message: e.to_string(),
                    }),
                }
            }
        }
        texts.extend(options.sources.iter().cloned());
        for (path, text) in texts {
            let docs = match tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default()) {
                Ok(d) => d,
                Err(e) => {
                    let pos = e.position();
                    engine.problems.push(Problem {
                        path,
                        line: pos.line,
                        column: pos.column,
                        message: e.message().to_string(),
                    });
                    continue;
                }
            };
            for (i, d) in docs.iter().enumerate() {
                let json = d.root.to_json();
                let at =
                    |line: u32, column: u32, message: String| Problem { path: path.clone(), line, column, message };
                let doc_at = |message: String| at(d.root.span.start.line, d.root.span.start.column, message);
                match CelException::from_json(&json) {
                    Some(Ok(e)) => {
                        engine.cel_exceptions.push(e);
                        continue;
                    }
                    Some(Err(e)) => {
                        let (line, column) = locate(&d.root, &e.pointer, &e.error);
                        engine.problems.push(at(
                            line,
                            column,
                            format!("the PolicyException's expression does not compile: {}", e.error.message),
                        ));
                        continue;
                    }
                    None => {}
                }
                if let Some(e) = crate::Exception::from_json(&json) {
                    std::sync::Arc::make_mut(&mut engine.exceptions).push(e);
                    continue;
                }
                if let Some(b) = Binding::from_json(&json) {
                    bindings.push((b, doc_at(String::new())));
                    continue;
                }
                if is_cel_policy(&json) {
                    let name = json.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?").to_string();
                    let kind = json.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
                    if let Some(mode) = json
                        .pointer("/spec/evaluation/mode")
                        .and_then(Value::as_str)
                        .filter(|m| !m.eq_ignore_ascii_case("Kubernetes"))
                    {
                        engine.problems.push(doc_at(format!(
                            "{kind} `{name}` evaluates {mode} payloads, not Kubernetes objects: tollgate has no such payloads to judge; move it out of the Kyverno policy paths"
                        )));
                        continue;
                    }
                    match CelPolicy::from_json(&json, &path, i) {
                        Ok(p) => {
                            cel_positions.push((d.root.span.start.line, d.root.span.start.column));
                            engine.cel_policies.push(p);
                        }
                        Err(PolicyError::Compile(e)) => {
                            let (line, column) = locate(&d.root, &e.pointer, &e.error);
                            engine.problems.push(at(
                                line,
                                column,
                                format!("{kind} `{name}`: the expression does not compile: {}", e.error.message),
                            ));
                        }
                        Err(PolicyError::Invalid(m)) => engine.problems.push(doc_at(m.to_string())),
                    }
                    continue;
                }
                if !is_kyverno_policy(&json) {
                    let api = json.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                    let kind = json.get("kind").and_then(Value::as_str).unwrap_or("");
                    let unsupported = api.starts_with("policies.kyverno.io/")
                        || kind == "MutatingAdmissionPolicy"
                        || (api.starts_with("kyverno.io/") && kind.ends_with("CleanupPolicy"));
                    if unsupported {
                        let name = json.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
                        engine.problems.push(Problem {
                            path: path.clone(),
                            line: d.root.span.start.line,
                            column: d.root.span.start.column,
                            message: format!(
                                "{kind} `{name}` is not evaluated by tollgate (it validates nothing: tollgate evaluates ClusterPolicy/Policy validate rules, ValidatingPolicy and ValidatingAdmissionPolicy); move it out of the Kyverno policy paths or check it with Kyverno"
                            ),
                        });
                    }
                    continue;
                }
                match Policy::from_json(&json, &path, i) {
                    Ok(mut p) => {
                        // A `validate.cel` rule that does not compile is one
                        // problem at its expression, not an error per object.
                        let mut broken: Vec<String> = Vec::new();
                        // A validate block with no body Kyverno knows (a
                        // typo such as `patern:`) is one problem at its key.
                        for (ri, rule) in p.rules.iter().enumerate().filter(|(_, r)| r.autogen_of.is_none()) {
                            if rule.kind
                                != crate::policy::RuleKind::UnsupportedValidate(crate::policy::NO_VALIDATE_BODY)
                            {
                                continue;
                            }
                            let pointer = format!("/spec/rules/{ri}/validate");
                            let node = d.root.get(&tollgate_yaml::Route::parse(&pointer));
                            let mapping = node.and_then(tollgate_core::Node::as_mapping);
                            let keys: Vec<String> =
                                mapping.map(|m| m.iter().map(|(k, _)| k.to_owned()).collect()).unwrap_or_default();
                            let hints: Vec<String> = keys
                                .iter()
                                .filter_map(|k| {
                                    crate::policy::did_you_mean(k).map(|s| format!("`{k}` (did you mean `{s}`?)"))
                                })
                                .collect();
                            // At the misspelt key, else at the block.
                            let typo = keys.iter().find(|k| crate::policy::did_you_mean(k).is_some());
                            let at_node = typo.and_then(|k| mapping.and_then(|m| m.entry(k))).map(|(k, _)| k).or(node);
                            let (line, column) = at_node
                                .map_or((d.root.span.start.line, d.root.span.start.column), |n| {
                                    (n.span.start.line, n.span.start.column)
                                });
                            engine.problems.push(at(
                                line,
                                column,
                                format!(
                                    "policy `{}` rule `{}`: `validate` has no `pattern`, `anyPattern`, `deny`, `foreach`, `cel` or `podSecurity`{}; Kyverno would reject the policy",
                                    p.name,
                                    rule.name,
                                    if hints.is_empty() { String::new() } else { format!(": {}", hints.join(", ")) }
                                ),
                            ));
                            broken.push(rule.name.clone());
                        }
                        for (ri, rule) in p.rules.iter().enumerate().filter(|(_, r)| r.autogen_of.is_none()) {
                            if let Some(Err(e)) = &rule.cel {
                                let pointer = format!("/spec/rules/{ri}{}", e.pointer);
                                let (line, column) = locate(&d.root, &pointer, &e.error);
                                engine.problems.push(at(
                                    line,
                                    column,
                                    format!(
                                        "policy `{}` rule `{}`: the expression does not compile: {}",
                                        p.name, rule.name, e.error.message
                                    ),
                                ));
                                broken.push(rule.name.clone());
                            }
                        }
                        p.rules.retain(|r| !broken.contains(r.autogen_of.as_ref().unwrap_or(&r.name)));
                        engine.policies.push(p);
                    }
                    Err(invalid) => {
                        // Where the policy says it: the nameless rule, the
                        // spec; else the document.
                        let pointer = match &invalid {
                            InvalidPolicy::UnnamedRule { index, .. } => format!("/spec/rules/{index}"),
                            InvalidPolicy::NoRules(_) => "/spec".to_owned(),
                            _ => String::new(),
                        };
                        let start = d.root.get(&tollgate_yaml::Route::parse(&pointer)).unwrap_or(&d.root).span.start;
                        engine.problems.push(at(start.line, start.column, invalid.to_string()));
                    }
                }
            }
        }
        for (b, at) in bindings {
            match engine.cel_policies.iter_mut().find(|p| p.kind == "ValidatingAdmissionPolicy" && p.name == b.policy) {
                Some(p) => p.bind(b),
                None => engine.problems.push(Problem {
                    message: format!(
                        "ValidatingAdmissionPolicyBinding `{}` names policy `{}`, which is not among the policies: it puts nothing in force. Fix `spec.policyName` or add the policy",
                        b.name, b.policy
                    ),
                    ..at
                }),
            }
        }
        for (p, (line, column)) in engine.cel_policies.iter().zip(cel_positions) {
            if p.is_unbound() {
                engine.notes.push(Problem {
                    path: p.path.clone(),
                    line,
                    column,
                    message: format!(
                        "ValidatingAdmissionPolicy `{}` has no ValidatingAdmissionPolicyBinding, so a cluster enforces nothing of it; tollgate does not judge objects with it. Add a binding to put it in force",
                        p.name
                    ),
                });
            }
        }
        for p in &engine.policies {
            for r in p.rules.iter().filter(|r| r.autogen_of.is_none()) {
                let id = format!("{}/{}", p.name, r.name);
                engine.metas.insert(id.clone(), rule_meta(&id, p, r));
            }
        }
        for p in engine.cel_policies.iter().filter(|p| !p.is_unbound()) {
            engine.metas.insert(p.name.clone(), cel_meta(p));
        }
        engine
    }

    /// The loaded CEL policies (`ValidatingPolicy`, `ValidatingAdmissionPolicy`).
    pub fn cel_policies(&self) -> &[CelPolicy] {
        &self.cel_policies
    }

    /// The loaded policies.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Policy files that could not be used.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    fn problem_finding(&self, model: &RepositoryModel, p: &Problem) -> Option<Finding> {
        let key = [p.path.as_str(), p.message.as_str()];
        if let Some(r) = Finding::path_in_root(&self.root, &p.path) {
            let message = format!(
                "The Kyverno policy `{r}` cannot be used: {}:{}: {}. Fix it: until then what it guards is unchecked.",
                p.line, p.column, p.message
            );
            return Some(Finding::policy_error_at(r, p.line, p.column, message, &key));
        }
        // A policy outside the repository is located at its own file: text
        // output names it (quoting nothing of it), SARIF anchors it in the
        // repository.
        model.files.first()?;
        let message = format!(
            "The Kyverno policy `{}` cannot be used: {}:{}: {}. What it guards is unchecked.",
            p.path, p.line, p.column, p.message
        );
        Some(Finding::policy_error_at(p.path.clone(), p.line, p.column, message, &key))
    }
}

/// A Kyverno failure path (`/spec/containers/0/(name)/image/`) as a route,
/// anchors stripped.
pub(crate) fn route_of_path(path: &str) -> Route {
    Route::from_segments(
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let key = crate::pattern::parse_anchor(s).map_or(s, |(_, k)| k);
                key.parse::<usize>().map_or_else(|_| Segment::Key(key.to_string()), Segment::Index)
            })
            .collect(),
    )
}

/// Where an expression that does not compile is written: the line and
/// column of its error inside the YAML scalar at `pointer`.
fn locate(root: &tollgate_core::Node, pointer: &str, error: &tollgate_cel::CompileError) -> (u32, u32) {
    let route = tollgate_yaml::Route::parse(pointer);
    let Some(node) = root.get(&route) else { return (root.span.start.line, root.span.start.column) };
    let start = node.span.start;
    let style = node.as_scalar().map(|s| s.style);
    if matches!(style, Some(tollgate_yaml::ScalarStyle::Literal | tollgate_yaml::ScalarStyle::Folded)) {
        // A block scalar's span starts at its first content character; its
        // lines keep that indentation.
        return (start.line + error.line - 1, start.column - 1 + error.column);
    }
    let quoted =
        matches!(style, Some(tollgate_yaml::ScalarStyle::SingleQuoted | tollgate_yaml::ScalarStyle::DoubleQuoted));
    if error.line <= 1 {
        return (start.line, start.column + error.column - 1 + u32::from(quoted));
    }
    (start.line + error.line - 1, error.column)
}

fn cel_meta(policy: &CelPolicy) -> RuleMeta {
    let severity = if policy.denies() { Severity::Error } else { Severity::Warning };
    let ann = |k: &str| policy.annotations.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let title = ann("policies.kyverno.io/title").unwrap_or(&policy.name);
    let mut docs = String::new();
    if let Some(d) = ann("policies.kyverno.io/description") {
        docs.push_str(d);
        docs.push('\n');
    }
    docs.push_str(&format!(
        "\n{} `{}` ({}), from `{}`.\n",
        policy.kind,
        policy.name,
        policy.actions.join(", "),
        policy.path
    ));
    RuleMeta::policy(
        &policy.name,
        severity,
        title,
        vec!["kyverno".to_owned(), "policy".to_owned(), "cel".to_owned()],
        &docs,
    )
}

fn rule_meta(id: &str, policy: &Policy, rule: &crate::policy::Rule) -> RuleMeta {
    let action = rule.failure_action(policy);
    let severity = if action.eq_ignore_ascii_case("enforce") { Severity::Error } else { Severity::Warning };
    let ann = |k: &str| policy.annotations.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let title = ann("policies.kyverno.io/title").unwrap_or(&policy.name);
    let summary = format!("{title}: rule {}", rule.name);
    let mut docs = String::new();
    if let Some(d) = ann("policies.kyverno.io/description") {
        docs.push_str(d);
        docs.push('\n');
    }
    docs.push_str(&format!(
        "\nKyverno {} `{}` rule `{}` ({action}), from `{}`.\n",
        policy.kind, policy.name, rule.name, policy.path
    ));
    RuleMeta::policy(id, severity, &summary, vec!["kyverno".to_owned(), "policy".to_owned()], &docs)
}

impl PolicyEngine for KyvernoEngine {
    fn rules(&self) -> Vec<RuleMeta> {
        self.metas.values().cloned().collect()
    }

    fn check(&self, model: &RepositoryModel, _config: &Config) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.problems.iter().filter_map(|p| self.problem_finding(model, p)).collect();
        for n in &self.notes {
            let Some(path) = Finding::path_in_root(&self.root, &n.path).or_else(|| Some(n.path.clone())) else {
                continue;
            };
            let mut f =
                Finding::policy_error_at(path, n.line, n.column, format!("{}.", n.message), &[&n.path, &n.message]);
            f.severity = Severity::Note;
            out.push(f);
        }
        let judging = self.cel_policies.iter().filter(|p| !p.is_unbound()).count();
        if self.policies.is_empty() && judging == 0 {
            return out;
        }
        // The judged documents (renders instead of Kustomize bases and
        // patches), each converted to JSON only while it is evaluated: the
        // renders of a large repository hold tens of thousands of objects.
        let documents: Vec<(&SourceFile, &tollgate_core::Document)> = model
            .documents()
            .filter(|(_, d)| {
                d.root.get_key("kind").and_then(tollgate_core::Node::as_str).is_some()
                    && d.root.get_key("apiVersion").and_then(tollgate_core::Node::as_str).is_some()
            })
            .collect();
        let as_object = |d: &tollgate_core::Document| -> Option<Value> {
            let mut j = d.root.to_json();
            if !(j["kind"].is_string() && j["apiVersion"].is_string()) || is_kyverno_policy(&j) || is_cel_policy(&j) {
                return None;
            }
            let kind = j["kind"].as_str().unwrap_or("").to_string();
            if is_namespaced(&kind)
                && !j.pointer("/metadata/namespace").is_some_and(Value::is_string)
                && let Some(m) = j.get_mut("metadata").and_then(Value::as_object_mut)
            {
                m.insert("namespace".into(), Value::String("default".into()));
            }
            Some(j)
        };
        let namespace_labels: HashMap<String, BTreeMap<String, String>> = documents
            .iter()
            .filter(|(_, d)| d.root.get_key("kind").and_then(tollgate_core::Node::as_str) == Some("Namespace"))
            .filter_map(|(_, d)| as_object(d))
            .filter_map(|o| {
                let labels = o["metadata"]["labels"]
                    .as_object()
                    .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
                    .unwrap_or_default();
                Some((o["metadata"]["name"].as_str()?.to_string(), labels))
            })
            .collect();
        // What CEL expressions see of the repository: the kinds its CRDs
        // define, its Namespaces, and (only when a policy takes params)
        // every object a `paramRef` may name.
        // Only these kinds are converted here: every object is converted
        // once more, while it is judged.
        let objects: Vec<Value> = documents
            .iter()
            .filter(|(_, d)| {
                matches!(
                    d.root.get_key("kind").and_then(tollgate_core::Node::as_str),
                    Some("Namespace" | "CustomResourceDefinition")
                )
            })
            .filter_map(|(_, d)| as_object(d))
            .collect();
        let mut names = ResourceNames::default();
        names.learn(&objects.iter().collect::<Vec<_>>());
        let namespaces: HashMap<String, Value> = objects
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter_map(|o| Some((o["metadata"]["name"].as_str()?.to_string(), o.clone())))
            .collect();
        let uses_params = self.cel_policies.iter().any(CelPolicy::uses_params)
            || self.policies.iter().flat_map(|p| &p.rules).any(|r| matches!(&r.cel, Some(Ok(c)) if c.uses_params()));
        let params: Vec<Value> =
            if uses_params { documents.iter().filter_map(|(_, d)| as_object(d)).collect() } else { Vec::new() };
        let cel_shared = CelInput {
            names: std::sync::Arc::new(names),
            params: std::sync::Arc::new(params),
            exceptions: std::sync::Arc::new(self.cel_exceptions.clone()),
            ..CelInput::default()
        };
        let policy_error = RuleMeta::policy_error();
        // A `policy-error` on an object's first line, when what `what`
        // names could not judge it; fingerprinted by `what`, the file and
        // the object.
        let unchecked = |file: &SourceFile, doc: &tollgate_core::Document, message: String, what: &[&str]| {
            let mut f = FindingBuilder::new(&policy_error, file, doc, &Route::root(), message).first_line().build();
            let identity = file.identity_key(doc.index);
            let key: Vec<&str> = std::iter::once(RuleId::PolicyError.as_str())
                .chain(what.iter().copied())
                .chain([file.path.as_str(), identity.as_str()])
                .collect();
            f.fingerprint = Finding::fingerprint_of(&key);
            f
        };
        // What one object gets from every policy.
        let judge = |file: &SourceFile, doc: &tollgate_core::Document| -> Vec<Finding> {
            let Some(object) = as_object(doc) else { return Vec::new() };
            let object = &object;
            let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            let request = RequestInfo {
                operation: "CREATE".into(),
                namespace_labels: namespace_labels.get(ns).cloned().unwrap_or_default(),
                ..RequestInfo::default()
            };
            // A namespace the repository does not define still exists in
            // the cluster: a Namespace with its name stands for it.
            let namespace_object = namespaces.get(ns).cloned().or_else(|| {
                (!ns.is_empty())
                    .then(|| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            });
            let input = EvalInput {
                request: request.clone(),
                exceptions: self.exceptions.clone(),
                cel: CelInput { request, namespace_object, ..cel_shared.clone() },
                ..EvalInput::default()
            };
            let mut found = Vec::new();
            if judging > 0 {
                let converted = CelResource::new(object, &input.cel);
                for p in self.cel_policies.iter().filter(|p| !p.is_unbound()) {
                    for r in p.evaluate(&converted, &input.cel) {
                        match r.status {
                            Status::Pass | Status::Skip => {}
                            Status::Fail => {
                                let Some(meta) = self.metas.get(&p.name) else { continue };
                                let route = r.path.as_deref().map_or_else(Route::root, route_of_path);
                                let message = format!("{} ({} {}).", r.message.trim_end_matches('.'), p.kind, p.name);
                                let builder = FindingBuilder::new(meta, file, doc, &route, message);
                                let mut f = if route.is_root() { builder.first_line() } else { builder }.build();
                                f.fingerprint = Finding::fingerprint_of(&[
                                    &p.name,
                                    &r.rule,
                                    &file.path,
                                    &file.identity_key(doc.index),
                                    &route.to_string(),
                                ]);
                                f.severity = if p.denies_for(&r.rule) { Severity::Error } else { Severity::Warning };
                                found.push(f);
                            }
                            Status::Error => {
                                let message = format!(
                                    "{} `{}` could not be evaluated on this object: {}. What it guards is unchecked here.",
                                    p.kind, p.name, r.message
                                );
                                found.push(unchecked(file, doc, message, &[&p.name, &r.rule]));
                            }
                        }
                    }
                }
            }
            let all = evaluate_policies(&self.policies, object, &input);
            for (p, responses) in self.policies.iter().zip(all) {
                for r in responses {
                    let rule = p.rules.iter().find(|x| x.name == r.rule);
                    let base = rule.and_then(|x| x.autogen_of.clone()).unwrap_or_else(|| r.rule.clone());
                    let id = format!("{}/{base}", p.name);
                    match r.status {
                        Status::Pass | Status::Skip => {}
                        Status::Fail => {
                            let Some(meta) = self.metas.get(&id) else { continue };
                            let route = r.path.as_deref().map_or_else(Route::root, route_of_path);
                            let message = format!(
                                "{} (Kyverno policy {}, rule {}).",
                                r.message.trim_end_matches('.'),
                                p.name,
                                r.rule
                            );
                            let builder = FindingBuilder::new(meta, file, doc, &route, message);
                            let mut f = if route.is_root() { builder.first_line() } else { builder }.build();
                            f.fingerprint = Finding::fingerprint_of(&[
                                &id,
                                &file.path,
                                &file.identity_key(doc.index),
                                &route.to_string(),
                            ]);
                            if let Some(rule) = rule {
                                let action = rule.failure_action_in(p, ns, &input.request.namespace_labels);
                                f.severity = if action.eq_ignore_ascii_case("enforce") {
                                    Severity::Error
                                } else {
                                    Severity::Warning
                                };
                            }
                            found.push(f);
                        }
                        Status::Error => {
                            let message = format!(
                                "Kyverno policy {} rule {} could not be evaluated on this object: {}. What it guards is unchecked here.",
                                p.name, r.rule, r.message
                            );
                            found.push(unchecked(file, doc, message, &[&id]));
                        }
                    }
                }
            }
            found
        };
        let per_object: Vec<Vec<Finding>> = documents
            .par_iter()
            .map(|(file, doc)| {
                // A panic (a bug) on one object is a finding on it; the
                // others are still judged.
                tollgate_core::catch_panic(|| judge(file, doc)).unwrap_or_else(|panic| {
                    vec![unchecked(file, doc, panic.unchecked_message("Kyverno", "object"), &["kyverno"])]
                })
            })
            .collect();
        // One list, the problems first. Each object's findings are moved in
        // and freed in turn: a flattening collect would hold every finding
        // twice at its end (its chunks and the list they are copied into).
        out.reserve_exact(per_object.iter().map(Vec::len).sum());
        for found in per_object {
            out.extend(found);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(policy: &str) -> Vec<Problem> {
        let options = KyvernoOptions { sources: vec![("p.yaml".into(), policy.into())], ..Default::default() };
        KyvernoEngine::load(".".as_ref(), &options).problems().to_vec()
    }

    #[test]
    fn an_unreadable_policy_is_located_where_it_says_so() {
        let head = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n";
        let nameless = format!(
            "{head}  rules:\n  - name: a\n    validate:\n      pattern: {{}}\n  - match: {{}}\n    validate:\n      pattern: {{}}\n"
        );
        let found = problems(&nameless);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].line, found[0].column), (10, 5), "{found:?}");
        assert_eq!(found[0].message, "policy `p`: spec.rules[1] has no name");
        let ruleless = problems(&format!("{head}  background: true\n"));
        assert_eq!((ruleless[0].line, ruleless[0].message.as_str()), (6, "policy `p` has no spec.rules"));
        let nameless_policy = problems("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nspec:\n  rules: []\n");
        assert_eq!(
            (nameless_policy[0].line, nameless_policy[0].message.as_str()),
            (1, "the policy has no metadata.name")
        );
    }
}
