//! Where a render reads its files: the repository on disk (never outside
//! its root, never through a link that leaves it), or files held in memory
//! (a commit's tree, a test).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Nothing there (or nothing tollgate may read).
    Missing,
}

/// Read access to the files of a repository, by repository-relative path
/// with `/` separators.
pub trait FileSource: Send + Sync {
    /// What the path is.
    fn kind(&self, path: &str) -> PathKind;
    /// The text of a file.
    fn read(&self, path: &str) -> Result<String, String>;
    /// The names of the entries of a directory, sorted.
    fn list(&self, dir: &str) -> Result<Vec<String>, String>;
    /// The parsed documents of a YAML file, when the source already holds
    /// them (a repository model parsed once for every render and rule).
    fn parsed(&self, _path: &str) -> Option<&[tollgate_yaml::Document]> {
        None
    }
}

/// Files held in memory: `path → text` (directories are implied).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: BTreeMap<String, String>,
}

impl MemorySource {
    /// A source of these files.
    pub fn new(files: impl IntoIterator<Item = (String, String)>) -> MemorySource {
        MemorySource { files: files.into_iter().collect() }
    }
}

impl FileSource for MemorySource {
    fn kind(&self, path: &str) -> PathKind {
        if self.files.contains_key(path) {
            return PathKind::File;
        }
        let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
        if self.files.keys().any(|k| k.starts_with(&prefix)) { PathKind::Dir } else { PathKind::Missing }
    }

    fn read(&self, path: &str) -> Result<String, String> {
        self.files.get(path).cloned().ok_or_else(|| "no such file".to_owned())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_owned())
            .collect();
        names.dedup();
        Ok(names)
    }
}

/// Why [`DiskSource::new`] cannot read its root. The cause is the source,
/// printed once by whoever prints the chain.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{}`", path.display())]
pub struct RootError {
    /// The root given.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// The repository on disk under `root`.
#[derive(Debug, Clone)]
pub struct DiskSource {
    root: PathBuf,
    max_file_size: u64,
}

impl DiskSource {
    /// Files under `root`, each at most `max_file_size` bytes.
    pub fn new(root: &Path, max_file_size: u64) -> Result<DiskSource, RootError> {
        let root = std::fs::canonicalize(root).map_err(|source| RootError { path: root.to_path_buf(), source })?;
        Ok(DiskSource { root, max_file_size })
    }

    /// The path on disk, refused when it (or a link on the way) leaves the root.
    fn resolve(&self, path: &str) -> Option<PathBuf> {
        let joined = self.root.join(path);
        let resolved = std::fs::canonicalize(&joined).ok()?;
        resolved.starts_with(&self.root).then_some(resolved)
    }
}

impl FileSource for DiskSource {
    fn kind(&self, path: &str) -> PathKind {
        match self.resolve(path).and_then(|p| std::fs::metadata(p).ok()) {
            Some(m) if m.is_dir() => PathKind::Dir,
            Some(m) if m.is_file() => PathKind::File,
            _ => PathKind::Missing,
        }
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let disk = self.resolve(path).ok_or_else(|| "does not exist inside the repository".to_owned())?;
        let size = std::fs::metadata(&disk).map_err(|e| e.to_string())?.len();
        if size > self.max_file_size {
            return Err(format!("is {size} bytes, over the {}-byte limit", self.max_file_size));
        }
        let bytes = std::fs::read(&disk).map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        let disk = self.resolve(dir).ok_or_else(|| "does not exist inside the repository".to_owned())?;
        let mut names: Vec<String> = std::fs::read_dir(disk)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// `dir/rel` with `.` and `..` resolved, as a repository-relative path;
/// `None` when it leaves the repository.
pub(crate) fn join(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> =
        if rel.starts_with('/') { Vec::new() } else { dir.split('/').filter(|p| !p.is_empty()).collect() };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Whether `path` lies in `dir` or below it.
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}
