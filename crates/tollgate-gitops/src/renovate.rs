//! Renovate configuration: which files an `automerge` setting reaches.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use tollgate_core::{FileKind, Node, RepositoryModel, Route, SourceFile};

/// A Renovate configuration found in the repository.
pub struct RenovateConfig<'m> {
    /// The file holding it.
    pub file: &'m SourceFile,
    /// The route of the configuration object inside the file (`/renovate` in package.json).
    pub base: Route,
    /// The configuration object.
    pub root: &'m Node,
}

/// Every Renovate configuration: the dedicated files and `package.json#renovate`.
pub fn configs(model: &RepositoryModel) -> Vec<RenovateConfig<'_>> {
    let mut out = Vec::new();
    for file in &model.files {
        let Some(doc) = file.documents.first() else { continue };
        if file.kind == FileKind::Renovate {
            out.push(RenovateConfig { file, base: Route::root(), root: &doc.root });
        } else if file.path.rsplit('/').next() == Some("package.json")
            && let Some(r) = doc.root.get_key("renovate")
        {
            out.push(RenovateConfig { file, base: Route::root().key("renovate"), root: r });
        }
    }
    out
}

/// A file pattern as Renovate reads it: `/regex/` or a glob (minimatch); a
/// plain string with no glob characters also matches as a path prefix.
#[derive(Clone)]
pub enum PathPattern {
    /// `/.../` (with optional `i` flag).
    Regex(Regex),
    /// A glob.
    Glob(GlobMatcher, String),
    /// A literal prefix.
    Prefix(String),
}

impl PathPattern {
    /// Compiles a Renovate path pattern; `None` when it is invalid.
    pub fn new(pattern: &str) -> Option<PathPattern> {
        if let Some(body) = pattern.strip_prefix('/') {
            let (body, flags) = body.rsplit_once('/')?;
            let re = if flags.contains('i') { format!("(?i){body}") } else { body.to_owned() };
            return Regex::new(&re).ok().map(PathPattern::Regex);
        }
        if pattern.contains(['*', '?', '{', '[']) {
            let glob = GlobBuilder::new(pattern).literal_separator(true).build().ok()?;
            return Some(PathPattern::Glob(glob.compile_matcher(), pattern.to_owned()));
        }
        Some(PathPattern::Prefix(pattern.trim_start_matches("./").to_owned()))
    }

    /// Whether `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Regex(re) => re.is_match(path),
            PathPattern::Glob(g, _) => g.is_match(path),
            PathPattern::Prefix(p) => path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/'))),
        }
    }
}

/// Compiles `fileMatch`/`managerFilePatterns` entries (regexes, or `/regex/` and globs).
pub fn file_match(node: Option<&Node>) -> Vec<PathPattern> {
    node.and_then(Node::as_sequence)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .filter_map(|p| {
            if p.starts_with('/') || p.contains("**") {
                PathPattern::new(p)
            } else {
                Regex::new(p).ok().map(PathPattern::Regex)
            }
        })
        .collect()
}

/// Compiles a list of path patterns.
pub fn patterns(node: Option<&Node>) -> Vec<PathPattern> {
    node.and_then(Node::as_sequence)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .filter_map(PathPattern::new)
        .collect()
}

/// The files a built-in Renovate manager edits when the configuration does
/// not set its `managerFilePatterns` (Renovate's defaults). A manager that
/// has no default (`kubernetes`, `argocd`, `regex`) edits nothing until
/// configured. `None` for a manager tollgate does not know: it may edit
/// anything.
pub fn default_manager_patterns(manager: &str) -> Option<&'static [&'static str]> {
    Some(match manager {
        "github-actions" => &[
            r"(^|/)(workflow-templates|\.(?:github|gitea|forgejo)/(?:workflows|actions))/.+\.ya?ml$",
            r"(^|/)action\.ya?ml$",
        ],
        "renovate-config" | "renovate-config-presets" => &[
            r"(^|/)(renovate|default)\.json5?$",
            r"(^|/)\.github/renovate\.json5?$",
            r"(^|/)\.gitlab/renovate\.json5?$",
            r"(^|/)\.renovaterc(\.json5?)?$",
        ],
        "pre-commit" => &[r"(^|/)\.pre-commit-config\.ya?ml$"],
        "dockerfile" => &[r"(^|/|\.)([Dd]ocker|[Cc]ontainer)file$", r"(^|/)([Dd]ocker|[Cc]ontainer)file[^/]*$"],
        "docker-compose" => &[r"(^|/)(?:docker-)?compose[^/]*\.ya?ml$"],
        "helm-values" => &[r"(^|/)values\.ya?ml$"],
        "helmv3" => &[r"(^|/)Chart\.ya?ml$"],
        "helm-requirements" => &[r"(^|/)requirements\.ya?ml$"],
        "helmfile" => &[r"(^|/)helmfile\.ya?ml(\.gotmpl)?$"],
        "kustomize" => &[r"(^|/)kustomization\.ya?ml$"],
        "flux" => &[r"(^|/)gotk-components\.ya?ml$"],
        "npm" => &[r"(^|/)package\.json$"],
        "gomod" => &[r"(^|/)go\.mod$"],
        "cargo" => &[r"(^|/)Cargo\.toml$"],
        "pip_requirements" => &[r"(^|/)[\w-]*requirements([-.]\w+)?\.(txt|pip)$"],
        "poetry" | "pep621" => &[r"(^|/)pyproject\.toml$"],
        "terraform" => &[r"\.tf$"],
        "gitlabci" => &[r"\.gitlab-ci\.ya?ml$"],
        "kubernetes" | "argocd" | "regex" | "custom.regex" | "tekton" => &[],
        _ => return None,
    })
}

/// The managers that look up a datasource (`matchDatasources`); `None` for a
/// datasource tollgate does not know.
pub fn datasource_managers(datasource: &str) -> Option<&'static [&'static str]> {
    Some(match datasource {
        "docker" => &[
            "dockerfile",
            "docker-compose",
            "kubernetes",
            "helm-values",
            "kustomize",
            "argocd",
            "flux",
            "helmv3",
            "gitlabci",
            "tekton",
        ],
        "helm" => &["helmv3", "helmfile", "helm-requirements", "argocd", "flux", "kustomize"],
        "github-tags" | "github-releases" | "github-digest" => {
            &["github-actions", "regex", "custom.regex", "pre-commit", "flux"]
        }
        "github-runners" => &["github-actions"],
        "npm" => &["npm"],
        "go" => &["gomod"],
        "pypi" => &["pip_requirements", "poetry", "pep621"],
        "crate" => &["cargo"],
        "terraform-provider" | "terraform-module" => &["terraform"],
        _ => return None,
    })
}

/// The managers a dependency type belongs to (`matchDepTypes`).
pub fn dep_type_managers(dep_type: &str) -> Option<&'static [&'static str]> {
    Some(match dep_type {
        "action" | "uses-with" | "github-runner" => &["github-actions"],
        "dependencies"
        | "devDependencies"
        | "peerDependencies"
        | "optionalDependencies"
        | "engines"
        | "packageManager" => &["npm"],
        "require" | "indirect" | "toolchain" | "golang" => &["gomod"],
        "build-dependencies" | "dev-dependencies" => &["cargo"],
        "provider" | "module" | "required_provider" => &["terraform"],
        _ => return None,
    })
}
