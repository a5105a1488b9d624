//! `tollgate check` judges what production runs: every Kustomize root is
//! rendered, every rule and policy engine judges the rendered objects, and
//! each finding sits on the line that produced the value (a base, a patch
//! file, a line of an inline patch, an `images:` entry), once per origin,
//! with the renders it was found in and the most protected one's severity.

use super::support::{TempRepo, governed, stderr, stdout, tollgate};

const BASE_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ghcr.io/acme/web:1.4.0
        resources:
          limits: {cpu: 500m, memory: 256Mi}
";

const KYVERNO_POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pod-baseline
spec:
  validationFailureAction: Enforce
  rules:
  - name: no-privileged
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: Privileged containers are not allowed.
      pattern:
        spec:
          containers:
          - =(securityContext):
              =(privileged): false
";

const REGO_POLICY: &str = "package main

import rego.v1

deny contains result if {
  input.kind == \"Deployment\"
  some i, c in input.spec.template.spec.containers
  endswith(c.image, \":latest\")
  result := {
    \"msg\": sprintf(\"container %s runs a latest image\", [c.name]),
    \"path\": [\"spec\", \"template\", \"spec\", \"containers\", i, \"image\"],
  }
}
";

/// An app with a base and dev, staging and prod overlays; prod adds a
/// privileged container with an inline JSON 6902 patch and moves the image
/// to `latest` with `images:`; staging scales with a patch fragment.
fn repo() -> TempRepo {
    let repo = TempRepo::new("render-check");
    governed(&repo);
    repo.write("apps/web/base/kustomization.yaml", "resources: [deployment.yaml]\n");
    repo.write("apps/web/base/deployment.yaml", BASE_DEPLOYMENT);
    repo.write("apps/web/overlays/dev/kustomization.yaml", "resources: [../../base]\nnamePrefix: dev-\n");
    repo.write(
        "apps/web/overlays/staging/kustomization.yaml",
        "resources: [../../base]\npatches:\n- path: replicas.yaml\n",
    );
    repo.write(
        "apps/web/overlays/staging/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n",
    );
    repo.write(
        "apps/web/overlays/prod/kustomization.yaml",
        "resources: [../../base]
images:
- name: ghcr.io/acme/web
  newTag: latest
patches:
- target: {kind: Deployment, name: web}
  patch: |-
    - op: add
      path: /spec/template/spec/containers/0/securityContext
      value:
        privileged: true
",
    );
    repo.write("kyverno/pod-baseline.yaml", KYVERNO_POLICY);
    repo.write("policy/latest.rego", REGO_POLICY);
    repo
}

fn findings(repo: &TempRepo, args: &[&str]) -> (Vec<serde_json::Value>, String, Option<i32>) {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    all.push(".");
    let out = tollgate(&repo.path, &all);
    let text = stdout(&out);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}{}", stderr(&out)));
    (json["findings"].as_array().cloned().unwrap_or_default(), text, out.status.code())
}

fn at(f: &serde_json::Value) -> (String, u64) {
    (
        f["location"]["path"].as_str().unwrap_or_default().to_owned(),
        f["location"]["span"]["start_line"].as_u64().unwrap_or_default(),
    )
}

#[test]
fn policies_and_rules_judge_values_only_the_render_shows_at_the_line_that_wrote_them() {
    let repo = repo();
    let (all, text, code) = findings(&repo, &["--kyverno", "kyverno", "--policy", "policy"]);
    // Kyverno: `privileged: true` exists only in prod's render; the finding
    // is on its line inside the kustomization's inline patch.
    let privileged: Vec<&serde_json::Value> =
        all.iter().filter(|f| f["rule_id"] == "pod-baseline/no-privileged").collect();
    assert_eq!(privileged.len(), 1, "{text}");
    assert_eq!(at(privileged[0]), ("apps/web/overlays/prod/kustomization.yaml".to_owned(), 11), "{text}");
    assert_eq!(privileged[0]["renders"], serde_json::json!(["apps/web/overlays/prod"]), "{text}");
    // Rego: the image is `latest` only after prod's `images:` entry.
    let rego: Vec<&serde_json::Value> = all.iter().filter(|f| f["rule_id"] == "main.deny").collect();
    assert_eq!(rego.len(), 1, "{text}");
    assert_eq!(at(rego[0]), ("apps/web/overlays/prod/kustomization.yaml".to_owned(), 4), "{text}");
    // mutable-image-ref: the rendered image, at the `newTag` line, an error
    // (prod), one finding with the kustomization's own `images:` check.
    let mutable: Vec<&serde_json::Value> = all.iter().filter(|f| f["rule_id"] == "mutable-image-ref").collect();
    assert_eq!(mutable.len(), 1, "{text}");
    assert_eq!(at(mutable[0]), ("apps/web/overlays/prod/kustomization.yaml".to_owned(), 4), "{text}");
    assert_eq!(mutable[0]["severity"], "error", "{text}");
    // Nothing on the base (its values are fine) nor on staging's patch
    // fragment, which is never judged as a whole object.
    for f in &all {
        let path = f["location"]["path"].as_str().unwrap_or_default();
        assert!(!path.ends_with("replicas.yaml") && !path.starts_with("render:"), "{f}\n{text}");
    }
    assert_eq!(code, Some(1), "{text}");
    // Without rendering, each file is judged as written: the fragment is
    // judged as a whole Deployment (noise), prod's privileged container and
    // latest image are missed.
    repo.write(".tollgate.yaml", "render:\n  kustomize: false\n");
    let (all, text, _) = findings(&repo, &["--kyverno", "kyverno", "--policy", "policy"]);
    let privileged: Vec<(String, u64)> =
        all.iter().filter(|f| f["rule_id"] == "pod-baseline/no-privileged").map(at).collect();
    assert_eq!(privileged, [("apps/web/overlays/staging/replicas.yaml".to_owned(), 6)], "{text}");
    assert!(!all.iter().any(|f| f["rule_id"] == "main.deny"), "{text}");
}

#[test]
fn a_base_value_is_one_finding_with_the_most_protected_render_and_a_stable_fingerprint() {
    let repo = repo();
    repo.write("apps/web/base/deployment.yaml", BASE_DEPLOYMENT.replace("ghcr.io/acme/web:1.4.0", "nginx"));
    repo.write(
        "apps/web/overlays/prod/kustomization.yaml",
        "resources: [../../base]\nimages:\n- name: nginx\n  newTag: 1.27.3\n",
    );
    let base_findings = |repo: &TempRepo| {
        let (all, text, _) = findings(repo, &[]);
        let on_base: Vec<serde_json::Value> = all
            .into_iter()
            .filter(|f| f["rule_id"] == "mutable-image-ref" && f["location"]["path"] == "apps/web/base/deployment.yaml")
            .collect();
        (on_base, text)
    };
    let (on_base, text) = base_findings(&repo);
    // `nginx` runs in dev and staging (prod pins it with `images:`): one
    // finding at the base line, naming both renders, a warning.
    assert_eq!(on_base.len(), 1, "{text}");
    assert_eq!(at(&on_base[0]).1, 15, "{text}");
    assert_eq!(on_base[0]["renders"], serde_json::json!(["apps/web/overlays/dev", "apps/web/overlays/staging"]));
    assert_eq!(on_base[0]["severity"], "warning", "{text}");
    let fingerprint = on_base[0]["fingerprint"].clone();
    // Rendered in prod too, it is an error: the base takes the most
    // protected environment of the renders that include it.
    repo.write("apps/web/overlays/prod/kustomization.yaml", "resources: [../../base]\n");
    let (on_base, text) = base_findings(&repo);
    assert_eq!(on_base.len(), 1, "{text}");
    assert_eq!(on_base[0]["severity"], "error", "{text}");
    assert_eq!(on_base[0]["renders"].as_array().map(Vec::len), Some(3), "{text}");
    // Adding an unrelated overlay keeps the fingerprint.
    repo.write("apps/web/overlays/qa/kustomization.yaml", "resources: [../../base]\nnameSuffix: -qa\n");
    let (on_base, text) = base_findings(&repo);
    assert_eq!(on_base[0]["fingerprint"], fingerprint, "{text}");
    assert_eq!(on_base[0]["renders"].as_array().map(Vec::len), Some(4), "{text}");
}

#[test]
fn a_root_that_cannot_be_rendered_is_a_finding_and_its_files_are_judged_as_written() {
    let repo = repo();
    repo.write(
        "apps/web/overlays/staging/kustomization.yaml",
        "resources: [../../base]\npatches:\n- path: missing.yaml\n",
    );
    repo.write("apps/helm/kustomization.yaml", "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n");
    let (all, text, code) = findings(&repo, &[]);
    let problems: Vec<&serde_json::Value> = all.iter().filter(|f| f["rule_id"] == "parse-error").collect();
    let missing = problems
        .iter()
        .find(|f| f["location"]["path"] == "apps/web/overlays/staging/kustomization.yaml")
        .unwrap_or_else(|| panic!("no render error: {text}"));
    assert_eq!(at(missing).1, 3, "{text}");
    assert_eq!(missing["severity"], "error", "{text}");
    assert!(missing["message"].as_str().unwrap_or_default().contains("`missing.yaml` does not exist"), "{text}");
    // Helm is never run: a warning that names it, not a guess.
    let helm = problems
        .iter()
        .find(|f| f["location"]["path"] == "apps/helm/kustomization.yaml")
        .unwrap_or_else(|| panic!("no helm warning: {text}"));
    assert_eq!(helm["severity"], "warning", "{text}");
    assert!(helm["message"].as_str().unwrap_or_default().contains("is not rendered"), "{text}");
    assert_eq!(code, Some(1), "{text}");
    // SARIF carries the renders of a finding made on renders.
    let out = tollgate(&repo.path, &["check", "--format", "sarif", "."]);
    let sarif: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("sarif");
    let results = sarif["runs"][0]["results"].as_array().cloned().unwrap_or_default();
    assert!(
        results.iter().any(|r| r["properties"]["renders"] == serde_json::json!(["apps/web/overlays/prod"])),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_directory_a_prod_application_deploys_is_judged_as_prod() {
    let repo = TempRepo::new("render-argo");
    governed(&repo);
    repo.write("apps/api/kustomization.yaml", "resources: [deployment.yaml]\n");
    repo.write("apps/api/deployment.yaml", BASE_DEPLOYMENT.replace("ghcr.io/acme/web:1.4.0", "nginx"));
    let severity = |repo: &TempRepo| {
        let (all, text, _) = findings(repo, &[]);
        let f = all.iter().find(|f| f["rule_id"] == "mutable-image-ref").cloned();
        (f.map(|f| f["severity"].as_str().unwrap_or_default().to_owned()), all, text)
    };
    let (before, _, text) = severity(&repo);
    assert_eq!(before.as_deref(), Some("warning"), "{text}");
    // An Application whose destination is a prod namespace deploys it.
    repo.write(
        "argocd/api.yaml",
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: api, namespace: argocd}
spec:
  project: payments
  source:
    repoURL: https://github.com/acme/deploy.git
    targetRevision: main
    path: apps/api
    kustomize:
      images: [nginx=nginx:1.27.3]
  destination: {server: https://kubernetes.default.svc, namespace: api-prod}
",
    );
    // Argo CD sets the image: pinned, nothing to say; and no render of the
    // path without the override (Argo CD never deploys it so).
    let (after, all, text) = severity(&repo);
    assert_eq!(after, None, "{text}");
    assert!(!all.iter().any(|f| f["rule_id"] == "parse-error"), "{text}");
    // An override to `latest` in a prod Application: an error at its line.
    let app = std::fs::read_to_string(repo.join("argocd/api.yaml")).expect("app");
    repo.write("argocd/api.yaml", app.replace("nginx=nginx:1.27.3", "nginx=nginx:latest"));
    let (after, all, text) = severity(&repo);
    assert_eq!(after.as_deref(), Some("error"), "{text}");
    let f = all.iter().find(|f| f["rule_id"] == "mutable-image-ref").expect("finding");
    assert_eq!(at(f), ("argocd/api.yaml".to_owned(), 11), "{text}");
    assert_eq!(f["renders"], serde_json::json!(["apps/api (Argo CD argocd/api.yaml)"]), "{text}");
    // Without overrides, the path is judged in the Application's environment.
    repo.write("argocd/api.yaml", app.replace("    kustomize:\n      images: [nginx=nginx:1.27.3]\n", ""));
    let (after, _, text) = severity(&repo);
    assert_eq!(after.as_deref(), Some("error"), "{text}");
}

#[test]
fn flux_kustomizations_build_their_path_with_substitutions() {
    let repo = TempRepo::new("render-flux");
    governed(&repo);
    // A directory without a kustomization file: Flux builds every manifest in it.
    repo.write(
        "apps/web/deployment.yaml",
        BASE_DEPLOYMENT.replace("ghcr.io/acme/web:1.4.0", "ghcr.io/acme/web:${web_tag:=1.4.0}"),
    );
    repo.write(
        "apps/web/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n",
    );
    repo.write(
        "clusters/prod/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps/web
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute:
      web_tag: latest
    substituteFrom:
    - kind: ConfigMap
      name: cluster-vars
",
    );
    let (all, text, _) = findings(&repo, &[]);
    // The tag is `latest` only once Flux substitutes it: an error (prod),
    // at the line of the Flux object that sets it.
    let mutable: Vec<&serde_json::Value> = all.iter().filter(|f| f["rule_id"] == "mutable-image-ref").collect();
    assert_eq!(mutable.len(), 1, "{text}");
    assert_eq!(at(mutable[0]), ("clusters/prod/apps.yaml".to_owned(), 11), "{text}");
    assert_eq!(mutable[0]["severity"], "error", "{text}");
    assert_eq!(mutable[0]["renders"], serde_json::json!(["apps/web (Flux clusters/prod/apps.yaml)"]), "{text}");
    // A `substituteFrom` that names nothing in the repository is said.
    let missing = all
        .iter()
        .find(|f| f["rule_id"] == "parse-error" && f["location"]["path"] == "clusters/prod/apps.yaml")
        .unwrap_or_else(|| panic!("no warning for the missing ConfigMap: {text}"));
    assert!(missing["message"].as_str().unwrap_or_default().contains("ConfigMap `cluster-vars`"), "{text}");
    // With the ConfigMap in the repository, its values apply (inline ones win).
    repo.write(
        "clusters/prod/vars.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-vars, namespace: flux-system}\ndata:\n  web_tag: \"1.5.0\"\n",
    );
    let (all, text, _) = findings(&repo, &[]);
    assert!(!all.iter().any(|f| f["rule_id"] == "parse-error"), "{text}");
    assert_eq!(all.iter().filter(|f| f["rule_id"] == "mutable-image-ref").count(), 1, "{text}");
}

#[test]
fn a_secret_value_found_in_a_render_is_masked_where_it_was_written() {
    let repo = TempRepo::new("render-masked");
    repo.write(
        "apps/db/base/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2-very-secret\n",
    );
    repo.write("apps/db/base/kustomization.yaml", "resources: [secret.yaml]\n");
    repo.write("apps/db/overlays/prod/kustomization.yaml", "resources: [../../base]\nnamePrefix: prod-\n");
    let out = tollgate(&repo.path, &["check", "."]);
    let text = stdout(&out);
    assert!(text.contains("--> apps/db/base/secret.yaml:5:1"), "{text}");
    assert!(text.contains("password: *******************"), "{text}");
    assert!(!text.contains("hunter2"), "the secret value is shown: {text}");
}

const CONFIG_POLICY: &str = "package main

import rego.v1

deny contains result if {
  input.kind == \"ConfigMap\"
  input.data.LOG_LEVEL == \"debug\"
  result := {\"msg\": \"debug logging in a deployed ConfigMap\", \"path\": [\"data\", \"LOG_LEVEL\"]}
}
";

#[test]
fn origins_of_a_strategic_merge_patch_file_a_json_6902_patch_file_and_a_generator_literal() {
    let repo = TempRepo::new("render-origins");
    governed(&repo);
    repo.write("apps/web/base/kustomization.yaml", "resources: [deployment.yaml]\n");
    repo.write("apps/web/base/deployment.yaml", BASE_DEPLOYMENT);
    repo.write(
        "apps/web/overlays/prod/kustomization.yaml",
        "resources: [../../base]
patches:
- path: privileged.yaml
- path: image.yaml
  target: {kind: Deployment, name: web}
configMapGenerator:
- name: web-config
  literals:
  - MODE=prod
  - LOG_LEVEL=debug
",
    );
    // A strategic merge patch file: the container is merged by name.
    repo.write(
        "apps/web/overlays/prod/privileged.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        securityContext:
          privileged: true
",
    );
    // A JSON 6902 patch file.
    repo.write(
        "apps/web/overlays/prod/image.yaml",
        "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: ghcr.io/acme/web:latest\n",
    );
    repo.write("kyverno/pod-baseline.yaml", KYVERNO_POLICY);
    repo.write("policy/config.rego", CONFIG_POLICY);
    let (all, text, _) = findings(&repo, &["--kyverno", "kyverno", "--policy", "policy"]);
    let of = |rule: &str| -> Vec<(String, u64)> { all.iter().filter(|f| f["rule_id"] == rule).map(at).collect() };
    let prod = "apps/web/overlays/prod";
    assert_eq!(of("pod-baseline/no-privileged"), [(format!("{prod}/privileged.yaml"), 11)], "{text}");
    assert_eq!(of("mutable-image-ref"), [(format!("{prod}/image.yaml"), 3)], "{text}");
    assert_eq!(of("main.deny"), [(format!("{prod}/kustomization.yaml"), 10)], "{text}");
}

#[test]
fn directories_an_application_set_generates_for_prod_are_judged_as_prod() {
    let repo = TempRepo::new("render-appset");
    governed(&repo);
    for app in ["api", "web"] {
        repo.write(&format!("apps/{app}/kustomization.yaml"), "resources: [deployment.yaml]\n");
        repo.write(&format!("apps/{app}/deployment.yaml"), BASE_DEPLOYMENT.replace("ghcr.io/acme/web:1.4.0", "nginx"));
    }
    let severities = |repo: &TempRepo| {
        let (all, text, _) = findings(repo, &[]);
        let mut found: Vec<(String, String)> = all
            .iter()
            .filter(|f| f["rule_id"] == "mutable-image-ref")
            .map(|f| (at(f).0, f["severity"].as_str().unwrap_or_default().to_owned()))
            .collect();
        found.sort();
        (found, all, text)
    };
    let (before, _, text) = severities(&repo);
    assert!(before.iter().all(|(_, s)| s == "warning") && before.len() == 2, "{text}");
    // A git directory generator deploys every app but `web` into a prod namespace.
    repo.write(
        "argocd/apps.yaml",
        "apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: apps, namespace: argocd}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/acme/deploy.git
      revision: main
      directories:
      - path: apps/*
      - path: apps/web
        exclude: true
  template:
    metadata: {name: '{{.path.basename}}'}
    spec:
      project: default
      source: {repoURL: https://github.com/acme/deploy.git, path: '{{.path.path}}'}
      destination: {server: https://kubernetes.default.svc, namespace: '{{.path.basename}}-prod'}
",
    );
    let (after, _, text) = severities(&repo);
    assert_eq!(
        after,
        [
            ("apps/api/deployment.yaml".to_owned(), "error".to_owned()),
            ("apps/web/deployment.yaml".to_owned(), "warning".to_owned())
        ],
        "{text}"
    );
    // Generators that need a cluster cannot be expanded: a note says so.
    let set = std::fs::read_to_string(repo.join("argocd/apps.yaml")).expect("appset");
    repo.write("argocd/apps.yaml", set.replace("  - git:\n", "  - clusters: {}\n  - git:\n"));
    let (after, all, text) = severities(&repo);
    assert!(after.iter().all(|(_, s)| s == "warning"), "{text}");
    let note = all
        .iter()
        .find(|f| f["rule_id"] == "parse-error" && f["location"]["path"] == "argocd/apps.yaml")
        .unwrap_or_else(|| panic!("no note: {text}"));
    assert_eq!(note["severity"], "note", "{text}");
    assert_eq!(at(note).1, 7, "{text}");
}

#[test]
fn an_application_name_prefix_replaces_the_path_s_own_as_argo_cd_sets_it() {
    let repo = TempRepo::new("render-argo-prefix");
    governed(&repo);
    repo.write("apps/api/kustomization.yaml", "resources: [deployment.yaml]\nnamePrefix: base-\n");
    repo.write("apps/api/deployment.yaml", BASE_DEPLOYMENT.replace("ghcr.io/acme/web:1.4.0", "nginx:latest"));
    repo.write(
        "argocd/api.yaml",
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: api, namespace: argocd}
spec:
  project: default
  source:
    repoURL: https://github.com/acme/deploy.git
    path: apps/api
    kustomize:
      namePrefix: prod-
      nameSuffix: -v2
  destination: {server: https://kubernetes.default.svc, namespace: api-prod}
",
    );
    let (all, text, _) = findings(&repo, &[]);
    let f = all.iter().find(|f| f["rule_id"] == "mutable-image-ref").unwrap_or_else(|| panic!("{text}"));
    // Argo CD runs `kustomize edit set nameprefix`: its prefix replaces the
    // path's own, it is not added to it.
    assert_eq!(f["resource"]["name"], "prod-web-v2", "{text}");
    assert_eq!(f["severity"], "error", "{text}");
    assert_eq!(at(f), ("apps/api/deployment.yaml".to_owned(), 15), "{text}");
}
