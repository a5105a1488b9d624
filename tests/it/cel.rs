//! CEL policies end to end: Kyverno `ValidatingPolicy` findings at the field
//! the failing expression read (in a Kustomize render, at the line that
//! produced it), severities from `validationActions`, `validate.cel` rules,
//! `ValidatingAdmissionPolicy` through its bindings (and a note without
//! one), and every kind of bad input as `policy-error` within the budget.

use std::time::{Duration, Instant};

use super::support::{TempRepo, governed, stdout, tollgate};

const VPOL: &str = r#"apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: disallow-latest-tag
  annotations:
    policies.kyverno.io/title: Disallow latest tag
    policies.kyverno.io/description: Pin every image to a version.
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [pods]
  variables:
  - name: containers
    expression: object.spec.containers
  validations:
  - expression: "variables.containers.all(c, !c.image.endsWith(':latest'))"
    messageExpression: "'image ' + variables.containers.filter(c, c.image.endsWith(':latest'))[0].image + ' uses the latest tag'"
"#;

fn check(repo: &TempRepo, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    all.push(".");
    let out = tollgate(&repo.path, &all);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (json["findings"].as_array().cloned().unwrap_or_default(), text)
}

fn of<'a>(findings: &'a [serde_json::Value], rule: &str) -> Vec<&'a serde_json::Value> {
    findings.iter().filter(|f| f["rule_id"] == rule).collect()
}

fn line(f: &serde_json::Value) -> u64 {
    f["location"]["span"]["start_line"].as_u64().unwrap_or(0)
}

#[test]
fn a_validating_policy_finds_the_field_and_its_autogen_covers_controllers() {
    let repo = TempRepo::new("cel-vpol");
    governed(&repo);
    repo.write("kyverno/vpol.yaml", VPOL);
    repo.write(
        "apps/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n      - name: side\n        image: envoy:latest\n",
    );
    repo.write(
        "apps/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n  namespace: shop\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27\n",
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let hits = of(&findings, "disallow-latest-tag");
    assert_eq!(hits.len(), 1, "{text}");
    let f = hits[0];
    assert_eq!(f["location"]["path"], "apps/web.yaml", "{text}");
    // The image of the second container: the field the expression read.
    assert_eq!(line(f), 13, "{text}");
    assert_eq!(f["severity"], "error", "{text}");
    assert!(f["message"].as_str().unwrap_or("").contains("image envoy:latest uses the latest tag"), "{text}");
    // Policy findings name their object, as built-in rules' do.
    assert_eq!(
        (f["resource"]["kind"].as_str(), f["resource"]["name"].as_str()),
        (Some("Deployment"), Some("web")),
        "{text}"
    );
    // Audit makes it a warning.
    repo.write("kyverno/vpol.yaml", VPOL.replace("[Deny]", "[Audit]"));
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    assert_eq!(of(&findings, "disallow-latest-tag")[0]["severity"], "warning", "{text}");
}

#[test]
fn a_validating_policy_judges_the_render_and_points_at_the_patch() {
    let repo = TempRepo::new("cel-render");
    governed(&repo);
    repo.write("kyverno/vpol.yaml", VPOL);
    repo.write("base/kustomization.yaml", "resources:\n- pod.yaml\n");
    repo.write(
        "base/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: nginx:1.27\n",
    );
    repo.write(
        "overlays/prod/kustomization.yaml",
        "namespace: prod\nresources:\n- ../../base\npatches:\n- path: latest.yaml\n",
    );
    repo.write(
        "overlays/prod/latest.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: app\n    image: nginx:latest\n",
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let hits = of(&findings, "disallow-latest-tag");
    assert_eq!(hits.len(), 1, "{text}");
    assert_eq!(hits[0]["location"]["path"], "overlays/prod/latest.yaml", "{text}");
    assert_eq!(line(hits[0]), 8, "{text}");
}

#[test]
fn validate_cel_rules_in_a_cluster_policy() {
    let repo = TempRepo::new("cel-rule");
    governed(&repo);
    repo.write(
        "kyverno/policy.yaml",
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: replicas
spec:
  validationFailureAction: Enforce
  rules:
  - name: at-most-three
    match:
      any:
      - resources:
          kinds: [Deployment]
    validate:
      cel:
        expressions:
        - expression: "object.spec.replicas + 1 <= 4"
          message: "At most three replicas."
"#,
    );
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 5\n");
    repo.write("apps/b.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  replicas: 2\n");
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let hits = of(&findings, "replicas/at-most-three");
    assert_eq!(hits.len(), 1, "{text}");
    assert_eq!(hits[0]["location"]["path"], "apps/a.yaml");
    assert_eq!(line(hits[0]), 6, "{text}");
    assert!(of(&findings, "policy-error").is_empty(), "{text}");
}

const VAP: &str = r"apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: max-replicas
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: object.spec.replicas <= 3
    message: Too many replicas.
";

#[test]
fn a_validating_admission_policy_applies_through_its_bindings() {
    let repo = TempRepo::new("cel-vap");
    governed(&repo);
    repo.write("kyverno/vap.yaml", VAP);
    repo.write(
        "apps/a.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  labels:\n    tier: web\nspec:\n  replicas: 5\n",
    );
    repo.write("apps/b.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  replicas: 9\n");
    // No binding: nothing is enforced, one note says so.
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    assert!(of(&findings, "max-replicas").is_empty(), "{text}");
    let notes: Vec<_> = of(&findings, "policy-error").into_iter().filter(|f| f["severity"] == "note").collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert!(notes[0]["message"].as_str().unwrap_or("").contains("no ValidatingAdmissionPolicyBinding"), "{text}");
    // A binding selecting `tier: web` with Deny.
    repo.write(
        "kyverno/binding.yaml",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: web-only\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n  matchResources:\n    objectSelector:\n      matchLabels:\n        tier: web\n",
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let hits = of(&findings, "max-replicas");
    assert_eq!(hits.len(), 1, "{text}");
    assert_eq!(hits[0]["location"]["path"], "apps/a.yaml");
    assert_eq!(hits[0]["severity"], "error");
    assert_eq!(line(hits[0]), 8, "{text}");
    assert!(of(&findings, "policy-error").is_empty(), "{text}");
    // A binding that names no policy is a policy-error.
    repo.write(
        "kyverno/stray.yaml",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: stray\nspec:\n  policyName: no-such-policy\n  validationActions: [Deny]\n",
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let errors = of(&findings, "policy-error");
    assert!(
        errors.iter().any(|f| f["location"]["path"] == "kyverno/stray.yaml"
            && f["message"].as_str().unwrap_or("").contains("no-such-policy")),
        "{text}"
    );
}

/// Bad input of every kind ends as a `policy-error`, quickly.
#[test]
fn bad_cel_policies_are_policy_errors_within_the_budget() {
    let policy = |name: &str, expression: &str| {
        format!(
            "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata:\n  name: {name}\nspec:\n  validationActions: [Deny]\n  matchConstraints:\n    resourceRules:\n    - apiGroups: [apps]\n      apiVersions: [v1]\n      operations: [CREATE]\n      resources: [deployments]\n  validations:\n  - expression: {expression}\n"
        )
    };
    let repo = TempRepo::new("cel-bad");
    governed(&repo);
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 2\n");
    let cases = [
        ("no-compile", "\"object.spec.replicas >\"", "does not compile"),
        ("type-error", "\"object.spec.replicas + 'x' == 1\"", "no such overload"),
        (
            "exponential",
            "\"lists.range(200).all(a, lists.range(200).all(b, lists.range(200).all(c, a + b + c >= 0)))\"",
            "cost limit",
        ),
        ("bad-regex", "\"object.metadata.name.matches('(a+')\"", "invalid regular expression"),
        (
            "growth",
            "\"'a'.replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').size() > 0\"",
            "larger than",
        ),
        ("live", "\"resource.Get('v1', 'configmaps', 'default', 'x').data.a == 'b'\"", "needs live data"),
    ];
    for (name, expression, _) in &cases {
        repo.write(&format!("kyverno/{name}.yaml"), policy(name, expression));
    }
    let started = Instant::now();
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    assert!(started.elapsed() < Duration::from_mins(1), "took {:?}", started.elapsed());
    let errors = of(&findings, "policy-error");
    for (name, _, why) in &cases {
        assert!(
            errors.iter().any(|f| f["message"].as_str().is_some_and(|m| m.contains(name) && m.contains(why))),
            "{name}: no policy-error saying {why:?}: {text}"
        );
    }
    // The compile error sits at the expression's line and column.
    let compile =
        errors.iter().find(|f| f["location"]["path"] == "kyverno/no-compile.yaml").unwrap_or_else(|| panic!("{text}"));
    // `  - expression: "object.spec.replicas >"`: the parser wants more at
    // column 23 of the expression, which starts after the quote at 17.
    assert_eq!(line(compile), 14, "{text}");
    assert_eq!(compile["location"]["span"]["start_column"], 40, "{text}");
    // A catastrophic pattern for a backtracking engine is linear here: a
    // verdict, quickly.
    let repo = TempRepo::new("cel-regex");
    governed(&repo);
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x\nspec:\n  replicas: 2\n");
    repo.write("kyverno/regex.yaml", policy("catastrophic", "\"object.metadata.name.matches('^(a+)+$')\""));
    let started = Instant::now();
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(of(&findings, "catastrophic").len(), 1, "{text}");
    // A policy whose paramKind has no objects.
    let repo = TempRepo::new("cel-params");
    governed(&repo);
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 2\n");
    repo.write(
        "kyverno/vap.yaml",
        format!(
            "{VAP}  paramKind:\n    apiVersion: v1\n    kind: ConfigMap\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: b\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n  paramRef:\n    name: limits\n    namespace: default\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: c\nspec:\n  policyName: max-replicas\n  validationActions: [Deny]\n"
        ),
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let says =
        |what: &str| of(&findings, "policy-error").iter().any(|f| f["message"].as_str().unwrap_or("").contains(what));
    assert!(says("no ConfigMap param (v1) for binding `b`"), "{text}");
    // A binding of a policy with a paramKind that names no params.
    assert!(says("policy `max-replicas` has a paramKind but binding `c` has no paramRef"), "{text}");
}

#[test]
fn a_compile_error_in_a_block_scalar_points_into_the_block() {
    let repo = TempRepo::new("cel-block");
    governed(&repo);
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 2\n");
    repo.write(
        "kyverno/p.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Deployment]\n    validate:\n      cel:\n        expressions:\n        - expression: |\n            object.spec.replicas > 1 &&\n              object.spec.nosuch(1 +)\n",
    );
    let (findings, text) = check(&repo, &["--kyverno", "kyverno"]);
    let errors = of(&findings, "policy-error");
    assert_eq!(errors.len(), 1, "{text}");
    // The `)` of line 17: 12 spaces of block indentation, 2 of the
    // expression's own, then `object.spec.nosuch(1 +`: column 37.
    assert_eq!(line(errors[0]), 17, "{text}");
    assert_eq!(errors[0]["location"]["span"]["start_column"], 37, "{text}");
    assert!(errors[0]["message"].as_str().unwrap_or("").contains("rule `r`"), "{text}");
    // The broken rule is not also an error on every object.
    assert!(of(&findings, "p/r").is_empty(), "{text}");
}

const GK_TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8smaxreplicas
spec:
  crd:
    spec:
      names:
        kind: K8sMaxReplicas
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max: {type: integer}
  targets:
  - target: admission.k8s.gatekeeper.sh
    code:
    - engine: K8sNativeValidation
      source:
        validations:
        - expression: "variables.anyObject.spec.replicas <= variables.params.max"
          messageExpression: "'cel: ' + string(variables.anyObject.spec.replicas) + ' replicas, at most ' + string(variables.params.max)"
    - engine: Rego
      source:
        rego: |
          package k8smaxreplicas
          violation[{"msg": msg}] {
            input.review.object.spec.replicas > input.parameters.max
            msg := sprintf("rego: %v replicas", [input.review.object.spec.replicas])
          }
"#;

#[test]
fn gatekeeper_templates_run_their_cel_when_asked_or_when_they_have_only_cel() {
    let repo = TempRepo::new("cel-gatekeeper");
    governed(&repo);
    repo.write("apps/a.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 5\n");
    repo.write("policy/template.yaml", GK_TEMPLATE);
    repo.write(
        "policy/constraint.yaml",
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sMaxReplicas\nmetadata:\n  name: three\nspec:\n  match:\n    kinds: [{apiGroups: [apps], kinds: [Deployment]}]\n  parameters:\n    max: 3\n",
    );
    let message = |findings: &[serde_json::Value]| -> String {
        of(findings, "K8sMaxReplicas/three").first().and_then(|f| f["message"].as_str()).unwrap_or("").to_owned()
    };
    // Both engines: Rego by default, CEL when asked.
    let (findings, text) = check(&repo, &["--policy", "policy"]);
    assert!(message(&findings).contains("rego: 5 replicas"), "{text}");
    let (findings, text) = check(&repo, &["--policy", "policy", "--enable-k8s-native-validation"]);
    assert!(message(&findings).contains("cel: 5 replicas, at most 3"), "{text}");
    // CEL only: always CEL.
    let cel_only = GK_TEMPLATE.split("    - engine: Rego").next().unwrap_or_default().to_owned();
    repo.write("policy/template.yaml", &cel_only);
    let (findings, text) = check(&repo, &["--policy", "policy"]);
    assert!(message(&findings).contains("cel: 5 replicas, at most 3"), "{text}");
    // A CEL expression that does not compile makes the template a policy-error.
    repo.write("policy/template.yaml", cel_only.replace("<= variables.params.max", "<= variables.params.max +"));
    let (findings, text) = check(&repo, &["--policy", "policy"]);
    assert!(
        of(&findings, "policy-error").iter().any(|f| f["message"].as_str().unwrap_or("").contains("does not compile")),
        "{text}"
    );
}

#[test]
fn tollgate_test_runs_gator_suites_with_the_cel_engine() {
    let repo = TempRepo::new("cel-gator");
    repo.write("gk/template.yaml", GK_TEMPLATE.replace("'cel: '", "'cel-engine: '"));
    repo.write(
        "gk/constraint.yaml",
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sMaxReplicas\nmetadata:\n  name: three\nspec:\n  parameters:\n    max: 3\n",
    );
    repo.write("gk/bad.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 5\n");
    repo.write("gk/good.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\nspec:\n  replicas: 1\n");
    repo.write(
        "gk/suite.yaml",
        "kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\ntests:\n- name: max\n  template: template.yaml\n  constraint: constraint.yaml\n  cases:\n  - name: bad\n    object: bad.yaml\n    assertions:\n    - violations: 1\n      message: cel-engine\n  - name: good\n    object: good.yaml\n    assertions:\n    - violations: no\n",
    );
    // Rego judges by default: the `cel-engine` message assertion fails.
    let out = tollgate(&repo.path, &["test", "gk"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = tollgate(&repo.path, &["test", "gk", "--enable-k8s-native-validation"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("gator suite cases: 2/2 passed"), "{}", stdout(&out));
}
