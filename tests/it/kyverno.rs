//! The Kyverno gate end to end: policies from `policies.kyverno` and
//! `--kyverno`, findings at the node a pattern rejected (autogen and foreach
//! included), severities from the failure action, unevaluable rules as
//! `policy-error`, `tollgate test` on `kyverno-test.yaml`, and agreement with
//! the Kyverno library's and CLI's own tests when the shared corpora exist.

use super::support::{TempRepo, agreement, conformance_dir, governed, stderr, stdout, tollgate, workspace};

const POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pod-baseline
  annotations:
    policies.kyverno.io/title: Pod baseline
spec:
  validationFailureAction: Enforce
  rules:
  - name: no-privileged
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "Privileged containers are not allowed."
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): false
  - name: tagged-images
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      failureAction: Audit
      message: "Images need a tag."
      foreach:
      - list: request.object.spec.containers
        pattern:
          image: "*:*"
  - name: team-label
    match:
      any:
      - resources:
          kinds: [Deployment]
    preconditions:
      all:
      - key: "{{ request.object.metadata.namespace }}"
        operator: Equals
        value: prod
    validate:
      message: "{{ request.object.metadata.name }} needs a team label."
      deny:
        conditions:
          any:
          - key: "{{ request.object.metadata.labels.team || '' }}"
            operator: Equals
            value: ""
  - name: lookup
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    context:
    - name: ns
      apiCall:
        urlPath: /api/v1/namespaces
    validate:
      deny:
        conditions:
          any:
          - key: "{{ ns }}"
            operator: Equals
            value: x
"#;

const MANIFESTS: &str = r"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
        securityContext:
          privileged: true
      - name: sidecar
        image: busybox
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: prod
data:
  a: b
";

fn repo() -> TempRepo {
    let repo = TempRepo::new("kyverno");
    governed(&repo);
    repo.write("kyverno/pod-baseline.yaml", POLICY);
    repo.write("apps/web.yaml", MANIFESTS);
    repo
}

#[test]
fn findings_point_at_the_rejected_node_with_the_policy_severity() {
    let repo = repo();
    let out = tollgate(&repo.path, &["check", "--kyverno", "kyverno", "--format", "json", "."]);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", stderr(&out)));
    let findings = json["findings"].as_array().expect("findings");
    let find = |rule: &str| -> &serde_json::Value {
        findings.iter().find(|f| f["rule_id"] == rule).unwrap_or_else(|| panic!("no {rule}: {text}"))
    };
    // Autogen: the Pod rule applies to the Deployment's template, at the line
    // of `privileged: true`, as an error (Enforce).
    let privileged = find("pod-baseline/no-privileged");
    assert_eq!(privileged["severity"], "error", "{privileged}");
    assert_eq!(privileged["location"]["path"], "apps/web.yaml");
    assert_eq!(privileged["location"]["span"]["start_line"], 13, "{privileged}");
    assert!(
        privileged["message"].as_str().unwrap_or("").contains("Privileged containers are not allowed"),
        "{privileged}"
    );
    // foreach: the second container's image, as a warning (rule failureAction Audit).
    let tag = find("pod-baseline/tagged-images");
    assert_eq!(tag["severity"], "warning", "{tag}");
    assert_eq!(tag["location"]["span"]["start_line"], 15, "{tag}");
    // deny with preconditions and a substituted message.
    let team = find("pod-baseline/team-label");
    assert!(team["message"].as_str().unwrap_or("").contains("web needs a team label"), "{team}");
    // A context lookup cannot run offline: policy-error, never a pass.
    let lookup = findings
        .iter()
        .find(|f| f["rule_id"] == "policy-error" && f["message"].as_str().unwrap_or("").contains("rule lookup"))
        .unwrap_or_else(|| panic!("no policy-error for the apiCall rule: {text}"));
    assert_eq!(lookup["location"]["span"]["start_line"], 17, "{lookup}");
    assert_eq!(out.status.code(), Some(1), "{text}");
}

#[test]
fn configured_policies_and_sarif_descriptors() {
    let repo = repo();
    repo.write(".tollgate.yaml", "policies:\n  kyverno: [\"kyverno/\"]\n");
    let out = tollgate(&repo.path, &["check", "--format", "sarif", "."]);
    let sarif: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
    let ids: Vec<&str> =
        rules.iter().filter_map(|r| r["id"].as_str()).filter(|id| id.starts_with("pod-baseline/")).collect();
    assert_eq!(
        ids,
        ["pod-baseline/lookup", "pod-baseline/no-privileged", "pod-baseline/tagged-images", "pod-baseline/team-label"]
    );
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "pod-baseline/no-privileged"), "{sarif}");
}

#[test]
fn policy_exceptions_apply_and_cel_policies_are_not_skipped_silently() {
    let repo = repo();
    repo.write(
        "kyverno/exception.yaml",
        "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: web-may-run-privileged\nspec:\n  exceptions:\n  - policyName: pod-baseline\n    ruleNames: [no-privileged, autogen-no-privileged]\n  match:\n    any:\n    - resources:\n        kinds: [Deployment]\n        names: [web]\n",
    );
    repo.write(
        "kyverno/mpol.yaml",
        "apiVersion: policies.kyverno.io/v1alpha1\nkind: MutatingPolicy\nmetadata:\n  name: cel-only\nspec:\n  mutations: []\n",
    );
    let out = tollgate(&repo.path, &["check", "--kyverno", "kyverno", "--format", "json", "."]);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let findings = json["findings"].as_array().expect("findings");
    assert!(!findings.iter().any(|f| f["rule_id"] == "pod-baseline/no-privileged"), "{text}");
    assert!(findings.iter().any(|f| f["rule_id"] == "pod-baseline/tagged-images"), "{text}");
    let cel = findings
        .iter()
        .find(|f| f["rule_id"] == "policy-error" && f["location"]["path"] == "kyverno/mpol.yaml")
        .unwrap_or_else(|| panic!("no policy-error for the MutatingPolicy: {text}"));
    assert!(cel["message"].as_str().unwrap_or("").contains("MutatingPolicy `cel-only` is not evaluated"), "{cel}");
}

#[test]
fn bad_policies_and_missing_paths_fail_closed() {
    let repo = repo();
    repo.write(
        "kyverno/broken.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: broken\nspec:\n  rules: [\n",
    );
    let out = tollgate(&repo.path, &["check", "--kyverno", "kyverno", "."]);
    let text = stdout(&out);
    assert!(text.contains("policy-error") && text.contains("kyverno/broken.yaml"), "{text}");
    assert_eq!(out.status.code(), Some(1));
    let out = tollgate(&repo.path, &["check", "--kyverno", "nowhere", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("nowhere"), "{}", stderr(&out));
    // The same path in the configuration: the same exit, at the entry.
    repo.write(".tollgate.yaml", "policies:\n  kyverno: [kyverno, nowhere]\n");
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(".tollgate.yaml:2:22: `nowhere` in `policies.kyverno` does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kyverno_test_files_run_like_the_kyverno_cli() {
    let repo = TempRepo::new("kyverno-test");
    repo.write("policy.yaml", POLICY);
    repo.write(
        "resources.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: a\n    image: nginx\n    securityContext:\n      privileged: true\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: good\nspec:\n  containers:\n  - name: a\n    image: nginx:1\n",
    );
    let test = |results: &str| {
        format!(
            "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n{results}"
        )
    };
    repo.write(
        "kyverno-test.yaml",
        test("- {policy: pod-baseline, rule: no-privileged, resources: [bad], result: fail}\n- {policy: pod-baseline, rule: no-privileged, resources: [good], result: pass}\n- {policy: pod-baseline, rule: tagged-images, resources: [bad], result: fail}\n"),
    );
    let out = tollgate(&repo.path, &["test", "."]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("kyverno test cases: 3/3 passed"), "{}", stdout(&out));
    assert!(stdout(&out).contains("Test Summary: 3 tests passed and 0 tests failed"), "{}", stdout(&out));
    // A wrong expectation fails with tollgate's verdict.
    repo.write(
        "kyverno-test.yaml",
        test("- {policy: pod-baseline, rule: no-privileged, resources: [good], result: fail}\n"),
    );
    let out = tollgate(&repo.path, &["test", "."]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("expected fail, tollgate says pass"), "{}", stdout(&out));
}

#[test]
fn builtin_policy_set_passes_its_tests_and_runs_from_config() {
    // The pack ships with a kyverno-test.yaml.
    let out = tollgate(&workspace(), &["test", "policies/kyverno-workload-baseline"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("kyverno test cases: 30/30 passed"), "{}", stdout(&out));
    // Opt-in from configuration, findings at the offending node.
    let repo = TempRepo::new("kyverno-builtin");
    governed(&repo);
    repo.write(".tollgate.yaml", "policies:\n  builtin: [kyverno-workload-baseline]\n");
    repo.write("apps/web.yaml", MANIFESTS);
    let out = tollgate(&repo.path, &["check", "--format", "json", "."]);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let findings = json["findings"].as_array().expect("findings");
    let at = |rule: &str| -> Vec<u64> {
        findings
            .iter()
            .filter(|f| f["rule_id"] == rule)
            .filter_map(|f| f["location"]["span"]["start_line"].as_u64())
            .collect()
    };
    assert_eq!(at("workload-baseline/no-privileged"), [13], "{text}");
    // At the `image` of the container without a tag.
    assert_eq!(at("workload-baseline/pinned-image"), [15], "{text}");
    assert_eq!(at("workload-baseline/memory-limit").len(), 1, "{text}");
    // Unknown names are refused.
    repo.write(".tollgate.yaml", "policies:\n  builtin: [no-such-pack]\n");
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("kyverno-workload-baseline"), "{}", stderr(&out));
    // At the name, with the one it was meant to be.
    repo.write(".tollgate.yaml", "policies:\n  builtin: [kyverno-workload-baselin]\n");
    let out = tollgate(&repo.path, &["check", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(".tollgate.yaml:2:13: unknown built-in policy pack"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `kyverno-workload-baseline`?"), "{}", stderr(&out));
}

#[test]
fn agreement_with_the_kyverno_library_and_cli_tests() {
    let dir = conformance_dir();
    if !dir.join("kyverno-policies").is_dir() {
        super::support::skip(&format!("{} not present; Kyverno conformance not measured", dir.display()));
        return;
    }
    let out = tollgate(&workspace(), &["conformance", &dir.display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let agree = |name: &str| agreement(&text, name);
    // Floors at what this version measured: a regression fails the test.
    let (n, m) = agree("kyverno-policies in-scope:validate");
    assert!(m == 1685 && n >= 1685, "{n}/{m}");
    let (n, m) = agree("kyverno-cli in-scope:validate");
    assert!(m == 151 && n >= 149, "{n}/{m}");
    // The CEL tier (ValidatingPolicy, validate.cel, ValidatingAdmissionPolicy).
    let (n, m) = agree("kyverno-policies CEL tier");
    assert!(m == 2864 && n >= 2864, "{n}/{m}");
    let (n, m) = agree("kyverno-cli CEL tier");
    assert!(m == 74 && n >= 63, "{n}/{m}");
    // Policies that need cluster data run on the tests' mocks (`context`,
    // `clusterResources`, `apiCallResponses`, `globalContextEntries`).
    let (n, m) = agree("kyverno-policies CEL policies that need cluster data");
    assert!(m == 51 && n >= 51, "{n}/{m}");
    let (n, m) = agree("kyverno-cli CEL policies that need cluster data");
    assert!(m == 22 && n >= 22, "{n}/{m}");
    // Out-of-scope cases are reported as not run, never as agreement: the
    // mutating and generating kinds.
    let line = |label: &str| {
        text.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label} line")).to_string()
    };
    assert!(line("out:cel-nonvalidate:").trim_start().starts_with("out:cel-nonvalidate: 0 / 0 / 0 /"), "{text}");
}

#[test]
fn a_misspelt_validate_body_is_one_error_at_the_key() {
    let repo = TempRepo::new("kyverno-typo");
    governed(&repo);
    repo.write("apps/web.yaml", MANIFESTS);
    repo.write(
        "kyverno/typo.yaml",
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: typo\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      message: m\n      patern:\n        spec: {hostNetwork: false}\n",
    );
    let out = tollgate(&repo.path, &["check", "--kyverno", "kyverno", "--format", "json", "."]);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let errors: Vec<&serde_json::Value> =
        json["findings"].as_array().expect("findings").iter().filter(|f| f["rule_id"] == "policy-error").collect();
    // One error, at the misspelt key, with the key it meant; not one per object.
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(errors[0]["location"]["path"], "kyverno/typo.yaml", "{text}");
    assert_eq!(errors[0]["location"]["span"]["start_line"], 14, "{text}");
    assert!(errors[0]["message"].as_str().unwrap_or("").contains("did you mean `pattern`"), "{text}");
}
