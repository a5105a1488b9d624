//! Generates `RuleId`, the identity of every rule tollgate ships, and the
//! static table of their metadata, from the pages `rules/<id>.md`: one
//! variant per page, its id, its page text and its `RuleMeta`.
//!
//! A rule's id is thus written once, as its page's file name (the page's
//! `id:` must repeat it, checked here). Code names a rule by its variant, so
//! a rule without a page, or a misspelt id, does not compile; neither does a
//! page whose front matter or sections the registry would refuse. At run
//! time the registry takes a built-in rule's metadata from the table and
//! parses nothing.
//!
//! The front matter of tollgate's own pages is read here by a strict reader
//! of the subset they use (`key: value` lines; plain, quoted and `true` /
//! `false` scalars; flow lists of plain words), not by a YAML parser, which
//! would be compiled a second time for the build script. Anything outside
//! that subset is a compile error, and a test checks that every generated
//! entry equals what `RuleMeta::from_page`, the parser embedders' pages go
//! through, reads from the same page.

// The library's own spelling rules (`is_kebab_case` is public there).
#[allow(unreachable_pub)]
#[path = "src/ident.rs"]
mod ident;

// The sections every page has, as the registry checks them.
#[allow(unreachable_pub)]
#[path = "src/sections.rs"]
mod sections;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The keys a page's front matter may have (as `RuleMeta::from_page` accepts).
const KEYS: [&str; 9] =
    ["id", "name", "severity", "summary", "tags", "precision", "security-severity", "enabled", "inline-suppression"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../../rules");
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&dir, 0, &format!("cannot list the rule pages: {e}")))
        .map(|entry| entry.unwrap_or_else(|e| fail(&dir, 0, &e.to_string())).path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| {
            let id = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            (id, p)
        })
        .collect();
    pages.sort();
    let mut variants = String::new();
    let mut all = String::new();
    let mut ids = String::new();
    let mut texts = String::new();
    let mut metas = String::new();
    for (id, path) in &pages {
        println!("cargo:rerun-if-changed={}", path.display());
        if !ident::is_kebab_case(id) {
            fail(path, 0, "a rule page's file name is its id: lowercase words joined by `-`");
        }
        let page = std::fs::read_to_string(path).unwrap_or_else(|e| fail(path, 0, &e.to_string()));
        let meta = Meta::read(path, &page);
        if meta.id != *id {
            fail(path, 2, &format!("front matter `id: {}` must be the file name, `{id}`", meta.id));
        }
        let variant = ident::pascal_case(id);
        let _ = writeln!(variants, "    /// `{id}`: {}\n    {variant},", meta.summary);
        let _ = writeln!(all, "        RuleId::{variant},");
        let _ = writeln!(ids, "            RuleId::{variant} => {id:?},");
        let _ = writeln!(texts, "            RuleId::{variant} => include_str!({:?}),", path.display().to_string());
        let _ = writeln!(metas, "    {},", meta.to_rust());
    }
    let count = pages.len();
    let code = format!(
        "/// A rule tollgate ships: one variant per page `rules/<id>.md`, generated
/// from those pages at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RuleId {{
{variants}}}

impl RuleId {{
    /// Every rule, in the order of their ids.
    pub const ALL: [RuleId; {count}] = [
{all}    ];

    /// The id: the SARIF `ruleId`, the page's file name.
    pub const fn as_str(self) -> &'static str {{
        match self {{
{ids}        }}
    }}

    /// The page `rules/<id>.md`: front matter, then Markdown.
    pub const fn page(self) -> &'static str {{
        match self {{
{texts}        }}
    }}
}}

/// The metadata of every rule, in the order of [`RuleId::ALL`], read from
/// the pages at build time.
static META: [RuleMeta; {count}] = [
{metas}];
"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("rule_id.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| fail(&out, 0, &e.to_string()));
}

/// A page's metadata, as the generated `RuleMeta` literal needs it.
struct Meta {
    id: String,
    name: Option<String>,
    severity: &'static str,
    summary: String,
    tags: Vec<String>,
    precision: Option<String>,
    security_severity: Option<String>,
    enabled: Option<bool>,
    inline_suppression: Option<bool>,
    /// Byte offset of the docs (the body, leading blank lines skipped) in the page.
    docs_at: usize,
}

impl Meta {
    /// Reads and checks a page as the registry would: front matter with the
    /// required keys and nothing else, the required sections in order.
    fn read(path: &Path, page: &str) -> Meta {
        let Some(rest) = page.strip_prefix("---\n") else {
            fail(path, 1, "the page must start with `---` front matter");
        };
        let Some(end) = rest.find("\n---\n") else { fail(path, 1, "the front matter must end with a `---` line") };
        let front = &rest[..=end];
        let body_at = 4 + end + 5;
        let docs_at = body_at + (page[body_at..].len() - page[body_at..].trim_start().len());
        let mut seen: Vec<&str> = Vec::new();
        let mut meta = Meta {
            id: String::new(),
            name: None,
            severity: "",
            summary: String::new(),
            tags: Vec::new(),
            precision: None,
            security_severity: None,
            enabled: None,
            inline_suppression: None,
            docs_at,
        };
        for (n, line) in front.lines().enumerate() {
            let line_no = n + 2;
            let Some((key, value)) = line.split_once(": ") else {
                fail(path, line_no, "expected `key: value` (tollgate's pages use one line per key)");
            };
            if !KEYS.contains(&key) {
                fail(path, line_no, &format!("unknown front matter key `{key}`; expected one of {}", KEYS.join(", ")));
            }
            if seen.contains(&key) {
                fail(path, line_no, &format!("`{key}` is given twice"));
            }
            seen.push(key);
            match key {
                "id" => meta.id = scalar(path, line_no, value),
                "name" => meta.name = Some(scalar(path, line_no, value)),
                "severity" => {
                    meta.severity = match scalar(path, line_no, value).as_str() {
                        "error" => "Error",
                        "warning" => "Warning",
                        "note" => "Note",
                        other => fail(path, line_no, &format!("severity `{other}`: expected error, warning or note")),
                    };
                }
                "summary" => meta.summary = scalar(path, line_no, value),
                "tags" => meta.tags = list(path, line_no, value),
                "precision" => meta.precision = Some(scalar(path, line_no, value)),
                "security-severity" => meta.security_severity = Some(scalar(path, line_no, value)),
                "enabled" => meta.enabled = Some(boolean(path, line_no, value)),
                _ => meta.inline_suppression = Some(boolean(path, line_no, value)),
            }
        }
        for key in ["id", "severity", "summary", "tags"] {
            if !seen.contains(&key) {
                fail(path, 1, &format!("the front matter needs `{key}`"));
            }
        }
        let mut from = docs_at;
        for section in sections::REQUIRED_SECTIONS {
            match page[from..].find(section) {
                Some(at) => from += at + section.len(),
                None => fail(
                    path,
                    0,
                    &format!(
                        "missing section `{section}` (sections must appear in this order: {})",
                        sections::REQUIRED_SECTIONS.join(", ")
                    ),
                ),
            }
        }
        meta
    }

    /// The `RuleMeta` literal (a constant: every text borrowed).
    fn to_rust(&self) -> String {
        let text = |s: &str| format!("Cow::Borrowed({s:?})");
        let optional = |s: &Option<String>| s.as_deref().map_or("None".to_owned(), |s| format!("Some({})", text(s)));
        let tags: Vec<String> = self.tags.iter().map(|t| text(t)).collect();
        format!(
            "RuleMeta {{ id: {id}, name: {name}, severity: Severity::{severity}, summary: {summary}, tags: Cow::Borrowed(&[{tags}]), precision: {precision}, security_severity: {security}, enabled_by_default: {enabled}, inline_suppression: {inline}, docs: Cow::Borrowed(RuleId::{variant}.page().split_at({docs_at}).1), help_uri: None, in_catalog: true }}",
            id = text(&self.id),
            name = text(self.name.as_deref().unwrap_or(&ident::pascal_case(&self.id))),
            severity = self.severity,
            summary = text(&self.summary),
            tags = tags.join(", "),
            precision = text(self.precision.as_deref().unwrap_or("high")),
            security = optional(&self.security_severity),
            enabled = self.enabled.unwrap_or(true),
            inline = self.inline_suppression.unwrap_or(true),
            variant = ident::pascal_case(&self.id),
            docs_at = self.docs_at,
        )
    }
}

/// A scalar of the subset: `"…"` or `'…'` without escapes, or a plain one
/// that YAML reads as the same text (no indicator first, no ` #`, no `: `).
fn scalar(path: &Path, line: usize, value: &str) -> String {
    let value = value.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote) {
            let Some(inner) = inner.strip_suffix(quote) else { fail(path, line, "an unterminated quoted scalar") };
            if inner.contains(quote) || (quote == '"' && inner.contains('\\')) {
                fail(path, line, "a quoted scalar with escapes: tollgate's pages keep to plain text");
            }
            return inner.to_owned();
        }
    }
    let plain = !value.is_empty()
        && !value.starts_with(['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`'])
        && !value.contains(" #")
        && !value.contains(": ")
        && !value.ends_with(':');
    if !plain {
        fail(path, line, &format!("`{value}` is not a plain scalar; quote it"));
    }
    if ["true", "false", "null", "~"].contains(&value) || value.parse::<f64>().is_ok() {
        fail(path, line, &format!("`{value}` is not text in YAML; quote it"));
    }
    value.to_owned()
}

/// `true` or `false`.
fn boolean(path: &Path, line: usize, value: &str) -> bool {
    match value.trim() {
        "true" => true,
        "false" => false,
        other => fail(path, line, &format!("`{other}`: expected true or false")),
    }
}

/// A flow list of plain words: `[a, b-c]`.
fn list(path: &Path, line: usize, value: &str) -> Vec<String> {
    let Some(inner) = value.trim().strip_prefix('[').and_then(|v| v.strip_suffix(']')) else {
        fail(path, line, "expected a flow list, `[a, b]`");
    };
    inner
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                fail(path, line, &format!("tag `{t}`: tollgate's tags are words joined by `-`"));
            }
            t.to_owned()
        })
        .collect()
}

fn fail(path: &Path, line: usize, message: &str) -> ! {
    let at = if line == 0 { String::new() } else { format!(":{line}") };
    panic!("{}{at}: {message}", path.display())
}
