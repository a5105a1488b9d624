//! `prod-deploy-without-concurrency`: prod deploy jobs that can run at the same time.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId};

use super::workflow_common::{describe, each_job};

/// Reports prod deploy jobs with no `concurrency` (on the job or the workflow).
pub(crate) struct ProdDeployWithoutConcurrency;

impl Rule for ProdDeployWithoutConcurrency {
    fn page(&self) -> &'static str {
        RuleId::ProdDeployWithoutConcurrency.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        each_job(cx, out, |workflow, job| {
            (job.deploys_to_prod() && !job.concurrency && !workflow.concurrency).then(|| {
                (
                    job.route.clone(),
                    format!(
                        "{} with no `concurrency` lock, so two runs can deploy at once and an older commit can finish last. Add `concurrency: {{ group: deploy-production, cancel-in-progress: false }}` to the job.",
                        describe(job)
                    ),
                )
            })
        });
    }
}
