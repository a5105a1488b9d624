//! `deploy-after-merge`: prod deploys triggered by pushes to the default branch.

use tollgate_core::{Finding, RepositoryContext, Route, Rule, RuleId};

use crate::workflows::Workflows;

/// Reports workflows that deploy to prod on `push` to the default branch and
/// do not run on `merge_group` (off by default).
pub(crate) struct DeployAfterMerge;

impl Rule for DeployAfterMerge {
    fn page(&self) -> &'static str {
        RuleId::DeployAfterMerge.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let workflows = Workflows::of(cx.model);
        for workflow in &workflows.list {
            if !workflow.triggers.contains("push") || workflow.triggers.contains("merge_group") {
                continue;
            }
            let default_branch = workflow.push_branches.is_empty()
                || workflow.push_branches.iter().any(|b| matches!(b.as_str(), "main" | "master"));
            let Some(job) = workflow.jobs.iter().find(|j| j.deploys_to_prod()) else { continue };
            if !default_branch {
                continue;
            }
            let file = workflow.source(cx.model);
            let Some(document) = file.documents.first() else { continue };
            let on = if document.root.get_key("on").is_some() { "on" } else { "true" };
            cx.report(
                file,
                document,
                &Route::root().key(on).key("push"),
                format!(
                    "Workflow deploys to prod (job `{}`) on every push to the default branch: each merge is deployed as it lands, untested together with the merges around it. Deploy from a merge queue (`on: merge_group`) so that what reaches prod is exactly what was tested.",
                    job.id
                ),
            )
            .key_only()
            .emit(out);
        }
    }
}
