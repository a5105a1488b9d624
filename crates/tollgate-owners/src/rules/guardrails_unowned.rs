//! `guardrails-unowned`: the files that define the guardrails need owners too.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId};

use super::{active, ownership_problem};

/// Reports CODEOWNERS, tollgate's configuration, the signers policy,
/// workflows and branch-protection settings that no CODEOWNERS line owns.
pub(crate) struct GuardrailsUnowned;

fn guarded(path: &str, signers: &str) -> Option<&'static str> {
    if crate::codeowners::LOCATIONS.contains(&path) {
        return Some("CODEOWNERS itself");
    }
    if matches!(path, ".tollgate.yaml" | ".tollgate.yml") {
        return Some("tollgate's configuration");
    }
    if path == signers || path.starts_with(".tollgate/") {
        return Some("the signers policy");
    }
    // Only what GitHub runs as a workflow: YAML directly in the folder (a
    // README there is documentation).
    if tollgate_core::classify(path) == Some(tollgate_core::FileKind::Workflow) {
        return Some("a CI workflow");
    }
    if path.starts_with(".github/rulesets/") || matches!(path, ".github/settings.yml" | ".github/settings.yaml") {
        return Some("branch protection kept as code");
    }
    None
}

impl Rule for GuardrailsUnowned {
    fn page(&self) -> &'static str {
        RuleId::GuardrailsUnowned.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let codeowners = active(cx.model);
        let signers = cx.config.signing_policy.as_deref().unwrap_or(".tollgate/signers.yaml");
        for path in cx.model.all_paths() {
            let Some(what) = guarded(path, signers) else { continue };
            if let Some(why) = ownership_problem(codeowners.deciding.as_ref(), path, false, 1) {
                out.push(cx.finding_at(
                    path,
                    None,
                    "unowned",
                    format!(
                        "`{path}` ({what}) has no owner: {why}. Whoever changes it can weaken the guardrails without an owner's review. Assign it to the platform team in CODEOWNERS, e.g. `/.github/ @org/platform`."
                    ),
                ));
            }
        }
    }
}
