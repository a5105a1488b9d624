//! Edge cases of the GitOps rules on small repositories built in the test.

use tollgate_core::{CheckOptions, Config, Finding, RuleSettings, check};

use super::support::TempRepo;

/// Findings of one rule (only that rule and `parse-error` enabled).
fn findings(repo: &TempRepo, rule: &str) -> Vec<Finding> {
    let registry = tollgate::registry().expect("registry");
    let mut config = match std::fs::read_to_string(repo.join(".tollgate.yaml")) {
        Ok(text) => {
            Config::from_text(&text, ".tollgate.yaml", &tollgate::registry().expect("registry")).expect("config")
        }
        Err(_) => Config::default(),
    };
    for r in registry.rules() {
        let on = r.meta.id == rule || r.meta.id == "parse-error";
        config.rules.insert(r.meta.id.to_string(), RuleSettings { enabled: Some(on), severity: None });
    }
    let report = check(&repo.path, &config, &registry, &CheckOptions::default()).expect("check");
    assert!(!report.findings.iter().any(|f| f.rule_id == "parse-error"), "{:#?}", report.findings);
    report.findings.into_iter().filter(|f| !f.is_suppressed()).collect()
}

const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n";

#[test]
fn prod_through_a_pointer_from_a_non_prod_path() {
    let repo = TempRepo::new("pointer");
    repo.write(
        "argocd/apps/payments.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: payments}\nspec:\n  source: {path: ./clusters/eu/prod/payments}\n  syncPolicy:\n    automated: {selfHeal: true}\n",
    );
    repo.write(
        "argocd/apps/search.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: search}\nspec:\n  source: {path: clusters/eu/dev/search}\n  syncPolicy:\n    automated: {selfHeal: true}\n",
    );
    repo.write(
        "flux/infra.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: infra}\nspec:\n  path: ./infrastructure/live\n",
    );
    let f = findings(&repo, "prod-self-heal");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location.path, "argocd/apps/payments.yaml");
    assert!(f[0].message.contains("prod through spec.source.path `clusters/eu/prod/payments`"), "{}", f[0].message);
    // Configured environments: the pointer is resolved with the configured globs.
    repo.write(".tollgate.yaml", "environments:\n  main: { paths: [\"clusters/eu/**\"], protected: true }\n");
    let f = findings(&repo, "prod-self-heal");
    assert_eq!(f.len(), 2, "{f:#?}");
}

fn renovate_repo(config: &str) -> TempRepo {
    let repo = TempRepo::new("renovate");
    repo.write("environments/prod/app/kustomization.yaml", "resources: [deploy.yaml]\n");
    repo.write("environments/dev/app/kustomization.yaml", "resources: [deploy.yaml]\n");
    repo.write("environments/prod/app/deploy.yaml", APP);
    repo.write("environments/dev/app/deploy.yaml", APP);
    repo.write("renovate.json", config);
    repo
}

#[test]
fn renovate_that_excludes_prod_is_fine() {
    for config in [
        r#"{"packageRules": [{"matchFileNames": ["environments/dev/**"], "automerge": true}]}"#,
        r#"{"automerge": true, "ignorePaths": ["environments/prod/**"]}"#,
        r#"{"automerge": true, "packageRules": [{"matchFileNames": ["environments/prod/**"], "automerge": false}]}"#,
        r#"{"kubernetes": {"fileMatch": ["environments/dev/.+\\.yaml$"], "automerge": true}}"#,
        r#"{"packageRules": [{"matchPaths": ["/^environments/dev//"], "automerge": true}]}"#,
        r#"{"automerge": false}"#,
    ] {
        let repo = renovate_repo(config);
        let f = findings(&repo, "auto-merge-to-prod");
        assert!(f.is_empty(), "{config}: {f:#?}");
    }
}

#[test]
fn renovate_that_reaches_prod_is_reported_at_its_automerge() {
    for (config, line, col) in [
        (r#"{"automerge": true}"#, 1, 2),
        ("{\n  \"kubernetes\": {\"fileMatch\": [\"environments/.+\\\\.yaml$\"], \"automerge\": true}\n}", 2, 60),
        (
            "{\n  \"packageRules\": [\n    {\"matchUpdateTypes\": [\"patch\"], \"automerge\": true},\n    {\"matchFileNames\": [\"environments/prod/**\"], \"matchUpdateTypes\": [\"major\"], \"automerge\": false}\n  ]\n}",
            3,
            37,
        ),
        (
            "{\n  \"packageRules\": [{\"matchManagers\": [\"kustomize\"], \"automerge\": true}],\n  \"kustomize\": {\"fileMatch\": [\"(^|/)kustomization\\\\.ya?ml$\"]}\n}",
            2,
            53,
        ),
    ] {
        let repo = renovate_repo(config);
        let f = findings(&repo, "auto-merge-to-prod");
        assert_eq!(f.len(), 1, "{config}: {f:#?}");
        assert_eq!((f[0].location.span.start.line, f[0].location.span.start.column), (line, col), "{config}");
        assert!(f[0].message.contains("environments/prod/app/"), "{}", f[0].message);
    }
}

#[test]
fn renovate_in_package_json() {
    let repo = TempRepo::new("package-json");
    repo.write("prod/app.yaml", APP);
    repo.write("package.json", r#"{"name": "x", "renovate": {"automerge": true}}"#);
    let f = findings(&repo, "auto-merge-to-prod");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].location.route.as_deref(), Some("/renovate/automerge"));
}

fn merge_workflow(on: &str, condition: &str) -> String {
    format!(
        "on: {on}\njobs:\n  merge:\n    if: {condition}\n    runs-on: ubuntu-latest\n    steps:\n      - uses: dependabot/fetch-metadata@v2\n      - run: gh pr merge --auto --squash \"$PR\"\n"
    )
}

#[test]
fn workflow_that_merges_only_dev_pull_requests_is_fine() {
    let cases = [
        // A paths filter limited to dev.
        (merge_workflow("{pull_request: {paths: ['environments/dev/**']}}", "github.actor == 'renovate[bot]'"), None),
        // A condition on a dev label.
        (merge_workflow("pull_request", "contains(github.event.pull_request.labels.*.name, 'env/dev')"), None),
        // Dependabot updates only dev directories.
        (
            merge_workflow("pull_request", "github.actor == 'dependabot[bot]'"),
            Some(
                "version: 2\nupdates:\n  - {package-ecosystem: docker, directory: /environments/dev/app, schedule: {interval: daily}}\n",
            ),
        ),
    ];
    for (workflow, dependabot) in cases {
        let repo = TempRepo::new("merge-dev");
        repo.write("environments/prod/app.yaml", APP);
        repo.write(".github/workflows/merge.yml", &workflow);
        if let Some(d) = dependabot {
            repo.write(".github/dependabot.yml", d);
        }
        let f = findings(&repo, "auto-merge-to-prod");
        assert!(f.is_empty(), "{workflow}\n{f:#?}");
    }
}

#[test]
fn workflow_that_merges_prod_or_anything_is_reported() {
    let cases = [
        (merge_workflow("{pull_request: {paths: ['environments/**']}}", "true"), None, "nothing limits it"),
        (merge_workflow("{pull_request: {paths: ['environments/prod/**']}}", "true"), None, "its `paths` filter"),
        (
            merge_workflow("pull_request", "github.actor == 'dependabot[bot]'"),
            Some("version: 2\nupdates:\n  - {package-ecosystem: docker, directory: /, schedule: {interval: daily}}\n"),
            "Dependabot's directory `/` covers",
        ),
        (
            merge_workflow("pull_request", "github.actor == 'dependabot[bot]'"),
            Some(
                "version: 2\nupdates:\n  - {package-ecosystem: docker, directory: /environments/prod/app, schedule: {interval: daily}}\n",
            ),
            "Dependabot's `directory`",
        ),
    ];
    for (workflow, dependabot, why) in cases {
        let repo = TempRepo::new("merge-prod");
        repo.write("environments/prod/app.yaml", APP);
        repo.write(".github/workflows/merge.yml", &workflow);
        if let Some(d) = dependabot {
            repo.write(".github/dependabot.yml", d);
        }
        let f = findings(&repo, "auto-merge-to-prod");
        assert_eq!(f.len(), 1, "{workflow}\n{f:#?}");
        assert!(f[0].message.contains(why), "{why} not in {}", f[0].message);
        assert_eq!(f[0].location.route.as_deref(), Some("/jobs/merge/steps/1/run"));
    }
}

#[test]
fn workflow_deploy_detection() {
    let repo = TempRepo::new("deploy");
    repo.write(
        ".github/workflows/ci.yml",
        "on: pull_request\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test prod-config-check\n  lint-prod:\n    runs-on: ubuntu-latest\n    steps:\n      - run: kubeconform overlays/prod\n",
    );
    // Jobs that mention prod but deploy nothing are not deploy jobs.
    assert!(findings(&repo, "prod-deploy-without-environment").is_empty());
    repo.write(
        ".github/workflows/cd.yml",
        "on: push\njobs:\n  ship:\n    runs-on: ubuntu-latest\n    steps:\n      - run: helm upgrade shop ./chart --kube-context production\n",
    );
    let f = findings(&repo, "prod-deploy-without-environment");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].location.path.as_str(), f[0].location.span.start.line), (".github/workflows/cd.yml", 3));
}

/// Package rules narrowed by what they match: the files the managers they
/// name (or the managers of their datasources and dependency types) edit,
/// and the files that mention the packages they name.
#[test]
fn renovate_package_rules_are_narrowed_by_their_match_fields() {
    let repo_with = |config: &str| {
        let repo = renovate_repo(config);
        repo.write(".github/workflows/ci.yml", "on: push\njobs: {}\n");
        repo.write(
            "environments/prod/app/deploy.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nginx-config}\n",
        );
        repo
    };
    for config in [
        // GitHub Actions updates edit workflows only.
        r#"{"packageRules": [{"matchManagers": ["github-actions"], "automerge": true}]}"#,
        r#"{"packageRules": [{"matchManagers": ["pre-commit", "renovate-config"], "automerge": true}]}"#,
        r#"{"packageRules": [{"matchDepTypes": ["action"], "automerge": true}]}"#,
        r#"{"packageRules": [{"matchDatasources": ["npm"], "automerge": true}]}"#,
        // The kubernetes manager edits nothing until it is given patterns.
        r#"{"packageRules": [{"matchManagers": ["kubernetes"], "automerge": true}]}"#,
        // A package no prod file mentions.
        r#"{"packageRules": [{"matchPackageNames": ["postgres"], "automerge": true}]}"#,
    ] {
        let repo = repo_with(config);
        let f = findings(&repo, "auto-merge-to-prod");
        assert!(f.is_empty(), "{config}: {f:#?}");
    }
    for config in [
        // Kustomize edits every kustomization.yaml, prod's included.
        r#"{"packageRules": [{"matchManagers": ["kustomize"], "automerge": true}]}"#,
        r#"{"packageRules": [{"matchDatasources": ["docker"], "matchManagers": ["kustomize"], "automerge": true}]}"#,
        // Configured patterns reach prod.
        r#"{"kubernetes": {"managerFilePatterns": ["/environments/.+\\.yaml$/"]}, "packageRules": [{"matchManagers": ["kubernetes"], "automerge": true}]}"#,
        // A package a prod file mentions.
        r#"{"packageRules": [{"matchPackageNames": ["nginx-config"], "automerge": true}]}"#,
        // A datasource tollgate does not know narrows nothing.
        r#"{"packageRules": [{"matchDatasources": ["some-new-datasource"], "automerge": true}]}"#,
    ] {
        let repo = repo_with(config);
        let f = findings(&repo, "auto-merge-to-prod");
        assert_eq!(f.len(), 1, "{config}: {f:#?}");
    }
}

/// Names of apps and charts in ApplicationSet generator elements do not make
/// it a dev one; a `clusters` generator without a selector reaches prod.
#[test]
fn applicationset_generators_name_places_not_apps() {
    let appset = |generators: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: tools}}\nspec:\n  generators:\n{generators}  template:\n    metadata: {{name: '{{{{name}}}}'}}\n    spec:\n      project: default\n      source: {{repoURL: https://github.com/acme/charts, chart: '{{{{chart}}}}', targetRevision: 1.2.3}}\n      destination: {{server: https://kubernetes.default.svc, namespace: tools}}\n"
        )
    };
    let lower = |generators: &str| {
        let repo = TempRepo::new("appset-scope");
        repo.write("argocd/tools.yaml", appset(generators));
        findings(&repo, "lower-env-drift-uncorrected").len()
    };
    // An app called test-runner and a chart called dev-tools say nothing of
    // where they deploy.
    assert_eq!(lower("  - list:\n      elements:\n      - {name: test-runner, chart: dev-tools}\n"), 0);
    // Every cluster, prod's included.
    assert_eq!(
        lower(
            "  - matrix:\n      generators:\n      - clusters: {}\n      - list:\n          elements:\n          - {env: dev}\n"
        ),
        0
    );
    // An element that names its environment does.
    assert_eq!(lower("  - list:\n      elements:\n      - {env: dev, name: tools, chart: tools}\n"), 1);
}
