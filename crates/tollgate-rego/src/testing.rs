//! `tollgate test`: Rego unit tests (`test_*` rules, as `opa test` and
//! `conftest verify` run them) and Gatekeeper `gator` suites (`suite.yaml`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::gatekeeper::{Constraint, Gatekeeper, Template, inventory_of, review_of};
use crate::policy::{PackageRules, PolicyProblem, RegoFile, add_module, scan_module};

/// The outcome of one test or case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// `file: package.test_name` or `suite.yaml: test / case`.
    pub name: String,
    /// Passed.
    pub passed: bool,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Runs the `test_*` rules of the `.rego` files of each directory under
/// `root` that has `*_test.rego` files (each directory is one policy, as the
/// Gatekeeper library and conftest lay them out).
pub fn run_rego_tests(root: &Path) -> Result<Vec<TestOutcome>, PolicyProblem> {
    let mut files = Vec::new();
    crate::policy::collect(root, &mut files, &|p| p.extension().is_some_and(|e| e == "rego"))?;
    let mut by_dir: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
    for f in files {
        by_dir.entry(f.parent().map(Path::to_path_buf).unwrap_or_default()).or_default().push(f);
    }
    let mut dirs: Vec<_> = by_dir.into_iter().filter(|(_, fs)| fs.iter().any(|f| is_test_file(f))).collect();
    dirs.sort();
    let mut out = Vec::new();
    for (_, mut files) in dirs {
        files.sort();
        // Like OPA's test runner, a second definition of `test_x` is a test of
        // its own (OPA names it `test_x#01`): rename it before compiling.
        let rego: Vec<RegoFile> = crate::policy::rego_files(&files)?.into_iter().map(split_duplicate_tests).collect();
        let mut engine = crate::replica::Recorded::default();
        let mut packages: Vec<(String, PackageRules, String)> = Vec::new();
        let mut failed_to_load = false;
        let mut load_error: Option<String> = None;
        let recursive = crate::guard::recursive_functions(&rego.iter().collect::<Vec<_>>());
        for (index, file) in rego.iter().enumerate() {
            let added = match recursive.iter().find(|(i, _)| *i == index) {
                Some((_, problem)) => Err(problem.clone()),
                None => add_module(&mut engine, file, false),
            };
            match added {
                Ok(package) => {
                    let mut rules = PackageRules::default();
                    scan_module(&file.text, &mut rules);
                    packages.push((package, rules, file.path.clone()));
                }
                Err(problem) => {
                    // Every test of a file that does not load fails (and is counted).
                    failed_to_load = true;
                    let mut rules = PackageRules::default();
                    scan_module(&file.text, &mut rules);
                    load_error = Some(problem.to_string());
                    for name in rules.test_heads.iter().map(|(_, n)| format!(" {n}")) {
                        out.push(TestOutcome {
                            name: format!("{}:{name}", file.path),
                            passed: false,
                            reason: Some(format!("does not compile: {problem}")),
                        });
                    }
                }
            }
        }
        if failed_to_load {
            for (package, rules, path) in &packages {
                for (_, test) in &rules.test_heads {
                    out.push(TestOutcome {
                        name: format!("{path}: data.{package}.{test}"),
                        passed: false,
                        reason: Some(format!(
                            "not run: a policy file of this directory does not compile: {}",
                            load_error.as_deref().unwrap_or_default()
                        )),
                    });
                }
            }
            continue;
        }
        let mut engine = engine.engine;
        engine.set_execution_timer_config(crate::guard::time_limit(std::time::Duration::from_secs(10)));
        for (package, rules, path) in &packages {
            for test in &rules.tests {
                let name = format!("{path}: data.{package}.{test}");
                let outcome = match engine.eval_rule(format!("{}.{test}", crate::conftest::data_ref(package))) {
                    Ok(regorus::Value::Bool(true)) => TestOutcome { name, passed: true, reason: None },
                    Ok(regorus::Value::Undefined) => TestOutcome {
                        name,
                        passed: false,
                        reason: Some("undefined (a condition did not hold)".to_owned()),
                    },
                    Ok(other) => TestOutcome {
                        name,
                        passed: false,
                        reason: Some(format!("evaluated to {}", other.to_json_str().unwrap_or_default())),
                    },
                    Err(e) => TestOutcome {
                        name,
                        passed: false,
                        reason: Some(format!("error: {}", crate::policy::tidy_regorus(&e.to_string()))),
                    },
                };
                out.push(outcome);
            }
        }
    }
    Ok(out)
}

fn split_duplicate_tests(mut file: RegoFile) -> RegoFile {
    let mut rules = PackageRules::default();
    scan_module(&file.text, &mut rules);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut renames: HashMap<usize, String> = HashMap::new();
    for (line, name) in &rules.test_heads {
        let n = seen.entry(name.as_str()).or_default();
        if *n > 0 {
            renames.insert(*line, format!("{name}__{n:02}"));
        }
        *n += 1;
    }
    if renames.is_empty() {
        return file;
    }
    let text: Vec<String> = file
        .text
        .lines()
        .enumerate()
        .map(|(i, line)| match (renames.get(&i), rules.test_heads.iter().find(|(l, _)| *l == i)) {
            (Some(new), Some((_, old))) => line.replacen(old.as_str(), new, 1),
            _ => line.to_owned(),
        })
        .collect();
    file.text = text.join("\n");
    file
}

fn is_test_file(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with("_test.rego"))
}

/// Runs one gator suite: every case's assertions on the violations of its
/// object under the test's constraint. A template with both engines is
/// judged by its Rego, as gator does by default.
pub fn run_gator_suite(suite_path: &Path) -> Result<Vec<TestOutcome>, PolicyProblem> {
    run_suite(suite_path, false).map(|(out, _)| out)
}

/// Runs one gator suite with the CEL engine, as `gator verify
/// --enable-k8s-native-validation` does: every template that ships
/// `K8sNativeValidation` code is judged by it. `None` when no template of
/// the suite ships CEL.
pub fn run_gator_suite_cel(suite_path: &Path) -> Result<Option<Vec<TestOutcome>>, PolicyProblem> {
    run_suite(suite_path, true).map(|(out, cel)| cel.then_some(out))
}

fn run_suite(suite_path: &Path, prefer_cel: bool) -> Result<(Vec<TestOutcome>, bool), PolicyProblem> {
    let shown = suite_path.display().to_string();
    let text =
        std::fs::read_to_string(suite_path).map_err(|e| PolicyProblem::at(&shown, format!("cannot read: {e}")))?;
    let docs = crate::policy::parse_documents(&shown, &text)?;
    let suite = docs.first().map(tollgate_yaml::Node::to_json).unwrap_or_default();
    if suite["kind"] != "Suite" {
        return Err(PolicyProblem::at(&shown, "not a gator Suite (expected `kind: Suite`)"));
    }
    let dir = suite_path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    if suite["skip"] == true {
        return Ok((out, false));
    }
    let mut templates: HashMap<PathBuf, Result<Template, PolicyProblem>> = HashMap::new();
    let load = |path: &Path| {
        load_template(path).map(|mut t| {
            if prefer_cel {
                t.prefer_cel();
            }
            t
        })
    };
    for test in suite["tests"].as_array().into_iter().flatten() {
        let test_name = test["name"].as_str().unwrap_or("?");
        let label = |case: &str| format!("{shown}: {test_name} / {case}");
        if test["skip"] == true {
            continue;
        }
        let loaded = (|| -> Result<(Template, Constraint), CaseError> {
            let template_path = dir.join(test["template"].as_str().ok_or(CaseError::Missing("test", "template"))?);
            let template = templates.entry(template_path.clone()).or_insert_with(|| load(&template_path)).clone()?;
            let constraint_path =
                dir.join(test["constraint"].as_str().ok_or(CaseError::Missing("test", "constraint"))?);
            let constraint = load_objects(&constraint_path)?
                .into_iter()
                .find_map(|o| {
                    let mut gk = Gatekeeper::default();
                    gk.add_json(&constraint_path.display().to_string(), &o);
                    gk.constraints.pop()
                })
                .ok_or_else(|| CaseError::NoConstraint(constraint_path.display().to_string()))?;
            if constraint.kind != template.kind {
                return Err(CaseError::KindMismatch { constraint: constraint.kind, template: template.kind });
            }
            Ok((template, constraint))
        })();
        if test["invalid"] == true {
            // The constraint must fail validation against the template's schema.
            let outcome = match &loaded {
                Ok((template, constraint)) => match template.validate(constraint) {
                    Err(_) => TestOutcome { name: label("invalid constraint"), passed: true, reason: None },
                    Ok(()) => TestOutcome {
                        name: label("invalid constraint"),
                        passed: false,
                        reason: Some("the constraint is valid, but the test says `invalid: true`".to_owned()),
                    },
                },
                Err(e) => TestOutcome { name: label("invalid constraint"), passed: false, reason: Some(e.to_string()) },
            };
            out.push(outcome);
            continue;
        }
        for case in test["cases"].as_array().into_iter().flatten() {
            let case_name = case["name"].as_str().unwrap_or("?");
            if case["skip"] == true {
                continue;
            }
            let result = match &loaded {
                Err(e) => Err(e.clone()),
                Ok((template, constraint)) => template
                    .validate(constraint)
                    .map_err(CaseError::Schema)
                    .and_then(|()| run_case(dir, template, constraint, case)),
            };
            out.push(match result {
                Ok(()) => TestOutcome { name: label(case_name), passed: true, reason: None },
                Err(reason) => TestOutcome { name: label(case_name), passed: false, reason: Some(reason.to_string()) },
            });
        }
    }
    let cel = templates.values().any(|t| t.as_ref().is_ok_and(Template::uses_cel));
    Ok((out, cel))
}

/// Why a gator test case did not pass: the reason `tollgate test` prints.
#[derive(Debug, Clone, thiserror::Error)]
enum CaseError {
    /// The suite leaves out a field (`template`, `constraint`, `object`).
    #[error("the {0} has no `{1}`")]
    Missing(&'static str, &'static str),
    /// A file the suite names could not be read.
    #[error("{path}: cannot read: {error}")]
    Read { path: String, error: std::sync::Arc<std::io::Error> },
    /// A template or object file that does not load.
    #[error("{0}")]
    Policy(#[from] PolicyProblem),
    /// The constraint file holds no constraint.
    #[error("{0}: no constraint in it")]
    NoConstraint(String),
    #[error("constraint kind `{constraint}` is not the template's `{template}`")]
    KindMismatch { constraint: String, template: String },
    #[error("the constraint's parameters do not match the template's schema: {0}")]
    Schema(crate::GatekeeperError),
    #[error("{path}: expected exactly one object, found {found}")]
    NotOneObject { path: String, found: usize },
    /// The template could not judge the object.
    #[error("{0}")]
    Evaluation(crate::GatekeeperError),
    #[error("assertion {index}: bad message regex: {error}")]
    BadRegex { index: usize, error: regex::Error },
    #[error("assertion {index}: `violations: {value}` is not yes, no or a count")]
    BadExpectation { index: usize, value: Json },
    /// The violations disagree with the assertion.
    #[error("assertion {index} (violations: {expected}{}) got {count}; violations: {messages:?}", pattern.as_ref().map(|p| format!(", message: {p}")).unwrap_or_default())]
    Disagree { index: usize, expected: Json, pattern: Option<regex::Regex>, count: usize, messages: Vec<String> },
}

fn run_case(dir: &Path, template: &Template, constraint: &Constraint, case: &Json) -> Result<(), CaseError> {
    let object_path = dir.join(case["object"].as_str().ok_or(CaseError::Missing("case", "object"))?);
    let objects = load_objects(&object_path)?;
    if objects.len() != 1 {
        return Err(CaseError::NotOneObject { path: object_path.display().to_string(), found: objects.len() });
    }
    let mut inventory_objects = Vec::new();
    for inv in case["inventory"].as_array().into_iter().flatten() {
        let p = dir.join(inv.as_str().unwrap_or_default());
        inventory_objects.extend(load_objects(&p)?);
    }
    let inventory = if inventory_objects.is_empty() { Json::Null } else { inventory_of(&inventory_objects) };
    let (review, target) = review_of(&objects[0]);
    let namespaces = |ns: &str| {
        inventory_objects
            .iter()
            .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == ns)
            .map(|o| o["metadata"]["labels"].as_object().cloned().unwrap_or_default())
    };
    let violations = if constraint.matches(&target, &namespaces) {
        template.violations(constraint, &review, &inventory).map_err(CaseError::Evaluation)?
    } else {
        Vec::new()
    };
    for (i, assertion) in case["assertions"].as_array().into_iter().flatten().enumerate() {
        let pattern = match assertion["message"].as_str() {
            Some(m) => Some(regex::Regex::new(m).map_err(|error| CaseError::BadRegex { index: i, error })?),
            None => None,
        };
        let count = violations.iter().filter(|v| pattern.as_ref().is_none_or(|p| p.is_match(&v.message))).count();
        let expected = &assertion["violations"];
        let ok = match expected {
            Json::Null => count >= 1,
            Json::String(s) if s == "yes" => count >= 1,
            Json::String(s) if s == "no" => count == 0,
            Json::Number(n) => n.as_u64().is_some_and(|n| count as u64 == n),
            Json::Bool(true) => count >= 1,
            Json::Bool(false) => count == 0,
            other => return Err(CaseError::BadExpectation { index: i, value: other.clone() }),
        };
        if !ok {
            return Err(CaseError::Disagree {
                index: i,
                expected: expected.clone(),
                pattern,
                count,
                messages: violations.iter().map(|v| v.message.clone()).collect(),
            });
        }
    }
    Ok(())
}

fn load_template(path: &Path) -> Result<Template, PolicyProblem> {
    let shown = path.display().to_string();
    let objects = load_objects(path).map_err(|e| match e {
        CaseError::Policy(problem) => problem,
        other => PolicyProblem::at(&shown, other.to_string()),
    })?;
    let json = objects
        .into_iter()
        .find(|o| o["kind"] == "ConstraintTemplate")
        .ok_or_else(|| PolicyProblem::at(&shown, "no ConstraintTemplate in it"))?;
    Template::compile(&shown, &json)
}

fn load_objects(path: &Path) -> Result<Vec<Json>, CaseError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CaseError::Read { path: shown.clone(), error: std::sync::Arc::new(e) })?;
    let docs = crate::policy::parse_documents(&shown, &text)?;
    Ok(docs.iter().map(tollgate_yaml::Node::to_json).filter(|j| !j.is_null()).collect())
}

/// Every `suite.yaml` (gator suite) under `root`, sorted.
pub fn find_suites(root: &Path) -> Result<Vec<PathBuf>, PolicyProblem> {
    let mut out = Vec::new();
    crate::policy::collect(root, &mut out, &|p| p.file_name().is_some_and(|n| n == "suite.yaml"))?;
    out.sort();
    Ok(out)
}
