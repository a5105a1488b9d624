//! `codeowners-invalid`: CODEOWNERS lines GitHub rejects or ignores.

use tollgate_core::{Finding, Position, RepositoryContext, Rule, RuleId, Span};

use super::active;

/// Reports unsupported syntax, bad owner tokens, an oversized file, and
/// CODEOWNERS files GitHub ignores because another location wins.
pub(crate) struct CodeownersInvalid;

impl Rule for CodeownersInvalid {
    fn page(&self) -> &'static str {
        RuleId::CodeownersInvalid.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let codeowners = active(cx.model);
        if let Some(used) = &codeowners.used {
            let text = cx.model.file(&used.path).map_or("", |f| f.text.as_str());
            for p in &used.problems {
                let line_text = text.lines().nth(p.line as usize - 1).unwrap_or("");
                let start = Position { line: p.line, column: p.column, offset: 0 };
                let end = Position { line: p.line, column: p.column + p.width, offset: 0 };
                out.push(cx.finding_at(&used.path, Some(Span { start, end }), line_text, format!("{}.", p.message)));
            }
            for ignored in &codeowners.ignored {
                out.push(cx.finding_at(
                    ignored,
                    None,
                    "ignored",
                    format!(
                        "`{ignored}` is ignored: GitHub uses only the first of `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS`, which is `{}`. Merge its lines into that file and delete this one.",
                        used.path
                    ),
                ));
            }
        }
    }
}
