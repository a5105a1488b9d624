//! The OPA/Rego gate end to end: conftest-style packs with exact locations,
//! Gatekeeper templates and constraints, `policy-error`, `tollgate test`, and
//! agreement with the peers' suites (`tollgate conformance`) when the shared
//! corpora are present.

use super::support::{TempRepo, agreement, conformance_dir, deployment, stderr, stdout, tollgate, workspace};

const PACK: &str = r#"package main

import rego.v1

# METADATA
# title: Containers must not be privileged
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/
# custom:
#   id: K8S-PRIV
#   severity: error
deny contains {"msg": msg, "path": ["spec", "template", "spec", "containers", i, "securityContext", "privileged"]} if {
  input.kind == "Deployment"
  some i
  input.spec.template.spec.containers[i].securityContext.privileged == true
  msg := sprintf("container %s is privileged", [input.spec.template.spec.containers[i].name])
}

warn contains msg if {
  input.kind == "Deployment"
  not input.metadata.labels.team
  msg := sprintf("%s has no team label", [input.metadata.name])
}

deny_registry contains msg if {
  input.kind == "Deployment"
  some c in input.spec.template.spec.containers
  not startswith(c.image, data.registries.allowed)
  msg := sprintf("%s pulls from outside %s", [c.image, data.registries.allowed])
}

exception contains rules if {
  input.metadata.name == "legacy"
  rules := ["registry"]
}
"#;

const PRIVILEGED: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: a}
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.acme.example/web:1.0.0
        - name: sidecar
          image: registry.acme.example/proxy:2.0.0
          securityContext:
            privileged: true
";

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn findings<'a>(v: &'a serde_json::Value, rule: &str) -> Vec<&'a serde_json::Value> {
    v["findings"].as_array().expect("findings").iter().filter(|f| f["rule_id"] == rule).collect()
}

#[test]
fn conftest_pack_points_at_the_exact_node() {
    let repo = TempRepo::new("rego-pack");
    repo.write("apps/web.yaml", PRIVILEGED);
    repo.write(
        "apps/legacy.yaml",
        deployment("legacy", "docker.io/legacy:1")
            .replace("metadata:\n  name: legacy", "metadata:\n  name: legacy\n  labels: {team: b}"),
    );
    repo.write("apps/other.yaml", deployment("other", "docker.io/other:1"));
    let policy = TempRepo::new("rego-pack-policy");
    policy.write("k8s.rego", PACK);
    policy.write("data/registries.yaml", "registries:\n  allowed: registry.acme.example/\n");
    let p = policy.path.display().to_string();
    let d = policy.join("data").display().to_string();
    let out =
        tollgate(&repo.path, &["check", ".", "--format", "json", "--show-suppressed", "--policy", &p, "--data", &d]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    // The custom id and the exact node of the privileged container.
    let privileged = findings(&v, "K8S-PRIV");
    assert_eq!(privileged.len(), 1, "{v:#}");
    assert_eq!(privileged[0]["location"]["path"], "apps/web.yaml");
    assert_eq!(privileged[0]["location"]["span"]["start_line"], 15);
    assert_eq!(privileged[0]["message"], "container sidecar is privileged");
    // warn → warning, at the document's first line.
    let warn = findings(&v, "main.warn");
    assert_eq!(warn.len(), 1, "{v:#}");
    assert_eq!(
        (warn[0]["severity"].as_str(), warn[0]["location"]["path"].as_str()),
        (Some("warning"), Some("apps/other.yaml"))
    );
    // data.registries from --data; the exception exempts legacy (suppressed, not counted).
    let registry = findings(&v, "main.deny_registry");
    let active: Vec<_> = registry.iter().filter(|f| f["suppressed"].is_null()).collect();
    assert_eq!(active.len(), 1, "{v:#}");
    assert_eq!(active[0]["location"]["path"], "apps/other.yaml");
    assert!(
        registry
            .iter()
            .any(|f| f["location"]["path"] == "apps/legacy.yaml" && f["suppressed"]["kind"] == "rego-exception")
    );
    // SARIF: the rule descriptor carries the METADATA title; the file validates.
    let sarif = tollgate(&repo.path, &["check", ".", "--format", "sarif", "--policy", &p, "--data", &d]);
    let validator = jsonschema::validator_for(&super::outputs::sarif_schema()).expect("schema");
    let s = super::outputs::assert_valid_sarif(&validator, &stdout(&sarif));
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
    let rule = rules.iter().find(|r| r["id"] == "K8S-PRIV").expect("descriptor");
    assert_eq!(rule["shortDescription"]["text"], "Containers must not be privileged");
    assert_eq!(rule["helpUri"], "https://kubernetes.io/docs/concepts/security/pod-security-standards/");
    let warn_rule = rules.iter().find(|r| r["id"] == "main.warn").expect("descriptor");
    assert!(warn_rule.get("helpUri").is_none(), "no page of ours to link: {warn_rule}");
    // Another namespace: nothing from `main`.
    let out =
        tollgate(&repo.path, &["check", ".", "--format", "json", "--policy", &p, "--data", &d, "--namespace", "other"]);
    assert!(findings(&json(&out), "K8S-PRIV").is_empty());
    // A missing --policy path is a usage error.
    let out = tollgate(&repo.path, &["check", ".", "--policy", "nope/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("`nope/` does not exist"), "{}", stderr(&out));
}

#[test]
fn combined_input_results_point_at_their_document() {
    let repo = TempRepo::new("rego-combine");
    repo.write("apps/a.yaml", deployment("web", "docker.io/web:1"));
    repo.write("apps/b.yaml", deployment("web", "docker.io/web:2"));
    let policy = TempRepo::new("rego-combine-policy");
    policy.write(
        "dup.rego",
        r#"package main
import rego.v1
deny contains {"msg": sprintf("duplicate Deployment %s in %s", [input[i].contents.metadata.name, input[i].path]), "path": [i, "contents", "metadata", "name"]} if {
  some i, j
  i != j
  input[i].contents.kind == "Deployment"
  input[i].contents.metadata.name == input[j].contents.metadata.name
}
"#,
    );
    let out = tollgate(
        &repo.path,
        &["check", ".", "--combine", "--policy", &policy.join("dup.rego").display().to_string(), "--format", "json"],
    );
    let v = json(&out);
    let found = findings(&v, "main.deny");
    assert_eq!(found.len(), 2, "{v:#}");
    let mut places: Vec<(String, u64)> = found
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap_or("").to_owned(),
                f["location"]["span"]["start_line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    places.sort();
    assert_eq!(places, [("apps/a.yaml".to_owned(), 4), ("apps/b.yaml".to_owned(), 4)], "{v:#}");
    assert_ne!(found[0]["fingerprint"], found[1]["fingerprint"]);
}

#[test]
fn broken_policy_is_a_finding_and_config_policies_load() {
    let repo = TempRepo::new("rego-broken");
    repo.write("apps/web.yaml", PRIVILEGED);
    repo.write(".tollgate.yaml", "policies:\n  rego: [\"policy/\"]\n");
    repo.write("policy/ok.rego", PACK);
    repo.write(
        "policy/broken.rego",
        "package main\nimport rego.v1\ndeny contains msg if {\n  msg := concat(\",\", [\"a\"]\n}\n",
    );
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let errors = findings(&v, "policy-error");
    assert_eq!(errors.len(), 1, "{v:#}");
    assert_eq!(errors[0]["location"]["path"], "policy/broken.rego");
    assert!(errors[0]["location"]["span"]["start_line"].as_u64() >= Some(4), "{v:#}");
    // The other file still runs.
    assert_eq!(findings(&v, "K8S-PRIV").len(), 1, "{v:#}");
}

#[test]
fn gatekeeper_constraints_review_the_repository() {
    let repo = TempRepo::new("rego-gatekeeper");
    repo.write("apps/web.yaml", PRIVILEGED);
    repo.write("apps/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n");
    let policy = TempRepo::new("rego-gatekeeper-policy");
    policy.write(
        "template.yaml",
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
  annotations:
    metadata.gatekeeper.sh/title: Required Labels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels: {type: array, items: {type: string}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        violation[{"msg": msg}] {
          provided := {label | input.review.object.metadata.labels[label]}
          required := {label | label := input.parameters.labels[_]}
          missing := required - provided
          count(missing) > 0
          msg := sprintf("you must provide labels: %v", [missing])
        }
"#,
    );
    policy.write(
        "constraints.yaml",
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: ns-must-have-owner\nspec:\n  enforcementAction: warn\n  match:\n    kinds: [{apiGroups: [\"\"], kinds: [Namespace]}]\n  parameters:\n    labels: [owner]\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sMissingTemplate\nmetadata:\n  name: orphan\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: typo\nspec:\n  parameters:\n    labels: owner\n",
    );
    let p = policy.path.display().to_string();
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--policy", &p]);
    let v = json(&out);
    let found = findings(&v, "K8sRequiredLabels/ns-must-have-owner");
    assert_eq!(found.len(), 1, "{v:#}");
    assert_eq!(found[0]["severity"], "warning");
    assert_eq!(found[0]["location"]["path"], "apps/ns.yaml");
    assert!(found[0]["message"].as_str().unwrap_or_default().contains("you must provide labels"), "{v:#}");
    // A constraint without its template fails closed.
    let errors = findings(&v, "policy-error");
    assert!(
        errors.iter().any(|f| f["message"].as_str().unwrap_or_default().contains("K8sMissingTemplate/orphan")),
        "{v:#}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn gatekeeper_referential_constraints_read_the_inventory_of_the_repository() {
    // Two Services selecting the same pods: a uniqueness template that
    // reads `data.inventory` reports each against the other, while a
    // template that reads no data judges every object alongside it (each
    // thread converts the inventory once, for the templates that read it).
    let repo = TempRepo::new("rego-gatekeeper-inventory");
    let service = |name: &str, app: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\nspec:\n  selector:\n    app: {app}\n"
        )
    };
    repo.write("apps/a.yaml", service("web-a", "web"));
    repo.write("apps/b.yaml", service("web-b", "web"));
    repo.write("apps/c.yaml", service("api", "api"));
    let policy = TempRepo::new("rego-gatekeeper-inventory-policy");
    policy.write(
        "unique.yaml",
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8suniqueserviceselector
spec:
  crd:
    spec:
      names:
        kind: K8sUniqueServiceSelector
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8suniqueserviceselector
        violation[{"msg": msg}] {
          input.review.kind.kind == "Service"
          mine := input.review.object.spec.selector
          other := data.inventory.namespace[input.review.object.metadata.namespace][_]["Service"][name]
          name != input.review.object.metadata.name
          other.spec.selector == mine
          msg := sprintf("same selector as service %v", [name])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sUniqueServiceSelector
metadata:
  name: unique-selectors
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Service]}]
"#,
    );
    policy.write(
        "named.yaml",
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sshortnames
spec:
  crd:
    spec:
      names:
        kind: K8sShortNames
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sshortnames
        violation[{"msg": msg}] {
          count(input.review.object.metadata.name) > input.parameters.max
          msg := sprintf("name %v is longer than %v", [input.review.object.metadata.name, input.parameters.max])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sShortNames
metadata:
  name: short-names
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Service]}]
  parameters:
    max: 3
"#,
    );
    let p = policy.path.display().to_string();
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--policy", &p]);
    let v = json(&out);
    let mut unique: Vec<(String, String)> = findings(&v, "K8sUniqueServiceSelector/unique-selectors")
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    unique.sort();
    assert_eq!(unique.len(), 2, "{v:#}");
    assert_eq!(unique[0].0, "apps/a.yaml");
    assert!(unique[0].1.starts_with("same selector as service web-b"), "{v:#}");
    assert_eq!(unique[1].0, "apps/b.yaml");
    assert!(unique[1].1.starts_with("same selector as service web-a"), "{v:#}");
    let long = findings(&v, "K8sShortNames/short-names");
    assert_eq!(long.len(), 2, "web-a and web-b, not api: {v:#}");
    assert!(findings(&v, "policy-error").is_empty(), "{v:#}");
}

#[test]
fn tollgate_test_runs_rego_unit_tests_and_gator_suites() {
    let dir = TempRepo::new("rego-test");
    dir.write("policy/k8s.rego", PACK);
    dir.write(
        "policy/k8s_test.rego",
        "package main\nimport rego.v1\ntest_privileged_denied if {\n  count(deny) == 1 with input as {\"kind\": \"Deployment\", \"spec\": {\"template\": {\"spec\": {\"containers\": [{\"name\": \"a\", \"securityContext\": {\"privileged\": true}}]}}}}\n}\ntest_wrong if {\n  count(warn) == 5 with input as {\"kind\": \"Deployment\", \"metadata\": {\"name\": \"x\"}}\n}\n",
    );
    let out = tollgate(&dir.path, &["test", "policy"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("rego unit tests: 1/2 passed"), "{text}");
    assert!(text.contains("FAIL ") && text.contains("test_wrong"), "{text}");
    assert!(stderr(&out).is_empty(), "nothing but the results: {}", stderr(&out));
    // A policy that does not compile: one line naming file, line and column,
    // no regorus code frame and nothing printed after the results.
    dir.write("broken/p.rego", "package main\nimport rego.v1\ndeny contains msg if {\n  input.kind == \n}\n");
    dir.write("broken/p_test.rego", "package main\nimport rego.v1\ntest_x if { deny }\n");
    let out = tollgate(&dir.path, &["test", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("does not compile: broken/p.rego:5:1: expecting expression\n"), "{text}");
    assert!(!text.contains("-->") && stderr(&out).is_empty(), "{text}{}", stderr(&out));
    assert!(text.ends_with("0/1 tests passed\n"), "{text}");
    // `-v` says which policies were rewritten before evaluation, and how.
    dir.write(
        "rewritten/p.rego",
        "package main\ndeny[msg] {\n  not startswith(input.image, \"registry.acme/\")\n  msg := \"foreign image\"\n}\n",
    );
    dir.write(
        "rewritten/p_test.rego",
        "package main\ntest_missing_image_is_not_denied {\n  count(deny) == 0 with input as {}\n}\n",
    );
    let out = tollgate(&dir.path, &["test", "-v", "rewritten"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("note: rewritten/p.rego is rewritten before evaluation, on the same lines, so that it runs as in OPA: the reference arguments of a call under `not` are evaluated before the negation\n"),
        "{text}"
    );
    assert!(!text.contains("note: rewritten/p_test.rego"), "{text}");
    let out = tollgate(&dir.path, &["test", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    let empty = TempRepo::new("rego-test-empty");
    let out = tollgate(&empty.path, &["test", "."]);
    assert_eq!(out.status.code(), Some(2), "no tests is an error, not a pass");
}

#[test]
fn agreement_with_gatekeeper_library_and_conftest() {
    let dir = conformance_dir();
    if !dir.join("gatekeeper-library").is_dir() {
        super::support::skip(&format!("{} not present; Rego conformance not measured", dir.display()));
        return;
    }
    let out = tollgate(&workspace(), &["conformance", &dir.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    println!("{text}");
    let agree = |name: &str| agreement(&text, name);
    // Floors at what this version measured: a regression fails the test.
    let (n, m) = agree("gatekeeper-library gator suites:");
    assert!(m == 270 && n == 270, "{n}/{m}");
    // The templates that ship K8sNativeValidation, judged by their CEL.
    let (n, m) = agree("gatekeeper-library gator suites with the CEL engine");
    assert!(m == 131 && n == 131, "{n}/{m}");
    let (n, m) = agree("gatekeeper-library Rego unit tests");
    assert!(m == 1003 && n == 1003, "{n}/{m}");
    let (n, m) = agree("conftest expectations (scope in)");
    assert!(m == 31 && n == 31, "{n}/{m}");
}

#[test]
fn builtin_packs_pass_their_unit_tests_and_run_from_config() {
    // Each built-in pack ships with Rego unit tests.
    let outcomes = tollgate_rego::run_rego_tests(&workspace().join("policies")).expect("packs load");
    assert!(outcomes.len() >= 8, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.passed), "{outcomes:#?}");
    for pack in tollgate_rego::BUILTIN_PACKS {
        assert!(
            outcomes.iter().any(|o| o.name.contains(&format!("policies/{}/", pack.name))),
            "{} has no tests",
            pack.name
        );
    }
    // Opt-in from configuration; findings at the offending node.
    let repo = TempRepo::new("rego-builtin");
    repo.write(".tollgate.yaml", "policies:\n  builtin: [k8s-workload-baseline]\n");
    repo.write("apps/web.yaml", PRIVILEGED);
    let v = json(&tollgate(&repo.path, &["check", ".", "--format", "json"]));
    let privileged = findings(&v, "k8s-no-privileged");
    assert_eq!(privileged.len(), 1, "{v:#}");
    assert_eq!(privileged[0]["location"]["span"]["start_line"], 15);
    assert_eq!(findings(&v, "k8s-run-as-non-root").len(), 2, "{v:#}");
    assert_eq!(findings(&v, "k8s-resource-limits").len(), 4, "{v:#}");
    assert_eq!(findings(&v, "k8s-resource-limits")[0]["severity"], "warning");
    // An unknown pack is a configuration error.
    repo.write(".tollgate.yaml", "policies:\n  builtin: [k8s-nope]\n");
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown built-in policy pack `k8s-nope`"), "{}", stderr(&out));
}

#[test]
fn regorus_errors_are_one_line_with_their_place() {
    let repo = TempRepo::new("rego-frames");
    repo.write("apps/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
    repo.write(
        "policy/bad.rego",
        "package main\n\ndeny[msg] {\n  input.kind == \"ConfigMap\"\n  msg := nosuchfn(1)\n}\n",
    );
    let out = tollgate(&repo.path, &["check", "--policy", "policy", "--format", "github", "."]);
    let text = stdout(&out);
    // No nested code frame, no escaped newlines in the annotation.
    assert!(text.contains("could not find function nosuchfn (at policy/bad.rego:5:18)"), "{text}");
    assert!(!text.contains("%0A") && !text.contains("-->"), "{text}");
}

#[test]
fn a_policy_outside_the_repository_is_named_at_its_own_place() {
    let repo = TempRepo::new("outside-policy");
    repo.write("apps/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
    let policies = TempRepo::new("outside-policy-pack");
    policies.write("broken.rego", "package main\ndeny[msg] {\n  input.kind ==\n}\n");
    let broken = policies.join("broken.rego").display().to_string();
    // Text names the policy file, line and column; it quotes nothing of it.
    let text = stdout(&tollgate(&repo.path, &["check", "--policy", &broken, "."]));
    assert!(text.contains(&format!("--> {broken}:2:11")), "{text}");
    assert!(!text.contains("apps/a.yaml:1:1"), "{text}");
    // SARIF anchors the result in the repository; the message names the file.
    let sarif: serde_json::Value =
        serde_json::from_str(&stdout(&tollgate(&repo.path, &["check", "--policy", &broken, "--format", "sarif", "."])))
            .expect("sarif");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "apps/a.yaml", "{result}");
    assert!(result["message"]["text"].as_str().unwrap_or("").contains(&broken), "{result}");
}

/// Each source rewrite that makes regorus evaluate a policy as OPA does
/// (`tollgate_rego::rewrites`), checked against OPA itself: the Go engine
/// (OPA as a shared library, from PyPI) evaluates the same policy on the
/// same input, and `deny` must hold the same messages. Every case needs its
/// rewrite (asserted), so a rewrite that stopped firing or that changed the
/// meaning fails here.
#[test]
fn source_rewrites_agree_with_opa() {
    const OPA: &str = "opa-golib-python-bindings==0.4.4";
    // The wheel declares Python 3.14 but is a ctypes wrapper of a Go shared
    // library, which any Python 3 loads.
    let Some(python) = super::support::python_module("opa_bindings", OPA, &["--ignore-requires-python", "--no-deps"])
    else {
        super::support::skip(&format!("python3 -m venv or `pip install {OPA}` failed; no OPA to compare with"));
        return;
    };
    // (case, policy, input, the rewrite it needs)
    let cases: [(&str, &str, serde_json::Value, &str); 6] = [
        (
            "a line starting with ( is a new expression",
            "package main\n\ndeny contains \"fires\" if {\n\tx := input.n\n\t(x - 1) > 1\n}\n",
            serde_json::json!({"n": 3}),
            "starts a new expression",
        ),
        (
            "not f(ref) with the ref undefined fails the body; defined, it negates",
            "package main\n\ndeny contains \"undefined\" if {\n\tnot startswith(input.nope.image, \"r/\") # f(a, b)\n}\n\ndeny contains \"defined\" if {\n\tnot startswith(input.spec.image, \"r/\")\n}\n\ndeny contains \"strings\" if {\n\tnot contains(`a, (b`, input.spec.image)\n}\n",
            serde_json::json!({"spec": {"image": "docker.io/x"}}),
            "evaluated before the negation",
        ),
        (
            "a `some i` only comprehensions use binds nothing",
            "package main\n\ndeny contains sprintf(\"%d\", [n]) if {\n\tsome i\n\ta := [x | x := input.list[i]]\n\tn := count(a)\n}\n",
            serde_json::json!({"list": [1, 2, 3]}),
            "`some x`",
        ),
        (
            "in a comprehension, uses before `:=` are the outer variable, the head and later uses the local",
            "package main\n\ndeny contains sprintf(\"%v\", [c]) if {\n\tname := \"a\"\n\tc := [name | some i; input.items[i].n == name; name := input.items[i].m]\n}\n",
            serde_json::json!({"items": [{"n": "x", "m": "x"}, {"n": "a", "m": "q"}]}),
            "comprehension local",
        ),
        (
            "the same, where the head uses the local twice",
            "package main\n\ndeny contains sprintf(\"%v\", [c]) if {\n\tname := \"a\"\n\tc := [[name, k] | some i; input.items[i].n == name; name := input.items[i].m; k := name]\n}\n",
            serde_json::json!({"items": [{"n": "a", "m": "q"}, {"n": "a", "m": "r"}]}),
            "comprehension local",
        ),
        (
            "a raw string that looks like a negated call is text",
            "package main\n\nmsg := `\n\tnot startswith(input.x, \"y\")\n`\n\ndeny contains concat(\"\", [msg, s]) if {\n\tnot startswith(input.spec.image, \"r/\")\n\ts := \"!\"\n}\n",
            serde_json::json!({"spec": {"image": "docker.io/x"}}),
            "evaluated before the negation",
        ),
    ];
    let script = r#"
import json, sys
from opa_bindings import OpaEngine
out = []
for case in json.load(sys.stdin):
    engine = OpaEngine()
    try:
        engine.add_policy("policy.rego", case["policy"])
        out.append(sorted(engine.eval_document("main.deny", case["input"]) or []))
    except Exception as e:
        out.append({"error": str(e)})
print(json.dumps(out))
"#;
    let request: Vec<serde_json::Value> =
        cases.iter().map(|(_, policy, input, _)| serde_json::json!({"policy": policy, "input": input})).collect();
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        serde_json::Value::Array(request).to_string().as_bytes(),
    )
    .expect("request written");
    let out = child.wait_with_output().expect("python ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let opa: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("OPA's answers as JSON");
    for ((case, policy, input, rewrite), opa) in cases.iter().zip(opa) {
        assert!(
            tollgate_rego::rewrites(policy).iter().any(|r| r.contains(rewrite)),
            "{case}: the policy no longer needs the rewrite `{rewrite}`: {:?}",
            tollgate_rego::rewrites(policy)
        );
        let files = [tollgate_rego::RegoFile { path: "policy.rego".into(), text: (*policy).to_owned() }];
        let set = tollgate_rego::Conftest::new(&files, serde_json::json!({}));
        assert!(set.problems.is_empty(), "{case}: {:?}", set.problems);
        let evaluation = set.evaluator().evaluate(input, &["main".to_owned()]);
        assert!(evaluation.errors.is_empty(), "{case}: {:?}", evaluation.errors);
        let mut ours: Vec<String> = evaluation.results.iter().map(|r| r.message.clone()).collect();
        ours.sort();
        assert_eq!(serde_json::json!(ours), opa, "{case}: tollgate (left) and OPA (right) disagree");
    }
}
