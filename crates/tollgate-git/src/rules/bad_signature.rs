//! `bad-signature`: a signature that does not verify or cannot be read.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, SignatureVerdict};

/// Reports commits whose signature does not verify, cannot be parsed, or is in
/// a format tollgate cannot verify offline.
pub(crate) struct BadSignature;

impl Rule for BadSignature {
    fn page(&self) -> &'static str {
        RuleId::BadSignature.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for commit in super::commits(cx) {
            let SignatureVerdict::Bad { reason, .. } = &commit.verdict else { continue };
            let message = format!(
                "The signature of commit {} by {} is not valid: {reason}. Re-sign the commit with a key of {} and push again; if nobody re-wrote it, find out who changed the commit.",
                commit.short(),
                commit.author,
                super::policy_name(cx)
            );
            out.extend(super::commit_finding(cx, commit, None, message));
        }
    }
}
