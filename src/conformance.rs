//! `tollgate conformance DIR`: agreement with the peers' own test suites in
//! `DIR` (the `shared/conformance` corpora): every gator `suite.yaml` case of
//! the Gatekeeper library, its Rego unit tests, and the conftest outcomes of
//! `expectations/conftest.yaml` (scope `in`). Prints `N/M agree` per suite and
//! every disagreement with its reason.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value as Json;
use tollgate_rego::{Conftest, Namespaces, Outcome};

/// One line of the report.
pub(crate) struct Tally {
    pub(crate) name: &'static str,
    pub(crate) agree: usize,
    pub(crate) total: usize,
    pub(crate) disagreements: Vec<String>,
}

/// Runs the suites (those whose name contains `only`, when given).
pub(crate) fn run_only(dir: &Path, only: Option<&str>) -> Result<(String, Vec<Tally>)> {
    let wanted = |name: &str| only.is_none_or(|o| name.contains(o));
    let mut tallies = Vec::new();
    let library = dir.join("gatekeeper-library/library");
    if library.is_dir() && wanted("gatekeeper") {
        let mut t = Tally { name: "gatekeeper-library gator suites", agree: 0, total: 0, disagreements: Vec::new() };
        let mut cel = Tally {
            name: "gatekeeper-library gator suites with the CEL engine (templates that ship K8sNativeValidation)",
            agree: 0,
            total: 0,
            disagreements: Vec::new(),
        };
        for suite in tollgate_rego::find_suites(&library).map_err(|e| anyhow::anyhow!("{e}"))? {
            let outcomes = tollgate_rego::run_gator_suite(&suite).map_err(|e| anyhow::anyhow!("{e}"))?;
            tally(&mut t, &outcomes);
            if let Some(outcomes) = tollgate_rego::run_gator_suite_cel(&suite).map_err(|e| anyhow::anyhow!("{e}"))? {
                tally(&mut cel, &outcomes);
            }
        }
        tallies.push(t);
        tallies.push(cel);
    }
    let src = dir.join("gatekeeper-library/src");
    if src.is_dir() && wanted("gatekeeper") {
        let mut t = Tally { name: "gatekeeper-library Rego unit tests", agree: 0, total: 0, disagreements: Vec::new() };
        tally(&mut t, &tollgate_rego::run_rego_tests(&src).map_err(|e| anyhow::anyhow!("{e}"))?);
        tallies.push(t);
    }
    let expectations = dir.join("expectations/conftest.yaml");
    if expectations.is_file() && wanted("conftest") {
        tallies.push(conftest(&dir.join("conftest"), &expectations)?);
    }
    let mut scopes = String::new();
    for (corpus, index, labels, ci_only) in [
        (
            "kyverno-policies",
            "expectations/kyverno-policies-index.json",
            [
                "kyverno-policies in-scope:validate",
                "kyverno-policies CEL tier (ValidatingPolicy + validate.cel)",
                "kyverno-policies CEL policies that need cluster data, with the tests' mocks",
            ],
            false,
        ),
        (
            "kyverno-cli",
            "expectations/kyverno-cli-index.json",
            [
                "kyverno-cli in-scope:validate (CI-run suites)",
                "kyverno-cli CEL tier (ValidatingPolicy, ValidatingAdmissionPolicy, validate.cel; CI-run suites)",
                "kyverno-cli CEL policies that need cluster data, with the tests' mocks (CI-run suites)",
            ],
            true,
        ),
    ] {
        let index = dir.join(index);
        if index.is_file() && dir.join(corpus).is_dir() && wanted(corpus) {
            let (classic, cel, mocked, report) = kyverno(&dir.join(corpus), &index, labels, ci_only)?;
            tallies.push(classic);
            tallies.push(cel);
            tallies.push(mocked);
            scopes.push_str(&report);
        }
    }
    let krusty = dir.join("kustomize-krusty/cases");
    if krusty.is_dir() && wanted("kustomize") {
        let (t, report) = kustomize_krusty(&krusty)?;
        tallies.push(t);
        scopes.push_str(&report);
    }
    let mut out = String::new();
    for t in &tallies {
        let _ = writeln!(out, "{}: {}/{} agree", t.name, t.agree, t.total);
        for d in &t.disagreements {
            let _ = writeln!(out, "  disagree: {d}");
        }
    }
    out.push_str(&scopes);
    Ok((out, tallies))
}

/// Kustomize's own build tests: each build rendered natively and compared,
/// document by document in order, with what `kustomize build` printed.
fn kustomize_krusty(cases: &Path) -> Result<(Tally, String)> {
    let mut t = Tally { name: "kustomize-krusty builds identical", agree: 0, total: 0, disagreements: Vec::new() };
    let (mut refused, mut failed, mut different) = (0, 0, 0);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for case in dirs {
        let Ok(text) = std::fs::read_to_string(case.join("case.json")) else { continue };
        let spec: Json = serde_json::from_str(&text).with_context(|| format!("{}", case.display()))?;
        let name = case.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let source = tollgate_kustomize::DiskSource::new(&case.join("input"), 5 << 20)?;
        for build in spec["builds"].as_array().into_iter().flatten() {
            t.total += 1;
            let dir = build["dir"].as_str().unwrap_or(".");
            let expected = std::fs::read_to_string(case.join(build["expected"].as_str().unwrap_or_default()))?;
            let expected = documents(&expected);
            match tollgate_kustomize::render(&source, dir) {
                Err(e) if e.unsupported => {
                    refused += 1;
                    t.disagreements.push(format!("{name} ({dir}): refused: {e}"));
                }
                Err(e) => {
                    failed += 1;
                    t.disagreements.push(format!("{name} ({dir}): error: {e}"));
                }
                Ok(render) => {
                    let ours = documents(&render.to_yaml());
                    if ours == expected {
                        t.agree += 1;
                    } else {
                        different += 1;
                        let first = ours
                            .iter()
                            .zip(&expected)
                            .position(|(a, b)| a != b)
                            .unwrap_or(ours.len().min(expected.len()));
                        t.disagreements.push(format!(
                            "{name} ({dir}): different: {} documents vs {} expected; first difference in document {first}: ours {} expected {}",
                            ours.len(),
                            expected.len(),
                            ours.get(first).map_or_else(|| "-".to_owned(), Json::to_string),
                            expected.get(first).map_or_else(|| "-".to_owned(), Json::to_string),
                        ));
                    }
                }
            }
        }
    }
    let report = format!(
        "kustomize-krusty: {} identical, {refused} refused (a feature tollgate does not render), {failed} errors, {different} different, of {}\n",
        t.agree, t.total
    );
    Ok((t, report))
}

/// The documents of a YAML stream as JSON (empty documents left out).
fn documents(text: &str) -> Vec<Json> {
    tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default()).map_or_else(
        |e| vec![Json::String(format!("unparsable: {e}"))],
        |docs| docs.iter().filter(|d| !d.root.is_null()).map(|d| d.root.to_json()).collect(),
    )
}

fn tally(t: &mut Tally, outcomes: &[tollgate_rego::TestOutcome]) {
    for o in outcomes {
        t.total += 1;
        if o.passed {
            t.agree += 1;
        } else {
            let reason = o
                .reason
                .as_deref()
                .unwrap_or("failed")
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim().starts_with('|'))
                .collect::<Vec<_>>()
                .join(" ");
            t.disagreements.push(format!("{}: {reason}", o.name));
        }
    }
}

/// conftest's counts and output for one case.
#[derive(Default)]
struct Run {
    files: usize,
    tests: usize,
    passed: usize,
    warnings: usize,
    failures: usize,
    exceptions: usize,
    lines: Vec<String>,
    json: Vec<Json>,
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn conftest(root: &Path, expectations: &Path) -> Result<Tally> {
    let text =
        std::fs::read_to_string(expectations).with_context(|| format!("cannot read {}", expectations.display()))?;
    let docs = tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default())
        .map_err(|e| anyhow::anyhow!("{}: {}", expectations.display(), e.message()))?;
    let cases = docs.first().map(|d| d.root.to_json()).unwrap_or_default();
    let mut t = Tally { name: "conftest expectations (scope in)", agree: 0, total: 0, disagreements: Vec::new() };
    for case in cases["cases"].as_array().into_iter().flatten().filter(|c| c["scope"] == "in" && c["command"] == "test")
    {
        t.total += 1;
        let id = case["id"].as_str().unwrap_or("?");
        match conftest_case(root, case) {
            Ok(()) => t.agree += 1,
            Err(reason) => t.disagreements.push(format!("conftest {id}: {reason:#}")),
        }
    }
    Ok(t)
}

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// One conftest expectation, run as conftest would: `Err` says how tollgate
/// disagreed (or why it could not run the case).
fn conftest_case(root: &Path, case: &Json) -> Result<()> {
    let cwd = root.join(case["cwd"].as_str().unwrap_or("."));
    let rel = |p: &String| cwd.join(p);
    let policy: Vec<PathBuf> = if case["policy"].is_null() {
        vec![cwd.join("policy")]
    } else {
        strings(&case["policy"]).iter().map(rel).collect()
    };
    let data: Vec<PathBuf> = strings(&case["data"]).iter().map(rel).collect();
    let set = Conftest::load(&policy, &data)?;
    if let Some(p) = set.problems.first() {
        anyhow::bail!("policy does not load: {p}");
    }
    let selection = match &case["namespace"] {
        Json::String(s) if s == "all" => Namespaces { names: Vec::new(), all: true },
        Json::Null => Namespaces::default(),
        other => Namespaces { names: strings(other), all: false },
    };
    let namespaces = set.selected(&selection);
    let flags = &case["flags"];
    let mut run = Run::default();
    let inputs = strings(&case["inputs"]);
    let mut parsed: Vec<(String, Vec<Json>)> = Vec::new();
    for input in &inputs {
        let path = cwd.join(input);
        let text = std::fs::read_to_string(&path).with_context(|| input.clone())?;
        let docs = tollgate_yaml::parse_yaml(&text, &tollgate_yaml::Limits::default())
            .map_err(|e| anyhow::anyhow!("{input}: {}", e.message()))?;
        let mut docs: Vec<Json> = docs.iter().map(|d| d.root.to_json()).filter(|d| !d.is_null()).collect();
        if docs.is_empty() {
            // conftest evaluates an empty file once, with a null input.
            docs.push(Json::Null);
        }
        parsed.push((input.clone(), docs));
    }
    let mut evaluator = set.evaluator();
    // Paths print as conftest prints them: relative to its working directory.
    let prefix = format!("{}/", cwd.display());
    let mut evaluate = |file: &str, inputs: Vec<Json>, run: &mut Run| {
        run.files += 1;
        for input in inputs {
            let e = evaluator.evaluate(&input, &namespaces);
            run.lines.extend(e.prints.iter().map(|p| format!("PRNT   {}", p.replacen(&prefix, "", 1))));
            run.tests += e.tests();
            run.passed += e.successes;
            for r in &e.results {
                let tag = match r.outcome {
                    Outcome::Failure => {
                        run.failures += 1;
                        "FAIL"
                    }
                    Outcome::Warning => {
                        run.warnings += 1;
                        "WARN"
                    }
                    Outcome::Exception => {
                        run.exceptions += 1;
                        "EXCP"
                    }
                };
                run.lines.push(format!("{tag} - {file} - {} - {}", r.namespace, r.message));
                let mut entry = serde_json::json!({ "msg": r.message });
                if let Some(loc) = r.metadata.get("_loc") {
                    entry["location"] = loc.clone();
                }
                run.json.push(entry);
            }
            for error in &e.errors {
                run.lines.push(format!("ERROR - {file} - {error}"));
            }
        }
    };
    if flags["combine"] == true {
        let combined: Vec<Json> = parsed
            .iter()
            .map(|(p, docs)| {
                let contents = if docs.len() == 1 { docs[0].clone() } else { Json::Array(docs.clone()) };
                serde_json::json!({ "path": p, "contents": contents })
            })
            .collect();
        evaluate("Combined", vec![Json::Array(combined)], &mut run);
    } else {
        for (file, docs) in parsed {
            evaluate(&file, docs, &mut run);
        }
    }
    let summary = format!(
        "{}, {} passed, {}, {}, {}",
        plural(run.tests, "test"),
        run.passed,
        plural(run.warnings, "warning"),
        plural(run.failures, "failure"),
        plural(run.exceptions, "exception")
    );
    run.lines.push(summary);
    let exit = if flags["fail_on_warn"] == true {
        if run.failures > 0 { 2 } else { i64::from(run.warnings > 0) }
    } else {
        i64::from(run.failures > 0)
    };
    let expect = &case["expect"];
    let mut problems = Vec::new();
    if let Some(e) = expect["exit"].as_i64()
        && e != exit
    {
        problems.push(format!("exit {exit}, expected {e}"));
    }
    let summary = [
        ("tests", run.tests),
        ("passed", run.passed),
        ("warnings", run.warnings),
        ("failures", run.failures),
        ("exceptions", run.exceptions),
    ];
    compare_counts(&expect["summary"], "", &summary, &mut problems);
    let engine = [
        ("files", run.files),
        ("failures", run.failures),
        ("warnings", run.warnings),
        ("successes", run.passed),
        ("exceptions", run.exceptions),
    ];
    compare_counts(&expect["go_engine"], "engine ", &engine, &mut problems);
    let output = if flags["output"] == "json" {
        serde_json::to_string_pretty(&run.json).unwrap_or_default()
    } else {
        run.lines.join("\n")
    };
    for needle in strings(&expect["output_contains"]) {
        if !output.contains(&needle) {
            problems.push(format!("output lacks `{needle}`"));
        }
    }
    for needle in strings(&expect["output_excludes"]) {
        if output.contains(&needle) {
            problems.push(format!("output has `{needle}`"));
        }
    }
    if let Some(first) = expect["first_line"].as_str()
        && run.lines.first().map(String::as_str) != Some(first)
    {
        problems.push(format!("first line {:?}, expected {first:?}", run.lines.first()));
    }
    anyhow::ensure!(problems.is_empty(), "{} (output: {:?})", problems.join("; "), run.lines.last());
    Ok(())
}

/// Each count `expected` states that differs from ours, as a problem.
fn compare_counts(expected: &Json, label: &str, counts: &[(&str, usize)], problems: &mut Vec<String>) {
    for (key, got) in counts {
        if let Some(want) = expected.get(*key).and_then(Json::as_u64)
            && want != *got as u64
        {
            problems.push(format!("{label}{key} {got}, expected {want}"));
        }
    }
}

/// Kyverno: every `results[]` entry of the corpus index, decided by running
/// its `kyverno-test.yaml`. The headlines count the `in-scope:validate`
/// cases and the CEL tier (`cel:validate` and
/// `cel:validate.cel-in-ClusterPolicy`); every scope label gets its own
/// agree/disagree/not-run line. `ci_only`: only the suites upstream's CI
/// runs and expects to pass.
fn kyverno(
    corpus: &Path,
    index: &Path,
    labels: [&'static str; 3],
    ci_only: bool,
) -> Result<(Tally, Tally, Tally, String)> {
    use std::collections::{BTreeMap, HashMap};
    use tollgate_kyverno::CaseOutcome;
    let label = labels[0];
    let mut cel_tally = Tally { name: labels[1], agree: 0, total: 0, disagreements: Vec::new() };
    let mut mocked = Tally { name: labels[2], agree: 0, total: 0, disagreements: Vec::new() };
    let text = std::fs::read_to_string(index).with_context(|| index.display().to_string())?;
    let json: Json = serde_json::from_str(&text).with_context(|| index.display().to_string())?;
    let entries = json["entries"].as_array().cloned().unwrap_or_default();
    let mut files: HashMap<String, tollgate_kyverno::TestFileOutcome> = HashMap::new();
    // scope -> [agree, disagree, not-applicable (upstream-lenient), not-run, error]
    let mut per_scope: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    let mut t = Tally { name: label, agree: 0, total: 0, disagreements: Vec::new() };
    let mut used_rows: HashMap<String, Vec<bool>> = HashMap::new();
    for e in &entries {
        if ci_only && !matches!(e["upstream_ci"].as_str(), Some("ci-pass" | "ci-pass-needs-registry")) {
            continue;
        }
        let test = e["test"].as_str().unwrap_or_default().to_string();
        let scope = e["scope"].as_str().unwrap_or("unknown").to_string();
        let outcome = files.entry(test.clone()).or_insert_with(|| tollgate_kyverno::run_test_file(&corpus.join(&test)));
        let resources = strings(&e["resources"]);
        let rule = e["rule"].as_str().unwrap_or_default();
        let policy = e["policy"].as_str().unwrap_or_default();
        let policy = policy.rsplit('/').next().unwrap_or(policy);
        let expected = e["result"].as_str().unwrap_or_default();
        let used = used_rows.entry(test.clone()).or_insert_with(|| vec![false; outcome.rows.len()]);
        let row = outcome.rows.iter().enumerate().find(|(i, r)| {
            !used[*i] && r.policy == policy && r.rule == rule && r.expected == expected && r.resources == resources
        });
        let cases: Vec<(String, CaseOutcome)> = match (&outcome.error, row) {
            (Some(err), _) => {
                let n = resources.len().max(1);
                (0..n)
                    .map(|i| (resources.get(i).cloned().unwrap_or_default(), CaseOutcome::Error(err.clone())))
                    .collect()
            }
            (None, Some((i, r))) => {
                used[i] = true;
                r.cases.clone()
            }
            (None, None) => {
                vec![(String::new(), CaseOutcome::Error("the result row was not found in the test".into()))]
            }
        };
        let counts = per_scope.entry(scope.clone()).or_default();
        for (resource, c) in cases {
            let slot = match &c {
                CaseOutcome::Agree => 0,
                CaseOutcome::Disagree(_) => 1,
                CaseOutcome::NotApplicable => 2,
                CaseOutcome::NotRun(_) => 3,
                CaseOutcome::Error(_) => 4,
            };
            counts[slot] += 1;
            let tally = match scope.as_str() {
                "in-scope:validate" => Some(&mut t),
                "cel:validate" | "cel:validate.cel-in-ClusterPolicy" => Some(&mut cel_tally),
                "cel:needs-cluster-data" => Some(&mut mocked),
                _ => None,
            };
            if let Some(t) = tally {
                t.total += 1;
                match c {
                    CaseOutcome::Agree => t.agree += 1,
                    CaseOutcome::Disagree(why) | CaseOutcome::NotRun(why) | CaseOutcome::Error(why) => {
                        t.disagreements.push(format!("{test} {policy}/{rule} {resource}: {}", why.replace('\n', " ")));
                    }
                    CaseOutcome::NotApplicable => t.disagreements.push(format!(
                        "{test} {policy}/{rule} {resource}: expected {expected}, the rule does not select the resource (upstream-lenient)"
                    )),
                }
            }
        }
    }
    let mut report =
        format!("{label}: cases by scope (agree / disagree / not-applicable (upstream-lenient) / not run / error)\n");
    for (scope, c) in &per_scope {
        let _ = writeln!(report, "  {scope}: {} / {} / {} / {} / {}", c[0], c[1], c[2], c[3], c[4]);
    }
    Ok((t, cel_tally, mocked, report))
}
