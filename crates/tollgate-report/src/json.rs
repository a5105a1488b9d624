//! tollgate's JSON output: findings plus a summary, stable field names.

use serde::Serialize;
use tollgate_core::{CheckReport, Finding};

use crate::{Counts, ReportOptions, VERSION};

#[derive(Serialize)]
struct JsonReport<'a> {
    tool: &'static str,
    version: &'static str,
    findings: Vec<&'a Finding>,
    summary: Summary<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rendered_diff: Option<&'a tollgate_core::RenderedDiff>,
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    counts: Counts,
    files: usize,
    documents: usize,
    rules: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sections: Vec<&'a tollgate_core::RuleSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<&'a tollgate_core::RangeInfo>,
}

fn document<'a>(report: &'a CheckReport, options: &ReportOptions) -> JsonReport<'a> {
    JsonReport {
        tool: "tollgate",
        version: VERSION,
        findings: report.findings.iter().filter(|f| options.show_suppressed || !f.is_suppressed()).collect(),
        summary: Summary {
            counts: Counts::of(&report.findings),
            files: report.stats.files,
            documents: report.stats.documents,
            rules: report.rules.iter().map(|r| r.id.to_string()).collect(),
            sections: report.summaries.iter().collect(),
            range: report.model.range.as_ref(),
        },
        rendered_diff: report.rendered_diff.as_ref(),
    }
}

pub(crate) fn render(report: &CheckReport, options: &ReportOptions) -> String {
    crate::pretty_json(&document(report, options))
}

/// [`render`], streamed into `out`.
pub(crate) fn write(
    report: &CheckReport,
    options: &ReportOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    crate::write_pretty_json(&document(report, options), out)
}
