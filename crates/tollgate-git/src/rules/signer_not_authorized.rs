//! `signer-not-authorized`: a trusted signer changed a path outside their `paths`.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, SignatureVerdict};

/// At most this many findings per commit; the last one says how many more.
const PER_COMMIT: usize = 50;

/// Reports each file a trusted signer's commit changed that the signer's
/// `paths` in the trust policy do not cover.
pub(crate) struct SignerNotAuthorized;

impl Rule for SignerNotAuthorized {
    fn page(&self) -> &'static str {
        RuleId::SignerNotAuthorized.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for commit in super::commits(cx) {
            let SignatureVerdict::Trusted { signer, unauthorized, allowed, .. } = &commit.verdict else { continue };
            let total = unauthorized.len();
            for (i, path) in unauthorized.iter().take(PER_COMMIT).enumerate() {
                let mut message = format!(
                    "Commit {} changes `{path}`, but its signer `{signer}` may only change {}. Have someone whose `paths` in {} cover this file sign the change, or move it out of this commit.",
                    commit.short(),
                    allowed.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
                    super::policy_name(cx)
                );
                if i + 1 == PER_COMMIT && total > PER_COMMIT {
                    message.push_str(&format!(
                        " ({} more files of this commit are outside the signer's paths.)",
                        total - PER_COMMIT
                    ));
                }
                let here = cx.model.file(path).is_some().then_some(path.as_str());
                out.extend(super::commit_finding(cx, commit, here, message));
            }
        }
    }
}
