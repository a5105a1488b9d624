//! `unsigned-commit`: a commit of the range without a signature.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, RuleSummary, SignatureVerdict};

/// Reports every commit of the checked range that carries no signature.
pub(crate) struct UnsignedCommit;

impl Rule for UnsignedCommit {
    fn page(&self) -> &'static str {
        RuleId::UnsignedCommit.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for commit in super::commits(cx).iter().filter(|c| super::is(&c.verdict, "unsigned")) {
            let message = format!(
                "Commit {} by {} is not signed. Every commit of the change must be signed by a key of {}: sign it and push again (`git rebase --exec 'git commit --amend --no-edit -S' <base>`), with `commit.gpgsign=true` set for the future.",
                commit.short(),
                commit.author,
                super::policy_name(cx)
            );
            out.extend(super::commit_finding(cx, commit, None, message));
        }
    }

    /// The signatures of the range at a glance (the job summary lists every
    /// commit that is not signed by a trusted, authorized key).
    fn summary(&self, cx: &RepositoryContext<'_>) -> Option<RuleSummary> {
        let range = cx.model.range.as_ref().filter(|r| r.problem.is_none())?;
        let (mut trusted, mut unsigned, mut bad, mut untrusted, mut outside) = (0, 0, 0, 0, 0);
        let mut items = Vec::new();
        for commit in &range.commits {
            let what = match &commit.verdict {
                SignatureVerdict::Trusted { unauthorized, .. } if unauthorized.is_empty() => {
                    trusted += 1;
                    continue;
                }
                SignatureVerdict::Trusted { unauthorized, signer, .. } => {
                    outside += 1;
                    format!("signed by `{signer}`, who may not change {} of its files", unauthorized.len())
                }
                SignatureVerdict::Unsigned => {
                    unsigned += 1;
                    "unsigned".to_owned()
                }
                SignatureVerdict::Bad { .. } => {
                    bad += 1;
                    "signature does not verify".to_owned()
                }
                SignatureVerdict::Untrusted { fingerprint, .. } => {
                    untrusted += 1;
                    format!("signed by untrusted key {}", fingerprint.as_deref().unwrap_or("?"))
                }
            };
            items.push((
                commit.id[..commit.id.len().min(12)].to_owned(),
                format!("{what} · {} · {}", commit.author, commit.summary),
            ));
        }
        Some(RuleSummary {
            rule_id: cx.meta().id.to_string(),
            title: format!(
                "Signatures of the {} commit(s) in {}..{}: {trusted} trusted, {unsigned} unsigned, {untrusted} untrusted, {bad} bad, {outside} outside the signer's paths",
                range.commits.len(),
                range.base,
                range.head
            ),
            columns: ("commit".to_owned(), "problem".to_owned()),
            items,
        })
    }
}
