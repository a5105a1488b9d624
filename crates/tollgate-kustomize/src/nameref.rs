//! Name references: when a transformer renames an object (a prefix, a
//! suffix, a namespace, a generated ConfigMap's hash), every field that names
//! it in the other objects follows (kustomize's `FixBackReferences`, run once
//! at the top of a build).
//!
//! Which fields name which kinds is Kubernetes' API (a pod's
//! `envFrom[].configMapRef.name` names a ConfigMap); which of several
//! renamed objects a field means follows kustomize's choice exactly: the
//! candidates that once had the old name, of the referenced kind, in a
//! namespace the referrer can see, and, when several remain, the one whose
//! prefixes and suffixes end like the referrer's.

use crate::node::{Origin, RNode, RValue};
use crate::resource::{ResId, Resource};
use crate::transform::cluster_scoped;

/// A kind a field can name: group (empty for any) and kind.
#[derive(Clone, Copy)]
struct Target<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

const fn target(group: &'static str, version: &'static str, kind: &'static str) -> Target<'static> {
    Target { group, version, kind }
}

/// Where a pod spec sits in each kind that holds one.
const POD: (&str, &str) = ("Pod", "spec");
const POD_TEMPLATE: (&str, &str) = ("PodTemplate", "template/spec");
const DEPLOYMENT: (&str, &str) = ("Deployment", "spec/template/spec");
const REPLICA_SET: (&str, &str) = ("ReplicaSet", "spec/template/spec");
const DAEMON_SET: (&str, &str) = ("DaemonSet", "spec/template/spec");
const STATEFUL_SET: (&str, &str) = ("StatefulSet", "spec/template/spec");
const JOB: (&str, &str) = ("Job", "spec/template/spec");
const CRON_JOB: (&str, &str) = ("CronJob", "spec/jobTemplate/spec/template/spec");
const REPLICATION_CONTROLLER: (&str, &str) = ("ReplicationController", "spec/template/spec");

/// Workloads whose pod specs name ConfigMaps and Secrets (kustomize leaves
/// ReplicationControllers out of these two).
const CONFIG_HOLDERS: &[(&str, &str)] =
    &[POD, POD_TEMPLATE, DEPLOYMENT, REPLICA_SET, DAEMON_SET, STATEFUL_SET, JOB, CRON_JOB];
/// Workloads whose pod specs name service accounts, claims and priority
/// classes.
const SPEC_HOLDERS: &[(&str, &str)] =
    &[POD, STATEFUL_SET, DEPLOYMENT, REPLICATION_CONTROLLER, CRON_JOB, JOB, DAEMON_SET];

const CONFIG_MAP_IN_POD: &[&str] = &[
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
];
const SECRET_IN_POD: &[&str] = &[
    "volumes/secret/secretName",
    "containers/env/valueFrom/secretKeyRef/name",
    "initContainers/env/valueFrom/secretKeyRef/name",
    "containers/envFrom/secretRef/name",
    "initContainers/envFrom/secretRef/name",
    "imagePullSecrets/name",
    "volumes/projected/sources/secret/name",
];

/// One field that names an object: the referrer (group or empty, kind) and
/// the path (`/` between fields; lists on the way are walked; `\/` is a
/// slash inside a key).
struct Field {
    group: &'static str,
    kind: &'static str,
    path: String,
}

fn field(group: &'static str, kind: &'static str, path: &str) -> Field {
    Field { group, kind, path: path.to_owned() }
}

/// Every (referenced kind, field naming it).
fn back_references() -> Vec<(Target<'static>, Vec<Field>)> {
    let in_pods = |holders: &[(&'static str, &'static str)], rels: &[&str]| -> Vec<Field> {
        holders
            .iter()
            .flat_map(|(kind, spec)| rels.iter().map(move |rel| field("", kind, &format!("{spec}/{rel}"))))
            .collect()
    };
    let rbac = "rbac.authorization.k8s.io";
    let mut config_map = in_pods(CONFIG_HOLDERS, CONFIG_MAP_IN_POD);
    config_map.extend([
        field("", "Node", "spec/configSource/configMap"),
        field("", "Role", "rules/resourceNames"),
        field("", "ClusterRole", "rules/resourceNames"),
        field("", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap"),
    ]);
    let mut secret = in_pods(CONFIG_HOLDERS, SECRET_IN_POD);
    secret.extend([
        field("", "Ingress", "spec/tls/secretName"),
        field("", "Ingress", "metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
        field("", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret"),
        field("", "Ingress", "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret"),
        field("", "ServiceAccount", "imagePullSecrets/name"),
        field("", "StorageClass", "parameters/secretName"),
        field("", "StorageClass", "parameters/adminSecretName"),
        field("", "StorageClass", "parameters/userSecretName"),
        field("", "StorageClass", "parameters/secretRef"),
        field("", "Role", "rules/resourceNames"),
        field("", "ClusterRole", "rules/resourceNames"),
        field("serving.knative.dev", "Service", "spec/template/spec/containers/env/valueFrom/secretKeyRef/name"),
        field("", "PersistentVolume", "spec/azureFile/secretName"),
    ]);
    let scale_target = || vec![field("", "HorizontalPodAutoscaler", "spec/scaleTargetRef/name")];
    let mut service_account: Vec<Field> =
        vec![field(rbac, "RoleBinding", "subjects"), field(rbac, "ClusterRoleBinding", "subjects")];
    service_account.extend(in_pods(SPEC_HOLDERS, &["serviceAccountName"]));
    vec![
        (target("", "", "Deployment"), scale_target()),
        (target("", "", "ReplicationController"), scale_target()),
        (target("", "", "ReplicaSet"), scale_target()),
        (target("", "", "StatefulSet"), scale_target()),
        (target("", "v1", "ConfigMap"), config_map),
        (target("", "v1", "Secret"), secret),
        (
            target("", "v1", "Service"),
            vec![
                field("apps", "StatefulSet", "spec/serviceName"),
                field("", "Ingress", "spec/rules/http/paths/backend/serviceName"),
                field("", "Ingress", "spec/backend/serviceName"),
                field("", "Ingress", "spec/rules/http/paths/backend/service/name"),
                field("", "Ingress", "spec/defaultBackend/service/name"),
                field("apiregistration.k8s.io", "APIService", "spec/service/name"),
                field(
                    "admissionregistration.k8s.io",
                    "ValidatingWebhookConfiguration",
                    "webhooks/clientConfig/service",
                ),
                field("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "webhooks/clientConfig/service"),
            ],
        ),
        (target(rbac, "", "Role"), vec![field(rbac, "RoleBinding", "roleRef/name")]),
        (
            target(rbac, "", "ClusterRole"),
            vec![field(rbac, "RoleBinding", "roleRef/name"), field(rbac, "ClusterRoleBinding", "roleRef/name")],
        ),
        (target("", "v1", "ServiceAccount"), service_account),
        (
            target("", "v1", "PersistentVolumeClaim"),
            in_pods(SPEC_HOLDERS, &["volumes/persistentVolumeClaim/claimName"]),
        ),
        (
            target("", "v1", "PersistentVolume"),
            vec![
                field("", "PersistentVolumeClaim", "spec/volumeName"),
                field("", "ClusterRole", "rules/resourceNames"),
            ],
        ),
        (
            target("storage.k8s.io", "v1", "StorageClass"),
            vec![
                field("", "PersistentVolume", "spec/storageClassName"),
                field("", "PersistentVolumeClaim", "spec/storageClassName"),
                field("", "StatefulSet", "spec/volumeClaimTemplates/spec/storageClassName"),
            ],
        ),
        (target("scheduling.k8s.io", "v1", "PriorityClass"), in_pods(SPEC_HOLDERS, &["priorityClassName"])),
        // kustomize also lists IngressClass for `spec/ingressClassName`, but
        // under the group `networking.k8s.io/v1`, which no object has: it
        // never rewrites that field, and neither does tollgate.
        (
            target("admissionregistration.k8s.io", "", "ValidatingAdmissionPolicy"),
            vec![field("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", "spec/policyName")],
        ),
    ]
}

/// A name reference that matches several renamed objects, none better
/// than the others: kustomize refuses the build, and so does tollgate.
pub(crate) struct Ambiguous {
    /// The referring value.
    pub origin: Origin,
    /// What is ambiguous.
    pub message: String,
}

/// Rewrites every reference to a renamed object with its current name:
/// through kustomize's table, then the `configurations`' own
/// `nameReference` fields (`custom`).
pub(crate) fn fix_back_references(
    resources: &mut [Resource],
    custom: &[(crate::fieldspec::FieldSpec, Vec<crate::fieldspec::FieldSpec>)],
) -> Result<(), Ambiguous> {
    if resources.iter().all(|r| r.previous.is_empty()) {
        return Ok(());
    }
    // The candidates are read as they are before any reference is fixed
    // (fixing changes referrers, never the names of candidates).
    let snapshot: Vec<Candidate> = resources.iter().map(Candidate::of).collect();
    let (table, by_kind) = compiled();
    for (index, r) in resources.iter_mut().enumerate() {
        let referrer = &snapshot[index];
        let entries = by_kind.get(r.original.kind.as_str()).map_or(&[][..], Vec::as_slice);
        let mine = custom.iter().any(|(_, fields)| fields.iter().any(|f| f.selects(&r.original)));
        if entries.is_empty() && !mine {
            continue;
        }
        let visible: Vec<&Candidate> = snapshot.iter().filter(|c| referrer.can_see(c)).collect();
        for &i in entries {
            let (target, f, segments) = &table[i];
            if !f.group.is_empty() && f.group != referrer.id.group {
                continue;
            }
            let ctx = Context { target: *target, path: &f.path, referrer, visible: &visible };
            walk(&mut r.node, segments, &ctx)?;
        }
        for (named, fields) in custom {
            let target = Target {
                group: named.group.as_deref().unwrap_or(""),
                version: named.version.as_deref().unwrap_or(""),
                kind: named.kind.as_deref().unwrap_or(""),
            };
            for f in fields.iter().filter(|f| f.selects(&r.original)) {
                let segments = split_path(&f.path);
                let ctx = Context { target, path: &f.path, referrer, visible: &visible };
                walk(&mut r.node, &segments, &ctx)?;
            }
        }
    }
    Ok(())
}

/// The back-reference table, its paths split, indexed by referrer kind: built
/// once per process (every render of a repository uses it).
#[allow(clippy::type_complexity)]
fn compiled()
-> &'static (Vec<(Target<'static>, Field, Vec<String>)>, std::collections::HashMap<&'static str, Vec<usize>>) {
    static TABLE: std::sync::OnceLock<(
        Vec<(Target<'static>, Field, Vec<String>)>,
        std::collections::HashMap<&'static str, Vec<usize>>,
    )> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Vec::new();
        let mut by_kind: std::collections::HashMap<&'static str, Vec<usize>> = std::collections::HashMap::new();
        // In table order: a referrer's fields are fixed in the order
        // kustomize's table lists the referenced kinds.
        for (target, fields) in back_references() {
            for f in fields {
                let segments = split_path(&f.path);
                by_kind.entry(f.kind).or_default().push(table.len());
                table.push((target, f, segments));
            }
        }
        (table, by_kind)
    })
}

/// What name references need to know of an object.
struct Candidate {
    id: ResId,
    previous: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
    /// Namespaces of the ServiceAccount subjects of a RoleBinding.
    subject_namespaces: Vec<String>,
    /// `roleRef` group and kind of a (Cluster)RoleBinding.
    role_ref: Option<(String, String)>,
}

impl Candidate {
    fn of(r: &Resource) -> Candidate {
        let id = r.id();
        let mut subject_namespaces = Vec::new();
        if id.kind == "RoleBinding" {
            for s in r.node.get("subjects").and_then(RNode::as_seq).unwrap_or_default() {
                if s.str_at("kind") == Some("ServiceAccount")
                    && let Some(ns) = s.str_at("namespace")
                {
                    subject_namespaces.push(ns.to_owned());
                }
            }
        }
        let role_ref = r
            .node
            .get("roleRef")
            .and_then(|rr| Some((rr.str_at("apiGroup")?.to_owned(), rr.str_at("kind")?.to_owned())));
        Candidate {
            previous: r.previous_ids(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
            subject_namespaces,
            role_ref,
            id,
        }
    }

    fn cluster_scoped(&self) -> bool {
        cluster_scoped(&self.id.group, &self.id.kind)
    }

    fn effective_namespace(&self) -> &str {
        self.id.effective_namespace()
    }

    /// Whether this referrer may name `other` at all (kustomize's
    /// `SubsetThatCouldBeReferencedByResource`).
    fn can_see(&self, other: &Candidate) -> bool {
        self.cluster_scoped()
            || other.cluster_scoped()
            || self.effective_namespace() == other.effective_namespace()
            || self.subject_namespaces.contains(&other.id.namespace)
    }
}

struct Context<'a> {
    target: Target<'a>,
    path: &'a str,
    referrer: &'a Candidate,
    visible: &'a [&'a Candidate],
}

/// Splits a field path at `/`, keeping `\/` as a slash inside a key.
fn split_path(path: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                if let Some(last) = out.last_mut() {
                    last.push('/');
                }
            }
            '/' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// Walks `segments` (every element of a list on the way) and fixes the
/// value at the end.
fn walk(node: &mut RNode, segments: &[String], ctx: &Context<'_>) -> Result<(), Ambiguous> {
    let Some((first, rest)) = segments.split_first() else {
        return set(node, ctx);
    };
    match &mut node.value {
        RValue::Seq(items) => {
            for item in items {
                walk(item, segments, ctx)?;
            }
            Ok(())
        }
        RValue::Map(_) => match node.get_mut(first) {
            Some(child) => walk(child, rest, ctx),
            None => Ok(()),
        },
        RValue::Scalar(_) => Ok(()),
    }
}

fn set(node: &mut RNode, ctx: &Context<'_>) -> Result<(), Ambiguous> {
    if node.is_null() {
        return Ok(());
    }
    match &mut node.value {
        RValue::Scalar(_) => set_scalar(node, ctx),
        RValue::Map(_) => set_mapping(node, ctx),
        RValue::Seq(items) => {
            for item in items {
                match &item.value {
                    RValue::Scalar(_) => set_scalar(item, ctx)?,
                    RValue::Map(_) => set_mapping(item, ctx)?,
                    RValue::Seq(_) => {}
                }
            }
            Ok(())
        }
    }
}

fn set_scalar(node: &mut RNode, ctx: &Context<'_>) -> Result<(), Ambiguous> {
    let Some(old) = node.as_str().map(str::to_owned) else { return Ok(()) };
    let chosen = select(&old, ctx.visible.to_vec(), ctx, node.origin, false)?;
    if let Some(c) = chosen
        && c.id.name != old
    {
        // The reference keeps its own line: a reviewer reads it there.
        *node = RNode::string(c.id.name.clone(), node.origin);
    }
    Ok(())
}

/// A reference written as a mapping with `name` and maybe `namespace` (a
/// binding's subject, a webhook's service).
fn set_mapping(node: &mut RNode, ctx: &Context<'_>) -> Result<(), Ambiguous> {
    let Some(old) = node.get("name").and_then(RNode::as_str).map(str::to_owned) else { return Ok(()) };
    let candidates: Vec<&Candidate> = match node.get("namespace").and_then(RNode::as_str) {
        None => ctx.visible.to_vec(),
        Some(ns) => {
            // Candidates first by the namespace they were read with, else by
            // the one they have now.
            let by_original: Vec<&Candidate> = ctx
                .visible
                .iter()
                .copied()
                .filter(|c| c.previous.first().map_or(&c.id.namespace, |p| &p.namespace) == ns)
                .collect();
            if by_original.is_empty() {
                ctx.visible.iter().copied().filter(|c| c.id.namespace == ns).collect()
            } else {
                by_original
            }
        }
    };
    let Some(c) = select(&old, candidates, ctx, node.origin, true)? else { return Ok(()) };
    if c.id.name == old && c.id.namespace.is_empty() {
        return Ok(());
    }
    let name_origin = node.get("name").map_or(node.origin, |n| n.origin);
    node.set("name", RNode::string(c.id.name.clone(), name_origin));
    if !c.id.namespace.is_empty() {
        let ns_origin = node.get("namespace").map_or(node.origin, |n| n.origin);
        node.set("namespace", RNode::string(c.id.namespace.clone(), ns_origin));
    }
    Ok(())
}

/// kustomize's `selectReferral`: narrows the candidates step by step.
fn select<'a>(
    old: &str,
    candidates: Vec<&'a Candidate>,
    ctx: &Context<'_>,
    origin: Origin,
    with_namespace: bool,
) -> Result<Option<&'a Candidate>, Ambiguous> {
    let t = ctx.target;
    let selected_by = |id: &ResId, group: &str, version: &str, kind: &str| {
        (group.is_empty() || id.group == group)
            && (version.is_empty() || id.version == version)
            && (kind.is_empty() || id.kind == kind)
    };
    let role_ref = if ctx.path.ends_with("roleRef/name") { ctx.referrer.role_ref.clone() } else { None };
    let referrer = ctx.referrer;
    let mut list: Vec<&Candidate> = candidates
        .into_iter()
        .filter(|c| c.previous.iter().any(|p| p.name == old))
        .filter(|c| c.previous.iter().any(|p| selected_by(p, t.group, t.version, t.kind)))
        .filter(|c| role_ref.as_ref().is_none_or(|(g, k)| c.previous.iter().any(|p| selected_by(p, g, "", k))))
        .filter(|c| {
            referrer.cluster_scoped()
                || c.cluster_scoped()
                || c.id.kind == "ServiceAccount"
                || referrer.effective_namespace() == c.effective_namespace()
        })
        .collect();
    if list.len() == 1 {
        return Ok(list.pop());
    }
    list.retain(|c| affixes_match(c, referrer, true));
    if list.len() > 1 {
        list.retain(|c| affixes_match(c, referrer, false));
    }
    match list.len() {
        0 => return Ok(None),
        1 => return Ok(list.pop()),
        _ => {}
    }
    let first = list[0];
    let identical =
        list.iter().all(|c| c.id.name == first.id.name && (!with_namespace || c.id.namespace == first.id.namespace));
    if identical {
        return Ok(Some(first));
    }
    let names: Vec<String> = list.iter().map(|c| c.id.display()).collect();
    Err(Ambiguous {
        origin,
        message: format!(
            "the reference `{old}` matches several renamed objects ({}); kustomize refuses this build: give the objects distinct names",
            names.join(", ")
        ),
    })
}

/// Whether two objects' prefixes and suffixes end the same way (kustomize's
/// `PrefixesSuffixesEquals`); with `allow_empty`, an object without any
/// matches everything.
fn affixes_match(a: &Candidate, b: &Candidate, allow_empty: bool) -> bool {
    let part = |x: &[String], y: &[String]| (allow_empty && (x.is_empty() || y.is_empty())) || same_ending(x, y);
    part(&a.prefixes, &b.prefixes) && part(&a.suffixes, &b.suffixes)
}

/// Whether the shorter list is the end of the longer one (two empty lists
/// end alike; an empty and a non-empty one do not).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_escaped_slashes() {
        assert_eq!(
            split_path("metadata/annotations/ingress.kubernetes.io\\/auth-secret"),
            vec!["metadata", "annotations", "ingress.kubernetes.io/auth-secret"]
        );
    }

    #[test]
    fn affix_lists_compare_by_their_ends() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(same_ending(&s(&["a", "b", "c"]), &s(&["b", "c"])));
        assert!(!same_ending(&s(&["a", "b", "c"]), &s(&["a", "b"])));
        assert!(same_ending(&s(&[]), &s(&[])));
        assert!(!same_ending(&s(&[]), &s(&["a"])));
    }
}
