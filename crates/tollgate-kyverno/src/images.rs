//! Kyverno's `images` variable: every container image of a Pod or Pod
//! template, split into registry, path, name, tag and digest.

use serde_json::{Map, Value};

/// `images.{containers,initContainers,ephemeralContainers}.<name>` for a
/// resource; `null` when it holds no Pod spec.
pub(crate) fn images_of(resource: &Value) -> Value {
    let kind = resource.get("kind").and_then(Value::as_str).unwrap_or("");
    let spec = match kind {
        "Pod" => resource.get("spec"),
        "CronJob" => resource.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => resource.pointer("/spec/template/spec"),
    };
    let Some(spec) = spec else { return Value::Null };
    let mut out = Map::new();
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(items) = spec.get(list).and_then(Value::as_array) else { continue };
        let mut m = Map::new();
        for c in items {
            let (Some(name), Some(image)) =
                (c.get("name").and_then(Value::as_str), c.get("image").and_then(Value::as_str))
            else {
                continue;
            };
            if let Some(info) = image_info(image) {
                m.insert(name.to_string(), info);
            }
        }
        if !m.is_empty() {
            out.insert(list.to_string(), Value::Object(m));
        }
    }
    if out.is_empty() { Value::Null } else { Value::Object(out) }
}

/// Splits an image reference the way Kyverno does (default registry
/// `docker.io`, default tag `latest` when there is neither tag nor digest).
pub(crate) fn image_info(image: &str) -> Option<Value> {
    if image.is_empty() {
        return None;
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, d.to_string()),
        None => (image, String::new()),
    };
    let (first, remainder) = match rest.split_once('/') {
        Some((f, r)) if f.contains(['.', ':']) || f == "localhost" => (Some(f), r),
        _ => (None, rest),
    };
    let registry = first.unwrap_or("docker.io").to_string();
    let (path, tag) = match remainder.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p.to_string(), t.to_string()),
        _ => (remainder.to_string(), String::new()),
    };
    let tag = if tag.is_empty() && digest.is_empty() { "latest".to_string() } else { tag };
    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let mut reference = format!("{registry}/{path}");
    if !tag.is_empty() {
        reference.push(':');
        reference.push_str(&tag);
    }
    let reference_with_tag = reference.clone();
    if !digest.is_empty() {
        reference.push('@');
        reference.push_str(&digest);
    }
    Some(serde_json::json!({
        "registry": registry, "path": path, "name": name, "tag": tag, "digest": digest,
        "reference": reference, "referenceWithTag": reference_with_tag,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let i = image_info("nginx").unwrap_or_default();
        assert_eq!(
            (i["registry"].as_str(), i["path"].as_str(), i["tag"].as_str()),
            (Some("docker.io"), Some("nginx"), Some("latest"))
        );
        let i = image_info("ghcr.io/org/app:1.2@sha256:abc").unwrap_or_default();
        assert_eq!(
            (i["registry"].as_str(), i["name"].as_str(), i["tag"].as_str(), i["digest"].as_str()),
            (Some("ghcr.io"), Some("app"), Some("1.2"), Some("sha256:abc"))
        );
        let i = image_info("localhost:5000/app").unwrap_or_default();
        assert_eq!((i["registry"].as_str(), i["path"].as_str()), (Some("localhost:5000"), Some("app")));
    }
}
