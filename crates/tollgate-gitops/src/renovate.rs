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
