//! The build: accumulate a kustomization's resources, run its generators,
//! apply its components and transformers; at the top, hash generated names,
//! rewrite name references and sort the output.

use std::collections::HashMap;

use tollgate_yaml::{Document, Limits, Span};

use crate::RenderError;
use crate::kustomization::{KUSTOMIZATION_FILE_NAMES, Kustomization, file_origin, is_remote};
use crate::node::{FileId, Origin, RNode};
use crate::resource::Resource;
use crate::source::{FileSource, PathKind, is_within, join};

/// Most kustomizations and components one render may build (a component
/// included ten thousand times ends here, not in an hour).
const MAX_BUILDS: usize = 2_000;
/// Most resources one render may hold.
const MAX_RESOURCES: usize = 100_000;

/// The annotation that keeps an object out of the output.
const LOCAL_CONFIG: &str = "config.kubernetes.io/local-config";

/// A rendered kustomization.
#[derive(Debug, Clone)]
pub struct Render {
    /// The objects, in output order.
    pub resources: Vec<Resource>,
    /// The files read, by [`FileId`]: repository-relative paths.
    pub files: Vec<String>,
    /// What kustomize accepts silently but is almost surely a mistake: a
    /// patch whose `target` selects nothing (after a base renamed the object,
    /// the patch silently stops applying).
    pub warnings: Vec<RenderError>,
}

impl Render {
    /// The id of a file in the render's table (added when new).
    pub fn file_id(&mut self, path: &str) -> FileId {
        let index = self.files.iter().position(|f| f == path).unwrap_or_else(|| {
            self.files.push(path.to_owned());
            self.files.len() - 1
        });
        FileId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The path of a file of the render.
    pub fn path(&self, file: FileId) -> &str {
        self.files.get(file.0 as usize).map_or("", String::as_str)
    }

    /// The output as `kustomize build` prints it.
    pub fn to_yaml(&self) -> String {
        crate::emit::to_yaml(&self.resources.iter().map(|r| &r.node).collect::<Vec<_>>())
    }

    /// The output as `kustomize build` prints it, with its documents as a
    /// parser reads them back, each node's span holding its origin (see
    /// [`tollgate_core::origin_position`]; file indexes are into
    /// [`Render::files`]).
    pub fn emit(&self) -> (String, Vec<tollgate_yaml::Document>) {
        crate::emit::emit(&self.resources.iter().map(|r| &r.node).collect::<Vec<_>>())
    }
}

/// Renders the kustomization in `dir` (repository-relative) as `kustomize
/// build` would, reading files from `source`.
///
/// A bug of the renderer that panics on some input ends this render with an
/// error naming the kustomization, never the run: the repository's files
/// stay judged as written.
pub fn render(source: &dyn FileSource, dir: &str) -> Result<Render, RenderError> {
    render_edited(source, dir, &[])
}

/// An edit made to a kustomization before it is built, as `kustomize edit
/// set nameprefix` makes it (Argo CD's overrides): `field` of the
/// kustomization in `dir` becomes `value`, written at `span` of `file`.
#[derive(Debug, Clone)]
pub(crate) struct Edit {
    pub(crate) dir: String,
    pub(crate) field: &'static str,
    pub(crate) value: String,
    pub(crate) file: String,
    pub(crate) span: Span,
}

/// [`render`] with kustomizations edited first.
pub(crate) fn render_edited(source: &dyn FileSource, dir: &str, edits: &[Edit]) -> Result<Render, RenderError> {
    tollgate_core::catch_panic(|| render_unguarded(source, dir, edits)).unwrap_or_else(
        |tollgate_core::Panicked(what)| {
            let dir = crate::source::join("", dir).unwrap_or_default();
            let file = KUSTOMIZATION_FILE_NAMES
                .iter()
                .filter_map(|n| join(&dir, n))
                .find(|p| source.kind(p) == PathKind::File)
                .unwrap_or(dir);
            Err(RenderError::at(
                &file,
                Span::default(),
                format!("tollgate failed on this kustomization ({what}); this is a bug of tollgate, please report it"),
            ))
        },
    )
}

fn render_unguarded(source: &dyn FileSource, dir: &str, edits: &[Edit]) -> Result<Render, RenderError> {
    let mut b = Builder {
        source,
        edits,
        files: Vec::new(),
        ids: HashMap::new(),
        parsed: HashMap::new(),
        building: Vec::new(),
        builds: 0,
        warnings: Vec::new(),
        vars: Vec::new(),
        configs: Vec::new(),
        final_config: crate::fieldspec::Custom::default(),
        record_transformations: false,
    };
    let dir = crate::source::join("", dir).unwrap_or_default();
    let k = b.load(&dir, None)?;
    // Which transformers ran over each object is only kept when the top
    // kustomization reports it.
    b.record_transformations = k
        .field("buildMetadata")
        .and_then(RNode::as_seq)
        .is_some_and(|o| o.iter().any(|v| v.as_str() == Some("transformerAnnotations")));
    if k.component {
        return Err(RenderError::at(
            &k.path,
            Span::default(),
            "a Component cannot be built on its own; include it from a kustomization's `components`".to_owned(),
        ));
    }
    let mut resources = Vec::new();
    b.accumulate(&k, &mut resources)?;
    crate::generate::add_hashes(&mut resources);
    let custom = std::mem::take(&mut b.final_config);
    crate::nameref::fix_back_references(&mut resources, &custom.name_reference).map_err(|a| {
        let path = b.path_of(a.origin.file);
        RenderError::at(&path, a.origin.span, a.message)
    })?;
    crate::vars::resolve(&b.vars, &mut resources, &custom.var_reference)?;
    build_metadata(&b, &k, &mut resources);
    for r in &mut resources {
        stringify_annotations(&mut r.node);
    }
    // Objects marked `config.kubernetes.io/local-config` (other than
    // "false") configure the build and are not deployed: kustomize drops
    // them from the top-level output.
    resources.retain(|r| {
        r.node
            .at("metadata/annotations")
            .and_then(|a| a.get(LOCAL_CONFIG))
            .and_then(RNode::as_str)
            .is_none_or(|v| v == "false")
    });
    sort(&k, &mut resources)?;
    Ok(Render { resources, files: b.files, warnings: b.warnings })
}

/// The label `managedByLabel` sets; kubectl's own kustomize (the reference
/// renderer) reports its version so. A standalone `kustomize` binary
/// writes its release (`kustomize-v5.5.0`).
const MANAGED_BY: &str = "kustomize-(devel)";

/// The top kustomization's `buildMetadata`: where each object comes from
/// (`originAnnotations`), the built-in transformers that ran over it
/// (`transformerAnnotations`), and the `managedByLabel`; paths are relative
/// to the top kustomization's directory. The values point at the
/// `buildMetadata` field. (kustomize reads the top kustomization's only.)
fn build_metadata(b: &Builder<'_>, k: &Kustomization, resources: &mut [Resource]) {
    let Some(field) = k.field("buildMetadata") else { return };
    let options: Vec<&str> = field.as_seq().unwrap_or_default().iter().filter_map(RNode::as_str).collect();
    let origin = field.origin;
    let relative = |file: FileId| relative_to(&k.dir, &b.path_of(file));
    for r in resources.iter_mut() {
        if options.contains(&"originAnnotations") {
            let text = match &r.made {
                crate::resource::Made::File(file) => format!("path: {}\n", relative(*file)),
                crate::resource::Made::Generator { file, kind, name } => format!(
                    "configuredIn: {}\nconfiguredBy:\n  apiVersion: builtin\n  kind: {kind}\n{}",
                    relative(*file),
                    name.as_ref().map(|n| format!("  name: {n}\n")).unwrap_or_default()
                ),
            };
            let annotations = r.node.entry_map("metadata", origin).entry_map("annotations", origin);
            annotations.set("config.kubernetes.io/origin", RNode::string(text, origin));
        }
        if options.contains(&"transformerAnnotations") && !r.transformations.is_empty() {
            let mut text = String::new();
            for t in &r.transformations {
                text.push_str(&format!(
                    "- configuredIn: {}\n  configuredBy:\n    apiVersion: builtin\n    kind: {}\n{}",
                    relative(t.file),
                    t.kind,
                    t.name.as_ref().map(|n| format!("    name: {n}\n")).unwrap_or_default()
                ));
            }
            let annotations = r.node.entry_map("metadata", origin).entry_map("annotations", origin);
            annotations.set("alpha.config.kubernetes.io/transformations", RNode::string(text, origin));
        }
        if options.contains(&"managedByLabel") {
            let labels = r.node.entry_map("metadata", origin).entry_map("labels", origin);
            labels.set("app.kubernetes.io/managed-by", RNode::string(MANAGED_BY, origin));
        }
    }
}

/// `path` (repository-relative) as seen from the directory `dir`.
fn relative_to(dir: &str, path: &str) -> String {
    let from: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    let to: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

/// kustomize rewrites every object's annotations as a map of strings (its
/// reader tracks objects with annotations), so `port: 8080` prints as
/// `port: "8080"` and `x: ~` as `x: "~"`. Labels keep their scalars.
fn stringify_annotations(node: &mut RNode) {
    let Some(annotations) = node.get_mut("metadata").and_then(|m| m.get_mut("annotations")) else { return };
    let Some(entries) = annotations.as_map_mut() else { return };
    for (_, value) in entries.iter_mut() {
        if let crate::node::RValue::Scalar(s) = &mut value.value {
            s.style = tollgate_yaml::ScalarStyle::DoubleQuoted;
        }
    }
}

/// The state of one render.
pub(crate) struct Builder<'a> {
    source: &'a dyn FileSource,
    edits: &'a [Edit],
    files: Vec<String>,
    ids: HashMap<String, FileId>,
    parsed: HashMap<String, std::rc::Rc<Vec<Document>>>,
    building: Vec<String>,
    builds: usize,
    pub(crate) warnings: Vec<RenderError>,
    /// Legacy `vars` declared so far.
    vars: Vec<crate::vars::Var>,
    /// The `configurations` of each kustomization being built, innermost
    /// last (each merges into the one that includes it).
    configs: Vec<crate::fieldspec::Custom>,
    /// The top kustomization's, once built.
    final_config: crate::fieldspec::Custom,
    /// Whether the built-in transformers that run are recorded on each
    /// object (`buildMetadata: [transformerAnnotations]`).
    pub(crate) record_transformations: bool,
}

/// Parsed documents, borrowed from the source or parsed by the render.
enum Docs<'a> {
    Borrowed(&'a [Document]),
    Owned(std::rc::Rc<Vec<Document>>),
}

impl std::ops::Deref for Docs<'_> {
    type Target = [Document];
    fn deref(&self) -> &[Document] {
        match self {
            Docs::Borrowed(d) => d,
            Docs::Owned(d) => d,
        }
    }
}

impl<'a> Builder<'a> {
    fn file_id(&mut self, path: &str) -> FileId {
        if let Some(id) = self.ids.get(path) {
            return *id;
        }
        let id = FileId(self.files.len() as u32);
        self.files.push(path.to_owned());
        self.ids.insert(path.to_owned(), id);
        id
    }

    /// The path of a file id.
    pub(crate) fn path_of(&self, file: FileId) -> String {
        self.files.get(file.0 as usize).cloned().unwrap_or_default()
    }

    /// Loads the kustomization of `dir`; `from` is the kustomization and
    /// field that names it.
    fn load(&mut self, dir: &str, from: Option<(&Kustomization, Origin)>) -> Result<Kustomization, RenderError> {
        let at = |message: String| match from {
            Some((k, origin)) => k.error(origin, message),
            None => RenderError::at(dir, Span::default(), message),
        };
        let found: Vec<&str> = KUSTOMIZATION_FILE_NAMES
            .iter()
            .copied()
            .filter(|n| self.source.kind(&join(dir, n).unwrap_or_default()) == PathKind::File)
            .collect();
        let name = match found.as_slice() {
            [] => {
                return Err(at(format!(
                    "`{}` has no kustomization file (kustomization.yaml, kustomization.yml or Kustomization)",
                    if dir.is_empty() { "." } else { dir }
                )));
            }
            [one] => *one,
            _ => return Err(at(format!("`{dir}` has several kustomization files ({})", found.join(", ")))),
        };
        let path = join(dir, name).unwrap_or_default();
        let docs = self.documents(&path)?;
        let file = self.file_id(&path);
        let mut root = docs
            .iter()
            .find(|d| !d.root.is_null())
            .map_or_else(|| RNode::plain("", file_origin(file)), |d| RNode::from_node(&d.root, file));
        for e in self.edits.iter().filter(|e| e.dir == dir) {
            if root.as_map().is_none() {
                root = RNode::map(file_origin(file));
            }
            let at = Origin { file: self.file_id(&e.file), span: e.span };
            root.set(e.field, RNode::string(e.value.clone(), at));
        }
        Kustomization::new(dir.to_owned(), path, file, root)
    }

    /// The parsed documents of a YAML file: the source's own when it holds
    /// them parsed, else parsed once per render.
    fn documents(&mut self, path: &str) -> Result<Docs<'a>, RenderError> {
        if let Some(docs) = self.source.parsed(path) {
            return Ok(Docs::Borrowed(docs));
        }
        if let Some(docs) = self.parsed.get(path) {
            return Ok(Docs::Owned(std::rc::Rc::clone(docs)));
        }
        let text = self
            .source
            .read(path)
            .map_err(|m| RenderError::at(path, Span::default(), format!("cannot read `{path}`: it {m}")))?;
        let docs = tollgate_yaml::parse_yaml(&text, &Limits::default()).map_err(|e| {
            let p = e.position();
            RenderError::at(path, Span { start: p, end: p }, e.message().to_owned())
        })?;
        let docs = std::rc::Rc::new(docs);
        self.parsed.insert(path.to_owned(), std::rc::Rc::clone(&docs));
        Ok(Docs::Owned(docs))
    }

    /// Whether a repository path is a directory.
    pub(crate) fn is_dir(&self, path: &str) -> bool {
        self.source.kind(path) == PathKind::Dir
    }

    /// The id of a file a kustomization names.
    pub(crate) fn file_of(&mut self, k: &Kustomization, rel: &str) -> FileId {
        let path = join(&k.dir, rel).unwrap_or_default();
        self.file_id(&path)
    }

    /// Builds the kustomization in `dir`, named `entry` in `k`'s `field` at
    /// `origin` (a `resources` or `generators` entry), and gives its
    /// resources.
    pub(crate) fn build_directory(
        &mut self,
        k: &Kustomization,
        dir: &str,
        (entry, field): (&str, &str),
        origin: Origin,
    ) -> Result<Vec<Resource>, RenderError> {
        let sub = self.load(dir, Some((k, origin)))?;
        if sub.component {
            return Err(k.error(origin, format!("`{entry}` is a Component: list it under `components`, not `{field}`")));
        }
        let mut out = Vec::new();
        self.accumulate(&sub, &mut out)?;
        Ok(out)
    }

    /// Reads a file a kustomization names (a patch, a generator input):
    /// inside the kustomization's directory, as kustomize requires.
    pub(crate) fn read_in(
        &mut self,
        k: &Kustomization,
        rel: &str,
        origin: Origin,
    ) -> Result<(String, FileId), RenderError> {
        let bytes = self.read_bytes_in(k, rel, origin)?;
        let path = join(&k.dir, rel).unwrap_or_default();
        let text = String::from_utf8(bytes).map_err(|_| k.error(origin, format!("`{rel}` is not UTF-8 text")))?;
        Ok((text, self.file_id(&path)))
    }

    /// The bytes of a file a kustomization names.
    pub(crate) fn read_bytes_in(
        &mut self,
        k: &Kustomization,
        rel: &str,
        origin: Origin,
    ) -> Result<Vec<u8>, RenderError> {
        if is_remote(rel) {
            return Err(RenderError::unsupported(
                &k.path,
                origin.span,
                format!("`{rel}` is remote; tollgate fetches nothing"),
            ));
        }
        let path = join(&k.dir, rel).ok_or_else(|| k.error(origin, format!("`{rel}` leaves the repository")))?;
        if !is_within(&path, &k.dir) {
            return Err(k.error(
                origin,
                format!(
                    "`{rel}` is not in or below `{}`: kustomize refuses files outside a kustomization's directory",
                    if k.dir.is_empty() { "." } else { &k.dir }
                ),
            ));
        }
        if self.source.kind(&path) != PathKind::File {
            return Err(k.error(origin, format!("`{rel}` does not exist (or leaves the repository through a link)")));
        }
        self.source
            .read(&path)
            .map(String::into_bytes)
            .map_err(|m| k.error(origin, format!("cannot read `{rel}`: it {m}")))
    }

    /// The documents of a patch entry: a file, or inline YAML.
    pub(crate) fn patch_documents(
        &mut self,
        k: &Kustomization,
        entry: &str,
        origin: Origin,
    ) -> Result<Vec<RNode>, RenderError> {
        let path = join(&k.dir, entry);
        let is_file = path.as_ref().is_some_and(|p| !entry.contains('\n') && self.source.kind(p) == PathKind::File);
        if !is_file {
            return self.inline_documents(k, entry, origin);
        }
        let (text, file) = self.read_in(k, entry, origin)?;
        let docs = tollgate_yaml::parse_yaml(&text, &Limits::default()).map_err(|e| {
            let p = e.position();
            RenderError::at(&self.path_of(file), Span { start: p, end: p }, e.message().to_owned())
        })?;
        Ok(docs.iter().filter(|d| !d.root.is_null()).map(|d| RNode::from_node(&d.root, file)).collect())
    }

    /// The documents of a patch written inline in a kustomization (`origin`
    /// is the string's). Written as a literal block (`patch: |-`), each node
    /// keeps its own line and column in the kustomization; in any other
    /// style, every node points at the string.
    pub(crate) fn inline_documents(
        &mut self,
        k: &Kustomization,
        raw: &str,
        origin: Origin,
    ) -> Result<Vec<RNode>, RenderError> {
        let text = raw.trim();
        let docs = tollgate_yaml::parse_yaml(text, &Limits::default())
            .map_err(|e| k.error(origin, format!("the inline patch is not valid YAML: {}", e.message())))?;
        let block =
            self.source.read(&k.path).ok().and_then(|whole| crate::origin::Block::new(&whole, origin, raw, text));
        Ok(docs
            .iter()
            .filter(|d| !d.root.is_null())
            .map(|d| {
                let mut n = RNode::from_node(&d.root, k.file);
                crate::origin::remap(&mut n, &|span| Origin {
                    file: k.file,
                    span: block.as_ref().and_then(|b| b.map(span)).unwrap_or(origin.span),
                });
                n
            })
            .collect())
    }

    /// Accumulates `k` into `resources`: its resources, generators,
    /// components and transformers, in kustomize's order.
    pub(crate) fn accumulate(&mut self, k: &Kustomization, resources: &mut Vec<Resource>) -> Result<(), RenderError> {
        self.builds += 1;
        if self.builds > MAX_BUILDS {
            return Err(k.error(
                file_origin(k.file),
                format!("the render builds more than {MAX_BUILDS} kustomizations and components; tollgate stops here"),
            ));
        }
        if let Some(at) = self.building.iter().position(|d| *d == k.dir) {
            let mut chain = self.building[at..].to_vec();
            chain.push(k.dir.clone());
            return Err(k.error(
                file_origin(k.file),
                format!("kustomizations include each other in a cycle: {}", chain.join(" -> ")),
            ));
        }
        self.building.push(k.dir.clone());
        self.configs.push(crate::fieldspec::Custom::default());
        let result = self.accumulate_inner(k, resources);
        self.building.pop();
        let mine = self.configs.pop().unwrap_or_default();
        result?;
        if let Some(parent) = self.configs.last_mut() {
            parent.merge(mine).map_err(|e| k.error(file_origin(k.file), e.to_string()))
        } else {
            self.final_config = mine;
            Ok(())
        }
    }

    /// The `configurations` in force for the kustomization being built: its
    /// own and those of everything it includes.
    pub(crate) fn custom(&self) -> crate::fieldspec::Custom {
        self.configs.last().cloned().unwrap_or_default()
    }

    /// Reads `k`'s `configurations` into the ones in force.
    fn read_configurations(&mut self, k: &Kustomization) -> Result<(), RenderError> {
        for (path, origin) in k.strings("configurations")? {
            let (text, file) = self.read_in(k, &path, origin)?;
            let docs = tollgate_yaml::parse_yaml(&text, &Limits::default()).map_err(|e| {
                let p = e.position();
                RenderError::at(&self.path_of(file), Span { start: p, end: p }, e.message().to_owned())
            })?;
            for doc in docs.iter().filter(|d| !d.root.is_null()) {
                let root = RNode::from_node(&doc.root, file);
                let custom = crate::fieldspec::Custom::read(&root)
                    .map_err(|e| RenderError::unsupported(&self.path_of(file), doc.root.span, e.to_string()))?;
                if let Some(current) = self.configs.last_mut() {
                    current.merge(custom).map_err(|e| k.error(origin, e.to_string()))?;
                }
            }
        }
        Ok(())
    }

    fn accumulate_inner(&mut self, k: &Kustomization, resources: &mut Vec<Resource>) -> Result<(), RenderError> {
        let mut paths = k.strings("resources")?;
        paths.extend(k.strings("bases")?);
        for (path, origin) in paths {
            self.accumulate_resource(k, &path, origin, resources)?;
        }
        self.read_configurations(k)?;
        crate::generate::run(self, k, resources)?;
        for (path, origin) in k.strings("components")? {
            if is_remote(&path) {
                return Err(RenderError::unsupported(
                    &k.path,
                    origin.span,
                    format!("the component `{path}` is remote; tollgate fetches nothing"),
                ));
            }
            let dir = join(&k.dir, &path).ok_or_else(|| k.error(origin, format!("`{path}` leaves the repository")))?;
            let component = self.load(&dir, Some((k, origin)))?;
            if !component.component {
                return Err(k.error(
                    origin,
                    format!("`{path}` is a Kustomization, not a Component: list it under `resources`"),
                ));
            }
            self.accumulate(&component, resources)?;
        }
        crate::transform::run(self, k, resources)?;
        crate::vars::declare(k, resources, &mut self.vars)
    }

    fn accumulate_resource(
        &mut self,
        k: &Kustomization,
        path: &str,
        origin: Origin,
        resources: &mut Vec<Resource>,
    ) -> Result<(), RenderError> {
        if is_remote(path) {
            return Err(RenderError::unsupported(
                &k.path,
                origin.span,
                format!("`{path}` is a remote base; tollgate fetches nothing, so what it deploys is not rendered"),
            ));
        }
        let full = join(&k.dir, path).ok_or_else(|| k.error(origin, format!("`{path}` leaves the repository")))?;
        match self.source.kind(&full) {
            PathKind::Dir => {
                for r in self.build_directory(k, &full, (path, "resources"), origin)? {
                    append(k, resources, r, origin)?;
                }
            }
            PathKind::File => {
                if !is_within(&full, &k.dir) {
                    return Err(k.error(origin, format!("`{path}` is not in or below `{}`: kustomize refuses files outside a kustomization's directory (list the directory holding it instead)", if k.dir.is_empty() { "." } else { &k.dir })));
                }
                let docs = self.documents(&full)?;
                let file = self.file_id(&full);
                for doc in docs.iter().filter(|d| !d.root.is_null()) {
                    let node = RNode::from_node(&doc.root, file);
                    for item in expand_list(node) {
                        if item.as_map().is_none() {
                            return Err(RenderError::at(
                                &full,
                                item.origin.span,
                                "a resource must be a mapping".to_owned(),
                            ));
                        }
                        if item.str_at("kind").is_none_or(str::is_empty) {
                            return Err(RenderError::at(
                                &full,
                                item.origin.span,
                                "a resource needs a `kind`".to_owned(),
                            ));
                        }
                        append(k, resources, Resource::new(item, file), origin)?;
                    }
                }
            }
            PathKind::Missing => {
                return Err(
                    k.error(origin, format!("`{path}` does not exist (or leaves the repository through a link)"))
                );
            }
        }
        if resources.len() > MAX_RESOURCES {
            return Err(
                k.error(origin, format!("the render holds more than {MAX_RESOURCES} resources; tollgate stops here"))
            );
        }
        Ok(())
    }
}

/// A `List` (kind `List` or `*List` with `items`) is its items.
fn expand_list(node: RNode) -> Vec<RNode> {
    let is_list = node.str_at("kind").is_some_and(|k| k.ends_with("List")) && node.get("items").is_some();
    if !is_list {
        return vec![node];
    }
    node.get("items").and_then(RNode::as_seq).map(<[RNode]>::to_vec).unwrap_or_default()
}

/// Appends a resource; a second resource with the same id is an error.
fn append(k: &Kustomization, resources: &mut Vec<Resource>, r: Resource, origin: Origin) -> Result<(), RenderError> {
    let id = r.id();
    if resources.iter().any(|e| e.id().same(&id)) {
        return Err(k.error(origin, format!("may not add resource with an already registered id: {}", id.display())));
    }
    resources.push(r);
    Ok(())
}

/// Kinds kustomize's legacy order puts first, then last.
const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: [&str; 2] = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

/// A kind's place in kustomize's legacy order (negative first, positive
/// last, 0 for every other kind).
pub(crate) fn kind_rank(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - ORDER_FIRST.len() as i64;
    }
    ORDER_LAST.iter().position(|k| *k == kind).map_or(0, |i| i as i64 + 1)
}

fn sort(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let order = match k.field("sortOptions") {
        None => "legacy",
        Some(o) if o.is_null() => "legacy",
        // kustomize requires the order once `sortOptions` is written.
        Some(o) => match o.str_at("order") {
            Some("fifo") => "fifo",
            Some("legacy") => "legacy",
            Some(other) => {
                return Err(k.error(o.origin, format!("`sortOptions.order` must be `legacy` or `fifo`, not `{other}`")));
            }
            None => {
                return Err(k.error(
                    o.origin,
                    "`sortOptions` needs `order: legacy` or `order: fifo` (kustomize refuses it without)".to_owned(),
                ));
            }
        },
    };
    let legacy = k.field("sortOptions").and_then(|o| o.get("legacySortOptions"));
    if order == "fifo" {
        if let Some(options) = legacy {
            return Err(k.error(
                options.origin,
                "`sortOptions.legacySortOptions` is set but the sort order is `fifo`, not `legacy`".to_owned(),
            ));
        }
        return Ok(());
    }
    // The kinds ranked first and last: kustomize's own lists, or the
    // kustomization's (which replace them; a kind in both ranks last).
    let list = |field: &str, default: &[&str]| -> Result<Vec<String>, RenderError> {
        let Some(options) = legacy else { return Ok(default.iter().map(|s| (*s).to_owned()).collect()) };
        match options.get(field) {
            None => Ok(Vec::new()),
            Some(node) => node
                .as_seq()
                .ok_or_else(|| {
                    k.error(node.origin, format!("`sortOptions.legacySortOptions.{field}` must be a list of kinds"))
                })?
                .iter()
                .map(|kind| {
                    kind.as_str().map(str::to_owned).ok_or_else(|| {
                        k.error(kind.origin, format!("`sortOptions.legacySortOptions.{field}` must be a list of kinds"))
                    })
                })
                .collect(),
        }
    };
    let first = list("orderFirst", &ORDER_FIRST)?;
    let last = list("orderLast", &ORDER_LAST)?;
    let mut ranks: HashMap<&str, i64> = HashMap::new();
    for (i, kind) in first.iter().enumerate() {
        ranks.insert(kind, i as i64 - first.len() as i64);
    }
    for (i, kind) in last.iter().enumerate() {
        ranks.insert(kind, i as i64 + 1);
    }
    let rank = |kind: &str| -> i64 { ranks.get(kind).copied().unwrap_or(0) };
    let gvk = |id: &crate::resource::ResId| {
        let or = |s: &str, d: &str| if s.is_empty() { d.to_owned() } else { s.to_owned() };
        format!("{}_{}_{}", or(&id.group, "~G"), or(&id.version, "~V"), or(&id.kind, "~K"))
    };
    resources.sort_by(|a, b| {
        let (ia, ib) = (a.id(), b.id());
        let (ra, rb) = (rank(&ia.kind), rank(&ib.kind));
        if (ia.group.as_str(), ia.version.as_str(), ia.kind.as_str())
            != (ib.group.as_str(), ib.version.as_str(), ib.kind.as_str())
        {
            if ra != rb {
                return ra.cmp(&rb);
            }
            if ia.kind == "Namespace" && ib.kind == "Namespace" && (ia.group.is_empty() || ib.group.is_empty()) {
                return gvk(&ib).cmp(&gvk(&ia));
            }
            return gvk(&ia).cmp(&gvk(&ib));
        }
        let key = |id: &crate::resource::ResId| {
            let or = |s: &str, d: &str| if s.is_empty() { d.to_owned() } else { s.to_owned() };
            format!("{}|{}|{}", gvk(id), or(&id.namespace, "~X"), or(&id.name, "~N"))
        };
        key(&ia).cmp(&key(&ib))
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose reads hit a bug.
    struct Buggy;

    impl FileSource for Buggy {
        fn kind(&self, path: &str) -> PathKind {
            if path == "app/kustomization.yaml" { PathKind::File } else { PathKind::Dir }
        }
        fn read(&self, _: &str) -> Result<String, crate::SourceError> {
            panic!("a bug")
        }
    }

    #[test]
    fn a_panic_ends_the_render_with_an_error_not_the_run() {
        let e = render(&Buggy, "app").expect_err("a bug is an error");
        assert_eq!(e.path, "app/kustomization.yaml");
        assert!(e.message.contains("(a bug)") && e.message.contains("bug of tollgate"), "{}", e.message);
    }
}
