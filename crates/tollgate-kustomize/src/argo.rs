//! Argo CD `source.kustomize` overrides, rendered as Argo CD applies them.
//!
//! Argo CD edits the kustomization of the Application's path before it
//! builds it (`kustomize edit set image`, `set nameprefix`, ...). tollgate
//! renders the same result offline with an overlay made in memory: a
//! kustomization beside the path that includes it and carries the
//! overrides. Each line of that overlay maps back to the Application's
//! line, so a finding on an overridden value (an image Argo CD sets to
//! `latest`) is reported in the Application.
//!
//! The overlay runs the overrides after the path's own transformers, where
//! Argo CD changes the path's own fields; that gives the same objects,
//! except for `namePrefix` and `nameSuffix`, which Argo CD sets in the
//! path's kustomization (`kustomize edit set nameprefix`), replacing its
//! own: those are edits of the path's kustomization, made before it is
//! built.

use tollgate_core::Span;
use tollgate_yaml::Node;

use crate::node::{FileId, Origin, RNode};

/// An overlay made for an Application's overrides.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    /// The overlay's directory (in memory), which includes the path.
    pub(crate) dir: String,
    /// Its kustomization file and text.
    pub(crate) path: String,
    pub(crate) text: String,
    /// The Application's span for each line of the text.
    lines: Vec<Span>,
    /// The Application's file.
    pub(crate) application: String,
    /// `namePrefix` and `nameSuffix`, set in the path's kustomization.
    pub(crate) edits: Vec<crate::build::Edit>,
}

impl Overlay {
    /// The Application's span for a 1-based line of the overlay.
    pub(crate) fn line_span(&self, line: u32) -> Span {
        let index = usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX);
        self.lines.get(index).or_else(|| self.lines.first()).copied().unwrap_or_default()
    }

    /// Moves origins in the overlay (`overlay` is its file id in a render)
    /// to the Application's lines (`application` its id).
    pub(crate) fn remap(&self, node: &mut RNode, overlay: FileId, application: FileId) {
        crate::origin::remap_where(node, overlay, &|span| {
            let line = usize::try_from(span.start.line.saturating_sub(1)).unwrap_or(usize::MAX);
            let at = self.lines.get(line).or_else(|| self.lines.first()).copied().unwrap_or_default();
            Origin { file: application, span: at }
        });
    }
}

/// The overlay that applies `kustomize` (an Application source's
/// `kustomize` field) to `dir`; `name` names the Application.
pub(crate) fn overlay(
    application: &str,
    name: &str,
    dir: &str,
    kustomize: &Node,
    read: &dyn Fn(&str) -> Option<String>,
) -> Overlay {
    let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let overlay_dir =
        if dir.is_empty() { format!(".tollgate-argocd/{safe}") } else { format!("{dir}/.tollgate-argocd/{safe}") };
    let mut w = Writer { text: String::new(), lines: Vec::new() };
    let whole = kustomize.span;
    w.line("apiVersion: kustomize.config.k8s.io/v1beta1", whole);
    w.line("kind: Kustomization", whole);
    w.line("resources:", whole);
    w.line("- ../..", whole);
    let mut edits = Vec::new();
    for key in ["namePrefix", "nameSuffix"] {
        if let Some(v) = kustomize.get_key(key).and_then(|v| v.as_str().map(|s| (s, v.span))) {
            edits.push(crate::build::Edit {
                dir: dir.to_owned(),
                field: key,
                value: v.0.to_owned(),
                file: application.to_owned(),
                span: v.1,
            });
        }
    }
    if let Some(v) = kustomize.get_key("namespace").filter(|v| v.as_str().is_some()) {
        w.line(&format!("namespace: {}", quote(v.as_str().unwrap_or_default())), v.span);
    }
    for key in ["commonLabels", "commonAnnotations"] {
        let Some(map) = kustomize.get_key(key).and_then(Node::as_mapping) else { continue };
        w.line(&format!("{key}:"), kustomize.get_key(key).map_or(whole, |n| n.span));
        for (k, v) in &map.entries {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                w.line(&format!("  {}: {}", quote(k), quote(v)), v_span(v, k, map));
            }
        }
    }
    if let Some(images) = kustomize.get_key("images").and_then(Node::as_sequence) {
        w.line("images:", whole);
        for image in images {
            let Some(text) = image.as_str() else { continue };
            let (name, new_name, tag, digest) = parse_override(text);
            w.line(&format!("- name: {}", quote(&name)), image.span);
            if let Some(n) = new_name {
                w.line(&format!("  newName: {}", quote(&n)), image.span);
            }
            if let Some(t) = tag {
                w.line(&format!("  newTag: {}", quote(&t)), image.span);
            }
            if let Some(d) = digest {
                w.line(&format!("  digest: {}", quote(&d)), image.span);
            }
        }
    }
    if let Some(replicas) = kustomize.get_key("replicas").and_then(Node::as_sequence) {
        w.line("replicas:", whole);
        for r in replicas {
            let name = r.get_key("name").and_then(Node::as_str).unwrap_or_default();
            let count = r.get_key("count").map(|c| c.to_json().to_string()).unwrap_or_default();
            w.line(&format!("- name: {}", quote(name)), r.span);
            w.line(&format!("  count: {count}"), r.get_key("count").map_or(r.span, |c| c.span));
        }
    }
    if let Some(components) = kustomize.get_key("components").and_then(Node::as_sequence) {
        w.line("components:", whole);
        for c in components {
            if let Some(path) = c.as_str() {
                w.line(&format!("- {}", quote(&format!("../../{path}"))), c.span);
            }
        }
    }
    if let Some(patches) = kustomize.get_key("patches").and_then(Node::as_sequence) {
        w.line("patches:", whole);
        for p in patches {
            let mut json = p.to_json();
            // A patch file is named relative to the Application's path; the
            // overlay may read nothing outside its own directory, so the
            // patch is written inline (a missing file stays a path, which
            // the render then names).
            if let Some(path) = json.get("path").and_then(|v| v.as_str()).map(str::to_owned) {
                let full = crate::source::join(dir, &path);
                match full.and_then(|f| read(&f)) {
                    Some(text) => {
                        if let Some(obj) = json.as_object_mut() {
                            obj.remove("path");
                            obj.insert("patch".to_owned(), serde_json::Value::String(text));
                        }
                    }
                    None => json["path"] = serde_json::Value::String(format!("../../{path}")),
                }
            }
            w.line(&format!("- {json}"), p.span);
        }
    }
    Overlay {
        path: format!("{overlay_dir}/kustomization.yaml"),
        dir: overlay_dir,
        text: w.text,
        lines: w.lines,
        application: application.to_owned(),
        edits,
    }
}

/// The span of a mapping's value for `key`.
fn v_span(_value: &str, key: &str, map: &tollgate_yaml::Mapping) -> Span {
    map.entry(key).map_or_else(Span::default, |(_, v)| v.span)
}

/// A YAML double-quoted string (JSON's quoting is valid YAML).
fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

struct Writer {
    text: String,
    lines: Vec<Span>,
}

impl Writer {
    fn line(&mut self, text: &str, span: Span) {
        self.text.push_str(text);
        self.text.push('\n');
        self.lines.push(span);
    }
}

/// An Argo CD image override: `name=newName:tag`, `name=newName@digest`,
/// `name:tag`, `name@digest` or `name=newName`; returns the name and the
/// new name, tag and digest it sets.
fn parse_override(text: &str) -> (String, Option<String>, Option<String>, Option<String>) {
    let (name, reference) = match text.split_once('=') {
        Some((name, reference)) => (Some(name.to_owned()), reference),
        None => (None, text),
    };
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d.to_owned())),
        None => (reference, None),
    };
    // A tag follows the last `:` after the last `/` (a registry port is not a tag).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (image, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_owned())),
        None => (rest, None),
    };
    match name {
        Some(name) => {
            let new_name = (image != name).then(|| image.to_owned());
            (name, new_name, tag, digest)
        }
        None => (image.to_owned(), None, tag, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_override;

    #[test]
    fn image_overrides_read_as_argo_cd_writes_them() {
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(parse_override("nginx:1.27"), ("nginx".into(), None, s("1.27"), None));
        assert_eq!(
            parse_override("nginx=ghcr.io/acme/nginx:2"),
            ("nginx".into(), s("ghcr.io/acme/nginx"), s("2"), None)
        );
        assert_eq!(
            parse_override("registry:5000/web@sha256:ab"),
            ("registry:5000/web".into(), None, None, s("sha256:ab"))
        );
        assert_eq!(parse_override("web=web"), ("web".into(), None, None, None));
    }
}
