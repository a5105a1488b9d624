//! `kyverno test` compatibility: runs `kyverno-test.yaml` files (policies,
//! resources, values, user info, exceptions, expected results) and decides
//! each expected row the way the Kyverno CLI does.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::cel::{Binding, CelException, CelInput, CelPolicy, CelResource, Mocks, ResourceNames, is_cel_policy};
use crate::eval::Status;
use crate::policy::{Policy, RequestInfo, RuleKind};
use crate::{EvalInput, Exception, evaluate_policy};
use std::sync::Arc;

/// The outcome of one expected (row × resource) case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// tollgate's verdict equals the expected one.
    Agree,
    /// tollgate's verdict differs; the reason says how.
    Disagree(String),
    /// The rule is not evaluated by tollgate (CEL, mutate, ...): not run.
    NotRun(String),
    /// The rule did not select the resource. Upstream passes such rows
    /// whatever they expect; they agree only when `skip` was expected.
    NotApplicable,
    /// The test itself could not be run (a missing file, a bad policy).
    Error(String),
}

/// One expected row of a test, resolved per resource.
#[derive(Debug, Clone)]
pub struct RowOutcome {
    /// `policy` of the row.
    pub policy: String,
    /// `rule` of the row (empty when absent).
    pub rule: String,
    /// `resources` of the row, as written.
    pub resources: Vec<String>,
    /// `result` expected.
    pub expected: String,
    /// One outcome per named resource (one for the whole row when none is
    /// named), with the resource.
    pub cases: Vec<(String, CaseOutcome)>,
}

/// All rows of one `kyverno-test.yaml`.
#[derive(Debug, Clone)]
pub struct TestFileOutcome {
    /// The test file.
    pub path: PathBuf,
    /// `metadata.name`.
    pub name: String,
    /// Rows in file order.
    pub rows: Vec<RowOutcome>,
    /// A problem that stopped the whole file.
    pub error: Option<String>,
}

const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "CustomResourceDefinition",
    "ClusterPolicy",
    "ClusterPolicyReport",
    "ClusterCleanupPolicy",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "APIService",
    "CSIDriver",
    "CSINode",
    "RuntimeClass",
    "IngressClass",
    "ClusterIssuer",
    "VolumeSnapshotClass",
    "PodSecurityPolicy",
    "CertificateSigningRequest",
    "ComponentStatus",
    "ClusterRoleTemplateBinding",
];

/// Whether objects of `kind` live in a namespace.
pub fn is_namespaced(kind: &str) -> bool {
    !CLUSTER_SCOPED.contains(&kind)
}

/// Why a file a Kyverno test names (or a mock it holds) could not be read:
/// the test's error, as `tollgate test` prints it.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Yaml { path: String, line: u32, column: u32, message: String },
    /// A `globalContextEntries` `fieldPath` or projection that does not query.
    #[error("globalContextEntries {name:?}: path {path:?}: {error}")]
    GlobalContextPath { name: String, path: String, error: Box<crate::jmespath::JpError> },
}

fn read_docs(path: &Path) -> Result<Vec<Value>, ReadError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ReadError::Io { path: shown(), error })?;
    let docs = tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default()).map_err(|e| {
        let p = e.position();
        ReadError::Yaml { path: shown(), line: p.line, column: p.column, message: e.message().to_owned() }
    })?;
    Ok(docs.iter().map(|d| d.root.to_json()).filter(|v| !v.is_null()).collect())
}

fn files_of(base: &Path, list: Option<&Value>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let items: Vec<&str> = match list {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    for item in items {
        let p = base.join(item);
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
                .unwrap_or_default();
            entries.sort();
            out.extend(
                entries.into_iter().filter(|e| e.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json")),
            );
        } else {
            out.push(p);
        }
    }
    out
}

/// Values of a test: globals, per policy/resource and per policy/rule.
#[derive(Debug, Clone, Default)]
struct Values {
    global: Vec<(String, Value)>,
    resources: HashMap<(String, String), Vec<(String, Value)>>,
    rules: HashMap<(String, String), Map<String, Value>>,
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
    /// `namespaces` objects, then `namespaceSelector` names with their
    /// labels, as the CLI resolves `namespaceObject`.
    namespace_objects: HashMap<String, Value>,
}

fn pairs(v: Option<&Value>) -> Vec<(String, Value)> {
    v.and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

fn parse_values(v: &Value) -> Values {
    let mut out = Values { global: pairs(v.get("globalValues")), ..Values::default() };
    for p in v.get("policies").and_then(Value::as_array).into_iter().flatten() {
        let pname = p.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        for r in p.get("resources").and_then(Value::as_array).into_iter().flatten() {
            let rname = r.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            out.resources.entry((pname.clone(), rname)).or_default().extend(pairs(r.get("values")));
        }
        for r in p.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let rname = r.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let m = r.get("values").and_then(Value::as_object).cloned().unwrap_or_default();
            out.rules.entry((pname.clone(), rname)).or_default().extend(m);
        }
    }
    for ns in v.get("namespaces").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = ns.pointer("/metadata/name").and_then(Value::as_str) {
            out.namespace_objects.entry(name.to_string()).or_insert_with(|| ns.clone());
        }
    }
    for ns in v.get("namespaceSelector").and_then(Value::as_array).into_iter().flatten() {
        let name = ns.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        out.namespace_objects.entry(name.clone()).or_insert_with(|| {
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "labels": ns.get("labels").cloned().unwrap_or(Value::Null)}})
        });
        let labels = ns
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
            .unwrap_or_default();
        out.namespace_labels.insert(name, labels);
    }
    for ns in v.get("namespaces").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = ns.pointer("/metadata/name").and_then(Value::as_str) {
            let labels = ns
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
                .unwrap_or_default();
            out.namespace_labels.entry(name.to_string()).or_insert(labels);
        }
    }
    out
}

/// Runs one `kyverno-test.yaml`.
pub fn run_test_file(path: &Path) -> TestFileOutcome {
    let mut outcome = TestFileOutcome { path: path.to_path_buf(), name: String::new(), rows: Vec::new(), error: None };
    let fail = |mut o: TestFileOutcome, e: String| {
        o.error = Some(e);
        o
    };
    let test = match read_docs(path) {
        Ok(mut d) if !d.is_empty() => d.remove(0),
        Ok(_) => return fail(outcome, format!("{}: empty test file", path.display())),
        Err(e) => return fail(outcome, e.to_string()),
    };
    outcome.name = test.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    if test.get("kind").and_then(Value::as_str) != Some("Test")
        || test.get("apiVersion").is_none()
        || test.get("name").is_some()
    {
        return fail(
            outcome,
            format!("{}: not a `cli.kyverno.io/v1alpha1` Test (a deprecated or unknown test schema)", path.display()),
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    // Policies.
    let mut policies: Vec<Policy> = Vec::new();
    let mut cel_policies: Vec<CelPolicy> = Vec::new();
    let mut bindings: Vec<Binding> = Vec::new();
    let mut unsupported_policies: HashMap<String, String> = HashMap::new();
    for f in files_of(base, test.get("policies")) {
        let docs = match read_docs(&f) {
            Ok(d) => d,
            Err(e) => return fail(outcome, e.to_string()),
        };
        for (i, d) in docs.iter().enumerate() {
            if crate::policy::is_kyverno_policy(d) {
                match Policy::from_json(d, &f.display().to_string(), i) {
                    Ok(p) => policies.push(p),
                    Err(e) => return fail(outcome, format!("{}: {e}", f.display())),
                }
            } else if is_cel_policy(d) {
                if let Some(mode) = d
                    .pointer("/spec/evaluation/mode")
                    .and_then(Value::as_str)
                    .filter(|m| !m.eq_ignore_ascii_case("Kubernetes"))
                {
                    if let Some(name) = d.pointer("/metadata/name").and_then(Value::as_str) {
                        unsupported_policies.insert(
                            name.to_string(),
                            format!("a ValidatingPolicy in {mode} evaluation mode judges payloads, not Kubernetes objects: tollgate does not run it"),
                        );
                    }
                    continue;
                }
                match CelPolicy::from_json(d, &f.display().to_string(), i) {
                    Ok(p) => cel_policies.push(p),
                    Err(e) => return fail(outcome, format!("{}: {e}", f.display())),
                }
            } else if let Some(b) = Binding::from_json(d) {
                bindings.push(b);
            } else if let (Some(kind), Some(name)) =
                (d.get("kind").and_then(Value::as_str), d.pointer("/metadata/name").and_then(Value::as_str))
            {
                unsupported_policies
                    .insert(name.to_string(), format!("{kind} policies (CEL) are not evaluated by tollgate"));
            }
        }
    }
    // Resources: namespaced kinds default to `default`; duplicates dropped.
    let mut resources: Vec<Value> = Vec::new();
    for f in files_of(base, test.get("resources")) {
        let docs = match read_docs(&f) {
            Ok(d) => d,
            Err(e) => return fail(outcome, e.to_string()),
        };
        for mut d in docs {
            if !d.is_object() {
                continue;
            }
            let kind = d.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
            if is_namespaced(&kind)
                && d.pointer("/metadata/namespace").is_none_or(|v| v.as_str().is_none_or(str::is_empty))
                && let Some(m) = d.get_mut("metadata").and_then(Value::as_object_mut)
            {
                m.insert("namespace".into(), Value::String("default".into()));
            }
            let id = |v: &Value| {
                (
                    v.get("apiVersion").cloned(),
                    v.get("kind").cloned(),
                    v.pointer("/metadata/namespace").cloned(),
                    v.pointer("/metadata/name").cloned(),
                )
            };
            if !resources.iter().any(|r| id(r) == id(&d)) {
                resources.push(d);
            }
        }
    }
    // Values, user info, exceptions.
    let mut values = Values::default();
    if let Some(v) = test.get("variables").and_then(Value::as_str) {
        match read_docs(&base.join(v)) {
            Ok(d) => {
                if let Some(first) = d.first() {
                    values = parse_values(first);
                }
            }
            Err(e) => return fail(outcome, e.to_string()),
        }
    }
    if let Some(v) = test.get("values") {
        values = parse_values(v);
    }
    let mut req = RequestInfo { operation: "CREATE".into(), ..RequestInfo::default() };
    if let Some(u) = test.get("userinfo").and_then(Value::as_str) {
        match read_docs(&base.join(u)) {
            Ok(d) => {
                if let Some(u) = d.first() {
                    let list = |p: &str| -> Vec<String> {
                        u.pointer(p)
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                            .unwrap_or_default()
                    };
                    req.roles = list("/roles");
                    req.cluster_roles = list("/clusterRoles");
                    req.groups = list("/userInfo/groups");
                    req.username = u.pointer("/userInfo/username").and_then(Value::as_str).unwrap_or("").to_string();
                }
            }
            Err(e) => return fail(outcome, e.to_string()),
        }
    }
    let mut exceptions = Vec::new();
    let mut cel_exceptions = Vec::new();
    for f in files_of(base, test.get("exceptions")) {
        match read_docs(&f) {
            Ok(d) => {
                for doc in &d {
                    match CelException::from_json(doc) {
                        Some(Ok(e)) => cel_exceptions.push(e),
                        Some(Err(e)) => return fail(outcome, format!("{}: {e}", f.display())),
                        None => exceptions.extend(Exception::from_json(doc)),
                    }
                }
            }
            Err(e) => return fail(outcome, e.to_string()),
        }
    }
    for b in bindings {
        if let Some(p) = cel_policies.iter_mut().find(|p| p.name == b.policy) {
            p.bind(b);
        }
    }
    let exceptions = Arc::new(exceptions);
    let mocks = match read_mocks(base, &test) {
        Ok(m) => m,
        Err(e) => return fail(outcome, e.to_string()),
    };
    let mut names = ResourceNames::default();
    names.learn(&resources.iter().collect::<Vec<_>>());
    // `paramRef`s name objects among the resources and `paramResources`.
    let mut params = resources.clone();
    for f in files_of(base, test.get("paramResources")) {
        match read_docs(&f) {
            Ok(d) => params.extend(d),
            Err(e) => return fail(outcome, e.to_string()),
        }
    }
    let cel_shared = CelInput {
        names: Arc::new(names),
        params: Arc::new(params),
        exceptions: Arc::new(cel_exceptions),
        evaluate_unbound: true,
        mocks: (!mocks.is_empty()).then(|| Arc::new(mocks)),
        ..CelInput::default()
    };
    // Evaluate every policy on every resource once per operation the rows
    // ask for (`operation:`, default CREATE or the values' operation).
    let mut operations: Vec<String> = vec![String::new()];
    for row in test.get("results").and_then(Value::as_array).into_iter().flatten() {
        if let Some(op) = row.get("operation").and_then(Value::as_str)
            && !operations.iter().any(|o| o == op)
        {
            operations.push(op.to_string());
        }
    }
    let mut responses: HashMap<(usize, usize, String), Vec<crate::eval::Response>> = HashMap::new();
    for (pi, p) in policies.iter().enumerate() {
        for (ri, r) in resources.iter().enumerate() {
            let rname = r.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            let ns = r.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            let mut globals = values.global.clone();
            if let Some(rv) = values.resources.get(&(p.name.clone(), rname.to_string())) {
                globals.extend(rv.iter().cloned());
            }
            let rule_values: HashMap<String, Map<String, Value>> = values
                .rules
                .iter()
                .filter(|((pn, _), _)| *pn == p.name)
                .map(|((_, rn), m)| (rn.clone(), m.clone()))
                .collect();
            for op in &operations {
                let mut req = req.clone();
                let mut variables = globals.clone();
                if op.is_empty() {
                    if let Some((_, v)) = variables.iter().rev().find(|(k, _)| k == "request.operation") {
                        req.operation = v.as_str().unwrap_or("CREATE").to_string();
                    }
                } else {
                    req.operation.clone_from(op);
                    variables.retain(|(k, _)| k != "request.operation");
                }
                req.namespace_labels = values.namespace_labels.get(ns).cloned().unwrap_or_default();
                let cel = CelInput {
                    request: req.clone(),
                    namespace_object: values.namespace_objects.get(ns).cloned(),
                    ..cel_shared.clone()
                };
                let input = EvalInput {
                    request: req,
                    variables,
                    rule_values: rule_values.clone(),
                    exceptions: std::sync::Arc::clone(&exceptions),
                    cel,
                };
                responses.insert((pi, ri, op.clone()), evaluate_policy(p, r, &input));
            }
        }
    }
    let mut cel_responses: HashMap<(usize, usize, String), Vec<crate::eval::Response>> = HashMap::new();
    for (ri, r) in resources.iter().enumerate() {
        let ns = r.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
        for op in &operations {
            let mut req = req.clone();
            req.operation = if op.is_empty() {
                values
                    .global
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "request.operation")
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or("CREATE")
                    .to_string()
            } else {
                op.clone()
            };
            req.namespace_labels = values.namespace_labels.get(ns).cloned().unwrap_or_default();
            let input = CelInput {
                request: req,
                namespace_object: values.namespace_objects.get(ns).cloned(),
                ..cel_shared.clone()
            };
            let converted = CelResource::new(r, &input);
            for (pi, p) in cel_policies.iter().enumerate() {
                cel_responses.insert((pi, ri, op.clone()), p.evaluate(&converted, &input));
            }
        }
    }
    for row in test.get("results").and_then(Value::as_array).into_iter().flatten() {
        let policy_full = row.get("policy").and_then(Value::as_str).unwrap_or("");
        let policy = policy_full.rsplit('/').next().unwrap_or(policy_full).to_string();
        let rule = row.get("rule").and_then(Value::as_str).unwrap_or("").to_string();
        let expected = row.get("result").and_then(Value::as_str).unwrap_or("").to_string();
        let operation = row.get("operation").and_then(Value::as_str).unwrap_or("").to_string();
        let mut names: Vec<String> = row
            .get("resources")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        if names.is_empty()
            && let Some(r) = row.get("resource").and_then(Value::as_str)
        {
            names.push(r.to_string());
        }
        let specs: Vec<&Value> =
            row.get("resourceSpecs").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        let mut out = RowOutcome {
            policy: policy.clone(),
            rule: rule.clone(),
            resources: names.clone(),
            expected: expected.clone(),
            cases: Vec::new(),
        };
        let pi = policies.iter().position(|p| p.name == policy);
        let cel_row = row.get("isValidatingPolicy").and_then(Value::as_bool) == Some(true)
            || row.get("isValidatingAdmissionPolicy").and_then(Value::as_bool) == Some(true)
            || (pi.is_none() && cel_policies.iter().any(|p| p.name == policy));
        let case_names: Vec<String> =
            if names.is_empty() && specs.is_empty() { vec![String::new()] } else { names.clone() };
        for name in case_names {
            if cel_row {
                let outcome = match cel_policies.iter().position(|p| p.name == policy) {
                    Some(ci) => {
                        let responses = |ri: usize| cel_responses.get(&(ci, ri, operation.clone()));
                        decide_cel(&name, &specs, &expected, &resources, &responses)
                    }
                    None => match unsupported_policies.get(&policy) {
                        Some(why) => CaseOutcome::NotRun(why.clone()),
                        None => CaseOutcome::Error(format!("policy `{policy}` is not in the test's policy files")),
                    },
                };
                out.cases.push((name, outcome));
                continue;
            }
            let outcome = match pi {
                None => match unsupported_policies.get(&policy) {
                    Some(why) => CaseOutcome::NotRun(why.clone()),
                    None => CaseOutcome::Error(format!("policy `{policy}` is not in the test's policy files")),
                },
                Some(pi) => {
                    let responses = |ri: usize| responses.get(&(pi, ri, operation.clone()));
                    decide(&policies[pi], &rule, &name, &specs, &expected, &resources, &responses)
                }
            };
            out.cases.push((name, outcome));
        }
        outcome.rows.push(out);
    }
    outcome
}

/// The test's mocks of a live cluster: its `context` file, its
/// `clusterResources`, `apiCallResponses` and `globalContextEntries`.
fn read_mocks(base: &Path, test: &Value) -> Result<Mocks, ReadError> {
    let mut mocks = Mocks::default();
    let mut objects: Vec<Value> = Vec::new();
    let mut any_objects = false;
    if let Some(ctx) = test.get("context").and_then(Value::as_str) {
        for doc in read_docs(&base.join(ctx))? {
            any_objects = true;
            objects.extend(doc.pointer("/spec/resources").and_then(Value::as_array).into_iter().flatten().cloned());
            if let Some(images) = doc.pointer("/spec/images").and_then(Value::as_array) {
                mocks.images.get_or_insert_with(Vec::new).extend(images.iter().cloned());
            }
        }
    }
    for f in files_of(base, test.get("clusterResources")) {
        for doc in read_docs(&f)? {
            any_objects = true;
            if doc.get("kind").and_then(Value::as_str) == Some("ClusterResource") {
                objects.extend(doc.pointer("/spec/resources").and_then(Value::as_array).into_iter().flatten().cloned());
            } else {
                objects.push(doc);
            }
        }
    }
    if any_objects {
        mocks.names.learn(&objects.iter().collect::<Vec<_>>());
        mocks.resources = Some(objects);
    }
    if let Some(calls) = test.get("apiCallResponses").and_then(Value::as_array) {
        let list = calls
            .iter()
            .map(|c| {
                let req = c.get("request").unwrap_or(c);
                let method = req.get("method").and_then(Value::as_str).unwrap_or("GET").to_string();
                let url =
                    req.get("url").or_else(|| req.get("urlPath")).and_then(Value::as_str).unwrap_or("").to_string();
                (method, url, c.get("response").cloned().unwrap_or(Value::Null))
            })
            .collect();
        mocks.http = Some(list);
    }
    if let Some(entries) = test.get("globalContextEntries").and_then(Value::as_array) {
        let mut global = HashMap::new();
        for e in entries {
            let name = e.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let mut root = e.get("data").cloned().unwrap_or(Value::Null);
            if let Some(rs) = e.get("resources").and_then(Value::as_array) {
                root = Value::Array(rs.clone());
            }
            if let Some(files) = e.get("resourceFiles").and_then(Value::as_array) {
                let mut list = Vec::new();
                for f in files.iter().filter_map(Value::as_str) {
                    list.extend(read_docs(&base.join(f))?);
                }
                root = Value::Array(list);
            }
            let search = |path: &str, data: &Value| {
                crate::jmespath::query(path, data).map_err(|error| ReadError::GlobalContextPath {
                    name: name.clone(),
                    path: path.to_owned(),
                    error: Box::new(error),
                })
            };
            if let Some(fp) = e.get("fieldPath").and_then(Value::as_str).filter(|p| !p.is_empty()) {
                root = search(fp, &root)?;
            }
            if let Some(ps) = e.get("projections").and_then(Value::as_array).filter(|p| !p.is_empty()) {
                let mut out = Map::new();
                for p in ps {
                    let pname = p.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                    out.insert(pname, search(p.get("path").and_then(Value::as_str).unwrap_or("@"), &root)?);
                }
                root = Value::Object(out);
            }
            global.insert(name, root);
        }
        mocks.global = Some(global);
    }
    Ok(mocks)
}

/// Decides a row of a CEL policy (`isValidatingPolicy`): every response
/// for the selected resources must give the expected result; a case whose
/// expression needs live data no mock gave is not run.
fn decide_cel<'r>(
    name: &str,
    specs: &[&Value],
    expected: &str,
    resources: &[Value],
    responses: &dyn Fn(usize) -> Option<&'r Vec<crate::eval::Response>>,
) -> CaseOutcome {
    let selected = selected_resources(name, specs, resources);
    let mut any = false;
    for ri in selected {
        for r in responses(ri).into_iter().flatten() {
            any = true;
            if r.status == Status::Error && r.message.starts_with("needs live data") {
                return CaseOutcome::NotRun(r.message.clone());
            }
            let got = r.status.as_str();
            if got != expected {
                return CaseOutcome::Disagree(format!(
                    "expected {expected}, tollgate says {got} ({}: {})",
                    r.rule, r.message
                ));
            }
        }
    }
    if !any {
        return if expected == "skip" { CaseOutcome::Agree } else { CaseOutcome::NotApplicable };
    }
    CaseOutcome::Agree
}

/// The resources a row names (by name, `namespace/name`, or
/// `resourceSpecs`); all of them when it names none that exist.
fn selected_resources(name: &str, specs: &[&Value], resources: &[Value]) -> Vec<usize> {
    let selected: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let rname = r.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
            let ns = r.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            if !name.is_empty() {
                return rname == name || format!("{ns}/{rname}") == name;
            }
            specs.iter().any(|s| {
                let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("");
                let api = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                let gv = if field("group").is_empty() {
                    field("version").to_string()
                } else {
                    format!("{}/{}", field("group"), field("version"))
                };
                (gv == api || gv.is_empty())
                    && field("name") == rname
                    && (field("namespace").is_empty() || field("namespace") == ns)
            })
        })
        .map(|(i, _)| i)
        .collect();
    if selected.is_empty() { (0..resources.len()).collect() } else { selected }
}

#[allow(clippy::too_many_arguments)]
fn decide<'r>(
    policy: &Policy,
    rule: &str,
    name: &str,
    specs: &[&Value],
    expected: &str,
    resources: &[Value],
    responses: &dyn Fn(usize) -> Option<&'r Vec<crate::eval::Response>>,
) -> CaseOutcome {
    // The rule must exist and be one tollgate evaluates.
    if !rule.is_empty() {
        let rules: Vec<_> =
            policy.rules.iter().filter(|r| r.name == rule || r.autogen_of.as_deref() == Some(rule)).collect();
        let Some(first) = rules.first() else {
            return CaseOutcome::Error(format!("rule `{rule}` is not in policy `{}`", policy.name));
        };
        match &first.kind {
            RuleKind::Validate => {}
            RuleKind::UnsupportedValidate(what) => {
                return CaseOutcome::NotRun(format!("{what} is not evaluated by tollgate"));
            }
            RuleKind::NotValidate(what) => {
                return CaseOutcome::NotRun(format!("{what} rules are not validations; tollgate does not run them"));
            }
        }
    } else if let Some(r) = policy.rules.iter().find(|r| r.kind != RuleKind::Validate) {
        return CaseOutcome::NotRun(format!(
            "policy `{}` has rule `{}` that tollgate does not evaluate",
            policy.name, r.name
        ));
    }
    let selected = selected_resources(name, specs, resources);
    let mut any_response = false;
    for ri in selected {
        let Some(rs) = responses(ri) else { continue };
        for r in rs.iter().filter(|r| {
            rule.is_empty()
                || r.rule == rule
                || r.rule == format!("autogen-{rule}")
                || r.rule == format!("autogen-cronjob-{rule}")
        }) {
            any_response = true;
            let got = if r.status == Status::Fail
                && policy.annotations.get("policies.kyverno.io/scored").and_then(Value::as_str) == Some("false")
            {
                "warn"
            } else {
                r.status.as_str()
            };
            if got != expected {
                return CaseOutcome::Disagree(format!(
                    "expected {expected}, tollgate says {got} (rule {}: {})",
                    r.rule, r.message
                ));
            }
        }
    }
    if !any_response {
        return if expected == "skip" { CaseOutcome::Agree } else { CaseOutcome::NotApplicable };
    }
    CaseOutcome::Agree
}

/// Every `kyverno-test.yaml` under `root`, sorted.
pub fn find_kyverno_tests(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                continue;
            }
            if ft.is_dir() {
                stack.push(e.path());
            } else if e.file_name() == "kyverno-test.yaml" {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}
