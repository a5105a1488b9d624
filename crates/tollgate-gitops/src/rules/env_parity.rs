//! `env-parity`: environment overlays of one app built from different bases.

use std::collections::{BTreeMap, BTreeSet};

use tollgate_core::{
    Environments, FileKind, Finding, Node, RepositoryContext, RepositoryModel, Route, Rule, RuleId, SourceFile, Tier,
};

/// Reports Kustomize overlays of one app (paths that differ only in the
/// environment segment) of different environments (dev, staging, prod)
/// that have no base in common.
pub(crate) struct EnvParity;

/// `apps/shop/overlays/*/kustomization.yaml` for `apps/shop/overlays/prod/kustomization.yaml`,
/// with the environment segment that was replaced and its index.
fn app_key(environments: &Environments, path: &str) -> Option<(String, String, usize)> {
    let segments: Vec<&str> = path.split('/').collect();
    let dirs = segments.len().checked_sub(1)?;
    let i = (0..dirs).rev().find(|&i| tier(environments, segments[i]).is_some())?;
    let mut key: Vec<&str> = segments.clone();
    key[i] = "*";
    Some((key.join("/"), segments[i].to_owned(), i))
}

/// The tier an environment segment names (`prod-eu` is prod).
fn tier(environments: &Environments, segment: &str) -> Option<Tier> {
    let defaults = crate::scope::default_environments();
    environments
        .all()
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(segment))
        .map(|e| e.tier)
        .or_else(|| defaults.segment_index(segment).and_then(|i| defaults.get(i)).map(|e| e.tier))
}

/// The directory of the application an overlay belongs to: the path before
/// its environment segment, without a trailing `overlays`/`envs` folder
/// (`apps/shop` for `apps/shop/overlays/prod`).
fn app_dir(path: &str, env_index: usize) -> String {
    let segments: Vec<&str> = path.split('/').take(env_index).collect();
    let trimmed = match segments.split_last() {
        Some((last, rest))
            if matches!(*last, "overlays" | "overlay" | "envs" | "env" | "environments" | "variants") =>
        {
            rest
        }
        _ => &segments[..],
    };
    trimmed.join("/")
}


fn kustomization_in<'m>(model: &'m RepositoryModel, dir: &str) -> Option<&'m SourceFile> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .find_map(|n| model.file(&if dir.is_empty() { (*n).to_owned() } else { format!("{dir}/{n}") }))
}

/// The bases an overlay is built from: the environment-free directories (and
/// remote bases without their `ref`) reachable through local references.
fn bases(model: &RepositoryModel, file: &SourceFile) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![file];
    while let Some(k) = stack.pop() {
        if !seen.insert(k.path.clone()) || seen.len() > 64 {
            continue;
        }
        let dir = k.path.rsplit_once('/').map_or("", |(d, _)| d);
        let Some(doc) = k.documents.first() else { continue };
        for field in ["resources", "bases", "components"] {
            for entry in
                doc.root.get_key(field).and_then(Node::as_sequence).unwrap_or_default().iter().filter_map(Node::as_str)
            {
                if entry.contains("://") || entry.starts_with("github.com/") || entry.starts_with("git@") {
                    out.insert(entry.split('?').next().unwrap_or(entry).to_owned());
                    continue;
                }
                let Some(target) = tollgate_core::normalize_segments(&format!("{dir}/{entry}")) else { continue };
                let Some(next) = kustomization_in(model, &target) else { continue };
                if next.environment.is_some() {
                    stack.push(next);
                } else {
                    out.insert(target);
                }
            }
        }
    }
    out
}

impl Rule for EnvParity {
    fn page(&self) -> &'static str {
        RuleId::EnvParity.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let model = cx.model;
        let mut groups: BTreeMap<String, Vec<Member<'_>>> = BTreeMap::new();
        for file in model.files.iter().filter(|f| f.kind == FileKind::Kustomization && f.environment.is_some()) {
            if let Some((key, env, index)) = app_key(&model.environments, &file.path) {
                let Some(tier) = tier(&model.environments, &env) else { continue };
                groups.entry(key).or_default().push(Member { file, env, tier, app: app_dir(&file.path, index) });
            }
        }
        for (key, members) in groups {
            // Parity is between environments: regional or per-cluster
            // variants of one environment (`prod-us`, `prod-eu`) may differ.
            let tiers: BTreeSet<Tier> = members.iter().map(|m| m.tier).collect();
            if tiers.len() < 2 {
                continue;
            }
            let sets: Vec<BTreeSet<String>> = members.iter().map(|m| bases(model, m.file)).collect();
            if sets.iter().any(BTreeSet::is_empty) {
                continue;
            }
            // Overlays of one application build from its own bases. Overlays
            // that aggregate other applications (`clusters/prod` listing
            // `apps/…`) are not variants of one declaration.
            let own = |m: &Member<'_>, set: &BTreeSet<String>| {
                set.iter().all(|b| {
                    b.contains("://")
                        || b.starts_with("github.com/")
                        || b.starts_with("git@")
                        || m.app.is_empty()
                        || b == &m.app
                        || b.starts_with(&format!("{}/", m.app))
                })
            };
            // The most common set is the reference.
            let mut counts: BTreeMap<&BTreeSet<String>, usize> = BTreeMap::new();
            for s in &sets {
                *counts.entry(s).or_default() += 1;
            }
            let reference = counts.iter().max_by_key(|(_, n)| **n).map(|(s, _)| (*s).clone()).unwrap_or_default();
            let Some((reference_member, _)) = members.iter().zip(&sets).find(|(_, s)| **s == reference) else {
                continue;
            };
            if !own(reference_member, &reference) {
                continue;
            }
            for (member, set) in members.iter().zip(&sets) {
                // Sharing a base is parity: an overlay may add components
                // (HA, a region) on top of it.
                if member.tier == reference_member.tier || !set.is_disjoint(&reference) || !own(member, set) {
                    continue;
                }
                let Some(doc) = member.file.documents.first() else { continue };
                let field = ["resources", "bases", "components"]
                    .into_iter()
                    .find(|f| doc.root.get_key(f).is_some())
                    .unwrap_or("resources");
                let list = |s: &BTreeSet<String>| s.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ");
                cx.report(
                    member.file,
                    doc,
                    &Route::root().key(field),
                    format!(
                        "The `{}` overlay of `{key}` is built from {} while `{}` is built from {}: no base in common. Environments that are not the same declaration drift apart, and what was tested in one is not what runs in the other. Build every overlay from the same base and vary only inputs (patches, images, replicas).",
                        member.env,
                        list(set),
                        reference_member.env,
                        list(&reference)
                    ),
                )
                .key_only()
                .emit(out);
            }
        }
    }
}

/// One environment overlay of an application.
struct Member<'m> {
    file: &'m SourceFile,
    env: String,
    tier: Tier,
    app: String,
}
