//! `tollgate render`: the native Kustomize renderer, measured against
//! kustomize's own build tests and against `kubectl kustomize` on real and
//! generated repositories, and its refusals of bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{TempRepo, conformance_dir, skip, stderr, stdout, tollgate, workspace};

/// The documents of a YAML stream, as JSON, empty documents left out.
fn documents(text: &str) -> Vec<serde_json::Value> {
    tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default())
        .expect("a render is valid YAML")
        .iter()
        .filter(|d| !d.root.is_null())
        .map(|d| d.root.to_json())
        .collect()
}

fn kubectl_available() -> bool {
    Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn agreement_with_kustomize_build_tests() {
    let dir = conformance_dir();
    if !dir.join("kustomize-krusty").is_dir() {
        skip(&format!("{} not present; Kustomize build tests not measured", dir.display()));
        return;
    }
    let out = tollgate(&workspace(), &["conformance", &dir.display().to_string(), "--only", "kustomize"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.starts_with("kustomize-krusty: ")).expect("summary line");
    let count = |label: &str| -> u64 {
        let before = line.split(label).next().expect("label");
        before.rsplit([' ', ',']).find(|w| !w.is_empty()).and_then(|n| n.parse().ok()).expect("count")
    };
    // Floors at what this version measured; every build tollgate does not
    // refuse must be identical.
    assert!(count(" identical") >= 110, "{line}\n{text}");
    assert_eq!(count(" different"), 0, "{text}");
    assert_eq!(count(" errors"), 0, "{text}");
    assert!(line.ends_with("of 110"), "{line}");
    // Every refusal names the feature.
    for refusal in text.lines().filter(|l| l.contains(": refused: ")) {
        assert!(refusal.contains('`'), "a refusal must name the feature: {refusal}");
    }
}

/// Every kustomization directory (not a component) under `root`.
fn kustomizations(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                e.file_name().to_str(),
                Some("kustomization.yaml" | "kustomization.yml" | "Kustomization")
            ) && !std::fs::read_to_string(&path).unwrap_or_default().contains("kind: Component")
            {
                out.push(dir.clone());
            }
        }
    }
    out.sort();
    out
}

#[derive(Default, Debug)]
struct Comparison {
    identical: usize,
    /// Identical, with a warning kubectl does not give (a patch that
    /// selects nothing).
    warned: usize,
    refused: usize,
    both_fail: usize,
    different: Vec<String>,
    only_tollgate_fails: Vec<String>,
    only_kubectl_fails: Vec<String>,
}

/// Renders every kustomization under `root` with tollgate and with
/// `kubectl kustomize`, and compares the documents.
fn compare(root: &Path) -> Comparison {
    let mut c = Comparison::default();
    for dir in kustomizations(root) {
        let reference = Command::new("kubectl").arg("kustomize").arg(&dir).output().expect("kubectl runs");
        let ours =
            tollgate(&workspace(), &["render", "--root", &root.display().to_string(), &dir.display().to_string()]);
        let name = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
        let warned = !ours.status.success() && stderr(&ours).lines().all(|l| l.contains(": warning: "));
        if reference.status.success() && warned {
            assert_eq!(documents(&stdout(&reference)), documents(&stdout(&ours)), "{name}");
            c.warned += 1;
            continue;
        }
        match (reference.status.success(), ours.status.success()) {
            (false, false) => c.both_fail += 1,
            (true, false) if stderr(&ours).contains("not supported offline") => c.refused += 1,
            (true, false) => c.only_tollgate_fails.push(format!("{name}: {}", stderr(&ours))),
            (false, true) => c.only_kubectl_fails.push(format!("{name}: {}", stderr(&reference))),
            (true, true) => {
                if documents(&stdout(&reference)) == documents(&stdout(&ours)) {
                    c.identical += 1;
                } else {
                    c.different.push(name);
                }
            }
        }
    }
    c
}

#[test]
fn renders_of_real_repositories_match_kubectl_kustomize() {
    let dir = conformance_dir();
    if !kubectl_available() {
        skip("kubectl is not installed; renders not compared with kubectl kustomize");
        return;
    }
    if !dir.is_dir() {
        skip(&format!("{} not present; renders of real repositories not compared", dir.display()));
        return;
    }
    let mut total = Comparison::default();
    let mut corpora: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpora")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !p.ends_with("kustomize-krusty"))
        .collect();
    corpora.sort();
    for corpus in corpora {
        let c = compare(&corpus);
        total.identical += c.identical;
        total.warned += c.warned;
        total.refused += c.refused;
        total.both_fail += c.both_fail;
        total.different.extend(c.different);
        total.only_tollgate_fails.extend(c.only_tollgate_fails);
        total.only_kubectl_fails.extend(c.only_kubectl_fails);
    }
    println!(
        "real repositories: {} identical, {} identical with a warning, {} refused, {} different, {} failing in both",
        total.identical,
        total.warned,
        total.refused,
        total.different.len(),
        total.both_fail
    );
    assert!(total.only_tollgate_fails.is_empty(), "{:#?}", total.only_tollgate_fails);
    assert!(total.only_kubectl_fails.is_empty(), "{:#?}", total.only_kubectl_fails);
    assert!(total.identical >= 87 && total.warned >= 4, "{total:#?}");
    // Every build both can do is identical (folded scalars included, with
    // the line break go-yaml v3 adds before a more-indented line).
    assert!(total.different.is_empty(), "{total:#?}");
}

#[test]
fn renders_of_a_generated_repository_match_kubectl_kustomize() {
    if !kubectl_available() {
        skip("kubectl is not installed; renders not compared with kubectl kustomize");
        return;
    }
    // `TOLLGATE_SHARED` names the shared directory when it is not `../shared`.
    let shared = std::env::var_os("TOLLGATE_SHARED").map_or_else(|| workspace().join("../shared"), PathBuf::from);
    let generator = shared.join("bench/gen_gitops_repo.py");
    let tmp = TempRepo::new("render-bench");
    let out = tmp.join("repo");
    let made = Command::new("python3").arg(&generator).arg("12").arg(&out).args(["--seed", "5"]).output();
    if !made.is_ok_and(|o| o.status.success()) {
        skip(&format!("python3 or {} unavailable; generated renders not compared", generator.display()));
        return;
    }
    let c = compare(&out);
    println!("generated repository: {c:?}");
    assert!(c.identical >= 12, "{c:#?}");
    assert!(c.different.is_empty() && c.only_tollgate_fails.is_empty() && c.refused == 0, "{c:#?}");
}

#[test]
fn render_prints_the_stream_with_transformers_applied() {
    let repo = TempRepo::new("render-basic");
    repo.write(
        "base/kustomization.yaml",
        "resources: [deploy.yaml]\nconfigMapGenerator:\n- name: settings\n  literals: [MODE=fast]\n",
    );
    repo.write(
        "base/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        envFrom:\n        - configMapRef:\n            name: settings\n",
    );
    repo.write(
        "prod/kustomization.yaml",
        "resources: [../base]\nnamespace: shop\nnamePrefix: prod-\nimages:\n- name: nginx\n  newTag: 1.27.0\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 3\n",
    );
    let out = tollgate(&repo.path, &["render", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let docs = documents(&stdout(&out));
    assert_eq!(docs.len(), 2, "{}", stdout(&out));
    // ConfigMaps come before Deployments (kustomize's legacy order).
    assert_eq!(docs[0]["kind"], "ConfigMap");
    let cm_name = docs[0]["metadata"]["name"].as_str().expect("name");
    assert!(cm_name.starts_with("prod-settings-") && cm_name.len() == "prod-settings-".len() + 10, "{cm_name}");
    let d = &docs[1];
    assert_eq!(d["metadata"]["name"], "prod-web");
    assert_eq!(d["metadata"]["namespace"], "shop");
    assert_eq!(d["spec"]["replicas"], 3);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27.0");
    // The reference follows the generated, prefixed, hashed name.
    assert_eq!(c["envFrom"][0]["configMapRef"]["name"], cm_name);
    if kubectl_available() {
        let reference = Command::new("kubectl").arg("kustomize").arg(repo.join("prod")).output().expect("kubectl");
        assert_eq!(documents(&stdout(&reference)), docs);
    }
}

/// Runs `tollgate render DIR` in `repo`; asserts exit 2 and returns stderr.
fn refused(repo: &TempRepo, dir: &str) -> String {
    let out = tollgate(&repo.path, &["render", dir]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stdout: {}\nstderr: {err}", stdout(&out));
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_input_is_named_with_file_and_line() {
    let repo = TempRepo::new("render-bad");
    repo.write(".git/HEAD", "ref: refs/heads/main\n");
    // A cycle.
    repo.write("a/kustomization.yaml", "resources:\n- ../b\n");
    repo.write("b/kustomization.yaml", "resources:\n- ../a\n");
    let err = refused(&repo, "a");
    assert!(err.contains("cycle") && err.contains("kustomization.yaml:"), "{err}");
    // An OpenAPI version kustomize does not build in, and a custom schema.
    repo.write("openapi/kustomization.yaml", "openapi:\n  version: v1.20.0\n");
    let err = refused(&repo, "openapi");
    assert!(err.starts_with("openapi/kustomization.yaml:2:3: cannot render: the OpenAPI version `v1.20.0`"), "{err}");
    repo.write("schema/kustomization.yaml", "openapi:\n  path: schema.json\n");
    let err = refused(&repo, "schema");
    assert!(err.contains("schema/kustomization.yaml:2:9") && err.contains("`openapi.path`"), "{err}");
    // A missing resource.
    repo.write("missing/kustomization.yaml", "resources:\n- gone.yaml\n");
    let err = refused(&repo, "missing");
    assert!(err.starts_with("missing/kustomization.yaml:2:3: cannot render: `gone.yaml` does not exist"), "{err}");
    // A patch whose target matches nothing: the stream is printed, the patch
    // is named, the command fails.
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n");
    repo.write(
        "nomatch/kustomization.yaml",
        "resources: [../app/cm.yaml]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 2\n",
    );
    repo.write("app/kustomization.yaml", "resources: [cm.yaml]\n");
    repo.write(
        "nomatch/kustomization.yaml",
        "resources: [../app]\npatches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 2\n",
    );
    let out = tollgate(&repo.path, &["render", "nomatch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("kind: ConfigMap"), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with("nomatch/kustomization.yaml:4:5: warning: the patch's `target` selects no resource"),
        "{}",
        stderr(&out)
    );
    // An invalid JSON 6902 path.
    repo.write(
        "badpath/kustomization.yaml",
        "resources: [../app]\npatches:\n- target:\n    kind: ConfigMap\n  patch: |-\n    - op: replace\n      path: /data/missing/deeper\n      value: x\n",
    );
    let err = refused(&repo, "badpath");
    assert!(err.starts_with("badpath/kustomization.yaml:7:13: cannot render: `/data/missing/deeper`"), "{err}");
    // A remote base.
    repo.write("remote/kustomization.yaml", "resources:\n- https://github.com/acme/base//deploy?ref=v1\n");
    let err = refused(&repo, "remote");
    assert!(err.starts_with("remote/kustomization.yaml:2:3: cannot render (not supported offline):"), "{err}");
    // Helm charts.
    repo.write("helm/kustomization.yaml", "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n");
    let err = refused(&repo, "helm");
    assert!(
        err.starts_with("helm/kustomization.yaml:1:1: cannot render (not supported offline): `helmCharts`"),
        "{err}"
    );
    // A component included ten thousand times.
    repo.write(
        "comp/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  team: platform\n",
    );
    let many = (0..10_000).map(|_| "- ../comp\n").collect::<String>();
    repo.write("many/kustomization.yaml", format!("resources: [../app]\ncomponents:\n{many}"));
    let started = std::time::Instant::now();
    let err = refused(&repo, "many");
    assert!(err.contains("more than 2000 kustomizations"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    // A generator reading a file outside its kustomization's directory.
    repo.write("secret.env", "TOKEN=abc\n");
    repo.write("gen/kustomization.yaml", "configMapGenerator:\n- name: c\n  envs:\n  - ../secret.env\n");
    let err = refused(&repo, "gen");
    assert!(
        err.starts_with("gen/kustomization.yaml:4:5: cannot render: `../secret.env` is not in or below `gen`"),
        "{err}"
    );
    // ... and a link that leaves the repository.
    #[cfg(unix)]
    {
        let outside = TempRepo::new("render-outside");
        outside.write("passwd", "root:x:0:0\n");
        std::os::unix::fs::symlink(outside.join("passwd"), repo.join("linkgen/data.txt"))
            .or_else(|_| {
                std::fs::create_dir_all(repo.join("linkgen"))?;
                std::os::unix::fs::symlink(outside.join("passwd"), repo.join("linkgen/data.txt"))
            })
            .expect("symlink");
        repo.write("linkgen/kustomization.yaml", "configMapGenerator:\n- name: c\n  files:\n  - data.txt\n");
        let err = refused(&repo, "linkgen");
        assert!(err.starts_with("linkgen/kustomization.yaml:4:5:"), "{err}");
        assert!(!err.contains("root:x"), "{err}");
    }
    // Not a kustomization at all.
    std::fs::create_dir_all(repo.join("empty")).expect("mkdir");
    let err = refused(&repo, "empty");
    assert!(err.contains("no kustomization file"), "{err}");
}

/// `testdata/kustomize/<case>/`: a kustomization (in `overlay/` when the case
/// has one, else the case itself) and `expected.yaml`, the output of
/// `kubectl kustomize` recorded when the case was written. tollgate must
/// render it exactly; where kubectl is installed, the record is checked
/// against it too, so that it cannot drift.
#[test]
fn feature_fixtures_render_as_kustomize_does() {
    let root = workspace().join("testdata/kustomize");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).expect("fixtures").filter_map(Result::ok).map(|e| e.path()).collect();
    cases.sort();
    assert!(cases.len() >= 6, "{cases:?}");
    let kubectl = kubectl_available();
    for case in cases {
        let build = if case.join("overlay").is_dir() { case.join("overlay") } else { case.clone() };
        let expected = std::fs::read_to_string(case.join("expected.yaml")).expect("expected.yaml");
        let out =
            tollgate(&workspace(), &["render", "--root", &root.display().to_string(), &build.display().to_string()]);
        assert!(out.status.success(), "{}: {}", case.display(), stderr(&out));
        assert_eq!(documents(&stdout(&out)), documents(&expected), "{}", case.display());
        if kubectl {
            let reference = Command::new("kubectl").arg("kustomize").arg(&build).output().expect("kubectl");
            assert_eq!(
                documents(&stdout(&reference)),
                documents(&expected),
                "{}: record differs from kubectl",
                case.display()
            );
        }
    }
}
