//! `prod-deploy-without-environment`: prod deploy jobs with no GitHub environment gate.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId};

use super::workflow_common::{describe, each_job};

/// Reports workflow jobs that deploy to prod without `environment:`.
pub(crate) struct ProdDeployWithoutEnvironment;

impl Rule for ProdDeployWithoutEnvironment {
    fn page(&self) -> &'static str {
        RuleId::ProdDeployWithoutEnvironment.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        each_job(cx, out, |_, job| {
            (job.deploys_to_prod() && job.environment.is_none()).then(|| {
                (
                    job.route.clone(),
                    format!(
                        "{} without a GitHub `environment:`, so no required reviewer or wait timer gates it. Add `environment: production` to the job and set required reviewers on that environment.",
                        describe(job)
                    ),
                )
            })
        });
    }
}
