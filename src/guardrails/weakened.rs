//! `guardrail-weakened`: a change edits a guardrail so that, once merged,
//! later changes are judged less strictly.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleSummary};

use super::changes;

/// Reports every guardrail edit of the range that weakens how changes are
/// judged, at the edited line, and lists every guardrail edit of the range
/// (weakening or not) in the report's summary.
pub(crate) struct GuardrailWeakened;

impl Rule for GuardrailWeakened {
    fn page(&self) -> &'static str {
        tollgate_core::RuleId::GuardrailWeakened.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        for change in changes(cx).0.iter().filter(|c| c.weakens) {
            out.push(cx.finding_at(
                &change.path,
                change.span,
                &change.what,
                format!(
                    "This change to {} {}. It judges nothing in this pull request (the base branch's guardrails do), but once merged it weakens how every later change is judged: the owners of `{}` must review it deliberately.",
                    change.file_role, change.what, change.path
                ),
            ));
        }
    }

    fn summary(&self, cx: &RepositoryContext<'_>) -> Option<RuleSummary> {
        let all = changes(cx);
        if all.0.is_empty() {
            return None;
        }
        let range = cx.model.range.as_ref()?;
        let weakening = all.0.iter().filter(|c| c.weakens).count();
        // Who must review each file: the base commit's CODEOWNERS decides.
        let codeowners = tollgate_owners::codeowners::LOCATIONS
            .iter()
            .find_map(|p| range.base_files.get(*p).map(|text| tollgate_owners::codeowners::CodeOwners::parse(p, text)));
        let owners = |path: &str| -> String {
            match codeowners.as_ref().and_then(|c| c.owners_of(path)).map(|r| r.owners.join(" ")) {
                Some(o) if !o.is_empty() => format!(" (review: {o})"),
                _ => " (no owner in the base CODEOWNERS)".to_owned(),
            }
        };
        Some(RuleSummary {
            rule_id: cx.meta().id.to_string(),
            title: format!(
                "{} change(s) to the guardrails in {}..{} ({weakening} weaken them); the base branch's guardrails judged this range",
                all.0.len(),
                range.base,
                range.head
            ),
            columns: ("file".to_owned(), "change".to_owned()),
            items: all
                .0
                .iter()
                .map(|c| {
                    let place = c.span.map_or_else(|| c.path.clone(), |s| format!("{}:{}", c.path, s.start.line));
                    let mark = if c.weakens { "weakens" } else { "changes" };
                    (place, format!("{mark}: {}{}", c.what, owners(&c.path)))
                })
                .collect(),
        })
    }
}
