//! Differential test: tollgate reads YAML as Kubernetes reads it.
//!
//! Each case is a manifest written the way an attacker (or an unlucky
//! editor) writes it: tags, YAML 1.1 booleans and octals, line-break
//! characters, byte-order marks, merge keys, duplicate keys, odd
//! indentation. `kubectl label --local -f FILE x=y -o json` decodes it
//! offline with Kubernetes' own reader. tollgate agrees when it reads the
//! same JSON (`Node::to_kubernetes_json`) and the same identity and fields
//! its rules read, or when it refuses the file with a `parse-error` (it may
//! be unsure; it may never read something else). A file Kubernetes itself
//! rejects cannot be applied, so any reading of it agrees.

use std::process::Command;

use super::support::TempRepo;

/// `(name, manifest)`.
fn cases() -> Vec<(&'static str, String)> {
    let app = |sync: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n  namespace: argocd\nspec:\n  syncPolicy:\n    automated:\n{sync}"
        )
    };
    let cm = |data: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n{data}");
    let pod = |image: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: {image}\n"
        )
    };
    vec![
        ("bool-yes", app("      selfHeal: yes\n      prune: on\n      allowEmpty: y\n")),
        ("bool-no", app("      selfHeal: No\n      prune: OFF\n      allowEmpty: n\n")),
        ("bool-tag-on-quoted", app("      selfHeal: !!bool \"true\"\n      prune: !!bool 'yes'\n")),
        ("bool-verbatim-tag", app("      selfHeal: !<tag:yaml.org,2002:bool> \"true\"\n")),
        ("bool-tag-rejected", app("      selfHeal: !!bool \"maybe\"\n")),
        ("str-tag-on-plain", app("      selfHeal: !!str true\n")),
        ("local-tag", app("      selfHeal: !custom true\n")),
        ("quoted-bool", app("      selfHeal: \"true\"\n")),
        ("octal-hex-binary", cm("  a: 0755\n  b: 0x1F\n  c: 0o17\n  d: 0b101\n  e: 08\n")),
        ("floats", cm("  a: 1e3\n  b: .5\n  c: +12\n  d: 1_000\n  e: -0.0\n  f: 6.02e+23\n")),
        ("infinity", cm("  a: .inf\n")),
        ("nulls", cm("  a: ~\n  b: Null\n  c:\n  d: NULL\n")),
        ("timestamp-plain", cm("  a: 2001-12-14\n  b: 2001-12-14t21:59:43.10-05:00\n")),
        ("timestamp-tag", cm("  a: !!timestamp 2001-12-14\n")),
        ("int-tag-on-quoted", cm("  a: !!int \"0x10\"\n  b: !!float '1'\n")),
        ("binary-tag", pod("!!binary bmdpbng6bGF0ZXN0")),
        ("line-separator-in-kind", "apiVersion: v1\nkind: Secret\u{2028}metadata:\n  name: s\nstringData:\n  p: x\n".into()),
        ("next-line-in-comment", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c # note\u{85}  namespace: hidden\n".into()),
        ("paragraph-separator-in-value", cm("  a: one\u{2029}two\n")),
        ("bom-at-start", format!("\u{feff}{}", pod("nginx:1.27"))),
        ("crlf", pod("nginx:latest").replace('\n', "\r\n")),
        ("anchors-and-aliases", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {app: web}\n  annotations: *l\nspec:\n  containers:\n  - &c {name: a, image: 'nginx:latest'}\n  - *c\n".into()),
        ("merge-key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nbase: &b {x: \"1\", y: \"2\"}\ndata:\n  <<: *b\n  y: \"3\"\n".into()),
        ("merge-key-list", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nb1: &b1 {x: \"1\"}\nb2: &b2 {x: \"2\", z: \"9\"}\ndata:\n  <<: [*b1, *b2]\n".into()),
        ("quoted-merge-key", cm("  \"<<\": not-a-merge\n")),
        ("duplicate-same", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\nkind: ConfigMap\n".into()),
        ("duplicate-different", app("      selfHeal: false\n      selfHeal: true\n")),
        ("duplicate-resolved-keys", cm("  y: \"1\"\n  true: \"2\"\n")),
        ("keys-resolve", cm("  y: \"1\"\n  0x10: \"2\"\n  no: \"3\"\n")),
        ("quoted-continuation", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    d: 'one\n    two'\n".into()),
        ("multi-line-plain", cm("  a: one\n    two\n    three\n")),
        ("block-scalars", cm("  a: |+\n    keep\n\n  b: >-\n    folded\n    text\n  c: |2\n      indented\n")),
        ("escapes", cm("  a: \"\\x41\\u263A\\t\\N\\_\"\n")),
        ("complex-key", cm("  ? a\n  : \"1\"\n")),
        ("directive-1-1", format!("%YAML 1.1\n---\n{}", app("      selfHeal: yes\n"))),
        ("flow-style", "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: [{name: c, image: \"nginx:latest\"}]}}\n".into()),
        ("tab-in-value", cm("  a: \"x\ty\"\n  b: x\ty\n")),
        ("empty-image", pod("")),
        ("unicode-escape-kind", "apiVersion: v1\nkind: \"Se\\u0063ret\"\nmetadata:\n  name: s\nstringData:\n  p: x\n".into()),
    ]
}

/// Kubernetes' JSON for `file`, or `None` when it rejects it.
fn kubernetes(file: &std::path::Path) -> Option<serde_json::Value> {
    let out = Command::new("kubectl")
        .args(["label", "--local", "-f"])
        .arg(file)
        .args(["tollgate-probe=1", "-o", "json"])
        .output()
        .expect("kubectl runs");
    if !out.status.success() {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    // Remove the label the probe added (and the map it may have created).
    if let Some(labels) = v.pointer_mut("/metadata/labels").and_then(serde_json::Value::as_object_mut) {
        labels.remove("tollgate-probe");
        if labels.is_empty()
            && let Some(meta) = v.pointer_mut("/metadata").and_then(serde_json::Value::as_object_mut)
        {
            meta.remove("labels");
        }
    }
    Some(v)
}

/// Numbers compare by value (`1000` and `1000.0` are one number).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::{Array, Number, Object};
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

#[test]
fn tollgate_reads_manifests_as_kubernetes_does() {
    let kubectl = Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success());
    if !kubectl {
        super::support::skip("kubectl is not installed; the Kubernetes YAML differential test is skipped");
        return;
    }
    let dir = TempRepo::new("kubernetes-yaml");
    let mut report = Vec::new();
    let mut disagreements = Vec::new();
    let all = cases();
    for (name, text) in &all {
        let file = dir.join(&format!("{name}.yaml"));
        std::fs::write(&file, text).expect("write case");
        let theirs = kubernetes(&file);
        let ours = tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default());
        let verdict = match (&ours, &theirs) {
            (Err(e), _) => format!("tollgate refuses ({})", e.message().chars().take(60).collect::<String>()),
            (Ok(_), None) => "Kubernetes rejects it".to_owned(),
            (Ok(docs), Some(k8s)) => {
                let doc = docs.iter().find(|d| !d.root.is_null()).expect("a document");
                let json = doc.root.to_kubernetes_json();
                if !same(&json, k8s) {
                    disagreements.push(format!("{name}: tollgate reads\n{json:#}\nKubernetes reads\n{k8s:#}"));
                }
                // The accessors the rules use agree with the JSON too.
                let root = &doc.root;
                let kind = root.get_key("kind").and_then(tollgate_yaml::Node::as_str);
                if kind != k8s["kind"].as_str() {
                    disagreements.push(format!("{name}: kind {kind:?} != {:?}", k8s["kind"]));
                }
                let route = tollgate_yaml::Route::parse("/spec/syncPolicy/automated/selfHeal");
                let heal = root.get(&route).and_then(tollgate_yaml::Node::as_bool);
                let k8s_heal = k8s.pointer("/spec/syncPolicy/automated/selfHeal").and_then(serde_json::Value::as_bool);
                if heal != k8s_heal {
                    disagreements.push(format!("{name}: selfHeal {heal:?} != {k8s_heal:?}"));
                }
                "agrees".to_owned()
            }
        };
        report.push(format!("{name}: {verdict}"));
    }
    println!("{}", report.join("\n"));
    assert!(disagreements.is_empty(), "tollgate and Kubernetes disagree:\n{}", disagreements.join("\n\n"));
    // The cases tollgate must refuse rather than read differently.
    for must_refuse in
        ["line-separator-in-kind", "next-line-in-comment", "paragraph-separator-in-value", "bool-tag-rejected"]
    {
        let line = report.iter().find(|l| l.starts_with(&format!("{must_refuse}:"))).expect("case");
        assert!(line.contains("tollgate refuses"), "{line}");
    }
    let agreeing = report.iter().filter(|l| l.ends_with("agrees")).count();
    println!(
        "{agreeing}/{} cases read exactly as Kubernetes reads them; the rest refused by tollgate or rejected by Kubernetes",
        all.len()
    );
    assert!(agreeing >= 25, "too few cases compared: {agreeing}");
}
