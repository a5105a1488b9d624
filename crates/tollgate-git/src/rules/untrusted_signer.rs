//! `untrusted-signer`: a valid signature by a key the policy does not trust.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, SignatureVerdict};

/// Reports commits signed by a key the trust policy of the base commit does
/// not name, or names but not as valid when it signed (expired, revoked).
pub(crate) struct UntrustedSigner;

impl Rule for UntrustedSigner {
    fn page(&self) -> &'static str {
        RuleId::UntrustedSigner.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for commit in super::commits(cx) {
            let SignatureVerdict::Untrusted { reason, .. } = &commit.verdict else { continue };
            let message = format!(
                "Commit {} by {} is signed by a key that is not trusted: {reason}. Re-sign it with a key the policy names, or add the key to the policy in its own pull request (the policy of the target branch judges a change, so it counts once merged).",
                commit.short(),
                commit.author,
            );
            out.extend(super::commit_finding(cx, commit, None, message));
        }
    }
}
