//! `prod-path-unowned`: files under a protected path without the required owners.

use tollgate_core::{Finding, RepositoryContext, Rule, rule_page};

use super::{active, ownership_problem};

/// Reports every file of a protected environment that no CODEOWNERS line
/// assigns the required owners.
pub(crate) struct ProdPathUnowned;

impl Rule for ProdPathUnowned {
    fn page(&self) -> &'static str {
        rule_page!("prod-path-unowned")
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let codeowners = active(cx.model);
        let review = &cx.config.review;
        for path in cx.model.all_paths() {
            if !cx.model.is_protected(path) {
                continue;
            }
            if let Some(why) =
                ownership_problem(codeowners.used.as_ref(), path, review.owners_must_be_teams, review.min_owners)
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
}
