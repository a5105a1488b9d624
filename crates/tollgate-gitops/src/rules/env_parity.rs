//! `env-parity`: environment overlays of one app built from different bases.

use std::collections::{BTreeMap, BTreeSet};

use tollgate_core::{
    Environments, FileKind, Finding, Node, RepositoryContext, RepositoryModel, Route, Rule, SourceFile, rule_page,
};

/// Reports Kustomize overlays of one app (paths that differ only in the
/// environment segment) whose local bases differ.
pub(crate) struct EnvParity;

/// `apps/shop/overlays/*/kustomization.yaml` for `apps/shop/overlays/prod/kustomization.yaml`,
/// with the environment segment that was replaced.
fn app_key(environments: &Environments, path: &str) -> Option<(String, String)> {
    let defaults = crate::scope::default_environments();
    let segments: Vec<&str> = path.split('/').collect();
    let dirs = segments.len().checked_sub(1)?;
    let i = (0..dirs).rev().find(|&i| {
        let s = segments[i];
        defaults.segment_index(s).is_some() || environments.all().iter().any(|e| e.name.eq_ignore_ascii_case(s))
    })?;
    let mut key: Vec<&str> = segments.clone();
    key[i] = "*";
    Some((key.join("/"), segments[i].to_owned()))
}

/// Normalizes `dir/../x` paths; `None` when it climbs out of the root.
fn normalize(path: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    Some(out.join("/"))
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
                let Some(target) = normalize(&format!("{dir}/{entry}")) else { continue };
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
        rule_page!("env-parity")
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let model = cx.model;
        let mut groups: BTreeMap<String, Vec<(&SourceFile, String)>> = BTreeMap::new();
        for file in model.files.iter().filter(|f| f.kind == FileKind::Kustomization && f.environment.is_some()) {
            if let Some((key, env)) = app_key(&model.environments, &file.path) {
                groups.entry(key).or_default().push((file, env));
            }
        }
        for (key, members) in groups {
            if members.len() < 2 {
                continue;
            }
            let sets: Vec<BTreeSet<String>> = members.iter().map(|(f, _)| bases(model, f)).collect();
            if sets.iter().all(|s| s == &sets[0]) || sets.iter().any(BTreeSet::is_empty) {
                continue;
            }
            // The most common set is the reference; the others are reported.
            let mut counts: BTreeMap<&BTreeSet<String>, usize> = BTreeMap::new();
            for s in &sets {
                *counts.entry(s).or_default() += 1;
            }
            let reference = counts.iter().max_by_key(|(_, n)| **n).map(|(s, _)| (*s).clone()).unwrap_or_default();
            let reference_env = members
                .iter()
                .zip(&sets)
                .find(|(_, s)| **s == reference)
                .map(|((_, e), _)| e.clone())
                .unwrap_or_default();
            for ((file, env), set) in members.iter().zip(&sets) {
                if *set == reference {
                    continue;
                }
                let Some(doc) = file.documents.first() else { continue };
                let field = ["resources", "bases", "components"]
                    .into_iter()
                    .find(|f| doc.root.get_key(f).is_some())
                    .unwrap_or("resources");
                let list = |s: &BTreeSet<String>| s.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ");
                cx.report(
                    file,
                    doc,
                    &Route::root().key(field),
                    format!(
                        "The `{env}` overlay of `{key}` is built from {} while `{reference_env}` is built from {}. Environments that are not the same declaration drift apart, and what was tested in one is not what runs in the other. Build every overlay from the same base and vary only inputs (patches, images, replicas).",
                        list(set),
                        list(&reference)
                    ),
                )
                .key_only()
                .emit(out);
            }
        }
    }
}
