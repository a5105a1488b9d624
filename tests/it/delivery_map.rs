//! The delivery map (`tollgate map`) of a repository with one application
//! per promotion style: human pull requests only, Flux image automation,
//! Argo CD Image Updater write-back, Kargo promotion; and the job summary of
//! a range check, which shows the rows of the applications the change
//! touches.

use super::support::{TempRepo, git, governed, stderr, stdout, tollgate};

fn overlays(repo: &TempRepo, app: &str, workload: &str) {
    repo.write(&format!("apps/{app}/base/kustomization.yaml"), "resources: [workload.yaml]\n");
    repo.write(&format!("apps/{app}/base/workload.yaml"), workload);
    for env in ["dev", "staging", "prod"] {
        repo.write(
            &format!("apps/{app}/overlays/{env}/kustomization.yaml"),
            format!("resources: [../../base]\nnamespace: {app}-{env}\n"),
        );
    }
}

fn deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: ghcr.io/acme/{name}@sha256:0123456789012345678901234567890123456789012345678901234567890123\n"
    )
}

fn application(name: &str, path: &str, sync: &str, annotations: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n{annotations}spec:\n  project: default\n  source: {{repoURL: 'https://github.com/acme/gitops', targetRevision: main, path: {path}}}\n  destination: {{server: 'https://kubernetes.default.svc', namespace: {name}}}\n{sync}"
    )
}

fn repository() -> TempRepo {
    let repo = TempRepo::new("delivery-map");
    let out = git(&repo.path, &["init", "-q"]);
    assert!(out.status.success());
    governed(&repo);
    repo.write(".github/CODEOWNERS", "* @acme/platform\n/apps/*/overlays/prod/ @acme/sre\n");
    // web: pull requests only; Argo CD self-heals prod (a gap).
    overlays(&repo, "web", &deployment("web"));
    repo.write(
        "argocd/web-prod.yaml",
        application("web-prod", "apps/web/overlays/prod", "  syncPolicy: {automated: {selfHeal: true}}\n", ""),
    );
    // api: Flux image automation writes dev; Flux applies prod; an Argo
    // Rollouts canary with analysis.
    overlays(
        &repo,
        "api",
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: api}\nspec:\n  strategy:\n    canary:\n      steps:\n        - setWeight: 20\n        - analysis: {templates: [{templateName: success-rate}]}\n  template:\n    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api@sha256:0123456789012345678901234567890123456789012345678901234567890123\n",
    );
    repo.write(
        "apps/api/base/analysis.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: success-rate}\nspec:\n  metrics:\n    - name: success\n      provider: {prometheus: {query: up}}\n",
    );
    repo.write("apps/api/base/kustomization.yaml", "resources: [workload.yaml, analysis.yaml]\n");
    repo.write(
        "clusters/dev/image-automation.yaml",
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\nmetadata: {name: api-dev, namespace: flux-system}\nspec:\n  sourceRef: {kind: GitRepository, name: flux-system}\n  git: {commit: {author: {name: flux, email: flux@example.com}}, push: {branch: main}}\n  update: {path: ./apps/api/overlays/dev, strategy: Setters}\n",
    );
    repo.write(
        "clusters/prod/api.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: api-prod, namespace: flux-system}\nspec:\n  interval: 10m\n  path: ./apps/api/overlays/prod\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    );
    // pay: Argo CD Image Updater writes staging back to git; a Flagger canary.
    overlays(&repo, "pay", &deployment("pay"));
    repo.write(
        "apps/pay/base/canary.yaml",
        "apiVersion: flagger.app/v1beta1\nkind: Canary\nmetadata: {name: pay}\nspec:\n  targetRef: {apiVersion: apps/v1, kind: Deployment, name: pay}\n  analysis:\n    interval: 1m\n    threshold: 5\n    metrics:\n      - {name: request-success-rate, thresholdRange: {min: 99}, interval: 1m}\n",
    );
    repo.write("apps/pay/base/kustomization.yaml", "resources: [workload.yaml, canary.yaml]\n");
    repo.write(
        "argocd/pay-staging.yaml",
        application(
            "pay-staging",
            "apps/pay/overlays/staging",
            "  syncPolicy: {automated: {prune: true, selfHeal: true}}\n",
            "  annotations:\n    argocd-image-updater.argoproj.io/image-list: pay=ghcr.io/acme/pay\n    argocd-image-updater.argoproj.io/write-back-method: git\n",
        ),
    );
    // cart: Kargo promotes prod by hand.
    overlays(&repo, "cart", &deployment("cart"));
    repo.write(
        "kargo/cart-prod.yaml",
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: prod, namespace: cart}\nspec:\n  requestedFreight: [{origin: {kind: Warehouse, name: cart}, sources: {stages: [staging]}}]\n  promotionTemplate:\n    spec:\n      steps:\n        - uses: kustomize-set-image\n          config: {path: ./apps/cart/overlays/prod, images: [{image: ghcr.io/acme/cart}]}\n",
    );
    let out = git(&repo.path, &["add", "-A"]);
    assert!(out.status.success());
    let out = git(&repo.path, &["commit", "-q", "-m", "base"]);
    assert!(out.status.success());
    repo
}

#[test]
fn one_application_per_promotion_style() {
    let repo = repository();
    let out = tollgate(&repo.path, &["map", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    insta::assert_snapshot!("delivery_map_markdown", md);

    let out = tollgate(&repo.path, &["map", ".", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let row = |root: &str| {
        rows.as_array().expect("rows").iter().find(|r| r["root"] == root).unwrap_or_else(|| panic!("{root}: {rows:#}"))
    };
    assert_eq!(row("apps/web/overlays/prod")["arrives"]["text"], "pull request");
    assert_eq!(row("apps/web/overlays/prod")["automated"], false);
    assert_eq!(row("apps/web/overlays/prod")["reconciler"]["text"], "Argo CD web-prod (auto-sync, self-heal)");
    assert_eq!(row("apps/api/overlays/dev")["arrives"]["text"], "pull request, Flux image automation (git write-back)");
    let api_prod = "apps/api/overlays/prod (Flux clusters/prod/api.yaml)";
    assert_eq!(row(api_prod)["rollout"]["text"], "Argo Rollouts canary with analysis");
    assert_eq!(row(api_prod)["reconciler"]["text"], "Flux api-prod (reconciles on its interval, prune)");
    assert_eq!(
        row("apps/pay/overlays/staging")["arrives"]["text"],
        "pull request, Argo CD Image Updater (git write-back)"
    );
    assert_eq!(row("apps/pay/overlays/staging")["rollout"]["text"], "Flagger canary (threshold 5, 1 metric(s))");
    assert_eq!(
        row("apps/cart/overlays/prod")["arrives"]["text"],
        "pull request, Kargo promotion by hand (stage prod, no pull request)"
    );
    assert_eq!(row("apps/cart/overlays/prod")["automated"], false);
    assert!(
        row("apps/cart/overlays/prod")["approval"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("owners @acme/sre, 1 approval(s), code-owner review, signed commits")),
        "{rows:#}"
    );
    // A gap a rule reports is marked in its cell.
    assert!(
        row("apps/web/overlays/prod")["reconciler"]["gaps"][0].as_str().is_some_and(
            |g| g.starts_with("prod-self-heal: Prod Application `web-prod` (prod through spec.source.path")
        ),
        "{rows:#}"
    );
    let out = tollgate(&repo.path, &["map", ".", "--format", "mermaid"]);
    let chart = stdout(&out);
    assert!(chart.starts_with("flowchart LR\n"), "{chart}");
    assert!(chart.contains("subgraph app0[\"api\"]"), "{chart}");
}

#[test]
fn the_job_summary_of_a_range_shows_the_applications_it_touches() {
    let repo = repository();
    let out = git(&repo.path, &["checkout", "-q", "-b", "change"]);
    assert!(out.status.success());
    repo.write("apps/pay/base/workload.yaml", deployment("pay").replace("0123", "4567"));
    let out = git(&repo.path, &["commit", "-q", "-a", "-m", "pay"]);
    assert!(out.status.success());
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--format", "markdown"]);
    let md = stdout(&out);
    let section = &md[md.find("### Delivery of the applications this change touches").expect("the map's rows")..];
    assert_eq!(section.matches("| pay <br>").count(), 3, "{section}");
    assert!(!section.contains("| web <br>") && !section.contains("| api <br>"), "{section}");
    let out = tollgate(&repo.path, &["check", ".", "--base", "main", "--format", "markdown", "--no-delivery-map"]);
    assert!(!stdout(&out).contains("### Delivery of the applications"), "{}", stdout(&out));
}
