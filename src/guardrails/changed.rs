//! `guardrail-changed`: a change edits a guardrail without weakening it.

use tollgate_core::{Finding, RepositoryContext, Rule};

use super::changes;

/// Reports every guardrail edit of the range that does not weaken how
/// changes are judged, so the file's owners see it at its line.
pub(crate) struct GuardrailChanged;

impl Rule for GuardrailChanged {
    fn page(&self) -> &'static str {
        tollgate_core::RuleId::GuardrailChanged.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for change in changes(cx).0.iter().filter(|c| !c.weakens) {
            out.push(cx.finding_at(
                &change.path,
                change.span,
                &change.what,
                format!(
                    "This change to {} {}. It judges nothing until merged; the base branch's guardrails judged this range.",
                    change.file_role, change.what
                ),
            ));
        }
    }
}
