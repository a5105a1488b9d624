//! `promotion-skips-staging`: prod deploys that do not wait for staging.

use tollgate_core::{Finding, RepositoryContext, Rule, RuleId, Tier};

use super::workflow_common::{describe, each_job};
use crate::scope::text_scope;

/// Reports prod deploy jobs that do not depend (through `needs`) on a staging deploy job.
pub(crate) struct PromotionSkipsStaging;

impl Rule for PromotionSkipsStaging {
    fn page(&self) -> &'static str {
        RuleId::PromotionSkipsStaging.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let envs = &cx.model.environments;
        each_job(cx, out, |workflow, job| {
            if !job.deploys_to_prod() || job.deploys_to_staging() {
                return None;
            }
            let needs = workflow.transitive_needs(job);
            if needs.iter().filter_map(|id| workflow.job(id)).any(super::super::workflows::Job::deploys_to_staging) {
                return None;
            }
            // Chained after a staging workflow (`on.workflow_run`).
            if text_scope(envs, &workflow.after_workflows.join(" ")).tiers.contains(&Tier::Staging) {
                return None;
            }
            let route = if job.needs.is_empty() { job.route.clone() } else { job.route.clone().key("needs") };
            Some((
                route,
                format!(
                    "{} without depending on a staging deploy, so a change can reach prod before it has run in staging. Make the job `needs:` the staging deploy job (or trigger the workflow with `workflow_run` after the staging workflow).",
                    describe(job)
                ),
            ))
        });
    }
}
