//! `prod-path-unowned`: files under a protected path without the required owners.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, RuleSummary};

use super::{active, ownership_problem};

/// Reports every file of a protected environment that no CODEOWNERS line
/// assigns the required owners.
pub(crate) struct ProdPathUnowned;

impl Rule for ProdPathUnowned {
    fn page(&self) -> &'static str {
        RuleId::ProdPathUnowned.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let codeowners = active(cx.model);
        let review = &cx.config.review;
        for path in cx.model.all_paths() {
            if !cx.model.is_protected(path) {
                continue;
            }
            if let Some(why) =
                ownership_problem(codeowners.deciding.as_ref(), path, review.owners_must_be_teams, review.min_owners)
            {
                out.push(cx.finding_at(
                    path,
                    None,
                    "unowned",
                    format!(
                        "Prod file `{path}` has no required owner: {why}. A change to it can be merged without review by the people responsible for prod. Add a CODEOWNERS line for its directory, e.g. `/{}/ @org/prod-owners`.",
                        path.rsplit_once('/').map_or("", |(d, _)| d)
                    ),
                ));
            }
        }
    }

    /// In a range check: the changed prod files and the owners (from the
    /// base commit's CODEOWNERS) whose review they need.
    fn summary(&self, cx: &RepositoryContext<'_>) -> Option<RuleSummary> {
        let range = cx.model.range.as_ref().filter(|r| r.problem.is_none())?;
        let codeowners = active(cx.model);
        let items: Vec<(String, String)> = range
            .changed_paths
            .iter()
            .filter(|p| cx.model.is_protected(p))
            .map(|p| {
                let owners = codeowners
                    .deciding
                    .as_ref()
                    .and_then(|c| c.owners_of(p))
                    .filter(|r| !r.owners.is_empty())
                    .map_or_else(|| "no owner".to_owned(), |r| format!("needs review by {}", r.owners.join(" ")));
                (p.clone(), owners)
            })
            .collect();
        Some(RuleSummary {
            rule_id: cx.meta().id.to_string(),
            columns: ("file".to_owned(), "review".to_owned()),
            title: format!(
                "{} changed prod file(s) in {}..{} (owners from {})",
                items.len(),
                range.base,
                range.head,
                if codeowners.from_base { "the base commit's CODEOWNERS" } else { "CODEOWNERS" }
            ),
            items,
        })
    }
}
