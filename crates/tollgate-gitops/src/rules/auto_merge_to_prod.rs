//! `auto-merge-to-prod`: automation that merges or pushes into prod without a
//! human approval.

use regex::Regex;
use tollgate_core::{
    DocumentContext, FileKind, Finding, Judged, Node, ObjectKind, RepositoryContext, Route, Rule, RuleId, SourceFile,
};

use crate::renovate::{self, PathPattern};
use crate::scope::{Scope, cached_document_scope, path_scope, text_scope};
use crate::workflows::{Job, Step, Workflow, Workflows};

/// Reports workflow merge/approve/push steps, Renovate `automerge`, Flux
/// `ImageUpdateAutomation`, Argo CD Image Updater git write-back and Kargo
/// auto-promotion that reach a protected path.
pub(crate) struct AutoMergeToProd;

const AUTO_MERGE_ACTIONS: [&str; 11] = [
    "pascalgn/automerge-action",
    "peter-evans/enable-pull-request-automerge",
    "ahmadnassri/action-dependabot-auto-merge",
    "fastify/github-action-merge-dependabot",
    "hmarr/auto-approve-action",
    "juliangruber/merge-pull-request-action",
    "juliangruber/approve-pull-request-action",
    "reitermarkus/automerge",
    "KeisukeYamashita/auto-pull-request-merge",
    "stefanzweifel/git-auto-commit-action",
    "EndBug/add-and-commit",
];

/// Where a `git push` pushes a branch to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Push {
    /// The checked-out branch (`git push`, `git push origin`, `git push
    /// origin HEAD`).
    CheckedOut,
    /// A named branch.
    Branch(String),
}

/// Where a step's `git push` commands push to, if any pushes a branch.
fn pushed_branch(run: &str) -> Option<Push> {
    let mut found: Option<Push> = None;
    for command in run.split(['\n', ';', '&', '|']) {
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(at) = words.windows(2).position(|w| w == ["git", "push"]) else { continue };
        let args = &words[at + 2..];
        if args.iter().any(|a| matches!(*a, "--tags" | "--delete" | "-d" | "--dry-run" | "-n")) {
            continue;
        }
        let positional: Vec<&str> = args.iter().copied().filter(|a| !a.starts_with('-')).collect();
        let target = match positional.get(1) {
            None => Push::CheckedOut,
            Some(refspec) => {
                let dst = refspec.rsplit(':').next().unwrap_or(refspec).trim_start_matches('+');
                let dst = dst.strip_prefix("refs/heads/").unwrap_or(dst);
                if dst == "HEAD" { Push::CheckedOut } else { Push::Branch(dst.to_owned()) }
            }
        };
        // A push to the default branch wins over one elsewhere.
        let default = match &target {
            Push::CheckedOut => true,
            Push::Branch(b) => is_default_branch(b),
        };
        if default || found.is_none() {
            found = Some(target);
        }
    }
    found
}

/// A branch name that is the default branch.
fn is_default_branch(branch: &str) -> bool {
    matches!(branch, "main" | "master")
        || branch.contains("github.event.repository.default_branch")
        || branch.contains("github.ref_name")
}

/// Whether the job works on the default branch: it checks out no other
/// ref, and the workflow runs on the default branch (a push to it, a
/// schedule, a manual or repository dispatch), not only on pull requests.
fn on_default_branch(workflow: &Workflow, job: &Job) -> bool {
    let checkout_elsewhere = job.steps.iter().any(|s| {
        s.uses.starts_with("actions/checkout") && s.input("ref").is_some_and(|r| !is_default_branch(r.trim()))
    });
    if checkout_elsewhere {
        return false;
    }
    let default_triggers = ["schedule", "workflow_dispatch", "repository_dispatch", "workflow_run", "release"];
    workflow.triggers.iter().any(|t| default_triggers.contains(&t.as_str()))
        || (workflow.triggers.contains("push")
            && (workflow.push_branches.is_empty() || workflow.push_branches.iter().any(|b| is_default_branch(b))))
}

fn merge_api() -> &'static Regex {
    static RE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r"pulls/[^\s/]+/merge\b").expect("a constant pattern, compiled by the workflow fixtures")
    });
    &RE
}

/// What a step does that bypasses a human merge, if anything.
fn merge_action(workflow: &Workflow, job: &Job, step: &Step) -> Option<String> {
    let run = step.run.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = run.to_ascii_lowercase();
    if lower.contains("gh pr merge") {
        let flags: Vec<&str> = ["--auto", "--admin"].into_iter().filter(|f| lower.contains(f)).collect();
        return Some(if flags.is_empty() {
            "runs `gh pr merge`".to_owned()
        } else {
            format!("runs `gh pr merge {}`", flags.join(" "))
        });
    }
    if lower.contains("gh pr review") && (lower.contains("--approve") || lower.contains(" -a")) {
        return Some("approves the pull request with `gh pr review --approve`".to_owned());
    }
    if merge_api().is_match(&lower) || lower.contains("mergepullrequest") {
        return Some("calls the pull-request merge API".to_owned());
    }
    if lower.contains("enablepullrequestautomerge") {
        return Some("enables auto-merge through the GraphQL API".to_owned());
    }
    match pushed_branch(&run) {
        Some(Push::Branch(branch)) if is_default_branch(&branch) => {
            return Some(format!("pushes straight to the default branch (`{branch}`)"));
        }
        Some(Push::CheckedOut) if on_default_branch(workflow, job) => {
            return Some("pushes straight to the default branch it checked out".to_owned());
        }
        _ => {}
    }
    let uses = step.uses.to_ascii_lowercase();
    if let Some(action) = AUTO_MERGE_ACTIONS.iter().find(|a| uses.starts_with(&a.to_ascii_lowercase())) {
        // Commit actions push to their `branch` input, else to the branch
        // the job checked out.
        if action.contains("git-auto-commit") || action.contains("add-and-commit") {
            let branch = step.input("branch").or_else(|| step.input("new_branch")).map(str::trim);
            return match branch {
                Some(b) if is_default_branch(b) => Some(format!("uses `{action}` to push to `{b}`")),
                Some(_) => None,
                None if on_default_branch(workflow, job) => {
                    Some(format!("uses `{action}`, which pushes to the default branch it checked out"))
                }
                None => None,
            };
        }
        return Some(format!("uses `{action}`"));
    }
    if uses.starts_with("actions/github-script") {
        let script = step.input("script").unwrap_or_default().to_ascii_lowercase();
        if script.contains("pulls.merge") || script.contains("enablepullrequestautomerge") {
            return Some("merges through `actions/github-script`".to_owned());
        }
        if script.contains("createreview") && script.contains("approve") {
            return Some("approves through `actions/github-script`".to_owned());
        }
    }
    None
}

impl Rule for AutoMergeToProd {
    fn page(&self) -> &'static str {
        RuleId::AutoMergeToProd.page()
    }

    fn judges(&self) -> Judged {
        const KINDS: &[ObjectKind] = &[
            ObjectKind::of("image.toolkit.fluxcd.io", "ImageUpdateAutomation"),
            ObjectKind::of("argoproj.io", "Application"),
            ObjectKind::of("kargo.akuity.io", "Project"),
            ObjectKind::of("kargo.akuity.io", "ProjectConfig"),
        ];
        Judged::Objects { kinds: KINDS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        match (cx.kind(), cx.group().unwrap_or("")) {
            (Some("ImageUpdateAutomation"), "image.toolkit.fluxcd.io") => image_update_automation(cx, out),
            (Some("Application"), "argoproj.io") => image_updater(cx, out),
            (Some("Project" | "ProjectConfig"), "kargo.akuity.io") => kargo(cx, out),
            _ => {}
        }
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        workflows(cx, out);
        renovate_automerge(cx, out);
    }
}

fn default_branch(name: &str) -> bool {
    matches!(name, "main" | "master")
}

fn image_update_automation(cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
    let root = &cx.document.root;
    let push_branch = root.get(&Route::parse("/spec/git/push/branch")).and_then(Node::as_str);
    let checkout = root.get(&Route::parse("/spec/git/checkout/ref/branch")).and_then(Node::as_str);
    let direct = match push_branch {
        None => true,
        Some(b) => default_branch(b) || Some(b) == checkout,
    };
    if !direct {
        return;
    }
    let update_path = root.get(&Route::parse("/spec/update/path")).and_then(Node::as_str).unwrap_or("./");
    let whole_repo = matches!(update_path.trim_start_matches("./").trim_end_matches('/'), "" | ".");
    let scope = cached_document_scope(cx);
    let prod_file = if whole_repo { cx.model.first_protected_file() } else { None };
    if !(scope.is_prod() || prod_file.is_some()) {
        return;
    }
    let target = push_branch.map_or_else(|| "the branch it checked out".to_owned(), |b| format!("`{b}`"));
    let reach = prod_file.map_or_else(
        || scope.via_phrase(),
        |f| format!(" (its update path `{update_path}` covers prod files such as `{}`)", f.path),
    );
    let route = if push_branch.is_some() { Route::parse("/spec/git/push/branch") } else { Route::parse("/spec/git") };
    cx.report(
        &route,
        format!(
            "Flux ImageUpdateAutomation `{}` commits image updates straight to {target}{reach}, so new images reach prod with no review. Push to a separate branch (`spec.git.push.branch: image-updates`) and merge it by pull request, or limit `spec.update.path` to non-prod paths.",
            cx.resource().map_or("", |r| r.name.as_str())
        ),
    )
    .emit(out);
}

const UPDATER: &str = "argocd-image-updater.argoproj.io/";

fn image_updater(cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
    let Some(annotations) = cx.document.root.get(&Route::parse("/metadata/annotations")).and_then(Node::as_mapping)
    else {
        return;
    };
    let method = annotations.get(&format!("{UPDATER}write-back-method")).and_then(Node::as_str).unwrap_or("argocd");
    if !method.starts_with("git") || annotations.get(&format!("{UPDATER}image-list")).is_none() {
        return;
    }
    let branch = annotations.get(&format!("{UPDATER}git-branch")).and_then(Node::as_str);
    // `base:target` writes to a separate target branch, merged by pull request.
    if let Some(b) = branch
        && let Some((_, target)) = b.split_once(':')
        && !default_branch(target)
    {
        return;
    }
    if branch.is_some_and(|b| !b.contains(':') && !default_branch(b)) {
        return;
    }
    let scope = cached_document_scope(cx);
    if !scope.is_prod() {
        return;
    }
    cx.report(
        &Route::parse("/metadata/annotations").key(&format!("{UPDATER}write-back-method")),
        format!(
            "Argo CD Image Updater writes image updates for prod application `{}` straight back to Git{}. New images reach prod with no review. Set `{UPDATER}git-branch: main:image-updater-{{{{.SHA256}}}}` to write to a separate branch and merge it by pull request.",
            cx.resource().map_or("", |r| r.name.as_str()),
            scope.via_phrase()
        ),
    )
    .emit(out);
}

fn kargo(cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
    let policies = Route::parse("/spec/promotionPolicies");
    for (i, policy) in
        cx.document.root.get(&policies).and_then(Node::as_sequence).unwrap_or_default().iter().enumerate()
    {
        if policy.get_key("autoPromotionEnabled").and_then(Node::as_bool) != Some(true) {
            continue;
        }
        let stage = policy
            .get_key("stage")
            .or_else(|| policy.get(&Route::parse("/stageSelector/name")))
            .and_then(Node::as_str)
            .unwrap_or("");
        if text_scope(&cx.model.environments, stage).is_prod() {
            cx.report(
                &policies.clone().index(i).key("autoPromotionEnabled"),
                format!(
                    "Kargo promotes freight into prod stage `{stage}` automatically. A change reaches prod with no human approval. Set `autoPromotionEnabled: false` for prod stages and promote them by hand or through a reviewed pull request."
                ),
            )
            .emit(out);
        }
    }
}

/// Where a workflow merge step can reach.
fn merge_scope(cx: &RepositoryContext<'_>, workflow: &Workflow, job: &Job, step: &Step) -> (Scope, bool) {
    let envs = &cx.model.environments;
    let mut scope = Scope::default();
    let mut evidence = false;
    let mut absorb = |s: Scope, label: &str| {
        if !s.tiers.is_empty() {
            evidence = true;
        }
        for t in &s.tiers {
            scope.tiers.insert(*t);
        }
        if s.protected && !scope.protected {
            scope.protected = true;
            scope.via = s.via.map(|v| format!("{label} {v}"));
        }
    };
    let words = format!("{} {} {} {} {}", job.id, job.name, job.condition, step.name, step.condition);
    absorb(text_scope(envs, &words), "its job or step condition names");
    absorb(text_scope(envs, &step.run), "its command names");
    // What the job's earlier steps change is what a push or commit step
    // publishes: `sed -i … environments/prod/…`, then `git push`.
    let pushes =
        step.run.contains("git push") || step.uses.contains("git-auto-commit") || step.uses.contains("add-and-commit");
    if pushes {
        let earlier: Vec<&str> =
            job.steps.iter().take_while(|s| !std::ptr::eq(*s, step)).map(|s| s.run.as_str()).collect();
        absorb(text_scope(envs, &earlier.join("\n")), "its job's commands name");
        absorb(text_scope(envs, step.input("file_pattern").unwrap_or_default()), "its `file_pattern` names");
    }
    for pattern in &workflow.pr_paths {
        let literal: String = pattern.split(['*', '?', '[', '{']).next().unwrap_or("").to_owned();
        absorb(path_scope(envs, &literal), "its `paths` filter");
        absorb(text_scope(envs, &literal), "its `paths` filter");
    }
    let dependabot_job = job.steps.iter().any(|s| s.uses.starts_with("dependabot/fetch-metadata"))
        || format!("{} {}", job.condition, step.condition).contains("dependabot");
    if dependabot_job
        && let Some(config) =
            cx.model.file(".github/dependabot.yml").or_else(|| cx.model.file(".github/dependabot.yaml"))
        && let Some(doc) = config.documents.first()
    {
        for update in doc.root.get_key("updates").and_then(Node::as_sequence).unwrap_or_default() {
            let mut dirs: Vec<&str> = update.get_key("directory").and_then(Node::as_str).into_iter().collect();
            dirs.extend(
                update
                    .get_key("directories")
                    .and_then(Node::as_sequence)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::as_str),
            );
            for dir in dirs {
                let trimmed = dir.trim_start_matches('/');
                let whole = trimmed.is_empty() || trimmed == "*" || trimmed == "**";
                if whole {
                    if let Some(f) = cx.model.first_protected_file() {
                        absorb(path_scope(envs, &f.path), "Dependabot's directory `/` covers");
                    }
                } else {
                    absorb(path_scope(envs, trimmed), "Dependabot's `directory`");
                    absorb(text_scope(envs, trimmed), "Dependabot's `directory`");
                }
            }
        }
    }
    (scope, evidence)
}

fn workflows(cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
    let workflows = Workflows::of(cx.model);
    for workflow in &workflows.list {
        let file = workflow.source(cx.model);
        let Some(document) = file.documents.first() else { continue };
        for job in &workflow.jobs {
            for step in &job.steps {
                let Some(action) = merge_action(workflow, job, step) else { continue };
                let (scope, evidence) = merge_scope(cx, workflow, job, step);
                let reach = if scope.is_prod() {
                    format!("it reaches prod ({})", scope.via.clone().unwrap_or_else(|| "prod".into()))
                } else if evidence {
                    continue;
                } else {
                    "nothing limits it to non-prod paths".to_owned()
                };
                let route =
                    if step.run.is_empty() { step.route.clone().key("uses") } else { step.route.clone().key("run") };
                cx.report(
                    file,
                    document,
                    &route,
                    format!(
                        "Job `{}` {action} without a human approval, and {reach}. Changes to prod must be merged by a person through a reviewed pull request: limit this automation to non-prod paths (an `on.pull_request.paths` filter or an `if:` on the changed files), or remove it.",
                        job.id
                    ),
                )
                .emit(out);
            }
        }
    }
}

/// Renovate `automerge: true` settings whose files include prod files.
fn renovate_automerge(cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
    for config in renovate::configs(cx.model) {
        let root = config.root;
        let ignore = renovate::patterns(root.get_key("ignorePaths"));
        let candidates: Vec<&SourceFile> = cx
            .model
            .files
            .iter()
            .filter(|f| f.kind != FileKind::Renovate && !ignore.iter().any(|p| p.matches(&f.path)))
            .collect();
        // Managers configured with their own file patterns.
        let managers: Vec<(&str, Vec<PathPattern>)> = root
            .as_mapping()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let pats =
                            renovate::file_match(v.get_key("fileMatch").or_else(|| v.get_key("managerFilePatterns")));
                        (!pats.is_empty()).then_some((k, pats))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let rules: Vec<&Node> =
            root.get_key("packageRules").and_then(Node::as_sequence).map(|s| s.iter().collect()).unwrap_or_default();
        // The files the managers a rule names edit: the configuration's
        // patterns for a manager, else Renovate's defaults; `None` when a
        // manager is unknown (it may edit anything).
        let manager_files = |names: &[&str]| -> Option<Vec<PathPattern>> {
            let mut pats = Vec::new();
            for name in names {
                if let Some((_, configured)) = managers.iter().find(|(n, _)| n == name) {
                    pats.extend(configured.iter().cloned());
                } else {
                    pats.extend(
                        renovate::default_manager_patterns(name)?
                            .iter()
                            .filter_map(|re| regex::Regex::new(re).ok().map(PathPattern::Regex)),
                    );
                }
            }
            Some(pats)
        };
        // Files a package rule's conditions select (None: every file).
        let rule_files = |rule: &Node| -> Option<Vec<&SourceFile>> {
            let include: Vec<PathPattern> =
                ["matchFileNames", "matchPaths"].iter().flat_map(|k| renovate::patterns(rule.get_key(k))).collect();
            let exclude: Vec<PathPattern> =
                ["excludePaths", "ignorePaths"].iter().flat_map(|k| renovate::patterns(rule.get_key(k))).collect();
            let list = |k: &str| -> Vec<&str> {
                rule.get_key(k)
                    .and_then(Node::as_sequence)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::as_str)
                    .collect()
            };
            // Managers: named, or those of the datasources or dependency
            // types the rule is for.
            let named = list("matchManagers");
            let derived = |values: Vec<&str>, map: fn(&str) -> Option<&'static [&'static str]>| -> Option<Vec<&str>> {
                if values.is_empty() {
                    return None;
                }
                let mut out: Vec<&str> = Vec::new();
                for v in values {
                    out.extend(map(v)?.iter().copied());
                }
                Some(out)
            };
            let manager_names: Option<Vec<&str>> = if named.is_empty() {
                derived(list("matchDatasources"), renovate::datasource_managers)
                    .or_else(|| derived(list("matchDepTypes"), renovate::dep_type_managers))
            } else {
                Some(named)
            };
            let manager_pats = manager_names.as_deref().and_then(&manager_files);
            // Packages named plainly: only the files that mention one.
            let packages: Vec<&str> = list("matchPackageNames")
                .into_iter()
                .chain(list("matchDepNames"))
                .filter(|p| !p.starts_with('/') && !p.starts_with('!') && !p.contains(['*', '?', '{']))
                .collect();
            let named_packages = !packages.is_empty()
                && list("matchPackageNames").iter().chain(list("matchDepNames").iter()).all(|p| packages.contains(p));
            if include.is_empty() && exclude.is_empty() && manager_pats.is_none() && !named_packages {
                return None;
            }
            Some(
                candidates
                    .iter()
                    .copied()
                    .filter(|f| include.is_empty() || include.iter().any(|p| p.matches(&f.path)))
                    .filter(|f| !exclude.iter().any(|p| p.matches(&f.path)))
                    .filter(|f| manager_pats.as_ref().is_none_or(|pats| pats.iter().any(|p| p.matches(&f.path))))
                    .filter(|f| !named_packages || packages.iter().any(|p| f.text.contains(p)))
                    .collect(),
            )
        };
        let only_file_conditions = |rule: &Node| {
            rule.as_mapping().is_some_and(|m| {
                m.iter().all(|(k, _)| {
                    !k.starts_with("match") && !k.starts_with("exclude")
                        || matches!(k, "matchFileNames" | "matchPaths" | "excludePaths")
                })
            })
        };
        // A later rule that turns automerge off for some files, whatever the update.
        let cancelled = |after: usize, f: &SourceFile| {
            rules.iter().enumerate().skip(after).any(|(_, r)| {
                r.get_key("automerge").and_then(Node::as_bool) == Some(false)
                    && only_file_conditions(r)
                    && rule_files(r).is_none_or(|files| files.iter().any(|x| x.path == f.path))
            })
        };
        let mut sources: Vec<(Route, Vec<&SourceFile>, usize, String)> = Vec::new();
        if root.get_key("automerge").and_then(Node::as_bool) == Some(true) {
            sources.push((
                config.base.clone().key("automerge"),
                candidates.clone(),
                0,
                "the whole configuration".into(),
            ));
        }
        for block in ["major", "minor", "patch", "pin", "digest", "lockFileMaintenance", "vulnerabilityAlerts"] {
            if root.get(&Route::root().key(block).key("automerge")).and_then(Node::as_bool) == Some(true) {
                sources.push((
                    config.base.clone().key(block).key("automerge"),
                    candidates.clone(),
                    0,
                    format!("`{block}` updates"),
                ));
            }
        }
        for (name, pats) in &managers {
            if root.get(&Route::root().key(name).key("automerge")).and_then(Node::as_bool) == Some(true) {
                let files = candidates.iter().copied().filter(|f| pats.iter().any(|p| p.matches(&f.path))).collect();
                sources.push((
                    config.base.clone().key(name).key("automerge"),
                    files,
                    0,
                    format!("the `{name}` manager"),
                ));
            }
        }
        for (i, rule) in rules.iter().enumerate() {
            if rule.get_key("automerge").and_then(Node::as_bool) == Some(true) {
                let files = rule_files(rule).unwrap_or_else(|| candidates.clone());
                sources.push((
                    config.base.clone().key("packageRules").index(i).key("automerge"),
                    files,
                    i + 1,
                    format!("package rule {}", i + 1),
                ));
            }
        }
        for (route, files, after, what) in sources {
            let prod: Vec<&SourceFile> =
                files.into_iter().filter(|f| cx.model.is_protected_file(f) && !cancelled(after, f)).collect();
            let Some(first) = prod.first() else { continue };
            let more = if prod.len() > 1 { format!(" and {} more", prod.len() - 1) } else { String::new() };
            let Some(doc) = config.file.documents.first() else { continue };
            cx.report(
                config.file,
                doc,
                &route,
                format!(
                    "Renovate automerges {what}, which covers prod files (`{}`{more}). Dependency updates would reach prod with no human review. Exclude prod paths from automerge (a package rule with `matchFileNames` for prod and `automerge: false`, or `ignorePaths`).",
                    first.path
                ),
            )
            .emit(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Push, pushed_branch};

    #[test]
    fn where_git_push_pushes() {
        let branch = |b: &str| Some(Push::Branch(b.to_owned()));
        assert_eq!(pushed_branch("git push"), Some(Push::CheckedOut));
        assert_eq!(pushed_branch("git commit -am x && git push origin HEAD"), Some(Push::CheckedOut));
        assert_eq!(pushed_branch("git push origin HEAD:main"), branch("main"));
        assert_eq!(pushed_branch("git push --force origin HEAD:refs/heads/master"), branch("master"));
        assert_eq!(pushed_branch("git push -u origin bump"), branch("bump"));
        assert_eq!(pushed_branch("git push --tags"), None);
        assert_eq!(pushed_branch("echo git pusher"), None);
        // A push to the default branch wins over one elsewhere.
        assert_eq!(pushed_branch("git push origin x\ngit push origin main"), branch("main"));
    }
}
