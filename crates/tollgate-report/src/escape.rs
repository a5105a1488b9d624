//! Escaping for every human-facing format. File names, YAML values, commit
//! summaries and reasons come from the repository under check, which may be
//! hostile: a raw newline in a value would start a new line of the CI log (a
//! fake `::error`, an `::add-mask::`, a `::stop-commands::`), an ESC sequence
//! would drive the terminal, a bidirectional override would make the shown
//! text differ from the real one, and Markdown or HTML in a path would forge
//! the job summary. Nothing from the repository is printed without passing
//! through one of these functions.

use std::borrow::Cow;

/// Characters that must never reach a log or terminal raw: C0/C1 controls
/// (tab excepted where `keep_tab`), line and paragraph separators, and the
/// bidirectional controls of "Trojan source".
fn dangerous(c: char, keep_tab: bool) -> bool {
    (c.is_control() && !(keep_tab && c == '\t'))
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
    }
}

/// `text` with every dangerous character written as an escape (`\n`,
/// `\u{1b}`), so that it stays on one line and shows what it really holds.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    printable_with(text, false)
}

/// [`printable`], keeping tabs (source lines are shown with their tabs).
pub(crate) fn printable_keep_tabs(text: &str) -> Cow<'_, str> {
    printable_with(text, true)
}

fn printable_with(text: &str, keep_tab: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| dangerous(c, keep_tab)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if dangerous(c, keep_tab) {
            escape_char(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a Markdown paragraph or table cell: printable (one line), with
/// HTML's and Markdown's structural characters escaped, so that a file name
/// can neither start a heading, a link or an image nor open a tag, and a `|`
/// cannot end a cell.
///
/// ```
/// assert_eq!(tollgate_report::markdown_text("a|<b>#`c`"), "a&#124;&lt;b&gt;\\#`c`");
/// ```
pub fn markdown_text(text: &str) -> String {
    let text = printable(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            // Backticks stay: messages mark code with them, and a stray one
            // can only change formatting, not structure.
            '\\' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text shown as code in Markdown: an HTML `<code>` element, because a
/// backtick span can be closed by a backtick in the text and tables split at
/// `|` even inside one.
pub(crate) fn markdown_code(text: &str) -> String {
    let text = printable(text);
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<code>");
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\\' => out.push_str("&#92;"),
            '*' => out.push_str("&#42;"),
            '_' => out.push_str("&#95;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            c => out.push(c),
        }
    }
    out.push_str("</code>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_separators_are_escaped() {
        assert_eq!(printable("a\nb::error::x"), "a\\nb::error::x");
        assert_eq!(printable("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(printable("x\u{2028}y\u{202e}z\u{85}"), "x\\u{2028}y\\u{202e}z\\u{85}");
        assert_eq!(printable("tab\there"), "tab\\there");
        assert_eq!(printable_keep_tabs("tab\there"), "tab\there");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn markdown_cannot_be_forged() {
        let name = "x\n## ✅ tollgate: 0 error(s) <img src=x onerror=alert(1)> | `c`";
        let text = markdown_text(name);
        assert!(!text.contains('\n') && !text.contains('<') && !text.contains('|'), "{text}");
        assert!(text.contains("\\#\\#"), "{text}");
        let code = markdown_code("a`b|c<d>");
        assert_eq!(code, "<code>a&#96;b&#124;c&lt;d&gt;</code>");
    }
}
