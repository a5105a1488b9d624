//! The signature rules: each reports one kind of [`SignatureVerdict`] of the
//! commits `tollgate-git` verified.

use tollgate_core::{CommitCheck, Finding, RepositoryContext, SignatureVerdict};

mod bad_signature;
mod signer_not_authorized;
mod unsigned_commit;
mod untrusted_signer;

pub(crate) use bad_signature::BadSignature;
pub(crate) use signer_not_authorized::SignerNotAuthorized;
pub(crate) use unsigned_commit::UnsignedCommit;
pub(crate) use untrusted_signer::UntrustedSigner;

/// The commits of a readable range.
fn commits<'a>(cx: &'a RepositoryContext<'_>) -> &'a [CommitCheck] {
    match &cx.model.range {
        Some(range) if range.problem.is_none() => &range.commits,
        _ => &[],
    }
}

/// Where a finding about `commit` is anchored: the first file it changed that
/// is still there, else the trust policy, else a guardrail file, else any file.
fn anchor<'a>(cx: &'a RepositoryContext<'_>, commit: &'a CommitCheck) -> Option<&'a str> {
    let range = cx.model.range.as_ref();
    commit
        .changed_paths
        .iter()
        .map(String::as_str)
        .find(|p| cx.model.file(p).is_some())
        .or_else(|| range.and_then(|r| r.trust_anchor.as_deref()).filter(|p| cx.model.file(p).is_some()))
        .or_else(|| {
            [".tollgate/signers.yaml", ".github/CODEOWNERS", "CODEOWNERS", ".tollgate.yaml"]
                .into_iter()
                .find(|p| cx.model.file(p).is_some())
        })
        .or_else(|| cx.model.files.first().map(|f| f.path.as_str()))
}

/// A finding about `commit` at its anchor.
fn commit_finding(
    cx: &RepositoryContext<'_>,
    commit: &CommitCheck,
    path: Option<&str>,
    message: String,
) -> Option<Finding> {
    let path = path.or_else(|| anchor(cx, commit))?;
    let mut finding = cx.finding_at(path, None, &format!("{}:{path}", commit.id), message);
    finding.commit = Some(Box::new(commit.reference()));
    Some(finding)
}

/// `the trust policy `origin/main:.tollgate/signers.yaml``
fn policy_name(cx: &RepositoryContext<'_>) -> String {
    match cx.model.range.as_ref().and_then(|r| r.trust_source.as_deref()) {
        Some(source) => format!("the trust policy `{source}`"),
        None => "the trust policy".to_owned(),
    }
}

fn is(verdict: &SignatureVerdict, kind: &str) -> bool {
    matches!(
        (verdict, kind),
        (SignatureVerdict::Unsigned, "unsigned")
            | (SignatureVerdict::Bad { .. }, "bad")
            | (SignatureVerdict::Untrusted { .. }, "untrusted")
            | (SignatureVerdict::Trusted { .. }, "trusted")
    )
}
