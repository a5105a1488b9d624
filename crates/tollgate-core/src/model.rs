//! The repository model: every file tollgate reads, classified and parsed once.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tollgate_yaml::{Document, JsonDialect, Limits, Position, Span, parse_json, parse_yaml};

use crate::environment::{Environment, Environments};
use crate::finding::ResourceIdentity;
use crate::suppress::{InlineSuppression, comments_only, parse_inline};

/// What a file is, decided from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// Any other YAML file: Kubernetes manifests, Helm values, Argo/Flux objects.
    Yaml,
    /// Any other JSON file (comments and trailing commas accepted).
    Json,
    /// `kustomization.yaml`, `kustomization.yml` or `Kustomization`.
    Kustomization,
    /// A GitHub Actions workflow under `.github/workflows/`.
    Workflow,
    /// CODEOWNERS in one of the places GitHub reads it.
    Codeowners,
    /// A Renovate configuration.
    Renovate,
    /// `.github/dependabot.yml`.
    Dependabot,
    /// Branch protection kept as code: `.github/settings.yml`, `.github/rulesets/*.json`.
    Settings,
    /// Terraform (`*.tf`), read as text.
    Terraform,
    /// tollgate's own configuration.
    TollgateConfig,
    /// tollgate's trust policy (`.tollgate/signers.yaml`).
    TrustPolicy,
    /// SOPS creation rules (`.sops.yaml`).
    SopsConfig,
    /// An OPA/Rego policy, read as text.
    Rego,
    /// A Helm chart template: Go template text, not YAML, so not parsed.
    HelmTemplate,
}

impl FileKind {
    /// How the file's text is read.
    pub fn syntax(self, path: &str) -> Syntax {
        match self {
            FileKind::Codeowners | FileKind::Terraform | FileKind::Rego | FileKind::HelmTemplate => Syntax::Text,
            FileKind::Json => Syntax::Json(JsonDialect::Jsonc),
            FileKind::Renovate if path.ends_with(".json5") => Syntax::Json(JsonDialect::Json5),
            FileKind::Renovate => Syntax::Json(JsonDialect::Jsonc),
            FileKind::Settings if path.ends_with(".json") => Syntax::Json(JsonDialect::Strict),
            _ => Syntax::Yaml,
        }
    }
}

/// How a file's text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// A YAML stream.
    Yaml,
    /// One JSON value.
    Json(JsonDialect),
    /// Kept as text (other crates parse it).
    Text,
}

const RENOVATE_NAMES: [&str; 9] = [
    "renovate.json",
    "renovate.json5",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
    ".gitlab/renovate.json5",
    ".renovaterc",
    ".renovaterc.json",
    ".renovaterc.json5",
];

/// Classifies a repository-relative path; `None` for files tollgate does not read.
///
/// ```
/// use tollgate_core::{classify, FileKind};
/// assert_eq!(classify(".github/workflows/deploy.yml"), Some(FileKind::Workflow));
/// assert_eq!(classify("apps/web/kustomization.yaml"), Some(FileKind::Kustomization));
/// assert_eq!(classify("README.md"), None);
/// ```
pub fn classify(path: &str) -> Option<FileKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let yaml = matches!(ext.as_deref(), Some("yaml" | "yml"));
    if matches!(path, "CODEOWNERS" | ".github/CODEOWNERS" | "docs/CODEOWNERS") {
        return Some(FileKind::Codeowners);
    }
    if RENOVATE_NAMES.contains(&path) {
        return Some(FileKind::Renovate);
    }
    match ext.as_deref() {
        Some("rego") => return Some(FileKind::Rego),
        Some("tf") => return Some(FileKind::Terraform),
        _ => {}
    }
    if name == "Kustomization" || (yaml && name.starts_with("kustomization.")) {
        return Some(FileKind::Kustomization);
    }
    if yaml {
        if let Some(rest) = path.strip_prefix(".github/workflows/")
            && !rest.contains('/')
        {
            return Some(FileKind::Workflow);
        }
        return Some(match path {
            ".github/dependabot.yml" | ".github/dependabot.yaml" => FileKind::Dependabot,
            ".github/settings.yml" | ".github/settings.yaml" => FileKind::Settings,
            ".tollgate.yaml" | ".tollgate.yml" => FileKind::TollgateConfig,
            ".tollgate/signers.yaml" | ".tollgate/signers.yml" => FileKind::TrustPolicy,
            ".sops.yaml" | ".sops.yml" => FileKind::SopsConfig,
            _ => FileKind::Yaml,
        });
    }
    match ext.as_deref() {
        Some("json") if path.starts_with(".github/rulesets/") => Some(FileKind::Settings),
        Some("json" | "json5") => Some(FileKind::Json),
        _ => None,
    }
}

/// Why a file could not be read or parsed (reported as `parse-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// What is wrong and how to fix it.
    pub message: String,
    /// Where (line 1, column 1 when the file could not be read at all).
    pub span: Span,
}

/// A judged Kubernetes object of a run: its position among
/// [`RepositoryModel::objects`]. Facts computed once per object (its scope,
/// its engines' values) are indexed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(u32);

impl ObjectId {
    /// The id as an index (`0..model.object_count()`).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where each judged object is: `(judged file, document)`, in judged-file
/// order, with the first entry of each judged file.
#[derive(Debug, Default)]
struct ObjectTable {
    entries: Vec<(u32, u32)>,
    first: Vec<u32>,
}

/// Whether a path is documentation: under a `docs`, `doc` or
/// `documentation` directory.
pub(crate) fn is_documentation(path: &str) -> bool {
    let dirs = path.rsplit_once('/').map_or("", |(d, _)| d);
    dirs.split('/').any(|s| ["docs", "doc", "documentation"].iter().any(|d| d.eq_ignore_ascii_case(s)))
}

/// One file of the repository, read and parsed once.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Repository-relative path with forward slashes.
    pub path: String,
    /// What the file is.
    pub kind: FileKind,
    /// The text (empty when unreadable).
    pub text: String,
    /// The parsed documents (empty for text files and on error).
    pub documents: Vec<Document>,
    /// The Kubernetes identity of each document, where it has one (shared
    /// by the findings on it).
    pub resources: Vec<Option<std::sync::Arc<ResourceIdentity>>>,
    /// Why the file could not be read or parsed.
    pub problem: Option<FileProblem>,
    /// Index into [`RepositoryModel::environments`].
    pub environment: Option<usize>,
    /// `# tollgate: ignore[...]` comments in the file.
    pub suppressions: Vec<InlineSuppression>,
    /// Byte offsets where lines start, built the first time a line is asked
    /// for (reports show thousands of snippets of one file: each is a lookup,
    /// not a scan of the text).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl SourceFile {
    /// What identifies document `index` in a fingerprint: its object
    /// (`Kind/namespace/name`) when it has one, so that moving it down the
    /// file, or adding a document above it, keeps the fingerprints of its
    /// findings; else its position (`#index`).
    ///
    /// ```
    /// use tollgate_core::{FileKind, SourceFile};
    /// let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nplain: 1\n".to_owned();
    /// let f = SourceFile::parse("x.yaml".into(), FileKind::Yaml, text, &Default::default());
    /// assert_eq!((f.identity_key(0), f.identity_key(1)), ("ConfigMap/a".to_owned(), "#1".to_owned()));
    /// ```
    pub fn identity_key(&self, index: usize) -> String {
        match self.resources.get(index) {
            Some(Some(resource)) => resource.display_name(),
            _ => format!("#{index}"),
        }
    }

    /// Parses `text` as a file at `path` of the given kind.
    pub fn parse(path: String, kind: FileKind, text: String, limits: &Limits) -> SourceFile {
        let (documents, problem) = match kind.syntax(&path) {
            Syntax::Text => (Vec::new(), None),
            Syntax::Yaml => match parse_yaml(&text, limits) {
                Ok(d) => (d, None),
                Err(e) => (Vec::new(), Some(problem_at(&text, e.position(), e.message()))),
            },
            Syntax::Json(dialect) => match parse_json(&text, dialect, limits) {
                Ok(d) => (vec![d], None),
                Err(e) => (Vec::new(), Some(problem_at(&text, e.position(), e.message()))),
            },
        };
        let resources = documents.iter().map(|d| ResourceIdentity::of(d).map(Arc::new)).collect();
        // A file that did not parse has no comments tollgate can tell from
        // values, so it has no suppressions (its `parse-error` cannot be
        // suppressed inline anyway).
        let suppressions = if problem.is_some() {
            Vec::new()
        } else {
            let parsed = (kind.syntax(&path) != Syntax::Text).then_some(documents.as_slice());
            comments_only(parse_inline(&text), &text, parsed)
        };
        SourceFile {
            path,
            kind,
            text,
            documents,
            resources,
            problem,
            environment: None,
            suppressions,
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// A rendered stream (`render:<root>`) with the documents its writer
    /// built: no parse, no comments, no suppressions, and no text. Its
    /// spans hold the offsets of the printed stream and the origin of each
    /// value (see [`crate::origin_position`]); every finding on it is moved
    /// to that origin, so the text itself is never shown (a repository's
    /// renders would hold it all in memory).
    pub fn rendered(path: String, documents: Vec<Document>) -> SourceFile {
        let resources = documents.iter().map(|d| ResourceIdentity::of(d).map(Arc::new)).collect();
        SourceFile {
            path,
            kind: FileKind::Yaml,
            text: String::new(),
            documents,
            resources,
            problem: None,
            environment: None,
            suppressions: Vec::new(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// A file that could not be read, with the reason.
    pub fn unreadable(path: String, kind: FileKind, message: String) -> SourceFile {
        let at = Position { line: 1, column: 1, offset: 0 };
        SourceFile {
            path,
            kind,
            text: String::new(),
            documents: Vec::new(),
            resources: Vec::new(),
            problem: Some(FileProblem { message, span: Span { start: at, end: at } }),
            environment: None,
            suppressions: Vec::new(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// The text of a 1-based line, without its line break (`\n` or `\r\n`).
    ///
    /// ```
    /// use tollgate_core::{FileKind, Limits, SourceFile};
    /// let f = SourceFile::parse("a.yaml".into(), FileKind::Yaml, "a: 1\r\nb: 2\n".into(), &Limits::default());
    /// assert_eq!((f.line(1), f.line(2), f.line(3)), (Some("a: 1"), Some("b: 2"), None));
    /// ```
    pub fn line(&self, line: u32) -> Option<&str> {
        let range = self.line_range(line)?;
        let text = &self.text[range];
        Some(text.strip_suffix('\r').unwrap_or(text))
    }

    /// The span of a whole 1-based line (without its line break).
    pub fn line_span(&self, line: u32) -> Option<Span> {
        let range = self.line_range(line)?;
        let width = self.text[range.clone()].trim_end_matches('\r').chars().count() as u32;
        Some(Span {
            start: Position { line, column: 1, offset: range.start as u32 },
            end: Position { line, column: width + 1, offset: range.end as u32 },
        })
    }

    /// The line and column of a byte offset of [`SourceFile::text`].
    ///
    /// ```
    /// use tollgate_core::{FileKind, Limits, SourceFile};
    /// let f = SourceFile::parse("a.yaml".into(), FileKind::Yaml, "a: 1\nbé: 2\n".into(), &Limits::default());
    /// let p = f.position_at(9);
    /// assert_eq!((p.line, p.column, p.offset), (2, 4, 9));
    /// ```
    pub fn position_at(&self, offset: u32) -> Position {
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let byte = (offset as usize).min(self.text.len());
        let index = starts.partition_point(|&s| s <= byte).saturating_sub(1);
        let line_start = starts.get(index).copied().unwrap_or(0);
        let column = self.text.get(line_start..byte).map_or(byte - line_start, |t| t.chars().count()) + 1;
        Position {
            line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            offset: u32::try_from(byte).unwrap_or(u32::MAX),
        }
    }

    /// The byte range of a 1-based line in [`SourceFile::text`], without its `\n`.
    pub fn line_range(&self, line: u32) -> Option<std::ops::Range<usize>> {
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        let index = line.checked_sub(1)? as usize;
        let start = *starts.get(index)?;
        if start >= self.text.len() && index > 0 {
            return None;
        }
        let end = starts.get(index + 1).map_or(self.text.len(), |next| next - 1);
        Some(start..end)
    }
}

/// The span from `position` to the end of its line (at least one character).
fn problem_at(text: &str, position: Position, message: &str) -> FileProblem {
    // An error at the end of the file points at the end of its last line.
    let content_end = text.trim_end().len();
    let position = if position.byte() >= content_end && content_end > 0 {
        let line = text[..content_end].matches('\n').count() as u32 + 1;
        let line_start = text[..content_end].rfind('\n').map_or(0, |i| i + 1);
        Position { line, column: text[line_start..content_end].chars().count() as u32 + 1, offset: content_end as u32 }
    } else {
        position
    };
    let from = position.byte().min(text.len());
    let line_end = text[from..].find('\n').map_or(text.len(), |i| from + i);
    let width = text.get(from..line_end).map_or(0, |s| s.trim_end().chars().count()) as u32;
    let end = Position { line: position.line, column: position.column + width.max(1), offset: line_end as u32 };
    FileProblem {
        message: format!(
            "{message}. Fix the syntax so the file can be checked; tollgate never skips a file it cannot read."
        ),
        span: Span { start: position, end },
    }
}

/// Derived models (a GitOps object graph, parsed workflows, ...) built once
/// per run from the files and shared by every rule that asks for them.
#[derive(Default)]
struct Extensions(Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>);

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extensions")
    }
}

/// Everything tollgate read from the scanned repository.
#[derive(Debug)]
pub struct RepositoryModel {
    /// The scanned root.
    pub root: PathBuf,
    /// The files, sorted by path.
    pub files: Vec<SourceFile>,
    /// The environments in force.
    pub environments: Environments,
    /// Every other regular file of the tree, not read (sorted).
    pub other_paths: Vec<String>,
    /// The change under review, in a range check.
    pub range: Option<crate::runner::RangeInfo>,
    /// The rendered roots (Kustomize overlays) and the files judged
    /// through them ([`RepositoryModel::set_renders`]).
    renders: crate::render::Renders,
    /// The judged objects, indexed once the renders are known.
    objects: std::sync::OnceLock<ObjectTable>,
    /// Paths (files or directory prefixes) reached through a symbolic link
    /// from a protected path, with the environment they take from it.
    linked: Vec<(String, usize)>,
    by_path: HashMap<String, usize>,
    extensions: Extensions,
}

impl RepositoryModel {
    /// Builds the model from parsed files.
    pub fn new(root: &Path, mut files: Vec<SourceFile>, environments: Environments) -> RepositoryModel {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        for f in &mut files {
            let names: Vec<&str> = f.resources.iter().flatten().map(|r| r.name.as_str()).collect();
            f.environment = environments.index_for_file(&f.path, &names);
        }
        let by_path = files.iter().enumerate().map(|(i, f)| (f.path.clone(), i)).collect();
        RepositoryModel {
            root: root.to_path_buf(),
            files,
            environments,
            other_paths: Vec::new(),
            range: None,
            renders: crate::render::Renders::default(),
            objects: std::sync::OnceLock::new(),
            linked: Vec::new(),
            by_path,
            extensions: Extensions::default(),
        }
    }

    /// A model derived from the files, built by `build` the first time any
    /// rule asks for type `T` and shared afterwards (one per type per run).
    ///
    /// ```
    /// # use tollgate_core::{RepositoryModel, Environments};
    /// let model = RepositoryModel::new(".".as_ref(), Vec::new(), Environments::defaults());
    /// struct FileCount(usize);
    /// let a = model.shared(|m| FileCount(m.files.len()));
    /// let b = model.shared(|_| FileCount(99));
    /// assert_eq!((a.0, b.0), (0, 0));
    /// ```
    pub fn shared<T: Any + Send + Sync>(&self, build: impl FnOnce(&RepositoryModel) -> T) -> Arc<T> {
        let mut slots = self.extensions.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, any)) = slots.iter().find(|(id, _)| *id == TypeId::of::<T>())
            && let Ok(found) = Arc::clone(any).downcast::<T>()
        {
            return found;
        }
        let built = Arc::new(build(self));
        slots.push((TypeId::of::<T>(), Arc::clone(&built) as Arc<dyn Any + Send + Sync>));
        built
    }

    /// Every path of the tree: the files read and the others, sorted.
    pub fn all_paths(&self) -> Vec<&str> {
        let mut all: Vec<&str> =
            self.files.iter().map(|f| f.path.as_str()).chain(self.other_paths.iter().map(String::as_str)).collect();
        all.sort_unstable();
        all
    }

    /// Marks a file as unreadable (a `parse-error`) at `span`, unless it
    /// already is: what tollgate cannot use is a finding.
    pub fn set_problem(&mut self, path: &str, span: Span, message: String) {
        if let Some(&i) = self.by_path.get(path)
            && self.files[i].problem.is_none()
        {
            self.files[i].problem = Some(FileProblem { message, span });
        }
    }

    /// The text of a guardrail file (`.sops.yaml`, CODEOWNERS, ...) as it
    /// judges this run: in a range check the base commit's version (`None`
    /// when the base has none), else the work tree's.
    pub fn guardrail(&self, path: &str) -> Option<&str> {
        match self.range.as_ref().filter(|r| r.problem.is_none()) {
            Some(range) => range.base_files.get(path).map(String::as_str),
            None => self.file(path).map(|f| f.text.as_str()),
        }
    }

    /// Judges what a symbolic link inside the root reaches as the link's own
    /// path would be judged: a file (or every file of a directory) that a
    /// protected path links to is protected too, so turning
    /// `environments/prod/app.yaml` into a link to `apps/blue/app.yaml`
    /// cannot lower how the change is judged. `links` are `(link, target)`.
    pub fn protect_link_targets(&mut self, links: &[(String, String)]) {
        for (link, target) in links {
            let Some(index) = self.environments.index_for(link) else { continue };
            if !self.environments.get(index).is_some_and(|e| e.protected) {
                continue;
            }
            self.linked.push((target.clone(), index));
            let under = |path: &str| {
                path == target
                    || target.is_empty()
                    || path.strip_prefix(target.as_str()).is_some_and(|r| r.starts_with('/'))
            };
            for file in self.files.iter_mut().filter(|f| under(&f.path)) {
                let protected = file.environment.and_then(|i| self.environments.get(i)).is_some_and(|e| e.protected);
                if !protected {
                    file.environment = Some(index);
                }
            }
        }
    }

    /// Whether a repository-relative path belongs to a protected environment
    /// (by its own path, or through a link from a protected path).
    pub fn is_protected(&self, path: &str) -> bool {
        match self.file(path) {
            Some(file) => self.is_protected_file(file),
            None => {
                self.environments.for_path(path).is_some_and(|e| e.protected)
                    || self.linked.iter().any(|(target, _)| {
                        path == target || path.strip_prefix(target.as_str()).is_some_and(|r| r.starts_with('/'))
                    })
            }
        }
    }

    /// Whether a file of the model belongs to a protected environment.
    pub fn is_protected_file(&self, file: &SourceFile) -> bool {
        file.environment.and_then(|i| self.environments.get(i)).is_some_and(|e| e.protected)
    }

    /// The environment whose objects a file declares: its own, except for
    /// documentation (a file under a `docs`, `doc` or `documentation`
    /// directory), whose examples are not manifests of the environment its
    /// path names. Ownership still follows the path
    /// ([`RepositoryModel::is_protected`]).
    pub fn manifest_environment(&self, file: &SourceFile) -> Option<&Environment> {
        if is_documentation(&file.path) {
            return None;
        }
        file.environment.and_then(|i| self.environments.get(i))
    }

    /// The first file (in path order) of a protected environment.
    pub fn first_protected_file(&self) -> Option<&SourceFile> {
        self.files.iter().find(|f| self.is_protected_file(f))
    }

    /// The file at a repository-relative path.
    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.by_path.get(path).map(|&i| &self.files[i])
    }

    /// The rendered roots and the files judged through them.
    pub fn renders(&self) -> &crate::render::Renders {
        &self.renders
    }

    /// Takes the renders out (to share them with another run, which gives
    /// them back with [`RepositoryModel::set_renders`]).
    pub fn take_renders(&mut self) -> crate::render::Renders {
        self.objects = std::sync::OnceLock::new();
        std::mem::take(&mut self.renders)
    }

    /// Sets the renders of the run: their objects join the judged objects,
    /// and the objects of the files they consumed leave them.
    pub fn set_renders(&mut self, renders: crate::render::Renders) {
        self.renders = renders;
        self.objects = std::sync::OnceLock::new();
    }

    /// Every document that is judged, with its file: the documents of
    /// every file, except objects of files judged through renders (a
    /// Kustomize base or patch), then the objects of every render (whose
    /// file is the rendered stream; [`crate::render::translate`] moves
    /// findings on it to the lines that produced the values).
    pub fn documents(&self) -> impl Iterator<Item = (&SourceFile, &Document)> {
        self.judged_files().flat_map(move |f| {
            let consumed = self.is_consumed(f);
            f.documents
                .iter()
                .zip(&f.resources)
                .filter(move |(_, r)| !(consumed && r.is_some()))
                .map(move |(d, _)| (f, d))
        })
    }

    /// Every judged Kubernetes object (document with `apiVersion` and
    /// `kind`) with its file, in [`ObjectId`] order; see
    /// [`RepositoryModel::documents`].
    pub fn objects(&self) -> impl Iterator<Item = (&SourceFile, &Document, &ResourceIdentity)> {
        self.object_table().entries.iter().filter_map(move |&(file, document)| self.object_at(file, document))
    }

    /// How many objects are judged: every [`ObjectId`] is below it.
    pub fn object_count(&self) -> usize {
        self.object_table().entries.len()
    }

    /// A judged object by its id.
    pub fn object(&self, id: ObjectId) -> Option<(&SourceFile, &Document, &ResourceIdentity)> {
        let &(file, document) = self.object_table().entries.get(id.index())?;
        self.object_at(file, document)
    }

    /// The id of the object at document `document` of the judged file
    /// `file` (an index into [`RepositoryModel::judged_files`]).
    pub fn object_id(&self, file: usize, document: usize) -> Option<ObjectId> {
        let table = self.object_table();
        let from = *table.first.get(file)? as usize;
        let to = table.first.get(file + 1).map_or(table.entries.len(), |&t| t as usize);
        let within = table.entries.get(from..to)?;
        let at = within.binary_search_by_key(&(document as u32), |&(_, d)| d).ok()?;
        Some(ObjectId((from + at) as u32))
    }

    fn object_at(&self, file: u32, document: u32) -> Option<(&SourceFile, &Document, &ResourceIdentity)> {
        let file = self.judged_file(file as usize)?;
        let document = document as usize;
        Some((file, file.documents.get(document)?, file.resources.get(document)?.as_ref()?))
    }

    /// The judged file at an index of [`RepositoryModel::judged_files`].
    pub fn judged_file(&self, index: usize) -> Option<&SourceFile> {
        match index.checked_sub(self.files.len()) {
            None => self.files.get(index),
            Some(render) => self.renders.rendered.get(render).map(|r| &r.file),
        }
    }

    fn object_table(&self) -> &ObjectTable {
        self.objects.get_or_init(|| {
            let mut table = ObjectTable::default();
            for (i, f) in self.judged_files().enumerate() {
                table.first.push(table.entries.len() as u32);
                if self.is_consumed(f) {
                    continue;
                }
                for (d, r) in f.resources.iter().enumerate() {
                    if r.is_some() {
                        table.entries.push((i as u32, d as u32));
                    }
                }
            }
            table
        })
    }

    /// The files, then the rendered streams.
    pub fn judged_files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter().chain(self.renders.rendered.iter().map(|r| &r.file))
    }

    /// Whether the objects of `file` are judged through renders only.
    pub fn is_consumed(&self, file: &SourceFile) -> bool {
        !self.renders.consumed.is_empty() && self.renders.consumed.contains(&file.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_is_owned_by_its_path_but_is_not_a_manifest_of_it() {
        let file =
            |path: &str| SourceFile::parse(path.to_owned(), FileKind::Yaml, "a: 1\n".to_owned(), &Limits::default());
        let model = RepositoryModel::new(
            Path::new("."),
            vec![file("environments/prod/docs/example.yaml"), file("environments/prod/app.yaml")],
            Environments::defaults(),
        );
        let docs = model.file("environments/prod/docs/example.yaml").expect("docs file");
        let app = model.file("environments/prod/app.yaml").expect("app file");
        assert!(model.is_protected(&docs.path), "ownership follows the path");
        assert!(model.manifest_environment(docs).is_none());
        assert!(model.manifest_environment(app).is_some_and(|e| e.protected));
    }

    #[test]
    fn objects_have_ids_in_judged_file_order() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nplain: value\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n";
        let file = |path: &str| SourceFile::parse(path.to_owned(), FileKind::Yaml, text.to_owned(), &Limits::default());
        let model =
            RepositoryModel::new(Path::new("."), vec![file("b.yaml"), file("a.yaml")], Environments::defaults());
        assert_eq!(model.object_count(), 4);
        let names: Vec<String> = model.objects().map(|(f, _, r)| format!("{}:{}", f.path, r.name)).collect();
        assert_eq!(names, ["a.yaml:a", "a.yaml:b", "b.yaml:a", "b.yaml:b"]);
        // The plain document (index 1) is no object; the Secret (index 2) of the second file is id 3.
        assert_eq!(model.object_id(1, 1), None);
        let id = model.object_id(1, 2).expect("an object");
        assert_eq!(id.index(), 3);
        let (file, document, identity) = model.object(id).expect("by id");
        assert_eq!((file.path.as_str(), document.index, identity.kind.as_str()), ("b.yaml", 2, "Secret"));
    }

    #[test]
    fn a_file_is_not_of_the_environment_its_object_is_named_after() {
        let file = |path: &str, text: &str| {
            SourceFile::parse(path.to_owned(), FileKind::Yaml, text.to_owned(), &Limits::default())
        };
        let issuer = "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt-prod}\n";
        let model = RepositoryModel::new(
            Path::new("."),
            vec![
                file("certs/letsencrypt-prod.yaml", issuer),
                file("charts/web/values-production.yaml", "service: {type: LoadBalancer}\n"),
            ],
            Environments::defaults(),
        );
        assert!(!model.is_protected("certs/letsencrypt-prod.yaml"));
        assert!(model.is_protected("charts/web/values-production.yaml"));
    }
}
