//! The rendered diff of a range: for every rendered root whose inputs the
//! change touches, the objects it adds, removes or changes in what the
//! cluster receives, each changed object as a unified diff of its YAML (in
//! `kustomize build`'s form: keys sorted). Secret values never appear: each
//! is `***` and the first 8 hex digits of its SHA-256, so a reviewer sees
//! that a value changed and not what it is.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use sha2::Digest as _;
use tollgate_core::{ObjectChange, ObjectDiff, RenderedDiff, RepositoryModel, RootDiff};
use tollgate_yaml::{Document, Node, Value};

/// Files as `(repository path, text)`.
type Files = Vec<(String, String)>;

/// At most this many bytes of object diffs per run; the rest is counted in
/// [`RenderedDiff::omitted`].
pub const MAX_DIFF_BYTES: usize = 256 * 1024;

/// Compares the renders of `base` and `head` (models whose renderer ran) for
/// the roots whose inputs include one of `changed` (or that exist on one
/// side only).
///
/// ```no_run
/// # fn models() -> (tollgate_core::RepositoryModel, tollgate_core::RepositoryModel) { unimplemented!() }
/// let (base, head) = models();
/// let diff = tollgate::diff::rendered_diff(&base, &head, &["apps/shop/base/deployment.yaml".to_owned()], "main", "HEAD");
/// for root in &diff.roots {
///     println!("{}: {} object(s)", root.root, root.objects.len());
/// }
/// ```
pub fn rendered_diff(
    base: &RepositoryModel,
    head: &RepositoryModel,
    changed: &[String],
    base_name: &str,
    head_name: &str,
) -> RenderedDiff {
    let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
    let touched = |r: &tollgate_core::Rendered| {
        r.files.iter().any(|f| changed.contains(f.as_str())) || changed.contains(r.kustomization.as_str())
    };
    let base_roots: BTreeMap<&str, &tollgate_core::Rendered> =
        base.renders().rendered.iter().map(|r| (r.root.as_str(), r)).collect();
    let head_roots: BTreeMap<&str, &tollgate_core::Rendered> =
        head.renders().rendered.iter().map(|r| (r.root.as_str(), r)).collect();
    let mut names: Vec<&str> = base_roots.keys().chain(head_roots.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    let mut out = RenderedDiff { base: base_name.to_owned(), head: head_name.to_owned(), ..RenderedDiff::default() };
    let mut budget = MAX_DIFF_BYTES;
    let mut ranks: BTreeMap<String, u8> = BTreeMap::new();
    for name in names {
        let (b, h) = (base_roots.get(name).copied(), head_roots.get(name).copied());
        // Only roots whose inputs the change touches can render differently.
        let relevant = match (b, h) {
            (Some(b), Some(h)) => touched(b) || touched(h),
            _ => true,
        };
        if !relevant {
            continue;
        }
        let before = b.map(objects).unwrap_or_default();
        let after = h.map(objects).unwrap_or_default();
        let mut diffs = Vec::new();
        let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let (old, new) = (before.get(key), after.get(key));
            let change = match (old, new) {
                (None, Some(_)) => ObjectChange::Added,
                (Some(_), None) => ObjectChange::Removed,
                (Some(o), Some(n)) if o != n => ObjectChange::Changed,
                _ => continue,
            };
            let text = unified(old.map_or("", String::as_str), new.map_or("", String::as_str), base_name, head_name);
            if text.len() > budget {
                out.omitted += 1;
                continue;
            }
            budget -= text.len();
            diffs.push(ObjectDiff { object: key.clone(), change, diff: text });
        }
        if diffs.is_empty() {
            continue;
        }
        let environment = h.or(b).and_then(|r| r.file.environment).and_then(|i| {
            let model = if h.is_some() { head } else { base };
            model.environments.get(i)
        });
        ranks.insert(name.to_owned(), environment.map_or(4, |e| tier_rank(e.tier)));
        out.roots.push(RootDiff {
            root: name.to_owned(),
            environment: environment.map(|e| e.name.clone()),
            protected: environment.is_some_and(|e| e.protected),
            objects: diffs,
        });
    }
    // Prod first, then staging, other environments, dev, and roots without one.
    out.roots.sort_by(|a, b| (ranks.get(&a.root), &a.root).cmp(&(ranks.get(&b.root), &b.root)));
    out
}

/// The order environments are shown in: what production runs first.
fn tier_rank(tier: tollgate_core::Tier) -> u8 {
    match tier {
        tollgate_core::Tier::Prod => 0,
        tollgate_core::Tier::Staging => 1,
        tollgate_core::Tier::Other => 2,
        tollgate_core::Tier::Dev => 3,
    }
}

/// The objects of a render, `apiVersion Kind/namespace/name` → YAML.
fn objects(render: &tollgate_core::Rendered) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for document in &render.file.documents {
        let key = render.file.resources.get(document.index).cloned().flatten().map_or_else(
            || format!("document {}", document.index + 1),
            |r| format!("{} {}", r.api_version, r.display_name()),
        );
        out.insert(key, yaml(document));
    }
    out
}

/// The YAML of one rendered object, Secret values redacted.
fn yaml(document: &Document) -> String {
    let root = &document.root;
    let is_secret = root.get_key("kind").and_then(Node::as_str) == Some("Secret")
        && root.get_key("apiVersion").and_then(Node::as_str) == Some("v1");
    let node = if is_secret { redacted(root) } else { root.clone() };
    let rnode = tollgate_kustomize::RNode::from_node(&node, tollgate_kustomize::FileId(0));
    tollgate_kustomize::to_yaml(&[&rnode])
}

/// A Secret with every value under `data` and `stringData` replaced by
/// `*** sha256:<8 hex digits>`.
fn redacted(secret: &Node) -> Node {
    let mut node = secret.clone();
    if let Value::Mapping(m) = &mut node.value {
        for (key, value) in &mut m.entries {
            if matches!(key.as_str(), Some("data" | "stringData"))
                && let Value::Mapping(values) = &mut value.value
            {
                for (_, v) in &mut values.entries {
                    if let Value::Scalar(s) = &mut v.value {
                        let digest = sha2::Sha256::digest(s.text.as_bytes());
                        let mut hex = String::new();
                        for byte in &digest[..4] {
                            let _ = write!(hex, "{byte:02x}");
                        }
                        s.text = format!("*** sha256:{hex}").into_boxed_str();
                        s.style = tollgate_yaml::ScalarStyle::DoubleQuoted;
                    }
                }
            }
        }
    }
    node
}

/// A unified diff with three lines of context; the diff is bounded in time.
fn unified(old: &str, new: &str, base: &str, head: &str) -> String {
    let diff = similar::TextDiff::configure().timeout(std::time::Duration::from_millis(200)).diff_lines(old, new);
    diff.unified_diff().context_radius(3).header(base, head).to_string()
}

/// The repository at `revision`, read from git objects (never checked out)
/// and rendered with `render_roots` as extra roots: the model, and each
/// file's content hash for [`changed_paths`]. Files that are not manifests
/// (a generator's `.env`) are given to the renderer from the same commit.
pub fn model_at(
    root: &std::path::Path,
    revision: &str,
    config: &tollgate_core::Config,
) -> Result<(RepositoryModel, BTreeMap<String, [u8; 32]>), tollgate_git::TreeError> {
    let exclude = tollgate_core::glob_set(&config.exclude).unwrap_or_default();
    let tree = tollgate_git::read_tree(root, revision, &|p| !exclude.is_match(p), config.max_file_size)?;
    let hashes = tree.files.iter().map(|(p, b)| (p.clone(), sha2::Sha256::digest(b).into())).collect();
    let (files, others): (Files, Files) = tree
        .files
        .into_iter()
        .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
        .partition(|(p, _)| tollgate_core::classify(p).is_some());
    let renderer = std::sync::Arc::new(tollgate_kustomize::KustomizeRenderer {
        extra_roots: config.render_roots.clone(),
        reuse: None,
        files: Some(std::sync::Arc::new(others.into_iter().collect())),
    });
    // No rules: only the renders are wanted. Nothing is read from the work
    // tree (see `base::base_check`).
    let options = tollgate_core::CheckOptions { renderer: Some(renderer), ..tollgate_core::CheckOptions::default() };
    let nowhere = root.join(".tollgate-revision-is-read-from-git-objects");
    let report = tollgate_core::check_sources(&nowhere, files, config, &tollgate_core::Registry::default(), &options);
    Ok((report.model, hashes))
}

/// Paths whose content differs between two trees, or that only one has.
pub fn changed_paths(base: &BTreeMap<String, [u8; 32]>, head: &BTreeMap<String, [u8; 32]>) -> Vec<String> {
    let mut out: Vec<String> = base.iter().filter(|(p, h)| head.get(*p) != Some(h)).map(|(p, _)| p.clone()).collect();
    out.extend(head.keys().filter(|p| !base.contains_key(*p)).cloned());
    out.sort();
    out
}
