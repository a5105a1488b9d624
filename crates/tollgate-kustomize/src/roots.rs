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
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use tollgate_core::{
    Config, FileKind, Position, RENDER_PREFIX, RenderProblem, Rendered, Renderer, Renders, RepositoryModel, Severity,
    SourceFile, Span,
};
use tollgate_yaml::Node;

use crate::source::{DiskSource, FileSource, PathKind, SourceError};

/// Renders every Kustomize root of a repository (the renderer `tollgate
/// check` uses).
#[derive(Debug, Clone, Default)]
pub struct KustomizeRenderer {
    /// Directories to render besides the roots found (repository-relative).
    pub extra_roots: Vec<String>,
    /// Renders of another revision of the repository that roots the change
    /// does not touch take instead of rendering again (a range check renders
    /// the base commit after the head).
    pub reuse: Option<std::sync::Arc<Reuse>>,
    /// Files a render may read that are not in the model (a generator's
    /// `.env` or `.properties`), by repository path: a revision read from git
    /// objects supplies them here, since its files are not on the disk.
    pub files: Option<std::sync::Arc<HashMap<String, String>>>,
}

/// The renders of another revision, and the paths that differ from it: a
/// root none of whose inputs differ renders the same, so its render is
/// taken as it is (with the environment this revision gives it). The
/// renders are shared, not copied: only a root that is taken is cloned.
#[derive(Debug, Clone, Default)]
pub struct Reuse {
    previous: std::sync::Arc<Renders>,
    by_root: HashMap<String, usize>,
    changed: HashSet<String>,
}

impl Reuse {
    /// `previous`, the other revision's renders, and the paths added,
    /// removed or changed between the two revisions.
    ///
    /// ```
    /// use tollgate_kustomize::Reuse;
    /// let reuse = Reuse::new(Default::default(), ["apps/a/base/d.yaml".to_owned()].into());
    /// assert!(reuse.unchanged("apps/a/overlays/prod", "apps/a/overlays/prod").is_none());
    /// ```
    pub fn new(previous: std::sync::Arc<Renders>, changed: HashSet<String>) -> Reuse {
        let by_root = previous.rendered.iter().enumerate().map(|(i, r)| (r.root.clone(), i)).collect();
        Reuse { previous, by_root, changed }
    }

    /// The other revision's render of root `name` (directory `dir`) when no
    /// changed path can alter it: none of its input files, and no file in a
    /// directory it read from or under its own directory (a file added to
    /// or removed from a listed directory changes a render without being
    /// one of the other revision's inputs).
    pub fn unchanged(&self, name: &str, dir: &str) -> Option<&Rendered> {
        let previous = &self.previous.rendered[*self.by_root.get(name)?];
        if dir.is_empty() && !self.changed.is_empty() {
            return None;
        }
        let dirs: HashSet<&str> = previous.files.iter().map(|f| parent(f)).collect();
        let under = format!("{dir}/");
        let touched = self.changed.iter().any(|p| {
            previous.files.contains(p)
                || *p == previous.kustomization
                || dirs.contains(parent(p))
                || p.starts_with(&under)
        });
        (!touched).then_some(previous)
    }

    /// The files the other revision's render `previous` consumed (its
    /// resources and patches, not the Application or variables it read).
    fn consumed_by(&self, previous: &Rendered) -> Vec<String> {
        previous.files.iter().filter(|p| self.previous.consumed.contains(*p)).cloned().collect()
    }
}

impl Renderer for KustomizeRenderer {
    fn render(&self, model: &RepositoryModel, config: &Config) -> Renders {
        let has_kustomization = |dir: &str| model.file(&kustomization_of(model, dir)).is_some();
        let mut roots = roots(model, &self.extra_roots);
        // Directories Argo CD Applications deploy are roots too, in the most
        // protected environment of their Applications.
        let mut notes: Vec<RenderProblem> = Vec::new();
        let deployed = argo_roots(model, &mut notes);
        let mut environments: HashMap<String, Option<usize>> = HashMap::new();
        let mut overlays: Vec<(crate::argo::Overlay, String, Option<usize>)> = Vec::new();
        let mut deployed_plain: HashSet<&str> = HashSet::new();
        for d in &deployed {
            // Overrides: Argo CD deploys the path with them, in an overlay.
            if let Some(kustomize) = &d.overrides {
                let read = |path: &str| model.file(path).map(|f| f.text.clone());
                let overlay = crate::argo::overlay(&d.application, &d.name, &d.dir, kustomize, &read);
                let name = format!("{} (Argo CD {})", display(&d.dir), d.application);
                overlays.push((overlay, name, d.environment));
                continue;
            }
            deployed_plain.insert(&d.dir);
            if !roots.contains(&d.dir) {
                roots.push(d.dir.clone());
            }
            let env = environments.entry(d.dir.clone()).or_insert(None);
            *env = more_protected(model, *env, d.environment);
        }
        // A path deployed only with overrides is not deployed as it is.
        for (overlay, _, _) in &overlays {
            let dir = overlay.dir.rsplitn(3, '/').nth(2).unwrap_or_default().to_owned();
            let dir = if overlay.dir.starts_with(".tollgate-argocd/") { String::new() } else { dir };
            if !deployed_plain.contains(dir.as_str()) {
                roots.retain(|r| *r != dir);
            }
        }
        // A directory a Flux `Kustomization` builds is rendered once per
        // Flux object, with its substitutions, and not on its own.
        let flux = crate::flux::flux_roots(model, &has_kustomization);
        let mut virtual_files = HashMap::new();
        for (overlay, _, _) in &overlays {
            virtual_files.insert(overlay.path.clone(), overlay.text.clone());
        }
        for f in &flux {
            roots.retain(|r| *r != f.dir);
            if let Some(text) = &f.generated {
                virtual_files.insert(kustomization_of(model, &f.dir), text.clone());
            }
            for (what, span) in &f.missing {
                notes.push(RenderProblem {
                    path: f.file.clone(),
                    span: *span,
                    message: format!(
                        "Flux `Kustomization` `{}` substitutes variables from {what}, which is not in the repository: `{}` is judged without them",
                        f.name,
                        if f.dir.is_empty() { "." } else { &f.dir }
                    ),
                    severity: Severity::Warning,
                });
            }
        }
        if let Some(files) = &self.files {
            for (path, text) in files.iter() {
                virtual_files.entry(path.clone()).or_insert_with(|| text.clone());
            }
        }
        let source = ModelSource::new(model, config.max_file_size, virtual_files);
        let mut jobs: Vec<Job<'_>> =
            roots.into_iter().map(|dir| Job { dir: dir.clone(), name: dir, flux: None, argo: None }).collect();
        jobs.extend(flux.iter().map(|f| Job {
            dir: f.dir.clone(),
            name: format!("{} (Flux {})", display(&f.dir), f.file),
            flux: Some(f),
            argo: None,
        }));
        jobs.extend(overlays.iter().map(|(o, name, env)| Job {
            dir: o.dir.clone(),
            name: name.clone(),
            flux: None,
            argo: Some((o, *env)),
        }));
        // Each root is rendered and turned into a judged file in parallel;
        // its render tree is dropped as soon as it is converted.
        // The run's node budget bounds the renders too: a change that adds
        // thousands of roots over one large base ends with a finding, not
        // with the memory of the machine.
        let spent = AtomicU64::new(0);
        let results: Vec<(String, Result<Outcome, Failure>)> = jobs
            .into_par_iter()
            .map(|Job { dir, name, flux, argo }| {
                if spent.load(Ordering::Relaxed) > config.max_nodes {
                    return (dir, Err(Failure::OverBudget));
                }
                // The environment the root's deployers give it (Argo CD
                // Applications, the Flux object), on top of its own path's.
                let mut environment = environments.get(&dir).copied().flatten();
                if let Some((_, env)) = argo {
                    environment = more_protected(model, environment, env);
                }
                if let Some(f) = flux {
                    environment = more_protected(model, environment, model.file(&f.file).and_then(|x| x.environment));
                }
                let outcome = |mut file: Rendered, consumed: Vec<String>, warnings: Vec<crate::RenderError>| {
                    file.file.environment = more_protected(model, file.file.environment, environment);
                    let nodes: usize = file.file.documents.iter().map(|d| d.nodes).sum();
                    spent.fetch_add(u64::try_from(nodes).unwrap_or(u64::MAX), Ordering::Relaxed);
                    Outcome { file, consumed, warnings }
                };
                // A root the change does not touch renders as it did: take it,
                // with the environment this revision gives it.
                if let Some(reuse) = &self.reuse
                    && let Some(previous) = reuse.unchanged(display(&name), &dir)
                {
                    let mut file = previous.clone();
                    file.file.environment = model.file(&file.kustomization).and_then(|k| k.environment);
                    return (dir, Ok(outcome(file, reuse.consumed_by(previous), Vec::new())));
                }
                let edits = argo.map_or(&[][..], |(o, _)| o.edits.as_slice());
                let result = crate::build::render_edited(&source, &dir, edits).map_err(|mut e| {
                    // An error in the overlay is an error in the Application.
                    if let Some((o, _)) = argo
                        && e.path == o.path
                    {
                        e.path.clone_from(&o.application);
                        let at = o.line_span(e.line);
                        (e.line, e.column) = (at.start.line, at.start.column);
                    }
                    e
                });
                let result = result.map(|mut render| {
                    let kustomization = render.files.first().cloned().unwrap_or_default();
                    // What the render consumed: its resources and patches. The
                    // Application whose overrides made an overlay is read, not
                    // consumed: it is still judged as the object it is.
                    let consumed: Vec<String> = render
                        .files
                        .iter()
                        .filter(|p| !is_kustomization(p) && argo.is_none_or(|(o, _)| **p != o.application))
                        .cloned()
                        .collect();
                    if let Some((o, _)) = argo {
                        let overlay = render.file_id(&o.path);
                        let application = render.file_id(&o.application);
                        for r in &mut render.resources {
                            o.remap(&mut r.node, overlay, application);
                        }
                    }
                    if let Some(f) = flux {
                        let vars = crate::flux::var_origins(&f.vars, &mut |path| render.file_id(path));
                        for r in render.resources.iter_mut().filter(|r| !crate::flux::substitution_disabled(&r.node)) {
                            crate::flux::substitute(&mut r.node, &vars);
                        }
                    }
                    let file = rendered(model, &name, kustomization, &render);
                    outcome(file, consumed, render.warnings)
                });
                (dir, result.map_err(Failure::Render))
            })
            .collect();
        let mut renders = Renders::default();
        renders.problems.extend(notes);
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
                Err(Failure::OverBudget) => {
                    let message = format!(
                        "`{shown}` is not rendered: the run's budget of {} YAML nodes is spent on other renders. Its files are judged one by one, as written; raise `limits.max_nodes` to judge what it deploys",
                        config.max_nodes
                    );
                    let path = kustomization_of(model, &dir);
                    renders.problems.push(RenderProblem {
                        span: span_of(model, &path, 1, 1),
                        path,
                        message,
                        severity: Severity::Error,
                    });
                }
                Err(Failure::Render(e)) if e.unsupported => {
                    let message = format!(
                        "`{shown}` is not rendered: {}. Its files are judged one by one, as written; what the cluster runs may differ",
                        e.message
                    );
                    problem(&mut renders, &e, Severity::Warning, message);
                }
                Err(Failure::Render(e)) => {
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

/// Why a root has no render.
enum Failure {
    /// The render failed.
    Render(crate::RenderError),
    /// The run's node budget was spent before it started.
    OverBudget,
}

/// The kustomization file of a directory, as the model holds it.
fn kustomization_of(model: &RepositoryModel, dir: &str) -> String {
    crate::KUSTOMIZATION_FILE_NAMES
        .iter()
        .map(|n| if dir.is_empty() { (*n).to_owned() } else { format!("{dir}/{n}") })
        .find(|p| model.file(p).is_some())
        .unwrap_or_else(|| {
            if dir.is_empty() { "kustomization.yaml".to_owned() } else { format!("{dir}/kustomization.yaml") }
        })
}

/// One root to render: its directory, the name findings give it, and the
/// Flux object or Argo CD overrides it is built with.
struct Job<'a> {
    dir: String,
    name: String,
    flux: Option<&'a crate::flux::FluxRoot>,
    argo: Option<(&'a crate::argo::Overlay, Option<usize>)>,
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

/// A directory as users read it (`.` for the root).
fn display(dir: &str) -> &str {
    if dir.is_empty() { "." } else { dir }
}

/// A directory an Argo CD Application deploys.
struct Deployed {
    dir: String,
    /// The environment of the Application: its file's, its destination's
    /// or its project's, the most protected.
    environment: Option<usize>,
    /// The Application's file.
    application: String,
    /// The Application's name.
    name: String,
    /// Its `source.kustomize` overrides, if it has any.
    overrides: Option<Node>,
}

/// The directories of this repository that Argo CD Applications deploy
/// (`spec.source.path`, `spec.sources[].path`) and that hold a
/// kustomization, with the Applications that ApplicationSets generate
/// offline; Helm chart sources are left out. An ApplicationSet whose
/// generators need a cluster is a note in `notes`.
fn argo_roots(model: &RepositoryModel, notes: &mut Vec<RenderProblem>) -> Vec<Deployed> {
    let mut out = Vec::new();
    // The repository as ApplicationSet generators read it, listed once.
    let mut listed: Option<(Vec<&str>, Vec<&str>)> = None;
    let read = |path: &str| -> Option<Vec<Node>> {
        let file = model.file(path)?;
        Some(file.documents.iter().filter(|d| !d.root.is_null()).map(|d| d.root.clone()).collect())
    };
    for (file, doc, r) in model.objects() {
        if r.group() != "argoproj.io" {
            continue;
        }
        match r.kind.as_str() {
            "Application" => {
                if let Some(spec) = doc.root.get_key("spec") {
                    deployed_by(model, file, &r.name, spec, &mut out);
                }
            }
            "ApplicationSet" => {
                let (dirs, files) = listed.get_or_insert_with(|| {
                    let files: Vec<&str> = model.files.iter().map(|f| f.path.as_str()).collect();
                    let all = files.iter().copied().chain(model.other_paths.iter().map(String::as_str));
                    (parent_dirs(all).into_iter().collect(), files)
                });
                let repo = crate::appset::Repo { dirs, files, read: &read };
                match crate::appset::expand(&doc.root, &repo) {
                    crate::appset::Expansion::Applications(apps) => {
                        for app in apps {
                            deployed_by(model, file, &app.name, &app.spec, &mut out);
                        }
                    }
                    crate::appset::Expansion::Live(generator, span) => notes.push(RenderProblem {
                        path: file.path.clone(),
                        span,
                        message: format!(
                            "ApplicationSet `{}`: its `{generator}` generator needs a cluster's data, so tollgate cannot tell which paths it deploys where; they are judged as plain roots, without its destinations' environments",
                            r.name
                        ),
                        severity: Severity::Note,
                    }),
                }
            }
            _ => {}
        }
    }
    out
}

/// Every directory that holds one of `paths` (the root left out), sorted.
fn parent_dirs<'p>(paths: impl IntoIterator<Item = &'p str>) -> BTreeSet<&'p str> {
    let mut dirs = BTreeSet::new();
    for path in paths {
        let mut at = path;
        while let Some((dir, _)) = at.rsplit_once('/') {
            if !dirs.insert(dir) {
                break;
            }
            at = dir;
        }
    }
    dirs
}

/// The directories an Application `spec` deploys, in the most protected of
/// its file's, destination's and project's environments.
fn deployed_by(model: &RepositoryModel, file: &SourceFile, name: &str, spec: &Node, out: &mut Vec<Deployed>) {
    let word_env = |text: Option<&str>| text.and_then(|t| model.environments.index_for(&format!("{t}/x")));
    let destination = spec.get_key("destination");
    let mut environment = file.environment;
    for text in [
        destination.and_then(|d| d.get_key("namespace")).and_then(Node::as_str),
        destination.and_then(|d| d.get_key("name")).and_then(Node::as_str),
        spec.get_key("project").and_then(Node::as_str),
    ] {
        environment = more_protected(model, environment, word_env(text));
    }
    let sources = spec
        .get_key("source")
        .into_iter()
        .chain(spec.get_key("sources").and_then(Node::as_sequence).unwrap_or_default());
    for source in sources {
        if source.get_key("chart").is_some() {
            continue;
        }
        let Some(path) = source.get_key("path").and_then(Node::as_str) else { continue };
        let Some(dir) = crate::source::join("", path) else { continue };
        if model.file(&kustomization_of(model, &dir)).is_none() {
            continue;
        }
        let overrides =
            source.get_key("kustomize").filter(|k| k.as_mapping().is_some_and(|m| !m.entries.is_empty())).cloned();
        out.push(Deployed { dir, environment, application: file.path.clone(), name: name.to_owned(), overrides });
    }
}

/// The more protected of two environments (the first when equal).
fn more_protected(model: &RepositoryModel, a: Option<usize>, b: Option<usize>) -> Option<usize> {
    let rank =
        |e: Option<usize>| e.and_then(|i| model.environments.get(i)).map_or(0, |env| if env.protected { 2 } else { 1 });
    if rank(b) > rank(a) { b } else { a }
}

/// A successful render as a file of the model, with its origins: its text
/// and documents are written together, never parsed back.
fn rendered(model: &RepositoryModel, name: &str, kustomization: String, render: &crate::Render) -> Rendered {
    // The text is dropped once written: each node's span holds its origin,
    // and findings move there.
    let (_, documents) = render.emit();
    let path = format!("{RENDER_PREFIX}{}", display(name));
    let mut file = SourceFile::rendered(path, documents);
    file.environment = model.file(&kustomization).and_then(|k| k.environment);
    Rendered { root: display(name).to_owned(), kustomization, file, files: render.files.clone() }
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
    /// Kustomizations Flux generates for directories without one.
    virtual_files: HashMap<String, String>,
}

impl<'a> ModelSource<'a> {
    fn new(model: &'a RepositoryModel, max_file_size: u64, virtual_files: HashMap<String, String>) -> ModelSource<'a> {
        let files: HashMap<&str, &SourceFile> = model.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let others: HashSet<&str> = model.other_paths.iter().map(String::as_str).collect();
        // The directories of the files, the in-memory kustomizations' too.
        let paths = files.keys().copied().chain(others.iter().copied()).chain(virtual_files.keys().map(String::as_str));
        let mut dirs: HashSet<String> = parent_dirs(paths).into_iter().map(str::to_owned).collect();
        dirs.insert(String::new());
        let disk = DiskSource::new(Path::new(&model.root), max_file_size).ok();
        ModelSource { model, files, dirs, others, disk, virtual_files }
    }
}

impl FileSource for ModelSource<'_> {
    fn kind(&self, path: &str) -> PathKind {
        if self.files.contains_key(path) || self.others.contains(path) || self.virtual_files.contains_key(path) {
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

    fn read(&self, path: &str) -> Result<String, SourceError> {
        if let Some(text) = self.virtual_files.get(path) {
            return Ok(text.clone());
        }
        if let Some(file) = self.files.get(path) {
            return match &file.problem {
                Some(p) if file.text.is_empty() => Err(SourceError::Unreadable(p.message.clone())),
                _ => Ok(file.text.clone()),
            };
        }
        match &self.disk {
            Some(d) => d.read(path),
            None => Err(SourceError::Unreadable(format!("is not readable under `{}`", self.model.root.display()))),
        }
    }

    fn parsed(&self, path: &str) -> Option<&[tollgate_yaml::Document]> {
        let file = self.files.get(path)?;
        (file.problem.is_none() && file.kind.syntax(path) != tollgate_core::Syntax::Text)
            .then_some(file.documents.as_slice())
    }
}
