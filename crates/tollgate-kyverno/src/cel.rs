//! CEL policies: Kyverno `ValidatingPolicy`/`NamespacedValidatingPolicy`
//! (`policies.kyverno.io`), Kubernetes `ValidatingAdmissionPolicy` with its
//! bindings, and `validate.cel` rules of a `ClusterPolicy`/`Policy`, all
//! evaluated with `tollgate-cel`.
//!
//! Each policy is compiled once when it is loaded (every expression, its
//! pod-controller autogen variants included); each object is converted to a
//! CEL value once and judged by every CEL policy.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};
use tollgate_cel::{Activation, Budget, CompileError, Program, Session, Variables};

use crate::eval::{Response, Status};
use crate::pattern::wildcard;
use crate::policy::{InvalidPolicy, RequestInfo, gvk, selector_matches, string_map};

/// The variables a Kyverno or Kubernetes CEL expression may use.
const DECLARED: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "variables",
    "authorizer",
    "exceptions",
    "json",
    "yaml",
    "resource",
    "http",
    "globalContext",
    "image",
];

/// An expression that does not compile, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelCompileError {
    /// JSON pointer of the expression's field in the policy document.
    pub pointer: String,
    /// The error, its line and column inside the expression.
    pub error: CompileError,
}

impl std::fmt::Display for CelCompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.pointer, self.error)
    }
}

fn compile_at(source: &str, pointer: String) -> Result<Program, CelCompileError> {
    tollgate_cel::compile(source, DECLARED).map_err(|error| CelCompileError { pointer, error })
}

/// One validation: its expression, message and message expression.
#[derive(Debug, Clone)]
pub(crate) struct Validation {
    program: Program,
    message: String,
    message_expression: Option<Program>,
}

/// The expressions of a policy or rule, compiled.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expressions {
    match_conditions: Vec<(String, Program)>,
    variables: Variables,
    validations: Vec<Validation>,
}

impl Expressions {
    /// Compiles `matchConditions`, `variables` and `validations` (the key
    /// of the list of validations is `validations_key`: `expressions` in a
    /// `validate.cel` rule) found under `base` at `pointer`.
    fn compile(
        conditions: Option<&Value>,
        conditions_pointer: &str,
        base: &Value,
        pointer: &str,
        validations_key: &str,
        default_message: &str,
    ) -> Result<Expressions, CelCompileError> {
        let mut out = Expressions::default();
        for (i, c) in conditions.and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let expr = c.get("expression").and_then(Value::as_str).unwrap_or("");
            out.match_conditions.push((name, compile_at(expr, format!("{conditions_pointer}/{i}/expression"))?));
        }
        let mut vars = Vec::new();
        for (i, v) in base.get("variables").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("").to_string();
            let expr = v.get("expression").and_then(Value::as_str).unwrap_or("");
            vars.push((name, compile_at(expr, format!("{pointer}/variables/{i}/expression"))?));
        }
        out.variables = Variables::new(vars);
        for (i, v) in base.get(validations_key).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let expr = v.get("expression").and_then(Value::as_str).unwrap_or("");
            let program = compile_at(expr, format!("{pointer}/{validations_key}/{i}/expression"))?;
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .unwrap_or(default_message)
                .to_string();
            let message_expression = match v.get("messageExpression").and_then(Value::as_str) {
                Some(m) => Some(compile_at(m, format!("{pointer}/{validations_key}/{i}/messageExpression"))?),
                None => None,
            };
            out.validations.push(Validation { program, message, message_expression });
        }
        Ok(out)
    }
}

/// What went wrong evaluating one validation.
enum Outcome {
    /// Every validation held.
    Pass,
    /// Match conditions false: the policy does not apply.
    NotMatched,
    /// Validation `index` is false: its message and the path it read.
    Fail { message: String, path: Option<String> },
    /// An expression failed; the message says which and why.
    Error { message: String, live: bool },
}

impl Expressions {
    fn run(&self, activation: &Activation) -> Outcome {
        let mut s = Session::new(activation, Some(&self.variables), Budget::default());
        for (name, p) in &self.match_conditions {
            match s.eval(p) {
                Ok(tollgate_cel::Value::Bool(true)) => {}
                Ok(tollgate_cel::Value::Bool(false)) => return Outcome::NotMatched,
                Ok(other) => {
                    return Outcome::Error {
                        message: format!("match condition `{name}` evaluated to {}, not a bool", other.type_name()),
                        live: false,
                    };
                }
                Err(e) => {
                    return Outcome::Error {
                        live: matches!(e, tollgate_cel::Error::LiveData(_)),
                        message: format!("match condition `{name}`: {e}"),
                    };
                }
            }
        }
        for (i, v) in self.validations.iter().enumerate() {
            match s.eval(&v.program) {
                Ok(tollgate_cel::Value::Bool(true)) => {}
                Ok(tollgate_cel::Value::Bool(false)) => {
                    let path = s.last_read().map(kyverno_path);
                    let mut message = v.message.clone();
                    if let Some(me) = &v.message_expression {
                        match s.eval(me) {
                            Ok(tollgate_cel::Value::String(m)) => message = m.to_string(),
                            Ok(other) => {
                                message =
                                    format!("failed to convert message expression to string: {}", other.type_name());
                            }
                            Err(e) => message = format!("failed to evaluate message expression: {e}"),
                        }
                    }
                    if message.is_empty() {
                        message = format!("failed expression: {}", v.program.source().trim());
                    }
                    return Outcome::Fail { message, path };
                }
                Ok(other) => {
                    return Outcome::Error {
                        message: format!("validation {i} evaluated to {}, not a bool", other.type_name()),
                        live: false,
                    };
                }
                Err(e) => {
                    return Outcome::Error {
                        live: matches!(e, tollgate_cel::Error::LiveData(_)),
                        message: format!("validation {i} ({}): {e}", v.program.source().trim()),
                    };
                }
            }
        }
        Outcome::Pass
    }
}

/// A path read by an expression as a Kyverno failure path (`/a/0/b/`).
fn kyverno_path(path: &tollgate_cel::Path) -> String {
    let mut out = String::from("/");
    for seg in path {
        match seg {
            tollgate_cel::PathSeg::Key(k) => out.push_str(k),
            tollgate_cel::PathSeg::Index(i) => out.push_str(&i.to_string()),
        }
        out.push('/');
    }
    out
}

// --- the request ---------------------------------------------------------------

/// Plural resource names of kinds: the built-in irregular ones, the CRDs
/// found in the repository or test, and Kubernetes' guess for the rest.
#[derive(Debug, Clone, Default)]
pub struct ResourceNames {
    by_kind: HashMap<(String, String), String>,
}

impl ResourceNames {
    /// Learns the plural names of the `CustomResourceDefinition`s among
    /// `documents`.
    pub fn learn(&mut self, documents: &[&Value]) {
        for d in documents {
            if d.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            let (Some(group), Some(kind), Some(plural)) = (
                d.pointer("/spec/group").and_then(Value::as_str),
                d.pointer("/spec/names/kind").and_then(Value::as_str),
                d.pointer("/spec/names/plural").and_then(Value::as_str),
            ) else {
                continue;
            };
            self.by_kind.insert((group.to_string(), kind.to_string()), plural.to_string());
        }
    }

    /// The plural resource name of `kind` in `group`.
    pub fn resource(&self, group: &str, kind: &str) -> String {
        if let Some(r) = self.by_kind.get(&(group.to_string(), kind.to_string())) {
            return r.clone();
        }
        if kind == "Endpoints" {
            return "endpoints".into();
        }
        // Kubernetes' `UnsafeGuessKindToResource`.
        let lower = kind.to_lowercase();
        if lower.ends_with('s') {
            format!("{lower}es")
        } else if let Some(stem) = lower.strip_suffix('y') {
            format!("{stem}ies")
        } else if lower.is_empty() {
            lower
        } else {
            format!("{lower}s")
        }
    }
}

/// Everything a CEL evaluation of one resource knows besides the policy.
#[derive(Debug, Clone)]
pub struct CelInput {
    /// Operation, user and namespace labels.
    pub request: RequestInfo,
    /// `namespaceObject`, when the namespace is known; otherwise a
    /// Namespace with only its name, as the Kyverno CLI gives offline.
    pub namespace_object: Option<Value>,
    /// The run's clock, nanoseconds since the epoch (`time.now()`);
    /// [`run_clock`] by default.
    pub now: i128,
    /// Plural names of kinds.
    pub names: Arc<ResourceNames>,
    /// Objects a policy's `paramRef` may name.
    pub params: Arc<Vec<Value>>,
    /// CEL PolicyExceptions (`policies.kyverno.io`).
    pub exceptions: Arc<Vec<CelException>>,
    /// Judge a `ValidatingAdmissionPolicy` without bindings by its own
    /// match, as `kyverno test` does (a cluster would enforce nothing).
    pub evaluate_unbound: bool,
    /// Test mocks for the functions that need a live cluster.
    pub mocks: Option<Arc<Mocks>>,
}

impl Default for CelInput {
    fn default() -> Self {
        CelInput {
            request: RequestInfo { operation: "CREATE".into(), ..RequestInfo::default() },
            namespace_object: None,
            now: run_clock(),
            names: Arc::default(),
            params: Arc::default(),
            exceptions: Arc::default(),
            evaluate_unbound: false,
            mocks: None,
        }
    }
}

/// The one clock of a run (`time.now()` in CEL): `SOURCE_DATE_EPOCH` when
/// set, so a run is reproducible, else the wall clock at the first call.
pub fn run_clock() -> i128 {
    static CLOCK: std::sync::OnceLock<i128> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(|| {
        if let Some(secs) = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<i64>().ok()) {
            return i128::from(secs) * 1_000_000_000;
        }
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0))
    })
}

/// One resource, converted once for every CEL policy that judges it.
pub struct CelResource<'a> {
    json: &'a Value,
    group: String,
    version: String,
    kind: String,
    resource: String,
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    activation: Activation,
}

impl<'a> CelResource<'a> {
    /// Converts `resource` for evaluation with `input`.
    pub fn new(resource: &'a Value, input: &CelInput) -> CelResource<'a> {
        let (group, version, kind) = gvk(resource);
        let plural = input.names.resource(group, kind);
        let namespace = if kind == "Namespace" {
            String::new()
        } else {
            resource.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string()
        };
        let name = resource.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let labels = string_map(resource.pointer("/metadata/labels"));
        let object = tollgate_cel::Value::from_json(resource);
        let op = input.request.operation.as_str();
        let (obj, old) = match op {
            "DELETE" => (tollgate_cel::Value::Null, object.clone()),
            "UPDATE" => (object.clone(), object.clone()),
            _ => (object.clone(), tollgate_cel::Value::Null),
        };
        let user = serde_json::json!({
            "username": input.request.username,
            "groups": input.request.groups,
        });
        let request = serde_json::json!({
            "uid": "",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": plural},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": plural},
            "name": name,
            "namespace": namespace,
            "operation": op,
            "userInfo": user,
            "dryRun": false,
        });
        let mut activation = Activation::new(input.now);
        if let Some(m) = &input.mocks {
            activation.set_live_data(m.clone());
        }
        activation.set("object", obj);
        activation.set("oldObject", old);
        let mut request = tollgate_cel::Value::from_json(&request);
        if let tollgate_cel::Value::Map(m) = &mut request {
            let m = Arc::make_mut(m);
            m.insert(
                tollgate_cel::Key::String(Arc::from("object")),
                activation.get("object").cloned().unwrap_or(tollgate_cel::Value::Null),
            );
            m.insert(
                tollgate_cel::Key::String(Arc::from("oldObject")),
                activation.get("oldObject").cloned().unwrap_or(tollgate_cel::Value::Null),
            );
        }
        activation.set("request", request);
        let ns_object = match (&input.namespace_object, namespace.is_empty()) {
            (_, true) => tollgate_cel::Value::Null,
            (Some(ns), false) => tollgate_cel::Value::from_json(ns),
            (None, false) => tollgate_cel::Value::from_json(&serde_json::json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}
            })),
        };
        activation.set("namespaceObject", ns_object);
        activation.set("params", tollgate_cel::Value::Null);
        activation.set("authorizer", tollgate_cel::authorizer());
        activation.set(
            "exceptions",
            tollgate_cel::Value::from_json(&serde_json::json!({"allowedImages": [], "allowedValues": []})),
        );
        for lib in tollgate_cel::kyverno::LIBRARY_VARIABLES {
            activation.set(lib, tollgate_cel::kyverno::library_value(lib));
        }
        CelResource {
            json: resource,
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            resource: plural,
            namespace,
            name,
            labels,
            activation,
        }
    }
}

// --- test mocks --------------------------------------------------------------------

/// What a `kyverno test` supplies instead of a live cluster: the objects of
/// its `context` file and `clusterResources` (for `resource.Get`/`List`),
/// the image data of its `context` file (`image.GetMetadata`), its
/// `apiCallResponses` (`http.Get`/`Post`) and `globalContextEntries`
/// (`globalContext.Get`).
#[derive(Debug, Clone, Default)]
pub struct Mocks {
    /// Objects the cluster holds.
    pub resources: Option<Vec<Value>>,
    /// `context` `spec.images` entries.
    pub images: Option<Vec<Value>>,
    /// `apiCallResponses`: method, URL, response.
    pub http: Option<Vec<(String, String, Value)>>,
    /// `globalContextEntries` by name, resolved as the Kyverno CLI does
    /// (`fieldPath`, then projections into a map of their names).
    pub global: Option<HashMap<String, Value>>,
    /// Plural names of the kinds of `resources`.
    pub names: ResourceNames,
}

impl Mocks {
    /// Whether the test supplies any mock.
    pub fn is_empty(&self) -> bool {
        self.resources.is_none() && self.images.is_none() && self.http.is_none() && self.global.is_none()
    }

    fn find_resources(&self, args: &[tollgate_cel::Value]) -> Option<Vec<Value>> {
        let resources = self.resources.as_ref()?;
        let arg = |i: usize| args.get(i).and_then(tollgate_cel::Value::as_str).unwrap_or("");
        let (api, plural, ns) = (arg(0), arg(1), arg(2));
        Some(
            resources
                .iter()
                .filter(|o| {
                    let (g, v, k) = gvk(o);
                    let gv_matches = if g.is_empty() {
                        v == api
                    } else {
                        api.strip_prefix(g).and_then(|r| r.strip_prefix('/')) == Some(v)
                    };
                    gv_matches
                        && self.names.resource(g, k) == plural
                        && (ns.is_empty()
                            || o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("") == ns)
                })
                .cloned()
                .collect(),
        )
    }
}

fn cel_value(v: &Value) -> tollgate_cel::Value {
    tollgate_cel::Value::from_json(v)
}

/// What a test's mocks do not hold, as the cluster would say "not found".
#[derive(Debug, thiserror::Error)]
enum MockMiss {
    /// `resource` is the plural the call named (`configmaps`).
    #[error("{resource} {name:?} not found in the test's resources")]
    Resource { resource: String, name: String },
    #[error("no image data for {0:?} in the test's context")]
    Image(String),
    #[error("no apiCallResponses entry for {method} {url}")]
    Http { method: String, url: String },
    #[error("no globalContextEntries entry named {0:?}")]
    GlobalContext(String),
}

impl tollgate_cel::LiveData for Mocks {
    fn call(
        &self,
        library: &str,
        function: &str,
        args: &[tollgate_cel::Value],
    ) -> Option<Result<tollgate_cel::Value, tollgate_cel::LiveDataError>> {
        let arg = |i: usize| args.get(i).and_then(tollgate_cel::Value::as_str).unwrap_or("").to_string();
        match (library, function.to_ascii_lowercase().as_str()) {
            ("resource", "get") => {
                let found = self.find_resources(args)?;
                let name = arg(3);
                Some(
                    found
                        .iter()
                        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str()))
                        .map(cel_value)
                        .ok_or_else(|| MockMiss::Resource { resource: arg(1), name }.into()),
                )
            }
            ("resource", "list") => {
                let found = self.find_resources(args)?;
                Some(Ok(cel_value(&serde_json::json!({"items": found}))))
            }
            ("image", "getmetadata") => {
                let images = self.images.as_ref()?;
                let wanted = arg(0);
                Some(
                    images
                        .iter()
                        .find(|i| {
                            i.get("image").and_then(Value::as_str) == Some(wanted.as_str())
                                || i.get("resolvedImage").and_then(Value::as_str) == Some(wanted.as_str())
                        })
                        .map(cel_value)
                        .ok_or_else(|| MockMiss::Image(wanted).into()),
                )
            }
            ("http", method @ ("get" | "post")) => {
                let calls = self.http.as_ref()?;
                let url = arg(0);
                Some(
                    calls
                        .iter()
                        .find(|(m, u, _)| m.eq_ignore_ascii_case(method) && *u == url)
                        .map(|(_, _, r)| cel_value(r))
                        .ok_or_else(|| MockMiss::Http { method: method.to_ascii_uppercase(), url }.into()),
                )
            }
            // The CLI's mock entry answers the same data whatever the
            // projection asked.
            ("globalContext", "get") => {
                let global = self.global.as_ref()?;
                let name = arg(0);
                Some(global.get(&name).map(cel_value).ok_or_else(|| MockMiss::GlobalContext(name).into()))
            }
            _ => None,
        }
    }
}

// --- matching --------------------------------------------------------------------

/// One `resourceRules` entry.
#[derive(Debug, Clone, Default)]
struct ResourceRule {
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    operations: Vec<String>,
    names: Vec<String>,
    scope: String,
}

impl ResourceRule {
    fn from_json(v: &Value) -> ResourceRule {
        let list = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        ResourceRule {
            groups: list("apiGroups"),
            versions: list("apiVersions"),
            resources: list("resources"),
            operations: list("operations"),
            names: list("resourceNames"),
            scope: v.get("scope").and_then(Value::as_str).unwrap_or("*").to_string(),
        }
    }

    fn matches(&self, r: &CelResource<'_>, operation: &str) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        if !any(&self.groups, &r.group) || !any(&self.versions, &r.version) {
            return false;
        }
        // `pods`, `*`, `*/*`; a subresource rule (`pods/status`) never
        // selects the resource itself.
        if !self.resources.iter().any(|x| x == "*" || x == "*/*" || *x == r.resource) {
            return false;
        }
        if !self.operations.is_empty() && !self.operations.iter().any(|o| o == "*" || o == operation) {
            return false;
        }
        if !self.names.is_empty() && !self.names.contains(&r.name) {
            return false;
        }
        match self.scope.as_str() {
            "Namespaced" => !r.namespace.is_empty(),
            "Cluster" => r.namespace.is_empty(),
            _ => true,
        }
    }
}

/// `matchConstraints` (or a binding's `matchResources`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MatchResources {
    rules: Vec<ResourceRule>,
    exclude: Vec<ResourceRule>,
    namespace_selector: Option<Value>,
    object_selector: Option<Value>,
    /// No `resourceRules` at all: a binding without `matchResources`
    /// defers to its policy.
    pub(crate) empty: bool,
}

impl MatchResources {
    fn from_json(v: Option<&Value>) -> MatchResources {
        let Some(v) = v.filter(|v| v.is_object()) else {
            return MatchResources { empty: true, ..MatchResources::default() };
        };
        let rules = |k: &str| -> Vec<ResourceRule> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(ResourceRule::from_json).collect())
                .unwrap_or_default()
        };
        let rules_in = rules("resourceRules");
        MatchResources {
            empty: ["resourceRules", "excludeResourceRules", "namespaceSelector", "objectSelector"]
                .iter()
                .all(|k| v.get(*k).is_none_or(Value::is_null)),
            rules: rules_in,
            exclude: rules("excludeResourceRules"),
            namespace_selector: v.get("namespaceSelector").filter(|s| !s.is_null()).cloned(),
            object_selector: v.get("objectSelector").filter(|s| !s.is_null()).cloned(),
        }
    }

    fn matches(&self, r: &CelResource<'_>, req: &RequestInfo) -> bool {
        let op = req.operation.as_str();
        if !self.rules.is_empty() && !self.rules.iter().any(|rule| rule.matches(r, op)) {
            return false;
        }
        if self.exclude.iter().any(|rule| rule.matches(r, op)) {
            return false;
        }
        if let Some(sel) = &self.object_selector
            && !selector_matches(sel, &r.labels).unwrap_or(false)
        {
            return false;
        }
        if let Some(sel) = &self.namespace_selector {
            // A cluster-scoped object other than a Namespace always
            // matches; a Namespace is matched on its own labels.
            let labels = if r.kind == "Namespace" && r.group.is_empty() {
                Some(&r.labels)
            } else if r.namespace.is_empty() {
                None
            } else {
                Some(&req.namespace_labels)
            };
            if let Some(labels) = labels
                && !selector_matches(sel, labels).unwrap_or(false)
            {
                return false;
            }
        }
        true
    }
}

// --- ValidatingPolicy --------------------------------------------------------------

/// One evaluated form of a policy: as written, or an autogen variant for
/// pod controllers.
#[derive(Debug, Clone)]
struct Variant {
    /// `""` as written; `autogen-defaults`/`autogen-cronjobs`.
    rule: String,
    matcher: MatchResources,
    expressions: Expressions,
}

/// A Kyverno `ValidatingPolicy`/`NamespacedValidatingPolicy` or a
/// Kubernetes `ValidatingAdmissionPolicy`, compiled.
#[derive(Debug, Clone)]
pub struct CelPolicy {
    /// `metadata.name`.
    pub name: String,
    /// The kind.
    pub kind: String,
    /// `metadata.namespace` of a `NamespacedValidatingPolicy`.
    pub namespace: Option<String>,
    /// `metadata.annotations`.
    pub annotations: Map<String, Value>,
    /// `validationActions` (`Deny`, `Warn`, `Audit`).
    pub actions: Vec<String>,
    /// The file it came from.
    pub path: String,
    /// Its document in the file.
    pub document: usize,
    variants: Vec<Variant>,
    /// A `ValidatingAdmissionPolicy` applies only through its bindings.
    bindings: Option<Vec<Binding>>,
    /// `spec.paramKind` of a `ValidatingAdmissionPolicy`.
    param_kind: Option<(String, String)>,
    /// `failurePolicy: Ignore`: an error is no verdict.
    ignore_errors: bool,
}

/// Whether a document is a CEL validating policy tollgate evaluates.
pub fn is_cel_policy(doc: &Value) -> bool {
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    (api.starts_with("policies.kyverno.io/") && matches!(kind, "ValidatingPolicy" | "NamespacedValidatingPolicy"))
        || (api.starts_with("admissionregistration.k8s.io/") && kind == "ValidatingAdmissionPolicy")
}

/// The pod-controller autogen of a `ValidatingPolicy`, as Kyverno's
/// `pkg/cel/policies/vpol/autogen` makes it: the resource lists and the
/// replacements of `object.spec`/`object.metadata` in every expression.
/// One autogen variant: its name, the (group, version, resource) targets,
/// and what `spec` and `metadata` become.
type AutogenVariant = (&'static str, &'static [(&'static str, &'static str, &'static str)], &'static str, &'static str);

const AUTOGEN: &[AutogenVariant] = &[
    (
        "autogen-defaults",
        &[
            ("apps", "v1", "daemonsets"),
            ("apps", "v1", "deployments"),
            ("apps", "v1", "replicasets"),
            ("apps", "v1", "statefulsets"),
            ("batch", "v1", "jobs"),
        ],
        "spec.template.spec",
        "spec.template.metadata",
    ),
    (
        "autogen-cronjobs",
        &[("batch", "v1", "cronjobs")],
        "spec.jobTemplate.spec.template.spec",
        "spec.jobTemplate.spec.template.metadata",
    ),
];

/// Kyverno's replacement of `object.<from>` (not when followed by
/// `.namespace`, which stays on the controller itself).
fn autogen_replace(text: &str, from: &str, to: &str) -> String {
    let mut out = text.to_string();
    for root in ["object.", "oldObject."] {
        let needle = format!("{root}{from}");
        let replacement = format!("{root}{to}");
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&needle) {
            result.push_str(&rest[..i]);
            let after = &rest[i + needle.len()..];
            let protected = after
                .strip_prefix(".namespace")
                .is_some_and(|n| n.chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_')));
            result.push_str(if protected { &needle } else { &replacement });
            rest = after;
        }
        result.push_str(rest);
        out = result;
    }
    out
}

fn can_autogen(constraints: Option<&Value>) -> bool {
    let Some(m) = constraints else { return false };
    if m.get("objectSelector").is_some_and(|s| {
        s.get("matchLabels").and_then(Value::as_object).is_some_and(|o| !o.is_empty())
            || s.get("matchExpressions").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
    }) {
        return false;
    }
    if m.get("excludeResourceRules").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        return false;
    }
    let Some([rule]) = m.get("resourceRules").and_then(Value::as_array).map(Vec::as_slice) else { return false };
    let one = |k: &str, v: &str| rule.get(k).and_then(Value::as_array).is_some_and(|a| a.len() == 1 && a[0] == v);
    rule.get("resourceNames").and_then(Value::as_array).is_none_or(Vec::is_empty)
        && one("apiGroups", "")
        && one("apiVersions", "v1")
        && one("resources", "pods")
}

impl CelPolicy {
    /// Compiles a `ValidatingPolicy`, `NamespacedValidatingPolicy` or
    /// `ValidatingAdmissionPolicy` document.
    pub fn from_json(doc: &Value, path: &str, document: usize) -> Result<CelPolicy, PolicyError> {
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or(PolicyError::Invalid(InvalidPolicy::NoName))?
            .to_string();
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let spec = doc
            .get("spec")
            .filter(|s| s.is_object())
            .ok_or_else(|| PolicyError::Invalid(InvalidPolicy::NoSpec(name.clone())))?;
        let vap = kind == "ValidatingAdmissionPolicy";
        let compile = |spec: &Value| -> Result<Expressions, CelCompileError> {
            Expressions::compile(spec.get("matchConditions"), "/spec/matchConditions", spec, "/spec", "validations", "")
        };
        let expressions = compile(spec).map_err(PolicyError::Compile)?;
        let mut variants = vec![Variant {
            rule: String::new(),
            matcher: MatchResources::from_json(spec.get("matchConstraints")),
            expressions,
        }];
        if !vap && can_autogen(spec.get("matchConstraints")) {
            let wanted: Option<Vec<String>> = spec
                .pointer("/autogen/podControllers/controllers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_lowercase).collect());
            let operations =
                spec.pointer("/matchConstraints/resourceRules/0/operations").cloned().unwrap_or(Value::Null);
            for (rule, targets, to_spec, to_meta) in AUTOGEN {
                let targets: Vec<&(&str, &str, &str)> = targets
                    .iter()
                    .filter(|(_, _, r)| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == r)))
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                let mut generated = spec.clone();
                let mut by_gv: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
                for (g, v, r) in &targets {
                    by_gv.entry((g, v)).or_default().push(r);
                }
                let rules: Vec<Value> = by_gv
                    .into_iter()
                    .map(|((g, v), rs)| {
                        serde_json::json!({"apiGroups": [g], "apiVersions": [v], "resources": rs, "operations": operations})
                    })
                    .collect();
                let mut constraints = serde_json::json!({"resourceRules": rules});
                if let Some(ns) = spec.pointer("/matchConstraints/namespaceSelector") {
                    constraints["namespaceSelector"] = ns.clone();
                }
                generated["matchConstraints"] = constraints;
                let text = serde_json::to_string(&generated).unwrap_or_default();
                let text = autogen_replace(&text, "spec", to_spec);
                let text = autogen_replace(&text, "metadata", to_meta);
                let generated: Value = serde_json::from_str(&text).unwrap_or(generated);
                let expressions = compile(&generated).map_err(PolicyError::Compile)?;
                variants.push(Variant {
                    rule: (*rule).to_string(),
                    matcher: MatchResources::from_json(generated.get("matchConstraints")),
                    expressions,
                });
            }
        }
        let actions: Vec<String> = spec.get("validationActions").and_then(Value::as_array).map_or_else(
            || vec!["Audit".to_string()],
            |a| a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        );
        let param_kind = spec.get("paramKind").map(|p| {
            (
                p.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string(),
                p.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
            )
        });
        Ok(CelPolicy {
            namespace: (kind == "NamespacedValidatingPolicy")
                .then(|| doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string()),
            annotations: doc.pointer("/metadata/annotations").and_then(Value::as_object).cloned().unwrap_or_default(),
            actions,
            path: path.to_string(),
            document,
            variants,
            bindings: vap.then(Vec::new),
            param_kind,
            ignore_errors: spec.get("failurePolicy").and_then(Value::as_str) == Some("Ignore"),
            name,
            kind,
        })
    }

    /// Whether the policy denies (an `Enforce` in Kyverno's older words):
    /// for a `ValidatingAdmissionPolicy`, whether a binding does.
    pub fn denies(&self) -> bool {
        match &self.bindings {
            Some(b) => b.iter().any(|b| b.actions.iter().any(|a| a == "Deny")),
            None => self.actions.iter().any(|a| a == "Deny"),
        }
    }

    /// Whether the response named `rule` denies: for a
    /// `ValidatingAdmissionPolicy`, the actions of the binding it names.
    pub fn denies_for(&self, rule: &str) -> bool {
        match &self.bindings {
            Some(b) => b.iter().filter(|b| b.name == rule).any(|b| b.actions.iter().any(|a| a == "Deny")),
            None => self.denies(),
        }
    }

    /// Whether the policy takes params (`paramKind`).
    pub fn uses_params(&self) -> bool {
        self.param_kind.is_some()
    }

    /// A `ValidatingAdmissionPolicy` with no binding enforces nothing.
    pub fn is_unbound(&self) -> bool {
        self.bindings.as_ref().is_some_and(Vec::is_empty)
    }

    /// Attaches a `ValidatingAdmissionPolicyBinding` (only to a
    /// `ValidatingAdmissionPolicy` it names).
    pub fn bind(&mut self, binding: Binding) {
        if let Some(b) = &mut self.bindings {
            b.push(binding);
        }
    }

    /// The bindings' effective actions for a VAP; the policy's own otherwise.
    pub fn bindings(&self) -> Option<&[Binding]> {
        self.bindings.as_deref()
    }

    /// Judges one resource: one response per variant that selects it
    /// (none when none does).
    pub fn evaluate(&self, r: &CelResource<'_>, input: &CelInput) -> Vec<Response> {
        if let Some(ns) = &self.namespace
            && *ns != r.namespace
        {
            return Vec::new();
        }
        let mut out = Vec::new();
        for variant in &self.variants {
            let name = if variant.rule.is_empty() { self.name.clone() } else { variant.rule.clone() };
            let unbound_test = input.evaluate_unbound && self.is_unbound();
            match self.bindings.as_ref().filter(|_| !unbound_test) {
                None => {
                    if !variant.matcher.matches(r, &input.request) {
                        continue;
                    }
                    if let Some(e) = input.exceptions.iter().find(|e| e.applies(self, r)) {
                        out.push(Response {
                            rule: name,
                            status: Status::Skip,
                            message: format!("rule is skipped due to policy exception {}", e.name),
                            path: None,
                        });
                        continue;
                    }
                    out.push(self.respond(name, variant.expressions.run(&r.activation)));
                }
                Some(bindings) => {
                    for b in bindings {
                        if !variant.matcher.matches(r, &input.request)
                            || (!b.matcher.empty && !b.matcher.matches(r, &input.request))
                        {
                            continue;
                        }
                        let params = match self.binding_params(b, r, input) {
                            Ok(p) => p,
                            Err(e) => {
                                let message = e.to_string();
                                out.push(Response { rule: b.name.clone(), status: Status::Error, message, path: None });
                                continue;
                            }
                        };
                        for p in params {
                            let mut activation = r.activation.clone();
                            activation.set("params", tollgate_cel::Value::from_json(&p));
                            let mut resp = self.respond(name.clone(), variant.expressions.run(&activation));
                            resp.rule.clone_from(&b.name);
                            out.push(resp);
                        }
                    }
                }
            }
        }
        out
    }

    fn respond(&self, rule: String, outcome: Outcome) -> Response {
        match outcome {
            Outcome::Pass => Response { rule, status: Status::Pass, message: String::new(), path: None },
            Outcome::NotMatched => {
                Response { rule, status: Status::Skip, message: "match conditions not met".into(), path: None }
            }
            Outcome::Fail { message, path } => Response { rule, status: Status::Fail, message, path },
            Outcome::Error { message, .. } if self.ignore_errors => Response {
                rule,
                status: Status::Skip,
                message: format!("ignored (failurePolicy: Ignore): {message}"),
                path: None,
            },
            Outcome::Error { message, live } => Response {
                rule,
                status: Status::Error,
                message: if live { format!("needs live data: {message}") } else { message },
                path: None,
            },
        }
    }

    /// The param objects a binding selects (`[null]` without a paramKind).
    fn binding_params<'p>(
        &'p self,
        b: &'p Binding,
        r: &CelResource<'_>,
        input: &CelInput,
    ) -> Result<Vec<Value>, ParamsError<'p>> {
        let Some((api, kind)) = &self.param_kind else { return Ok(vec![Value::Null]) };
        let Some(pref) = &b.param_ref else {
            return Err(ParamsError::NoParamRef { policy: &self.name, binding: &b.name });
        };
        let found = find_params(&input.params, api, kind, pref, &r.namespace);
        if found.is_empty() {
            if pref.get("parameterNotFoundAction").and_then(Value::as_str) == Some("Allow") {
                return Ok(Vec::new());
            }
            return Err(ParamsError::NotFound { api, kind, binding: &b.name });
        }
        Ok(found)
    }
}

/// Why a binding has no params to judge with: its rules are not checked.
#[derive(Debug, thiserror::Error)]
enum ParamsError<'p> {
    #[error("policy `{policy}` has a paramKind but binding `{binding}` has no paramRef")]
    NoParamRef { policy: &'p str, binding: &'p str },
    #[error("no {kind} param ({api}) for binding `{binding}`: the paramRef names no object in the repository")]
    NotFound { api: &'p str, kind: &'p str, binding: &'p str },
}

/// The objects of `kind` that a `paramRef` (name or selector, namespace)
/// names.
fn find_params(params: &[Value], api: &str, kind: &str, pref: &Value, namespace: &str) -> Vec<Value> {
    let name = pref.get("name").and_then(Value::as_str);
    let ns = pref.get("namespace").and_then(Value::as_str).unwrap_or(namespace);
    let selector = pref.get("selector");
    params
        .iter()
        .filter(|p| {
            p.get("kind").and_then(Value::as_str) == Some(kind)
                && (api.is_empty() || p.get("apiVersion").and_then(Value::as_str) == Some(api))
                && {
                    let pns = p.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
                    pns.is_empty() || ns.is_empty() || pns == ns
                }
                && match (name, selector) {
                    (Some(n), _) => p.pointer("/metadata/name").and_then(Value::as_str) == Some(n),
                    (None, Some(sel)) => {
                        selector_matches(sel, &string_map(p.pointer("/metadata/labels"))).unwrap_or(false)
                    }
                    (None, None) => false,
                }
        })
        .cloned()
        .collect()
}

/// Why a CEL policy could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The document is not a valid policy.
    #[error(transparent)]
    Invalid(#[from] InvalidPolicy),
    /// An expression does not compile.
    #[error("the expression at {} does not compile: {}", .0.pointer, .0.error)]
    Compile(CelCompileError),
}

/// A `ValidatingAdmissionPolicyBinding`.
#[derive(Debug, Clone)]
pub struct Binding {
    /// `metadata.name`.
    pub name: String,
    /// `spec.policyName`.
    pub policy: String,
    /// `spec.validationActions`.
    pub actions: Vec<String>,
    matcher: MatchResources,
    param_ref: Option<Value>,
}

impl Binding {
    /// Reads a binding document; `None` for other documents.
    pub fn from_json(doc: &Value) -> Option<Binding> {
        let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if !api.starts_with("admissionregistration.k8s.io/")
            || doc.get("kind").and_then(Value::as_str) != Some("ValidatingAdmissionPolicyBinding")
        {
            return None;
        }
        let spec = doc.get("spec")?;
        Some(Binding {
            name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
            policy: spec.get("policyName").and_then(Value::as_str).unwrap_or("").to_string(),
            actions: spec
                .get("validationActions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            matcher: MatchResources::from_json(spec.get("matchResources")),
            param_ref: spec.get("paramRef").cloned(),
        })
    }
}

/// A CEL `PolicyException` (`policies.kyverno.io`): the policies it names
/// do not apply to resources its match conditions select.
#[derive(Debug, Clone)]
pub struct CelException {
    /// `metadata.name`.
    pub name: String,
    refs: Vec<(String, String)>,
    conditions: Vec<(String, Program)>,
}

impl CelException {
    /// Reads a CEL `PolicyException`; `None` for other documents,
    /// `Some(Err)` when an expression does not compile.
    pub fn from_json(doc: &Value) -> Option<Result<CelException, CelCompileError>> {
        let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        if !api.starts_with("policies.kyverno.io/")
            || doc.get("kind").and_then(Value::as_str) != Some("PolicyException")
        {
            return None;
        }
        let spec = doc.get("spec")?;
        let refs = spec
            .get("policyRefs")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                            r.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut conditions = Vec::new();
        for (i, c) in spec.get("matchConditions").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let expr = c.get("expression").and_then(Value::as_str).unwrap_or("");
            match compile_at(expr, format!("/spec/matchConditions/{i}/expression")) {
                Ok(p) => conditions.push((c.get("name").and_then(Value::as_str).unwrap_or("").to_string(), p)),
                Err(e) => return Some(Err(e)),
            }
        }
        Some(Ok(CelException {
            name: doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
            refs,
            conditions,
        }))
    }

    fn applies(&self, policy: &CelPolicy, r: &CelResource<'_>) -> bool {
        let named = self.refs.iter().any(|(n, k)| wildcard(n, &policy.name) && (k.is_empty() || *k == policy.kind));
        if !named {
            return false;
        }
        let mut s = Session::new(&r.activation, None, Budget::default());
        self.conditions.iter().all(|(_, p)| matches!(s.eval(p), Ok(tollgate_cel::Value::Bool(true))))
    }
}

// --- validate.cel in a ClusterPolicy ------------------------------------------------------

/// A `validate.cel` rule, compiled.
#[derive(Debug, Clone)]
pub struct CelRule {
    expressions: Expressions,
    param_kind: Option<(String, String)>,
    param_ref: Option<Value>,
}

impl CelRule {
    /// Compiles the `validate.cel` block of `rule` (the rule's JSON, at
    /// `pointer` in its policy).
    pub fn compile(rule: &Value, pointer: &str) -> Result<CelRule, CelCompileError> {
        let cel = rule.pointer("/validate/cel").unwrap_or(&Value::Null);
        let default_message = rule.pointer("/validate/message").and_then(Value::as_str).unwrap_or("");
        let expressions = Expressions::compile(
            rule.get("celPreconditions"),
            &format!("{pointer}/celPreconditions"),
            cel,
            &format!("{pointer}/validate/cel"),
            "expressions",
            default_message,
        )?;
        Ok(CelRule {
            expressions,
            param_kind: cel.get("paramKind").map(|p| {
                (
                    p.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string(),
                    p.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
                )
            }),
            param_ref: cel.get("paramRef").cloned(),
        })
    }

    /// Whether the rule takes params (`paramKind`).
    pub fn uses_params(&self) -> bool {
        self.param_kind.is_some()
    }

    /// Judges one resource as Kyverno's `validate.cel` handler does:
    /// preconditions false → skip; a false expression, or one that fails
    /// (the admission failure policy is `Fail`) → fail.
    pub(crate) fn evaluate(&self, rule: &str, r: &CelResource<'_>, input: &CelInput) -> Response {
        let respond = |outcome: Outcome| match outcome {
            Outcome::Pass => Response {
                rule: rule.to_string(),
                status: Status::Pass,
                message: format!("Validation rule '{rule}' passed."),
                path: None,
            },
            Outcome::NotMatched => Response {
                rule: rule.to_string(),
                status: Status::Skip,
                message: "cel preconditions not met".into(),
                path: None,
            },
            Outcome::Fail { message, path } => Response { rule: rule.to_string(), status: Status::Fail, message, path },
            Outcome::Error { message, live: true } => Response {
                rule: rule.to_string(),
                status: Status::Error,
                message: format!("needs live data: {message}"),
                path: None,
            },
            Outcome::Error { message, live: false } => {
                Response { rule: rule.to_string(), status: Status::Fail, message, path: None }
            }
        };
        // Offline, Kyverno gives a `validate.cel` rule a Namespace that has
        // only its name when it does not know the namespace.
        let fallback;
        let activation = if input.namespace_object.is_none() && !r.namespace.is_empty() {
            let mut a = r.activation.clone();
            a.set(
                "namespaceObject",
                tollgate_cel::Value::from_json(&serde_json::json!({"metadata": {"name": r.namespace}})),
            );
            fallback = a;
            &fallback
        } else {
            &r.activation
        };
        let Some((api, kind)) = &self.param_kind else { return respond(self.expressions.run(activation)) };
        let pref = self.param_ref.clone().unwrap_or(Value::Null);
        let params = find_params(&input.params, api, kind, &pref, &r.namespace);
        if params.is_empty() {
            let allow = pref.get("parameterNotFoundAction").and_then(Value::as_str) == Some("Allow");
            return Response {
                rule: rule.to_string(),
                status: if allow { Status::Pass } else { Status::Error },
                message: format!("error in parameterized resource: no {kind} ({api}) named by paramRef"),
                path: None,
            };
        }
        for p in params {
            let mut activation = activation.clone();
            activation.set("params", tollgate_cel::Value::from_json(&p));
            let resp = respond(self.expressions.run(&activation));
            if resp.status != Status::Pass {
                return resp;
            }
        }
        respond(Outcome::Pass)
    }
}

impl CelResource<'_> {
    /// The resource as JSON.
    pub fn json(&self) -> &Value {
        self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autogen_rewrites_object_paths_but_not_the_namespace() {
        let t = autogen_replace(
            "object.spec.containers + object.metadata.namespace + oldObject.spec.x",
            "spec",
            "spec.template.spec",
        );
        assert_eq!(
            t,
            "object.spec.template.spec.containers + object.metadata.namespace + oldObject.spec.template.spec.x"
        );
        let t =
            autogen_replace("object.metadata.namespace == object.metadata.name", "metadata", "spec.template.metadata");
        assert_eq!(t, "object.metadata.namespace == object.spec.template.metadata.name");
    }

    #[test]
    fn what_the_mocks_do_not_hold_is_not_found() {
        use tollgate_cel::LiveData;
        let mocks = Mocks {
            resources: Some(vec![
                serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            ]),
            images: Some(Vec::new()),
            http: Some(Vec::new()),
            global: Some(HashMap::new()),
            names: ResourceNames::default(),
        };
        let s = |v: &str| tollgate_cel::Value::from_json(&Value::String(v.into()));
        let miss =
            |library: &str, function: &str, args: &[tollgate_cel::Value]| match mocks.call(library, function, args) {
                Some(Err(e)) => e.to_string(),
                other => panic!("{library}.{function}: {other:?}"),
            };
        assert!(matches!(mocks.call("resource", "Get", &[s("v1"), s("configmaps"), s(""), s("a")]), Some(Ok(_))));
        assert_eq!(
            miss("resource", "Get", &[s("v1"), s("configmaps"), s(""), s("b")]),
            "configmaps \"b\" not found in the test's resources"
        );
        assert_eq!(miss("image", "GetMetadata", &[s("nginx")]), "no image data for \"nginx\" in the test's context");
        assert_eq!(miss("http", "Get", &[s("https://x")]), "no apiCallResponses entry for GET https://x");
        assert_eq!(miss("globalContext", "Get", &[s("g")]), "no globalContextEntries entry named \"g\"");
        assert!(mocks.call("other", "Get", &[]).is_none(), "an unmocked library is no answer");
    }

    #[test]
    fn plural_names_are_guessed_as_kubernetes_does() {
        let names = ResourceNames::default();
        assert_eq!(names.resource("", "Pod"), "pods");
        assert_eq!(names.resource("networking.k8s.io", "Ingress"), "ingresses");
        assert_eq!(names.resource("networking.k8s.io", "NetworkPolicy"), "networkpolicies");
        assert_eq!(names.resource("", "Endpoints"), "endpoints");
    }
}
