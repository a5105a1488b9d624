//! A span-aware JSON reader with the JSONC and JSON5 dialects.
//!
//! `serde_json` does not report where values are, and Renovate configurations
//! are often JSON5, so tollgate reads JSON with this small recursive-descent
//! parser that produces the same [`Node`] tree as YAML.

use crate::node::{Document, Mapping, Node, Position, Scalar, ScalarStyle, Span, Value};
use crate::yaml::LineIndex;
use crate::{Limits, ParseError};

/// Which flavour of JSON to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonDialect {
    /// RFC 8259 JSON.
    Strict,
    /// JSON with `//` and `/* */` comments and trailing commas (VS Code's JSONC).
    Jsonc,
    /// JSON5: JSONC plus unquoted keys, single-quoted strings, hex numbers,
    /// leading `+`, `Infinity` and `NaN`.
    Json5,
}

/// Parses one JSON value as a single [`Document`].
///
/// ```
/// use tollgate_yaml::{parse_json, JsonDialect, Limits, Route};
/// let text = "{\n  // comment\n  automerge: true,\n}";
/// let doc = parse_json(text, JsonDialect::Json5, &Limits::default()).unwrap();
/// let node = doc.root.get(&Route::parse("/automerge")).unwrap();
/// assert_eq!((node.span.start.line, node.span.start.column), (3, 14));
/// ```
pub fn parse_json(text: &str, dialect: JsonDialect, limits: &Limits) -> Result<Document, ParseError> {
    let mut p = JsonParser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        dialect,
        limits: *limits,
        index: LineIndex::new(text),
        depth: 0,
        nodes: 0,
    };
    let text_start = usize::from(text.starts_with('\u{feff}')) * 3;
    p.pos = text_start;
    p.skip_space()?;
    let root = p.value()?;
    p.skip_space()?;
    if p.pos < p.bytes.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(Document { index: 0, root, nodes: p.nodes })
}

struct JsonParser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    dialect: JsonDialect,
    limits: Limits,
    index: LineIndex<'a>,
    depth: usize,
    nodes: usize,
}

impl JsonParser<'_> {
    fn position(&self, offset: usize) -> Position {
        self.index.position_of_offset(offset)
    }

    fn error(&self, what: &str) -> ParseError {
        let found = match self.text[self.pos..].chars().next() {
            Some(c) => format!("found `{c}`"),
            None => "found the end of the file".to_owned(),
        };
        ParseError::Syntax { message: format!("invalid JSON: {what} ({found})"), position: self.position(self.pos) }
    }

    fn lenient(&self) -> bool {
        self.dialect != JsonDialect::Strict
    }

    fn skip_space(&mut self) -> Result<(), ParseError> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if self.lenient() => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        while let Some(&b) = self.bytes.get(self.pos) {
                            if b == b'\n' {
                                break;
                            }
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let rest = &self.text[self.pos + 2..];
                        match rest.find("*/") {
                            Some(i) => self.pos += 2 + i + 2,
                            None => return Err(self.error("unterminated `/*` comment")),
                        }
                    }
                    _ => return Ok(()),
                },
                _ if self.dialect == JsonDialect::Json5 && self.text[self.pos..].starts_with('\u{a0}') => self.pos += 2,
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Node, ParseError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(ParseError::Limit {
                message: format!(
                    "more than {} values in one file; tollgate stops reading here (split the file or exclude it)",
                    self.limits.max_nodes
                ),
                position: self.position(self.pos),
            });
        }
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string(b'"').map(|(s, span)| scalar(s, ScalarStyle::DoubleQuoted, span)),
            Some(b'\'') if self.dialect == JsonDialect::Json5 => {
                self.string(b'\'').map(|(s, span)| scalar(s, ScalarStyle::DoubleQuoted, span))
            }
            Some(_) => self.literal(),
            None => Err(self.error("expected a value")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(ParseError::Limit {
                message: format!("nesting deeper than {} levels; tollgate stops reading here", self.limits.max_depth),
                position: self.position(self.pos),
            });
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let start = self.pos;
        self.pos += 1;
        let mut entries: Vec<(Node, Node)> = Vec::new();
        // Keys → entry, for duplicate detection in linear time (a scan for
        // small objects, a hash once they grow).
        let mut seen: Option<std::collections::HashMap<String, usize>> = None;
        loop {
            self.skip_space()?;
            if self.bytes.get(self.pos) == Some(&b'}') {
                if !entries.is_empty() && !self.lenient() {
                    return Err(self.error("trailing comma before `}`"));
                }
                break;
            }
            let key = match self.bytes.get(self.pos) {
                Some(b'"') => self.string(b'"')?,
                Some(b'\'') if self.dialect == JsonDialect::Json5 => self.string(b'\'')?,
                Some(b)
                    if self.dialect == JsonDialect::Json5 && (b.is_ascii_alphabetic() || matches!(b, b'_' | b'$')) =>
                {
                    self.identifier()
                }
                _ => return Err(self.error("expected a string key or `}`")),
            };
            let first = match &seen {
                Some(seen) => seen.get(&key.0).copied(),
                None => entries.iter().position(|(k, _)| k.as_str() == Some(key.0.as_str())),
            };
            if let Some(first) = first.map(|i| &entries[i].0) {
                return Err(ParseError::Syntax {
                    message: format!(
                        "invalid JSON: duplicate key `{}` (first defined at line {}); readers disagree on which one wins",
                        key.0, first.span.start.line
                    ),
                    position: key.1.start,
                });
            }
            self.skip_space()?;
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:` after the key"));
            }
            self.pos += 1;
            self.skip_space()?;
            let value = self.value()?;
            if seen.is_none() && entries.len() >= 16 {
                seen = Some(
                    entries.iter().enumerate().filter_map(|(i, (k, _))| Some((k.as_str()?.to_owned(), i))).collect(),
                );
            }
            if let Some(seen) = &mut seen {
                seen.insert(key.0.clone(), entries.len());
            }
            entries.push((scalar(key.0, ScalarStyle::DoubleQuoted, key.1), value));
            self.skip_space()?;
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => break,
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Node {
            value: Value::Mapping(Mapping { entries: entries.into_boxed_slice() }),
            span: self.span(start, self.pos),
        })
    }

    fn array(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space()?;
            if self.bytes.get(self.pos) == Some(&b']') {
                if !items.is_empty() && !self.lenient() {
                    return Err(self.error("trailing comma before `]`"));
                }
                break;
            }
            items.push(self.value()?);
            self.skip_space()?;
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => break,
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(Node { value: Value::Sequence(items.into_boxed_slice()), span: self.span(start, self.pos) })
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span { start: self.position(start), end: self.position(end) }
    }

    fn identifier(&mut self) -> (String, Span) {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$') {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.text[start..self.pos].to_owned(), self.span(start, self.pos))
    }

    fn string(&mut self, quote: u8) -> Result<(String, Span), ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                self.pos = start;
                return Err(self.error("unterminated string"));
            };
            match c {
                c if c as u32 == u32::from(quote) => {
                    self.pos += 1;
                    break;
                }
                '\\' => {
                    self.pos += 1;
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        return Err(self.error("unterminated escape"));
                    };
                    self.pos += e.len_utf8();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => out.push(self.unicode_escape()?),
                        '\'' if self.dialect == JsonDialect::Json5 => out.push('\''),
                        '\n' if self.dialect == JsonDialect::Json5 => {}
                        _ => {
                            self.pos -= e.len_utf8();
                            return Err(self.error("unknown escape sequence"));
                        }
                    }
                }
                '\n' | '\r' => return Err(self.error("line break inside a string")),
                c if (c as u32) < 0x20 => return Err(self.error("control character inside a string")),
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
        Ok((out, self.span(start, self.pos)))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + 4).ok_or_else(|| self.error("expected four hex digits"))?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| self.error("expected four hex digits"))?;
        self.pos += 4;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.text[self.pos..].starts_with("\\u") {
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return char::from_u32(c).ok_or_else(|| self.error("invalid surrogate pair"));
            }
            return Err(self.error("invalid surrogate pair"));
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn literal(&mut self) -> Result<Node, ParseError> {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let word = &self.text[start..self.pos];
        let json5 = self.dialect == JsonDialect::Json5;
        let valid = match word {
            "true" | "false" | "null" => true,
            "Infinity" | "+Infinity" | "-Infinity" | "NaN" => json5,
            _ => is_json_number(word) || (json5 && is_json5_number(word)),
        };
        if !valid {
            self.pos = start;
            return Err(self.error("expected a value (object, array, string, number, true, false or null)"));
        }
        let text = match word {
            "Infinity" | "+Infinity" => ".inf".to_owned(),
            "-Infinity" => "-.inf".to_owned(),
            "NaN" => ".nan".to_owned(),
            w => w.strip_prefix('+').unwrap_or(w).to_owned(),
        };
        Ok(scalar(text, ScalarStyle::Plain, self.span(start, self.pos)))
    }
}

fn scalar(text: String, style: ScalarStyle, span: Span) -> Node {
    Node { value: Value::Scalar(Scalar { text: text.into_boxed_str(), style }), span }
}

fn is_json_number(w: &str) -> bool {
    let b = w.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start || (b[int_start] == b'0' && i - int_start > 1) {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

fn is_json5_number(w: &str) -> bool {
    let unsigned = w.strip_prefix(['+', '-']).unwrap_or(w);
    if let Some(hex) = unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X")) {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let normalized = if unsigned.starts_with('.') { format!("0{unsigned}") } else { unsigned.to_owned() };
    let normalized = normalized.strip_suffix('.').map_or(normalized.clone(), std::borrow::ToOwned::to_owned);
    is_json_number(&normalized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Route;

    fn strict(text: &str) -> Result<Document, ParseError> {
        parse_json(text, JsonDialect::Strict, &Limits::default())
    }

    #[test]
    fn spans_pin_exact_positions() {
        let text = "{\n  \"rules\": [\n    {\"automerge\": true, \"n\": -1.5e3}\n  ]\n}\n";
        let doc = strict(text).expect("valid");
        let n = doc.root.get(&Route::parse("/rules/0/automerge")).expect("node");
        assert_eq!((n.span.start.line, n.span.start.column, n.span.end.column), (3, 19, 23));
        assert_eq!(n.as_bool(), Some(true));
        let rules = doc.root.get(&Route::parse("/rules")).expect("rules");
        assert_eq!((rules.span.start.line, rules.span.end.line, rules.span.end.column), (2, 4, 4));
        assert_eq!(doc.root.to_json()["rules"][0]["n"], serde_json::json!(-1500.0));
    }

    #[test]
    fn strict_rejects_json5_and_reports_where() {
        let err = strict("{\n  \"a\": 1,\n}").expect_err("trailing comma");
        assert_eq!(err.position().line, 3);
        assert!(strict("{a: 1}").is_err());
        assert!(strict("[01]").is_err());
        assert!(strict("{\"a\": 1} x").is_err());
        assert!(strict("{\"a\": \"x").is_err());
        assert!(strict("{\"a\": 1, \"a\": 2}").expect_err("dup").message().contains("duplicate key"));
    }

    #[test]
    fn json5_features() {
        let doc = parse_json(
            "// c\n{unquoted: 'single', hex: 0x1F, /* block */ inf: -Infinity, trailing: [1, 2,],}",
            JsonDialect::Json5,
            &Limits::default(),
        )
        .expect("json5");
        let j = doc.root.to_json();
        assert_eq!(j["unquoted"], "single");
        assert_eq!(j["trailing"], serde_json::json!([1, 2]));
        assert!(doc.root.get_key("hex").is_some());
    }

    #[test]
    fn escapes_and_unicode() {
        let doc = strict(r#"{"s": "a\"b\u00e9\ud83d\ude00\n"}"#).expect("valid");
        assert_eq!(doc.root.get_key("s").and_then(Node::as_str), Some("a\"bé😀\n"));
    }

    #[test]
    fn deep_nesting_is_a_limit_error() {
        let text = "[".repeat(100_000);
        assert!(matches!(strict(&text), Err(ParseError::Limit { .. })));
    }
}
