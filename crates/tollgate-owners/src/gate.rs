//! The gate itself: which workflow jobs run tollgate, and so which status
//! check branch protection must require. In a `pull_request` run the
//! workflow file comes from the pull request, so a change can delete its own
//! tollgate step; only a required status check makes the merge wait for it.

use tollgate_core::{FileKind, Node, RepositoryModel, Route, Span};

/// A workflow job that runs tollgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateJob {
    /// The workflow file.
    pub path: String,
    /// The job's key.
    pub span: Span,
    /// The job id.
    pub id: String,
    /// The check name GitHub reports for the job: its `name`, else its id.
    pub check: String,
    /// Whether the job has a matrix (its checks are `name (values)`).
    pub matrix: bool,
}

/// Every job of the repository's workflows with a step that runs tollgate:
/// `uses:` its action, or `run:` a `tollgate check` command.
pub fn gate_jobs(model: &RepositoryModel) -> Vec<GateJob> {
    let mut out = Vec::new();
    for file in model.files.iter().filter(|f| f.kind == FileKind::Workflow) {
        let Some(doc) = file.documents.first() else { continue };
        let Some(jobs) = doc.root.get_key("jobs").and_then(Node::as_mapping) else { continue };
        for (id, job) in jobs.iter() {
            let steps = job.get_key("steps").and_then(Node::as_sequence).unwrap_or_default();
            let runs = steps.iter().any(|step| {
                let uses = step.get_key("uses").and_then(Node::as_str).unwrap_or_default();
                let run = step.get_key("run").and_then(Node::as_str).unwrap_or_default();
                uses.split('@').next().is_some_and(|a| a.rsplit('/').next() == Some("tollgate"))
                    || run.lines().any(|l| {
                        let l = l.trim_start();
                        l.starts_with("tollgate check")
                            || l.contains(" tollgate check")
                            || l.contains("/tollgate check")
                    })
            });
            if !runs {
                continue;
            }
            let route = Route::root().key("jobs").key(id);
            let span = doc.root.key_span(&route).unwrap_or(job.span);
            let check = job.get_key("name").and_then(Node::as_str).unwrap_or(id).to_owned();
            let matrix = job.get(&Route::parse("/strategy/matrix")).is_some();
            out.push(GateJob { path: file.path.clone(), span, id: id.to_owned(), check, matrix });
        }
    }
    out
}

/// Whether `required` (a branch protection's status checks) includes the
/// check a job reports.
pub fn requires(required: &[String], check: &str, matrix: bool) -> bool {
    required.iter().any(|r| r == check || (matrix && r.starts_with(&format!("{check} ("))))
}
