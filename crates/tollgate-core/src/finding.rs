//! Findings and where they point.

use serde::Serialize;
use tollgate_yaml::{Document, Span};

use crate::severity::Severity;

/// A place in a file of the scanned repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Repository-relative path with forward slashes.
    pub path: String,
    /// Exact span; lines and columns are 1-based.
    #[serde(serialize_with = "serialize_span")]
    pub span: Span,
    /// 0-based index of the document in a multi-document file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<usize>,
    /// The route of the node inside the document, as a JSON pointer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

fn serialize_span<S: serde::Serializer>(span: &Span, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Span", 4)?;
    st.serialize_field("start_line", &span.start.line)?;
    st.serialize_field("start_column", &span.start.column)?;
    st.serialize_field("end_line", &span.end.line)?;
    st.serialize_field("end_column", &span.end.column)?;
    st.end()
}

/// A secondary location with a note about its part in the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedLocation {
    /// Where.
    pub location: Location,
    /// Why it is relevant.
    pub message: String,
}

/// The Kubernetes object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ResourceIdentity {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName`).
    pub name: String,
}

impl ResourceIdentity {
    /// The identity of a document that has `apiVersion`, `kind` and a name.
    pub fn of(document: &Document) -> Option<ResourceIdentity> {
        let root = &document.root;
        let meta = root.get_key("metadata");
        let name = meta
            .and_then(|m| m.get_key("name").or_else(|| m.get_key("generateName")))
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let api_version = root.get_key("apiVersion")?.as_str()?;
        // A Kustomization is build input, not an object in the cluster.
        if api_version.starts_with("kustomize.config.k8s.io/") {
            return None;
        }
        Some(ResourceIdentity {
            api_version: api_version.to_owned(),
            kind: root.get_key("kind")?.as_str()?.to_owned(),
            namespace: meta.and_then(|m| m.get_key("namespace")).and_then(|n| n.as_str()).map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// The API group (`apps` of `apps/v1`, empty for the core group `v1`).
    ///
    /// ```
    /// use tollgate_core::ResourceIdentity;
    /// let id = |v: &str| ResourceIdentity { api_version: v.into(), kind: "X".into(), namespace: None, name: "x".into() };
    /// assert_eq!((id("argoproj.io/v1alpha1").group(), id("v1").group()), ("argoproj.io", ""));
    /// assert_eq!(id("argoproj.io/v1alpha1").version(), "v1alpha1");
    /// ```
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The API version without its group (`v1` of `apps/v1`).
    pub fn version(&self) -> &str {
        self.api_version.rsplit_once('/').map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// Whether the object is a `kind` of the API `group`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group() == group
    }

    /// `kind/namespace/name` (namespace omitted when unset).
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            return self.kind.clone();
        }
        match &self.namespace {
            Some(ns) => format!("{}/{}/{}", self.kind, ns, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `inline`, `config` or `baseline`.
    pub kind: &'static str,
    /// The reason its author gave.
    pub reason: String,
    /// Where the suppression is written (none for a baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// One problem found in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id (a built-in slug, or a policy engine's own name).
    pub rule_id: String,
    /// Severity after configuration overrides.
    pub severity: Severity,
    /// What is wrong and how to fix it; the first sentence stands alone.
    pub message: String,
    /// The exact node that is wrong.
    pub location: Location,
    /// Other places that explain the finding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedLocation>,
    /// The Kubernetes object, for findings about one. Shared with the
    /// file's [`crate::SourceFile::resources`]: an object with a thousand
    /// findings holds its identity once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<std::sync::Arc<ResourceIdentity>>,
    /// The commit, for findings about history. Boxed, as the suppression:
    /// few findings have one, and a run may hold a hundred thousand
    /// findings before renders merge them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<Box<crate::history::CommitRef>>,
    /// Stable key: rule, path, resource or document, route and normalized
    /// content. Unrelated lines moving does not change it.
    pub fingerprint: String,
    /// Set when a suppression applies (the finding is then not counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Box<Suppression>>,
    /// Spans whose text a report must not show (a secret's value): source
    /// snippets print them as `*`.
    #[serde(skip)]
    pub masked: Vec<Span>,
    /// The rendered roots (Kustomize overlays) in which the value at this
    /// place was judged, when the finding was made on renders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renders: Vec<String>,
    /// In a range check: whether the change brings this finding or the
    /// base already produced it (same fingerprint). `None` outside ranges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ChangeState>,
}

/// Whether a finding of a range check comes with the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeState {
    /// The base does not produce it: the change brings it.
    New,
    /// The base produces a finding with the same fingerprint.
    Existing,
}

impl ChangeState {
    /// `new` or `existing`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::New => "new",
            ChangeState::Existing => "existing",
        }
    }
}

impl Finding {
    /// A finding of `rule_id` at `location`: the one constructor, so that a
    /// field added to findings is added here once. The optional parts
    /// (related locations, resource, commit, renders, masks, suppression,
    /// change state) start empty; set them on the value.
    ///
    /// ```
    /// use tollgate_core::{Finding, Location, Severity, Span};
    /// let at = Location { path: "a.yaml".into(), span: Span::default(), document: None, route: None };
    /// let f = Finding::new("my-rule", Severity::Warning, "Something is off.", at, Finding::fingerprint_of(&["my-rule", "a.yaml"]));
    /// assert!(f.related.is_empty() && f.state.is_none() && !f.is_suppressed());
    /// ```
    pub fn new(
        rule_id: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
        location: Location,
        fingerprint: String,
    ) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            severity,
            message: message.into(),
            location,
            related: Vec::new(),
            resource: None,
            commit: None,
            fingerprint,
            suppressed: None,
            masked: Vec::new(),
            renders: Vec::new(),
            state: None,
        }
    }

    /// Computes the stable fingerprint from the parts that identify a finding.
    ///
    /// ```
    /// let a = tollgate_core::Finding::fingerprint_of(&["rule", "a.yaml", "/spec/x", "true"]);
    /// assert_eq!(a.len(), 32);
    /// assert_ne!(a, tollgate_core::Finding::fingerprint_of(&["rule", "b.yaml", "/spec/x", "true"]));
    /// ```
    pub fn fingerprint_of(parts: &[&str]) -> String {
        // FNV-1a over the parts with a separator, twice with different offsets
        // for 128 bits: stable across platforms and releases, unlike `Hash`.
        let mut a: u64 = 0xcbf2_9ce4_8422_2325;
        let mut b: u64 = 0x6c62_272e_07bb_0142;
        for part in parts {
            for byte in part.bytes().chain(std::iter::once(0x1f)) {
                a = (a ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3 ^ 0x2_0000);
            }
        }
        format!("{a:016x}{b:016x}")
    }

    /// A `policy-error` finding at `line:column` of `path` (a policy file, or
    /// the file a policy judged), fingerprinted by `key`.
    ///
    /// ```
    /// let f = tollgate_core::Finding::policy_error_at("policy/p.rego".into(), 3, 5, "does not parse".into(), &["p.rego"]);
    /// assert_eq!((f.rule_id.as_str(), f.location.span.start.line, f.location.span.start.column), ("policy-error", 3, 5));
    /// ```
    pub fn policy_error_at(path: String, line: u32, column: u32, message: String, key: &[&str]) -> Finding {
        let start = crate::Position { line, column, offset: 0 };
        let mut parts = vec![crate::RuleId::PolicyError.as_str()];
        parts.extend_from_slice(key);
        let location = Location {
            path,
            span: crate::Span { start, end: crate::Position { column: column + 1, ..start } },
            document: None,
            route: None,
        };
        Finding::new(
            crate::RuleId::PolicyError.as_str(),
            crate::Severity::Error,
            message,
            location,
            Finding::fingerprint_of(&parts),
        )
    }

    /// `file` relative to `root` (with `/`), when it lies inside it: where a
    /// policy engine reports a problem of one of its policy files.
    ///
    /// A file that no longer exists on disk (a policy read from the base
    /// commit that the change deletes) is placed by its path alone.
    pub fn path_in_root(root: &std::path::Path, file: &str) -> Option<String> {
        let root_abs = std::fs::canonicalize(root).ok()?;
        let rel = if let Ok(abs) = std::fs::canonicalize(file) {
            abs.strip_prefix(&root_abs).ok()?.to_string_lossy().replace('\\', "/")
        } else {
            {
                let given = std::path::Path::new(file);
                let absolute =
                    if given.is_absolute() { given.to_path_buf() } else { std::env::current_dir().ok()?.join(given) };
                let root_given =
                    if root.is_absolute() { root.to_path_buf() } else { std::env::current_dir().ok()?.join(root) };
                let rest = absolute.strip_prefix(&root_given).or_else(|_| absolute.strip_prefix(&root_abs)).ok()?;
                crate::config::relative_inside_root(&rest.to_string_lossy())?
            }
        };
        (!rel.is_empty()).then_some(rel)
    }

    /// True when a suppression applies.
    pub fn is_suppressed(&self) -> bool {
        self.suppressed.is_some()
    }
}

/// Collapses white space so that re-indenting does not change a fingerprint.
pub(crate) fn normalize_content(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
