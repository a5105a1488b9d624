//! A Markdown summary for GitHub job summaries (`$GITHUB_STEP_SUMMARY`):
//! counts by rule and severity, the sections rules wrote (changed prod files
//! and their owners in a range check), and the findings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tollgate_core::{CheckReport, Severity};

use crate::Counts;

use crate::escape::{markdown_code, markdown_text};

pub(crate) fn render(report: &CheckReport) -> String {
    let c = Counts::of(&report.findings);
    let mut out = String::new();
    let verdict = if c.errors > 0 {
        "❌"
    } else if c.warnings > 0 {
        "⚠️"
    } else {
        "✅"
    };
    let _ = writeln!(
        out,
        "## {verdict} tollgate: {} error(s), {} warning(s), {} note(s)\n\n{} files, {} documents checked{}.\n",
        c.errors,
        c.warnings,
        c.notes,
        report.stats.files,
        report.stats.documents,
        if c.suppressed > 0 { format!("; {} finding(s) suppressed", c.suppressed) } else { String::new() }
    );
    let mut by_rule: BTreeMap<(std::cmp::Reverse<Severity>, &str), usize> = BTreeMap::new();
    for f in report.active() {
        *by_rule.entry((std::cmp::Reverse(f.severity), f.rule_id.as_str())).or_default() += 1;
    }
    if !by_rule.is_empty() {
        out.push_str("| rule | severity | findings |\n| --- | --- | ---: |\n");
        for ((severity, rule), n) in &by_rule {
            let _ = writeln!(out, "| {} | {} | {n} |", markdown_code(rule), severity.0);
        }
        out.push('\n');
    }
    for summary in &report.summaries {
        let _ = writeln!(out, "### {}\n", markdown_text(&summary.title));
        if summary.items.is_empty() {
            out.push_str("None.\n\n");
            continue;
        }
        let _ = writeln!(
            out,
            "| {} | {} |\n| --- | --- |",
            markdown_text(&summary.columns.0),
            markdown_text(&summary.columns.1)
        );
        for (item, detail) in &summary.items {
            let _ = writeln!(out, "| {} | {} |", markdown_code(item), markdown_text(detail));
        }
        out.push('\n');
    }
    let active: Vec<_> = report.active().collect();
    if !active.is_empty() {
        let _ = writeln!(out, "<details><summary>{} finding(s)</summary>\n", active.len());
        for f in active.iter().take(200) {
            let l = &f.location;
            let _ = writeln!(
                out,
                "- **{}** {} {}:{} — {}",
                f.severity,
                markdown_code(&f.rule_id),
                markdown_code(&l.path),
                l.span.start.line,
                markdown_text(&f.message)
            );
        }
        if active.len() > 200 {
            let _ = writeln!(out, "- … and {} more (see the code scanning alerts)", active.len() - 200);
        }
        out.push_str("\n</details>\n");
    }
    out
}
