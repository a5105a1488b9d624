//! Where Kubernetes workloads keep their pod templates and containers.

use tollgate_core::{Document, Node, ObjectKind, Route};

/// The workload kinds that hold a pod spec ([`pod_spec_route`]), of any API
/// group (an Argo `Rollout` included).
pub const WORKLOADS: [ObjectKind; 10] = [
    ObjectKind::any("Pod"),
    ObjectKind::any("PodTemplate"),
    ObjectKind::any("Deployment"),
    ObjectKind::any("StatefulSet"),
    ObjectKind::any("DaemonSet"),
    ObjectKind::any("ReplicaSet"),
    ObjectKind::any("ReplicationController"),
    ObjectKind::any("Job"),
    ObjectKind::any("Rollout"),
    ObjectKind::any("CronJob"),
];

/// The route of the pod spec of a workload kind, if it has one.
///
/// ```
/// use tollgate_gitops::kube::pod_spec_route;
/// assert_eq!(pod_spec_route("CronJob").unwrap().to_string(), "/spec/jobTemplate/spec/template/spec");
/// assert!(pod_spec_route("Service").is_none());
/// ```
pub fn pod_spec_route(kind: &str) -> Option<Route> {
    let r = Route::root();
    Some(match kind {
        "Pod" => r.key("spec"),
        "PodTemplate" => r.key("template").key("spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" | "Rollout" => {
            r.key("spec").key("template").key("spec")
        }
        "CronJob" => r.key("spec").key("jobTemplate").key("spec").key("template").key("spec"),
        _ => return None,
    })
}

/// The three container lists of a pod spec.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// A container of a workload with its route.
#[derive(Debug)]
pub struct ContainerRef<'a> {
    /// The route of the container mapping.
    pub route: Route,
    /// The container mapping.
    pub node: &'a Node,
    /// Its `name` (empty when missing).
    pub name: &'a str,
}

/// Every container, init container and ephemeral container of a workload document.
pub fn containers<'a>(document: &'a Document, kind: &str) -> Vec<ContainerRef<'a>> {
    let Some(spec_route) = pod_spec_route(kind) else { return Vec::new() };
    let Some(spec) = document.root.get(&spec_route) else { return Vec::new() };
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        for (i, node) in spec.get_key(list).and_then(Node::as_sequence).unwrap_or_default().iter().enumerate() {
            out.push(ContainerRef {
                route: spec_route.clone().key(list).index(i),
                node,
                name: node.get_key("name").and_then(Node::as_str).unwrap_or(""),
            });
        }
    }
    out
}
