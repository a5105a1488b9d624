//! The built-in transformers of a kustomization, in kustomize's order:
//! patches (strategic merge, then `patches`), namespace, name prefix and
//! suffix, labels, annotations, JSON 6902 patches, replicas, images,
//! replacements.

use crate::RenderError;
use crate::build::Builder;
use crate::fieldspec::{self, FieldSpec};
use crate::kustomization::Kustomization;
use crate::node::{Origin, RNode, RValue};
use crate::resource::Resource;
use crate::resource::Transformation;

/// Runs every transformer of `k` on `resources`.
pub(crate) fn run(b: &mut Builder<'_>, k: &Kustomization, resources: &mut Vec<Resource>) -> Result<(), RenderError> {
    crate::patch::strategic_merge_patches(b, k, resources)?;
    crate::patch::patches(b, k, resources)?;
    namespace(k, resources)?;
    let custom = b.custom();
    name_affix(k, resources, "namePrefix", &custom.name_prefix)?;
    name_affix(k, resources, "nameSuffix", &custom.name_suffix)?;
    labels(k, resources)?;
    annotations(k, resources)?;
    crate::patch::json6902_patches(b, k, resources)?;
    replicas(k, resources)?;
    images(k, resources)?;
    crate::replace::run(b, k, resources)?;
    let plugins = transformer_configs(b, k, resources)?;
    if !b.record_transformations {
        return Ok(());
    }
    // Every built-in transformer the kustomization configures, then each
    // configuration of `transformers`, is recorded on every resource it ran
    // over, as `transformerAnnotations` reports.
    let mut configured: Vec<Transformation> = configured_transformers(k)
        .into_iter()
        .map(|kind| Transformation { file: k.file, kind: kind.to_owned(), name: None })
        .collect();
    configured.extend(plugins);
    if !configured.is_empty() {
        for r in resources.iter_mut() {
            r.transformations.extend(configured.iter().cloned());
        }
    }
    Ok(())
}

/// The built-in transformers a kustomization configures, one per instance,
/// in the order kustomize runs them.
fn configured_transformers(k: &Kustomization) -> Vec<&'static str> {
    let count = |field: &str| k.field(field).and_then(RNode::as_seq).map_or(0, <[RNode]>::len);
    let set = |field: &str| k.field(field).is_some_and(|n| n.as_str().is_none_or(|s| !s.is_empty()));
    let non_empty_map = |field: &str| k.field(field).and_then(RNode::as_map).is_some_and(|m| !m.is_empty());
    let mut out = Vec::new();
    if count("patchesStrategicMerge") > 0 {
        out.push("PatchStrategicMergeTransformer");
    }
    out.extend(std::iter::repeat_n("PatchTransformer", count("patches")));
    if set("namespace") {
        out.push("NamespaceTransformer");
    }
    if set("namePrefix") {
        out.push("PrefixTransformer");
    }
    if set("nameSuffix") {
        out.push("SuffixTransformer");
    }
    if count("labels") > 0 || non_empty_map("commonLabels") {
        // One per `labels` entry, and one for `commonLabels` (even empty).
        out.extend(std::iter::repeat_n("LabelTransformer", count("labels") + 1));
    }
    if non_empty_map("commonAnnotations") {
        out.push("AnnotationsTransformer");
    }
    out.extend(std::iter::repeat_n("PatchJson6902Transformer", count("patchesJson6902")));
    out.extend(std::iter::repeat_n("ReplicaCountTransformer", count("replicas")));
    out.extend(std::iter::repeat_n("ImageTagTransformer", count("images")));
    if count("replacements") > 0 {
        out.push("ReplacementTransformer");
    }
    out
}

/// Built-in kinds whose objects have no namespace, by API group. Anything
/// else (custom resources included, and a `Namespace` kind of another
/// group) is namespaced, as kustomize assumes from its built-in schema.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "ComponentStatus"),
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
];

/// Whether objects of `kind` in API `group` have no namespace.
pub(crate) fn cluster_scoped(group: &str, kind: &str) -> bool {
    // A set: name references ask this for every candidate pair of a large
    // render, and a scan of the list was the render's top string compare.
    static SET: std::sync::LazyLock<std::collections::HashSet<(&'static str, &'static str)>> =
        std::sync::LazyLock::new(|| CLUSTER_SCOPED.iter().copied().collect());
    let set: &std::collections::HashSet<(&str, &str)> = &SET;
    set.contains(&(group, kind))
}

fn namespace(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let Some((ns, origin)) = k.string("namespace")? else { return Ok(()) };
    if ns.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        let now = r.id();
        // Every object's identity is stored, whether or not it changes.
        r.store_previous_id();
        if !cluster_scoped(&now.group, &now.kind) {
            r.node.entry_map("metadata", origin).set("namespace", RNode::string(&ns, origin));
        }
        let id = r.original.clone();
        for spec in fieldspec::NAMESPACE {
            // A Namespace object is renamed only in the core API.
            if spec.path == "metadata/name" && r.node.str_at("apiVersion") != Some("v1") {
                continue;
            }
            if spec.selects(&id) {
                set_scalar(&mut r.node, spec, &ns, origin);
            }
        }
        if matches!(now.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
            && let Some(RValue::Seq(subjects)) = r.node.get_mut("subjects").map(|s| &mut s.value)
        {
            // Subjects named `default` follow the namespace (kustomize's default mode).
            for s in subjects.iter_mut().filter(|s| s.str_at("name") == Some("default")) {
                s.set("namespace", RNode::string(&ns, origin));
            }
        }
    }
    Ok(())
}

fn set_scalar(node: &mut RNode, spec: &FieldSpec, value: &str, origin: Origin) {
    fieldspec::apply(node, spec, origin, &|o| RNode::string("", o), &mut |n| {
        *n = RNode::string(value, origin);
    });
}

/// Kinds a name prefix or suffix never applies to.
const AFFIX_SKIPPED: [(&str, &str); 3] =
    [("", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"), ("", "Namespace")];

/// The `transformers` field: configurations of kustomize's built-in
/// transformers (`apiVersion: builtin`), run after the kustomization's own
/// transformers, inline ones first. Their values point at the
/// configuration. Other built-in transformers are refused by name, and a
/// transformer plugin runs a program, which tollgate never does.
fn transformer_configs(
    b: &mut Builder<'_>,
    k: &Kustomization,
    resources: &mut [Resource],
) -> Result<Vec<Transformation>, RenderError> {
    let mut ran = Vec::new();
    for (config, file, origin) in crate::generate::plugin_configs(b, k, "transformers")? {
        let api = config.str_at("apiVersion").unwrap_or_default();
        let kind = config.str_at("kind").unwrap_or_default();
        if api != "builtin" {
            return Err(RenderError::unsupported(
                &k.path,
                origin.span,
                format!("`{kind}` ({api}) is a transformer plugin: it runs a program, which tollgate never does"),
            ));
        }
        let specs = || -> Result<Vec<FieldSpec>, RenderError> {
            let Some(list) = config.get("fieldSpecs").filter(|f| !f.is_null()) else {
                return Err(k.error(origin, format!("the `{kind}` configuration needs `fieldSpecs`")));
            };
            list.as_seq()
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    FieldSpec::from_node(f).ok_or_else(|| k.error(f.origin, "a field spec needs a `path`".to_owned()))
                })
                .collect()
        };
        let text = |key: &str| config.get(key).map(|n| (n.as_str().unwrap_or_default().to_owned(), n.origin));
        match kind {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = specs()?;
                // The combined one runs kustomize's prefix, then suffix,
                // transformer, both even when empty.
                if kind != "SuffixTransformer" {
                    let (prefix, at) = text("prefix").unwrap_or((String::new(), config.origin));
                    affix_with(resources, &prefix, at, true, &specs);
                }
                if kind != "PrefixTransformer" {
                    let (suffix, at) = text("suffix").unwrap_or((String::new(), config.origin));
                    affix_with(resources, &suffix, at, false, &specs);
                }
            }
            "LabelTransformer" | "AnnotationsTransformer" => {
                let field = if kind == "LabelTransformer" { "labels" } else { "annotations" };
                let specs = specs()?;
                let pairs = match config.get(field).filter(|m| !m.is_null()) {
                    Some(map) => crate::kustomization::string_map_of(map, field, &b.path_of(file))?,
                    None => Vec::new(),
                };
                if !pairs.is_empty() {
                    add_pairs(resources, &specs, &pairs);
                }
            }
            "ReplacementTransformer" => {
                // The configuration reads as a kustomization holding
                // `replacements` (their `path`s relative to the kustomization).
                let as_kustomization = Kustomization {
                    dir: k.dir.clone(),
                    file,
                    path: b.path_of(file),
                    component: false,
                    root: config.clone(),
                };
                crate::replace::run(b, &as_kustomization, resources)?;
            }
            other => {
                return Err(RenderError::unsupported(
                    &k.path,
                    origin.span,
                    format!("the built-in transformer `{other}` under `transformers` is not rendered by tollgate yet"),
                ));
            }
        }
        let name = config.at("metadata/name").and_then(RNode::as_str).map(str::to_owned);
        ran.push(Transformation { file, kind: kind.to_owned(), name });
    }
    Ok(ran)
}

/// kustomize's prefix (or suffix) transformer with its field specs: for
/// each spec that selects an object (by its original identity), a
/// `metadata/name` spec records the affix (even empty) for name references
/// and stores the previous id, and the value at the spec's path gets the
/// affix.
fn affix_with(resources: &mut [Resource], affix: &str, origin: Origin, prefix: bool, specs: &[FieldSpec]) {
    for r in resources.iter_mut() {
        let id = r.original.clone();
        if AFFIX_SKIPPED.iter().any(|(g, kind)| *kind == id.kind && (g.is_empty() || *g == id.group)) {
            continue;
        }
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            if spec.path == "metadata/name" {
                if prefix {
                    r.prefixes.push(affix.to_owned());
                } else {
                    r.suffixes.push(affix.to_owned());
                }
                if !affix.is_empty() {
                    r.store_previous_id();
                }
            }
            if affix.is_empty() {
                continue;
            }
            fieldspec::apply(&mut r.node, spec, origin, &|o| RNode::string("", o), &mut |n| {
                if let Some(value) = n.as_str() {
                    let renamed = if prefix { format!("{affix}{value}") } else { format!("{value}{affix}") };
                    *n = RNode::string(renamed, origin);
                }
            });
        }
    }
}

/// `namePrefix` or `nameSuffix`, through kustomize's field specs for it
/// (`custom` adds the `configurations`' own).
fn name_affix(
    k: &Kustomization,
    resources: &mut [Resource],
    field: &str,
    custom: &[FieldSpec],
) -> Result<(), RenderError> {
    let Some((affix, origin)) = k.string(field)? else { return Ok(()) };
    if !affix.is_empty() {
        let specs = if custom.is_empty() {
            vec![FieldSpec::everywhere("metadata/name", false)]
        } else {
            crate::fieldspec::Custom::affix_specs(custom).map_err(|e| k.error(origin, e.to_string()))?
        };
        // The new names point at the kustomization's field: a reviewer
        // changes the prefix there.
        affix_with(resources, &affix, origin, field == "namePrefix", &specs);
    }
    Ok(())
}

fn labels(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    // `labels:` entries first, then `commonLabels`, as kustomize configures them.
    if let Some(list) = k.field("labels") {
        let Some(items) = list.as_seq() else {
            return Err(k.error(list.origin, "`labels` must be a list".to_owned()));
        };
        for item in items {
            let pairs = match item.get("pairs") {
                Some(p) if !p.is_null() => crate::kustomization::string_map_of(p, "labels.pairs", &k.path)?,
                _ => Vec::new(),
            };
            let flag = |key: &str| item.get(key).and_then(RNode::as_str) == Some("true");
            // The entry's own field specs first, then kustomize's, merged as
            // kustomize merges them.
            let mut specs: Vec<FieldSpec> = Vec::new();
            if let Some(fields) = item.get("fields").filter(|f| !f.is_null()) {
                let Some(list) = fields.as_seq() else {
                    return Err(k.error(fields.origin, "`labels[].fields` must be a list of field specs".to_owned()));
                };
                for field in list {
                    let spec = FieldSpec::from_node(field)
                        .ok_or_else(|| k.error(field.origin, "a `labels[].fields` entry needs a `path`".to_owned()))?;
                    specs.push(spec);
                }
            }
            let merged = if flag("includeSelectors") {
                fieldspec::merge_all(&mut specs, fieldspec::common_labels())
            } else {
                let templates = if flag("includeTemplates") { fieldspec::TEMPLATE_LABELS.to_vec() } else { Vec::new() };
                fieldspec::merge_all(&mut specs, templates).and_then(|()| {
                    fieldspec::merge_all(&mut specs, vec![FieldSpec::everywhere("metadata/labels", true)])
                })
            };
            merged.map_err(|e| k.error(item.origin, e.to_string()))?;
            if !pairs.is_empty() {
                add_pairs(resources, &specs, &pairs);
            }
        }
    }
    let common = k.string_map("commonLabels")?;
    if !common.is_empty() {
        add_pairs(resources, &fieldspec::common_labels(), &common);
    }
    Ok(())
}

fn annotations(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let pairs = k.string_map("commonAnnotations")?;
    if !pairs.is_empty() {
        add_pairs(resources, fieldspec::COMMON_ANNOTATIONS, &pairs);
    }
    Ok(())
}

/// Sets `pairs` in the mapping every spec reaches (once per mapping: a
/// path already reached is skipped, unless this spec creates it and the
/// one before did not).
fn add_pairs(resources: &mut [Resource], specs: &[FieldSpec], pairs: &[(String, String, Origin)]) {
    let origin = pairs[0].2;
    for r in resources.iter_mut() {
        let id = r.original.clone();
        let mut seen: Vec<(&str, bool)> = Vec::new();
        for spec in specs.iter().filter(|s| s.selects(&id)) {
            if seen.iter().any(|(path, created)| *path == spec.path && (*created || !spec.create)) {
                continue;
            }
            seen.push((&spec.path, spec.create));
            fieldspec::apply(&mut r.node, spec, origin, &RNode::map, &mut |map| {
                if map.is_null() {
                    *map = RNode::map(origin);
                }
                if map.as_map().is_none() {
                    return;
                }
                for (key, value, at) in pairs {
                    map.set(key, RNode::string(value, *at));
                }
            });
        }
    }
}

fn replicas(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let Some(list) = k.field("replicas") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`replicas` must be a list".to_owned()));
    };
    for item in items {
        let name = item.str_at("name").unwrap_or_default();
        let Some(count) = item.get("count") else {
            return Err(k.error(item.origin, "a `replicas` entry needs `count`".to_owned()));
        };
        let text = count.as_str().unwrap_or_default().to_owned();
        if text.parse::<i64>().is_err() {
            return Err(k.error(count.origin, format!("`replicas` count `{text}` is not an integer")));
        }
        for r in resources.iter_mut().filter(|r| r.original.name == name || r.name() == name) {
            let id = r.original.clone();
            for spec in fieldspec::REPLICAS.iter().filter(|s| s.selects(&id)) {
                fieldspec::apply(&mut r.node, spec, count.origin, &|o| RNode::plain("0", o), &mut |n| {
                    *n = RNode::plain(&text, count.origin);
                });
            }
        }
    }
    Ok(())
}

/// One `images:` entry.
struct ImageRule {
    name: String,
    new_name: Option<(String, Origin)>,
    new_tag: Option<(String, Origin)>,
    digest: Option<(String, Origin)>,
    tag_suffix: Option<(String, Origin)>,
    pattern: ImagePattern,
    origin: Origin,
}

fn images(k: &Kustomization, resources: &mut [Resource]) -> Result<(), RenderError> {
    let Some(list) = k.field("images") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`images` must be a list".to_owned()));
    };
    let mut rules = Vec::new();
    for item in items {
        let text = |key: &str| -> Option<(String, Origin)> {
            item.get(key).filter(|n| !n.is_null()).and_then(|n| n.as_str().map(|s| (s.to_owned(), n.origin)))
        };
        let name = text("name").map(|(n, _)| n).unwrap_or_default();
        let pattern = ImagePattern::new(&name)
            .map_err(|e| k.error(item.origin, format!("image name `{name}` is not usable as a pattern: {e}")))?;
        rules.push(ImageRule {
            name,
            new_name: text("newName"),
            new_tag: text("newTag"),
            digest: text("digest"),
            tag_suffix: text("tagSuffix"),
            pattern,
            origin: item.origin,
        });
    }
    for rule in &rules {
        for r in resources.iter_mut() {
            if r.kind() == "CustomResourceDefinition" {
                continue;
            }
            // Every `containers`/`initContainers` list anywhere in the object.
            each_container_list(&mut r.node, &mut |containers| {
                for c in containers.iter_mut() {
                    if let Some(image) = c.get_mut("image") {
                        update_image(image, rule);
                    }
                }
            });
            let id = r.original.clone();
            for spec in fieldspec::IMAGES.iter().filter(|s| s.selects(&id) && s.path.ends_with("reference")) {
                fieldspec::apply(&mut r.node, spec, rule.origin, &|o| RNode::string("", o), &mut |n| {
                    update_image(n, rule);
                });
            }
        }
    }
    Ok(())
}

/// What an `images:` name matches. kustomize builds the regular expression
/// `^NAME(:TAG)?(@ALG:DIGEST)?$` from the name as written, so the name is a
/// pattern (`.` matches any character). Names whose only metacharacter is
/// `.` (nearly all: `ghcr.io/acme/web`) are matched by hand, exactly as the
/// expression would; any other name is compiled (compiling one expression
/// per entry per overlay cost more than the rest of a render).
enum ImagePattern {
    /// A name with no metacharacter but `.`.
    Name(String),
    /// Any other name, as kustomize's expression.
    Regex(regex::Regex),
}

impl ImagePattern {
    fn new(name: &str) -> Result<ImagePattern, regex::Error> {
        if name.chars().all(|c| c.is_alphanumeric() || "./-_:@".contains(c)) {
            return Ok(ImagePattern::Name(name.to_owned()));
        }
        regex::Regex::new(&format!(
            "^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$"
        ))
        .map(ImagePattern::Regex)
    }

    fn is_match(&self, value: &str) -> bool {
        match self {
            ImagePattern::Regex(re) => re.is_match(value),
            ImagePattern::Name(name) => {
                let mut chars = value.char_indices();
                for n in name.chars() {
                    match chars.next() {
                        Some((_, c)) if c == n || (n == '.' && c != '\n') => {}
                        _ => return false,
                    }
                }
                let rest = chars.next().map_or("", |(i, _)| &value[i..]);
                image_suffix_matches(rest)
            }
        }
    }
}

/// `(:[a-zA-Z0-9_.{}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{}-]*)?` and
/// the end: each part stops at a character the next cannot start with, so
/// one left-to-right pass decides as the expression does.
fn image_suffix_matches(rest: &str) -> bool {
    let tag_char = |c: char| c.is_ascii_alphanumeric() || "_.{}-".contains(c);
    let mut rest = rest;
    if let Some(tag) = rest.strip_prefix(':') {
        rest = tag.trim_start_matches(tag_char);
    }
    if let Some(digest) = rest.strip_prefix('@') {
        let mut part = digest;
        let alg = part.len() - part.trim_start_matches(|c: char| c.is_ascii_alphanumeric()).len();
        if alg == 0 {
            return false;
        }
        part = &part[alg..];
        while let Some(after) = part.strip_prefix(['.', '+', '_', '-']) {
            let n = after.len() - after.trim_start_matches(|c: char| c.is_ascii_alphanumeric()).len();
            if n == 0 {
                return false;
            }
            part = &after[n..];
        }
        let Some(hex) = part.strip_prefix(':') else { return false };
        rest = hex.trim_start_matches(tag_char);
    }
    rest.is_empty()
}

fn each_container_list(node: &mut RNode, f: &mut dyn FnMut(&mut Vec<RNode>)) {
    match &mut node.value {
        RValue::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                each_container_list(value, f);
                if matches!(key.text.as_str(), "containers" | "initContainers")
                    && let RValue::Seq(items) = &mut value.value
                {
                    f(items);
                }
            }
        }
        RValue::Seq(items) => items.iter_mut().for_each(|n| each_container_list(n, f)),
        RValue::Scalar(_) => {}
    }
}

fn update_image(node: &mut RNode, rule: &ImageRule) {
    let Some(value) = node.as_str().map(str::to_owned) else { return };
    if rule.name.is_empty() || !rule.pattern.is_match(&value) {
        return;
    }
    let (mut name, mut tag, mut digest) = split_image(&value);
    let mut origin = node.origin;
    if let Some((n, o)) = &rule.new_name {
        name.clone_from(n);
        origin = *o;
    }
    match (&rule.new_tag, &rule.digest, &rule.tag_suffix) {
        (Some((t, o)), Some((d, _)), _) => {
            tag.clone_from(t);
            digest.clone_from(d);
            origin = *o;
        }
        (Some((t, o)), None, _) => {
            tag.clone_from(t);
            digest.clear();
            origin = *o;
        }
        (None, Some((d, o)), _) => {
            tag.clear();
            digest.clone_from(d);
            origin = *o;
        }
        (None, None, Some((s, o))) => {
            tag.push_str(s);
            digest.clear();
            origin = *o;
        }
        (None, None, None) => {}
    }
    let mut image = name;
    if !tag.is_empty() {
        image.push(':');
        image.push_str(&tag);
    }
    if !digest.is_empty() {
        image.push('@');
        image.push_str(&digest);
    }
    *node = RNode::string(image, origin);
}

/// `name`, `tag` and `digest` of an image reference, as kustomize splits it
/// (a `:` before the first `/` is a registry port, not a tag).
pub(crate) fn split_image(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|i| *i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_owned(), String::new(), String::new()),
        (c, Some(d)) if c.is_none_or(|c| d < c) => (image[..d].to_owned(), String::new(), image[d + 1..].to_owned()),
        (Some(c), Some(d)) => (image[..c].to_owned(), image[c + 1..d].to_owned(), image[d + 1..].to_owned()),
        (Some(c), None) => (image[..c].to_owned(), image[c + 1..].to_owned(), String::new()),
        (None, Some(_)) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use super::ImagePattern;

    #[test]
    fn image_names_match_as_kustomize_expression_does() {
        let cases = [
            ("ghcr.io/acme/web", "ghcr.io/acme/web", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web:1.2.3", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web@sha256:abc123", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web:1.2@sha256:abc123", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web:v1{x}-_.", true),
            ("ghcr.io/acme/web", "ghcrXio/acme/web:1", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web-api", false),
            ("ghcr.io/acme/web", "ghcr.io/acme/web:1:2", false),
            ("ghcr.io/acme/web", "ghcr.io/acme/web@sha256", false),
            ("ghcr.io/acme/web", "ghcr.io/acme/web@:abc", false),
            ("ghcr.io/acme/web", "ghcr.io/acme/web@sha256+x.y:abc", true),
            ("ghcr.io/acme/web", "ghcr.io/acme/web@sha256+:abc", false),
            ("nginx", "nginx", true),
            ("nginx", "my-nginx", false),
            ("ngin.*", "nginx-extra:1", true),
        ];
        for (name, value, want) in cases {
            let expr =
                format!("^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$");
            let reference = regex::Regex::new(&expr).expect("compiles").is_match(value);
            assert_eq!(reference, want, "the expression: {name} {value}");
            let ours = ImagePattern::new(name).expect("a pattern").is_match(value);
            assert_eq!(ours, want, "{name} {value}");
        }
    }
}
