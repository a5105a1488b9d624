//! Builds span-carrying trees from `saphyr-parser` events.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScanError};

use crate::node::{Document, Mapping, Node, Position, Scalar, ScalarStyle, Span, Value};
use crate::{Limits, ParseError};

/// Maps saphyr's (line, character column) markers to [`Position`]s with byte offsets.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    ascii: bool,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { text, starts, ascii: text.is_ascii() }
    }

    /// Position from a 1-based line and a 0-based character column.
    pub(crate) fn position_at(&self, line: usize, col: usize) -> Position {
        let line = line.max(1);
        let Some(&start) = self.starts.get(line - 1) else {
            return self.position_of_offset(self.text.len());
        };
        let offset = if self.ascii {
            (start + col).min(self.text.len())
        } else {
            let rest = &self.text[start..];
            rest.char_indices().nth(col).map_or(self.text.len(), |(i, _)| start + i)
        };
        Position { line: line as u32, column: col as u32 + 1, offset: offset as u32 }
    }

    /// Position of a byte offset (clamped to a character boundary).
    pub(crate) fn position_of_offset(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line - 1];
        let column = if self.ascii { offset - start } else { self.text[start..offset].chars().count() };
        Position { line: line as u32, column: column as u32 + 1, offset: offset as u32 }
    }

    /// Moves `end` back over trailing white space, never before `start`.
    pub(crate) fn trim_end(&self, start: Position, end: Position) -> Position {
        if end.offset <= start.offset {
            return end;
        }
        let slice = &self.text[start.offset as usize..end.offset as usize];
        let trimmed = slice.trim_end();
        if trimmed.len() == slice.len() { end } else { self.position_of_offset(start.offset as usize + trimmed.len()) }
    }
}

/// An open collection. Its children wait on the builder's shared stacks
/// (`items`, `entries`) from `first` on, and move into a vector of exactly
/// their number when it closes: a collection of millions of nodes is copied
/// once, not at every doubling of its own vector.
enum Frame {
    Sequence {
        first: usize,
        start: Position,
        anchor: usize,
        size: usize,
    },
    Mapping {
        first: usize,
        key: Option<Node>,
        start: Position,
        anchor: usize,
        size: usize,
        /// Keys seen so far (as Kubernetes resolves them) → their entry, once
        /// the mapping is large enough for a scan to cost more than a hash.
        seen: Option<HashMap<String, usize>>,
    },
}

/// Mappings up to this size find duplicate keys by scanning; larger ones
/// keep a hash of their keys, so a mapping of 450,000 keys costs linear time.
const SCAN_LIMIT: usize = 16;

struct Builder<'a> {
    index: &'a LineIndex<'a>,
    limits: Limits,
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    /// Children of the open sequences, innermost last.
    items: Vec<Node>,
    /// Entries of the open mappings, innermost last.
    entries: Vec<(Node, Node)>,
    /// Nodes made so far in the file, and where the current document began.
    nodes: usize,
    document_start: usize,
    stack: Vec<Frame>,
    documents: Vec<Document>,
    root: Option<Node>,
}

/// Parses every document of a YAML stream.
///
/// Anchors and aliases are resolved (an alias becomes a copy of its anchor's
/// node, keeping the anchor's span), merge keys (`<<`) are applied as
/// Kubernetes' YAML reader does, and duplicate keys are an error, as the YAML
/// specification requires. Nesting deeper than [`Limits::max_depth`] and alias
/// expansion beyond [`Limits::max_alias_nodes`] are errors, never a hang.
///
/// ```
/// use tollgate_yaml::{parse_yaml, Limits, Route};
/// let docs = parse_yaml("base: &b {x: 1}\nother: *b\n", &Limits::default()).unwrap();
/// assert_eq!(docs[0].root.get(&Route::parse("/other/x")).and_then(|n| n.as_i64()), Some(1));
/// ```
pub fn parse_yaml(text: &str, limits: &Limits) -> Result<Vec<Document>, ParseError> {
    // Built once, for every attempt below and for their errors.
    let index = LineIndex::new(text);
    // (An ASCII text, nearly every file, cannot hold them: one fast pass.)
    if !index.ascii
        && let Some(at) = text.find(['\u{85}', '\u{2028}', '\u{2029}'])
    {
        // YAML 1.1 readers (go-yaml, so Kubernetes, Argo CD and Flux) end a
        // line at NEL, LS and PS; YAML 1.2 readers do not. `kind: Secret<LS>`
        // is a Secret to the cluster and `Secret\u{2028}` here: refuse rather
        // than read something else than the cluster does.
        let c = text[at..].chars().next().unwrap_or(' ');
        let name = match c {
            '\u{85}' => "NEXT LINE",
            '\u{2028}' => "LINE SEPARATOR",
            _ => "PARAGRAPH SEPARATOR",
        };
        return Err(ParseError::Syntax {
            message: format!(
                "the invisible character U+{:04X} ({name}) ends a line for Kubernetes' YAML reader (YAML 1.1) but not for YAML 1.2 readers, so tools disagree on what this file holds; replace it with a real line break, or write it as an escape (`\\u{:04X}`) inside a double-quoted string",
                u32::from(c),
                u32::from(c)
            ),
            position: index.position_of_offset(at),
        });
    }
    match parse_with(&index, text, &[], limits) {
        Err(e) if e.message().contains("invalid indentation in quoted scalar") => {
            // libyaml, go-yaml (and so Kubernetes) accept continuation lines of a
            // multi-line quoted scalar at the key's own indentation, and
            // generated CRDs are full of them; saphyr follows the spec strictly.
            // Indenting those lines changes no value (folding drops leading
            // white space), and positions are mapped back to the original text.
            let (fixed, shifts) = indent_quoted_continuations(text);
            if shifts.iter().all(|&s| s == 0) {
                return Err(e);
            }
            parse_with(&index, &fixed, &shifts, limits).map_err(|_| e)
        }
        other => other,
    }
}

/// Parses `scanned` (the original text, or a copy with some lines indented
/// by `shifts[line]` more columns) with positions in the original text, the
/// one `index` is of.
fn parse_with<'a>(
    index: &'a LineIndex<'a>,
    scanned: &str,
    shifts: &[usize],
    limits: &Limits,
) -> Result<Vec<Document>, ParseError> {
    let mut builder = Builder {
        index,
        limits: *limits,
        anchors: HashMap::new(),
        alias_nodes: 0,
        items: Vec::new(),
        entries: Vec::new(),
        nodes: 0,
        document_start: 0,
        stack: Vec::new(),
        documents: Vec::new(),
        root: None,
    };
    let unshift = |line: usize, col: usize| col.saturating_sub(shifts.get(line.wrapping_sub(1)).copied().unwrap_or(0));
    let mut parser = Parser::new_from_str(scanned);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| builder.scan_error(&e))?;
        let (sl, el) = (span.start.line(), span.end.line());
        let start = builder.index.position_at(sl, unshift(sl, span.start.col()));
        let end = builder.index.position_at(el, unshift(el, span.end.col()));
        builder.event(event, Span { start, end })?;
    }
    Ok(builder.documents)
}

/// Finds multi-line quoted scalars line by line and indents their
/// continuation lines one column past their key. Returns the new text and
/// how many columns each line was shifted.
fn indent_quoted_continuations(text: &str) -> (String, Vec<usize>) {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut shifts = vec![0; lines.len()];
    let mut block_scalar_parent: Option<usize> = None;
    let mut open: Option<(char, usize)> = None; // quote and key column
    for (i, line) in lines.iter().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some((quote, key_col)) = open {
            if !line.trim().is_empty() && indent <= key_col {
                shifts[i] = key_col + 1 - indent;
            }
            if closes(line, quote) {
                open = None;
            }
            continue;
        }
        if let Some(parent) = block_scalar_parent {
            if line.trim().is_empty() || indent > parent {
                continue;
            }
            block_scalar_parent = None;
        }
        let content = line.trim_start_matches(' ');
        if content.starts_with('#') {
            continue;
        }
        // Skip sequence indicators to the key: `- - key: value`.
        let mut key_col = indent;
        let mut rest = content;
        while let Some(r) = rest.strip_prefix("- ") {
            let r2 = r.trim_start_matches(' ');
            key_col += rest.len() - r2.len();
            rest = r2;
        }
        let value = match find_value(rest) {
            Some(v) => v,
            None if rest.starts_with(['\'', '"']) && key_col > indent => rest,
            None => continue,
        };
        let value = value.trim_start();
        if value.starts_with('|') || value.starts_with('>') {
            block_scalar_parent = Some(indent);
            continue;
        }
        if let Some(quote) = value.chars().next().filter(|c| *c == '\'' || *c == '"')
            && !closes(&value[1..], quote)
        {
            open = Some((quote, key_col));
        }
    }
    let mut out = String::with_capacity(text.len() + shifts.iter().sum::<usize>());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.extend(std::iter::repeat_n(' ', shifts[i]));
        out.push_str(line);
    }
    (out, shifts)
}

/// The value part after an unquoted `key: `, if the line has one.
fn find_value(line: &str) -> Option<&str> {
    if line.starts_with(['\'', '"', '{', '[', '#']) {
        return None;
    }
    let at = line.find(": ").or_else(|| line.strip_suffix(':').map(str::len))?;
    Some(line.get(at + 2..).unwrap_or(""))
}

/// True when `text` (after an opening quote) contains the closing quote.
fn closes(text: &str, quote: char) -> bool {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek() == Some(&'\'') {
                chars.next();
            } else {
                return true;
            }
        }
    }
    false
}

impl Builder<'_> {
    fn scan_error(&self, e: &ScanError) -> ParseError {
        let m = e.marker();
        ParseError::Syntax {
            message: format!("invalid YAML: {}", e.info()),
            position: self.index.position_at(m.line(), m.col()),
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), ParseError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.root = None;
                self.document_start = self.nodes;
            }
            Event::DocumentEnd => {
                let root = self.root.take().unwrap_or_else(|| Node::null(Span { start: span.start, end: span.start }));
                let nodes = self.nodes - self.document_start;
                self.documents.push(Document { index: self.documents.len(), root, nodes });
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(ParseError::Syntax {
                        message: "invalid YAML: alias to an unknown anchor".into(),
                        position: span.start,
                    });
                };
                self.alias_nodes += size;
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(ParseError::Limit {
                        message: format!(
                            "aliases expand to more than {} nodes (an alias bomb?); tollgate refuses to expand it",
                            self.limits.max_alias_nodes
                        ),
                        position: span.start,
                    });
                }
                let size = *size;
                let mut node = node.clone();
                self.count(size, span.start)?;
                // The copy is used here: its own span is the alias (`*name`);
                // the nodes inside keep the anchor's spans.
                node.span = span;
                self.add(node, 0, size)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, span.start)?;
                let style = match style {
                    saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
                    saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
                    saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
                };
                // An explicit tag decides how the text resolves, on quoted
                // scalars too (`!!bool "true"` is a boolean for Kubernetes).
                let mut text = text.into_owned();
                let style = match &tag {
                    None => style,
                    Some(t) => match crate::resolve::resolve_tagged(&t.handle, &t.suffix, &text) {
                        crate::resolve::Tagged::Plain => ScalarStyle::Plain,
                        crate::resolve::Tagged::Str(value) => {
                            text = value;
                            if style == ScalarStyle::Plain { ScalarStyle::DoubleQuoted } else { style }
                        }
                        crate::resolve::Tagged::Rejected(message) => {
                            return Err(ParseError::Syntax { message, position: span.start });
                        }
                    },
                };
                let end = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    self.index.trim_end(span.start, span.end)
                } else {
                    span.end
                };
                let node = Node {
                    value: Value::Scalar(Scalar { text: text.into_boxed_str(), style }),
                    span: Span { start: span.start, end },
                };
                self.add(node, anchor, 1)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.check_depth(span.start)?;
                self.count(1, span.start)?;
                self.stack.push(Frame::Sequence { first: self.items.len(), start: span.start, anchor, size: 1 });
            }
            Event::MappingStart(anchor, _) => {
                self.check_depth(span.start)?;
                self.count(1, span.start)?;
                self.stack.push(Frame::Mapping {
                    first: self.entries.len(),
                    key: None,
                    start: span.start,
                    anchor,
                    size: 1,
                    seen: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().ok_or_else(|| ParseError::Syntax {
                    message: "invalid YAML: unbalanced collection".into(),
                    position: span.start,
                })?;
                // A flow collection's closing event covers its `]`/`}`; a block
                // collection ends with its last item.
                let flow = span.end.offset > span.start.offset;
                let (value, start, anchor, last_end, size) = match frame {
                    Frame::Sequence { first, start, anchor, size } => {
                        // Exactly sized: the tree lives for the whole run.
                        let mut items = Vec::with_capacity(self.items.len() - first);
                        items.extend(self.items.drain(first..));
                        let last = items.last().map(|n| n.span.end);
                        (Value::Sequence(items.into_boxed_slice()), start, anchor, last, size)
                    }
                    Frame::Mapping { first, start, anchor, size, .. } => {
                        let mut entries = Vec::with_capacity(self.entries.len() - first);
                        entries.extend(self.entries.drain(first..));
                        let entries = apply_merge_keys(entries)?.into_boxed_slice();
                        let last = entries.last().map(|(_, v)| v.span.end);
                        (Value::Mapping(Mapping { entries }), start, anchor, last, size)
                    }
                };
                let end = if flow { span.end } else { last_end.unwrap_or(span.end) };
                self.add(Node { value, span: Span { start, end } }, anchor, size)?;
            }
        }
        Ok(())
    }

    /// Counts `n` new nodes against [`Limits::max_nodes`].
    fn count(&mut self, n: usize, at: Position) -> Result<(), ParseError> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            return Err(ParseError::Limit {
                message: format!(
                    "more than {} nodes in one file; tollgate stops reading here (split the file or exclude it)",
                    self.limits.max_nodes
                ),
                position: at,
            });
        }
        Ok(())
    }

    fn check_depth(&self, at: Position) -> Result<(), ParseError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(ParseError::Limit {
                message: format!("nesting deeper than {} levels; tollgate stops reading here", self.limits.max_depth),
                position: at,
            });
        }
        Ok(())
    }

    /// Places a finished node in its parent (or as the document root).
    fn add(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), ParseError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { size: total, .. }) => {
                *total += size;
                self.items.push(node);
            }
            Some(Frame::Mapping { first, key, size: total, seen, .. }) => match key.take() {
                None => {
                    *total += size;
                    *key = Some(node);
                }
                Some(k) => {
                    *total += size;
                    let entries = &mut self.entries;
                    let first = *first;
                    if let Some(resolved) = key_text(&k) {
                        let earlier = if let Some(seen) = seen {
                            seen.get(resolved.as_ref()).copied()
                        } else {
                            entries[first..]
                                .iter()
                                .position(|(e, _)| key_text(e).as_deref() == Some(resolved.as_ref()))
                                .map(|i| first + i)
                        };
                        if let Some(earlier) = earlier {
                            let (first_key, first_value) = &entries[earlier];
                            // The same key twice with the same value (generated
                            // files have them) leaves nothing to disagree on.
                            let text = self.index.text;
                            if first_value.span.text(text) == node.span.text(text) {
                                return Ok(());
                            }
                            return Err(ParseError::Syntax {
                                message: format!(
                                    "duplicate key `{}` (first defined at line {}); YAML forbids duplicate keys and tools disagree on which one wins",
                                    k.as_str().unwrap_or_default(),
                                    first_key.span.start.line
                                ),
                                position: k.span.start,
                            });
                        }
                        if seen.is_none() && entries.len() - first >= SCAN_LIMIT {
                            let mut index = HashMap::with_capacity((entries.len() - first) * 2);
                            for (i, (e, _)) in entries.iter().enumerate().skip(first) {
                                if let Some(t) = key_text(e) {
                                    index.entry(t.into_owned()).or_insert(i);
                                }
                            }
                            *seen = Some(index);
                        }
                        if let Some(seen) = seen {
                            seen.insert(resolved.into_owned(), entries.len());
                        }
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// A scalar key as Kubernetes' JSON has it (go-yaml resolves keys like
/// values: `y` is `true`, `0x1F` is `31`); `None` for the merge key `<<` and
/// for keys that are collections.
fn key_text(key: &Node) -> Option<std::borrow::Cow<'_, str>> {
    let s = key.as_scalar()?;
    if s.style == ScalarStyle::Plain && &*s.text == "<<" {
        return None;
    }
    Some(crate::resolve::kubernetes_key(&s.text, s.style == ScalarStyle::Plain))
}

/// Applies YAML 1.1 merge keys (`<<: *base`), which Kubernetes' reader honours:
/// keys written in the mapping win over merged ones, earlier merged maps over later ones.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, ParseError> {
    let is_merge = |k: &Node| k.as_scalar().is_some_and(|s| s.style == ScalarStyle::Plain && &*s.text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return Ok(entries);
    }
    let mut own = Vec::with_capacity(entries.len());
    let mut merged: Vec<(Node, Node)> = Vec::new();
    let mut merged_keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (k, v) in entries {
        if !is_merge(&k) {
            own.push((k, v));
            continue;
        }
        let sources: Vec<Node> = match v.value {
            Value::Mapping(_) => vec![v],
            Value::Sequence(items) => items.into_vec(),
            Value::Scalar(_) => {
                return Err(ParseError::Syntax {
                    message: "invalid YAML: a merge key `<<` needs a mapping or a list of mappings".into(),
                    position: v.span.start,
                });
            }
        };
        for source in sources {
            let Value::Mapping(m) = source.value else {
                return Err(ParseError::Syntax {
                    message: "invalid YAML: a merge key `<<` needs a mapping or a list of mappings".into(),
                    position: source.span.start,
                });
            };
            for (mk, mv) in m.entries {
                let name = key_text(&mk).map(std::borrow::Cow::into_owned).unwrap_or_default();
                if merged_keys.insert(name) {
                    merged.push((mk, mv));
                }
            }
        }
    }
    let own_keys: std::collections::HashSet<String> =
        own.iter().filter_map(|(k, _)| key_text(k).map(std::borrow::Cow::into_owned)).collect();
    let mut out = own;
    for (mk, mv) in merged {
        if !key_text(&mk).is_some_and(|t| own_keys.contains(t.as_ref())) {
            out.push((mk, mv));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Route;

    fn parse(text: &str) -> Vec<Document> {
        parse_yaml(text, &Limits::default()).expect("valid YAML")
    }

    fn span_of(doc: &Document, route: &str) -> (u32, u32, u32, u32) {
        let n = doc.root.get(&Route::parse(route)).expect("route exists");
        (n.span.start.line, n.span.start.column, n.span.end.line, n.span.end.column)
    }

    #[test]
    fn spans_in_multi_document_files() {
        let docs = parse("a: 1\n---\nkind: App\nspec:\n  selfHeal: true\n---\n# empty\n");
        assert_eq!(docs.len(), 3);
        assert_eq!(span_of(&docs[1], "/spec/selfHeal"), (5, 13, 5, 17));
        assert_eq!(span_of(&docs[1], "/kind"), (3, 7, 3, 10));
        assert!(docs[2].root.is_null());
        let entry = docs[1].root.entry_span(&Route::parse("/spec/selfHeal"));
        assert_eq!((entry.start.line, entry.start.column, entry.end.column), (5, 3, 17));
    }

    #[test]
    fn spans_in_flow_mappings() {
        let docs = parse("x: {a: 1, b: [10, 20]}\n");
        assert_eq!(span_of(&docs[0], "/x"), (1, 4, 1, 23));
        assert_eq!(span_of(&docs[0], "/x/b"), (1, 14, 1, 22));
        assert_eq!(span_of(&docs[0], "/x/b/1"), (1, 19, 1, 21));
    }

    #[test]
    fn spans_of_block_scalars_and_sequences() {
        let text = "script: |\n  echo one\n  echo two\nnext:\n  - a\n  - b: 1\n    c: 2\n";
        let docs = parse(text);
        let (sl, _, el, ec) = span_of(&docs[0], "/script");
        assert_eq!((sl, el, ec), (2, 3, 11));
        assert_eq!(span_of(&docs[0], "/next"), (5, 3, 7, 9));
        assert_eq!(span_of(&docs[0], "/next/1/c"), (7, 8, 7, 9));
    }

    #[test]
    fn non_ascii_columns_are_characters_and_offsets_bytes() {
        let text = "name: \"héllo\"\nimage: x\n";
        let docs = parse(text);
        let n = docs[0].root.get(&Route::parse("/image")).expect("image");
        assert_eq!((n.span.start.line, n.span.start.column), (2, 8));
        assert_eq!(n.span.text(text), "x");
        let name = docs[0].root.get(&Route::parse("/name")).expect("name");
        assert_eq!(name.span.text(text), "\"héllo\"");
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let docs = parse("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let root = &docs[0].root;
        assert_eq!(root.get(&Route::parse("/use/x")).and_then(Node::as_i64), Some(1));
        assert_eq!(root.get(&Route::parse("/use/y")).and_then(Node::as_i64), Some(3));
        assert_eq!(root.get(&Route::parse("/list/0/y")).and_then(Node::as_i64), Some(2));
    }

    #[test]
    fn alias_copies_point_at_the_alias() {
        let docs = parse("x: &img nginx:latest\nspec:\n  image: *img\n");
        assert_eq!(span_of(&docs[0], "/spec/image"), (3, 10, 3, 14));
        let entry = docs[0].root.entry_span(&Route::parse("/spec/image"));
        assert_eq!((entry.start.line, entry.start.column), (3, 3));
    }

    #[test]
    fn quoted_continuation_at_key_indentation_is_accepted() {
        // As generated CRDs write descriptions; libyaml and go-yaml accept it.
        let text = "spec:\n  props:\n    description: 'APIVersion defines\n    the schema. It''s here'\n    type: string\n    other: \"a\n    b\"\n";
        let docs = parse(text);
        assert_eq!(
            docs[0].root.get(&Route::parse("/spec/props/description")).and_then(Node::as_str),
            Some("APIVersion defines the schema. It's here")
        );
        assert_eq!(docs[0].root.get(&Route::parse("/spec/props/other")).and_then(Node::as_str), Some("a b"));
        assert_eq!(span_of(&docs[0], "/spec/props/type"), (5, 11, 5, 17));
        let d = docs[0].root.get(&Route::parse("/spec/props/description")).expect("description");
        assert_eq!(d.span.text(text), "'APIVersion defines\n    the schema. It''s here'");
        let docs = parse("b: 'x\ny'\nc: 1\n");
        assert_eq!(docs[0].root.get_key("b").and_then(Node::as_str), Some("x y"));
    }

    #[test]
    fn nodes_stay_small() {
        // Every node of every file lives for the whole run: 48 bytes each
        // (was 64), strings and children exactly sized.
        assert!(std::mem::size_of::<Node>() <= 48, "{}", std::mem::size_of::<Node>());
        assert!(std::mem::size_of::<Position>() <= 12);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_yaml("a: 1\nb: 2\na: 3\n", &Limits::default()).expect_err("duplicate");
        assert_eq!(err.position().line, 3);
        assert!(err.message().contains("first defined at line 1"));
    }

    #[test]
    fn identical_duplicates_are_accepted_and_resolved_keys_collide() {
        let docs = parse("apiVersion: v1\nkind: K\napiVersion: v1\n");
        assert_eq!(docs[0].root.as_mapping().map(Mapping::len), Some(2));
        // `y` and `true` are one key for Kubernetes.
        let err = parse_yaml("y: 1\ntrue: 2\n", &Limits::default()).expect_err("same key");
        assert!(err.message().contains("duplicate key `true`"), "{err:?}");
        let err = parse_yaml("0x1F: a\n31: b\n", &Limits::default()).expect_err("same key");
        assert_eq!(err.position().line, 2);
        // A quoted key is a string: `"y"` and `true` differ.
        assert!(parse_yaml("\"y\": 1\ntrue: 2\n", &Limits::default()).is_ok());
    }

    #[test]
    fn duplicate_keys_in_a_huge_mapping_take_linear_time() {
        let mut text: String = (0..200_000).map(|i| format!("k{i}: {i}\n")).collect();
        let started = std::time::Instant::now();
        assert_eq!(parse(&text)[0].root.as_mapping().map(Mapping::len), Some(200_000));
        text.push_str("k7: again\n");
        let err = parse_yaml(&text, &Limits::default()).expect_err("duplicate");
        assert!(err.message().contains("first defined at line 8"), "{err:?}");
        assert!(started.elapsed().as_secs_f64() < 20.0, "{:?}", started.elapsed());
    }

    #[test]
    fn yaml_1_1_line_breaks_are_refused() {
        for c in ['\u{85}', '\u{2028}', '\u{2029}'] {
            let text = format!("apiVersion: v1\nkind: Secret{c}\nmetadata: {{name: x}}\n");
            let err = parse_yaml(&text, &Limits::default()).expect_err("separator");
            assert_eq!((err.position().line, err.position().column), (2, 13), "{err:?}");
            assert!(err.message().contains(&format!("U+{:04X}", u32::from(c))), "{err:?}");
        }
    }

    #[test]
    fn explicit_tags_resolve_as_kubernetes_does() {
        let docs = parse(
            "a: !!bool \"true\"\nb: !!int '0x10'\nc: !!str yes\nd: !foo true\ne: !!binary bmdpbng6bGF0ZXN0\nf: !<tag:yaml.org,2002:bool> \"on\"\n",
        );
        let r = &docs[0].root;
        assert_eq!(r.get_key("a").and_then(Node::as_bool), Some(true));
        assert_eq!(r.get_key("b").and_then(Node::as_i64), Some(16));
        assert_eq!(r.get_key("c").and_then(Node::as_string), Some("yes"));
        assert_eq!(r.get_key("d").and_then(Node::as_string), Some("true"));
        assert_eq!(r.get_key("e").and_then(Node::as_string), Some("nginx:latest"));
        assert_eq!(r.get_key("f").and_then(Node::as_bool), Some(true));
        let err = parse_yaml("a: !!bool \"maybe\"\n", &Limits::default()).expect_err("not a bool");
        assert!(err.message().contains("not a boolean"), "{err:?}");
        assert!(parse_yaml("a: !!timestamp 2001-12-14\n", &Limits::default()).is_err());
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let started = std::time::Instant::now();
        let err = parse_yaml(&text, &Limits::default()).expect_err("bomb");
        assert!(matches!(err, ParseError::Limit { .. }), "{err:?}");
        assert!(started.elapsed().as_secs_f64() < 2.0);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse_yaml(&text, &Limits::default()).expect_err("too deep");
        assert!(err.message().contains("nesting deeper") || err.message().contains("recursion"), "{err:?}");
        let text = (0..1000).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect::<String>();
        assert!(parse_yaml(&text, &Limits::default()).is_err());
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse_yaml("a: [1\nb: 2\n", &Limits::default()).expect_err("bad");
        assert_eq!(err.position().line, 2);
        assert!(err.message().starts_with("invalid YAML"));
    }

    #[test]
    fn scalar_resolution() {
        let docs = parse("a: yes\nb: 'true'\nc: ~\nd: 0x1F\ne: 1.5\nf: !!str true\n");
        let r = &docs[0].root;
        assert_eq!(r.get_key("a").and_then(Node::as_bool), Some(true));
        assert_eq!(r.get_key("b").and_then(Node::as_bool), None);
        assert!(r.get_key("c").is_some_and(Node::is_null));
        assert_eq!(r.get_key("d").and_then(Node::as_i64), Some(31));
        assert_eq!(r.to_json()["e"], serde_json::json!(1.5));
        assert_eq!(r.to_json()["f"], serde_json::json!("true"));
        assert_eq!(r.to_json()["a"], serde_json::json!("yes"));
    }
}
