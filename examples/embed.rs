//! Embedding tollgate: the built-in rules plus a rule of your own, a Rego
//! policy set and a Kyverno policy set (a ClusterPolicy and a CEL
//! ValidatingPolicy), run on files held in memory, rendered as SARIF.
//!
//! `cargo run -p tollgate --example embed`

use tollgate_core::{CheckOptions, Config, DocumentContext, Finding, Route, Rule, check_sources};
use tollgate_report::{Format, ReportOptions, render};

/// A house rule: prod Deployments must name an on-call team.
struct OnCallLabel;

impl Rule for OnCallLabel {
    fn page(&self) -> &'static str {
        "---
id: on-call-label
severity: warning
summary: A prod Deployment has no `team.acme.io/on-call` label.
tags: [house-rules]
---
## What it finds

Prod Deployments without the `team.acme.io/on-call` label.

## Why it matters

The pager needs to know whom to wake.

## Bad

```yaml
metadata: { name: web }
```

## Fixed

```yaml
metadata: { name: web, labels: { team.acme.io/on-call: web-team } }
```
"
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let labels = Route::parse("/metadata/labels");
        let has_label = cx.document.root.get(&labels).and_then(|l| l.get_key("team.acme.io/on-call")).is_some();
        if cx.kind() == Some("Deployment") && cx.is_protected() && !has_label {
            cx.report(&Route::parse("/metadata"), "Prod Deployment has no on-call label. Add `team.acme.io/on-call`.")
                .key_only()
                .emit(out);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut registry = tollgate::registry()?;
    registry.add(std::sync::Arc::new(OnCallLabel))?;
    let files = vec![(
        "apps/prod/web.yaml".to_owned(),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: ghcr.io/acme/web:latest\n"
            .to_owned(),
    )];
    // A Rego policy set, compiled once, evaluated on the same parsed documents.
    let pack = tollgate_rego::RegoFile {
        path: "policy/replicas.rego".to_owned(),
        text: "package main\nimport rego.v1\ndeny contains {\"msg\": \"prod needs 2+ replicas\", \"path\": [\"spec\"]} if {\n  input.kind == \"Deployment\"\n  object.get(input.spec, \"replicas\", 1) < 2\n}\n".to_owned(),
    };
    let rego = tollgate_rego::RegoEngine::from_sources(
        "memory".as_ref(),
        &[pack],
        serde_json::json!({}),
        &tollgate_rego::RegoOptions::default(),
    );
    // A Kyverno policy set, loaded once (autogen rules included).
    let kyverno_policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: no-latest\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: tag\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern:\n        spec:\n          containers:\n          - image: '!*:latest'\n";
    // A CEL policy set in the same engine: a Kyverno ValidatingPolicy (its
    // pod-controller autogen makes it judge the Deployment's template).
    let validating_policy = "apiVersion: policies.kyverno.io/v1\nkind: ValidatingPolicy\nmetadata:\n  name: require-limits\nspec:\n  validationActions: [Deny]\n  matchConstraints:\n    resourceRules:\n    - apiGroups: ['']\n      apiVersions: [v1]\n      operations: [CREATE, UPDATE]\n      resources: [pods]\n  validations:\n  - expression: \"object.spec.containers.all(c, has(c.resources) && has(c.resources.limits))\"\n    messageExpression: \"'every container needs resource limits'\"\n";
    let kyverno = tollgate_kyverno::KyvernoEngine::load(
        "memory".as_ref(),
        &tollgate_kyverno::KyvernoOptions {
            sources: vec![
                ("policy/no-latest.yaml".to_owned(), kyverno_policy.to_owned()),
                ("policy/require-limits.yaml".to_owned(), validating_policy.to_owned()),
            ],
            ..Default::default()
        },
    );
    assert!(kyverno.problems().is_empty(), "{:?}", kyverno.problems());
    let options = CheckOptions {
        engines: vec![std::sync::Arc::new(rego), std::sync::Arc::new(kyverno)],
        ..CheckOptions::default()
    };
    let report = check_sources("memory".as_ref(), files, &Config::default(), &registry, &options);
    let ids: Vec<&str> = report.active().map(|f| f.rule_id.as_str()).collect();
    assert!(ids.contains(&"on-call-label") && ids.contains(&"mutable-image-ref"), "{ids:?}");
    assert!(ids.contains(&"main.deny"), "{ids:?}");
    assert!(ids.contains(&"no-latest/tag"), "{ids:?}");
    assert!(ids.contains(&"require-limits"), "{ids:?}");
    let sarif = render(Format::Sarif, &report, &ReportOptions::default());
    std::io::Write::write_all(&mut std::io::stdout(), sarif.as_bytes())?;
    Ok(())
}
