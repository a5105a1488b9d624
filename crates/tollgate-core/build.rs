//! Generates `RuleId`, the identity of every rule tollgate ships, from the
//! pages `rules/<id>.md`: one variant per page, its id, and its page text.
//!
//! A rule's id is thus written once, as its page's file name (the page's
//! `id:` must repeat it, checked here). Code names a rule by its variant, so
//! a rule without a page, or a misspelt id, does not compile. The page's
//! full front matter is read at run time by `RuleMeta::from_page`, the one
//! parser embedders' pages go through too; the registry test checks every
//! generated page with it.

// The library's own spelling rules (`is_kebab_case` is public there).
#[allow(unreachable_pub)]
#[path = "src/ident.rs"]
mod ident;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = manifest.join("../../rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&dir, &format!("cannot list the rule pages: {e}")))
        .map(|entry| entry.unwrap_or_else(|e| fail(&dir, &e.to_string())).path())
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
    for (id, path) in &pages {
        if !ident::is_kebab_case(id) {
            fail(path, "a rule page's file name is its id: lowercase words joined by `-`");
        }
        let page = std::fs::read_to_string(path).unwrap_or_else(|e| fail(path, &e.to_string()));
        let Some((front, _)) = page.strip_prefix("---\n").and_then(|rest| rest.split_once("\n---\n")) else {
            fail(path, "the page must open with `---` front matter closed by a `---` line");
        };
        let written = front.lines().find_map(|l| l.strip_prefix("id:")).map(str::trim);
        if written != Some(id.as_str()) {
            fail(path, &format!("front matter `id: {}` must be the file name, `{id}`", written.unwrap_or("")));
        }
        let summary = front.lines().find_map(|l| l.strip_prefix("summary:")).map_or("", str::trim);
        let variant = ident::pascal_case(id);
        let _ = writeln!(variants, "    /// `{id}`: {}\n    {variant},", summary.trim_matches(['"', '\'']));
        let _ = writeln!(all, "        RuleId::{variant},");
        let _ = writeln!(ids, "            RuleId::{variant} => {id:?},");
        let _ = writeln!(texts, "            RuleId::{variant} => include_str!({:?}),", path.display().to_string());
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
"
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("rule_id.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| fail(&out, &e.to_string()));
}

fn fail(path: &Path, message: &str) -> ! {
    panic!("{}: {message}", path.display())
}
