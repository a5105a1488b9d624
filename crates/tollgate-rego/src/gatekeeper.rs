//! Gatekeeper: ConstraintTemplates (`spec.targets[].rego` and `libs`) and
//! their Constraints (`spec.match`, `spec.parameters`, `enforcementAction`),
//! evaluated offline the way `gator` does: `input.review.object`,
//! `input.review.kind`, `input.parameters`, and `data.inventory` from the
//! objects at hand.

use std::collections::BTreeMap;

use regorus::Value;
use serde_json::{Map, Value as Json};
use tollgate_yaml::Node;

use crate::conftest::data_ref;
use crate::policy::{PolicyProblem, RegoFile, add_module};

/// A compiled ConstraintTemplate.
#[derive(Debug, Clone)]
pub struct Template {
    /// `metadata.name`.
    pub name: String,
    /// The constraint kind it defines (`spec.crd.spec.names.kind`).
    pub kind: String,
    /// Where it was read.
    pub path: String,
    /// `metadata.gatekeeper.sh/title` or `description`.
    pub title: Option<String>,
    /// The compiled Rego (`None` for a CEL-only template).
    engine: Option<crate::replica::Recorded>,
    package: String,
    /// The compiled `K8sNativeValidation` code, when the template ships CEL.
    cel: Option<std::sync::Arc<crate::k8scel::CelCode>>,
    /// Whether CEL judges: a CEL-only template, or one with both engines
    /// when the run asks for CEL (gator's `--enable-k8s-native-validation`).
    uses_cel: bool,
    /// `spec.crd.spec.validation.openAPIV3Schema`, compiled once.
    schema: Option<std::sync::Arc<jsonschema::Validator>>,
    /// Whether the Rego can read `data.inventory`: Gatekeeper lets a
    /// template read no data but `data.inventory` (and its `data.lib`
    /// libraries), so a template whose modules name neither `inventory` nor
    /// `data[` never sees it, and its engines are not given it.
    reads_inventory: bool,
}

/// A Constraint: an instance of a template's kind.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// Its kind (the template's).
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// Where it was read.
    pub path: String,
    /// `spec.match`.
    pub matcher: Json,
    /// `spec.parameters`.
    pub parameters: Json,
    /// `enforcementAction`: `deny` (default), `warn`, `dryrun`.
    pub action: String,
    /// The whole Constraint (CEL's `params`).
    pub object: Json,
}

/// One violation a constraint reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// `msg`.
    pub message: String,
    /// `details`.
    pub details: Json,
}

/// Templates and constraints.
#[derive(Debug, Clone, Default)]
pub struct Gatekeeper {
    /// By constraint kind.
    pub templates: BTreeMap<String, Template>,
    /// Every constraint.
    pub constraints: Vec<Constraint>,
    /// What could not be loaded.
    pub problems: Vec<PolicyProblem>,
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub(crate) fn group_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

impl Gatekeeper {
    /// Judges with CEL every template that ships it (gator's
    /// `--enable-k8s-native-validation`); templates with only Rego keep it.
    pub fn prefer_cel(&mut self) {
        for t in self.templates.values_mut() {
            t.prefer_cel();
        }
    }

    /// Takes a document if it is a ConstraintTemplate or a Constraint; returns
    /// whether it was one.
    pub fn add_document(&mut self, path: &str, node: &Node) -> bool {
        self.add_json(path, &node.to_json())
    }

    /// [`Gatekeeper::add_document`] for an object already in JSON form.
    pub fn add_json(&mut self, path: &str, json: &Json) -> bool {
        let api = json["apiVersion"].as_str().unwrap_or_default();
        let kind = json["kind"].as_str().unwrap_or_default();
        if kind == "ConstraintTemplate" && api.starts_with("templates.gatekeeper.sh/") {
            match Template::compile(path, json) {
                Ok(t) => {
                    self.templates.insert(t.kind.clone(), t);
                }
                Err(p) => self.problems.push(p),
            }
            return true;
        }
        if api.starts_with("constraints.gatekeeper.sh/") {
            self.constraints.push(Constraint::from_json(path, json));
            return true;
        }
        false
    }

    /// Loads every YAML/JSON file under `paths`, and the documents held in
    /// memory (`(path, text)`), and keeps the templates and constraints in them.
    pub fn load(paths: &[std::path::PathBuf], in_memory: &[(String, String)]) -> Gatekeeper {
        let mut gk = Gatekeeper::default();
        let mut files = Vec::new();
        for path in paths {
            if let Err(p) = crate::policy::collect(path, &mut files, &|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            }) {
                gk.problems.push(p);
            }
        }
        files.sort();
        let texts = files
            .into_iter()
            .filter_map(|file| Some((file.display().to_string(), std::fs::read_to_string(&file).ok()?)))
            .chain(in_memory.iter().cloned());
        for (shown, text) in texts {
            if !text.contains("gatekeeper.sh/") {
                continue;
            }
            match crate::policy::parse_documents(&shown, &text) {
                Ok(docs) => {
                    for doc in &docs {
                        gk.add_document(&shown, doc);
                    }
                }
                Err(p) => gk.problems.push(p),
            }
        }
        gk
    }
}

impl Template {
    /// Compiles a template's Rego (v0, as Gatekeeper writes it) and libs.
    pub fn compile(path: &str, json: &Json) -> Result<Template, PolicyProblem> {
        let name = json["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let kind = json["spec"]["crd"]["spec"]["names"]["kind"]
            .as_str()
            .ok_or_else(|| {
                PolicyProblem::at(path, format!("ConstraintTemplate `{name}` has no `spec.crd.spec.names.kind`"))
            })?
            .to_owned();
        let target = json["spec"]["targets"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["target"] == "admission.k8s.gatekeeper.sh").or_else(|| t.first()))
            .ok_or_else(|| PolicyProblem::at(path, format!("ConstraintTemplate `{name}` has no `spec.targets`")))?;
        // `rego`/`libs` on the target, or in `code[]` with `engine: Rego`;
        // CEL in `code[]` with `engine: K8sNativeValidation`.
        let source = if target["rego"].is_string() {
            target.clone()
        } else {
            target["code"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["engine"] == "Rego"))
                .map(|c| c["source"].clone())
                .unwrap_or_default()
        };
        let cel = match target["code"].as_array().and_then(|c| c.iter().find(|c| c["engine"] == "K8sNativeValidation"))
        {
            Some(code) => Some(crate::k8scel::CelCode::compile(path, &name, &code["source"])?),
            None => None,
        };
        let annotations = &json["metadata"]["annotations"];
        let title = annotations["metadata.gatekeeper.sh/title"]
            .as_str()
            .or_else(|| annotations["description"].as_str())
            .map(str::to_owned);
        let schema = match &json["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"] {
            Json::Null => None,
            schema => {
                Some(std::sync::Arc::new(jsonschema::validator_for(&openapi_to_json_schema(schema)).map_err(|e| {
                    PolicyProblem::at(path, format!("ConstraintTemplate `{name}` has an invalid parameter schema: {e}"))
                })?))
            }
        };
        let Some(rego) = source["rego"].as_str().map(str::to_owned) else {
            return match cel {
                Some(cel) => Ok(Template {
                    name,
                    kind,
                    path: path.to_owned(),
                    title,
                    engine: None,
                    package: String::new(),
                    cel: Some(cel),
                    uses_cel: true,
                    schema,
                    reads_inventory: false,
                }),
                None => Err(PolicyProblem::at(
                    path,
                    format!("ConstraintTemplate `{name}` has neither Rego nor K8sNativeValidation (CEL) code"),
                )),
            };
        };
        let mut engine = crate::replica::Recorded::default();
        let mut modules = vec![RegoFile { path: format!("{path}#{name}"), text: rego }];
        for (i, lib) in source["libs"].as_array().into_iter().flatten().enumerate() {
            let text = lib.as_str().unwrap_or_default().to_owned();
            modules.push(RegoFile { path: format!("{path}#{name}.libs[{i}]"), text });
        }
        // A recursive function is refused before regorus sees it, as OPA (and
        // so Gatekeeper) rejects it at compile time.
        if let Some((_, problem)) = crate::guard::recursive_functions(&modules.iter().collect::<Vec<_>>()).pop() {
            return Err(problem);
        }
        let package = add_module(&mut engine, &modules[0], true)?;
        for lib in &modules[1..] {
            add_module(&mut engine, lib, true)?;
        }
        engine.prepare();
        let reads_inventory = modules.iter().any(|m| m.text.contains("inventory") || m.text.contains("data["));
        Ok(Template {
            name,
            kind,
            path: path.to_owned(),
            title,
            engine: Some(engine),
            package,
            cel,
            uses_cel: false,
            schema,
            reads_inventory,
        })
    }

    /// Whether its Rego can read `data.inventory` (see the field).
    pub(crate) fn reads_inventory(&self) -> bool {
        self.reads_inventory && !self.uses_cel
    }

    /// Whether the template ships `K8sNativeValidation` (CEL) code.
    pub fn ships_cel(&self) -> bool {
        self.cel.is_some()
    }

    /// Whether CEL judges with this template.
    pub fn uses_cel(&self) -> bool {
        self.uses_cel
    }

    /// Judges with the CEL code when the template has it (gator's
    /// `--enable-k8s-native-validation`); Rego stays for the others.
    pub fn prefer_cel(&mut self) {
        self.uses_cel = self.cel.is_some();
    }

    /// Checks a constraint's `spec.parameters` against the template's schema,
    /// as the API server would when the constraint is applied.
    pub fn validate(&self, constraint: &Constraint) -> Result<(), GatekeeperError> {
        let Some(schema) = &self.schema else { return Ok(()) };
        let parameters =
            if constraint.parameters.is_null() { Json::Object(Map::new()) } else { constraint.parameters.clone() };
        let errors: Vec<String> = schema
            .iter_errors(&parameters)
            .map(|e| format!("{} at `/spec/parameters{}`", e, e.instance_path()))
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(GatekeeperError::Parameters(errors)) }
    }

    /// The violations of `review` under `constraint`, with `inventory` as
    /// `data.inventory` (`null` for none). For many reviews, set the template
    /// up once with [`Template::evaluator`].
    pub fn violations(
        &self,
        constraint: &Constraint,
        review: &Json,
        inventory: &Json,
    ) -> Result<Vec<Violation>, GatekeeperError> {
        self.evaluator(inventory)?.violations(constraint, review)
    }

    /// The template ready to review objects, with `inventory` loaded once as
    /// `data.inventory` (`null` for none). Clones share the compiled policy
    /// and the data.
    pub fn evaluator(&self, inventory: &Json) -> Result<TemplateEvaluator, GatekeeperError> {
        let data =
            (!inventory.is_null() && self.reads_inventory()).then(|| inventory_data(Value::from(inventory.clone())));
        self.evaluator_on(data.as_ref(), |recorded| recorded.engine.clone())
    }

    /// [`Template::evaluator`] for the thread in `PerThread` slot `slot`,
    /// on its engine (`Recorded::for_thread`): evaluators on several threads
    /// then share no memory they write (see `replica.rs`). `inventory`
    /// gives the `{"inventory": …}` data; it is asked only when this
    /// template reads it.
    pub(crate) fn thread_evaluator(
        &self,
        slot: usize,
        inventory: impl FnOnce() -> Value,
    ) -> Result<TemplateEvaluator, GatekeeperError> {
        let data = self.reads_inventory().then(inventory);
        self.evaluator_on(data.as_ref(), |recorded| recorded.for_thread(slot))
    }

    fn evaluator_on(
        &self,
        inventory: Option<&Value>,
        engine_of: impl FnOnce(&crate::replica::Recorded) -> regorus::Engine,
    ) -> Result<TemplateEvaluator, GatekeeperError> {
        if self.uses_cel
            && let Some(cel) = &self.cel
        {
            return Ok(TemplateEvaluator { engine: None, rule: String::new(), cel: Some(cel.clone()) });
        }
        let Some(recorded) = &self.engine else {
            return Err(GatekeeperError::NoRego(self.name.clone()));
        };
        let mut engine = engine_of(recorded);
        engine.set_execution_timer_config(crate::guard::time_limit(std::time::Duration::from_secs(5)));
        if let Some(data) = inventory {
            // Copy-on-write: the engine shares the value, it does not copy it.
            engine.add_data(data.clone()).map_err(|e| GatekeeperError::Inventory(e.to_string()))?;
        }
        Ok(TemplateEvaluator {
            engine: Some(engine),
            rule: format!("{}.violation", data_ref(&self.package)),
            cel: None,
        })
    }
}

/// Why a constraint could not be judged with its template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatekeeperError {
    /// The constraint's `spec.parameters` fail the template's schema; one
    /// message per violation, each naming its place.
    #[error("{}", .0.join("; "))]
    Parameters(Vec<String>),
    /// The template has neither Rego nor (preferred) CEL code.
    #[error("ConstraintTemplate `{0}` has no Rego")]
    NoRego(String),
    /// regorus refused the inventory as `data.inventory`.
    #[error("the inventory cannot be loaded: {0}")]
    Inventory(String),
    /// The Rego evaluation failed (a runtime error, the time limit).
    #[error("{0}")]
    Rego(String),
    /// The CEL code failed.
    #[error("{0}")]
    Cel(CelError),
}

/// Why a template's CEL code gave no verdict on a review.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CelError {
    /// A match condition evaluated to something other than a bool.
    #[error("match condition `{name}` is a {type_name}, not a bool")]
    MatchNotBool {
        /// The condition's name.
        name: String,
        /// The CEL type it evaluated to.
        type_name: String,
    },
    /// A match condition failed to evaluate.
    #[error("match condition `{name}`: {error}")]
    Match {
        /// The condition's name.
        name: String,
        /// Why.
        error: tollgate_cel::Error,
    },
    /// A validation ran over its budget or needed live data: no verdict.
    #[error("validation {index}: {error}")]
    Validation {
        /// The validation's index in the template.
        index: usize,
        /// Why.
        error: tollgate_cel::Error,
    },
}

/// A [`Template`] with its data loaded, evaluating one review after another.
#[derive(Debug, Clone)]
pub struct TemplateEvaluator {
    engine: Option<regorus::Engine>,
    rule: String,
    cel: Option<std::sync::Arc<crate::k8scel::CelCode>>,
}

impl TemplateEvaluator {
    /// The violations of `review` under `constraint`.
    pub fn violations(&mut self, constraint: &Constraint, review: &Json) -> Result<Vec<Violation>, GatekeeperError> {
        self.violations_with(constraint, review, || rego_input(Value::from(review.clone()), parameters_of(constraint)))
    }

    /// [`TemplateEvaluator::violations`] with the Rego input made by
    /// `input` (called only when Rego judges): a caller judging one review
    /// under several constraints converts the review once.
    pub(crate) fn violations_with(
        &mut self,
        constraint: &Constraint,
        review: &Json,
        input: impl FnOnce() -> Value,
    ) -> Result<Vec<Violation>, GatekeeperError> {
        if let Some(cel) = &self.cel {
            return cel.violations(constraint, review).map_err(GatekeeperError::Cel);
        }
        let Some(engine) = &mut self.engine else { return Ok(Vec::new()) };
        engine.set_input(input());
        let value = engine.eval_rule(self.rule.clone()).map_err(|e| GatekeeperError::Rego(e.to_string()))?;
        let items: Vec<Value> = match value {
            Value::Set(s) => s.iter().cloned().collect(),
            Value::Array(a) => a.iter().cloned().collect(),
            _ => Vec::new(),
        };
        Ok(items
            .iter()
            .map(|item| {
                let json: Json =
                    item.to_json_str().ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
                Violation {
                    message: json["msg"].as_str().map_or_else(|| json.to_string(), str::to_owned),
                    details: json.get("details").cloned().unwrap_or(Json::Null),
                }
            })
            .collect())
    }
}

/// `{"inventory": inventory}`, the data a template that reads the
/// inventory is given.
pub(crate) fn inventory_data(inventory: Value) -> Value {
    Value::from(std::collections::BTreeMap::from([(Value::from("inventory"), inventory)]))
}

/// A constraint's `spec.parameters` as Rego reads them (`{}` when absent).
pub(crate) fn parameters_of(constraint: &Constraint) -> Value {
    if constraint.parameters.is_null() { Value::new_object() } else { Value::from(constraint.parameters.clone()) }
}

/// The input of a Gatekeeper template: `{"review": …, "parameters": …}`.
pub(crate) fn rego_input(review: Value, parameters: Value) -> Value {
    Value::from(std::collections::BTreeMap::from([
        (Value::from("parameters"), parameters),
        (Value::from("review"), review),
    ]))
}

impl Constraint {
    fn from_json(path: &str, json: &Json) -> Constraint {
        Constraint {
            kind: json["kind"].as_str().unwrap_or_default().to_owned(),
            name: json["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            path: path.to_owned(),
            matcher: json["spec"]["match"].clone(),
            parameters: json["spec"]["parameters"].clone(),
            action: json["spec"]["enforcementAction"].as_str().unwrap_or("deny").to_owned(),
            object: json.clone(),
        }
    }

    /// Whether `spec.match` selects `object`. `namespaces` gives the labels of
    /// known Namespace objects (for `namespaceSelector`).
    pub fn matches(&self, object: &Json, namespaces: &dyn Fn(&str) -> Option<Map<String, Json>>) -> bool {
        let m = &self.matcher;
        if m.is_null() {
            return true;
        }
        let (group, _) = group_version(object["apiVersion"].as_str().unwrap_or_default());
        let kind = object["kind"].as_str().unwrap_or_default();
        let meta = &object["metadata"];
        if let Some(kinds) = m["kinds"].as_array().filter(|k| !k.is_empty()) {
            let any = |list: &Json, value: &str| {
                list.as_array().is_none_or(|l| l.is_empty() || l.iter().any(|v| v == "*" || v == value))
            };
            if !kinds.iter().any(|k| any(&k["apiGroups"], group) && any(&k["kinds"], kind)) {
                return false;
            }
        }
        let is_namespace = kind == "Namespace" && group.is_empty();
        let namespace = meta["namespace"].as_str().filter(|n| !n.is_empty());
        let effective_ns = if is_namespace { meta["name"].as_str() } else { namespace };
        match m["scope"].as_str() {
            Some("Cluster") if namespace.is_some() => return false,
            Some("Namespaced") if namespace.is_none() => return false,
            _ => {}
        }
        if let Some(ns) = effective_ns {
            if let Some(list) = m["namespaces"].as_array()
                && !list.iter().filter_map(Json::as_str).any(|p| ns_glob(p, ns))
            {
                return false;
            }
            if let Some(list) = m["excludedNamespaces"].as_array()
                && list.iter().filter_map(Json::as_str).any(|p| ns_glob(p, ns))
            {
                return false;
            }
        }
        if let Some(name) = m["name"].as_str()
            && !tollgate_core::wildcard_match(name, meta["name"].as_str().unwrap_or_default())
        {
            return false;
        }
        let labels = meta["labels"].as_object().cloned().unwrap_or_default();
        if !m["labelSelector"].is_null() && !selector_matches(&m["labelSelector"], &labels) {
            return false;
        }
        if !m["namespaceSelector"].is_null() {
            let ns_labels = if is_namespace {
                Some(labels)
            } else if let Some(ns) = namespace {
                namespaces(ns)
            } else {
                // A cluster-scoped object is not selected out by a namespace selector.
                return true;
            };
            match ns_labels {
                Some(l) => return selector_matches(&m["namespaceSelector"], &l),
                None => return false,
            }
        }
        true
    }
}

/// An OpenAPI v3 schema as JSON Schema: `nullable` becomes a `null` type,
/// Kubernetes' `x-kubernetes-*` extensions are dropped.
fn openapi_to_json_schema(schema: &Json) -> Json {
    match schema {
        Json::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if k.starts_with("x-kubernetes-") || k == "nullable" {
                    continue;
                }
                out.insert(
                    k.clone(),
                    if k == "enum" || k == "default" || k == "example" { v.clone() } else { openapi_to_json_schema(v) },
                );
            }
            if map.get("nullable") == Some(&Json::Bool(true))
                && let Some(Json::String(t)) = out.get("type").cloned()
            {
                out.insert("type".to_owned(), serde_json::json!([t, "null"]));
            }
            Json::Object(out)
        }
        Json::Array(items) => Json::Array(items.iter().map(openapi_to_json_schema).collect()),
        other => other.clone(),
    }
}

/// Gatekeeper's namespace patterns: exact, or a `*` prefix or suffix.
fn ns_glob(pattern: &str, ns: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        ns.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        ns.ends_with(suffix)
    } else {
        pattern == ns
    }
}

/// A Kubernetes label selector (`matchLabels`, `matchExpressions`).
pub(crate) fn selector_matches(selector: &Json, labels: &Map<String, Json>) -> bool {
    if let Some(ml) = selector["matchLabels"].as_object()
        && !ml.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    for expr in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = expr["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expr["values"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
        let actual = labels.get(key).and_then(Json::as_str);
        let ok = match expr["operator"].as_str().unwrap_or_default() {
            "In" => actual.is_some_and(|a| values.contains(&a)),
            "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The `input.review` gator builds for `object`: an AdmissionReview's
/// `request` as is (a DELETE's object from `oldObject`), else
/// `{kind, object, name, namespace}`. Also returns the object to match.
pub fn review_of(object: &Json) -> (Json, Json) {
    if object["kind"] == "AdmissionReview" && object["request"].is_object() {
        let mut request = object["request"].clone();
        let target = if request["operation"] == "DELETE" && request["object"].is_null() {
            request["oldObject"].clone()
        } else {
            request["object"].clone()
        };
        if request["object"].is_null() && !target.is_null() {
            request["object"] = target.clone();
        }
        return (request, target);
    }
    let (group, version) = group_version(object["apiVersion"].as_str().unwrap_or_default());
    let mut review = serde_json::json!({
        "kind": { "group": group, "version": version, "kind": object["kind"] },
        "object": object,
        "name": object["metadata"]["name"],
    });
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        review["namespace"] = Json::String(ns.to_owned());
    }
    (review, object.clone())
}

/// `data.inventory` as Gatekeeper syncs it: `namespace[ns][apiVersion][kind][name]`
/// and `cluster[apiVersion][kind][name]`.
pub fn inventory_of<'a>(objects: impl IntoIterator<Item = &'a Json>) -> Json {
    let mut inventory = serde_json::json!({ "cluster": {}, "namespace": {} });
    for o in objects {
        let (Some(api), Some(kind), Some(name)) =
            (o["apiVersion"].as_str(), o["kind"].as_str(), o["metadata"]["name"].as_str())
        else {
            continue;
        };
        let slot = match o["metadata"]["namespace"].as_str() {
            Some(ns) => &mut inventory["namespace"][ns],
            None => &mut inventory["cluster"],
        };
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        let by_api = slot.as_object_mut().expect("object").entry(api).or_insert_with(|| Json::Object(Map::new()));
        let by_kind = by_api.as_object_mut().expect("object").entry(kind).or_insert_with(|| Json::Object(Map::new()));
        by_kind.as_object_mut().expect("object").insert(name.to_owned(), o.clone());
    }
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8srequiredlabels}
spec:
  crd:
    spec:
      names: {kind: K8sRequiredLabels}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels:
              type: array
              nullable: true
              x-kubernetes-list-type: set
              items: {type: string}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        import data.lib.helpers
        violation[{"msg": msg, "details": {"missing": missing}}] {
          provided := {label | input.review.object.metadata.labels[label]}
          required := {label | label := input.parameters.labels[_]}
          missing := required - provided
          count(missing) > 0
          msg := helpers.message(missing)
        }
      libs:
        - |
          package lib.helpers
          message(m) = msg { msg := sprintf("missing labels: %v", [m]) }
"#;

    fn load() -> Gatekeeper {
        let mut gk = Gatekeeper::default();
        let docs = crate::policy::parse_documents("t.yaml", TEMPLATE).expect("yaml");
        assert!(gk.add_document("t.yaml", &docs[0]));
        let c = "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata: {name: owner}\nspec:\n  enforcementAction: warn\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [Namespace]}]\n    excludedNamespaces: [\"kube-*\"]\n  parameters: {labels: [owner]}\n";
        let docs = crate::policy::parse_documents("c.yaml", c).expect("yaml");
        assert!(gk.add_document("c.yaml", &docs[0]));
        assert!(gk.problems.is_empty(), "{:?}", gk.problems);
        gk
    }

    #[test]
    fn template_with_libs_and_match() {
        let gk = load();
        let c = &gk.constraints[0];
        assert_eq!(c.action, "warn");
        let t = &gk.templates["K8sRequiredLabels"];
        let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}});
        assert!(c.matches(&ns, &|_| None));
        let (review, _) = review_of(&ns);
        let v = t.violations(c, &review, &Json::Null).expect("evaluates");
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("missing labels"), "{v:?}");
        let system = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}});
        assert!(!c.matches(&system, &|_| None));
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert!(!c.matches(&pod, &|_| None));
    }

    #[test]
    fn parameters_are_checked_against_the_template_schema() {
        let gk = load();
        let t = &gk.templates["K8sRequiredLabels"];
        assert!(t.validate(&gk.constraints[0]).is_ok());
        let mut bad = gk.constraints[0].clone();
        bad.parameters = serde_json::json!({"labels": "owner"});
        let err = t.validate(&bad).expect_err("a string is not an array");
        let GatekeeperError::Parameters(problems) = &err else { panic!("{err:?}") };
        assert!(problems.len() == 1 && problems[0].ends_with("at `/spec/parameters/labels`"), "{err}");
        bad.parameters = serde_json::json!({"labels": null});
        assert!(t.validate(&bad).is_ok(), "nullable");
    }

    #[test]
    fn selectors_and_namespaces() {
        let labels: Map<String, Json> = serde_json::from_str(r#"{"env": "prod", "team": "a"}"#).expect("json");
        assert!(selector_matches(&serde_json::json!({"matchLabels": {"env": "prod"}}), &labels));
        assert!(!selector_matches(
            &serde_json::json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}),
            &labels
        ));
        assert!(selector_matches(
            &serde_json::json!({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}),
            &labels
        ));
        assert!(
            ns_glob("kube-*", "kube-system") && ns_glob("*-system", "kube-system") && !ns_glob("kube", "kube-system")
        );
        let inv = inventory_of([
            &serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}),
        ]);
        assert_eq!(inv["namespace"]["n"]["v1"]["Service"]["s"]["kind"], "Service");
    }
}
