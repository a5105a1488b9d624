//! Helpers shared by the workflow rules.

use tollgate_core::{Finding, RepositoryContext, Route};

use crate::workflows::{Job, Workflow, Workflows};

/// Calls `check` for every job of every workflow; it returns the route to
/// report (pointing at a key) and the message, or `None`.
pub(crate) fn each_job(
    cx: &RepositoryContext<'_>,
    out: &mut Vec<Finding>,
    check: impl Fn(&Workflow, &Job) -> Option<(Route, String)>,
) {
    let workflows = Workflows::of(cx.model);
    for workflow in &workflows.list {
        let file = workflow.source(cx.model);
        let Some(document) = file.documents.first() else { continue };
        for job in &workflow.jobs {
            if let Some((route, message)) = check(workflow, job) {
                let severity = cx.meta().severity;
                cx.report(file, document, &route, message).severity(severity).key_only().emit(out);
            }
        }
    }
}

/// `job `id``, and the prod evidence, for messages.
pub(crate) fn describe(job: &Job) -> String {
    let via = job.scope.via.as_ref().map(|v| format!(" (it names {v})")).unwrap_or_default();
    format!("Job `{}` deploys to prod{via}", job.id)
}
