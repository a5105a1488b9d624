//! `unpinned-remote-base`: remote Kustomize resources that float.

use tollgate_core::{DocumentContext, FileKind, Finding, Judged, Node, Route, Rule, rule_page};

/// Reports remote `resources`, `bases` and `components` of a Kustomization
/// without a `ref` (or `version`) pinned to a tag or commit.
pub(crate) struct UnpinnedRemoteBase;

const BRANCHES: [&str; 7] = ["main", "master", "head", "develop", "development", "trunk", "latest"];

fn is_remote(entry: &str) -> bool {
    let e = entry.trim();
    ["http://", "https://", "git::", "ssh://", "git@", "github.com/", "gitlab.com/", "bitbucket.org/"]
        .iter()
        .any(|p| e.starts_with(p))
}

/// Why a remote reference is not pinned, if it is not.
fn problem(url: &str) -> Option<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let pin = query.split('&').find_map(|kv| kv.strip_prefix("ref=").or_else(|| kv.strip_prefix("version=")));
    match pin {
        Some(r) if BRANCHES.contains(&r.to_ascii_lowercase().as_str()) => {
            Some(format!("`ref={r}` is a branch, which moves"))
        }
        Some("") => Some("its `ref` is empty".to_owned()),
        Some(_) => None,
        None => {
            // A plain file URL pins itself when its path names a tag or commit.
            let path = url.split('?').next().unwrap_or(url);
            let git = path.ends_with(".git") || path.contains(".git/") || !url.starts_with("http");
            let segments: Vec<&str> = url.split(['/', '?']).collect();
            let floating = segments.iter().any(|s| BRANCHES.contains(&s.to_ascii_lowercase().as_str()));
            if git || floating || !url.rsplit('/').next().is_some_and(|f| f.ends_with(".yaml") || f.ends_with(".yml")) {
                Some("it has no `?ref=` pinning a tag or commit, so it follows the default branch".to_owned())
            } else {
                None
            }
        }
    }
}

impl Rule for UnpinnedRemoteBase {
    fn page(&self) -> &'static str {
        rule_page!("unpinned-remote-base")
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
                if let Some(why) = problem(url) {
                    cx.report(
                        &Route::root().key(field).index(i),
                        format!(
                            "Remote Kustomize {} `{url}` is not pinned: {why}. Its content can change without a commit here, and a `git revert` cannot restore it. Pin it: `?ref=<tag or commit SHA>`.",
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
        assert!(problem("https://raw.githubusercontent.com/org/repo/v1.2.3/deploy/crds.yaml").is_none());
        assert!(problem("https://raw.githubusercontent.com/org/repo/main/deploy/crds.yaml").is_some());
        assert!(problem("git@github.com:org/repo.git//deploy?version=v2").is_none());
        assert!(problem("https://github.com/org/repo.git//deploy").is_some());
    }
}
