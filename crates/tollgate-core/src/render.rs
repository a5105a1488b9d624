//! Rendered objects: what production runs, judged by every rule and engine,
//! with each finding moved back to the line that produced the value.
//!
//! A renderer (Kustomize, in the `tollgate-kustomize` crate) turns each root
//! of the repository into a stream of objects. Each stream is kept as a
//! virtual [`SourceFile`] (its text is the rendered YAML, parsed like any
//! file), so every rule and engine judges it unchanged; an [`OriginMap`]
//! knows, for each node of that text, the file and span that produced its
//! value. Once the rules have run, [`translate`] moves each finding from the
//! rendered text to that origin, and findings that land on the same origin
//! from several renders become one finding naming the renders.
//!
//! Files a render read as objects or patches are then judged only through
//! their renders: a patch fragment is never judged as a whole object.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use tollgate_yaml::{Position, Span};

use crate::finding::{Finding, Location, normalize_content};
use crate::model::{RepositoryModel, SourceFile};

/// Where a value of a rendered text was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Repository-relative path of the file.
    pub path: String,
    /// The span in that file.
    pub span: Span,
}

/// A position of a node of a rendered document. A render keeps no text, and
/// every node carries its own origin in its span: `offset` is where the
/// node is in the printed stream (so spans nest and order as in a parsed
/// file), `line` is one more than the index of the file that wrote the
/// value in [`Rendered::files`] (0 when unknown), and `column` the byte
/// offset in that file where the value starts (in a span's `start`) or
/// ends (in its `end`). Keeping the origin in the node costs nothing more
/// than the node; a separate table of every node's origin cost a fifth of
/// a large repository's memory.
///
/// ```
/// use tollgate_core::origin_position;
/// let start = origin_position(Some(2), 40, 7);
/// assert_eq!((start.line, start.column, start.offset), (3, 40, 7));
/// assert_eq!(origin_position(None, 40, 7).line, 0);
/// ```
pub fn origin_position(file: Option<u32>, origin_offset: u32, rendered_offset: u32) -> Position {
    Position { line: file.map_or(0, |f| f.saturating_add(1)), column: origin_offset, offset: rendered_offset }
}

/// One node's origin, read back from its span: `[offset in the stream, file
/// index + 1, start, end in that file]`.
type Entry = [u32; 4];

/// The origins of a rendered document's nodes, in the order they were
/// written (keys before their values, containers before their items).
fn entries(node: &tollgate_yaml::Node, out: &mut Vec<Entry>) {
    let span = node.span;
    out.push([span.start.offset, span.start.line, span.start.column, span.end.column.max(span.start.column)]);
    match &node.value {
        tollgate_yaml::Value::Scalar(_) => {}
        tollgate_yaml::Value::Sequence(items) => items.iter().for_each(|n| entries(n, out)),
        tollgate_yaml::Value::Mapping(m) => {
            for (k, v) in &m.entries {
                entries(k, out);
                entries(v, out);
            }
        }
    }
}

/// Where a span of a rendered document was written; `position(path,
/// offset)` gives the line and column of an offset of a file. A span that
/// starts at a key (`key: value`) is where its value was written when the
/// value came from another file (a patch, an overlay's `images:`), else the
/// key through the end of the value; any other span is its node's (the
/// first entry's, for a whole mapping).
fn origin_in(
    entries: &[Entry],
    files: &[String],
    span: Span,
    position: &dyn Fn(&str, u32) -> Position,
) -> Option<Origin> {
    let after = entries.partition_point(|e| e[0] <= span.start.offset);
    let start = entries.get(after.checked_sub(1)?)?;
    let value = entries.get(after).filter(|v| v[0] < span.end.offset && v[0] > start[0]);
    let (file, from, to) = match value {
        Some(v) if v[1] != start[1] => (v[1], v[2], v[3]),
        Some(v) if v[3] > start[2] && v[2] >= start[2] => (start[1], start[2], v[3]),
        _ => (start[1], start[2], start[3]),
    };
    let path = files.get(file.checked_sub(1)? as usize)?;
    let span = Span { start: position(path, from), end: position(path, to) };
    Some(Origin { path: path.clone(), span })
}

/// One rendered root.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The root as users name it (the overlay directory).
    pub root: String,
    /// The root's kustomization file.
    pub kustomization: String,
    /// The rendered stream as a file of the model: its path is
    /// `render:<root>` (never a real path), its documents the rendered
    /// objects (their spans hold their origins, see [`origin_position`]),
    /// its environment the root's; it keeps no text.
    pub file: SourceFile,
    /// The files that wrote the render's values, by the index its spans
    /// name.
    pub files: Vec<String>,
}

/// What a renderer produced for a repository.
#[derive(Debug, Clone, Default)]
pub struct Renders {
    /// The rendered roots.
    pub rendered: Vec<Rendered>,
    /// Files judged through renders: resources and patches a render read.
    /// Their objects are not judged as whole objects on their own.
    pub consumed: HashSet<String>,
    /// Roots that could not be rendered (reported as `parse-error`; their
    /// files are judged one by one, as without rendering).
    pub problems: Vec<RenderProblem>,
}

/// A root that could not be rendered, or a render's warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderProblem {
    /// The file the problem is in.
    pub path: String,
    /// Where.
    pub span: Span,
    /// What, and how to fix it.
    pub message: String,
    /// The severity: an error kustomize itself would refuse, a warning for
    /// what tollgate does not render offline and for suspicious renders.
    pub severity: crate::Severity,
}

/// Renders the roots of a repository (Kustomize overlays, ...).
pub trait Renderer: Send + Sync + std::fmt::Debug {
    /// Renders every root of the model.
    fn render(&self, model: &RepositoryModel, config: &crate::Config) -> Renders;
}

/// The path prefix of rendered streams.
pub const RENDER_PREFIX: &str = "render:";

/// Moves findings on rendered streams to the lines that produced the values,
/// and joins findings that land on one origin from several renders (or on a
/// line a finding on the file itself already names) into one, naming the
/// renders, with the highest severity among them.
pub fn translate(mut findings: Vec<Finding>, model: &RepositoryModel) -> Vec<Finding> {
    if model.renders().rendered.is_empty() {
        return findings;
    }
    let by_path: HashMap<&str, &Rendered> =
        model.renders().rendered.iter().map(|r| (r.file.path.as_str(), r)).collect();
    // In place and in parallel: a large run holds a hundred thousand
    // findings here, most of them on renders, merged below into a few per
    // origin. Copies of that list were the peak memory of a check with the
    // Kyverno library; the worker threads that made the findings also have
    // the memory their evaluations freed, which the new locations reuse.
    // The render each finding is on, looked up once.
    let on_render: Vec<Option<&Rendered>> =
        findings.iter().map(|f| by_path.get(f.location.path.as_str()).copied()).collect();
    findings.par_iter_mut().zip(on_render.par_iter()).filter_map(|(f, r)| Some((f, (*r)?))).for_each_init(
        Origins::default,
        |origins, (f, render)| {
            for related in &mut f.related {
                if let Some(&r) = by_path.get(related.location.path.as_str()) {
                    origins.move_location(&mut related.location, r, model);
                }
            }
            // Masked values (a secret's) are masked where they were written.
            let masked = std::mem::take(&mut f.masked);
            origins.move_location(&mut f.location, render, model);
            f.masked = masked
                .into_iter()
                .filter_map(|span| origins.origin(render, span, model))
                .filter(|o| o.path == f.location.path)
                .map(|o| o.span)
                .collect();
            let file = model.file(&f.location.path);
            let content = file.map_or_else(String::new, |file| normalize_content(f.location.span.text(&file.text)));
            let identity = file
                .zip(f.location.document)
                .and_then(|(file, d)| file.resources.get(d).cloned().flatten())
                .map_or_else(|| format!("#{}", f.location.document.unwrap_or(0)), |r| r.display_name());
            f.fingerprint = Finding::fingerprint_of(&[&f.rule_id, &f.location.path, &identity, &content]);
            f.renders = vec![render.root.clone()];
        },
    );
    // One finding per origin: the most severe, naming every render. A
    // finding the file itself produced on the same line (a Kustomize
    // `images:` entry judged as written) takes the renders' names instead.
    // Which kept finding each moved one merges into, planned on borrowed
    // keys, then applied.
    let mut plan: Vec<Option<MergeInto>> = Vec::with_capacity(findings.len());
    {
        let mut on_file: HashMap<(&str, &str, u32), usize> = HashMap::new();
        for (i, f) in findings.iter().enumerate().filter(|(i, _)| on_render[*i].is_none()) {
            on_file.entry((f.rule_id.as_str(), f.location.path.as_str(), f.location.span.start.line)).or_insert(i);
        }
        let mut on_origin: HashMap<(&str, &str, u32), usize> = HashMap::new();
        for (j, f) in findings.iter().enumerate() {
            if on_render[j].is_none() {
                plan.push(None);
                continue;
            }
            let (rule, path) = (f.rule_id.as_str(), f.location.path.as_str());
            let exact = (rule, path, f.location.span.start.offset);
            if let Some(&i) = on_origin.get(&exact) {
                plan.push(Some(MergeInto::Origin(i)));
            } else if let Some(&i) = on_file.get(&(rule, path, f.location.span.start.line)) {
                plan.push(Some(MergeInto::Line(i)));
            } else {
                on_origin.insert(exact, j);
                plan.push(None);
            }
        }
    }
    for (j, into) in plan.iter().enumerate() {
        match *into {
            None => {}
            Some(MergeInto::Origin(i)) => {
                let mut renders = std::mem::take(&mut findings[i].renders);
                let more = std::mem::take(&mut findings[j].renders);
                if findings[j].severity > findings[i].severity {
                    // The more severe one takes the kept place.
                    findings.swap(i, j);
                }
                for r in more {
                    if !renders.contains(&r) {
                        renders.push(r);
                    }
                }
                findings[i].renders = renders;
            }
            Some(MergeInto::Line(i)) => {
                let (severity, more) = (findings[j].severity, std::mem::take(&mut findings[j].renders));
                let kept = &mut findings[i];
                kept.severity = kept.severity.max(severity);
                for r in more {
                    if !kept.renders.contains(&r) {
                        kept.renders.push(r);
                    }
                }
            }
        }
    }
    let mut index = 0;
    findings.retain(|_| {
        index += 1;
        plan[index - 1].is_none()
    });
    findings.par_iter_mut().for_each(|f| {
        if !f.renders.is_empty() {
            f.renders.sort();
            let shown: Vec<&str> = f.renders.iter().take(5).map(String::as_str).collect();
            let more = f.renders.len().saturating_sub(shown.len());
            f.message = format!(
                "{} (rendered by {}{})",
                f.message.trim_end(),
                shown.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
    });
    findings
}

/// Where a finding moved to its origin merges: into the one already at that
/// exact place, or into the file's own finding on that line.
enum MergeInto {
    Origin(usize),
    Line(usize),
}

/// The origins of the documents of the renders findings land on, read once
/// per document while its findings are moved. Bounded: findings come
/// document by document, and holding every rendered document's entries (a
/// policy set finds something in nearly all of them) cost a large run as
/// much memory as its findings.
const ORIGIN_DOCUMENTS: usize = 256;

#[derive(Default)]
struct Origins<'m> {
    by_document: HashMap<(&'m str, usize), Vec<Entry>>,
}

impl<'m> Origins<'m> {
    /// Where a span of a rendered stream was written.
    fn origin(&mut self, render: &'m Rendered, span: Span, model: &RepositoryModel) -> Option<Origin> {
        let documents = &render.file.documents;
        let index = documents.partition_point(|d| d.root.span.start.offset <= span.start.offset).checked_sub(1)?;
        if self.by_document.len() >= ORIGIN_DOCUMENTS
            && !self.by_document.contains_key(&(render.file.path.as_str(), index))
        {
            self.by_document.clear();
        }
        let entries = self.by_document.entry((render.file.path.as_str(), index)).or_insert_with(|| {
            let mut out = Vec::with_capacity(documents[index].nodes);
            entries(&documents[index].root, &mut out);
            out
        });
        let position = |path: &str, offset: u32| {
            model.file(path).map_or(Position { line: 1, column: 1, offset: 0 }, |f| f.position_at(offset))
        };
        origin_in(entries, &render.files, span, &position)
    }

    /// Moves a location on a rendered stream to its origin.
    fn move_location(&mut self, location: &mut Location, render: &'m Rendered, model: &RepositoryModel) {
        let Some(origin) = self.origin(render, location.span, model) else {
            // A node with no recorded origin: the root's kustomization.
            location.path.clone_from(&render.kustomization);
            let start = Position { line: 1, column: 1, offset: 0 };
            location.span = Span { start, end: Position { column: 2, offset: 1, ..start } };
            location.document = None;
            return;
        };
        location.document = model.file(&origin.path).and_then(|file| {
            file.documents
                .iter()
                .rev()
                .find(|d| d.root.span.start.offset <= origin.span.start.offset)
                .or_else(|| file.documents.first())
                .map(|d| d.index)
        });
        location.path = origin.path;
        location.span = origin.span;
    }
}
