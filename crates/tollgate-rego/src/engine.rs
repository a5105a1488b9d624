//! The Rego gate as a [`PolicyEngine`]: every parsed document of the shared
//! model is one conftest `input` (in parallel, one regorus engine clone per
//! thread, the policies compiled once), and every Kubernetes object is
//! reviewed by the Gatekeeper constraints that match it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tollgate_core::{
    Config, Document, Finding, FindingBuilder, Node, PolicyEngine, RepositoryModel, Route, RuleId, RuleMeta, Segment,
    Severity, SourceFile, Suppression,
};

use crate::conftest::{Conftest, Namespaces, Outcome};
use crate::gatekeeper::{Gatekeeper, TemplateEvaluator, review_of};
use crate::policy::{Annotation, PolicyProblem};
use crate::replica::PerThread;
use tollgate_yaml::CoreScalar;

/// Where the Rego policies come from and how they are run.
#[derive(Debug, Clone, Default)]
pub struct RegoOptions {
    /// `--policy` paths (files or directories): `.rego` packs, and YAML with
    /// ConstraintTemplates and Constraints.
    pub policy: Vec<PathBuf>,
    /// `--data` paths (YAML/JSON under `data.`).
    pub data: Vec<PathBuf>,
    /// Packages queried (`--namespace`, `--all-namespaces`).
    pub namespaces: Namespaces,
    /// `--combine`: all documents as one input, an array of `{path, contents}`.
    pub combine: bool,
    /// Policies held in memory (the built-in packs, or a base commit's
    /// `.rego` files), loaded with the others.
    pub sources: Vec<crate::policy::RegoFile>,
    /// YAML/JSON policy documents held in memory, `(path, text)`: Gatekeeper
    /// ConstraintTemplates and Constraints read from a base commit.
    pub documents: Vec<(String, String)>,
    /// Data held in memory, `(path, text)` (YAML or JSON, under `data.`).
    pub data_documents: Vec<(String, String)>,
    /// Judge Gatekeeper templates that ship both engines with their CEL
    /// (`K8sNativeValidation`) code, as gator's
    /// `--enable-k8s-native-validation`; CEL-only templates always are.
    pub k8s_native_validation: bool,
}

/// OPA/Rego policies compiled once, evaluated on every document.
///
/// ```
/// use tollgate_rego::{RegoEngine, RegoFile};
/// let pack = RegoFile { path: "policy/k8s.rego".into(), text: r#"package main
/// import rego.v1
/// deny contains {"msg": "no privileged containers", "path": ["spec", "privileged"]} if input.spec.privileged
/// "#.into() };
/// let engine = RegoEngine::from_sources(".".as_ref(), &[pack], serde_json::json!({}), &Default::default());
/// assert!(engine.problems().is_empty());
/// ```
#[derive(Debug)]
pub struct RegoEngine {
    root: PathBuf,
    conftest: Conftest,
    namespaces: Vec<String>,
    combine: bool,
    gatekeeper: Gatekeeper,
    problems: Vec<PolicyProblem>,
    metas: BTreeMap<String, RuleMeta>,
    policy_error: RuleMeta,
}

impl RegoEngine {
    /// Loads the policies of `options`. Problems (a file that does not parse,
    /// unreadable data) are kept and reported as `policy-error` findings.
    pub fn load(root: &Path, options: &RegoOptions) -> RegoEngine {
        let mut problems = Vec::new();
        let mut files = crate::policy::rego_files(&options.policy).unwrap_or_else(|p| {
            problems.push(p);
            Vec::new()
        });
        files.extend(options.sources.iter().cloned());
        let data = crate::policy::load_data(&options.data, &options.data_documents).unwrap_or_else(|p| {
            problems.push(p);
            serde_json::json!({})
        });
        let mut engine = RegoEngine::from_sources(root, &files, data, options);
        engine.gatekeeper = Gatekeeper::load(&options.policy, &options.documents);
        if options.k8s_native_validation {
            engine.gatekeeper.prefer_cel();
        }
        engine.problems.extend(problems);
        engine.problems.append(&mut engine.gatekeeper.problems);
        let mut valid = Vec::new();
        for c in std::mem::take(&mut engine.gatekeeper.constraints) {
            match engine.gatekeeper.templates.get(&c.kind) {
                None => engine.problems.push(PolicyProblem::at(
                    &c.path,
                    format!("constraint `{}/{}` has no ConstraintTemplate defining kind `{}`", c.kind, c.name, c.kind),
                )),
                Some(t) => match t.validate(&c) {
                    Ok(()) => valid.push(c),
                    Err(e) => engine.problems.push(PolicyProblem::at(
                        &c.path,
                        format!("constraint `{}/{}` has parameters the template's schema rejects: {e}", c.kind, c.name),
                    )),
                },
            }
        }
        engine.gatekeeper.constraints = valid;
        engine.index_gatekeeper();
        engine
    }

    /// Compiles in-memory policies (`data` under `data.`).
    pub fn from_sources(
        root: &Path,
        files: &[crate::policy::RegoFile],
        data: serde_json::Value,
        options: &RegoOptions,
    ) -> RegoEngine {
        let conftest = Conftest::new(files, data);
        let namespaces = conftest.selected(&options.namespaces);
        let problems = conftest.problems.clone();
        let mut metas = BTreeMap::new();
        for ns in &namespaces {
            let package = &conftest.packages[ns];
            for name in package.rules.keys() {
                let annotation = package.annotations.get(name).or(package.package_annotation.as_ref());
                let meta = rule_meta(ns, name, annotation);
                metas.insert(format!("{ns}.{name}"), meta);
            }
        }
        RegoEngine {
            root: root.to_path_buf(),
            conftest,
            namespaces,
            combine: options.combine,
            gatekeeper: Gatekeeper::default(),
            problems,
            metas,
            policy_error: RuleMeta::policy_error(),
        }
    }

    fn index_gatekeeper(&mut self) {
        for c in &self.gatekeeper.constraints {
            let Some(t) = self.gatekeeper.templates.get(&c.kind) else { continue };
            let id = format!("{}/{}", c.kind, c.name);
            let severity = match c.action.as_str() {
                "warn" => Severity::Warning,
                "dryrun" => Severity::Note,
                _ => Severity::Error,
            };
            let summary =
                t.title.clone().unwrap_or_else(|| format!("Gatekeeper constraint {id} (template {})", t.name));
            self.metas.insert(
                id.clone(),
                RuleMeta::policy(&id, severity, &summary, vec!["gatekeeper".to_owned(), "policy".to_owned()], &summary),
            );
        }
    }

    /// What could not be loaded.
    pub fn problems(&self) -> &[PolicyProblem] {
        &self.problems
    }

    /// The packages evaluated.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    fn policy_error_at(&self, model: &RepositoryModel, problem: &PolicyProblem) -> Option<Finding> {
        // The policy file itself when it is inside the repository, else the first file.
        // A template's Rego is named `file#template`: the file is the place.
        let file = problem.path.split('#').next().unwrap_or(&problem.path);
        let key = [problem.path.as_str(), problem.message.as_str()];
        // A policy outside the repository (`--policy ../policies`) is
        // located at its own file, line and column: text output names it
        // (quoting nothing of it), SARIF anchors it in the repository.
        let path = Finding::path_in_root(&self.root, file).unwrap_or_else(|| file.to_owned());
        if model.files.is_empty() {
            return None;
        }
        let message = format!(
            "The policy `{path}` cannot be used: {}:{}: {}. Fix it: until then what it guards is unchecked.",
            problem.line, problem.column, problem.message
        );
        Some(Finding::policy_error_at(path, problem.line, problem.column, message, &key))
    }

    fn check_document(
        &self,
        evaluator: &mut crate::conftest::Evaluator<'_>,
        file: &SourceFile,
        doc: &Document,
        out: &mut Vec<Finding>,
    ) {
        let evaluation = evaluator.evaluate_value(to_value(&doc.root), &self.namespaces);
        for result in &evaluation.results {
            let id = format!("{}.{}", result.namespace, result.rule);
            let Some(meta) = self.metas.get(&id) else { continue };
            let route = result.path.as_ref().map_or_else(Route::root, |p| route_of(p));
            let key = [&*meta.id, &file.path, &file.identity_key(doc.index), &route.to_string(), &result.message];
            let mut finding = document_finding(meta, file, doc, &route, result.message.clone(), Some(&key));
            if result.outcome == Outcome::Exception {
                finding.message = format!("Rule `data.{id}` is exempted by an `exception` rule for this input.");
                finding.suppressed = Some(Box::new(Suppression {
                    kind: "rego-exception",
                    reason: result.message.clone(),
                    location: None,
                }));
            }
            out.push(finding);
        }
        for error in &evaluation.errors {
            let message = format!(
                "A Rego policy could not be evaluated on this document: {}. What it guards is unchecked here.",
                crate::policy::tidy_regorus(error)
            );
            let key = [RuleId::PolicyError.as_str(), &file.path, &file.identity_key(doc.index), error];
            out.push(document_finding(&self.policy_error, file, doc, &Route::root(), message, Some(&key)));
        }
    }

    fn check_gatekeeper<'s>(&'s self, model: &RepositoryModel) -> Vec<Finding> {
        if self.gatekeeper.constraints.is_empty() {
            return Vec::new();
        }
        // The Kubernetes objects; each is converted to JSON when judged, and
        // freed after (holding every object's JSON for the run costs more
        // memory than the repository's parsed trees).
        let objects: Vec<(&SourceFile, &Document)> = model
            .documents()
            .filter(|(_, d)| text_of(&d.root, &["kind"]).is_some() && text_of(&d.root, &["apiVersion"]).is_some())
            .collect();
        let namespace_labels: HashMap<&str, serde_json::Map<String, serde_json::Value>> = objects
            .iter()
            .filter(|(_, d)| text_of(&d.root, &["kind"]) == Some("Namespace"))
            .filter_map(|(_, d)| {
                let labels = d.root.get_key("metadata").and_then(|m| m.get_key("labels")).map(Node::to_json);
                Some((
                    text_of(&d.root, &["metadata", "name"])?,
                    labels.and_then(|l| l.as_object().cloned()).unwrap_or_default(),
                ))
            })
            .collect();
        let namespaces = |ns: &str| namespace_labels.get(ns).cloned();
        // `{"inventory": …}`, made by the first thread that sets up a
        // template that reads it (never, when none does), then shared. One
        // copy for every thread:
        // measured on bench/gatekeeper.sh, sharing it cost no time against a
        // copy per thread (their reference counts are seldom written: only
        // referential templates walk it) and saved 33 MB.
        let inventory: std::sync::OnceLock<regorus::Value> = std::sync::OnceLock::new();
        // What one object gets from every constraint that matches it, with
        // the thread's templates (each set up on the thread's first object
        // of its kind). Each value Rego reads is converted once: the
        // inventory for the run, each constraint's parameters per thread,
        // the review per object (not per constraint).
        let judge = |thread: &mut GatekeeperThread<'s>,
                     slot: usize,
                     (file, doc): &(&SourceFile, &Document)|
         -> Vec<Finding> {
            let mut out = Vec::new();
            let (review, target) = review_of(&doc.root.to_json());
            let mut review_value: Option<regorus::Value> = None;
            for (index, c) in self.gatekeeper.constraints.iter().enumerate() {
                let Some(template) = self.gatekeeper.templates.get(&c.kind) else { continue };
                if !c.matches(&target, &namespaces) {
                    continue;
                }
                let GatekeeperThread { templates, parameters } = &mut *thread;
                let evaluator = templates.entry(c.kind.as_str()).or_insert_with(|| {
                    template.thread_evaluator(slot, || {
                        let data =
                            || crate::gatekeeper::inventory_data(inventory_value(objects.iter().map(|(_, d)| &d.root)));
                        inventory.get_or_init(data).clone()
                    })
                });
                let id = format!("{}/{}", c.kind, c.name);
                let Some(meta) = self.metas.get(&id) else { continue };
                let input = || {
                    let review = review_value.get_or_insert_with(|| regorus::Value::from(review.clone())).clone();
                    let parameters =
                        parameters.entry(index).or_insert_with(|| crate::gatekeeper::parameters_of(c)).clone();
                    crate::gatekeeper::rego_input(review, parameters)
                };
                match evaluator.as_mut().map_err(|e| e.clone()).and_then(|e| e.violations_with(c, &review, input)) {
                    Ok(violations) => {
                        for v in violations {
                            let message = format!("{} (constraint {id}).", v.message.trim_end_matches('.'));
                            let key = [id.as_str(), &file.path, &file.identity_key(doc.index), &v.message];
                            out.push(document_finding(meta, file, doc, &Route::root(), message, Some(&key)));
                        }
                    }
                    Err(e) => {
                        let message = format!(
                            "Gatekeeper constraint {id} could not be evaluated on this object: {e}. What it guards is unchecked here."
                        );
                        let key =
                            [RuleId::PolicyError.as_str(), id.as_str(), &file.path, &file.identity_key(doc.index)];
                        out.push(document_finding(&self.policy_error, file, doc, &Route::root(), message, Some(&key)));
                    }
                }
            }
            out
        };
        let evaluators: PerThread<GatekeeperThread<'s>> = PerThread::new();
        objects
            .par_iter()
            .flat_map_iter(|object| {
                tollgate_core::catch_panic(|| {
                    evaluators.with(|_| GatekeeperThread::default(), |t, slot| judge(t, slot, object))
                })
                .unwrap_or_else(|panic| vec![self.engine_failed(object.0, object.1, "Gatekeeper", &panic)])
            })
            .collect()
    }

    /// A `policy-error` on a document an engine panicked on (a bug of
    /// tollgate or regorus): the rest of the run is still judged.
    fn engine_failed(
        &self,
        file: &SourceFile,
        doc: &Document,
        engine: &str,
        panic: &tollgate_core::Panicked,
    ) -> Finding {
        let message = panic.unchecked_message(engine, "document");
        let key = [RuleId::PolicyError.as_str(), engine, &file.path, &file.identity_key(doc.index)];
        document_finding(&self.policy_error, file, doc, &Route::root(), message, Some(&key))
    }
}

impl PolicyEngine for RegoEngine {
    fn rules(&self) -> Vec<RuleMeta> {
        self.metas.values().cloned().collect()
    }

    fn check(&self, model: &RepositoryModel, _config: &Config) -> Vec<Finding> {
        // Evaluations may add at most this much memory to what the model holds.
        let _limit = crate::memory::MemoryLimit::starting_now(crate::memory::EVALUATION_MEMORY);
        let mut out: Vec<Finding> = self.problems.iter().filter_map(|p| self.policy_error_at(model, p)).collect();
        if !self.namespaces.is_empty() {
            if self.combine {
                // One input: every document, in order. A result whose `path`
                // starts with a document index and `contents`
                // (`[3, "contents", "spec", ...]`) points into that document.
                let docs: Vec<(&SourceFile, &Document)> = model.documents().collect();
                let input: Vec<serde_json::Value> = docs
                    .iter()
                    .map(|(f, d)| serde_json::json!({"path": f.path, "contents": d.root.to_json()}))
                    .collect();
                if let Some(&(first_file, first_doc)) = docs.first() {
                    let mut evaluator = self.conftest.evaluator();
                    let evaluation = evaluator.evaluate(&serde_json::Value::Array(input), &self.namespaces);
                    for result in evaluation.results.iter().filter(|r| r.outcome != Outcome::Exception) {
                        let id = format!("{}.{}", result.namespace, result.rule);
                        let Some(meta) = self.metas.get(&id) else { continue };
                        let target = result.path.as_ref().and_then(|p| {
                            let index = usize::try_from(p.first()?.as_u64()?).ok()?;
                            let (file, doc) = *docs.get(index)?;
                            let rest = if p.get(1).and_then(serde_json::Value::as_str) == Some("contents") {
                                &p[2..]
                            } else {
                                &p[1..]
                            };
                            Some((file, doc, route_of(rest)))
                        });
                        let (file, doc, route) = target.unwrap_or((first_file, first_doc, Route::root()));
                        let key = [
                            &meta.id,
                            "combine",
                            &file.path,
                            &file.identity_key(doc.index),
                            &route.to_string(),
                            &result.message,
                        ];
                        out.push(document_finding(meta, file, doc, &route, result.message.clone(), Some(&key)));
                    }
                }
            } else {
                let judged: Vec<(&SourceFile, &Document)> =
                    model.documents().filter(|(_, d)| !d.root.is_null()).collect();
                // One evaluator per thread, each on an engine of its own.
                let evaluators = PerThread::new();
                let produced: Vec<Finding> = judged
                    .par_iter()
                    .flat_map_iter(|(file, doc)| {
                        let mut found = Vec::new();
                        let judged = tollgate_core::catch_panic(|| {
                            evaluators.with(
                                |slot| self.conftest.thread_evaluator(slot),
                                |evaluator, _| self.check_document(evaluator, file, doc, &mut found),
                            );
                        });
                        if let Err(panic) = judged {
                            // What the document had produced before is dropped with it.
                            found = vec![self.engine_failed(file, doc, "Rego", &panic)];
                        }
                        found
                    })
                    .collect();
                out.extend(produced);
            }
        }
        out.extend(self.check_gatekeeper(model));
        out
    }
}

/// A thread's Gatekeeper templates, each set up on its first use.
type TemplateEvaluators<'a> = HashMap<&'a str, Result<TemplateEvaluator, crate::GatekeeperError>>;

/// What a thread judging Gatekeeper constraints keeps: its templates, and
/// each constraint's parameters converted once (read by every evaluation,
/// so a copy per thread, as the engines are: see `replica.rs`).
#[derive(Default)]
struct GatekeeperThread<'a> {
    templates: TemplateEvaluators<'a>,
    /// Each constraint's parameters, by its index.
    parameters: HashMap<usize, regorus::Value>,
}

/// A finding of `meta` at `route` (the document's first line for the root,
/// not every line of it), fingerprinted by `key` when given: several results
/// of one rule may share a node.
fn document_finding(
    meta: &RuleMeta,
    file: &SourceFile,
    doc: &Document,
    route: &Route,
    message: String,
    key: Option<&[&str]>,
) -> Finding {
    let builder = FindingBuilder::new(meta, file, doc, route, message);
    let mut finding = if route.is_root() { builder.first_line() } else { builder }.build();
    if let Some(key) = key {
        finding.fingerprint = Finding::fingerprint_of(key);
    }
    finding
}

/// The text at `path` (keys) under `node`, when it is a string.
fn text_of<'n>(node: &'n Node, path: &[&str]) -> Option<&'n str> {
    let mut at = node;
    for key in path {
        at = at.get_key(key)?;
    }
    match at.as_scalar()?.core() {
        CoreScalar::Str(text) => Some(text),
        _ => None,
    }
}

/// `data.inventory` as Gatekeeper syncs it, `namespace[ns][apiVersion][kind][name]`
/// and `cluster[apiVersion][kind][name]`, built from the documents (as
/// [`crate::gatekeeper::inventory_of`] builds it from their JSON, a later
/// object of the same name replacing an earlier one).
fn inventory_value<'a>(objects: impl IntoIterator<Item = &'a Node>) -> regorus::Value {
    type Names = BTreeMap<regorus::Value, regorus::Value>;
    type Scope = BTreeMap<String, BTreeMap<String, Names>>;
    let mut cluster: Scope = BTreeMap::new();
    let mut namespaced: BTreeMap<String, Scope> = BTreeMap::new();
    for root in objects {
        let (Some(api), Some(kind), Some(name)) =
            (text_of(root, &["apiVersion"]), text_of(root, &["kind"]), text_of(root, &["metadata", "name"]))
        else {
            continue;
        };
        let scope = match text_of(root, &["metadata", "namespace"]) {
            Some(ns) => namespaced.entry(ns.to_owned()).or_default(),
            None => &mut cluster,
        };
        scope
            .entry(api.to_owned())
            .or_default()
            .entry(kind.to_owned())
            .or_default()
            .insert(regorus::Value::from(name), to_value(root));
    }
    let scope = |scope: Scope| -> regorus::Value {
        let by_api = scope.into_iter().map(|(api, kinds)| {
            let by_kind =
                kinds.into_iter().map(|(kind, names)| (regorus::Value::from(kind), regorus::Value::from(names)));
            (regorus::Value::from(api), regorus::Value::from(by_kind.collect::<BTreeMap<_, _>>()))
        });
        regorus::Value::from(by_api.collect::<BTreeMap<_, _>>())
    };
    let namespaced =
        namespaced.into_iter().map(|(ns, s)| (regorus::Value::from(ns), scope(s))).collect::<BTreeMap<_, _>>();
    regorus::Value::from(BTreeMap::from([
        (regorus::Value::from("cluster"), scope(cluster)),
        (regorus::Value::from("namespace"), regorus::Value::from(namespaced)),
    ]))
}

/// A document as a regorus value, without a JSON detour (same typing as
/// [`tollgate_core::Node::to_json`]: the YAML 1.2 core schema).
fn to_value(node: &tollgate_core::Node) -> regorus::Value {
    match &node.value {
        tollgate_core::Value::Scalar(s) => match s.core() {
            CoreScalar::Null => regorus::Value::Null,
            CoreScalar::Bool(b) => regorus::Value::from(b),
            // As regorus reads the same JSON: non-negative integers unsigned.
            CoreScalar::Int(i) => u64::try_from(i).map_or_else(|_| regorus::Value::from(i), regorus::Value::from),
            CoreScalar::Float(f) => regorus::Value::from(f),
            CoreScalar::Str(text) => regorus::Value::from(text),
        },
        tollgate_core::Value::Sequence(items) => regorus::Value::from(items.iter().map(to_value).collect::<Vec<_>>()),
        tollgate_core::Value::Mapping(m) => {
            let mut map = std::collections::BTreeMap::new();
            for (k, v) in m.iter() {
                map.insert(regorus::Value::from(k), to_value(v));
            }
            regorus::Value::from(map)
        }
    }
}

fn route_of(path: &[serde_json::Value]) -> Route {
    Route::from_segments(
        path.iter()
            .map(|p| match p {
                serde_json::Value::Number(n) => {
                    n.as_u64().map_or_else(|| Segment::Key(n.to_string()), |i| Segment::Index(i as usize))
                }
                serde_json::Value::String(s) => Segment::Key(s.clone()),
                other => Segment::Key(other.to_string()),
            })
            .collect(),
    )
}

fn rule_meta(ns: &str, name: &str, annotation: Option<&Annotation>) -> RuleMeta {
    let default_severity =
        if crate::policy::rule_kind(name) == Some("warn") { Severity::Warning } else { Severity::Error };
    let severity = annotation
        .and_then(|a| a.severity.as_deref())
        .and_then(|s| match s.to_ascii_lowercase().as_str() {
            "error" | "high" | "critical" => Some(Severity::Error),
            "warning" | "medium" => Some(Severity::Warning),
            "note" | "low" | "info" => Some(Severity::Note),
            _ => None,
        })
        .unwrap_or(default_severity);
    let id = annotation.and_then(|a| a.id.clone()).unwrap_or_else(|| format!("{ns}.{name}"));
    let summary = annotation
        .and_then(|a| a.title.clone().or_else(|| a.description.clone()))
        .unwrap_or_else(|| format!("Rego rule data.{ns}.{name}"));
    let mut docs = String::new();
    if let Some(a) = annotation {
        if let Some(d) = &a.description {
            docs.push_str(d);
            docs.push('\n');
        }
        for r in &a.related {
            docs.push_str(&format!("\n- <{r}>"));
        }
    }
    let mut m = RuleMeta::policy(&id, severity, &summary, vec!["rego".to_owned(), "policy".to_owned()], &docs);
    m.help_uri = annotation.and_then(|a| a.related.first().cloned());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inventory_from_documents_is_the_inventory_from_their_json() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec: {port: 80, ratio: 0.5, neg: -1}\n---\n\
            apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: shop}\nspec: {port: 81}\n---\n\
            apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
            apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: 7}\n---\n\
            apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: shop}\n";
        let docs = tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default()).expect("parses");
        let from_json = regorus::Value::from(crate::gatekeeper::inventory_of(
            docs.iter().map(|d| d.root.to_json()).collect::<Vec<_>>().iter(),
        ));
        let from_nodes = inventory_value(docs.iter().map(|d| &d.root));
        assert_eq!(from_nodes, from_json);
        // The later `a` replaced the earlier; a non-string namespace is cluster-scoped.
        assert_eq!(from_nodes["namespace"]["shop"]["v1"]["Service"]["a"]["spec"]["port"], regorus::Value::from(81u64));
        assert!(from_nodes["cluster"]["apps/v1"]["Deployment"]["web"] != regorus::Value::Undefined);
    }
}
