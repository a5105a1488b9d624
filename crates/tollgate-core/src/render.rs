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

/// The origin of every node of a rendered text, by the byte offset the node
/// starts at in that text. Entries are 16 bytes (offsets only: lines and
/// columns are computed for the few nodes a finding lands on), because a
/// repository's renders hold millions of nodes.
#[derive(Debug, Clone, Default)]
pub struct OriginMap {
    files: Vec<String>,
    /// `[offset in the rendered text, file index, start, end in that file]`, sorted.
    starts: Vec<[u32; 4]>,
}

impl OriginMap {
    /// Records that the node starting at `offset` of the rendered text was
    /// written at `span` of `path`.
    ///
    /// ```
    /// use tollgate_core::{OriginMap, Position, Span};
    /// let base = "kind: Deployment\nimage: nginx\n";
    /// let at = |offset: u32| Position { line: 1 + base[..offset as usize].matches('\n').count() as u32, column: 1, offset };
    /// let mut map = OriginMap::default();
    /// map.insert(10, "base/deploy.yaml", Span { start: at(17), end: at(29) });
    /// let origin = map.origin(Span { start: at(10), end: at(12) }, &|_, offset| at(offset)).unwrap();
    /// assert_eq!((origin.path.as_str(), origin.span.start.line), ("base/deploy.yaml", 2));
    /// ```
    pub fn insert(&mut self, offset: u32, path: &str, span: Span) {
        let file = self.files.iter().position(|f| f == path).unwrap_or_else(|| {
            self.files.push(path.to_owned());
            self.files.len() - 1
        });
        self.insert_indexed(offset, u32::try_from(file).unwrap_or(u32::MAX), span);
    }

    /// A map whose files are known up front, by index.
    pub fn with_files(files: Vec<String>) -> OriginMap {
        OriginMap { files, starts: Vec::new() }
    }

    /// [`OriginMap::insert`] with the index of a file given to
    /// [`OriginMap::with_files`].
    pub fn insert_indexed(&mut self, offset: u32, file: u32, span: Span) {
        let entry = [offset, file, span.start.offset, span.end.offset.max(span.start.offset)];
        match self.starts.last() {
            Some(last) if last[0] > offset => {
                let at = self.starts.partition_point(|e| e[0] <= offset);
                self.starts.insert(at, entry);
            }
            _ => self.starts.push(entry),
        }
    }

    /// Where a span of the rendered text was written; `position(path,
    /// offset)` gives the line and column of an offset of a file. A span
    /// that starts at a key (`key: value`) is where its value was written
    /// when the value came from another file (a patch, an overlay's
    /// `images:`), else the key through the end of the value; any other span
    /// is its node's.
    pub fn origin(&self, span: Span, position: &dyn Fn(&str, u32) -> Position) -> Option<Origin> {
        let after = self.starts.partition_point(|e| e[0] <= span.start.offset);
        let index = after.checked_sub(1)?;
        let start = self.starts.get(index)?;
        let value = self.starts.get(index + 1).filter(|v| v[0] < span.end.offset && v[0] > start[0]);
        let (file, from, to) = match value {
            Some(v) if v[1] != start[1] => (v[1], v[2], v[3]),
            Some(v) if v[3] > start[2] && v[2] >= start[2] => (start[1], start[2], v[3]),
            _ => (start[1], start[2], start[3]),
        };
        let path = self.files.get(file as usize)?;
        let span = Span { start: position(path, from), end: position(path, to) };
        Some(Origin { path: path.clone(), span })
    }

    /// How many nodes have an origin.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Frees the growth slack of a finished map.
    pub fn shrink_to_fit(&mut self) {
        self.starts.shrink_to_fit();
        self.files.shrink_to_fit();
    }

    /// Whether no node has an origin.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Every file named.
    pub fn files(&self) -> &[String] {
        &self.files
    }
}

/// One rendered root.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The root as users name it (the overlay directory).
    pub root: String,
    /// The root's kustomization file.
    pub kustomization: String,
    /// The rendered stream as a file of the model: its path is
    /// `render:<root>` (never a real path), its text the rendered YAML, its
    /// environment the root's.
    pub file: SourceFile,
    /// Where each node of the text was written.
    pub origins: OriginMap,
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
pub fn translate(findings: Vec<Finding>, model: &RepositoryModel) -> Vec<Finding> {
    if model.renders().rendered.is_empty() {
        return findings;
    }
    let by_path: HashMap<&str, &Rendered> =
        model.renders().rendered.iter().map(|r| (r.file.path.as_str(), r)).collect();
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut moved: Vec<Finding> = Vec::new();
    for mut f in findings {
        let Some(render) = by_path.get(f.location.path.as_str()) else {
            out.push(f);
            continue;
        };
        for related in &mut f.related {
            if let Some(r) = by_path.get(related.location.path.as_str()) {
                move_location(&mut related.location, r, model);
            }
        }
        move_location(&mut f.location, render, model);
        let file = model.file(&f.location.path);
        let content = file.map_or_else(String::new, |file| normalize_content(f.location.span.text(&file.text)));
        let identity = file
            .zip(f.location.document)
            .and_then(|(file, d)| file.resources.get(d).cloned().flatten())
            .map_or_else(|| format!("#{}", f.location.document.unwrap_or(0)), |r| r.display_name());
        f.fingerprint = Finding::fingerprint_of(&[&f.rule_id, &f.location.path, &identity, &content]);
        f.renders = vec![render.root.clone()];
        moved.push(f);
    }
    // One finding per origin: the most severe, naming every render. A
    // finding the file itself produced on the same line (a Kustomize
    // `images:` entry judged as written) takes the renders' names instead.
    let mut on_file: HashMap<(String, String, u32), usize> = HashMap::new();
    for (i, f) in out.iter().enumerate() {
        on_file.entry((f.rule_id.clone(), f.location.path.clone(), f.location.span.start.line)).or_insert(i);
    }
    let mut on_origin: HashMap<(String, String, u32), usize> = HashMap::new();
    for f in moved {
        let exact = (f.rule_id.clone(), f.location.path.clone(), f.location.span.start.offset);
        if let Some(&i) = on_origin.get(&exact) {
            let kept = &mut out[i];
            let mut renders = std::mem::take(&mut kept.renders);
            if f.severity > kept.severity {
                *kept = f.clone();
            }
            for r in f.renders {
                if !renders.contains(&r) {
                    renders.push(r);
                }
            }
            kept.renders = renders;
            continue;
        }
        if let Some(&i) = on_file.get(&(f.rule_id.clone(), f.location.path.clone(), f.location.span.start.line)) {
            let kept = &mut out[i];
            kept.severity = kept.severity.max(f.severity);
            for r in f.renders {
                if !kept.renders.contains(&r) {
                    kept.renders.push(r);
                }
            }
            continue;
        }
        on_origin.insert(exact, out.len());
        out.push(f);
    }
    for f in &mut out {
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
    }
    out
}

/// Moves a location on a rendered stream to its origin.
fn move_location(location: &mut Location, render: &Rendered, model: &RepositoryModel) {
    let position = |path: &str, offset: u32| {
        model.file(path).map_or(Position { line: 1, column: 1, offset: 0 }, |f| f.position_at(offset))
    };
    let Some(origin) = render.origins.origin(location.span, &position) else {
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
