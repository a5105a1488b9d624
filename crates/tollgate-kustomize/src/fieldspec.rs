//! Field specs: where in which kinds a transformer writes (labels into
//! selectors, images into containers, ...), and the walk that applies them.
//!
//! The tables state Kubernetes facts kustomize relies on (which fields of
//! which kinds hold labels, selectors, images, replica counts), in the form
//! kustomize's built-in configuration uses: an optional group, version and
//! kind, a `/`-separated path (`[]` after a segment walks every item of a
//! list), and whether a missing field is created.

use std::borrow::Cow;

use crate::node::{Origin, RNode, RValue};
use crate::resource::ResId;

/// Where a transformer writes: kustomize's tables (static) or a
/// kustomization's own field specs (`labels[].fields`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub(crate) group: Option<Cow<'static, str>>,
    pub(crate) version: Option<Cow<'static, str>>,
    pub(crate) kind: Option<Cow<'static, str>>,
    pub(crate) path: Cow<'static, str>,
    pub(crate) create: bool,
}

impl FieldSpec {
    /// Whether the spec applies to a resource of this identity.
    pub(crate) fn selects(&self, id: &ResId) -> bool {
        self.group.as_deref().is_none_or(|g| g == id.group)
            && self.version.as_deref().is_none_or(|v| v == id.version)
            && self.kind.as_deref().is_none_or(|k| k == id.kind)
    }

    /// A kustomization's field spec (`{path, group, version, kind,
    /// create}`); empty selectors select every object, as in kustomize.
    pub(crate) fn from_node(node: &RNode) -> Option<FieldSpec> {
        let text = |key: &str| {
            node.get(key).and_then(RNode::as_str).filter(|s| !s.is_empty()).map(|s| Cow::Owned(s.to_owned()))
        };
        Some(FieldSpec {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
            path: text("path")?,
            create: node.get("create").and_then(RNode::as_str) == Some("true"),
        })
    }
}

impl FieldSpec {
    /// `path` in every object.
    pub(crate) const fn everywhere(path: &'static str, create: bool) -> FieldSpec {
        FieldSpec { group: None, version: None, kind: None, path: Cow::Borrowed(path), create }
    }

    /// Whether `selector`'s group, version and kind (empty ones match
    /// anything) select this spec's own (kustomize's `Gvk.IsSelected`).
    fn selected_by(&self, selector: &FieldSpec) -> bool {
        let part = |mine: &Option<Cow<'static, str>>, theirs: &Option<Cow<'static, str>>| {
            theirs.as_deref().is_none_or(|t| mine.as_deref().unwrap_or("") == t)
        };
        part(&self.group, &selector.group) && part(&self.version, &selector.version) && part(&self.kind, &selector.kind)
    }
}

/// What a kustomization's `configurations` add to kustomize's built-in
/// transformer configuration, merged over a kustomization and everything
/// it includes (as kustomize's accumulator merges them). Sections tollgate
/// does not render yet are refused by name when read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Custom {
    /// `namePrefix` field specs.
    pub(crate) name_prefix: Vec<FieldSpec>,
    /// `nameSuffix` field specs.
    pub(crate) name_suffix: Vec<FieldSpec>,
    /// `varReference` field specs.
    pub(crate) var_reference: Vec<FieldSpec>,
    /// `nameReference`: a referenced group/version/kind (in a spec whose
    /// path is empty) and the fields that name it.
    pub(crate) name_reference: Vec<(FieldSpec, Vec<FieldSpec>)>,
}

/// The sections of a transformer configuration tollgate renders.
const CUSTOM_SECTIONS: [&str; 4] = ["namePrefix", "nameSuffix", "varReference", "nameReference"];

/// Why transformer configurations cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FieldSpecError {
    /// A field spec without `path`, in the named section.
    #[error("a `{0}` field spec needs a `path`")]
    NoPath(&'static str),
    /// A section of a `configurations` file tollgate does not render.
    #[error("the `{0}` section of a `configurations` file is not rendered by tollgate yet (only {sections} are)", sections = CUSTOM_SECTIONS.join(", "))]
    UnrenderedSection(String),
    /// Two specs of one path, one creating the field and one not
    /// (kustomize refuses the build).
    #[error("conflicting field specs for `{0}` (one creates it, one does not)")]
    Conflict(String),
}

impl Custom {
    /// Reads one configuration file (its root mapping); `Err` names a
    /// section tollgate does not render, or what is malformed.
    pub(crate) fn read(root: &RNode) -> Result<Custom, FieldSpecError> {
        let specs = |node: &RNode, what: &'static str| -> Result<Vec<FieldSpec>, FieldSpecError> {
            node.as_seq()
                .unwrap_or_default()
                .iter()
                .map(|f| FieldSpec::from_node(f).ok_or(FieldSpecError::NoPath(what)))
                .collect()
        };
        let mut out = Custom::default();
        for (key, value) in root.as_map().unwrap_or_default() {
            if value.is_null() {
                continue;
            }
            match key.text.as_str() {
                "namePrefix" => out.name_prefix = specs(value, "namePrefix")?,
                "nameSuffix" => out.name_suffix = specs(value, "nameSuffix")?,
                "varReference" => out.var_reference = specs(value, "varReference")?,
                "nameReference" => {
                    for entry in value.as_seq().unwrap_or_default() {
                        let text = |k: &str| {
                            entry
                                .get(k)
                                .and_then(RNode::as_str)
                                .filter(|s| !s.is_empty())
                                .map(|s| Cow::Owned(s.to_owned()))
                        };
                        let target = FieldSpec {
                            group: text("group"),
                            version: text("version"),
                            kind: text("kind"),
                            path: Cow::Borrowed(""),
                            create: false,
                        };
                        let fields = entry.get("fieldSpecs").map(|f| specs(f, "nameReference")).transpose()?;
                        out.name_reference.push((target, fields.unwrap_or_default()));
                    }
                }
                other => return Err(FieldSpecError::UnrenderedSection(other.to_owned())),
            }
        }
        Ok(out)
    }

    /// Merges another configuration into this one.
    pub(crate) fn merge(&mut self, other: Custom) -> Result<(), FieldSpecError> {
        merge_all(&mut self.name_prefix, other.name_prefix)?;
        merge_all(&mut self.name_suffix, other.name_suffix)?;
        merge_all(&mut self.var_reference, other.var_reference)?;
        for (target, fields) in other.name_reference {
            match self.name_reference.iter_mut().find(|(t, _)| *t == target) {
                Some((_, existing)) => merge_all(existing, fields)?,
                None => self.name_reference.push((target, fields)),
            }
        }
        Ok(())
    }

    /// The field specs a prefix (or suffix) transformer uses: kustomize's
    /// `metadata/name` merged with the custom ones, sorted by kind as
    /// kustomize sorts them, then merged into its (empty) accumulator, which
    /// drops `metadata/name` once a kind-specific one with that path sorts
    /// before it.
    pub(crate) fn affix_specs(custom: &[FieldSpec]) -> Result<Vec<FieldSpec>, FieldSpecError> {
        let mut level = vec![FieldSpec::everywhere("metadata/name", false)];
        merge_all(&mut level, custom.to_vec())?;
        sort_by_kind(&mut level);
        let mut accumulated = Vec::new();
        merge_all(&mut accumulated, level)?;
        sort_by_kind(&mut accumulated);
        Ok(accumulated)
    }
}

/// Sorts field specs as kustomize sorts a configuration's (`Gvk.IsLessThan`:
/// the legacy kind order, then group, version and kind with `~`
/// placeholders for empty ones).
fn sort_by_kind(specs: &mut [FieldSpec]) {
    let key = |s: &FieldSpec| {
        let kind = s.kind.as_deref().unwrap_or("");
        let or = |v: Option<&str>, d: &'static str| v.filter(|x| !x.is_empty()).unwrap_or(d).to_owned();
        (
            crate::build::kind_rank(kind),
            format!(
                "{}_{}_{}",
                or(s.group.as_deref(), "~G"),
                or(s.version.as_deref(), "~V"),
                or(s.kind.as_deref(), "~K")
            ),
        )
    };
    specs.sort_by_key(key);
}

/// Adds specs to a list as kustomize's `FsSlice.MergeAll` does: a spec is
/// left out when one already listed has its path and is selected by its
/// group, version and kind (so `{path: metadata/labels}` after a
/// kind-specific one with that path is dropped); when their `create`
/// differ, kustomize refuses the build.
pub(crate) fn merge_all(list: &mut Vec<FieldSpec>, incoming: Vec<FieldSpec>) -> Result<(), FieldSpecError> {
    for x in incoming {
        match list.iter().find(|e| e.path == x.path && e.selected_by(&x)) {
            Some(e) if e.create != x.create => {
                return Err(FieldSpecError::Conflict(x.path.to_string()));
            }
            Some(_) => {}
            None => list.push(x),
        }
    }
    Ok(())
}

const fn spec(group: &'static str, kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: if group.is_empty() { None } else { Some(Cow::Borrowed(group)) },
        version: None,
        kind: if kind.is_empty() { None } else { Some(Cow::Borrowed(kind)) },
        path: Cow::Borrowed(path),
        create,
    }
}

const fn spec_v1(kind: &'static str, path: &'static str, create: bool) -> FieldSpec {
    FieldSpec {
        group: None,
        version: Some(Cow::Borrowed("v1")),
        kind: Some(Cow::Borrowed(kind)),
        path: Cow::Borrowed(path),
        create,
    }
}

/// Labels on metadata and pod templates (kustomize's `templateLabels`).
pub(crate) const TEMPLATE_LABELS: &[FieldSpec] = &[
    spec("", "", "metadata/labels", true),
    spec_v1("ReplicationController", "spec/template/metadata/labels", true),
    spec("", "Deployment", "spec/template/metadata/labels", true),
    spec("", "ReplicaSet", "spec/template/metadata/labels", true),
    spec("", "DaemonSet", "spec/template/metadata/labels", true),
    spec("apps", "StatefulSet", "spec/template/metadata/labels", true),
    spec("batch", "Job", "spec/template/metadata/labels", true),
    spec("batch", "CronJob", "spec/jobTemplate/metadata/labels", true),
    spec("batch", "CronJob", "spec/jobTemplate/spec/template/metadata/labels", true),
];

/// Labels of StatefulSet volume claim templates.
pub(crate) const VOLUME_CLAIM_TEMPLATE_LABELS: &[FieldSpec] =
    &[spec("apps", "StatefulSet", "spec/volumeClaimTemplates[]/metadata/labels", true)];

/// Selectors that must carry `commonLabels` too.
const SELECTOR_LABELS: &[FieldSpec] = &[
    spec_v1("Service", "spec/selector", true),
    spec_v1("ReplicationController", "spec/selector", true),
    spec("", "Deployment", "spec/selector/matchLabels", true),
    spec(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "Deployment",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    spec("apps", "Deployment", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    spec("", "ReplicaSet", "spec/selector/matchLabels", true),
    spec("", "DaemonSet", "spec/selector/matchLabels", true),
    spec("apps", "StatefulSet", "spec/selector/matchLabels", true),
    spec(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
        false,
    ),
    spec(
        "apps",
        "StatefulSet",
        "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        false,
    ),
    spec("apps", "StatefulSet", "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels", false),
    spec("batch", "Job", "spec/selector/matchLabels", false),
    spec("batch", "CronJob", "spec/jobTemplate/spec/selector/matchLabels", false),
    spec("policy", "PodDisruptionBudget", "spec/selector/matchLabels", false),
    spec("networking.k8s.io", "NetworkPolicy", "spec/podSelector/matchLabels", false),
    spec("networking.k8s.io", "NetworkPolicy", "spec/ingress/from/podSelector/matchLabels", false),
    spec("networking.k8s.io", "NetworkPolicy", "spec/egress/to/podSelector/matchLabels", false),
];

/// Where `commonLabels` go: selectors, metadata, templates, volume claims.
pub(crate) fn common_labels() -> Vec<FieldSpec> {
    let mut all = SELECTOR_LABELS.to_vec();
    all.extend_from_slice(TEMPLATE_LABELS);
    all.extend_from_slice(VOLUME_CLAIM_TEMPLATE_LABELS);
    all
}

/// Where `commonAnnotations` go.
pub(crate) const COMMON_ANNOTATIONS: &[FieldSpec] = &[
    spec("", "", "metadata/annotations", true),
    spec_v1("ReplicationController", "spec/template/metadata/annotations", true),
    spec("", "Deployment", "spec/template/metadata/annotations", true),
    spec("", "ReplicaSet", "spec/template/metadata/annotations", true),
    spec("", "DaemonSet", "spec/template/metadata/annotations", true),
    spec("", "StatefulSet", "spec/template/metadata/annotations", true),
    spec("batch", "Job", "spec/template/metadata/annotations", true),
    spec("batch", "CronJob", "spec/jobTemplate/metadata/annotations", true),
    spec("batch", "CronJob", "spec/jobTemplate/spec/template/metadata/annotations", true),
];

/// Where images are (never created: an object without the list has no
/// image to change).
pub(crate) const IMAGES: &[FieldSpec] = &[
    spec("", "", "spec/containers[]/image", false),
    spec("", "", "spec/initContainers[]/image", false),
    spec("", "", "spec/volumes[]/image/reference", false),
    spec("", "", "spec/template/spec/containers[]/image", false),
    spec("", "", "spec/template/spec/initContainers[]/image", false),
    spec("", "", "spec/template/spec/volumes[]/image/reference", false),
];

/// Where replica counts are.
pub(crate) const REPLICAS: &[FieldSpec] = &[
    spec("", "Deployment", "spec/replicas", true),
    spec("", "ReplicationController", "spec/replicas", true),
    spec("", "ReplicaSet", "spec/replicas", true),
    spec("", "StatefulSet", "spec/replicas", true),
];

/// Other fields that hold a namespace (beside every namespaced object's
/// `metadata/namespace`); a Namespace object is renamed to it.
pub(crate) const NAMESPACE: &[FieldSpec] = &[
    spec("", "Namespace", "metadata/name", true),
    spec("apiregistration.k8s.io", "APIService", "spec/service/namespace", true),
    spec(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "spec/conversion/webhook/clientConfig/service/namespace",
        false,
    ),
];

/// Applies `f` to every node the spec reaches in `node`, creating missing
/// fields when the spec says so (made nodes point at `origin`). The last
/// segment's node is passed, created as `leaf()` when missing.
pub(crate) fn apply(
    node: &mut RNode,
    spec: &FieldSpec,
    origin: Origin,
    leaf: &dyn Fn(Origin) -> RNode,
    f: &mut dyn FnMut(&mut RNode),
) {
    let segments: Vec<&str> = spec.path.split('/').filter(|s| !s.is_empty()).collect();
    walk(node, &segments, spec.create, origin, leaf, f);
}

/// Applies `f` to every node the `/`-separated `path` reaches in `node`
/// (lists on the way walked element by element), creating nothing.
pub(crate) fn apply_path(node: &mut RNode, path: &str, f: &mut dyn FnMut(&mut RNode)) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    walk(node, &segments, false, Origin::default(), &|o| RNode::string("", o), f);
}

fn walk(
    node: &mut RNode,
    segments: &[&str],
    create: bool,
    origin: Origin,
    leaf: &dyn Fn(Origin) -> RNode,
    f: &mut dyn FnMut(&mut RNode),
) {
    let Some((first, rest)) = segments.split_first() else {
        f(node);
        return;
    };
    let (key, each) = match first.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (*first, false),
    };
    // A list on the way is walked element by element, as kustomize's field
    // specs do (`spec/ingress/from/podSelector` reaches every `from`).
    if let RValue::Seq(items) = &mut node.value {
        for item in items {
            walk(item, segments, create, origin, leaf, f);
        }
        return;
    }
    if node.as_map().is_none() {
        return;
    }
    let missing = node.get(key).is_none_or(RNode::is_null);
    if missing {
        // Lists are never created; a missing field is, when the spec says so.
        if !create || each {
            return;
        }
        let made = if rest.is_empty() { leaf(origin) } else { RNode::map(origin) };
        node.set(key, made);
    }
    let Some(child) = node.get_mut(key) else { return };
    if each {
        if let RValue::Seq(items) = &mut child.value {
            for item in items {
                walk(item, rest, create, origin, leaf, f);
            }
        }
    } else {
        walk(child, rest, create, origin, leaf, f);
    }
}
