//! Container image references: `[registry/]repository[:tag][@digest]`.

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry and repository, without tag or digest.
    pub name: &'a str,
    /// The tag, if written.
    pub tag: Option<&'a str>,
    /// The digest (`sha256:...`), if written.
    pub digest: Option<&'a str>,
}

/// Splits an image reference.
///
/// ```
/// use tollgate_gitops::image::parse_image;
/// let r = parse_image("registry:5000/team/app:1.2@sha256:abc");
/// assert_eq!((r.name, r.tag, r.digest), ("registry:5000/team/app", Some("1.2"), Some("sha256:abc")));
/// assert_eq!(parse_image("registry:5000/app").tag, None);
/// ```
pub fn parse_image(reference: &str) -> ImageRef<'_> {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => ImageRef { name: &rest[..last_slash + i], tag: Some(&rest[last_slash + i + 1..]), digest },
        None => ImageRef { name: rest, tag: None, digest },
    }
}

/// True for a well-formed digest: `algorithm:hex` with a sha256 (64 hex
/// digits) or sha512 (128) value, or another algorithm with at least 32.
pub fn is_valid_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let hex_ok = hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    hex_ok
        && match algorithm {
            "sha256" => hex.len() == 64,
            "sha512" => hex.len() == 128,
            a => !a.is_empty() && hex.len() >= 32,
        }
}

/// Tags that name a moving target rather than one build.
pub const MOVING_TAGS: [&str; 20] = [
    "latest",
    "main",
    "master",
    "develop",
    "development",
    "dev",
    "trunk",
    "head",
    "edge",
    "nightly",
    "stable",
    "snapshot",
    "release",
    "canary",
    "next",
    "staging",
    "stage",
    "prod",
    "production",
    "current",
];

/// Why a tag is mutable, or `None` when it looks like a fixed version.
///
/// ```
/// use tollgate_gitops::image::moving_tag_reason;
/// assert!(moving_tag_reason("latest").is_some());
/// assert!(moving_tag_reason("1.4-SNAPSHOT").is_some());
/// assert!(moving_tag_reason("v1.27.3").is_none());
/// ```
pub fn moving_tag_reason(tag: &str) -> Option<&'static str> {
    let lower = tag.to_ascii_lowercase();
    if lower == "latest" {
        return Some("`latest` moves with every push");
    }
    if MOVING_TAGS.contains(&lower.as_str()) {
        return Some("it names a branch or channel, which moves with every build");
    }
    for suffix in ["-latest", "-snapshot", "-nightly", "-edge"] {
        if lower.ends_with(suffix) {
            return Some("its suffix marks a moving build");
        }
    }
    None
}

/// True when a value is a template placeholder tollgate cannot resolve
/// (`${TAG}`, `{{ .Values.tag }}`, `$(TAG)`).
pub fn is_placeholder(value: &str) -> bool {
    value.contains("${") || value.contains("{{") || value.contains("$(")
}
