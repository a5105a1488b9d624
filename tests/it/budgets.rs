//! Bounded work: hostile inputs and policies end in time, each with a
//! finding, never an abort (exit 134), a hang or an out-of-memory kill.

use std::time::{Duration, Instant};

use super::support::{TempRepo, stderr, stdout, tollgate};

/// Runs `check . --format json` with `args`; returns the exit code, the
/// findings and the time it took.
fn run(repo: &TempRepo, args: &[&str]) -> (Option<i32>, Vec<serde_json::Value>, Duration) {
    let started = Instant::now();
    let mut all = vec!["check", ".", "--format", "json"];
    all.extend_from_slice(args);
    let out = tollgate(&repo.path, &all);
    let elapsed = started.elapsed();
    let v: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e} (exit {:?}): {}\n{}", out.status.code(), stdout(&out), stderr(&out)));
    (out.status.code(), v["findings"].as_array().cloned().unwrap_or_default(), elapsed)
}

/// The messages of the findings of `rule`.
fn messages(findings: &[serde_json::Value], rule: &str) -> Vec<String> {
    findings.iter().filter(|f| f["rule_id"] == rule).filter_map(|f| f["message"].as_str().map(str::to_owned)).collect()
}

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";

/// A repository with one ConfigMap and the policy `p.rego`.
fn with_rego(name: &str, policy: &str) -> TempRepo {
    let repo = TempRepo::new(name);
    repo.write("cm.yaml", CONFIG_MAP);
    repo.write("policy/p.rego", policy);
    repo
}

fn assert_policy_error(repo: &TempRepo, needle: &str, within: Duration) {
    let (code, findings, elapsed) = run(repo, &["--policy", "policy"]);
    assert_eq!(code, Some(1), "{findings:#?}");
    assert!(elapsed < within, "took {elapsed:?}");
    let errors = messages(&findings, "policy-error");
    assert!(errors.iter().any(|m| m.contains(needle)), "`{needle}` not in {errors:#?}");
}

#[test]
fn a_recursive_rego_function_is_refused_as_opa_refuses_it() {
    let repo = with_rego(
        "rego-recursion",
        "package main\nf(x) = y { y := f(x) }\ndeny[msg] { msg := sprintf(\"%v\", [f(1)]) }\n",
    );
    assert_policy_error(&repo, "rego_recursion_error", Duration::from_secs(10));
}

#[test]
fn a_recursive_gatekeeper_function_is_refused() {
    let repo = TempRepo::new("gatekeeper-recursion");
    repo.write("cm.yaml", CONFIG_MAP);
    repo.write(
        "policy/template.yaml",
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sloop
spec:
  crd:
    spec:
      names:
        kind: K8sLoop
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sloop
        loop(x) = y { y := loop(x) }
        violation[{"msg": msg}] { msg := sprintf("%v", [loop(1)]) }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sLoop
metadata:
  name: loop
"#,
    );
    assert_policy_error(&repo, "rego_recursion_error", Duration::from_secs(10));
}

#[test]
fn deeply_nested_rego_literals_are_refused_before_parsing() {
    let n = 24;
    let repo = with_rego(
        "rego-nesting",
        &format!(
            "package main\nx := {}1{}\ndeny[msg] {{ count(x) > 5; msg := \"a\" }}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
    );
    assert_policy_error(&repo, "exponential time", Duration::from_secs(10));
}

#[test]
fn a_huge_rego_range_is_an_evaluation_error() {
    let repo = with_rego("rego-range", "package main\ndeny[msg] { count(numbers.range(1, 2e9)) > 0; msg := \"x\" }\n");
    assert_policy_error(&repo, "numbers.range", Duration::from_secs(10));
}

#[test]
fn a_doubling_rego_string_ends_in_its_budget() {
    let mut lines = vec!["package main".to_owned(), "s0 := \"xxxxxxxxxxxxxxxx\"".to_owned()];
    for i in 1..45 {
        lines.push(format!("s{i} := concat(\"\", [s{}, s{}])", i - 1, i - 1));
    }
    lines.push("deny[msg] { count(s44) > 0; msg := \"x\" }".to_owned());
    let repo = with_rego("rego-doubling", &lines.join("\n"));
    let (code, findings, elapsed) = run(&repo, &["--policy", "policy"]);
    assert_eq!(code, Some(1));
    assert!(elapsed < Duration::from_mins(1), "took {elapsed:?}");
    let errors = messages(&findings, "policy-error");
    assert!(errors.iter().any(|m| m.contains("time limit") || m.contains("memory")), "{errors:#?}");
}

#[test]
fn a_huge_sprintf_width_is_cut_as_go_cuts_it() {
    let repo = with_rego("rego-sprintf", "package main\ndeny[msg] { msg := sprintf(\"%999999999d\", [1]) }\n");
    let (_, findings, elapsed) = run(&repo, &["--policy", "policy"]);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_eq!(messages(&findings, "main.deny"), vec!["%!(NOVERB)%!(EXTRA int=1)"]);
}

const KYVERNO_HEAD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: hostile\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [ConfigMap]\n    validate:\n";

#[test]
fn nested_kyverno_loops_end_in_their_budget() {
    let repo = TempRepo::new("kyverno-loops");
    let items: Vec<String> = (0..400).map(|i| i.to_string()).collect();
    repo.write("cm.yaml", format!("{CONFIG_MAP}data:\n  items: \"x\"\nitems: [{}]\n", items.join(", ")));
    repo.write(
        "kyverno/p.yaml",
        format!(
            "{KYVERNO_HEAD}      foreach:\n      - list: request.object.items\n        foreach:\n        - list: request.object.items\n          foreach:\n          - list: request.object.items\n            deny:\n              conditions:\n                any:\n                - key: \"{{{{ element }}}}\"\n                  operator: Equals\n                  value: -1\n"
        ),
    );
    let (code, findings, elapsed) = run(&repo, &["--kyverno", "kyverno"]);
    assert_eq!(code, Some(1), "{findings:#?}");
    assert!(elapsed < Duration::from_mins(1), "took {elapsed:?}");
    let errors = messages(&findings, "policy-error");
    assert!(errors.iter().any(|m| m.contains("budget")), "{errors:#?}");
}

#[test]
fn a_deep_jmespath_expression_is_refused_without_overflowing() {
    let repo = TempRepo::new("kyverno-jmespath");
    repo.write("cm.yaml", CONFIG_MAP);
    let deep = format!("{}request.object.kind{}", "(".repeat(30_000), ")".repeat(30_000));
    repo.write(
        "kyverno/p.yaml",
        format!("{KYVERNO_HEAD}      deny:\n        conditions:\n          any:\n          - key: \"{{{{ {deep} }}}}\"\n            operator: Equals\n            value: x\n"),
    );
    let (code, findings, elapsed) = run(&repo, &["--kyverno", "kyverno"]);
    assert_eq!(code, Some(1), "{findings:#?}");
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert!(!messages(&findings, "policy-error").is_empty(), "{findings:#?}");
}

#[test]
fn a_mapping_of_450000_keys_parses_in_linear_time() {
    let repo = TempRepo::new("many-keys");
    let text: String = (0..450_000).map(|i| format!("k{i:x}: 1\n")).collect();
    assert!(text.len() < 5 * 1024 * 1024);
    repo.write("keys.yaml", &text);
    repo.write("dup.yaml", format!("{text}k6ddcf: again\n"));
    let (_, findings, elapsed) = run(&repo, &[]);
    assert!(elapsed < Duration::from_mins(1), "took {elapsed:?}");
    let errors: Vec<_> = findings.iter().filter(|f| f["rule_id"] == "parse-error").collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["location"]["path"], "dup.yaml");
}

#[test]
fn node_budgets_bound_memory_with_a_finding() {
    let repo = TempRepo::new("node-budget");
    // A 5 MiB flow sequence of tiny nodes: over the 1,000,000 nodes of one file.
    let huge = format!("[{}1]", "1,".repeat(2_500_000));
    repo.write("huge.yaml", &huge);
    // Small files beyond the run's budget (`limits.max_nodes`).
    repo.write(".tollgate.yaml", "limits:\n  max_nodes: 100\n");
    for i in 0..4 {
        repo.write(&format!("small-{i}.yaml"), format!("[{}1]", "1,".repeat(40)));
    }
    let (code, findings, elapsed) = run(&repo, &[]);
    assert_eq!(code, Some(1));
    assert!(elapsed < Duration::from_mins(1), "took {elapsed:?}");
    let errors = messages(&findings, "parse-error");
    assert!(errors.iter().any(|m| m.contains("more than 1000000 nodes in one file")), "{errors:#?}");
    assert!(errors.iter().any(|m| m.contains("budget of 100 parsed")), "{errors:#?}");
}

#[test]
fn renders_share_the_run_node_budget() {
    let repo = TempRepo::new("render-budget");
    repo.write(".tollgate.yaml", "limits:\n  max_nodes: 400\n");
    repo.write("base/kustomization.yaml", "resources: [deploy.yaml]\n");
    repo.write(
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27.3\n",
    );
    for i in 0..40 {
        repo.write(&format!("overlays/o{i:02}/kustomization.yaml"), "resources: [../../base]\n");
    }
    let (code, findings, elapsed) = run(&repo, &[]);
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let skipped = messages(&findings, "parse-error");
    assert!(
        skipped.iter().any(|m| m.contains("is not rendered: the run's budget of 400 YAML nodes is spent")),
        "{findings:#?}"
    );
    assert!(skipped.len() < 40, "some roots are rendered: {findings:#?}");
    assert_eq!(code, Some(1), "{findings:#?}");
}
