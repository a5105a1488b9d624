//! The ownership and review rules. Adding a rule: its file here, one line in
//! [`rules`], its page `rules/<id>.md`, its fixtures `testdata/rules/<id>/`.

use std::sync::Arc;

use tollgate_core::RepositoryModel;

use crate::codeowners::{CodeOwners, LOCATIONS};

tollgate_core::rules! {
    /// Every ownership rule, in catalog order.
    pub fn rules() {
        prod_path_unowned::ProdPathUnowned,
        codeowners_invalid::CodeownersInvalid,
        guardrails_unowned::GuardrailsUnowned,
        prod_review_not_required::ProdReviewNotRequired,
    }
}

/// The CODEOWNERS file GitHub uses, and the ones it ignores.
pub(crate) struct ActiveCodeOwners {
    /// The file in the checked tree (its syntax is checked).
    pub(crate) used: Option<CodeOwners>,
    /// Other CODEOWNERS files GitHub ignores.
    pub(crate) ignored: Vec<String>,
    /// The one that decides who must review: in a range check the base
    /// commit's, so that a change cannot choose its own reviewers.
    pub(crate) deciding: Option<CodeOwners>,
    /// True when `deciding` comes from the base commit.
    pub(crate) from_base: bool,
}

/// Parsed once per run and shared.
pub(crate) fn active(model: &RepositoryModel) -> Arc<ActiveCodeOwners> {
    model.shared(|m| {
        let present: Vec<&str> = LOCATIONS.iter().copied().filter(|p| m.file(p).is_some()).collect();
        let used = present.first().and_then(|p| m.file(p)).map(|f| CodeOwners::parse(&f.path, &f.text));
        let base = m.range.as_ref().filter(|r| r.problem.is_none());
        let (deciding, from_base) = match base {
            Some(range) => {
                (LOCATIONS.iter().find_map(|p| range.base_files.get(*p).map(|text| CodeOwners::parse(p, text))), true)
            }
            None => (present.first().and_then(|p| m.file(p)).map(|f| CodeOwners::parse(&f.path, &f.text)), false),
        };
        ActiveCodeOwners {
            used,
            ignored: present.iter().skip(1).map(|p| (*p).to_owned()).collect(),
            deciding,
            from_base,
        }
    })
}

/// Why a path is not owned as required, if it is not.
pub(crate) fn ownership_problem(
    owners: Option<&CodeOwners>,
    path: &str,
    must_be_teams: bool,
    min_owners: u32,
) -> Option<String> {
    let Some(codeowners) = owners else {
        return Some(
            "there is no CODEOWNERS file (GitHub reads `.github/CODEOWNERS`, `CODEOWNERS` or `docs/CODEOWNERS`)"
                .to_owned(),
        );
    };
    match codeowners.owners_of(path) {
        None => Some(format!("no line of `{}` matches it", codeowners.path)),
        Some(rule) if rule.owners.is_empty() => {
            Some(format!("line {} of `{}` (`{}`) removes its owners", rule.line, codeowners.path, rule.pattern))
        }
        Some(rule) if must_be_teams && rule.teams().next().is_none() => Some(format!(
            "line {} of `{}` assigns only individuals ({}), and `review.owners_must_be_teams` requires a team",
            rule.line,
            codeowners.path,
            rule.owners.join(" ")
        )),
        Some(rule) if (rule.owners.len() as u32) < min_owners => Some(format!(
            "line {} of `{}` assigns {} owner(s), fewer than `review.min_owners: {min_owners}`",
            rule.line,
            codeowners.path,
            rule.owners.len()
        )),
        Some(_) => None,
    }
}
