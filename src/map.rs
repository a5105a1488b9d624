//! The delivery map (`tollgate map`): for each application and environment
//! of the repository (each rendered root), how a change arrives, who must
//! approve it, which reconciler applies it, how it rolls out, and whether a
//! `git revert` brings back what ran before. Every cell is derived from the
//! repository's own files, and a finding of a rule about that cell marks it
//! as a gap (`⚠`, with the rule id).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tollgate_core::{CheckReport, Finding, Node, Rendered, RepositoryModel, RuleId, Tier};
use tollgate_report::markdown_text;

/// One cell: what the repository says, and the rules that report a gap there.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// What the repository says.
    pub text: String,
    /// The gaps: `rule-id: first sentence of the finding`.
    pub gaps: Vec<String>,
}

/// One application in one environment.
#[derive(Debug, Clone)]
pub struct Row {
    /// The application (`shop` of `apps/shop/overlays/prod`).
    pub application: String,
    /// The environment (`prod`), if the root's path or reconciler names one.
    pub environment: Option<String>,
    /// Whether it is protected.
    pub protected: bool,
    /// The rendered root.
    pub root: String,
    /// How a change arrives: human pull requests, automation.
    pub arrives: Cell,
    /// Whether an automation can bring a change here without a person.
    pub automated: bool,
    /// Who must approve it.
    pub approval: Cell,
    /// What applies it to the cluster.
    pub reconciler: Cell,
    /// How it rolls out.
    pub rollout: Cell,
    /// Whether `git revert` restores what ran before.
    pub revert: Cell,
    /// The files the root's render reads.
    pub files: Vec<String>,
    rank: u8,
}

/// The map: one row per application and environment, applications in
/// name order, environments from dev to prod.
pub fn delivery_map(report: &CheckReport) -> Vec<Row> {
    let model = &report.model;
    let owners = codeowners(model);
    let protection = tollgate_owners::protection::sources(model);
    let mut rows: Vec<Row> = model
        .renders()
        .rendered
        .iter()
        .map(|r| row(r, model, &report.findings, owners.as_ref(), &protection))
        .collect();
    rows.sort_by(|a, b| (&a.application, a.rank, &a.root).cmp(&(&b.application, b.rank, &b.root)));
    rows
}

fn row(
    render: &Rendered,
    model: &RepositoryModel,
    findings: &[Finding],
    owners: Option<&tollgate_owners::codeowners::CodeOwners>,
    protection: &[tollgate_owners::protection::ProtectionSource],
) -> Row {
    let environment = render.file.environment.and_then(|i| model.environments.get(i));
    let protected = environment.is_some_and(|e| e.protected);
    let about = |f: &&Finding| f.renders.contains(&render.root) || render.files.contains(&f.location.path);
    let gaps = |rules: &[RuleId], filter: &dyn Fn(&Finding) -> bool| -> Vec<String> {
        let mut out: Vec<String> = findings
            .iter()
            .filter(|f| !f.is_suppressed() && rules.iter().any(|r| f.rule_id == *r) && filter(f))
            .map(|f| format!("{}: {}", f.rule_id, first_sentence(&f.message)))
            .collect();
        out.sort();
        out.dedup();
        out
    };
    // A root deployed by a Flux object is named `path (Flux file)`.
    let path = render.root.split(" (").next().unwrap_or(&render.root);
    let apps = reconcilers(model, path);
    let (arrives, automated) = arrives(
        model,
        render,
        path,
        &apps,
        &gaps(&[RuleId::AutoMergeToProd], &|f| protected && (f.message.contains(path) || about(&f))),
    );
    // Branch protection is about the whole repository: its gaps mark prod rows.
    let approval = approval(
        render,
        owners,
        protection,
        gaps(&[RuleId::ProdPathUnowned, RuleId::ProdReviewNotRequired], &|f| {
            about(&f) || (protected && f.rule_id == RuleId::ProdReviewNotRequired)
        }),
    );
    let reconciler_files: Vec<&str> = apps.iter().map(|(path, _)| path.as_str()).collect();
    let reconciler = reconciler(
        &apps,
        gaps(
            &[RuleId::ProdSelfHeal, RuleId::ProdAutoPrune, RuleId::AllowEmptySync, RuleId::LowerEnvDriftUncorrected],
            &|f| reconciler_files.contains(&f.location.path.as_str()),
        ),
    );
    let rollout = rollout(
        render,
        gaps(
            &[RuleId::RolloutWithoutAnalysis, RuleId::CanaryWithoutThresholds, RuleId::AnalysisTemplateMissing],
            &|f| about(&f),
        ),
    );
    let revert_gaps =
        gaps(&[RuleId::MutableImageRef, RuleId::UnpinnedChart, RuleId::UnpinnedRemoteBase], &|f| about(&f));
    let revert = Cell {
        text: if revert_gaps.is_empty() {
            "yes: images and charts pinned".to_owned()
        } else {
            "no: what ran before cannot be named".to_owned()
        },
        gaps: revert_gaps,
    };
    Row {
        application: application(path),
        environment: environment.map(|e| e.name.clone()),
        protected,
        root: render.root.clone(),
        arrives,
        automated,
        approval,
        reconciler,
        rollout,
        revert,
        files: render.files.clone(),
        rank: environment.map_or(2, |e| match e.tier {
            Tier::Dev => 0,
            Tier::Staging => 1,
            Tier::Other => 2,
            Tier::Prod => 3,
        }),
    }
}

/// `shop` of `apps/shop/overlays/prod`, `apps/shop/prod` or `shop/prod`;
/// the root itself when its path names no environment directory.
fn application(root: &str) -> String {
    let parts: Vec<&str> = root.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    if let Some(i) = parts.iter().position(|p| matches!(*p, "overlays" | "overlay" | "envs" | "environments"))
        && i > 0
    {
        return parts[i - 1].to_owned();
    }
    let names_environment = |segment: &str| {
        tollgate_gitops::scope::default_environments().for_path(&format!("{segment}/kustomization.yaml")).is_some()
    };
    if parts.len() >= 2 && names_environment(parts[parts.len() - 1]) {
        return parts[parts.len() - 2].to_owned();
    }
    root.to_owned()
}

fn first_sentence(message: &str) -> &str {
    message.find(". ").map_or(message, |i| &message[..=i])
}

fn at<'a>(node: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    keys.iter().try_fold(node, |n, k| n.get_key(k))
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_end_matches('/')
}

/// The Argo CD Applications and Flux Kustomizations that deploy `root`:
/// (their file, their object).
fn reconcilers<'m>(model: &'m RepositoryModel, root: &str) -> Vec<(String, &'m Node)> {
    let mut out = Vec::new();
    for file in &model.files {
        for doc in &file.documents {
            let node = &doc.root;
            let kind = node.get_key("kind").and_then(Node::as_str).unwrap_or_default();
            let api = node.get_key("apiVersion").and_then(Node::as_str).unwrap_or_default();
            let paths: Vec<&str> = match (kind, api.split('/').next().unwrap_or_default()) {
                ("Application", "argoproj.io") => {
                    let mut p: Vec<&str> =
                        at(node, &["spec", "source", "path"]).and_then(Node::as_str).into_iter().collect();
                    if let Some(sources) = at(node, &["spec", "sources"]).and_then(Node::as_sequence) {
                        p.extend(sources.iter().filter_map(|s| s.get_key("path").and_then(Node::as_str)));
                    }
                    p
                }
                ("Kustomization", "kustomize.toolkit.fluxcd.io") => {
                    at(node, &["spec", "path"]).and_then(Node::as_str).into_iter().collect()
                }
                _ => continue,
            };
            if paths.iter().any(|p| normalize(p) == root) {
                out.push((file.path.clone(), node));
            }
        }
    }
    out
}

fn arrives(
    model: &RepositoryModel,
    render: &Rendered,
    path: &str,
    apps: &[(String, &Node)],
    gaps: &[String],
) -> (Cell, bool) {
    let mut ways = vec!["pull request".to_owned()];
    let mut automated = !gaps.is_empty();
    // Kargo stages that promote automatically (a Project's promotion policy).
    let mut auto_stages: Vec<&str> = Vec::new();
    for file in &model.files {
        for doc in &file.documents {
            let node = &doc.root;
            if node.get_key("kind").and_then(Node::as_str) == Some("Project")
                && node.get_key("apiVersion").and_then(Node::as_str).is_some_and(|a| a.starts_with("kargo.akuity.io/"))
            {
                let policies = at(node, &["spec", "promotionPolicies"]).and_then(Node::as_sequence).unwrap_or_default();
                auto_stages.extend(
                    policies
                        .iter()
                        .filter(|p| p.get_key("autoPromotionEnabled").and_then(Node::as_bool) == Some(true))
                        .filter_map(|p| p.get_key("stage").and_then(Node::as_str)),
                );
            }
        }
    }
    // Flux image automation writing back into the root's files.
    for file in &model.files {
        for doc in &file.documents {
            let node = &doc.root;
            if node.get_key("kind").and_then(Node::as_str) == Some("ImageUpdateAutomation")
                && let Some(path) = at(node, &["spec", "update", "path"]).and_then(Node::as_str)
            {
                let path = normalize(path);
                if path.is_empty() || render.files.iter().any(|f| f == path || f.starts_with(&format!("{path}/"))) {
                    ways.push("Flux image automation (git write-back)".to_owned());
                    automated = true;
                }
            }
            // Kargo: a Stage whose promotion writes the root.
            if node.get_key("kind").and_then(Node::as_str) == Some("Stage")
                && node.get_key("apiVersion").and_then(Node::as_str).is_some_and(|a| a.starts_with("kargo.akuity.io/"))
                && doc_mentions(&file.text, doc, path)
            {
                let stage = at(node, &["metadata", "name"]).and_then(Node::as_str).unwrap_or_default();
                if auto_stages.contains(&stage) {
                    ways.push(format!("Kargo auto-promotion (stage {stage})"));
                    automated = true;
                } else {
                    ways.push(format!("Kargo promotion by hand (stage {stage}, no pull request)"));
                }
            }
        }
    }
    for (_, app) in apps {
        let annotations = at(app, &["metadata", "annotations"]);
        let method = annotations
            .and_then(|a| a.get_key("argocd-image-updater.argoproj.io/write-back-method"))
            .and_then(Node::as_str);
        if annotations.and_then(|a| a.get_key("argocd-image-updater.argoproj.io/image-list")).is_some() {
            if method.is_some_and(|m| m.starts_with("git")) {
                ways.push("Argo CD Image Updater (git write-back)".to_owned());
            } else {
                ways.push("Argo CD Image Updater (in the cluster, not in git)".to_owned());
            }
            automated = true;
        }
    }
    for config in tollgate_gitops::renovate::configs(model) {
        if config.root.get_key("automerge").and_then(Node::as_bool) == Some(true) {
            ways.push(format!("Renovate automerge ({})", config.file.path));
            automated = true;
        }
    }
    if !gaps.is_empty() {
        ways.push("automation reported by auto-merge-to-prod".to_owned());
    }
    ways.dedup();
    (Cell { text: ways.join(", "), gaps: gaps.to_vec() }, automated)
}

/// Whether the text of `doc` in its file mentions `root`.
fn doc_mentions(text: &str, doc: &tollgate_core::Document, root: &str) -> bool {
    let span = doc.root.span;
    text.get(span.start.offset as usize..span.end.offset as usize).is_some_and(|t| t.contains(root))
}

fn codeowners(model: &RepositoryModel) -> Option<tollgate_owners::codeowners::CodeOwners> {
    tollgate_owners::codeowners::LOCATIONS.iter().find_map(|location| {
        // In a range check the base commit's CODEOWNERS decides.
        let text = match model.range.as_ref().and_then(|r| r.base_files.get(*location)) {
            Some(text) => text.clone(),
            None => std::fs::read_to_string(model.root.join(location)).ok()?,
        };
        Some(tollgate_owners::codeowners::CodeOwners::parse(location, &text))
    })
}

fn approval(
    render: &Rendered,
    owners: Option<&tollgate_owners::codeowners::CodeOwners>,
    protection: &[tollgate_owners::protection::ProtectionSource],
    gaps: Vec<String>,
) -> Cell {
    let mut parts = Vec::new();
    let kustomization = owners.and_then(|o| o.owners_of(&render.kustomization));
    match kustomization {
        Some(rule) if !rule.owners.is_empty() => parts.push(format!("owners {}", rule.owners.join(" "))),
        _ => parts.push("no CODEOWNERS owner".to_owned()),
    }
    let required = protection.iter().filter(|p| p.enforced).find_map(|p| p.pull_request.clone().map(|pr| (p, pr)));
    if let Some((source, pr)) = required {
        parts.push(format!("{} approval(s)", pr.approvals));
        if pr.code_owners {
            parts.push("code-owner review".to_owned());
        }
        if source.signed_commits {
            parts.push("signed commits".to_owned());
        }
    } else {
        parts.push("no required review".to_owned());
    }
    Cell { text: parts.join(", "), gaps }
}

fn reconciler(apps: &[(String, &Node)], gaps: Vec<String>) -> Cell {
    if apps.is_empty() {
        return Cell { text: "none in the repository".to_owned(), gaps };
    }
    let mut parts = Vec::new();
    for (_, app) in apps {
        let name = at(app, &["metadata", "name"]).and_then(Node::as_str).unwrap_or("?");
        let kind = app.get_key("kind").and_then(Node::as_str).unwrap_or_default();
        let mut how = Vec::new();
        if kind == "Application" {
            match at(app, &["spec", "syncPolicy", "automated"]) {
                Some(auto) => {
                    how.push("auto-sync");
                    if auto.get_key("selfHeal").and_then(Node::as_bool) == Some(true) {
                        how.push("self-heal");
                    }
                    if auto.get_key("prune").and_then(Node::as_bool) == Some(true) {
                        how.push("prune");
                    }
                }
                None => how.push("manual sync"),
            }
            parts.push(format!("Argo CD {name} ({})", how.join(", ")));
        } else {
            how.push("reconciles on its interval");
            if at(app, &["spec", "prune"]).and_then(Node::as_bool) == Some(true) {
                how.push("prune");
            }
            if at(app, &["spec", "driftDetection", "mode"]).and_then(Node::as_str) == Some("enabled") {
                how.push("drift correction");
            }
            if at(app, &["spec", "suspend"]).and_then(Node::as_bool) == Some(true) {
                how.push("suspended");
            }
            parts.push(format!("Flux {name} ({})", how.join(", ")));
        }
    }
    Cell { text: parts.join("; "), gaps }
}

fn rollout(render: &Rendered, gaps: Vec<String>) -> Cell {
    let mut ways = Vec::new();
    for doc in &render.file.documents {
        let node = &doc.root;
        let api = node.get_key("apiVersion").and_then(Node::as_str).unwrap_or_default();
        match node.get_key("kind").and_then(Node::as_str) {
            Some("Rollout") if api.starts_with("argoproj.io/") => {
                let strategy = at(node, &["spec", "strategy"]);
                let canary = strategy.and_then(|s| s.get_key("canary"));
                let blue_green = strategy.and_then(|s| s.get_key("blueGreen"));
                let analysis = canary.is_some_and(|c| {
                    c.get_key("analysis").is_some()
                        || c.get_key("steps")
                            .and_then(Node::as_sequence)
                            .is_some_and(|s| s.iter().any(|x| x.get_key("analysis").is_some()))
                }) || blue_green.is_some_and(|b| {
                    b.get_key("prePromotionAnalysis").is_some() || b.get_key("postPromotionAnalysis").is_some()
                });
                let kind = if canary.is_some() {
                    "canary"
                } else if blue_green.is_some() {
                    "blue-green"
                } else {
                    "rollout"
                };
                ways.push(format!(
                    "Argo Rollouts {kind}{}",
                    if analysis { " with analysis" } else { " without analysis" }
                ));
            }
            Some("Canary") if api.starts_with("flagger.app/") => {
                let threshold = at(node, &["spec", "analysis", "threshold"]).and_then(Node::as_i64);
                let metrics =
                    at(node, &["spec", "analysis", "metrics"]).and_then(Node::as_sequence).map_or(0, <[Node]>::len);
                ways.push(match threshold {
                    Some(t) => format!("Flagger canary (threshold {t}, {metrics} metric(s))"),
                    None => "Flagger canary (no threshold)".to_owned(),
                });
            }
            _ => {}
        }
    }
    ways.sort();
    ways.dedup();
    let has_workloads = render.file.documents.iter().any(|d| {
        matches!(d.root.get_key("kind").and_then(Node::as_str), Some("Deployment" | "StatefulSet" | "DaemonSet"))
    });
    let text = if ways.is_empty() {
        if has_workloads { "plain: all at once".to_owned() } else { "no workload".to_owned() }
    } else {
        ways.join(", ")
    };
    Cell { text, gaps }
}

/// The map as Markdown: a Mermaid flowchart per application (dev → staging
/// → prod, each hop labelled `auto` or `human`) and the table.
pub fn markdown(rows: &[Row], title: &str) -> String {
    let mut out = format!("## {title}\n\n");
    if rows.is_empty() {
        out.push_str("No rendered application.\n");
        return out;
    }
    out.push_str("```mermaid\n");
    out.push_str(&mermaid(rows));
    out.push_str("```\n\n");
    out.push_str(&table(rows));
    out
}

/// The table alone (the job summary's rows of the applications a change touches).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| application | environment | arrives by | approved by | applied by | rolls out | `git revert` restores |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let env = match (&r.environment, r.protected) {
            (Some(e), true) => format!("**{}**", markdown_text(e)),
            (Some(e), false) => markdown_text(e),
            (None, _) => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} <br><sub>{}</sub> | {env} | {} | {} | {} | {} | {} |",
            markdown_text(&r.application),
            markdown_text(&r.root),
            cell(&r.arrives),
            cell(&r.approval),
            cell(&r.reconciler),
            cell(&r.rollout),
            cell(&r.revert)
        );
    }
    out
}

fn cell(c: &Cell) -> String {
    let mut s = markdown_text(&c.text);
    for gap in &c.gaps {
        let _ = write!(s, "<br>⚠ {}", markdown_text(gap));
    }
    s
}

/// A Mermaid flowchart: one subgraph per application, its environments in
/// promotion order, each hop labelled `auto` when an automation can bring
/// the change into the later environment, else `human`.
pub fn mermaid(rows: &[Row]) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut apps: BTreeMap<&str, Vec<(usize, &Row)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        apps.entry(r.application.as_str()).or_default().push((i, r));
    }
    for (a, (app, envs)) in apps.iter().enumerate() {
        let _ = writeln!(out, "  subgraph app{a}[\"{}\"]", label(app));
        for (i, r) in envs {
            let name = r.environment.as_deref().unwrap_or(&r.root);
            let gap =
                [&r.arrives, &r.approval, &r.reconciler, &r.rollout, &r.revert].iter().any(|c| !c.gaps.is_empty());
            let _ = writeln!(out, "    n{i}[\"{}{}\"]", label(name), if gap { " ⚠" } else { "" });
        }
        out.push_str("  end\n");
        for pair in envs.windows(2) {
            let ((from, _), (to, target)) = (pair[0], pair[1]);
            let _ = writeln!(out, "  n{from} -->|{}| n{to}", if target.automated { "auto" } else { "human" });
        }
    }
    out
}

/// A Mermaid label: no quotes, brackets or markup.
fn label(text: &str) -> String {
    text.chars().map(|c| if c.is_alphanumeric() || " -_./:".contains(c) { c } else { '_' }).collect()
}

/// The map as JSON.
pub fn json(rows: &[Row]) -> serde_json::Value {
    let cell = |c: &Cell| serde_json::json!({"text": c.text, "gaps": c.gaps});
    serde_json::Value::Array(
        rows.iter()
            .map(|r| {
                serde_json::json!({
                    "application": r.application,
                    "environment": r.environment,
                    "protected": r.protected,
                    "root": r.root,
                    "arrives": cell(&r.arrives),
                    "automated": r.automated,
                    "approval": cell(&r.approval),
                    "reconciler": cell(&r.reconciler),
                    "rollout": cell(&r.rollout),
                    "revert": cell(&r.revert),
                })
            })
            .collect(),
    )
}
