//! A Markdown summary for GitHub job summaries (`$GITHUB_STEP_SUMMARY`):
//! counts by rule and severity, the sections rules wrote (changed prod files
//! and their owners in a range check), and the findings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tollgate_core::{CheckReport, Severity};

use crate::Counts;

use crate::escape::{markdown_code, markdown_text};

pub(crate) fn render(report: &CheckReport, options: &crate::ReportOptions) -> String {
    let c = Counts::of(&report.findings);
    let mut out = String::new();
    // With --new-only the verdict is about what the change brings.
    let failing = |severity: Severity| {
        report.active().any(|f| f.severity == severity && !(options.new_only && crate::is_existing(f)))
    };
    let verdict = if failing(Severity::Error) {
        "❌"
    } else if failing(Severity::Warning) {
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
    if let Some(existing) = c.existing {
        let total = c.errors + c.warnings + c.notes;
        let _ = writeln!(
            out,
            "**{} new** with this change, {existing} existing at the base{}.\n",
            total - existing,
            if options.new_only && existing > 0 {
                " (existing findings do not fail the check: `--new-only`)"
            } else {
                ""
            }
        );
    }
    let mut by_rule: BTreeMap<(std::cmp::Reverse<Severity>, &str), (usize, usize)> = BTreeMap::new();
    for f in report.active() {
        let entry = by_rule.entry((std::cmp::Reverse(f.severity), f.rule_id.as_str())).or_default();
        entry.0 += 1;
        entry.1 += usize::from(crate::is_existing(f));
    }
    if !by_rule.is_empty() {
        if c.existing.is_some() {
            out.push_str("| rule | severity | findings | new |\n| --- | --- | ---: | ---: |\n");
        } else {
            out.push_str("| rule | severity | findings |\n| --- | --- | ---: |\n");
        }
        for ((severity, rule), (n, existing)) in &by_rule {
            let _ = write!(out, "| {} | {} | {n} |", markdown_code(rule), severity.0);
            if c.existing.is_some() {
                let _ = write!(out, " {} |", n - existing);
            }
            out.push('\n');
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
    if let Some(diff) = &report.rendered_diff {
        rendered_diff(&mut out, diff);
    }
    let active: Vec<_> = report.active().collect();
    if !active.is_empty() {
        let _ = writeln!(out, "<details><summary>{} finding(s)</summary>\n", active.len());
        for f in active.iter().take(200) {
            let l = &f.location;
            let _ = writeln!(
                out,
                "- **{}**{} {} {}:{} — {}",
                f.severity,
                if crate::is_existing(f) { " (existing)" } else { "" },
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

/// The rendered diff: one collapsible section per root (prod first), each
/// object's diff in a fenced `diff` block whose fence is longer than any
/// backtick run inside it, so no content can close it.
pub(crate) fn rendered_diff(out: &mut String, diff: &tollgate_core::RenderedDiff) {
    let _ = writeln!(
        out,
        "### Rendered changes in {}..{}\n\n{} object(s) in {} root(s): what the cluster receives, not the files.\n",
        markdown_code(&diff.base),
        markdown_code(&diff.head),
        diff.object_count(),
        diff.roots.len()
    );
    if diff.roots.is_empty() {
        out.push_str("No render changed.\n\n");
    }
    for root in &diff.roots {
        let env = match (&root.environment, root.protected) {
            (Some(e), true) => format!("<b>{}</b> (protected)", markdown_text(e)),
            (Some(e), false) => markdown_text(e),
            (None, _) => "no environment".to_owned(),
        };
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &root.objects {
            *counts.entry(o.change.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(
            out,
            "<details{}><summary>{env}: {} — {}</summary>\n",
            if root.protected { " open" } else { "" },
            markdown_code(&root.root),
            counts.join(", ")
        );
        for o in &root.objects {
            let longest = o.diff.split(|c| c != '`').map(str::len).max().unwrap_or(0);
            let fence = "`".repeat(longest.max(2) + 1);
            let _ = writeln!(out, "{} {}\n\n{fence}diff", o.change.as_str(), markdown_code(&o.object));
            for line in o.diff.lines() {
                let _ = writeln!(out, "{}", crate::escape::printable(line));
            }
            let _ = writeln!(out, "{fence}\n");
        }
        out.push_str("</details>\n\n");
    }
    if diff.omitted > 0 {
        let _ = writeln!(out, "… {} more object diff(s) left out: the diff is capped at 256 KiB.\n", diff.omitted);
    }
}
