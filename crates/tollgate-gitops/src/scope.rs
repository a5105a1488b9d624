//! The environment an object acts on: the environment of the file it lives
//! in, plus that of every path, namespace or cluster it points at.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use tollgate_core::{Document, DocumentContext, Environments, Node, RepositoryModel, Route, SourceFile, Tier};

/// What an object reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The tiers reached.
    pub tiers: BTreeSet<Tier>,
    /// Whether a protected (prod) environment is reached.
    pub protected: bool,
    /// Why it counts as prod, when it does not live under a prod path
    /// (`spec.source.path` `apps/web/overlays/prod`).
    pub via: Option<String>,
    /// Why it counts as a lower (dev or staging) environment.
    pub lower_via: Option<String>,
}

impl Scope {
    /// True when the scope reaches prod.
    pub fn is_prod(&self) -> bool {
        self.protected
    }

    /// True when the scope reaches only dev/staging (and something at all).
    pub fn only_lower(&self) -> bool {
        !self.protected && self.tiers.iter().any(|t| matches!(t, Tier::Dev | Tier::Staging))
    }

    /// Adds one tier.
    pub fn add(&mut self, tier: Tier, protected: bool, via: Option<String>) {
        self.tiers.insert(tier);
        if matches!(tier, Tier::Dev | Tier::Staging) && self.lower_via.is_none() {
            self.lower_via.clone_from(&via);
        }
        if protected && !self.protected {
            self.protected = true;
            self.via = via;
        }
    }

    /// A phrase for messages: ` (prod through spec.source.path `x`)`.
    pub fn via_phrase(&self) -> String {
        self.via.as_ref().map(|v| format!(" (prod through {v})")).unwrap_or_default()
    }
}

/// The tiers named by words of a free text (`deploy-prod`, `overlays/staging`,
/// `--context production`), using the default words and the names of
/// configured environments.
pub fn text_scope(environments: &Environments, text: &str) -> Scope {
    let mut scope = Scope::default();
    let defaults = default_environments();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        if word.is_empty() {
            continue;
        }
        if let Some(env) = defaults.segment_index(word).and_then(|i| defaults.get(i)) {
            scope.add(env.tier, env.protected, Some(format!("`{word}`")));
        }
        for env in environments.all() {
            if env.name.eq_ignore_ascii_case(word) {
                scope.add(env.tier, env.protected, Some(format!("`{word}`")));
            }
        }
    }
    scope
}

/// The documented default environments, built once.
pub fn default_environments() -> &'static Environments {
    static DEFAULTS: OnceLock<Environments> = OnceLock::new();
    DEFAULTS.get_or_init(Environments::defaults)
}

/// Per-object scopes, computed at most once per run and shared by the
/// rules, indexed by [`tollgate_core::ObjectId`].
struct ScopeCache(Vec<OnceLock<Scope>>);

/// [`document_scope`] of the document a rule is checking, computed once per
/// object and run.
pub fn cached_document_scope(cx: &DocumentContext<'_>) -> Scope {
    let Some(id) = cx.object() else { return document_scope(cx.model, cx.file, cx.document) };
    let cache = cx.model.shared(|m| ScopeCache((0..m.object_count()).map(|_| OnceLock::new()).collect()));
    match cache.0.get(id.index()) {
        Some(slot) => slot.get_or_init(|| document_scope(cx.model, cx.file, cx.document)).clone(),
        None => document_scope(cx.model, cx.file, cx.document),
    }
}

/// The environment of a repository path (a file or a directory).
pub fn path_scope(environments: &Environments, path: &str) -> Scope {
    let mut scope = Scope::default();
    let clean = path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/');
    for probe in [clean.to_owned(), format!("{clean}/kustomization.yaml")] {
        if let Some(env) = environments.for_path(&probe) {
            scope.add(env.tier, env.protected, Some(format!("`{clean}`")));
        }
    }
    scope
}

fn merge(into: &mut Scope, other: Scope, label: &str) {
    for t in &other.tiers {
        into.tiers.insert(*t);
    }
    if into.lower_via.is_none()
        && let Some(v) = &other.lower_via
    {
        into.lower_via = Some(format!("{label} {v}"));
    }
    if other.protected && !into.protected {
        into.protected = true;
        into.via = other.via.map(|v| format!("{label} {v}"));
    }
}

/// The scope of a document: its file's environment plus what it points at
/// (Argo CD `Application`/`ApplicationSet` sources and destinations, Flux
/// `Kustomization` paths, `HelmRelease` target namespaces,
/// `ImageUpdateAutomation` update paths) and its own name and namespace.
pub fn document_scope(model: &RepositoryModel, file: &SourceFile, document: &Document) -> Scope {
    let envs = &model.environments;
    let mut scope = Scope::default();
    if let Some(env) = model.manifest_environment(file) {
        scope.add(env.tier, env.protected, None);
        if scope.lower_via.is_none() && matches!(env.tier, Tier::Dev | Tier::Staging) {
            scope.lower_via = Some(format!("file `{}`", file.path));
        }
    }
    let root = &document.root;
    let get = |p: &str| root.get(&Route::parse(p));
    let kind = root.get_key("kind").and_then(Node::as_str).unwrap_or("");
    let mut paths: Vec<(String, &str)> = Vec::new();
    let mut names: Vec<(String, &str)> = Vec::new();
    push_names(&mut names, "metadata.name", get("/metadata/name"));
    push_names(&mut names, "metadata.namespace", get("/metadata/namespace"));
    let spec_prefix = match kind {
        "Application" => Some("/spec"),
        "ApplicationSet" => Some("/spec/template/spec"),
        _ => None,
    };
    if let Some(spec) = spec_prefix {
        if kind == "ApplicationSet" {
            push_names(&mut names, "template metadata.name", get("/spec/template/metadata/name"));
        }
        push_names(&mut names, "spec.project", get(&format!("{spec}/project")));
        push_names(&mut names, "destination.namespace", get(&format!("{spec}/destination/namespace")));
        push_names(&mut names, "destination.name", get(&format!("{spec}/destination/name")));
        if let Some(p) = get(&format!("{spec}/source/path")).and_then(Node::as_str) {
            paths.push(("spec.source.path".into(), p));
        }
        for (i, source) in
            get(&format!("{spec}/sources")).and_then(Node::as_sequence).unwrap_or_default().iter().enumerate()
        {
            if let Some(p) = source.get_key("path").and_then(Node::as_str) {
                paths.push((format!("spec.sources[{i}].path"), p));
            }
        }
    }
    if kind == "ApplicationSet" {
        // Generators: the fields of list elements and git directories/files
        // that name environments, clusters, namespaces and paths. Other
        // fields (an app called `test-runner`, a chart called `dev-tools`)
        // say nothing about where it deploys.
        for generator in get("/spec/generators").and_then(Node::as_sequence).unwrap_or_default() {
            every_cluster(generator, &mut scope);
            generator.walk(&mut |route, node| {
                let Some(text) = node.as_string() else { return };
                let key = route.to_string();
                let key = key.rsplit('/').find(|s| s.parse::<usize>().is_err()).unwrap_or("");
                let label = format!("generator {route}");
                if matches!(key, "path" | "directory" | "directories") || (text.contains('/') && key == "values") {
                    paths.push((label, text));
                } else if PLACE_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    if text.contains('/') {
                        paths.push((label, text));
                    } else {
                        names.push((label, text));
                    }
                }
            });
        }
    }
    match kind {
        "Kustomization" if api_group(root) == "kustomize.toolkit.fluxcd.io" => {
            if let Some(p) = get("/spec/path").and_then(Node::as_str) {
                paths.push(("spec.path".into(), p));
            }
            push_names(&mut names, "spec.targetNamespace", get("/spec/targetNamespace"));
        }
        "HelmRelease" => push_names(&mut names, "spec.targetNamespace", get("/spec/targetNamespace")),
        "ImageUpdateAutomation" => {
            if let Some(p) = get("/spec/update/path").and_then(Node::as_str) {
                paths.push(("spec.update.path".into(), p));
            }
        }
        _ => {}
    }
    for (label, path) in paths {
        merge(&mut scope, path_scope(envs, path), &label);
        merge(&mut scope, text_scope(envs, path), &label);
    }
    for (label, name) in names {
        merge(&mut scope, text_scope(envs, name), &label);
    }
    scope
}

/// Generator fields that say where an ApplicationSet deploys.
const PLACE_KEYS: &[&str] = &[
    "env",
    "environment",
    "stage",
    "tier",
    "cluster",
    "clusterName",
    "cluster_name",
    "server",
    "url",
    "namespace",
    "region",
];

/// A `clusters` generator with no selector targets every cluster the
/// Argo CD instance knows, prod's included: tollgate fails closed.
fn every_cluster(generator: &Node, scope: &mut Scope) {
    if let Some(clusters) = generator.get_key("clusters") {
        let selects_all = clusters.get_key("selector").is_none_or(|s| {
            s.as_mapping().is_none_or(|m| {
                m.iter().all(|(_, v)| {
                    v.as_mapping().is_none_or(tollgate_yaml::Mapping::is_empty)
                        && v.as_sequence().is_none_or(<[Node]>::is_empty)
                })
            })
        });
        if selects_all {
            scope.add(Tier::Prod, true, Some("a `clusters` generator that selects every cluster".to_owned()));
        }
        return;
    }
    // The generators nested in a matrix or a merge.
    for nested in ["matrix", "merge"] {
        for g in generator
            .get(&Route::parse(&format!("/{nested}/generators")))
            .and_then(Node::as_sequence)
            .unwrap_or_default()
        {
            every_cluster(g, scope);
        }
    }
}

fn push_names<'n>(names: &mut Vec<(String, &'n str)>, label: &str, node: Option<&'n Node>) {
    if let Some(text) = node.and_then(Node::as_str) {
        names.push((label.to_owned(), text));
    }
}

/// The API group of a document (`argoproj.io` of `argoproj.io/v1alpha1`).
pub fn api_group(root: &Node) -> &str {
    let api_version = root.get_key("apiVersion").and_then(Node::as_str).unwrap_or("");
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}
