//! Flux `Kustomization` objects as roots: what the kustomize-controller
//! builds and applies, rendered offline.
//!
//! A Flux `Kustomization` (`kustomize.toolkit.fluxcd.io`) builds
//! `spec.path` of its source. When that directory has no kustomization
//! file, Flux makes one listing every `.yaml`/`.yml` file below it, and every
//! subdirectory that holds a kustomization instead of the files inside it.
//! After the build, `spec.postBuild.substitute` (and `substituteFrom`
//! ConfigMaps and Secrets) replace `${var}` in the output; an object
//! annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is left
//! alone. A substituted value points at the line of the Flux object that
//! gave it.
//!
//! Only sources that are this repository can be rendered; a `spec.path`
//! that is not a directory of it is left out.

use std::collections::BTreeSet;

use tollgate_core::{RepositoryModel, Span};
use tollgate_yaml::{Node, ScalarStyle};

use crate::node::{FileId, Origin, RNode, RValue};

/// A directory a Flux `Kustomization` of this repository builds.
#[derive(Debug, Clone)]
pub(crate) struct FluxRoot {
    /// The directory.
    pub(crate) dir: String,
    /// The Flux object's file.
    pub(crate) file: String,
    /// The Flux object's name.
    pub(crate) name: String,
    /// `postBuild.substitute`, then `substituteFrom` values: name, value,
    /// where the value was written (the Flux file, or the ConfigMap's).
    pub(crate) vars: Vec<(String, String, String, Span)>,
    /// `substituteFrom` entries that name nothing in the repository.
    pub(crate) missing: Vec<(String, Span)>,
    /// The kustomization Flux generates when the directory has none.
    pub(crate) generated: Option<String>,
}

/// The Flux `Kustomization` objects of the repository whose `spec.path` is
/// a directory of it.
pub(crate) fn flux_roots(model: &RepositoryModel, has_kustomization: &dyn Fn(&str) -> bool) -> Vec<FluxRoot> {
    let mut out = Vec::new();
    for (file, doc, r) in model.objects() {
        if r.kind != "Kustomization" || !r.api_version.starts_with("kustomize.toolkit.fluxcd.io/") {
            continue;
        }
        let Some(spec) = doc.root.get_key("spec") else { continue };
        let Some(path) = spec.get_key("path").and_then(Node::as_str) else { continue };
        let Some(dir) = crate::source::join("", path.trim_start_matches("./")) else { continue };
        let prefix = format!("{dir}/");
        let is_dir = dir.is_empty()
            || model
                .files
                .iter()
                .map(|f| f.path.as_str())
                .chain(model.other_paths.iter().map(String::as_str))
                .any(|p| p.starts_with(&prefix));
        if !is_dir {
            continue;
        }
        let namespace = r.namespace.clone().unwrap_or_default();
        let mut vars = Vec::new();
        let mut missing = Vec::new();
        let post = spec.get_key("postBuild");
        if let Some(map) = post.and_then(|p| p.get_key("substitute")).and_then(Node::as_mapping) {
            for (key, value) in &map.entries {
                if let (Some(k), Some(v)) = (key.as_str(), value.as_str()) {
                    vars.push((k.to_owned(), v.to_owned(), file.path.clone(), value.span));
                }
            }
        }
        for from in post.and_then(|p| p.get_key("substituteFrom")).and_then(Node::as_sequence).unwrap_or_default() {
            let kind = from.get_key("kind").and_then(Node::as_str).unwrap_or_default();
            let name = from.get_key("name").and_then(Node::as_str).unwrap_or_default();
            let optional = from.get_key("optional").and_then(Node::as_bool).unwrap_or(false);
            let found = values_of(model, kind, name, &namespace);
            match found {
                // Inline values win over those from ConfigMaps and Secrets.
                Some(values) => {
                    for v in values {
                        if !vars.iter().any(|x| x.0 == v.0) {
                            vars.push(v);
                        }
                    }
                }
                None if optional => {}
                None => missing.push((format!("{kind} `{name}`"), from.span)),
            }
        }
        let generated = (!has_kustomization(&dir)).then(|| generate(model, &dir, has_kustomization));
        out.push(FluxRoot {
            dir,
            file: file.path.clone(),
            name: doc
                .root
                .get_key("metadata")
                .and_then(|m| m.get_key("name"))
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_owned(),
            vars,
            missing,
            generated,
        });
    }
    out
}

/// The values of a ConfigMap or Secret of the repository (`data`, and a
/// Secret's `stringData`; a Secret's `data` decoded from base64).
fn values_of(
    model: &RepositoryModel,
    kind: &str,
    name: &str,
    namespace: &str,
) -> Option<Vec<(String, String, String, Span)>> {
    let (file, doc, _) = model.objects().find(|(_, _, r)| {
        r.kind == kind
            && r.name == name
            && r.api_version == "v1"
            && r.namespace.as_deref().is_none_or(|ns| ns == namespace || namespace.is_empty())
    })?;
    let mut out = Vec::new();
    for field in ["data", "stringData"] {
        let Some(map) = doc.root.get_key(field).and_then(Node::as_mapping) else { continue };
        for (key, value) in &map.entries {
            let (Some(k), Some(v)) = (key.as_str(), value.as_str()) else { continue };
            let v = if kind == "Secret" && field == "data" {
                String::from_utf8(tollgate_yaml::decode_base64(v)?).ok()?
            } else {
                v.to_owned()
            };
            out.push((k.to_owned(), v, file.path.clone(), value.span));
        }
    }
    Some(out)
}

/// The kustomization Flux generates for a directory without one.
fn generate(model: &RepositoryModel, dir: &str, has_kustomization: &dyn Fn(&str) -> bool) -> String {
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let mut resources: BTreeSet<String> = BTreeSet::new();
    for path in model.files.iter().map(|f| f.path.as_str()).chain(model.other_paths.iter().map(String::as_str)) {
        let Some(rel) = path.strip_prefix(&prefix) else { continue };
        // The first subdirectory on the way that holds a kustomization
        // stands for everything below it.
        let mut sub = String::new();
        let mut included_dir = None;
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !sub.is_empty() {
                sub.push('/');
            }
            sub.push_str(part);
            if has_kustomization(&format!("{prefix}{sub}")) {
                included_dir = Some(sub.clone());
                break;
            }
        }
        match included_dir {
            Some(d) => {
                resources.insert(d);
            }
            None if rel.ends_with(".yaml") || rel.ends_with(".yml") => {
                resources.insert(rel.to_owned());
            }
            None => {}
        }
    }
    let mut text = String::from("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n");
    for r in resources {
        text.push_str(&format!("- {}\n", crate::emit::to_yaml(&[&RNode::string(r, Origin::default())]).trim_end()));
    }
    text
}

/// Replaces `${var}` (and `${var:=default}`, `${var:-default}`,
/// `${var=default}`, `${var-default}`) in every string of `node`; `$$`
/// is a `$`. A variable not set and without a default becomes empty, as
/// Flux does when substitution is not strict. A changed value points at
/// the line that gave its (first) variable.
pub(crate) fn substitute(node: &mut RNode, vars: &[(String, String, Origin)]) {
    node.for_each_mut(&mut |n| {
        if let RValue::Scalar(s) = &mut n.value
            && s.text.contains('$')
            && let Some((text, origin)) = expand(&s.text, vars)
        {
            // The output is YAML read back: a plain scalar stays plain.
            let style = if s.style == ScalarStyle::Plain { ScalarStyle::Plain } else { ScalarStyle::DoubleQuoted };
            s.text = text.into();
            s.style = style;
            if let Some(origin) = origin {
                n.origin = origin;
            }
        }
    });
}

/// The text with its variables replaced, and the origin of the first one;
/// None when nothing changes.
fn expand(text: &str, vars: &[(String, String, Origin)]) -> Option<(String, Option<Origin>)> {
    let mut out = String::with_capacity(text.len());
    let mut origin = None;
    let mut changed = false;
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            changed = true;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            out.push('$');
            rest = after;
            continue;
        };
        let inner = &body[..end];
        let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_len);
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let default = match op {
            "" => Some(None),
            _ => [":=", ":-", "=", "-"].iter().find(|o| op.starts_with(**o)).map(|o| Some(&op[o.len()..])),
        };
        let (true, Some(default)) = (valid, default) else {
            out.push('$');
            rest = after;
            continue;
        };
        let set = vars.iter().find(|(n, _, _)| n == name);
        let empty_counts = op.starts_with(':');
        match (set, default) {
            (Some((_, v, o)), Some(d)) if v.is_empty() && empty_counts => {
                out.push_str(d);
                origin = origin.or(Some(*o));
            }
            (Some((_, v, o)), _) => {
                out.push_str(v);
                origin = origin.or(Some(*o));
            }
            (None, Some(d)) => out.push_str(d),
            (None, None) => {}
        }
        changed = true;
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    changed.then_some((out, origin))
}

/// Whether Flux leaves an object's variables alone.
pub(crate) fn substitution_disabled(node: &RNode) -> bool {
    node.at("metadata/annotations")
        .and_then(|a| a.get("kustomize.toolkit.fluxcd.io/substitute"))
        .and_then(RNode::as_str)
        == Some("disabled")
}

/// Origins of variables, with the file index each file has in a render.
pub(crate) fn var_origins(
    vars: &[(String, String, String, Span)],
    file_id: &mut dyn FnMut(&str) -> FileId,
) -> Vec<(String, String, Origin)> {
    vars.iter().map(|(n, v, path, span)| (n.clone(), v.clone(), Origin { file: file_id(path), span: *span })).collect()
}

#[cfg(test)]
mod tests {
    use super::expand;
    use crate::node::Origin;

    #[test]
    fn variables_expand_as_flux_does() {
        let o = Origin::default();
        let vars = vec![("env".to_owned(), "prod".to_owned(), o), ("empty".to_owned(), String::new(), o)];
        let e = |t: &str| expand(t, &vars).map(|(s, _)| s);
        assert_eq!(e("app-${env}").as_deref(), Some("app-prod"));
        assert_eq!(e("${missing:=eu}-${env}").as_deref(), Some("eu-prod"));
        assert_eq!(e("${empty:-x}|${empty-y}").as_deref(), Some("x|"));
        assert_eq!(e("${missing}").as_deref(), Some(""));
        assert_eq!(e("$${env} $env ${1x}").as_deref(), Some("${env} $env ${1x}"));
        assert_eq!(e("no variables"), None);
    }
}
