//! `unpinned-remote-base`: remote Kustomize resources that float.

use tollgate_core::{DocumentContext, FileKind, Finding, Judged, Node, Route, Rule, RuleId};

/// Reports remote `resources`, `bases` and `components` of a Kustomization
/// without a `ref` (or `version`) pinned to a tag or commit.
pub(crate) struct UnpinnedRemoteBase;

/// Names of refs that move: branches, and the channels release URLs use.
const MOVING: [&str; 13] = [
    "main",
    "master",
    "head",
    "develop",
    "development",
    "trunk",
    "latest",
    "stable",
    "edge",
    "nightly",
    "canary",
    "unstable",
    "dev",
];

fn moving(segment: &str) -> bool {
    MOVING.contains(&segment.to_ascii_lowercase().as_str())
}

fn is_remote(entry: &str) -> bool {
    let e = entry.trim();
    ["http://", "https://", "git::", "ssh://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/"]
        .iter()
        .any(|p| e.starts_with(p))
}

/// What a remote reference is: a Git repository (pinned with `?ref=`), a
/// file served over HTTP (pinned by a tag or commit in its path), or a
/// release asset (pinned by naming the release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remote {
    Git,
    RawFile,
    ReleaseAsset,
}

fn remote_kind(url: &str) -> Remote {
    let path = url.split('?').next().unwrap_or(url);
    if path.contains("/releases/download/") || path.contains("/releases/latest/download/") {
        return Remote::ReleaseAsset;
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    // A Kustomize Git URL names its subdirectory after `//`; a file served
    // over HTTP has none.
    let served =
        ["http://", "https://"].iter().find_map(|p| path.strip_prefix(p)).is_some_and(|rest| !rest.contains("//"));
    if served && !path.contains(".git/") && [".yaml", ".yml", ".json"].iter().any(|x| file.ends_with(x)) {
        return Remote::RawFile;
    }
    Remote::Git
}

/// Why a remote reference is not pinned, and how to pin it; `None` when
/// it is pinned.
fn problem(url: &str) -> Option<(String, String)> {
    let path = url.split('?').next().unwrap_or(url);
    match remote_kind(url) {
        Remote::ReleaseAsset => {
            if path.contains("/releases/latest/download/") {
                return Some((
                    "it downloads the latest release, which changes with every release".to_owned(),
                    "name the release instead: `/releases/download/<tag>/…`".to_owned(),
                ));
            }
            let tag = path.split("/releases/download/").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
            moving(tag).then(|| {
                (
                    format!("its release `{tag}` is a moving channel"),
                    "name a versioned release: `/releases/download/<tag>/…`".to_owned(),
                )
            })
        }
        Remote::RawFile => {
            let segment = path.split('/').skip(3).find(|s| moving(s))?;
            Some((
                format!("its path follows `{segment}`, which moves"),
                format!("put a commit SHA (or a tag) in the URL path instead of `{segment}`"),
            ))
        }
        Remote::Git => {
            let query = url.split_once('?').map_or("", |(_, q)| q);
            let pin = query.split('&').find_map(|kv| kv.strip_prefix("ref=").or_else(|| kv.strip_prefix("version=")));
            let fix = "`?ref=<tag or commit SHA>`".to_owned();
            match pin {
                Some(r) if moving(r) => Some((format!("`ref={r}` is a branch, which moves"), fix)),
                Some("") => Some(("its `ref` is empty".to_owned(), fix)),
                Some(_) => None,
                None => Some((
                    "it has no `?ref=` pinning a tag or commit, so it follows the default branch".to_owned(),
                    fix,
                )),
            }
        }
    }
}

impl Rule for UnpinnedRemoteBase {
    fn page(&self) -> &'static str {
        RuleId::UnpinnedRemoteBase.page()
    }

    fn judges(&self) -> Judged {
        Judged::Objects { kinds: &[], kustomizations: true }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        if cx.file.kind != FileKind::Kustomization {
            return;
        }
        for field in ["resources", "bases", "components"] {
            for (i, entry) in
                cx.document.root.get_key(field).and_then(Node::as_sequence).unwrap_or_default().iter().enumerate()
            {
                let Some(url) = entry.as_str().filter(|u| is_remote(u)) else { continue };
                if let Some((why, fix)) = problem(url) {
                    cx.report(
                        &Route::root().key(field).index(i),
                        format!(
                            "Remote Kustomize {} `{url}` is not pinned: {why}. Its content can change without a commit here, and a `git revert` cannot restore it. Pin it: {fix}.",
                            field.trim_end_matches('s')
                        ),
                    )
                    .emit(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_remote, problem};

    #[test]
    fn remote_references() {
        assert!(is_remote("github.com/org/repo//deploy?ref=v1.0.0"));
        assert!(!is_remote("../../base"));
        assert!(problem("github.com/org/repo//deploy?ref=v1.0.0").is_none());
        assert!(problem("https://github.com/org/repo//deploy?ref=0a1b2c3d4e5f").is_none());
        assert!(problem("github.com/org/repo//deploy").is_some());
        assert!(problem("github.com/org/repo//deploy?ref=main").is_some());
        assert!(problem("git@github.com:org/repo.git//deploy?version=v2").is_none());
        assert!(problem("https://github.com/org/repo.git//deploy").is_some());
    }

    #[test]
    fn raw_files_and_release_assets_are_pinned_by_their_path() {
        let fix = |u: &str| problem(u).map(|(_, fix)| fix);
        assert!(problem("https://raw.githubusercontent.com/org/repo/v1.2.3/deploy/crds.yaml").is_none());
        assert!(problem("https://raw.githubusercontent.com/org/repo/4f1c2d3e/deploy/crds.yaml").is_none());
        assert!(
            fix("https://raw.githubusercontent.com/org/repo/main/deploy/crds.yaml")
                .is_some_and(|f| f.contains("commit SHA") && !f.contains("?ref="))
        );
        assert!(problem("https://raw.githubusercontent.com/org/repo/stable/deploy/crds.yaml").is_some());
        assert!(problem("https://github.com/org/repo/releases/download/v0.9.1/install.yaml").is_none());
        assert!(
            fix("https://github.com/org/repo/releases/latest/download/install.yaml")
                .is_some_and(|f| f.contains("/releases/download/<tag>/"))
        );
    }
}
