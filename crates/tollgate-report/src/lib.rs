//! Renders a [`CheckReport`] as text (with source snippets), JSON, SARIF 2.1.0
//! (shaped for GitHub code scanning) or GitHub workflow annotations.
//!
//! ```no_run
//! use tollgate_core::{check, CheckOptions, Config, Registry, core_rules};
//! use tollgate_report::{Format, ReportOptions, render};
//! let registry = Registry::new(core_rules()).unwrap();
//! let report = check(".".as_ref(), &Config::default(), &registry, &CheckOptions::default()).unwrap();
//! let sarif = render(Format::Sarif, &report, &ReportOptions::default());
//! assert!(sarif.contains("\"version\": \"2.1.0\""));
//! ```

mod escape;
mod github;
mod json;
mod markdown;
mod sarif;
mod text;

use tollgate_core::{CheckReport, Finding, Severity};

pub use escape::markdown_text;
pub use sarif::{MAX_DESCRIPTION_CHARS, MAX_RESULTS, to_sarif};

/// `text` with every control, line-separator and bidirectional character
/// written as an escape, so that text from a hostile repository stays on one
/// line of a log or terminal and shows what it really holds.
///
/// ```
/// assert_eq!(tollgate_report::printable("a\n::error::b"), "a\\n::error::b");
/// ```
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    escape::printable(text)
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human text with source snippets and a summary.
    Text,
    /// tollgate's JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...::message`).
    Github,
    /// A Markdown summary for `$GITHUB_STEP_SUMMARY`.
    Markdown,
}

/// How to render.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Include suppressed findings (text and JSON only; SARIF never does).
    pub show_suppressed: bool,
    /// ANSI colour in text output.
    pub color: bool,
    /// SARIF `automationDetails.id` category.
    pub sarif_category: String,
    /// `--new-only`: findings marked existing do not fail the run, so the
    /// summaries' verdicts count only new ones and annotations show existing
    /// ones as notices.
    pub new_only: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { show_suppressed: false, color: false, sarif_category: "tollgate".to_owned(), new_only: false }
    }
}

/// Whether a finding is marked existing at the base of a range.
pub(crate) fn is_existing(f: &Finding) -> bool {
    f.state == Some(tollgate_core::ChangeState::Existing)
}

/// Renders `report` in `format`.
pub fn render(format: Format, report: &CheckReport, options: &ReportOptions) -> String {
    match format {
        Format::Text => text::render(report, options),
        Format::Json => json::render(report, options),
        Format::Sarif => sarif::render(report, options),
        Format::Github => github::render(report, options),
        Format::Markdown => markdown::render(report, options),
    }
}

/// Writes `report` in `format` to `out`: what [`render`] returns, streamed.
/// JSON and SARIF are serialized straight into `out`, never held whole in
/// memory (a large run's JSON is tens of megabytes).
///
/// ```
/// use tollgate_core::{CheckOptions, Config, Registry, check, core_rules};
/// use tollgate_report::{Format, ReportOptions, render, write};
/// let dir = std::env::temp_dir().join(format!("tollgate-write-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("a.yaml"), "key: [unclosed\n").unwrap();
/// let registry = Registry::new(core_rules()).unwrap();
/// let report = check(&dir, &Config::default(), &registry, &CheckOptions::default()).unwrap();
/// for format in [Format::Json, Format::Sarif, Format::Text] {
///     let mut out = Vec::new();
///     write(format, &report, &ReportOptions::default(), &mut out).unwrap();
///     assert_eq!(String::from_utf8(out).unwrap(), render(format, &report, &ReportOptions::default()));
/// }
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write(
    format: Format,
    report: &CheckReport,
    options: &ReportOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => json::write(report, options, &mut *out),
        Format::Sarif => sarif::write(report, options, &mut *out),
        _ => out.write_all(render(format, report, options).as_bytes()),
    }
}

/// `value` as pretty JSON and a newline, as the JSON and SARIF reports end
/// (a value that cannot be serialized is an `{"error": ...}` object).
fn pretty_json(value: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// [`pretty_json`] serialized straight into `out` through a buffer.
fn write_pretty_json(value: &impl serde::Serialize, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, value)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    std::io::Write::flush(&mut out)
}

/// A rendered diff alone (`tollgate diff`): as in the text report, as in the
/// Markdown job summary, or as JSON.
///
/// ```
/// use tollgate_core::RenderedDiff;
/// use tollgate_report::{Format, render_diff};
/// let diff = RenderedDiff { base: "main".into(), head: "HEAD".into(), ..RenderedDiff::default() };
/// assert!(render_diff(Format::Text, &diff, false).starts_with("Rendered changes in main..HEAD: 0 object(s)"));
/// ```
pub fn render_diff(format: Format, diff: &tollgate_core::RenderedDiff, color: bool) -> String {
    let mut out = String::new();
    match format {
        Format::Markdown => markdown::rendered_diff(&mut out, diff),
        Format::Json | Format::Sarif => out = pretty_json(diff),
        Format::Text | Format::Github => text::rendered_diff(&mut out, diff, &text::Style { on: color }),
    }
    out
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Notes.
    pub notes: usize,
    /// Suppressed findings (any severity).
    pub suppressed: usize,
    /// In a range check: active findings the base commit already produces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<usize>,
}

impl Counts {
    /// Counts the findings of a report.
    pub fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for f in findings {
            if f.is_suppressed() {
                c.suppressed += 1;
                continue;
            }
            if let Some(state) = f.state {
                *c.existing.get_or_insert(0) += usize::from(state == tollgate_core::ChangeState::Existing);
            }
            match f.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Note => c.notes += 1,
            }
        }
        c
    }
}

/// tollgate's version, for tool metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where rule documentation lives online.
pub const INFORMATION_URI: &str = "https://github.com/tollgate-dev/tollgate";
