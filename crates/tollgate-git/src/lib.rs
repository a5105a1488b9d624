//! Git history through `gix`: the range of a change under review, the paths
//! it changes, and the guarded files read from its base, so that a pull
//! request is judged by the target branch's CODEOWNERS and trust policy,
//! never by the ones it brings. Nothing here runs git or anything from the
//! repository: objects are read directly.
//!
//! ```no_run
//! let range = tollgate_git::read_range(".".as_ref(), "origin/main", "HEAD", &[".github/CODEOWNERS"]);
//! match &range.problem {
//!     Some(why) => eprintln!("cannot check the range: {why}"),
//!     None => println!("{} paths changed", range.changed_paths.len()),
//! }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gix::ObjectId;
use tollgate_core::{RangeInfo, Rule};

mod history_unavailable;

/// The history rules.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(history_unavailable::HistoryUnavailable)]
}

const FETCH_HINT: &str = "In GitHub Actions use `actions/checkout` with `fetch-depth: 0` (or fetch the base branch: `git fetch origin <base>`)";

/// The regular files git tracks under `root` (repository-relative to `root`),
/// or `None` when `root` is not in a git repository. Discovery scans these even
/// when a `.gitignore` (which the change under review may have edited) hides them.
pub fn tracked_paths(root: &Path) -> Option<Vec<String>> {
    let repo = gix::discover(root).ok()?;
    let work = repo.workdir()?.canonicalize().ok()?;
    let prefix = root.canonicalize().ok()?.strip_prefix(&work).ok()?.to_string_lossy().replace('\\', "/");
    let index = repo.index_or_empty().ok()?;
    let mut out = Vec::new();
    for entry in index.entries() {
        if !matches!(entry.mode, gix::index::entry::Mode::FILE | gix::index::entry::Mode::FILE_EXECUTABLE) {
            continue;
        }
        let path = entry.path(&index).to_string();
        let relative =
            if prefix.is_empty() { Some(path) } else { path.strip_prefix(&format!("{prefix}/")).map(str::to_owned) };
        out.extend(relative);
    }
    Some(out)
}

/// Reads the range `base..head` of the repository at `root`: the paths
/// changed since the merge base, and `base_paths` as they are at `base`.
/// Never fails: a problem (not a repository, shallow clone, unknown ref) is
/// returned in [`RangeInfo::problem`].
pub fn read_range(root: &Path, base: &str, head: &str, base_paths: &[&str]) -> RangeInfo {
    let mut info = RangeInfo { base: base.to_owned(), head: head.to_owned(), ..RangeInfo::default() };
    if let Err(problem) = fill(root, base, head, base_paths, &mut info) {
        info.problem = Some(problem);
    }
    info
}

fn fill(root: &Path, base: &str, head: &str, base_paths: &[&str], info: &mut RangeInfo) -> Result<(), String> {
    let repo = gix::discover(root).map_err(|e| format!("`{}` is not inside a git repository ({e})", root.display()))?;
    let prefix = match (repo.workdir().and_then(|w| w.canonicalize().ok()), root.canonicalize().ok()) {
        (Some(work), Some(root)) => root
            .strip_prefix(&work)
            .map(|p| p.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    if repo.is_shallow().unwrap_or(true) {
        return Err(format!(
            "the clone is shallow, so the commits between `{base}` and `{head}` are not all present. {FETCH_HINT}"
        ));
    }
    let commit = |spec: &str| -> Result<ObjectId, String> {
        repo.rev_parse_single(spec)
            .map_err(|e| format!("unknown revision `{spec}` ({e}). {FETCH_HINT}"))?
            .object()
            .map_err(|e| format!("cannot read `{spec}`: {e}"))?
            .peel_to_commit()
            .map(|c| c.id)
            .map_err(|e| format!("`{spec}` is not a commit: {e}"))
    };
    let base_id = commit(base)?;
    let head_id = commit(head)?;
    let merge_base = repo
        .merge_base(base_id, head_id)
        .map_err(|e| format!("cannot compute the merge base of `{base}` and `{head}`: {e}. {FETCH_HINT}"))?
        .ok_or_else(|| format!("`{base}` and `{head}` have no common ancestor. {FETCH_HINT}"))?
        .detach();
    let tree_of = |id: ObjectId| -> Result<ObjectId, String> {
        repo.find_commit(id).map_err(|e| e.to_string())?.tree_id().map(gix::Id::detach).map_err(|e| e.to_string())
    };
    let mut changed = Vec::new();
    diff_trees(&repo, Some(tree_of(merge_base)?), Some(tree_of(head_id)?), "", &mut changed)?;
    info.changed_paths = changed
        .into_iter()
        .filter_map(
            |p| if prefix.is_empty() { Some(p) } else { p.strip_prefix(&format!("{prefix}/")).map(str::to_owned) },
        )
        .collect();
    let base_tree = repo.find_commit(base_id).map_err(|e| e.to_string())?.tree().map_err(|e| e.to_string())?;
    let mut files = HashMap::new();
    for path in base_paths {
        let full = if prefix.is_empty() { (*path).to_owned() } else { format!("{prefix}/{path}") };
        if let Some(entry) = base_tree.lookup_entry_by_path(&full).map_err(|e| e.to_string())? {
            let object = entry.object().map_err(|e| e.to_string())?;
            files.insert((*path).to_owned(), String::from_utf8_lossy(&object.data).into_owned());
        }
    }
    info.base_files = files;
    Ok(())
}

/// Entries of a tree: name → (is a tree, object id).
fn entries(repo: &gix::Repository, id: Option<ObjectId>) -> Result<BTreeMap<String, (bool, ObjectId)>, String> {
    let mut out = BTreeMap::new();
    let Some(id) = id else { return Ok(out) };
    let tree = repo.find_tree(id).map_err(|e| e.to_string())?;
    let decoded = tree.decode().map_err(|e| e.to_string())?;
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
) -> Result<(), String> {
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
