//! A kustomization file, read with the origin of every field.

use tollgate_yaml::{ScalarStyle, Span};

use crate::RenderError;
use crate::node::{FileId, Origin, RNode, RValue};

/// The file names kustomize looks for in a directory, in its order.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields tollgate renders.
const SUPPORTED: [&str; 28] = [
    "replacements",
    "vars",
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "sortOptions",
    "buildMetadata",
    "generators",
    "transformers",
    "configurations",
    "openapi",
];

/// Fields kustomize knows that tollgate does not render, with why.
const REFUSED: [(&str, &str); 8] = [
    ("helmCharts", "Helm charts are rendered by running Helm, which tollgate never does"),
    ("helmGlobals", "Helm charts are rendered by running Helm, which tollgate never does"),
    ("helmChartInflationGenerator", "Helm charts are rendered by running Helm, which tollgate never does"),
    ("validators", "validator plugins run programs, which tollgate never does"),
    ("crds", "CRD field specs are not rendered by tollgate yet"),
    ("imageTags", "the legacy `imageTags` field is not rendered by tollgate yet"),
    ("inventory", "`inventory` is not rendered by tollgate yet"),
    ("patchesJson6902Inline", "this field is not rendered by tollgate"),
];

/// kustomize decodes a kustomization with Go's `encoding/json`, which matches
/// field names without regard to ASCII case (`nameprefix` is `namePrefix`)
/// and keeps the last of two spellings of one field: so does tollgate.
fn canonical_keys(root: &mut RNode) {
    let Some(entries) = root.as_map_mut() else { return };
    for (key, _) in entries.iter_mut() {
        let known = SUPPORTED.iter().copied().chain(REFUSED.iter().map(|(f, _)| *f));
        if let Some(canonical) = known.clone().find(|f| *f == key.text).or_else(|| {
            let mut folded = known.filter(|f| f.eq_ignore_ascii_case(&key.text));
            folded.next()
        }) {
            key.text = canonical.to_owned();
        }
    }
    let mut i = 0;
    while i < entries.len() {
        if entries[i + 1..].iter().any(|(k, _)| k.text == entries[i].0.text) {
            entries.remove(i);
        } else {
            i += 1;
        }
    }
}

/// A loaded kustomization (or component).
#[derive(Debug, Clone)]
pub(crate) struct Kustomization {
    /// Its directory, repository-relative.
    pub(crate) dir: String,
    /// Its file.
    pub(crate) file: FileId,
    /// Its path, for messages.
    pub(crate) path: String,
    /// Whether it is a `Component`.
    pub(crate) component: bool,
    /// The file's content.
    pub(crate) root: RNode,
}

impl Kustomization {
    /// Reads a kustomization from its parsed root node, rejecting fields
    /// kustomize does not know and naming those tollgate does not render.
    pub(crate) fn new(dir: String, path: String, file: FileId, mut root: RNode) -> Result<Kustomization, RenderError> {
        let err = |origin: Origin, message: String| RenderError::at(&path, origin.span, message);
        canonical_keys(&mut root);
        let Some(map) = root.as_map() else {
            if root.is_null() {
                return Err(err(root.origin, "the kustomization is empty".to_owned()));
            }
            return Err(err(root.origin, "a kustomization must be a mapping".to_owned()));
        };
        for (key, _) in map {
            if let Some((_, why)) = REFUSED.iter().find(|(f, _)| *f == key.text) {
                return Err(RenderError::unsupported(&path, key.origin.span, format!("`{}`: {why}", key.text)));
            }
            if !SUPPORTED.contains(&key.text.as_str()) {
                return Err(err(key.origin, format!("unknown field `{}` in the kustomization", key.text)));
            }
        }
        let kind = root.str_at("kind").unwrap_or("Kustomization");
        let component = match kind {
            "Kustomization" => false,
            "Component" => true,
            other => {
                let origin = root.get("kind").map_or(root.origin, |n| n.origin);
                return Err(err(origin, format!("kind should be Kustomization or Component, not `{other}`")));
            }
        };
        // `openapi`: kustomize's built-in Kubernetes schema (v1.21.2, whose
        // merge keys tollgate's strategic merge follows) is the only version
        // it has; a custom schema changes how custom resources merge.
        if let Some(o) = root.get("openapi").filter(|o| !o.is_null()) {
            if let Some(schema) = o.get("path").filter(|p| !p.is_null()) {
                return Err(RenderError::unsupported(
                    &path,
                    schema.origin.span,
                    "a custom OpenAPI schema (`openapi.path`) is not rendered by tollgate yet: it changes how strategic merge patches merge custom resources".to_owned(),
                ));
            }
            if let Some(version) = o.get("version").and_then(RNode::as_str).filter(|v| !v.is_empty() && *v != "v1.21.2")
            {
                return Err(err(
                    o.origin,
                    format!(
                        "the OpenAPI version `{version}` is not built into kustomize (only v1.21.2 is), so kustomize refuses this build"
                    ),
                ));
            }
        }
        if let Some(b) = root.get("buildMetadata").filter(|b| !b.is_null())
            && b.as_seq().is_none_or(|items| items.iter().any(|i| i.as_str().is_none()))
        {
            return Err(err(b.origin, "`buildMetadata` must be a list of strings".to_owned()));
        }
        Ok(Kustomization { dir, file, path, component, root })
    }

    /// The field, when present and not null.
    pub(crate) fn field(&self, key: &str) -> Option<&RNode> {
        self.root.get(key).filter(|n| !n.is_null())
    }

    /// A list of strings (`resources`, `components`), each with its origin.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<(String, Origin)>, RenderError> {
        let Some(node) = self.field(key) else { return Ok(Vec::new()) };
        let Some(items) = node.as_seq() else {
            return Err(self.error(node.origin, format!("`{key}` must be a list of strings")));
        };
        items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) if !i.is_null() => Ok((s.to_owned(), i.origin)),
                _ => Err(self.error(i.origin, format!("`{key}` must be a list of strings"))),
            })
            .collect()
    }

    /// A string field.
    pub(crate) fn string(&self, key: &str) -> Result<Option<(String, Origin)>, RenderError> {
        match self.field(key) {
            None => Ok(None),
            Some(n) => match n.as_str() {
                Some(s) => Ok(Some((s.to_owned(), n.origin))),
                None => Err(self.error(n.origin, format!("`{key}` must be a string"))),
            },
        }
    }

    /// A `map[string]string` field (labels, annotations): values as kustomize
    /// decodes them (YAML 1.1 through JSON: a plain `1` is not a string).
    pub(crate) fn string_map(&self, key: &str) -> Result<Vec<(String, String, Origin)>, RenderError> {
        let Some(node) = self.field(key) else { return Ok(Vec::new()) };
        string_map_of(node, key, &self.path)
    }

    /// An error at `origin` of this kustomization.
    pub(crate) fn error(&self, origin: Origin, message: String) -> RenderError {
        RenderError::at(&self.path, origin.span, message)
    }
}

/// Reads a `map[string]string` as kustomize's Go structs do.
pub(crate) fn string_map_of(node: &RNode, key: &str, path: &str) -> Result<Vec<(String, String, Origin)>, RenderError> {
    let Some(map) = node.as_map() else {
        return Err(RenderError::at(path, node.origin.span, format!("`{key}` must be a mapping of strings")));
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let text = match &v.value {
            RValue::Scalar(s) if s.is_null() => String::new(),
            RValue::Scalar(s) if s.style != ScalarStyle::Plain || s.is_string() => s.text.to_string(),
            _ => {
                return Err(RenderError::at(
                    path,
                    v.origin.span,
                    format!("`{key}.{}` must be a string (quote it: \"{}\")", k.text, v.as_str().unwrap_or_default()),
                ));
            }
        };
        out.push((k.text.clone(), text, v.origin));
    }
    Ok(out)
}

/// Whether a resource path names a remote base (a URL or a git address).
pub(crate) fn is_remote(path: &str) -> bool {
    path.contains("://")
        || path.starts_with("git@")
        || path.starts_with("github.com/")
        || path.starts_with("gitlab.com/")
        || path.starts_with("bitbucket.org/")
        || path.contains("?ref=")
        || path.contains(".git//")
}

/// The origin of a whole kustomization file (its first line).
pub(crate) fn file_origin(file: FileId) -> Origin {
    let start = tollgate_yaml::Position { line: 1, column: 1, offset: 0 };
    Origin { file, span: Span { start, end: start } }
}
