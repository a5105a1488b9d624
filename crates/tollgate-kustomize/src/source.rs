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

/// Why a file of a [`FileSource`] cannot be read. Each message completes
/// "the file …" (`cannot read `x`: it does not exist inside the repository`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Not there, or only through a link that leaves the repository.
    #[error("does not exist inside the repository")]
    Missing,
    /// Over the size limit.
    #[error("is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8.
    #[error("is not UTF-8 text")]
    NotUtf8,
    /// Unreadable for another reason: the system's, or the one the
    /// repository model recorded when it read the file.
    #[error("{0}")]
    Unreadable(String),
}

/// Read access to the files of a repository, by repository-relative path
/// with `/` separators.
pub trait FileSource: Send + Sync {
    /// What the path is.
    fn kind(&self, path: &str) -> PathKind;
    /// The text of a file.
    fn read(&self, path: &str) -> Result<String, SourceError>;
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

    fn read(&self, path: &str) -> Result<String, SourceError> {
        self.files.get(path).cloned().ok_or(SourceError::Missing)
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

    fn read(&self, path: &str) -> Result<String, SourceError> {
        let disk = self.resolve(path).ok_or(SourceError::Missing)?;
        let unreadable = |e: std::io::Error| SourceError::Unreadable(e.to_string());
        let size = std::fs::metadata(&disk).map_err(unreadable)?.len();
        if size > self.max_file_size {
            return Err(SourceError::TooLarge { size, limit: self.max_file_size });
        }
        let bytes = std::fs::read(&disk).map_err(unreadable)?;
        String::from_utf8(bytes).map_err(|_| SourceError::NotUtf8)
    }
}

/// `dir/rel` with `.` and `..` resolved, as a repository-relative path;
/// `None` when it leaves the repository.
pub(crate) fn join(dir: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') || dir.is_empty() {
        tollgate_core::normalize_segments(rel)
    } else {
        tollgate_core::normalize_segments(&format!("{dir}/{rel}"))
    }
}

/// Whether `path` lies in `dir` or below it.
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_reads_say_why_they_fail() {
        let dir = std::env::temp_dir().join(format!("tollgate-source-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app")).expect("temp dir");
        std::fs::write(dir.join("app/small.yaml"), "a: 1\n").expect("write");
        std::fs::write(dir.join("app/big.yaml"), "a: 123456789\n").expect("write");
        std::fs::write(dir.join("app/bytes.yaml"), [0xff, 0xfe]).expect("write");
        let source = DiskSource::new(&dir, 8).expect("root");
        assert_eq!(source.read("app/small.yaml").as_deref(), Ok("a: 1\n"));
        assert_eq!(source.read("app/big.yaml"), Err(SourceError::TooLarge { size: 13, limit: 8 }));
        assert_eq!(source.read("app/bytes.yaml"), Err(SourceError::NotUtf8));
        assert_eq!(source.read("app/none.yaml"), Err(SourceError::Missing));
        assert_eq!(source.read("../outside.yaml"), Err(SourceError::Missing));
        assert_eq!(SourceError::Missing.to_string(), "does not exist inside the repository");
        let missing = DiskSource::new(&dir.join("nowhere"), 8).expect_err("no root");
        assert!(missing.to_string().starts_with("cannot read `") && missing.path.ends_with("nowhere"), "{missing}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
