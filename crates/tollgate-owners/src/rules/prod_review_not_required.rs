//! `prod-review-not-required`: the default branch's protection kept as code
//! does not require what a reviewed prod change needs.

use tollgate_core::{Finding, RepositoryContext, Rule, Severity, rule_page};

use crate::protection::{has_settings_as_code, sources};

/// Reports missing pull-request, approval, code-owner, stale-review and
/// signed-commit requirements, and every bypass actor, of the default
/// branch's protection (rulesets, Settings app, Terraform).
pub(crate) struct ProdReviewNotRequired;

impl Rule for ProdReviewNotRequired {
    fn page(&self) -> &'static str {
        rule_page!("prod-review-not-required")
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
        let enforced: Vec<_> = all.iter().filter(|s| s.enforced).collect();
        let primary = enforced.first().copied().unwrap_or(&all[0]);
        let min_approvals = cx.config.review.min_approvals;
        let pr =
            enforced.iter().filter_map(|s| s.pull_request.as_ref()).fold(None, |acc: Option<(u32, bool, bool)>, p| {
                let (a, c, d) = acc.unwrap_or((0, false, false));
                Some((a.max(p.approvals), c || p.code_owners, d || p.dismiss_stale))
            });
        let mut missing: Vec<String> = Vec::new();
        if enforced.is_empty() {
            missing.push(format!("{} is not enforced (`enforcement` is not `active`)", primary.what));
        }
        match pr {
            None => missing
                .push("pull requests are not required, so anyone with write access can push to it directly".to_owned()),
            Some((approvals, code_owners, dismiss_stale)) => {
                if approvals < min_approvals {
                    missing.push(format!(
                        "{approvals} approving review(s) required, fewer than `review.min_approvals: {min_approvals}`"
                    ));
                }
                if !code_owners {
                    missing.push("code-owner review is not required, so CODEOWNERS assigns reviewers but does not gate the merge".to_owned());
                }
                if !dismiss_stale {
                    missing.push(
                        "stale approvals are not dismissed, so commits pushed after the approval merge unreviewed"
                            .to_owned(),
                    );
                }
            }
        }
        if !enforced.iter().any(|s| s.signed_commits) {
            missing.push("signed commits are not required".to_owned());
        }
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
        for source in &enforced {
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
