//! tollgate's JSON output: findings plus a summary, stable field names.

use serde::Serialize;
use tollgate_core::{CheckReport, Finding};

use crate::{Counts, ReportOptions, VERSION};

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    version: &'static str,
    findings: Vec<&'a Finding>,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    counts: Counts,
    files: usize,
    documents: usize,
    rules: Vec<String>,
}

pub(crate) fn render(report: &CheckReport, options: &ReportOptions) -> String {
    let doc = JsonReport {
        tool: "tollgate",
        version: VERSION,
        findings: report.findings.iter().filter(|f| options.show_suppressed || !f.is_suppressed()).collect(),
        summary: Summary {
            counts: Counts::of(&report.findings),
            files: report.stats.files,
            documents: report.stats.documents,
            rules: report.rules.iter().map(|r| r.id.clone()).collect(),
        },
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
