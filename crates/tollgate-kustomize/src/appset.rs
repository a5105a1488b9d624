//! Argo CD `ApplicationSet`s: the Applications their generators make, where
//! the generators can be expanded offline from the repository itself.
//!
//! A `list` generator's elements, a `git` generator's `directories` (globs
//! over the repository's directories, `exclude` entries removed) or `files`
//! (the keys of each matching JSON or YAML file), and a `matrix` of those
//! give each generated Application its parameters; the template is filled
//! in as Argo CD fills it in (`{{path.basename}}`, or with `goTemplate:
//! true`, `{{.path.basename}}` and `{{index .path.segments 1}}`).
//! Generators that need a cluster (`clusters`, pull requests, SCM
//! providers, plugins) cannot be expanded: the caller is told, and the paths
//! they would deploy are judged as plain roots.

use std::collections::BTreeMap;

use tollgate_core::{Node, Span, Value};

/// One Application an ApplicationSet generates.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    /// Its `metadata.name`.
    pub(crate) name: String,
    /// Its `spec`, parameters filled in (spans are the template's).
    pub(crate) spec: Node,
}

/// What an ApplicationSet's generators give offline.
#[derive(Debug)]
pub(crate) enum Expansion {
    /// The Applications generated.
    Applications(Vec<Generated>),
    /// A generator needs live data: its kind and where it is.
    Live(String, Span),
}

/// The parameters of one generated Application, by the name a template
/// uses (`path`, `path.basename`, `path[1]`, an element's `env`).
type Params = BTreeMap<String, String>;

/// The repository as generators read it.
pub(crate) struct Repo<'a> {
    /// Every directory that holds a file.
    pub(crate) dirs: &'a [&'a str],
    /// Every file.
    pub(crate) files: &'a [&'a str],
    /// The parsed documents of a YAML or JSON file.
    pub(crate) read: &'a dyn Fn(&str) -> Option<Vec<Node>>,
}

/// Expands an ApplicationSet (its document root); `dirs` are the
/// repository's directories.
pub(crate) fn expand(root: &Node, repo: &Repo<'_>) -> Expansion {
    let Some(spec) = root.get_key("spec") else { return Expansion::Applications(Vec::new()) };
    let go = spec.get_key("goTemplate").and_then(Node::as_bool) == Some(true);
    let Some(template) = spec.get_key("template") else { return Expansion::Applications(Vec::new()) };
    let mut all: Vec<Params> = Vec::new();
    for generator in spec.get_key("generators").and_then(Node::as_sequence).unwrap_or_default() {
        match params_of(generator, repo, go) {
            Ok(params) => all.extend(params),
            Err(live) => return live,
        }
    }
    let mut out = Vec::new();
    for params in &all {
        let Some(filled) = fill(template, params, go) else { continue };
        let name = filled.get_key("metadata").and_then(|m| m.get_key("name")).and_then(Node::as_str).unwrap_or("");
        let Some(spec) = filled.get_key("spec") else { continue };
        out.push(Generated { name: name.to_owned(), spec: spec.clone() });
    }
    Expansion::Applications(out)
}

/// The parameter sets of one generator.
fn params_of(generator: &Node, repo: &Repo<'_>, go: bool) -> Result<Vec<Params>, Expansion> {
    let Some(map) = generator.as_mapping() else { return Ok(Vec::new()) };
    let Some((kind, body)) = map.iter().find(|(k, _)| *k != "selector" && *k != "values") else {
        return Ok(Vec::new());
    };
    match kind {
        "list" => Ok(list(body)),
        "git" => Ok(git(body, repo)),
        "matrix" => {
            let children = body.get_key("generators").and_then(Node::as_sequence).unwrap_or_default();
            let mut product: Vec<Params> = vec![Params::new()];
            for child in children {
                let mut next = Vec::new();
                for left in &product {
                    // A child may use the parameters of the ones before it.
                    let child = fill(child, left, go).unwrap_or_else(|| child.clone());
                    for right in params_of(&child, repo, go)? {
                        let mut merged = left.clone();
                        merged.extend(right);
                        next.push(merged);
                    }
                }
                product = next;
            }
            Ok(product)
        }
        other => Err(Expansion::Live(other.to_owned(), generator.span)),
    }
}

/// A `list` generator's elements, nested keys flattened (`values.env`).
fn list(body: &Node) -> Vec<Params> {
    let mut out = Vec::new();
    for element in body.get_key("elements").and_then(Node::as_sequence).unwrap_or_default() {
        let mut params = Params::new();
        flatten("", element, &mut params);
        out.push(params);
    }
    out
}

fn flatten(prefix: &str, node: &Node, params: &mut Params) {
    match &node.value {
        Value::Scalar(s) if !prefix.is_empty() => {
            params.insert(prefix.to_owned(), s.text.to_string());
        }
        Value::Mapping(m) => {
            for (k, v) in m.iter() {
                let key = if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
                flatten(&key, v, params);
            }
        }
        _ => {}
    }
}

/// A `git` generator: its `directories` (globs over the repository's
/// directories, `exclude` entries removed), or its `files` (each matching
/// JSON or YAML file gives its keys, flattened, with the `path` parameters
/// of its directory; a file holding a list gives one set per item).
fn git(body: &Node, repo: &Repo<'_>) -> Vec<Params> {
    let globs = |field: &str| {
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for entry in body.get_key(field).and_then(Node::as_sequence).unwrap_or_default() {
            let Some(pattern) = entry.get_key("path").and_then(Node::as_str) else { continue };
            let Ok(glob) = tollgate_core::compile_glob(pattern.trim_start_matches("./")) else { continue };
            if entry.get_key("exclude").and_then(Node::as_bool) == Some(true) {
                exclude.push(glob.compile_matcher());
            } else {
                include.push(glob.compile_matcher());
            }
        }
        move |path: &str| include.iter().any(|g| g.is_match(path)) && !exclude.iter().any(|g| g.is_match(path))
    };
    let visible = |path: &&&str| !path.is_empty() && !path.split('/').any(|s| s.starts_with('.'));
    let mut out = Vec::new();
    let dirs = globs("directories");
    for dir in repo.dirs.iter().filter(visible).filter(|d| dirs(d)) {
        out.push(directory_params(dir));
    }
    let files = globs("files");
    for file in repo.files.iter().filter(visible).filter(|f| files(f)) {
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        let name = file.rsplit('/').next().unwrap_or(file);
        for doc in (repo.read)(file).unwrap_or_default() {
            let items = match doc.as_sequence() {
                Some(items) => items.to_vec(),
                None => vec![doc],
            };
            for item in items {
                let mut params = directory_params(dir);
                params.insert("path.filename".to_owned(), name.to_owned());
                flatten("", &item, &mut params);
                out.push(params);
            }
        }
    }
    out
}

/// Argo CD's parameters of a directory.
fn directory_params(dir: &str) -> Params {
    let basename = dir.rsplit('/').next().unwrap_or(dir);
    let mut params = Params::new();
    params.insert("path".to_owned(), dir.to_owned());
    params.insert("path.path".to_owned(), dir.to_owned());
    params.insert("path.basename".to_owned(), basename.to_owned());
    let normalized: String =
        basename.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect();
    params.insert("path.basenameNormalized".to_owned(), normalized);
    for (i, segment) in dir.split('/').enumerate() {
        params.insert(format!("path[{i}]"), segment.to_owned());
    }
    params
}

/// The template with its parameters filled in; `None` when a Go template
/// uses what tollgate does not evaluate (functions, pipelines).
fn fill(node: &Node, params: &Params, go: bool) -> Option<Node> {
    let value = match &node.value {
        Value::Scalar(s) => {
            let mut s = s.clone();
            if s.text.contains("{{") {
                s.text = substitute(&s.text, params, go)?.into();
            }
            Value::Scalar(s)
        }
        Value::Sequence(items) => {
            Value::Sequence(items.iter().map(|n| fill(n, params, go)).collect::<Option<Vec<_>>>()?.into())
        }
        Value::Mapping(m) => {
            let entries =
                m.entries.iter().map(|(k, v)| Some((k.clone(), fill(v, params, go)?))).collect::<Option<Vec<_>>>()?;
            Value::Mapping(tollgate_yaml::Mapping { entries: entries.into() })
        }
    };
    Some(Node { value, span: node.span })
}

/// Fills the `{{…}}` placeholders of one string.
fn substitute(text: &str, params: &Params, go: bool) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let tag = after[..close].trim_matches('-').trim();
        if go {
            out.push_str(&go_value(tag, params)?);
        } else {
            // Argo CD leaves a tag it has no parameter for as it is.
            if let Some(v) = params.get(tag) {
                out.push_str(v);
            } else {
                out.push_str("{{");
                out.push_str(&after[..close]);
                out.push_str("}}");
            }
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// A Go template action tollgate evaluates: `.a.b` and `index .path.segments N`.
fn go_value(tag: &str, params: &Params) -> Option<String> {
    if let Some(path) = tag.strip_prefix('.') {
        if path.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') {
            return params.get(path).cloned();
        }
        return None;
    }
    let mut words = tag.split_whitespace();
    if words.next() == Some("index") && words.next() == Some(".path.segments") {
        let n: usize = words.next()?.parse().ok()?;
        if words.next().is_none() {
            return params.get(&format!("path[{n}]")).cloned();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appset(yaml: &str, dirs: &[&str]) -> Vec<(String, String, String)> {
        let docs = tollgate_yaml::parse_yaml(yaml, &tollgate_yaml::Limits::default()).expect("yaml");
        let files = ["clusters/eu/config.json", "clusters/us/config.json", "clusters/us/README.md"];
        let read = |path: &str| -> Option<Vec<Node>> {
            let text = match path {
                "clusters/eu/config.json" => r#"{"cluster": {"name": "prod-eu"}}"#,
                "clusters/us/config.json" => r#"[{"cluster": {"name": "dev-us"}}]"#,
                _ => return None,
            };
            let docs = tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default()).ok()?;
            Some(docs.into_iter().map(|d| d.root).collect())
        };
        let repo = Repo { dirs, files: &files, read: &read };
        match expand(&docs[0].root, &repo) {
            Expansion::Applications(apps) => apps
                .into_iter()
                .map(|a| {
                    let get = |p: &str| {
                        a.spec.get(&tollgate_core::Route::parse(p)).and_then(Node::as_str).unwrap_or("").to_owned()
                    };
                    (a.name, get("/source/path"), get("/destination/namespace"))
                })
                .collect(),
            Expansion::Live(kind, _) => vec![(format!("live {kind}"), String::new(), String::new())],
        }
    }

    #[test]
    fn git_directories_fill_the_template() {
        let yaml = "kind: ApplicationSet
spec:
  generators:
  - git:
      repoURL: https://example.com/repo.git
      directories:
      - path: apps/*/overlays/*
      - path: apps/legacy/overlays/*
        exclude: true
  template:
    metadata: {name: '{{path[1]}}-{{path.basename}}'}
    spec:
      source: {path: '{{path}}'}
      destination: {namespace: '{{path.basename}}'}
";
        let dirs =
            ["apps", "apps/web", "apps/web/overlays", "apps/web/overlays/prod", "apps/legacy/overlays/prod", ".git/x"];
        assert_eq!(
            appset(yaml, &dirs),
            [("web-prod".to_owned(), "apps/web/overlays/prod".to_owned(), "prod".to_owned())]
        );
    }

    #[test]
    fn lists_matrices_and_go_templates() {
        let yaml = "kind: ApplicationSet
spec:
  goTemplate: true
  generators:
  - matrix:
      generators:
      - list:
          elements:
          - {env: prod, values: {ns: shop-prod}}
      - git:
          directories:
          - path: 'apps/*/{{.env}}'
  template:
    metadata: {name: '{{index .path.segments 1}}-{{.env}}'}
    spec:
      source: {path: '{{.path.path}}'}
      destination: {namespace: '{{ .values.ns }}'}
";
        assert_eq!(
            appset(yaml, &["apps/web/prod", "apps/web/dev"]),
            [("web-prod".to_owned(), "apps/web/prod".to_owned(), "shop-prod".to_owned())]
        );
        // A function tollgate does not evaluate: nothing is guessed.
        let piped = yaml.replace("'{{ .values.ns }}'", "'{{ .values.ns | upper }}'");
        assert!(appset(&piped, &["apps/web/prod"]).is_empty());
    }

    #[test]
    fn git_files_give_their_keys() {
        let yaml = "kind: ApplicationSet
spec:
  generators:
  - git:
      files:
      - path: clusters/*/config.json
  template:
    metadata: {name: '{{cluster.name}}-{{path.basename}}'}
    spec:
      source: {path: 'apps/{{path.basename}}'}
      destination: {namespace: '{{cluster.name}}'}
";
        assert_eq!(
            appset(yaml, &[]),
            [
                ("prod-eu-eu".to_owned(), "apps/eu".to_owned(), "prod-eu".to_owned()),
                ("dev-us-us".to_owned(), "apps/us".to_owned(), "dev-us".to_owned())
            ]
        );
    }

    #[test]
    fn cluster_generators_need_live_data() {
        let yaml = "kind: ApplicationSet\nspec:\n  generators:\n  - clusters: {}\n  template: {metadata: {name: x}, spec: {}}\n";
        assert_eq!(appset(yaml, &[])[0].0, "live clusters");
    }
}
