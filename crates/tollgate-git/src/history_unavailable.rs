//! `history-unavailable`: a range check that cannot be done.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId};

/// Reports a requested range that cannot be read (not a repository, shallow
/// clone, unknown ref): the check fails closed instead of passing.
pub(crate) struct HistoryUnavailable;

impl Rule for HistoryUnavailable {
    fn page(&self) -> &'static str {
        RuleId::HistoryUnavailable.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let Some(range) = &cx.model.range else { return };
        let Some(problem) = &range.problem else { return };
        // A result needs a real file: the guardrail files first.
        let anchor =
            [".tollgate/signers.yaml", ".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".tollgate.yaml"]
                .into_iter()
                .find(|p| cx.model.file(p).is_some())
                .or_else(|| cx.model.files.first().map(|f| f.path.as_str()));
        if let Some(path) = anchor {
            out.push(cx.finding_at(
                path,
                None,
                "history",
                format!(
                    "The range `{}..{}` cannot be checked: {problem}. Ownership and signatures of the change are unverified, so this is a failure, not a pass.",
                    range.base, range.head
                ),
            ));
        }
    }
}
