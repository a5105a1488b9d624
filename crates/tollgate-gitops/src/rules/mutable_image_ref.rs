//! `mutable-image-ref`: images that a `git revert` cannot roll back.

use tollgate_core::{DocumentContext, FileKind, Finding, Judged, Node, Route, Rule, RuleId, Severity};

use crate::image::{is_placeholder, is_valid_digest, moving_tag_reason, parse_image};
use crate::kube::containers;

/// Reports container images and Kustomize `images:` entries without a digest
/// whose tag is missing, `latest`, or names a branch or channel.
pub(crate) struct MutableImageRef;

impl Rule for MutableImageRef {
    fn page(&self) -> &'static str {
        RuleId::MutableImageRef.page()
    }

    fn judges(&self) -> Judged {
        Judged::Objects { kinds: &crate::kube::WORKLOADS, kustomizations: true }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let severity = if cx.is_protected() { Severity::Error } else { Severity::Warning };
        let where_ = if cx.is_protected() { " in a protected environment" } else { "" };
        if cx.file.kind == FileKind::Kustomization {
            check_kustomize_images(cx, severity, where_, out);
            return;
        }
        let Some(kind) = cx.kind() else { return };
        for container in containers(cx.document, kind) {
            let route = container.route.clone().key("image");
            let Some(image) = container.node.get_key("image") else { continue };
            let Some(reference) = image.as_str().map(str::trim) else { continue };
            if reference.is_empty() || is_placeholder(reference) {
                continue;
            }
            if let Some(problem) = problem(reference) {
                let who = if container.name.is_empty() {
                    String::from("A container")
                } else {
                    format!("Container `{}`", container.name)
                };
                cx.report(
                    &route,
                    format!(
                        "{who} runs `{reference}`, a mutable image reference{where_}: {problem}. A `git revert` cannot bring back what ran before. Pin the image by digest (`{}@sha256:…`) or an immutable version tag.",
                        parse_image(reference).name
                    ),
                )
                .severity(severity)
                .emit(out);
            }
        }
    }
}

/// What makes an image reference mutable, if anything.
fn problem(reference: &str) -> Option<String> {
    let image = parse_image(reference);
    if let Some(digest) = image.digest {
        return (!is_valid_digest(digest))
            .then(|| format!("its digest `{digest}` is not a valid sha256/sha512 digest"));
    }
    match image.tag {
        None => Some("it has no tag, so it means `latest`".to_owned()),
        Some("") => Some("its tag is empty".to_owned()),
        Some(tag) => moving_tag_reason(tag).map(|why| format!("tag `{tag}` is not pinned ({why})")),
    }
}

/// Kustomize `images:` entries: a `digest` pins; a `newTag` must not move.
fn check_kustomize_images(cx: &DocumentContext<'_>, severity: Severity, where_: &str, out: &mut Vec<Finding>) {
    let Some(images) = cx.document.root.get_key("images").and_then(Node::as_sequence) else { return };
    for (i, entry) in images.iter().enumerate() {
        let route = Route::root().key("images").index(i);
        let name = entry.get_key("name").and_then(Node::as_str).unwrap_or("");
        let shown = entry.get_key("newName").and_then(Node::as_str).unwrap_or(name);
        if let Some(digest) = entry.get_key("digest").and_then(Node::as_str) {
            if !is_valid_digest(digest) && !is_placeholder(digest) {
                cx.report(
                    &route.key("digest"),
                    format!("Kustomize image `{name}` has digest `{digest}`, which is not a valid sha256/sha512 digest{where_}. Use the full `sha256:` digest of the image."),
                )
                .severity(severity)
                .emit(out);
            }
            continue;
        }
        let Some(tag_node) = entry.get_key("newTag") else { continue };
        let Some(tag) = tag_node.as_str() else { continue };
        if is_placeholder(tag) {
            continue;
        }
        let why = if tag.is_empty() { Some("an empty tag means `latest`") } else { moving_tag_reason(tag) };
        if let Some(why) = why {
            cx.report(
                &route.key("newTag"),
                format!(
                    "Kustomize sets image `{name}` to `{shown}:{tag}`, a mutable tag{where_} ({why}). A `git revert` cannot bring back what ran before. Set `digest:` (or an immutable `newTag`) instead."
                ),
            )
            .severity(severity)
            .emit(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn classifies_references() {
        assert!(problem("nginx").is_some());
        assert!(problem("nginx:latest").is_some());
        assert!(problem("ghcr.io/org/app:main").is_some());
        assert!(problem("registry:5000/app").is_some());
        assert!(problem("nginx:1.27.3").is_none());
        assert!(problem("nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").is_none());
        assert!(
            problem("nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").is_none()
        );
        assert!(problem("nginx@sha256:abc").is_some());
    }
}
