//! `prod-review-not-required`: the default branch's protection kept as code
//! does not require what a reviewed prod change needs.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, Severity};

use crate::protection::{has_settings_as_code, sources, weaknesses};

/// Reports missing pull-request, approval, code-owner, stale-review and
/// signed-commit requirements, and every bypass actor, of the default
/// branch's protection (rulesets, Settings app, Terraform).
pub(crate) struct ProdReviewNotRequired;

impl Rule for ProdReviewNotRequired {
    fn page(&self) -> &'static str {
        RuleId::ProdReviewNotRequired.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let all = sources(cx.model);
        if all.is_empty() {
            if !has_settings_as_code(cx.model) {
                // Said once, as a note: nothing else can be checked.
                // Anchored where review is configured; a repository with neither
                // gets `prod-path-unowned` findings for its prod files instead.
                let anchor = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".tollgate.yaml", ".tollgate.yml"]
                    .into_iter()
                    .find(|p| cx.model.file(p).is_some());
                if let Some(path) = anchor {
                    let mut f = cx.finding_at(
                        path,
                        None,
                        "no-settings-as-code",
                        "No branch protection is kept as code (`.github/rulesets/*.json`, `.github/settings.yml`, or Terraform `github_branch_protection`/`github_repository_ruleset`), so tollgate cannot verify that the default branch requires reviewed pull requests. Export the default branch's ruleset into `.github/rulesets/` to have it checked.",
                    );
                    f.severity = Severity::Note;
                    out.push(f);
                }
            }
            return;
        }
        let (primary, missing) = weaknesses(&all, cx.config.review.min_approvals);
        for what in missing {
            out.push(cx.finding_at(
                &primary.path,
                Some(primary.anchor),
                &what,
                format!(
                    "The default branch's protection ({}) is too weak: {what}. Prod changes must go through a pull request approved by their code owners; tighten the ruleset.",
                    primary.what
                ),
            ));
        }
        // The gate itself must be required: otherwise a pull request edits
        // its own workflow to drop the tollgate step and merges anyway.
        let required: Vec<String> =
            all.iter().filter(|s| s.enforced).flat_map(|s| s.required_checks.iter().cloned()).collect();
        let jobs = crate::gate::gate_jobs(cx.model);
        let expected: Vec<(String, bool, String)> = match &cx.config.review.status_check {
            Some(name) if !jobs.is_empty() => vec![(name.clone(), false, "`review.status_check`".to_owned())],
            _ => jobs.iter().map(|j| (j.check.clone(), j.matrix, format!("job `{}` of `{}`", j.id, j.path))).collect(),
        };
        if !expected.is_empty()
            && !expected.iter().any(|(check, matrix, _)| crate::gate::requires(&required, check, *matrix))
        {
            let (check, _, from) = &expected[0];
            out.push(cx.finding_at(
                &primary.path,
                Some(primary.anchor),
                &format!("status check {check}"),
                format!(
                    "The default branch's protection ({}) does not require the status check `{check}` that runs tollgate ({from}). In a pull request the workflow comes from the pull request itself, so a change can delete its tollgate step and still merge. Add `{check}` to the required status checks (or name the check with `review.status_check`).",
                    primary.what
                ),
            ));
        }
        for source in all.iter().filter(|s| s.enforced) {
            for (span, who) in &source.bypass {
                out.push(cx.finding_at(
                    &source.path,
                    Some(*span),
                    who,
                    format!(
                        "{} lets {who} bypass the default branch's protection. Humans and bots must obey the same merge rules: remove the bypass, and use a reviewed pull request for emergencies.",
                        source.what
                    ),
                ));
            }
        }
    }
}
