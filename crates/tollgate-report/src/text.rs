//! Human-readable text: one block per finding with the offending span
//! underlined, then a summary.

use std::fmt::Write as _;

use tollgate_core::{CheckReport, Finding, Severity, SourceFile};

use crate::{Counts, ReportOptions};

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn severity(&self, s: Severity) -> String {
        let code = match s {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Note => "1;36",
        };
        self.paint(code, s.as_str())
    }
}

pub(crate) fn render(report: &CheckReport, options: &ReportOptions) -> String {
    let style = Style { on: options.color };
    let mut out = String::new();
    for f in report.findings.iter().filter(|f| options.show_suppressed || !f.is_suppressed()) {
        render_finding(&mut out, f, report.model.file(&f.location.path), &style);
    }
    by_directory(&mut out, report, &style);
    for summary in &report.summaries {
        let _ = writeln!(out, "{} {}", style.paint("1", &format!("{}:", summary.rule_id)), summary.title);
        for (item, detail) in &summary.items {
            let _ = writeln!(out, "  {item}  {detail}");
        }
    }
    let c = Counts::of(&report.findings);
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = write!(
        out,
        "{} {}, {}, {} in {} ({})",
        style.paint("1", "summary:"),
        plural(c.errors, "error"),
        plural(c.warnings, "warning"),
        plural(c.notes, "note"),
        plural(report.stats.files, "file"),
        plural(report.stats.documents, "document"),
    );
    if c.suppressed > 0 {
        let _ = write!(out, "; {} suppressed", c.suppressed);
        if !options.show_suppressed {
            out.push_str(" (--show-suppressed lists them)");
        }
    }
    out.push('\n');
    out
}

/// Findings about whole files (no document route) of one rule, when there
/// are several, grouped by directory: `prod-path-unowned: 12 files in 2
/// directories: apps/prod/payments (10), apps/prod/web (2)`.
fn by_directory(out: &mut String, report: &CheckReport, style: &Style) {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for f in report.active().filter(|f| f.location.route.is_none() && f.location.span.start.line == 1) {
        let dir = f.location.path.rsplit_once('/').map_or(".", |(d, _)| d);
        *groups.entry(f.rule_id.as_str()).or_default().entry(dir).or_default() += 1;
    }
    for (rule, dirs) in groups {
        let files: usize = dirs.values().sum();
        if files < 2 {
            continue;
        }
        let mut list: Vec<(&str, usize)> = dirs.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = list.iter().take(10).map(|(d, n)| format!("{d} ({n})")).collect();
        let more = if list.len() > 10 { format!(", and {} more", list.len() - 10) } else { String::new() };
        let _ = writeln!(
            out,
            "{} {files} files in {} director{}: {}{more}",
            style.paint("1", &format!("{rule}:")),
            list.len(),
            if list.len() == 1 { "y" } else { "ies" },
            shown.join(", ")
        );
    }
}

fn render_finding(out: &mut String, f: &Finding, file: Option<&SourceFile>, style: &Style) {
    let loc = &f.location;
    let _ =
        writeln!(out, "{}{}: {}", style.severity(f.severity), style.paint("1", &format!("[{}]", f.rule_id)), f.message);
    let _ =
        writeln!(out, "  {} {}:{}:{}", style.paint("34", "-->"), loc.path, loc.span.start.line, loc.span.start.column);
    let width =
        f.location.span.end.line.clamp(f.location.span.start.line, f.location.span.start.line + 3).to_string().len();
    if let Some(file) = file.filter(|f| !f.text.is_empty()) {
        snippet(out, file, f, style);
    }
    let gutter = style.paint("34", &format!("{:width$} =", ""));
    if let Some(r) = &f.resource {
        let _ = writeln!(out, "{gutter} resource: {} {}", r.api_version, r.display_name());
    }
    if let Some(commit) = &f.commit {
        let _ = writeln!(out, "{gutter} commit: {} by {}", commit.id, commit.author);
        if let Some(signer) = &commit.signer {
            let _ = writeln!(out, "{gutter} signed by key: {signer}");
        }
    }
    for related in &f.related {
        let l = &related.location;
        let _ =
            writeln!(out, "{gutter} see {}:{}:{}: {}", l.path, l.span.start.line, l.span.start.column, related.message);
    }
    if let Some(s) = &f.suppressed {
        let _ = writeln!(out, "{gutter} suppressed ({}): {}", s.kind, s.reason);
    }
    out.push('\n');
}

/// Prints the lines of the span (at most four) with carets under the span.
fn snippet(out: &mut String, file: &SourceFile, f: &Finding, style: &Style) {
    const MAX_LINES: u32 = 4;
    let span = f.location.span;
    let first = span.start.line.max(1);
    let mut last = span.end.line.max(first);
    // A span ending at column 1 of a line ends on the line before.
    if last > first && span.end.column == 1 {
        last -= 1;
    }
    let shown_last = last.min(first + MAX_LINES - 1);
    let width = shown_last.to_string().len();
    let bar = style.paint("34", &format!("{:width$} |", ""));
    let _ = writeln!(out, "{bar}");
    for line_no in first..=shown_last {
        let Some(line) = file.line(line_no) else { break };
        let line = line.trim_end_matches('\r');
        let chars = line.chars().count() as u32;
        let from = if line_no == first {
            span.start.column.saturating_sub(1)
        } else {
            (chars - line.trim_start().chars().count() as u32).min(chars)
        };
        let to = if line_no == span.end.line && span.end.column > 1 { (span.end.column - 1).min(chars) } else { chars };
        let _ = writeln!(out, "{} {}", style.paint("34", &format!("{line_no:>width$} |")), line);
        let len = to.saturating_sub(from).max(1) as usize;
        let pad: String = line.chars().take(from as usize).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let carets = style.paint(
            match f.severity {
                Severity::Error => "1;31",
                Severity::Warning => "1;33",
                Severity::Note => "1;36",
            },
            &"^".repeat(len),
        );
        let _ = writeln!(out, "{bar} {pad}{carets}");
    }
    if shown_last < last {
        let _ = writeln!(out, "{bar} ... ({} more lines)", last - shown_last);
    }
}
