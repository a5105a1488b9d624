//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice`
//! annotation per finding.

use std::fmt::Write as _;

use tollgate_core::{CheckReport, Severity};

/// Escapes a workflow-command message: `%`, CR and LF as the runner expects
/// (so a value cannot start a new `::command` line), then every other
/// control character and bidirectional override as a visible escape.
pub(crate) fn escape_data(s: &str) -> String {
    let s = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    crate::escape::printable(&s).into_owned()
}

/// Escapes a workflow-command property value (also `:` and `,`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(crate) fn render(report: &CheckReport, options: &crate::ReportOptions) -> String {
    let mut out = String::new();
    for f in report.active() {
        let existing = crate::is_existing(f);
        let command = match f.severity {
            // With --new-only an existing finding does not fail the run: a notice.
            _ if existing && options.new_only => "notice",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let s = f.location.span;
        let _ = write!(
            out,
            "::{command} file={},line={},col={},endLine={}",
            escape_property(&f.location.path),
            s.start.line,
            s.start.column,
            s.end.line.max(s.start.line),
        );
        if s.end.line == s.start.line {
            let _ = write!(out, ",endColumn={}", s.end.column.max(s.start.column));
        }
        let _ = writeln!(
            out,
            ",title={}::{}",
            escape_property(&format!(
                "tollgate {}{}",
                f.rule_id,
                if existing { " (existing at the base)" } else { "" }
            )),
            escape_data(&f.message)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_workflow_command_syntax() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(escape_data("x\n::add-mask::y\x1b[2J"), "x%0A::add-mask::y\\u{1b}[2J");
    }
}
