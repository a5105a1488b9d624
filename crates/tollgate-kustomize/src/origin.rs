//! Origins of patches written inline in a kustomization.
//!
//! An inline patch is a YAML string inside the kustomization. Parsed on its
//! own, its nodes have lines and columns of the string, not of the file a
//! reviewer reads. When the string is a literal block (`patch: |-`), each
//! line of the string is one line of the file, indented by the block's
//! indentation: a node at line 3, column 5 of the string is at the block's
//! third content line, column 5 plus the indentation. Other styles (quoted,
//! folded) do not keep lines, and their nodes point at the string itself.

use tollgate_yaml::{Position, Span};

use crate::node::{Origin, RNode, RValue};

/// Where the lines of a literal block scalar sit in its file.
pub(crate) struct Block {
    /// Byte offset in the file of each content line of the block, from the
    /// first line of the parsed (trimmed) text.
    lines: Vec<usize>,
    /// The first file line of the parsed text.
    first_line: u32,
    /// The block's indentation.
    indent: usize,
    /// Columns trimmed off the parsed text's first line.
    first_shift: usize,
    /// Byte offset in the parsed text of each of its lines.
    inner_lines: Vec<usize>,
}

impl Block {
    /// The layout of the literal block scalar at `origin` in `file_text`,
    /// whose value is `raw`, parsed as `trimmed` (`raw` without surrounding
    /// whitespace). None when the scalar is not a plain literal block.
    pub(crate) fn new(file_text: &str, origin: Origin, raw: &str, trimmed: &str) -> Option<Block> {
        let at = origin.span.start.byte().min(file_text.len());
        // The scalar's span starts at its indicator or at its first content
        // line: find the header line (`key: |-`) either way.
        let line_start = |i: usize| file_text[..i].rfind('\n').map_or(0, |n| n + 1);
        let mut header = line_start(at);
        if !file_text[at..].starts_with('|') {
            loop {
                if header == 0 {
                    return None;
                }
                header = line_start(header - 1);
                let line = file_text[header..].lines().next().unwrap_or_default();
                if !line.trim().is_empty() {
                    break;
                }
            }
        }
        let header_line = file_text[header..].lines().next().unwrap_or_default();
        let header_line = header_line.split(" #").next().unwrap_or_default().trim_end();
        let indicator = header_line.rsplit([' ', '\t']).next().unwrap_or_default();
        // `|`, `|-`, `|+`; an explicit indentation (`|2`) is left alone.
        if !matches!(indicator, "|" | "|-" | "|+") {
            return None;
        }
        let header_number = u32::try_from(file_text[..header].matches('\n').count()).ok()? + 1;
        let content = header + file_text[header..].find('\n')? + 1;
        let mut lines = Vec::new();
        let mut offset = content;
        for line in file_text[content..].split_inclusive('\n') {
            lines.push(offset);
            offset += line.len();
        }
        let indent = file_text[content..]
            .lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start_matches(' ').len())?;
        let lead = &raw[..raw.len() - raw.trim_start().len()];
        let skipped = lead.matches('\n').count();
        let first_shift = lead.rsplit('\n').next().map_or(0, str::len);
        let lines = lines.get(skipped..)?.to_vec();
        let mut inner_lines = vec![0];
        inner_lines.extend(trimmed.match_indices('\n').map(|(i, _)| i + 1));
        let first_line = header_number + 1 + u32::try_from(skipped).ok()?;
        Some(Block { lines, first_line, indent, first_shift, inner_lines })
    }

    /// A span of the parsed text, as a span of the file.
    pub(crate) fn map(&self, span: Span) -> Option<Span> {
        Some(Span { start: self.position(span.start)?, end: self.position(span.end)? })
    }

    fn position(&self, p: Position) -> Option<Position> {
        let index = usize::try_from(p.line.checked_sub(1)?).ok()?;
        let line_start = *self.lines.get(index)?;
        let inner_start = *self.inner_lines.get(index)?;
        let shift = self.indent + if index == 0 { self.first_shift } else { 0 };
        let within = p.byte().checked_sub(inner_start)?;
        Some(Position {
            line: self.first_line + p.line - 1,
            column: p.column + u32::try_from(shift).ok()?,
            offset: u32::try_from(line_start + shift + within).ok()?,
        })
    }
}

/// Rewrites the origin of every node and key below `node`.
pub(crate) fn remap(node: &mut RNode, f: &dyn Fn(Span) -> Origin) {
    node.origin = f(node.origin.span);
    match &mut node.value {
        RValue::Scalar(_) => {}
        RValue::Seq(items) => items.iter_mut().for_each(|n| remap(n, f)),
        RValue::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                key.origin = f(key.origin.span);
                remap(value, f);
            }
        }
    }
}

/// Rewrites the origin of every node and key below `node` that points into
/// `file`.
pub(crate) fn remap_where(node: &mut RNode, file: crate::node::FileId, f: &dyn Fn(Span) -> Origin) {
    if node.origin.file == file {
        node.origin = f(node.origin.span);
    }
    match &mut node.value {
        RValue::Scalar(_) => {}
        RValue::Seq(items) => items.iter_mut().for_each(|n| remap_where(n, file, f)),
        RValue::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                if key.origin.file == file {
                    key.origin = f(key.origin.span);
                }
                remap_where(value, file, f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{MemorySource, render};

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n";

    fn line_of(r: &crate::Render, path: &str) -> (String, u32, u32) {
        let mut node = &r.resources[0].node;
        for part in path.split('/') {
            node = match part.parse::<usize>() {
                Ok(i) => &node.as_seq().expect("present")[i],
                Err(_) => node.get(part).expect("present"),
            };
        }
        (r.path(node.origin.file).to_owned(), node.origin.span.start.line, node.origin.span.start.column)
    }

    #[test]
    fn inline_literal_patches_keep_their_lines_in_the_kustomization() {
        let k = "resources: [d.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/template/spec/containers/0/securityContext\n      value:\n        privileged: true\n- patch: |\n\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec:\n      replicas: 3\n";
        let files = MemorySource::new([
            ("k/kustomization.yaml".to_owned(), k.to_owned()),
            ("k/d.yaml".to_owned(), DEPLOYMENT.to_owned()),
        ]);
        let r = render(&files, "k").expect("present");
        let at = |p: &str| line_of(&r, p);
        assert_eq!(
            at("spec/template/spec/containers/0/securityContext/privileged"),
            ("k/kustomization.yaml".into(), 8, 21)
        );
        assert_eq!(at("spec/replicas"), ("k/kustomization.yaml".into(), 15, 17));
        assert_eq!(at("spec/template/spec/containers/0/image"), ("k/d.yaml".into(), 10, 16));
        // The byte offset agrees with the line and column.
        let node = r.resources[0].node.at("spec/replicas").expect("present");
        assert_eq!(&k[node.origin.span.start.byte()..][..1], "3");
    }

    #[test]
    fn other_inline_styles_point_at_the_string() {
        let k = "resources: [d.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: '[{\"op\": \"replace\", \"path\": \"/spec/template/spec/containers/0/image\", \"value\": \"nginx:latest\"}]'\n";
        let files = MemorySource::new([
            ("k/kustomization.yaml".to_owned(), k.to_owned()),
            ("k/d.yaml".to_owned(), DEPLOYMENT.to_owned()),
        ]);
        let r = render(&files, "k").expect("present");
        assert_eq!(line_of(&r, "spec/template/spec/containers/0/image"), ("k/kustomization.yaml".into(), 4, 10));
    }

    #[test]
    fn values_point_at_the_patch_file_the_images_entry_and_the_generator_literal() {
        let k = "resources: [d.yaml]\npatches:\n- path: more.yaml\nimages:\n- name: nginx\n  newTag: 1.27.3\nconfigMapGenerator:\n- name: settings\n  literals:\n  - MODE=fast\n  - LEVEL=3\n";
        let patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        securityContext:\n          privileged: true\n";
        let files = MemorySource::new([
            ("k/kustomization.yaml".to_owned(), k.to_owned()),
            ("k/d.yaml".to_owned(), DEPLOYMENT.to_owned()),
            ("k/more.yaml".to_owned(), patch.to_owned()),
        ]);
        let r = render(&files, "k").expect("renders");
        let find = |kind: &str, path: &str| {
            let object = r.resources.iter().find(|x| x.kind() == kind).expect("object");
            let mut node = &object.node;
            for part in path.split('/') {
                node = match part.parse::<usize>() {
                    Ok(i) => &node.as_seq().expect("a list")[i],
                    Err(_) => node.get(part).expect("a field"),
                };
            }
            (r.path(node.origin.file).to_owned(), node.origin.span.start.line)
        };
        // A strategic merge patch file's line.
        let privileged = find("Deployment", "spec/template/spec/containers/0/securityContext/privileged");
        assert_eq!(privileged, ("k/more.yaml".into(), 11));
        // The image a `newTag` rewrote: the `newTag` line.
        assert_eq!(find("Deployment", "spec/template/spec/containers/0/image"), ("k/kustomization.yaml".into(), 6));
        // A value from the base: the base line (a patch names the object,
        // but never renames it).
        assert_eq!(find("Deployment", "metadata/name"), ("k/d.yaml".into(), 4));
        // A generated value: its literal.
        assert_eq!(find("ConfigMap", "data/LEVEL"), ("k/kustomization.yaml".into(), 11));
    }
}
