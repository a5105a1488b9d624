//! Discovery: which files of the scanned root tollgate reads.
//!
//! The walk honours `.gitignore` (and `.git/info/exclude`) and the config's
//! `exclude` globs, never follows a symbolic link, and reports every link that
//! points out of the root (or nowhere) instead of skipping it silently.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use ignore::{WalkBuilder, WalkState};
use std::sync::Mutex;
use tollgate_yaml::Limits;

use crate::config::Config;
use crate::error::CoreError;
use crate::model::{FileKind, SourceFile, classify};

/// A file found by the walk, not yet read.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Repository-relative path with forward slashes.
    pub path: String,
    /// Absolute (or root-joined) path on disk.
    pub disk_path: PathBuf,
    /// Its kind.
    pub kind: FileKind,
}

/// What the walk found: files to read, and files already known to be unreadable.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to read.
    pub candidates: Vec<Candidate>,
    /// Files that are findings already (links out of the root, special files).
    pub problems: Vec<SourceFile>,
    /// Every other regular file of the tree (not read, but owned and changed
    /// like any file: CODEOWNERS coverage needs them).
    pub other_paths: Vec<String>,
    /// Symbolic links inside the root: `(link, target)`, both
    /// repository-relative. The target is read under its own path; a link
    /// from a protected path makes it protected too.
    pub links: Vec<(String, String)>,
}

/// Walks `root`, honouring the `.gitignore` files of the work tree.
pub fn discover(root: &Path, config: &Config) -> Result<Discovery, CoreError> {
    discover_with(root, config, None)
}

/// `.gitignore` rules given as text, `(directory, content)` (a base
/// commit's, in a range check), matched as git does: the deepest file with a
/// matching pattern decides, the last matching line of a file wins.
struct GivenIgnores {
    by_dir: Vec<(String, ignore::gitignore::Gitignore)>,
}

impl GivenIgnores {
    fn new(root: &Path, files: &[(String, String)]) -> GivenIgnores {
        let mut by_dir = Vec::new();
        for (dir, text) in files {
            let mut builder = ignore::gitignore::GitignoreBuilder::new(root.join(dir));
            for line in text.lines() {
                // A line git would not accept is skipped, as git skips it.
                let _ = builder.add_line(None, line);
            }
            if let Ok(gi) = builder.build() {
                by_dir.push((dir.clone(), gi));
            }
        }
        // Deepest directories first.
        by_dir.sort_by(|a, b| b.0.matches('/').count().cmp(&a.0.matches('/').count()).then(b.0.len().cmp(&a.0.len())));
        GivenIgnores { by_dir }
    }

    fn ignored(&self, root: &Path, rel: &str, is_dir: bool) -> bool {
        for (dir, gi) in &self.by_dir {
            let inside = dir.is_empty() || rel.strip_prefix(dir.as_str()).is_some_and(|r| r.starts_with('/'));
            if !inside {
                continue;
            }
            match gi.matched(root.join(rel), is_dir) {
                ignore::Match::Ignore(_) => return true,
                ignore::Match::Whitelist(_) => return false,
                ignore::Match::None => {}
            }
        }
        false
    }
}

/// Walks `root`. With `gitignores`, those rules (a base commit's `.gitignore`
/// files) decide what is ignored instead of the work tree's, which the change
/// under review may have edited.
pub fn discover_with(
    root: &Path,
    config: &Config,
    gitignores: Option<&[(String, String)]>,
) -> Result<Discovery, CoreError> {
    let canonical_root =
        fs::canonicalize(root).map_err(|source| CoreError::Root { path: root.to_path_buf(), source })?;
    if !canonical_root.is_dir() {
        return Err(CoreError::Root {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let exclude: GlobSet = crate::environment::glob_set(&config.exclude).unwrap_or_default();
    let exclude_for_filter = exclude.clone();
    let root_for_filter = root.to_path_buf();
    let given = gitignores.map(|files| GivenIgnores::new(root, files));
    let walker = WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .git_ignore(given.is_none())
        .git_exclude(true)
        .require_git(false)
        .parents(false)
        .follow_links(false)
        .threads(rayon::current_num_threads())
        .filter_entry(move |e| {
            if e.depth() > 0 && e.file_name() == ".git" {
                return false;
            }
            let rel = relative(&root_for_filter, e.path());
            if rel.is_empty() {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !exclude_for_filter.is_match(&rel)
                && !given.as_ref().is_some_and(|g| g.ignored(&root_for_filter, &rel, is_dir))
        })
        .build_parallel();
    let found = Mutex::new(Discovery::default());
    walker.run(|| {
        let found = &found;
        let canonical_root = &canonical_root;
        Box::new(move |entry| {
            if let Some(visit) = visit(root, canonical_root, entry) {
                let mut found = found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match visit {
                    Visit::Read(c) => found.candidates.push(c),
                    Visit::Problem(p) => found.problems.push(p),
                    Visit::Other(p) => found.other_paths.push(p),
                    Visit::Link(link, target) => found.links.push((link, target)),
                }
            }
            WalkState::Continue
        })
    });
    let mut found = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    found.candidates.sort_by(|a, b| a.path.cmp(&b.path));
    found.problems.sort_by(|a, b| a.path.cmp(&b.path));
    found.other_paths.sort();
    found.links.sort();
    Ok(found)
}

enum Visit {
    Read(Candidate),
    Problem(SourceFile),
    Other(String),
    Link(String, String),
}

/// Decides what to do with one entry of the walk.
fn visit(root: &Path, canonical_root: &Path, entry: Result<ignore::DirEntry, ignore::Error>) -> Option<Visit> {
    let entry = match entry {
        Ok(e) => e,
        Err(err) => {
            // An unreadable directory: report it, do not skip silently.
            let path = err_path(&err).map_or_else(|| ".".to_owned(), |p| relative(root, &p));
            return Some(Visit::Problem(SourceFile::unreadable(
                path,
                FileKind::Yaml,
                format!("cannot read this part of the repository: {err}"),
            )));
        }
    };
    let file_type = entry.file_type()?;
    let rel = relative(root, entry.path());
    if rel.is_empty() || file_type.is_dir() {
        return None;
    }
    if file_type.is_symlink() {
        return Some(match check_symlink(canonical_root, entry.path(), &rel)? {
            Ok(target) => Visit::Link(rel, target),
            Err(problem) => Visit::Problem(*problem),
        });
    }
    let Some(mut kind) = classify(&rel) else {
        return file_type.is_file().then_some(Visit::Other(rel));
    };
    if kind != FileKind::Codeowners && in_helm_templates(root, &rel) {
        kind = FileKind::HelmTemplate;
    }
    if !file_type.is_file() {
        return Some(Visit::Problem(SourceFile::unreadable(
            rel,
            kind,
            "not a regular file (a FIFO, socket or device); tollgate does not read it. Replace it with a regular file or exclude it".into(),
        )));
    }
    Some(Visit::Read(Candidate { path: rel, disk_path: entry.path().to_path_buf(), kind }))
}

/// Adds the tracked files the walk did not yield (hidden by a `.gitignore`),
/// unless the configuration excludes them. Links and special files among them
/// are judged as in the walk.
pub(crate) fn add_tracked(root: &Path, config: &Config, found: &mut Discovery, tracked: &[String]) {
    let exclude: GlobSet = crate::environment::glob_set(&config.exclude).unwrap_or_default();
    let mut seen: std::collections::HashSet<&str> = found.candidates.iter().map(|c| c.path.as_str()).collect();
    seen.extend(found.problems.iter().map(|p| p.path.as_str()));
    seen.extend(found.other_paths.iter().map(String::as_str));
    let missing: Vec<String> =
        tracked.iter().filter(|p| !seen.contains(p.as_str()) && !exclude.is_match(p.as_str())).cloned().collect();
    let Ok(canonical_root) = fs::canonicalize(root) else { return };
    for rel in missing {
        let disk = root.join(&rel);
        let Ok(meta) = fs::symlink_metadata(&disk) else { continue };
        if meta.file_type().is_symlink() {
            match check_symlink(&canonical_root, &disk, &rel) {
                Some(Ok(target)) => found.links.push((rel, target)),
                Some(Err(problem)) => found.problems.push(*problem),
                None => {}
            }
            continue;
        }
        match classify(&rel) {
            Some(kind) if meta.is_file() => {
                let kind = if kind != FileKind::Codeowners && in_helm_templates(root, &rel) {
                    FileKind::HelmTemplate
                } else {
                    kind
                };
                found.candidates.push(Candidate { path: rel, disk_path: disk, kind });
            }
            Some(_) | None if !meta.is_file() => {}
            _ => found.other_paths.push(rel),
        }
    }
    found.candidates.sort_by(|a, b| a.path.cmp(&b.path));
    found.other_paths.sort();
    found.links.sort();
}

fn err_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => err_path(err),
        _ => None,
    }
}

/// Repository-relative path with forward slashes.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut out = String::new();
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&c.as_os_str().to_string_lossy());
    }
    out
}

/// A file below a `templates/` folder of a Helm chart (a folder holding `Chart.yaml`).
fn in_helm_templates(root: &Path, rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts.iter().enumerate().take(parts.len().saturating_sub(1)).any(|(i, p)| {
        *p == "templates" && {
            let chart_dir = parts[..i].join("/");
            root.join(&chart_dir).join("Chart.yaml").is_file() || root.join(&chart_dir).join("Chart.yml").is_file()
        }
    })
}

/// A link that leaves the root or dangles is a finding (`Err`) when tollgate
/// would have read what it names; a link inside the root gives its target's
/// repository path (`Ok`): the target is read under its own path.
fn check_symlink(canonical_root: &Path, path: &Path, rel: &str) -> Option<Result<String, Box<SourceFile>>> {
    let target = fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_default();
    match fs::canonicalize(path) {
        Ok(resolved) if resolved.starts_with(canonical_root) => Some(Ok(relative(canonical_root, &resolved))),
        Ok(resolved) => {
            let relevant = resolved.is_dir() || classify(rel).is_some();
            relevant.then(|| {
                Err(Box::new(SourceFile::unreadable(
                    rel.to_owned(),
                    classify(rel).unwrap_or(FileKind::Yaml),
                    format!(
                        "symbolic link to `{target}` leaves the repository root; tollgate never follows links out of the root, so this content is not checked. Commit the content itself instead of a link"
                    ),
                )))
            })
        }
        Err(_) => classify(rel).map(|kind| {
            Err(Box::new(SourceFile::unreadable(
                rel.to_owned(),
                kind,
                format!("symbolic link to `{target}` points nowhere; fix or remove the link"),
            )))
        }),
    }
}

/// Reads and parses one candidate. Never fails: problems become the file's
/// [`SourceFile::problem`].
pub fn load(candidate: &Candidate, config: &Config, limits: &Limits) -> SourceFile {
    let path = candidate.path.clone();
    let kind = candidate.kind;
    let unreadable = |message: String| SourceFile::unreadable(path.clone(), kind, message);
    let mut file = match fs::File::open(&candidate.disk_path) {
        Ok(f) => f,
        Err(e) => return unreadable(format!("cannot read the file: {e}. Make it readable so it can be checked")),
    };
    let size = file.metadata().map_or(0, |m| m.len());
    if size > config.max_file_size {
        return unreadable(format!(
            "file is {} bytes, over the {}-byte limit; tollgate did not read it. Split the file, exclude it, or raise `limits.max_file_size`",
            size, config.max_file_size
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // Read at most one byte past the limit, in case the file grew.
    if let Err(e) = (&mut file).take(config.max_file_size + 1).read_to_end(&mut bytes) {
        return unreadable(format!("cannot read the file: {e}"));
    }
    if bytes.len() as u64 > config.max_file_size {
        return unreadable(format!("file is over the {}-byte limit; tollgate did not read it", config.max_file_size));
    }
    if kind != FileKind::HelmTemplate && memchr_nul(&bytes) {
        return unreadable("file contains NUL bytes: it is binary, not YAML or JSON. Remove it or rename it".into());
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let prefix = String::from_utf8_lossy(&bytes[..valid]);
            let line = prefix.matches('\n').count() + 1;
            let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let mut f = unreadable(format!(
                "invalid UTF-8 at byte {valid} (line {line}, column {column}); YAML and JSON must be UTF-8. Re-encode the file as UTF-8"
            ));
            if let Some(p) = f.problem.as_mut() {
                p.span.start.line = line as u32;
                p.span.start.column = column as u32;
                p.span.end = p.span.start;
                p.span.end.column += 1;
            }
            return f;
        }
    };
    if text.len() > BIG_FILE {
        // The YAML scanner buffers every token of a flow collection that
        // could still turn out to be a key (`[1,1,1,...]`): hundreds of bytes
        // per token, so a 5 MiB file can take about a gigabyte while it is
        // read. Large files are read one at a time, so that this transient
        // memory does not grow with the number of cores.
        let _one_at_a_time = BIG_FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        return SourceFile::parse(path, kind, text, limits);
    }
    SourceFile::parse(path, kind, text, limits)
}

/// Files larger than this are parsed one at a time.
const BIG_FILE: usize = 1 << 20;
static BIG_FILES: Mutex<()> = Mutex::new(());

fn memchr_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0)
}
