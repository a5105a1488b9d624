//! Git history through `gix`: the range of a change under review, the paths
//! it changes, every commit's signature checked against the trust policy, and
//! the guarded files read from its base, so that a pull request is judged by
//! the target branch's CODEOWNERS and trust policy, never by the ones it
//! brings. Nothing here runs git, gpg or ssh-keygen: objects are read
//! directly and signatures are verified in Rust.
//!
//! ```no_run
//! use tollgate_git::{Trust, read_range};
//! let trust = Trust::BasePolicy(".tollgate/signers.yaml".to_owned());
//! let range = read_range(".".as_ref(), "origin/main", "HEAD", &[".github/CODEOWNERS"], trust);
//! match &range.problem {
//!     Some(why) => eprintln!("cannot check the range: {why}"),
//!     None => println!("{} commits, {} paths changed", range.commits.len(), range.changed_paths.len()),
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use gix::ObjectId;
use rayon::prelude::*;
use tollgate_core::{CommitCheck, RangeInfo, Rule, SignatureVerdict};

mod history_unavailable;
mod rules;
mod trust;
mod verify;

pub use trust::{Signer, TrustError, TrustPolicy};

/// The history rules.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(history_unavailable::HistoryUnavailable),
        Box::new(rules::UnsignedCommit),
        Box::new(rules::BadSignature),
        Box::new(rules::UntrustedSigner),
        Box::new(rules::SignerNotAuthorized),
    ]
}

const FETCH_HINT: &str = "In GitHub Actions use `actions/checkout` with `fetch-depth: 0` (or fetch the base branch: `git fetch origin <base>`)";

/// Which trust policy judges the signatures of a range.
#[derive(Debug)]
pub enum Trust {
    /// The policy file at this path (relative to the checked root), read from
    /// the base commit: a change cannot trust its own key.
    BasePolicy(String),
    /// A policy given from outside the repository (`--signers`,
    /// `--allowed-signers`), used as is.
    Given(TrustPolicy),
}

/// The regular files git tracks under `root` (repository-relative to `root`),
/// or `None` when `root` is not in a git repository. Discovery scans these even
/// when a `.gitignore` (which the change under review may have edited) hides them.
pub fn tracked_paths(root: &Path) -> Option<Vec<String>> {
    let repo = gix::discover(root).ok()?;
    let prefix = RootPrefix::of(&repo, root)?;
    let index = repo.index_or_empty().ok()?;
    let mut out = Vec::new();
    for entry in index.entries() {
        if !matches!(entry.mode, gix::index::entry::Mode::FILE | gix::index::entry::Mode::FILE_EXECUTABLE) {
            continue;
        }
        out.extend(prefix.relative(entry.path(&index).to_string()));
    }
    Some(out)
}

/// Files of one commit, read from git objects (never from the work tree).
#[derive(Debug, Default, Clone)]
pub struct TreeFiles {
    /// The revision as given.
    pub revision: String,
    /// Root-relative path → content, for every regular file that was wanted.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Wanted paths that are symbolic links in the commit: their targets are
    /// not followed.
    pub links: Vec<String>,
    /// Wanted paths larger than the size limit: not read.
    pub oversized: Vec<String>,
    /// Wanted paths whose blob is one the caller already holds (see
    /// [`read_tree_known`]): not read.
    pub known: Vec<String>,
}

/// The git blob id (SHA-1) of `data`, as `git hash-object` computes it.
///
/// ```
/// assert_eq!(hex(&tollgate_git::blob_id(b"hello\n")), "ce013625030ba8dba906f756967f9e9ca394464a");
/// fn hex(b: &[u8]) -> String { b.iter().map(|x| format!("{x:02x}")).collect() }
/// ```
pub fn blob_id(data: &[u8]) -> Vec<u8> {
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, data)
        .map(|id| id.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Why the files of a commit could not be read. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// `root` is not in a git work tree.
    #[error("`{root}` is not inside a git repository ({reason})")]
    NotARepository {
        /// The checked root.
        root: PathBuf,
        /// What gix said.
        reason: String,
    },
    /// The revision does not name a commit this clone has.
    #[error("unknown revision `{revision}` ({reason}). {FETCH_HINT}")]
    UnknownRevision {
        /// The revision as given.
        revision: String,
        /// What gix said.
        reason: String,
    },
    /// The revision names something that is not a commit.
    #[error("`{revision}` is not a commit: {reason}")]
    NotACommit {
        /// The revision as given.
        revision: String,
        /// What gix said.
        reason: String,
    },
    /// An object of the commit could not be read (a damaged or partial clone).
    #[error("cannot read `{what}` of `{revision}`: {reason}")]
    Unreadable {
        /// The revision as given.
        revision: String,
        /// The path, tree or commit that could not be read.
        what: String,
        /// What gix said.
        reason: String,
    },
}

/// What gix or the object store said.
type Cause = Box<dyn std::error::Error + Send + Sync>;

fn cause(e: impl std::error::Error + Send + Sync + 'static) -> Cause {
    Box::new(e)
}

/// Why the commits of a range could not be read; its message is
/// [`RangeInfo::problem`]. Each says what failed and, where fetching more
/// history helps, how to fetch it.
#[derive(Debug, thiserror::Error)]
enum RangeError {
    /// The root is not in a repository, or a revision is unknown or not a commit.
    #[error(transparent)]
    Revision(#[from] TreeError),
    /// A shallow clone lacks the commits of the range.
    #[error("the clone is shallow, so the commits between `{base}` and `{head}` are not all present. {FETCH_HINT}")]
    Shallow { base: String, head: String },
    /// A revision's object could not be read.
    #[error("cannot read `{revision}`: {cause}")]
    RevisionUnreadable { revision: String, cause: Cause },
    /// The merge base could not be computed.
    #[error("cannot compute the merge base of `{base}` and `{head}`: {cause}. {FETCH_HINT}")]
    MergeBase { base: String, head: String, cause: Cause },
    /// The two commits share no history.
    #[error("`{base}` and `{head}` have no common ancestor. {FETCH_HINT}")]
    NoCommonAncestor { base: String, head: String },
    /// A path of the base commit is not a file.
    #[error("`{path}` is not a regular file at `{base}`")]
    NotAFile { path: String, base: String },
    /// The commits of the range could not be listed.
    #[error("cannot walk `{base}..{head}`: {cause}. {FETCH_HINT}")]
    Walk { base: String, head: String, cause: Cause },
    /// The repository could not be opened again for a worker thread.
    #[error("cannot open `{}`: {cause}", git_dir.display())]
    Open { git_dir: PathBuf, cause: Cause },
    /// A commit of the range could not be read or decoded.
    #[error("cannot {action} commit {id}: {cause}")]
    Commit { action: &'static str, id: ObjectId, cause: Cause },
    /// A parent of a commit of the range is missing.
    #[error("cannot read commit {id}: {cause}. {FETCH_HINT}")]
    Parent { id: ObjectId, cause: Cause },
    /// A commit's signature could not be read.
    #[error("cannot read the signature of commit {id}: {cause}")]
    Signature { id: ObjectId, cause: Cause },
    /// A tree or commit object could not be read.
    #[error(transparent)]
    Object(Cause),
}

/// Reads, at `revision`, every regular file under `root` whose root-relative
/// path `want` accepts (at most `max_size` bytes each). This is how the base
/// commit's guardrails (configuration, policies, `.sops.yaml`, `.gitignore`
/// files) judge a change: the work tree holds the change, the base commit
/// holds what was reviewed and merged.
///
/// ```no_run
/// let base = tollgate_git::read_tree(".".as_ref(), "origin/main", &|p| p.starts_with("policy/"), 5 << 20).unwrap();
/// for (path, bytes) in &base.files {
///     println!("{path}: {} bytes at origin/main", bytes.len());
/// }
/// ```
pub fn read_tree(
    root: &Path,
    revision: &str,
    want: &dyn Fn(&str) -> bool,
    max_size: u64,
) -> Result<TreeFiles, TreeError> {
    read_tree_known(root, revision, want, max_size, &|_, _| false)
}

/// [`read_tree`], except that a wanted path for which `known(path, blob id)`
/// is true (the caller holds that exact content, for example the same file
/// of the work tree) is listed in [`TreeFiles::known`] instead of read.
pub fn read_tree_known(
    root: &Path,
    revision: &str,
    want: &dyn Fn(&str) -> bool,
    max_size: u64,
    known: &dyn Fn(&str, &[u8]) -> bool,
) -> Result<TreeFiles, TreeError> {
    let unreadable = |what: &str, e: &dyn std::fmt::Display| TreeError::Unreadable {
        revision: revision.to_owned(),
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let repo = gix::discover(root)
        .map_err(|e| TreeError::NotARepository { root: root.to_path_buf(), reason: e.to_string() })?;
    let prefix = RootPrefix::of(&repo, root).unwrap_or_default();
    let tree = repo
        .rev_parse_single(revision)
        .map_err(|e| TreeError::UnknownRevision { revision: revision.to_owned(), reason: e.to_string() })?
        .object()
        .map_err(|e| unreadable("the commit", &e))?
        .peel_to_commit()
        .map_err(|e| TreeError::NotACommit { revision: revision.to_owned(), reason: e.to_string() })?
        .tree_id()
        .map_err(|e| unreadable("the tree", &e))?
        .detach();
    // Down to the checked root, then every entry below it.
    let mut start = Some(tree);
    for part in prefix.0.split('/').filter(|p| !p.is_empty()) {
        start = entries(&repo, start)
            .map_err(|e| unreadable(part, &e))?
            .get(part)
            .filter(|(is_tree, _)| *is_tree)
            .map(|(_, id)| *id);
    }
    let mut out = TreeFiles { revision: revision.to_owned(), ..TreeFiles::default() };
    let mut stack: Vec<(String, ObjectId)> = start.map(|id| (String::new(), id)).into_iter().collect();
    while let Some((dir, id)) = stack.pop() {
        let tree = repo.find_tree(id).map_err(|e| unreadable(&dir, &e))?;
        let decoded = tree.decode().map_err(|e| unreadable(&dir, &e))?;
        for entry in &decoded.entries {
            let path = if dir.is_empty() { entry.filename.to_string() } else { format!("{dir}/{}", entry.filename) };
            if entry.mode.is_tree() {
                stack.push((path, entry.oid.to_owned()));
                continue;
            }
            if !want(&path) {
                continue;
            }
            if entry.mode.is_link() {
                out.links.push(path);
            } else if entry.mode.is_blob() {
                if known(&path, entry.oid.as_bytes()) {
                    out.known.push(path);
                    continue;
                }
                let header = repo.find_header(entry.oid).map_err(|e| unreadable(&path, &e))?;
                if header.size() > max_size {
                    out.oversized.push(path);
                    continue;
                }
                let blob = repo.find_blob(entry.oid).map_err(|e| unreadable(&path, &e))?;
                out.files.insert(path, blob.data.clone());
            }
        }
    }
    out.links.sort();
    out.oversized.sort();
    Ok(out)
}

/// Reads the range `base..head` of the repository at `root`: the paths
/// changed since the merge base, `base_paths` as they are at `base`, and every
/// commit of the range (`git rev-list base..head`, merges included) with its
/// signature verified against `trust`. Never fails: a problem (not a
/// repository, shallow clone, unknown ref) is returned in
/// [`RangeInfo::problem`].
pub fn read_range(root: &Path, base: &str, head: &str, base_paths: &[&str], trust: Trust) -> RangeInfo {
    let mut info = RangeInfo { base: base.to_owned(), head: head.to_owned(), ..RangeInfo::default() };
    if let Err(problem) = fill(root, base, head, base_paths, trust, &mut info) {
        info.problem = Some(problem.to_string());
    }
    info
}

fn fill(
    root: &Path,
    base: &str,
    head: &str,
    base_paths: &[&str],
    trust: Trust,
    info: &mut RangeInfo,
) -> Result<(), RangeError> {
    let repo = gix::discover(root)
        .map_err(|e| TreeError::NotARepository { root: root.to_path_buf(), reason: e.to_string() })?;
    let prefix = RootPrefix::of(&repo, root).unwrap_or_default();
    let (base_name, head_name) = (base.to_owned(), head.to_owned());
    if repo.is_shallow().unwrap_or(true) {
        return Err(RangeError::Shallow { base: base_name, head: head_name });
    }
    let commit = |spec: &str| -> Result<ObjectId, RangeError> {
        let revision = spec.to_owned();
        repo.rev_parse_single(spec)
            .map_err(|e| TreeError::UnknownRevision { revision: revision.clone(), reason: e.to_string() })?
            .object()
            .map_err(|e| RangeError::RevisionUnreadable { revision: revision.clone(), cause: cause(e) })?
            .peel_to_commit()
            .map(|c| c.id)
            .map_err(|e| TreeError::NotACommit { revision, reason: e.to_string() }.into())
    };
    let base_id = commit(base)?;
    let head_id = commit(head)?;
    let merge_base = repo
        .merge_base(base_id, head_id)
        .map_err(|e| RangeError::MergeBase { base: base_name.clone(), head: head_name.clone(), cause: cause(e) })?
        .ok_or_else(|| RangeError::NoCommonAncestor { base: base_name.clone(), head: head_name.clone() })?
        .detach();
    let tree_of = |id: ObjectId| -> Result<ObjectId, RangeError> {
        let commit = repo.find_commit(id).map_err(|e| RangeError::Object(cause(e)))?;
        commit.tree_id().map(gix::Id::detach).map_err(|e| RangeError::Object(cause(e)))
    };
    let relative =
        |paths: Vec<String>| -> Vec<String> { paths.into_iter().filter_map(|p| prefix.relative(p)).collect() };
    info.merge_base = Some(merge_base.to_string());
    let mut changed = Vec::new();
    diff_trees(&repo, Some(tree_of(merge_base)?), Some(tree_of(head_id)?), "", &mut changed)?;
    info.changed_paths = relative(changed);
    let base_tree = repo
        .find_commit(base_id)
        .map_err(|e| RangeError::Object(cause(e)))?
        .tree()
        .map_err(|e| RangeError::Object(cause(e)))?;
    let read_base = |path: &str| -> Result<Option<Vec<u8>>, RangeError> {
        let full = prefix.full(path);
        match base_tree.lookup_entry_by_path(&full).map_err(|e| RangeError::Object(cause(e)))? {
            Some(entry) if entry.mode().is_blob() => {
                Ok(Some(entry.object().map_err(|e| RangeError::Object(cause(e)))?.data.clone()))
            }
            Some(_) => Err(RangeError::NotAFile { path: path.to_owned(), base: base_name.clone() }),
            None => Ok(None),
        }
    };
    let mut files = HashMap::new();
    for path in base_paths {
        if let Ok(Some(data)) = read_base(path) {
            files.insert((*path).to_owned(), String::from_utf8_lossy(&data).into_owned());
        }
    }
    info.base_files = files;

    // The trust policy: from the base commit unless given from outside.
    let policy = match trust {
        Trust::Given(policy) => policy,
        Trust::BasePolicy(path) => {
            info.trust_anchor = Some(path.clone());
            let source = format!("{base}:{path}");
            match read_base(&path) {
                Err(e) => TrustPolicy::unusable(&source, format!("the trust policy `{source}` cannot be read: {e}")),
                Ok(None) => TrustPolicy::unusable(
                    &source,
                    format!(
                        "there is no trust policy at `{source}`, so no signer is trusted: add `{path}` (see `tollgate explain untrusted-signer`) and merge it before it can vouch for commits"
                    ),
                ),
                Ok(Some(bytes)) => {
                    let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
                    let read = |file: &str| -> std::io::Result<Vec<u8>> {
                        let joined = normalize_join(&dir, file).ok_or_else(|| {
                            std::io::Error::new(
                                std::io::ErrorKind::PermissionDenied,
                                format!("`{file}` leaves the repository"),
                            )
                        })?;
                        read_base(&joined).map_err(std::io::Error::other)?.ok_or_else(|| {
                            std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                format!("`{joined}` does not exist at `{base}`"),
                            )
                        })
                    };
                    match TrustPolicy::from_signers_yaml(&String::from_utf8_lossy(&bytes), &source, &read) {
                        Ok(policy) => policy,
                        Err(e) => TrustPolicy::unusable(
                            &source,
                            format!("the trust policy is invalid ({e}), so no signer is trusted"),
                        ),
                    }
                }
            }
        }
    };
    info.trust_source = Some(policy.source.clone());

    // The commits of the range, verified in parallel; each thread has its own
    // handle on the object database, every key was parsed once above.
    let ids: Vec<ObjectId> = repo
        .rev_walk([head_id])
        .with_hidden([base_id])
        .all()
        .map_err(|e| RangeError::Walk { base: base_name.clone(), head: head_name.clone(), cause: cause(e) })?
        .map(|info| {
            info.map(|i| i.id).map_err(|e| RangeError::Walk {
                base: base_name.clone(),
                head: head_name.clone(),
                cause: cause(e),
            })
        })
        .collect::<Result<_, _>>()?;
    let git_dir = repo.path().to_owned();
    let chunk = ids.len().div_ceil(rayon::current_num_threads() * 4).max(1);
    let mut commits = ids
        .par_chunks(chunk)
        .map(|chunk| -> Result<Vec<CommitCheck>, RangeError> {
            let mut repo =
                gix::open(&git_dir).map_err(|e| RangeError::Open { git_dir: git_dir.clone(), cause: cause(e) })?;
            repo.object_cache_size_if_unset(4 * 1024 * 1024);
            chunk.iter().map(|id| check_commit(&repo, *id, &policy, &relative)).collect()
        })
        .collect::<Result<Vec<_>, RangeError>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    commits.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| a.id.cmp(&b.id)));
    info.commits = commits;
    Ok(())
}

/// Where the checked root sits in the repository's work tree (`""` at the
/// top, else `apps/gitops/`): repository paths map to root-relative ones.
#[derive(Debug, Default)]
struct RootPrefix(String);

impl RootPrefix {
    /// `None` when `root` is not inside the work tree of `repo`.
    fn of(repo: &gix::Repository, root: &Path) -> Option<RootPrefix> {
        let work = repo.workdir()?.canonicalize().ok()?;
        let inside = root.canonicalize().ok()?;
        let parts: Vec<String> = inside
            .strip_prefix(&work)
            .ok()?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(RootPrefix(if parts.is_empty() { String::new() } else { format!("{}/", parts.join("/")) }))
    }

    /// A repository path relative to the root; `None` outside it.
    fn relative(&self, path: String) -> Option<String> {
        if self.0.is_empty() { Some(path) } else { path.strip_prefix(&self.0).map(str::to_owned) }
    }

    /// A root-relative path as a repository path.
    fn full(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

/// `dir/file` with `.` and `..` resolved (a `file` starting with `/` is
/// relative to the root); `None` when it leaves the root.
fn normalize_join(dir: &str, file: &str) -> Option<String> {
    match file.strip_prefix('/') {
        Some(rooted) => tollgate_core::relative_inside_root(rooted),
        None if dir.is_empty() => tollgate_core::relative_inside_root(file),
        None => tollgate_core::relative_inside_root(&format!("{dir}/{file}")),
    }
}

fn check_commit(
    repo: &gix::Repository,
    id: ObjectId,
    policy: &TrustPolicy,
    relative: &dyn Fn(Vec<String>) -> Vec<String>,
) -> Result<CommitCheck, RangeError> {
    let commit = repo.find_commit(id).map_err(|e| RangeError::Commit { action: "read", id, cause: cause(e) })?;
    let decoded = commit.decode().map_err(|e| RangeError::Commit { action: "decode", id, cause: cause(e) })?;
    let author = decoded.author().map_or_else(|_| decoded.author.to_string(), |a| format!("{} <{}>", a.name, a.email));
    let time = decoded.committer().ok().and_then(|c| c.time().ok()).map_or(0, |t| t.seconds);
    let summary = decoded.message.to_string().lines().next().unwrap_or("").trim().to_owned();
    let parents: Vec<ObjectId> = decoded.parents().collect();
    let tree = decoded.tree();
    // What this commit itself changes: for a merge, paths differing from every parent.
    let mut changed: Option<BTreeSet<String>> = None;
    if parents.is_empty() {
        let mut out = Vec::new();
        diff_trees(repo, None, Some(tree), "", &mut out)?;
        changed = Some(out.into_iter().collect());
    }
    for parent in &parents {
        let parent_tree = repo
            .find_commit(*parent)
            .map_err(|e| RangeError::Parent { id: *parent, cause: cause(e) })?
            .tree_id()
            .map_err(|e| RangeError::Object(cause(e)))?
            .detach();
        let mut out = Vec::new();
        diff_trees(repo, Some(parent_tree), Some(tree), "", &mut out)?;
        let set: BTreeSet<String> = out.into_iter().collect();
        changed = Some(match changed {
            None => set,
            Some(previous) => previous.intersection(&set).cloned().collect(),
        });
    }
    let changed_paths = relative(changed.unwrap_or_default().into_iter().collect());
    let verdict = match commit.signature().map_err(|e| RangeError::Signature { id, cause: cause(e) })? {
        None => SignatureVerdict::Unsigned,
        Some((signature, signed)) => {
            let payload = signed.to_bstring();
            match verify::verify(policy, signature.as_ref(), payload.as_ref(), time) {
                verify::Verified::Other(v) => v,
                verify::Verified::Trusted { signer, fingerprint, format } => {
                    let s = &policy.signers[signer];
                    SignatureVerdict::Trusted {
                        format: format.to_owned(),
                        signer: s.name.clone(),
                        fingerprint,
                        unauthorized: changed_paths.iter().filter(|p| !s.may_change(p)).cloned().collect(),
                        allowed: s.paths.clone(),
                    }
                }
            }
        }
    };
    Ok(CommitCheck { id: id.to_string(), author, summary, time, parents: parents.len(), changed_paths, verdict })
}

/// Entries of a tree: name → (is a tree, object id).
fn entries(repo: &gix::Repository, id: Option<ObjectId>) -> Result<BTreeMap<String, (bool, ObjectId)>, RangeError> {
    let mut out = BTreeMap::new();
    let Some(id) = id else { return Ok(out) };
    let tree = repo.find_tree(id).map_err(|e| RangeError::Object(cause(e)))?;
    let decoded = tree.decode().map_err(|e| RangeError::Object(cause(e)))?;
    for entry in &decoded.entries {
        out.insert(entry.filename.to_string(), (entry.mode.is_tree(), entry.oid.to_owned()));
    }
    Ok(out)
}

/// Paths whose content or kind differs between two trees.
fn diff_trees(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    out: &mut Vec<String>,
) -> Result<(), RangeError> {
    let a = entries(repo, old)?;
    let b = entries(repo, new)?;
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let (ea, eb) = (a.get(name), b.get(name));
        if ea == eb {
            continue;
        }
        let tree_a = ea.filter(|(t, _)| *t).map(|(_, id)| *id);
        let tree_b = eb.filter(|(t, _)| *t).map(|(_, id)| *id);
        if tree_a.is_some() || tree_b.is_some() {
            diff_trees(repo, tree_a, tree_b, &path, out)?;
        }
        let blob_a = ea.filter(|(t, _)| !*t);
        let blob_b = eb.filter(|(t, _)| !*t);
        if blob_a.is_some() || blob_b.is_some() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_problem_says_what_failed_and_how_to_fetch() {
        let (base, head) = ("origin/main".to_owned(), "HEAD".to_owned());
        let shallow = RangeError::Shallow { base: base.clone(), head: head.clone() }.to_string();
        assert!(shallow.starts_with("the clone is shallow, so the commits between `origin/main` and `HEAD` are not all present. In GitHub Actions use `actions/checkout` with `fetch-depth: 0`"), "{shallow}");
        let unrelated = RangeError::NoCommonAncestor { base, head }.to_string();
        assert!(
            unrelated.starts_with("`origin/main` and `HEAD` have no common ancestor. In GitHub Actions"),
            "{unrelated}"
        );
        let id = ObjectId::null(gix::hash::Kind::Sha1);
        let decode = RangeError::Commit { action: "decode", id, cause: "bad header".into() }.to_string();
        assert_eq!(decode, format!("cannot decode commit {id}: bad header"));
        let unknown: RangeError =
            TreeError::UnknownRevision { revision: "x".into(), reason: "not found".into() }.into();
        assert!(unknown.to_string().starts_with("unknown revision `x` (not found). In GitHub Actions"), "{unknown}");
    }

    #[test]
    fn a_root_outside_any_repository_is_a_problem_of_the_range() {
        let dir = std::env::temp_dir().join(format!("tollgate-git-no-repo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(gix::discover(&dir).is_err(), "the temporary directory must not be inside a repository");
        let info = read_range(&dir, "a", "b", &[], Trust::BasePolicy("signers.yaml".into()));
        let problem = info.problem.unwrap_or_default();
        assert!(problem.starts_with(&format!("`{}` is not inside a git repository (", dir.display())), "{problem}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
