//! Human-readable text: one block per finding with the offending span
//! underlined, then a summary.

use std::fmt::Write as _;

use tollgate_core::{CheckReport, Finding, Severity, SourceFile};

use crate::escape::{printable, printable_keep_tabs};
use crate::{Counts, ReportOptions};

pub(crate) struct Style {
    pub(crate) on: bool,
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
        // The title says what the table is; a rule id is not a heading.
        let _ = writeln!(out, "{}", style.paint("1", &printable(&summary.title)));
        for (item, detail) in &summary.items {
            let _ = writeln!(out, "  {}  {}", printable(item), printable(detail));
        }
    }
    if let Some(diff) = &report.rendered_diff {
        rendered_diff(&mut out, diff, &style);
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
    if let Some(existing) = c.existing {
        let _ = write!(
            out,
            "; {} new with the change, {existing} existing at the base",
            c.errors + c.warnings + c.notes - existing
        );
        if options.new_only && existing > 0 {
            out.push_str(" (--new-only: existing findings do not fail the run)");
        }
    }
    out.push('\n');
    out
}

/// What the change does to the renders: each root (prod first), each
/// object added, removed or changed, with its diff.
pub(crate) fn rendered_diff(out: &mut String, diff: &tollgate_core::RenderedDiff, style: &Style) {
    let _ = writeln!(
        out,
        "{}",
        style.paint(
            "1",
            &format!(
                "Rendered changes in {}..{}: {} object(s) in {} root(s)",
                printable(&diff.base),
                printable(&diff.head),
                diff.object_count(),
                diff.roots.len()
            )
        )
    );
    for root in &diff.roots {
        let env = match (&root.environment, root.protected) {
            (Some(e), true) => format!("{} (protected)", printable(e)),
            (Some(e), false) => printable(e).into_owned(),
            (None, _) => "no environment".to_owned(),
        };
        let _ = writeln!(out, "  {env}: {}", printable(&root.root));
        for object in &root.objects {
            let _ = writeln!(out, "    {} {}", object.change.as_str(), printable(&object.object));
            for line in object.diff.lines() {
                let shown = printable(line);
                let painted = match line.as_bytes().first() {
                    Some(b'+') if !line.starts_with("+++") => style.paint("32", &shown),
                    Some(b'-') if !line.starts_with("---") => style.paint("31", &shown),
                    _ => shown.into_owned(),
                };
                let _ = writeln!(out, "      {painted}");
            }
        }
    }
    if diff.omitted > 0 {
        let _ = writeln!(out, "  … {} more object diff(s) left out: the diff is capped at 256 KiB", diff.omitted);
    }
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
        let shown: Vec<String> = list.iter().take(10).map(|(d, n)| format!("{} ({n})", printable(d))).collect();
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
    let _ = writeln!(
        out,
        "{}{}: {}",
        style.severity(f.severity),
        style.paint("1", &format!("[{}]", printable(&f.rule_id))),
        printable(&f.message)
    );
    let _ = writeln!(
        out,
        "  {} {}:{}:{}",
        style.paint("34", "-->"),
        printable(&loc.path),
        loc.span.start.line,
        loc.span.start.column
    );
    let width =
        f.location.span.end.line.clamp(f.location.span.start.line, f.location.span.start.line + 3).to_string().len();
    if let Some(file) = file.filter(|f| !f.text.is_empty()) {
        snippet(out, file, f, style);
    }
    let gutter = style.paint("34", &format!("{:width$} =", ""));
    if let Some(r) = &f.resource {
        let _ = writeln!(out, "{gutter} resource: {} {}", printable(&r.api_version), printable(&r.display_name()));
    }
    if let Some(commit) = &f.commit {
        let _ = writeln!(out, "{gutter} commit: {} by {}", printable(&commit.id), printable(&commit.author));
        if let Some(signer) = &commit.signer {
            let _ = writeln!(out, "{gutter} signed by key: {}", printable(signer));
        }
    }
    for related in &f.related {
        let l = &related.location;
        let _ = writeln!(
            out,
            "{gutter} see {}:{}:{}: {}",
            printable(&l.path),
            l.span.start.line,
            l.span.start.column,
            printable(&related.message)
        );
    }
    if let Some(s) = &f.suppressed {
        let _ = writeln!(out, "{gutter} suppressed ({}): {}", s.kind, printable(&s.reason));
    }
    if crate::is_existing(f) {
        let _ = writeln!(out, "{gutter} existing: the base commit has this finding too; the change did not bring it");
    }
    out.push('\n');
}

/// The widest part of a source line shown, in bytes: a minified 5 MiB line
/// is shown around the span, not whole.
const MAX_SHOWN_BYTES: usize = 240;
/// How much of the line before the span is kept when a line is cut.
const CONTEXT_BEFORE: usize = 60;

/// Prints the lines of the span (at most four) with carets under the span.
/// Every line is looked up by index and cut to [`MAX_SHOWN_BYTES`] around
/// the span, so the cost of a snippet does not grow with the file; bytes of
/// the finding's [`Finding::masked`] spans are shown as `*`.
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
        let Some(range) = file.line_range(line_no) else { break };
        let text = &file.text;
        let line_end = if text[range.clone()].ends_with('\r') { range.end - 1 } else { range.end };
        let line_start = range.start;
        let indent = text[line_start..line_end].len() - text[line_start..line_end].trim_start().len();
        let (span_start, span_end) = (span.start.byte(), span.end.byte());
        let from = if line_no == first && span_start >= line_start && span_start <= line_end {
            span_start
        } else {
            line_start + indent
        };
        let to = if line_no == span.end.line && span_end >= from && span_end <= line_end { span_end } else { line_end };
        // The window of the line that is shown.
        let (mut shown_from, mut shown_to) = (line_start, line_end);
        if line_end - line_start > MAX_SHOWN_BYTES {
            shown_from = floor_char(text, from.saturating_sub(CONTEXT_BEFORE).max(line_start));
            shown_to = floor_char(text, (shown_from + MAX_SHOWN_BYTES).min(line_end));
        }
        let mut display = String::new();
        let mut pad = String::new();
        let mut carets = 0usize;
        if shown_from > line_start {
            display.push('…');
            pad.push(' ');
        }
        for (i, c) in text[shown_from..shown_to].char_indices() {
            let at = shown_from + i;
            let masked = f.masked.iter().any(|m| m.start.byte() <= at && at < m.end.byte());
            let shown: std::borrow::Cow<'_, str> = if masked {
                "*".into()
            } else {
                let mut buf = [0u8; 4];
                printable_keep_tabs(c.encode_utf8(&mut buf)).into_owned().into()
            };
            let columns = shown.chars().count();
            if at < from {
                pad.extend(shown.chars().map(|c| if c == '\t' { '\t' } else { ' ' }));
            } else if at < to {
                carets += columns;
            }
            display.push_str(&shown);
        }
        if shown_to < line_end {
            display.push('…');
        }
        let _ = writeln!(out, "{} {}", style.paint("34", &format!("{line_no:>width$} |")), display);
        let carets = style.paint(
            match f.severity {
                Severity::Error => "1;31",
                Severity::Warning => "1;33",
                Severity::Note => "1;36",
            },
            &"^".repeat(carets.max(1)),
        );
        let _ = writeln!(out, "{bar} {pad}{carets}");
    }
    if shown_last < last {
        let _ = writeln!(out, "{bar} ... ({} more lines)", last - shown_last);
    }
}

/// The largest char boundary of `text` at or before `at`.
fn floor_char(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
