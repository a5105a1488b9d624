//! The render graph of a repository: which kustomizations are roots, their
//! renders as files every rule and engine judges, and where each rendered
//! value was written.
//!
//! A root is a kustomization no other kustomization includes (an overlay,
//! or an application that has no overlays), or a directory the
//! configuration names. Each is rendered once, in parallel; the files a
//! render reads are parsed once per render. A root that cannot be rendered
//! is a finding at the line that stops it, and its files are judged one by
//! one, as without rendering.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;
use tollgate_core::{
    Config, FileKind, OriginMap, Position, RENDER_PREFIX, RenderProblem, Rendered, Renderer, Renders, RepositoryModel,
    Severity, SourceFile, Span,
};
use tollgate_yaml::Node;

use crate::source::{DiskSource, FileSource, PathKind};

/// Renders every Kustomize root of a repository (the renderer `tollgate
/// check` uses).
#[derive(Debug, Clone, Default)]
pub struct KustomizeRenderer {
    /// Directories to render besides the roots found (repository-relative).
    pub extra_roots: Vec<String>,
}

impl Renderer for KustomizeRenderer {
    fn render(&self, model: &RepositoryModel, config: &Config) -> Renders {
        let source = ModelSource::new(model, config.max_file_size);
        let roots = roots(model, &self.extra_roots);
        // Each root is rendered and turned into a judged file in parallel;
        // its render tree is dropped as soon as it is converted.
        let results: Vec<(String, Result<Outcome, crate::RenderError>)> = roots
            .into_par_iter()
            .map(|dir| {
                let result = crate::render(&source, &dir).map(|render| {
                    let kustomization = render.files.first().cloned().unwrap_or_default();
                    let consumed: Vec<String> = render.files.iter().filter(|p| !is_kustomization(p)).cloned().collect();
                    let file = rendered(model, &dir, kustomization, &render);
                    Outcome { file, consumed, warnings: render.warnings }
                });
                (dir, result)
            })
            .collect();
        let mut renders = Renders::default();
        let mut seen: HashSet<(String, u32, u32, String)> = HashSet::new();
        let mut problem = |renders: &mut Renders, e: &crate::RenderError, severity: Severity, message: String| {
            if seen.insert((e.path.clone(), e.line, e.column, e.message.clone())) {
                renders.problems.push(RenderProblem {
                    path: e.path.clone(),
                    span: span_of(model, &e.path, e.line, e.column),
                    message,
                    severity,
                });
            }
        };
        for (dir, result) in results {
            let shown = if dir.is_empty() { ".".to_owned() } else { dir.clone() };
            match result {
                Ok(outcome) => {
                    for w in &outcome.warnings {
                        problem(
                            &mut renders,
                            w,
                            Severity::Warning,
                            format!("In the render of `{shown}`: {}", w.message),
                        );
                    }
                    renders.consumed.extend(outcome.consumed);
                    renders.rendered.push(outcome.file);
                }
                Err(e) if e.unsupported => {
                    let message = format!(
                        "`{shown}` is not rendered: {}. Its files are judged one by one, as written; what the cluster runs may differ",
                        e.message
                    );
                    problem(&mut renders, &e, Severity::Warning, message);
                }
                Err(e) => {
                    let message = format!(
                        "`{shown}` cannot be rendered: {}. `kustomize build` fails here too, so this overlay cannot be deployed; its files are judged one by one",
                        e.message
                    );
                    problem(&mut renders, &e, Severity::Error, message);
                }
            }
        }
        renders
    }
}

/// A root rendered and converted.
struct Outcome {
    file: Rendered,
    consumed: Vec<String>,
    warnings: Vec<crate::RenderError>,
}

/// Whether a path names a kustomization file.
fn is_kustomization(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    crate::KUSTOMIZATION_FILE_NAMES.contains(&name)
}

/// The directory of a path (`""` at the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The roots: kustomizations no other kustomization includes, Components
/// left out, and the configured extra roots.
pub fn roots(model: &RepositoryModel, extra: &[String]) -> Vec<String> {
    let mut kustomizations: BTreeSet<String> = BTreeSet::new();
    let mut included: HashSet<String> = HashSet::new();
    let mut components: HashSet<String> = HashSet::new();
    for file in model.files.iter().filter(|f| f.kind == FileKind::Kustomization) {
        let dir = parent(&file.path).to_owned();
        let Some(doc) = file.documents.iter().find(|d| !d.root.is_null()) else {
            kustomizations.insert(dir);
            continue;
        };
        if doc.root.get_key("kind").and_then(Node::as_str) == Some("Component") {
            components.insert(dir.clone());
        }
        for field in ["resources", "bases", "components"] {
            for entry in doc.root.get_key(field).and_then(Node::as_sequence).unwrap_or_default() {
                if let Some(rel) = entry.as_str()
                    && let Some(target) = crate::source::join(&dir, rel)
                {
                    included.insert(target);
                }
            }
        }
        kustomizations.insert(dir);
    }
    let mut roots: Vec<String> =
        kustomizations.into_iter().filter(|d| !included.contains(d) && !components.contains(d)).collect();
    for dir in extra {
        let dir = crate::source::join("", dir).unwrap_or_default();
        if !roots.contains(&dir) {
            roots.push(dir);
        }
    }
    roots
}

/// A successful render as a file of the model, with its origins: its text
/// and documents are written together, never parsed back.
fn rendered(model: &RepositoryModel, dir: &str, kustomization: String, render: &crate::Render) -> Rendered {
    let mut origins = OriginMap::with_files(render.files.clone());
    let (text, documents) =
        render.emit(&mut |offset, origin| origins.insert_indexed(offset, origin.file.0, origin.span));
    let path = format!("{RENDER_PREFIX}{}", if dir.is_empty() { "." } else { dir });
    let mut file = SourceFile::rendered(path, text, documents);
    file.environment = model.file(&kustomization).and_then(|k| k.environment);
    Rendered { root: if dir.is_empty() { ".".to_owned() } else { dir.to_owned() }, kustomization, file, origins }
}

/// The span of a line and column of a model file (offsets included).
fn span_of(model: &RepositoryModel, path: &str, line: u32, column: u32) -> Span {
    let offset = model
        .file(path)
        .and_then(|f| f.line_range(line))
        .map_or(0, |r| u32::try_from(r.start).unwrap_or(0) + column.saturating_sub(1));
    let start = Position { line, column, offset };
    Span { start, end: Position { column: column + 1, offset: offset + 1, ..start } }
}

/// The repository as a render reads it: the model's files (already read,
/// in a range check from the commit judged), other files from disk under
/// the root, never through a link that leaves it.
struct ModelSource<'a> {
    model: &'a RepositoryModel,
    files: HashMap<&'a str, &'a SourceFile>,
    dirs: HashSet<String>,
    others: HashSet<&'a str>,
    disk: Option<DiskSource>,
}

impl<'a> ModelSource<'a> {
    fn new(model: &'a RepositoryModel, max_file_size: u64) -> ModelSource<'a> {
        let files: HashMap<&str, &SourceFile> = model.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let others: HashSet<&str> = model.other_paths.iter().map(String::as_str).collect();
        let mut dirs = HashSet::new();
        dirs.insert(String::new());
        for path in files.keys().copied().chain(others.iter().copied()) {
            let mut p = path;
            while let Some((d, _)) = p.rsplit_once('/') {
                if !dirs.insert(d.to_owned()) {
                    break;
                }
                p = d;
            }
        }
        let disk = DiskSource::new(Path::new(&model.root), max_file_size).ok();
        ModelSource { model, files, dirs, others, disk }
    }
}

impl FileSource for ModelSource<'_> {
    fn kind(&self, path: &str) -> PathKind {
        if self.files.contains_key(path) || self.others.contains(path) {
            return PathKind::File;
        }
        if self.dirs.contains(path) {
            return PathKind::Dir;
        }
        // The model lists every regular file of the tree: a path in a
        // listed directory that it does not name is not there.
        if self.dirs.contains(parent(path)) {
            return PathKind::Missing;
        }
        self.disk.as_ref().map_or(PathKind::Missing, |d| d.kind(path))
    }

    fn read(&self, path: &str) -> Result<String, String> {
        if let Some(file) = self.files.get(path) {
            return match &file.problem {
                Some(p) if file.text.is_empty() => Err(p.message.clone()),
                _ => Ok(file.text.clone()),
            };
        }
        match &self.disk {
            Some(d) => d.read(path),
            None => Err(format!("is not readable under `{}`", self.model.root.display())),
        }
    }

    fn parsed(&self, path: &str) -> Option<&[tollgate_yaml::Document]> {
        let file = self.files.get(path)?;
        (file.problem.is_none() && file.kind.syntax(path) != tollgate_core::Syntax::Text)
            .then_some(file.documents.as_slice())
    }

    fn list(&self, dir: &str) -> Result<Vec<String>, String> {
        match &self.disk {
            Some(d) => d.list(dir),
            None => Err("cannot be listed".to_owned()),
        }
    }
}
