//! conftest semantics: `deny`/`violation`/`warn` rules (and `_suffix`ed
//! forms) of the selected namespaces, `exception` rules, one input per
//! document, and conftest's success counting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use regorus::Value;

use crate::policy::{Annotation, PackageRules, PolicyProblem, RegoFile, add_module, rule_kind, scan_module};
use crate::replica::Recorded;

/// Which packages are evaluated.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// Package paths without `data.`; globs (`*`, `?`) allowed. Default `main`.
    pub names: Vec<String>,
    /// Every package (`--all-namespaces`).
    pub all: bool,
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces { names: vec!["main".to_owned()], all: false }
    }
}

/// What one result of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `deny`/`violation`.
    Failure,
    /// `warn`.
    Warning,
    /// A rule an `exception` exempts.
    Exception,
}

/// One failure, warning or exception.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    /// The package (`main`).
    pub namespace: String,
    /// The rule (`deny`, `warn_labels`).
    pub rule: String,
    /// What it is.
    pub outcome: Outcome,
    /// `msg` (or the string result).
    pub message: String,
    /// `path` of an object result: keys and indices of the offending node.
    pub path: Option<Vec<serde_json::Value>>,
    /// Other keys of an object result.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The results for one input, counted as conftest counts them.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Failures, warnings and exceptions.
    pub results: Vec<RuleResult>,
    /// Rules (definitions) that passed.
    pub successes: usize,
    /// Evaluations that failed (a builtin error, the time budget).
    pub errors: Vec<String>,
    /// What the policies `print()`ed.
    pub prints: Vec<String>,
}

impl Evaluation {
    /// Number of results of one kind.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    /// conftest's `tests` for this input.
    pub fn tests(&self) -> usize {
        self.successes + self.results.len()
    }
}

/// A compiled conftest-style policy set.
#[derive(Debug, Clone)]
pub struct Conftest {
    engine: Recorded,
    /// Package → its rules.
    pub packages: BTreeMap<String, PackageRules>,
    /// Files that did not compile (reported, never skipped silently).
    pub problems: Vec<PolicyProblem>,
    budget: Option<Duration>,
}

/// A package's `metadata` rule (an object) says what its rules are: either
/// directly (`{"id": ..., "title": ..., "severity": ...}`, for every rule of
/// the package) or per rule (`{"deny": {...}, "warn_x": {...}}`). Fields a
/// rule's `# METADATA` annotation sets win; the rule's own entry comes
/// before the package-wide one.
fn apply_metadata_rules(engine: &mut regorus::Engine, packages: &mut BTreeMap<String, PackageRules>) {
    for (package, rules) in packages.iter_mut() {
        let Ok(result) = engine.eval_query(format!("data.{package}.metadata"), false) else { continue };
        let Some(value) = result.result.first().and_then(|r| r.expressions.first()).map(|e| e.value.clone()) else {
            continue;
        };
        let Ok(json) = value.to_json_str().map(|s| serde_json::from_str::<serde_json::Value>(&s)) else { continue };
        let Ok(serde_json::Value::Object(meta)) = json else { continue };
        let package_wide = annotation_of(&serde_json::Value::Object(meta.clone()));
        for name in rules.rules.keys().cloned().collect::<Vec<_>>() {
            let own = meta.get(&name).filter(|v| v.is_object()).map(annotation_of);
            let mut merged = rules.annotations.get(&name).cloned().unwrap_or_default();
            for source in own.iter().chain(std::iter::once(&package_wide)) {
                merged.title = merged.title.or_else(|| source.title.clone());
                merged.description = merged.description.or_else(|| source.description.clone());
                merged.id = merged.id.or_else(|| source.id.clone());
                merged.severity = merged.severity.or_else(|| source.severity.clone());
                if merged.related.is_empty() {
                    merged.related.clone_from(&source.related);
                }
            }
            if let Some(pkg) = &rules.package_annotation {
                merged.title = merged.title.or_else(|| pkg.title.clone());
                merged.description = merged.description.or_else(|| pkg.description.clone());
                merged.severity = merged.severity.or_else(|| pkg.severity.clone());
                if merged.related.is_empty() {
                    merged.related.clone_from(&pkg.related);
                }
            }
            if merged != Annotation::default() {
                rules.annotations.insert(name, merged);
            }
        }
    }
}

fn annotation_of(v: &serde_json::Value) -> Annotation {
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
    let custom = |k: &str| v.pointer(&format!("/custom/{k}")).and_then(serde_json::Value::as_str).map(str::to_owned);
    Annotation {
        title: text("title"),
        description: text("description"),
        id: text("id").or_else(|| custom("id")),
        severity: text("severity").or_else(|| custom("severity")),
        related: v
            .get("related_resources")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().or_else(|| r.get("ref").and_then(serde_json::Value::as_str)))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Conftest {
    /// Compiles `files` with `data` loaded under `data.`. A file that does not
    /// parse is kept in [`Conftest::problems`]; the rest still run.
    pub fn new(files: &[RegoFile], data: serde_json::Value) -> Conftest {
        let mut engine = Recorded::default();
        let mut packages: BTreeMap<String, PackageRules> = BTreeMap::new();
        let mut problems = Vec::new();
        // A file with a recursive function is refused before regorus sees it.
        let recursive = crate::guard::recursive_functions(&files.iter().collect::<Vec<_>>());
        for (index, file) in files.iter().enumerate() {
            if let Some((_, problem)) = recursive.iter().find(|(i, _)| *i == index) {
                problems.push(problem.clone());
                continue;
            }
            match add_module(&mut engine, file, false) {
                Ok(package) => scan_module(&file.text, packages.entry(package).or_default()),
                Err(problem) => problems.push(problem),
            }
        }
        if let Err(e) = engine.add_data(data) {
            problems.push(PolicyProblem::at("data", format!("cannot load the data: {e}")));
        }
        engine.prepare();
        apply_metadata_rules(&mut engine.engine, &mut packages);
        Conftest { engine, packages, problems, budget: Some(Duration::from_secs(5)) }
    }

    /// Loads every `.rego` under `policy` paths and the `data` files.
    pub fn load(policy: &[PathBuf], data: &[PathBuf]) -> Result<Conftest, PolicyProblem> {
        let files = crate::policy::rego_files(policy)?;
        let data = crate::policy::load_data(data, &[])?;
        Ok(Conftest::new(&files, data))
    }

    /// Sets the time budget of one evaluation (`None`: no limit).
    pub fn set_budget(&mut self, budget: Option<Duration>) {
        self.budget = budget;
    }

    /// The packages `selection` names that exist.
    pub fn selected(&self, selection: &Namespaces) -> Vec<String> {
        self.packages
            .keys()
            .filter(|p| selection.all || selection.names.iter().any(|n| tollgate_core::wildcard_match(n, p)))
            .cloned()
            .collect()
    }

    /// A handle for evaluating inputs, on an engine of its own: the policies
    /// are compiled again for it, so that evaluators on several threads
    /// share no memory they write (see `replica.rs`). Make one per thread,
    /// not one per input.
    pub fn evaluator(&self) -> Evaluator<'_> {
        self.evaluator_on(self.engine.replica())
    }

    /// The evaluator of the thread in `PerThread` slot `slot`, on its
    /// engine (`Recorded::for_thread`).
    pub(crate) fn thread_evaluator(&self, slot: usize) -> Evaluator<'_> {
        self.evaluator_on(self.engine.for_thread(slot))
    }

    fn evaluator_on(&self, mut engine: regorus::Engine) -> Evaluator<'_> {
        if let Some(limit) = self.budget {
            engine.set_execution_timer_config(crate::guard::time_limit(limit));
        }
        Evaluator { set: self, engine }
    }
}

/// Evaluates inputs against a [`Conftest`] set.
pub struct Evaluator<'a> {
    set: &'a Conftest,
    engine: regorus::Engine,
}

impl Evaluator<'_> {
    /// Evaluates one input in the `namespaces` (from [`Conftest::selected`]).
    pub fn evaluate(&mut self, input: &serde_json::Value, namespaces: &[String]) -> Evaluation {
        self.evaluate_value(Value::from(input.clone()), namespaces)
    }

    /// [`Evaluator::evaluate`] for an input already converted.
    pub fn evaluate_value(&mut self, input: Value, namespaces: &[String]) -> Evaluation {
        self.engine.set_input(input);
        let mut out = Evaluation::default();
        for ns in namespaces {
            let Some(package) = self.set.packages.get(ns) else { continue };
            let definitions: usize = package.rules.values().sum();
            let before_results = out.results.len();
            let mut successes = 0;
            for name in package.rules.keys() {
                let Some(kind) = rule_kind(name) else { continue };
                let short = name
                    .strip_prefix("violation_")
                    .or_else(|| name.strip_prefix("deny_"))
                    .or_else(|| name.strip_prefix("warn_"))
                    .unwrap_or(name);
                let exempt = if package.has_exception {
                    let query =
                        format!("{}.exception[_][_] == {}", data_ref(ns), serde_json::Value::String(short.to_owned()));
                    self.engine.eval_query(query, false)
                } else {
                    Ok(regorus::QueryResults::default())
                };
                match exempt {
                    Ok(r) if r.result.iter().any(|r| r.expressions.iter().all(|e| e.value == Value::Bool(true))) => {
                        out.results.push(RuleResult {
                            namespace: ns.clone(),
                            rule: name.clone(),
                            outcome: Outcome::Exception,
                            message: format!("data.{ns}.exception[_][_] == \"{short}\""),
                            path: None,
                            metadata: serde_json::Map::new(),
                        });
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        out.errors.push(format!("data.{ns}.exception: {e}"));
                        continue;
                    }
                }
                let value = match self.engine.eval_rule(format!("{}.{name}", data_ref(ns))) {
                    Ok(v) => v,
                    Err(e) => {
                        out.errors.push(format!("data.{ns}.{name}: {e}"));
                        continue;
                    }
                };
                let outcome = if kind == "warn" { Outcome::Warning } else { Outcome::Failure };
                let items: Vec<Value> = match &value {
                    Value::Set(s) => s.iter().cloned().collect(),
                    Value::Array(a) => a.iter().cloned().collect(),
                    Value::Undefined | Value::Null => Vec::new(),
                    // conftest counts a bare boolean (`deny if { ... }`) as a success.
                    Value::Bool(_) => Vec::new(),
                    other => vec![other.clone()],
                };
                if items.is_empty() {
                    successes += 1;
                }
                for item in items {
                    out.results.push(result_of(ns, name, outcome, &item));
                }
            }
            let counted = out.results.len() - before_results + successes;
            out.successes += successes + definitions.saturating_sub(counted);
        }
        out.prints = self.engine.take_prints().unwrap_or_default();
        out
    }
}

fn result_of(ns: &str, rule: &str, outcome: Outcome, item: &Value) -> RuleResult {
    let json: serde_json::Value =
        item.to_json_str().ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
    let (message, path, metadata) = match json {
        serde_json::Value::String(s) => (s, None, serde_json::Map::new()),
        serde_json::Value::Object(mut map) => {
            let message = match map.remove("msg") {
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => serde_json::Value::Object(map.clone()).to_string(),
            };
            let path = match map.remove("path") {
                Some(serde_json::Value::Array(p)) => Some(p),
                Some(serde_json::Value::String(s)) => {
                    Some(s.trim_start_matches('/').split('/').filter(|p| !p.is_empty()).map(segment).collect())
                }
                Some(other) => {
                    map.insert("path".to_owned(), other);
                    None
                }
                None => None,
            };
            (message, path, map)
        }
        other => (other.to_string(), None, serde_json::Map::new()),
    };
    RuleResult { namespace: ns.to_owned(), rule: rule.to_owned(), outcome, message, path, metadata }
}

fn segment(s: &str) -> serde_json::Value {
    s.parse::<u64>()
        .map_or_else(|_| serde_json::Value::String(s.replace("~1", "/").replace("~0", "~")), serde_json::Value::from)
}

/// `data.<package>` as a reference.
pub(crate) fn data_ref(package: &str) -> String {
    let quoted = quote_path(package);
    if quoted.starts_with('[') { format!("data{quoted}") } else { format!("data.{quoted}") }
}

/// `a.b-c` → `a["b-c"]` where a component is not an identifier.
pub(crate) fn quote_path(package: &str) -> String {
    let mut out = String::new();
    for (i, part) in package.split('.').enumerate() {
        let ident = !part.is_empty()
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !part.starts_with(|c: char| c.is_ascii_digit());
        if ident {
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        } else {
            out.push_str(&format!("[{}]", serde_json::Value::String(part.to_owned())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rule_names_and_describes_rules() {
        let text = r#"package main
import rego.v1
metadata := {
  "deny": {"id": "K8S-100", "title": "No latest tags", "severity": "warning"},
  "related_resources": ["https://example.com/policy"],
}
deny contains "latest" if input.image == "x:latest"
# METADATA
# title: Annotated wins
warn contains "w" if false
"#;
        let c = Conftest::new(&[RegoFile { path: "p.rego".into(), text: text.into() }], serde_json::json!({}));
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let rules = &c.packages["main"];
        let deny = &rules.annotations["deny"];
        assert_eq!(deny.id.as_deref(), Some("K8S-100"));
        assert_eq!(deny.title.as_deref(), Some("No latest tags"));
        assert_eq!(deny.severity.as_deref(), Some("warning"));
        assert_eq!(deny.related, ["https://example.com/policy"]);
        let warn = &rules.annotations["warn"];
        assert_eq!(warn.title.as_deref(), Some("Annotated wins"));
        assert_eq!(warn.related, ["https://example.com/policy"]);
    }

    fn set(text: &str) -> Conftest {
        Conftest::new(&[RegoFile { path: "p.rego".to_owned(), text: text.to_owned() }], serde_json::json!({}))
    }

    #[test]
    fn counts_like_conftest() {
        let c = set(r#"package main
import rego.v1
deny contains msg if { input.kind == "Pod"; msg := "no pods" }
deny contains msg if { false; msg := "never" }
violation contains {"msg": "bad name", "path": ["metadata", "name"]} if { input.metadata.name == "x" }
warn contains "careful" if { true }
deny_label contains "labels" if { not input.metadata.labels }
exception contains rules if { rules := ["label"] }
"#);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let mut e = c.evaluator();
        let r = e.evaluate(
            &serde_json::json!({"kind": "Pod", "metadata": {"name": "x"}}),
            &c.selected(&Namespaces::default()),
        );
        assert_eq!(r.count(Outcome::Failure), 2, "{r:?}");
        assert_eq!(r.count(Outcome::Warning), 1);
        assert_eq!(r.count(Outcome::Exception), 1);
        // 5 definitions: deny x2, violation, warn, deny_label; deny's second body counts as a success.
        assert_eq!(r.successes, 1, "{r:?}");
        let v = r.results.iter().find(|r| r.rule == "violation").expect("violation");
        assert_eq!(v.path, Some(vec![serde_json::json!("metadata"), serde_json::json!("name")]));
        let r = e.evaluate(
            &serde_json::json!({"kind": "Service", "metadata": {"name": "y", "labels": {}}}),
            &["main".to_owned()],
        );
        assert_eq!((r.count(Outcome::Failure), r.count(Outcome::Warning), r.successes), (0, 1, 3), "{r:?}");
        // An evaluator on a shared clone (threads past the replicas) judges alike.
        let input = serde_json::json!({"kind": "Pod", "metadata": {"name": "x"}});
        let own = c.evaluator().evaluate(&input, &["main".to_owned()]);
        let shared = c.thread_evaluator(crate::replica::MAX_REPLICAS).evaluate(&input, &["main".to_owned()]);
        assert_eq!((own.results, own.successes), (shared.results, shared.successes));
    }

    #[test]
    fn runaway_policy_hits_the_budget() {
        let mut c = set(
            "package main\nimport rego.v1\ndeny contains x if { some i in numbers.range(1, 100000000); x := i; x < 0 }\n",
        );
        c.set_budget(Some(Duration::from_millis(200)));
        let started = std::time::Instant::now();
        let r = c.evaluator().evaluate(&serde_json::json!({}), &["main".to_owned()]);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(r.errors.len(), 1, "{r:?}");
    }

    #[test]
    fn package_paths_are_quoted() {
        assert_eq!(quote_path("a.b-c.d"), "a[\"b-c\"].d");
    }
}
