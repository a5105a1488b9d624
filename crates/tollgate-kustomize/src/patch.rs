//! Patches: strategic merge (with Kubernetes' merge keys for built-in
//! kinds, `$patch: delete|replace|merge`, `null` to remove a field) and
//! JSON 6902, from files or inline, on the resources a `target` selects.

use crate::RenderError;
use crate::build::Builder;
use crate::kustomization::Kustomization;
use crate::node::{Origin, RNode, RValue};
use crate::resource::{ResId, Resource};

/// The legacy `patchesStrategicMerge`: each entry a file or an inline patch,
/// applied to the resource its own id names.
pub(crate) fn strategic_merge_patches(
    b: &mut Builder<'_>,
    k: &Kustomization,
    resources: &mut Vec<Resource>,
) -> Result<(), RenderError> {
    for (entry, origin) in k.strings("patchesStrategicMerge")? {
        let docs = b.patch_documents(k, &entry, origin)?;
        for patch in docs {
            apply_by_own_id(k, resources, &patch, origin, false, false)?;
        }
    }
    Ok(())
}

/// `patches`: strategic merge or JSON 6902, from `path` or inline `patch`,
/// on the `target` selection (or, for strategic merge, the patch's own id).
pub(crate) fn patches(
    b: &mut Builder<'_>,
    k: &Kustomization,
    resources: &mut Vec<Resource>,
) -> Result<(), RenderError> {
    let Some(list) = k.field("patches") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`patches` must be a list".to_owned()));
    };
    for item in items {
        let (text, file, origin) = patch_text(b, k, item)?;
        let selector = item.get("target").filter(|t| !t.is_null()).map(|t| Selector::of(k, t)).transpose()?;
        let options = item.get("options");
        let allow_name = options.and_then(|o| o.get("allowNameChange")).and_then(RNode::as_str) == Some("true");
        let allow_kind = options.and_then(|o| o.get("allowKindChange")).and_then(RNode::as_str) == Some("true");
        match parse_patch(b, k, &text, file, origin)? {
            Parsed::Json(ops) => {
                let Some(selector) = selector else {
                    return Err(k.error(origin, "a JSON 6902 patch needs a `target`".to_owned()));
                };
                let mut matched = 0;
                for r in resources.iter_mut().filter(|r| selector.selects(r)) {
                    matched += 1;
                    r.store_previous_id();
                    apply_json6902(&mut r.node, &ops)
                        .map_err(|(m, at)| RenderError::at(&b.path_of(at.file), at.span, m))?;
                }
                if matched == 0 {
                    b.warnings.push(unmatched(k, item));
                }
            }
            Parsed::Strategic(docs) => match selector {
                Some(selector) => {
                    if docs.len() > 1 {
                        return Err(k.error(
                            origin,
                            "several strategic merge patches in one `patches` entry cannot share a `target`".to_owned(),
                        ));
                    }
                    let Some(patch) = docs.into_iter().next() else { continue };
                    let mut deleted = Vec::new();
                    let mut matched = 0;
                    for (i, r) in resources.iter_mut().enumerate().filter(|(_, r)| selector.selects(r)) {
                        matched += 1;
                        if apply_to_resource(r, &patch, allow_name, allow_kind) {
                            deleted.push(i);
                        }
                    }
                    if matched == 0 {
                        b.warnings.push(unmatched(k, item));
                    }
                    for i in deleted.into_iter().rev() {
                        resources.remove(i);
                    }
                }
                None => {
                    for patch in docs {
                        apply_by_own_id(k, resources, &patch, origin, allow_name, allow_kind)?;
                    }
                }
            },
        }
    }
    Ok(())
}

/// The legacy `patchesJson6902`: a `target` and a `path` (or inline `patch`).
pub(crate) fn json6902_patches(
    b: &mut Builder<'_>,
    k: &Kustomization,
    resources: &mut [Resource],
) -> Result<(), RenderError> {
    let Some(list) = k.field("patchesJson6902") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`patchesJson6902` must be a list".to_owned()));
    };
    for item in items {
        let (text, file, origin) = patch_text(b, k, item)?;
        let Some(target) = item.get("target").filter(|t| !t.is_null()) else {
            return Err(k.error(item.origin, "a `patchesJson6902` entry needs a `target`".to_owned()));
        };
        let selector = Selector::of(k, target)?;
        let ops = match parse_patch(b, k, &text, file, origin)? {
            Parsed::Json(ops) => ops,
            Parsed::Strategic(_) => {
                return Err(
                    k.error(origin, "a `patchesJson6902` entry must hold a list of JSON patch operations".to_owned())
                );
            }
        };
        // Unlike `patches`, kustomize's legacy transformer stores no
        // previous identity.
        let mut matched = 0;
        for r in resources.iter_mut().filter(|r| selector.selects(r)) {
            matched += 1;
            apply_json6902(&mut r.node, &ops).map_err(|(m, at)| RenderError::at(&b.path_of(at.file), at.span, m))?;
        }
        if matched == 0 {
            b.warnings.push(unmatched(k, item));
        }
    }
    Ok(())
}

/// A patch whose `target` selects no resource: kustomize applies it to
/// nothing without a word; tollgate names it at its `target`.
fn unmatched(k: &Kustomization, item: &RNode) -> RenderError {
    let at = item.get("target").map_or(item.origin, |t| t.origin);
    k.error(
        at,
        "the patch's `target` selects no resource, so the patch changes nothing: fix the selector or remove the patch"
            .to_owned(),
    )
}

/// The text of a `patches` entry (`path` or `patch`), the file it is in and
/// where it starts.
fn patch_text(
    b: &mut Builder<'_>,
    k: &Kustomization,
    item: &RNode,
) -> Result<(String, Option<crate::node::FileId>, Origin), RenderError> {
    let path = item.get("path").filter(|n| !n.is_null());
    let inline = item.get("patch").filter(|n| !n.is_null());
    match (path, inline) {
        (Some(p), None) => {
            let rel = p.as_str().unwrap_or_default();
            let (text, file) = b.read_in(k, rel, p.origin)?;
            Ok((text, Some(file), p.origin))
        }
        (None, Some(t)) => Ok((t.as_str().unwrap_or_default().to_owned(), None, t.origin)),
        (Some(_), Some(_)) => Err(k.error(item.origin, "a patch has `path` and `patch`; give one".to_owned())),
        (None, None) => Err(k.error(item.origin, "a patch needs `path` or `patch`".to_owned())),
    }
}

enum Parsed {
    /// JSON 6902 operations, each as written (with its origin).
    Json(Vec<RNode>),
    Strategic(Vec<RNode>),
}

/// A patch is JSON 6902 when it is a list of operations, else strategic
/// merge. `text` is the file's text, or an inline patch as written.
fn parse_patch(
    b: &mut Builder<'_>,
    k: &Kustomization,
    text: &str,
    file: Option<crate::node::FileId>,
    origin: Origin,
) -> Result<Parsed, RenderError> {
    let nodes = match file {
        Some(file) => {
            let docs = tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default()).map_err(|e| {
                let at = e.position();
                RenderError::at(
                    &b.path_of(file),
                    tollgate_yaml::Span { start: at, end: at },
                    format!("the patch is not valid YAML: {}", e.message()),
                )
            })?;
            docs.iter().filter(|d| !d.root.is_null()).map(|d| RNode::from_node(&d.root, file)).collect()
        }
        None => b.inline_documents(k, text, origin)?,
    };
    if let Some(first) = nodes.first()
        && let RValue::Seq(ops) = &first.value
    {
        return Ok(Parsed::Json(ops.clone()));
    }
    Ok(Parsed::Strategic(nodes))
}

/// Applies a strategic merge patch to one resource as kustomize's
/// `ApplySmPatch` does: the resource keeps its name and kind unless the
/// patch's options allow the change, and always keeps its namespace. Returns
/// true when the patch deletes the resource.
fn apply_to_resource(r: &mut Resource, patch: &RNode, allow_name: bool, allow_kind: bool) -> bool {
    if allow_name || allow_kind {
        r.store_previous_id();
    }
    let keep = |r: &Resource, path: &str| r.node.at(path).cloned();
    let (name, namespace, kind) = (keep(r, "metadata/name"), keep(r, "metadata/namespace"), keep(r, "kind"));
    let (kind_of, group) = (r.original.kind.clone(), r.original.group.clone());
    if apply_strategic(&mut r.node, patch, &kind_of, &group) {
        return true;
    }
    let restore = |node: &mut RNode, parent: Option<&str>, key: &str, value: Option<RNode>| {
        let holder = match parent {
            Some(p) => match node.get_mut(p) {
                Some(h) if h.as_map().is_some() => h,
                _ => return,
            },
            None => node,
        };
        match value {
            Some(v) => holder.set(key, v),
            None => {
                holder.remove(key);
            }
        }
    };
    if !allow_name {
        restore(&mut r.node, Some("metadata"), "name", name);
    }
    if !allow_kind {
        restore(&mut r.node, None, "kind", kind);
    }
    restore(&mut r.node, Some("metadata"), "namespace", namespace);
    false
}

/// Applies a strategic merge patch to the resource its id names.
fn apply_by_own_id(
    k: &Kustomization,
    resources: &mut Vec<Resource>,
    patch: &RNode,
    origin: Origin,
    allow_name: bool,
    allow_kind: bool,
) -> Result<(), RenderError> {
    let id = ResId::of(patch);
    let found: Vec<usize> =
        resources.iter().enumerate().filter(|(_, r)| matches_patch_id(r, &id)).map(|(i, _)| i).collect();
    let Some(&i) = found.first() else {
        return Err(k.error(
            origin,
            format!(
                "no resource matches the strategic merge patch for {} `{}`{}",
                id.kind,
                id.name,
                if id.namespace.is_empty() { String::new() } else { format!(" in namespace `{}`", id.namespace) }
            ),
        ));
    };
    if found.len() > 1 {
        return Err(k.error(origin, format!("the patch for {} `{}` matches several resources", id.kind, id.name)));
    }
    if apply_to_resource(&mut resources[i], patch, allow_name, allow_kind) {
        resources.remove(i);
    }
    Ok(())
}

/// A patch names a resource by its original or current identity (group and
/// version may be left out).
fn matches_patch_id(r: &Resource, id: &ResId) -> bool {
    let same = |other: &ResId| {
        other.kind == id.kind
            && other.name == id.name
            && (id.group.is_empty() || other.group == id.group)
            && (id.version.is_empty() || other.version == id.version)
            && (id.namespace.is_empty()
                || other.namespace == id.namespace
                || (other.namespace.is_empty() && id.namespace == "default"))
    };
    same(&r.id()) || same(&r.original) || r.previous.iter().any(same)
}

/// Applies a strategic merge `patch` to `target`; returns true when the
/// patch deletes the whole object (`$patch: delete`).
pub(crate) fn apply_strategic(target: &mut RNode, patch: &RNode, kind: &str, group: &str) -> bool {
    if patch.str_at("$patch") == Some("delete") {
        return true;
    }
    let typed = crate::patch::builtin_kind(kind, group);
    merge(target, patch, typed, &mut Vec::new());
    false
}

/// Whether a kind is a built-in Kubernetes kind, whose lists merge by key.
fn builtin_kind(kind: &str, group: &str) -> bool {
    const BUILTIN: [(&str, &str); 30] = [
        ("", "Pod"),
        ("", "Service"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "PersistentVolumeClaim"),
        ("", "PersistentVolume"),
        ("", "Namespace"),
        ("", "ReplicationController"),
        ("", "Endpoints"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "PodTemplate"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("extensions", "Deployment"),
        ("extensions", "DaemonSet"),
        ("extensions", "Ingress"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("policy", "PodDisruptionBudget"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ];
    BUILTIN.iter().any(|(g, k)| *k == kind && *g == group)
}

/// The merge key of a list of a built-in kind, from its field name and the
/// fields around it (Kubernetes' `patchMergeKey`s); `None` replaces the list.
fn merge_key(field: &str, path: &[String]) -> Option<&'static str> {
    let in_container =
        path.iter().any(|p| matches!(p.as_str(), "containers" | "initContainers" | "ephemeralContainers"));
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" | "volumes" | "imagePullSecrets" | "resourceClaims" => {
            "name"
        }
        "env" if in_container => "name",
        "ports" if in_container => "containerPort",
        "ports" => "port",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "ownerReferences" => "uid",
        "resizePolicy" => "resourceName",
        "conditions" => "type",
        "finalizers" => "",
        _ => return None,
    })
}

fn merge(target: &mut RNode, patch: &RNode, typed: bool, path: &mut Vec<String>) {
    let (RValue::Map(_), RValue::Map(entries)) = (&target.value, &patch.value) else {
        let mut replaced = patch.clone();
        strip_directives(&mut replaced);
        *target = replaced;
        return;
    };
    if patch.str_at("$patch") == Some("replace") {
        let mut replaced = patch.clone();
        replaced.remove("$patch");
        *target = replaced;
        return;
    }
    for (key, value) in entries {
        if key.text == "$patch" || key.text.starts_with("$setElementOrder") || key.text == "$retainKeys" {
            continue;
        }
        if value.is_null() || value.str_at("$patch") == Some("delete") {
            target.remove(&key.text);
            continue;
        }
        if let Some(existing) = target.get_mut(&key.text) {
            path.push(key.text.clone());
            merge_field(existing, value, &key.text, typed, path);
            path.pop();
        } else {
            let mut added = value.clone();
            strip_directives(&mut added);
            if let Some(map) = target.as_map_mut() {
                map.push((key.clone(), added));
            }
        }
    }
}

fn merge_field(existing: &mut RNode, value: &RNode, field: &str, typed: bool, path: &mut Vec<String>) {
    match (&mut existing.value, &value.value) {
        (RValue::Seq(items), RValue::Seq(patch_items)) => {
            let key = if typed { merge_key(field, path) } else { None };
            match key {
                Some("") => {
                    // A set of scalars: the patch's values first, then the
                    // existing ones it does not repeat (kustomize merges
                    // with lists growing at the front).
                    let mut merged: Vec<RNode> = Vec::with_capacity(items.len() + patch_items.len());
                    for p in patch_items.iter().chain(items.iter()) {
                        if !merged.iter().any(|m| m.as_str() == p.as_str()) {
                            merged.push(p.clone());
                        }
                    }
                    *items = merged;
                }
                Some(key) => merge_list(items, patch_items, key, typed, path),
                None => {
                    let mut replaced = value.clone();
                    strip_directives(&mut replaced);
                    *existing = replaced;
                }
            }
        }
        (RValue::Map(_), RValue::Map(_)) => merge(existing, value, typed, path),
        // A patch restating a value (`apiVersion`, a container's `name`)
        // does not produce it: the value keeps the line it was written on.
        (RValue::Scalar(a), RValue::Scalar(b)) if a == b => {}
        _ => {
            let mut replaced = value.clone();
            strip_directives(&mut replaced);
            *existing = replaced;
        }
    }
}

/// Merges a list by `key` as kustomize does: the patch's elements come
/// first, in the patch's order (merged into the existing element of the same
/// key, or new), then the existing elements the patch does not name, in
/// their order; `$patch: delete` elements are removed.
fn merge_list(items: &mut Vec<RNode>, patch_items: &[RNode], key: &str, typed: bool, path: &mut Vec<String>) {
    if patch_items.iter().any(|p| p.str_at("$patch") == Some("replace")) {
        *items = patch_items.iter().filter(|p| p.str_at("$patch") != Some("replace")).cloned().collect();
        return;
    }
    let mut existing: Vec<Option<RNode>> = std::mem::take(items).into_iter().map(Some).collect();
    let key_of = |n: &RNode| n.get(key).and_then(RNode::as_str).map(str::to_owned);
    let mut result: Vec<RNode> = Vec::with_capacity(existing.len() + patch_items.len());
    let mut keyless = Vec::new();
    for p in patch_items {
        let Some(id) = key_of(p) else {
            let mut new = p.clone();
            strip_directives(&mut new);
            keyless.push(new);
            continue;
        };
        let delete = p.str_at("$patch") == Some("delete");
        if let Some(done) = result.iter_mut().find(|r| key_of(r).as_deref() == Some(id.as_str())) {
            // The patch names the element twice: the second merges too.
            if !delete {
                merge(done, p, typed, path);
            }
            continue;
        }
        let found = existing.iter().position(|e| e.as_ref().is_some_and(|e| key_of(e).as_deref() == Some(id.as_str())));
        match found {
            Some(i) => {
                let Some(mut element) = existing[i].take() else { continue };
                if !delete {
                    merge(&mut element, p, typed, path);
                    result.push(element);
                }
            }
            None if delete => {}
            None => {
                let mut new = p.clone();
                strip_directives(&mut new);
                result.push(new);
            }
        }
    }
    result.extend(existing.into_iter().flatten());
    result.extend(keyless);
    *items = result;
}

fn strip_directives(node: &mut RNode) {
    node.for_each_mut(&mut |n| {
        if let RValue::Map(entries) = &mut n.value {
            entries.retain(|(k, _)| !k.text.starts_with('$'));
        }
    });
}

/// Applies JSON 6902 operations (RFC 6902) to a node. A value an operation
/// adds keeps the origin of the patch line it was written on.
/// An error names the operation's `path` (or the operation).
fn apply_json6902(node: &mut RNode, ops: &[RNode]) -> Result<(), (String, Origin)> {
    for op in ops {
        let at = op.get("path").map_or(op.origin, |p| p.origin);
        apply_op(node, op).map_err(|e| (e.to_string(), at))?;
    }
    Ok(())
}

/// Why a JSON 6902 operation cannot be applied (kustomize refuses the
/// patch). Paths are the operation's JSON pointers; a step is one of their
/// parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum JsonPatchError {
    #[error("a JSON patch operation needs a `path`")]
    NoPath,
    #[error("`{op}` at `{path}` needs a `value`")]
    NoValue { op: String, path: String },
    #[error("`{0}` needs `from`")]
    NoFrom(String),
    #[error("`{0}` does not exist")]
    FromMissing(String),
    #[error("the JSON patch test at `{0}` failed")]
    TestFailed(String),
    #[error("unknown JSON patch operation `{0}`")]
    UnknownOperation(String),
    #[error("`{0}` is not a JSON pointer")]
    NotAPointer(String),
    #[error("`{path}`: `{step}` does not exist")]
    NoStep { path: String, step: String },
    #[error("`{path}`: `{step}` is not a list index")]
    NotAnIndex { path: String, step: String },
    #[error("`{path}`: index {index} is out of range")]
    OutOfRange { path: String, index: usize },
    #[error("`{path}`: `{step}` is below a scalar")]
    StepBelowScalar { path: String, step: String },
    #[error("`{0}` is below a scalar")]
    BelowScalar(String),
    #[error("`{0}` does not exist, so it cannot be replaced")]
    NotReplaceable(String),
    #[error("`{0}` does not exist, so it cannot be removed")]
    NotRemovable(String),
    #[error("cannot remove the whole object")]
    WholeObject,
}

fn apply_op(node: &mut RNode, op: &RNode) -> Result<(), JsonPatchError> {
    {
        let kind = op.str_at("op").unwrap_or_default();
        let path = op.str_at("path").ok_or(JsonPatchError::NoPath)?;
        match kind {
            "add" | "replace" => {
                let value = op
                    .get("value")
                    .ok_or_else(|| JsonPatchError::NoValue { op: kind.to_owned(), path: path.to_owned() })?;
                let new = from_json(&value.to_json(), Some(value), value.origin);
                set_pointer(node, path, new, kind == "add")?;
            }
            "remove" => {
                remove_pointer(node, path)?;
            }
            "move" | "copy" => {
                let from = op.str_at("from").ok_or_else(|| JsonPatchError::NoFrom(kind.to_owned()))?;
                let value =
                    get_pointer(node, from).cloned().ok_or_else(|| JsonPatchError::FromMissing(from.to_owned()))?;
                if kind == "move" {
                    remove_pointer(node, from)?;
                }
                set_pointer(node, path, value, true)?;
            }
            "test" => {
                let want = op.get("value").map_or(serde_json::Value::Null, RNode::to_json);
                let got = get_pointer(node, path).map(RNode::to_json);
                if got.as_ref() != Some(&want) {
                    return Err(JsonPatchError::TestFailed(path.to_owned()));
                }
            }
            other => return Err(JsonPatchError::UnknownOperation(other.to_owned())),
        }
    }
    Ok(())
}

/// A JSON value as kustomize's JSON patch leaves it (`yes` read as YAML 1.1
/// is `true`), each node with the origin of the patch node it came from.
fn from_json(value: &serde_json::Value, written: Option<&RNode>, fallback: Origin) -> RNode {
    let origin = written.map_or(fallback, |w| w.origin);
    match value {
        serde_json::Value::Null => RNode::plain("null", origin),
        serde_json::Value::Bool(b) => RNode::plain(b.to_string(), origin),
        serde_json::Value::Number(n) => RNode::plain(n.to_string(), origin),
        serde_json::Value::String(s) => RNode::string(s.clone(), origin),
        serde_json::Value::Array(items) => {
            let written = written.and_then(RNode::as_seq).unwrap_or_default();
            RNode {
                value: RValue::Seq(
                    items.iter().enumerate().map(|(i, v)| from_json(v, written.get(i), origin)).collect(),
                ),
                origin,
            }
        }
        serde_json::Value::Object(map) => {
            let mut n = RNode::map(origin);
            let entries = written.and_then(RNode::as_map).unwrap_or_default();
            for (k, v) in map {
                let at = entries.iter().find(|(key, _)| key.text == *k);
                n.set(k, from_json(v, at.map(|(_, v)| v), origin));
                if let (Some((key, _)), Some(made)) = (at, n.as_map_mut())
                    && let Some(last) = made.last_mut()
                {
                    last.0.origin = key.origin;
                }
            }
            n
        }
    }
}

fn pointer_parts(path: &str) -> Result<Vec<String>, JsonPatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| JsonPatchError::NotAPointer(path.to_owned()))?;
    Ok(rest.split('/').map(|p| p.replace("~1", "/").replace("~0", "~")).collect())
}

fn get_pointer<'a>(node: &'a RNode, path: &str) -> Option<&'a RNode> {
    let parts = pointer_parts(path).ok()?;
    parts.iter().try_fold(node, |n, p| match &n.value {
        RValue::Map(_) => n.get(p),
        RValue::Seq(items) => p.parse::<usize>().ok().and_then(|i| items.get(i)),
        RValue::Scalar(_) => None,
    })
}

fn parent_mut<'a>(node: &'a mut RNode, parts: &[String], path: &str) -> Result<&'a mut RNode, JsonPatchError> {
    let mut n = node;
    for p in parts {
        n = match &mut n.value {
            RValue::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.text == *p)
                .map(|(_, v)| v)
                .ok_or_else(|| JsonPatchError::NoStep { path: path.to_owned(), step: p.clone() })?,
            RValue::Seq(items) => {
                let i: usize =
                    p.parse().map_err(|_| JsonPatchError::NotAnIndex { path: path.to_owned(), step: p.clone() })?;
                items.get_mut(i).ok_or_else(|| JsonPatchError::OutOfRange { path: path.to_owned(), index: i })?
            }
            RValue::Scalar(_) => {
                return Err(JsonPatchError::StepBelowScalar { path: path.to_owned(), step: p.clone() });
            }
        };
    }
    Ok(n)
}

fn set_pointer(node: &mut RNode, path: &str, value: RNode, insert: bool) -> Result<(), JsonPatchError> {
    let parts = pointer_parts(path)?;
    let Some((last, parents)) = parts.split_last() else {
        *node = value;
        return Ok(());
    };
    let parent = parent_mut(node, parents, path)?;
    match &mut parent.value {
        RValue::Map(_) => {
            if !insert && parent.get(last).is_none() {
                return Err(JsonPatchError::NotReplaceable(path.to_owned()));
            }
            parent.set(last, value);
        }
        RValue::Seq(items) => {
            if last == "-" {
                items.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| JsonPatchError::NotAnIndex { path: path.to_owned(), step: last.clone() })?;
                if insert {
                    if i > items.len() {
                        return Err(JsonPatchError::OutOfRange { path: path.to_owned(), index: i });
                    }
                    items.insert(i, value);
                } else {
                    let slot = items
                        .get_mut(i)
                        .ok_or_else(|| JsonPatchError::OutOfRange { path: path.to_owned(), index: i })?;
                    *slot = value;
                }
            }
        }
        RValue::Scalar(_) => return Err(JsonPatchError::BelowScalar(path.to_owned())),
    }
    Ok(())
}

fn remove_pointer(node: &mut RNode, path: &str) -> Result<(), JsonPatchError> {
    let parts = pointer_parts(path)?;
    let Some((last, parents)) = parts.split_last() else { return Err(JsonPatchError::WholeObject) };
    let parent = parent_mut(node, parents, path)?;
    match &mut parent.value {
        RValue::Map(_) => {
            parent.remove(last).ok_or_else(|| JsonPatchError::NotRemovable(path.to_owned()))?;
        }
        RValue::Seq(items) => {
            let i: usize =
                last.parse().map_err(|_| JsonPatchError::NotAnIndex { path: path.to_owned(), step: last.clone() })?;
            if i >= items.len() {
                return Err(JsonPatchError::OutOfRange { path: path.to_owned(), index: i });
            }
            items.remove(i);
        }
        RValue::Scalar(_) => return Err(JsonPatchError::BelowScalar(path.to_owned())),
    }
    Ok(())
}

/// A patch `target`: group, version, kind, name and namespace (regexes,
/// anchored), label and annotation selectors.
pub(crate) struct Selector {
    group: Option<Matcher>,
    version: Option<Matcher>,
    kind: Option<Matcher>,
    name: Option<Matcher>,
    namespace: Option<Matcher>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

impl Selector {
    pub(crate) fn of(k: &Kustomization, node: &RNode) -> Result<Selector, RenderError> {
        let re = |key: &str| -> Result<Option<Matcher>, RenderError> {
            let Some(n) = node.get(key).filter(|n| !n.is_null()) else { return Ok(None) };
            let text = n.as_str().unwrap_or_default();
            if text.is_empty() {
                return Ok(None);
            }
            // Most selectors are plain names: compared, not compiled.
            if text.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
                return Ok(Some(Matcher::Exact(text.to_owned())));
            }
            regex::Regex::new(&format!("^(?:{text})$"))
                .map(|re| Some(Matcher::Regex(re)))
                .map_err(|e| k.error(n.origin, format!("`target.{key}` is not a valid regular expression: {e}")))
        };
        let selector = |key: &str| -> Result<Option<LabelSelector>, RenderError> {
            let Some(n) = node.get(key).filter(|n| !n.is_null()) else { return Ok(None) };
            LabelSelector::parse(n.as_str().unwrap_or_default())
                .map(Some)
                .map_err(|m| k.error(n.origin, format!("`target.{key}`: {m}")))
        };
        Ok(Selector {
            group: re("group")?,
            version: re("version")?,
            kind: re("kind")?,
            name: re("name")?,
            namespace: re("namespace")?,
            labels: selector("labelSelector")?,
            annotations: selector("annotationSelector")?,
        })
    }

    pub(crate) fn selects(&self, r: &Resource) -> bool {
        let id = r.id();
        let ids: Vec<&ResId> = std::iter::once(&id).chain(std::iter::once(&r.original)).collect();
        let any = |re: &Option<Matcher>, f: &dyn Fn(&ResId) -> &str| {
            re.as_ref().is_none_or(|re| ids.iter().any(|i| re.is_match(f(i))))
        };
        any(&self.group, &|i| &i.group)
            && any(&self.version, &|i| &i.version)
            && any(&self.kind, &|i| &i.kind)
            && any(&self.name, &|i| &i.name)
            && any(&self.namespace, &|i| &i.namespace)
            && self.labels.as_ref().is_none_or(|s| s.matches(r.node.at("metadata/labels")))
            && self.annotations.as_ref().is_none_or(|s| s.matches(r.node.at("metadata/annotations")))
    }
}

/// A selector field: a plain name, or an anchored regular expression.
enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Matcher::Exact(e) => e == text,
            Matcher::Regex(re) => re.is_match(text),
        }
    }
}

/// A part of a label selector that is no requirement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a label selector requirement")]
pub(crate) struct NotARequirement(String);

/// A Kubernetes label selector in its string form: `a=b,c!=d,e in (f,g),
/// h notin (i), j, !k`.
pub(crate) struct LabelSelector {
    requirements: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, NotARequirement> {
        let mut requirements = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            // Split at the next comma outside parentheses.
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        ',' if depth == 0 => return true,
                        _ => {}
                    }
                    false
                })
                .map_or(rest.len(), |(i, _)| i);
            let part = rest[..end].trim();
            rest = rest.get(end + 1..).unwrap_or("").trim();
            if let Some(key) = part.strip_prefix('!') {
                requirements.push((key.trim().to_owned(), "!".to_owned(), Vec::new()));
            } else if let Some((k, v)) = part.split_once("!=") {
                requirements.push((k.trim().to_owned(), "!=".to_owned(), vec![v.trim().to_owned()]));
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                requirements.push((k.trim().to_owned(), "=".to_owned(), vec![v.trim().to_owned()]));
            } else if let Some((k, v)) = part.split_once(" notin ").or_else(|| part.split_once(" in ")) {
                let op = if part.contains(" notin ") { "notin" } else { "in" };
                let values = v.trim().trim_start_matches('(').trim_end_matches(')');
                requirements.push((
                    k.trim().to_owned(),
                    op.to_owned(),
                    values.split(',').map(|s| s.trim().to_owned()).collect(),
                ));
            } else if !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                requirements.push((part.to_owned(), "exists".to_owned(), Vec::new()));
            } else {
                return Err(NotARequirement(part.to_owned()));
            }
        }
        Ok(LabelSelector { requirements })
    }

    pub(crate) fn matches(&self, labels: Option<&RNode>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(RNode::as_str);
        self.requirements.iter().all(|(key, op, values)| match op.as_str() {
            "=" => get(key) == values.first().map(String::as_str),
            "!=" => get(key) != values.first().map(String::as_str),
            "in" => get(key).is_some_and(|v| values.iter().any(|x| x == v)),
            "notin" => get(key).is_none_or(|v| !values.iter().any(|x| x == v)),
            "exists" => get(key).is_some(),
            "!" => get(key).is_none(),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnode(yaml: &str) -> RNode {
        let docs = tollgate_yaml::parse_yaml(yaml, &tollgate_yaml::Limits::default()).expect("test YAML parses");
        RNode::from_node(&docs[0].root, crate::node::FileId(0))
    }

    #[test]
    fn json_patch_errors_are_typed_and_name_the_pointer() {
        let mut object = rnode("spec:\n  ports: [80]\n  name: x\n");
        let error = |object: &mut RNode, op: &str| apply_op(object, &rnode(op)).expect_err(op);
        assert_eq!(
            error(&mut object, "{op: replace, path: /spec/missing, value: 1}"),
            JsonPatchError::NotReplaceable("/spec/missing".into())
        );
        assert_eq!(
            error(&mut object, "{op: add, path: /spec/ports/5, value: 1}"),
            JsonPatchError::OutOfRange { path: "/spec/ports/5".into(), index: 5 }
        );
        assert_eq!(
            error(&mut object, "{op: add, path: /spec/name/x, value: 1}").to_string(),
            "`/spec/name/x` is below a scalar"
        );
        assert_eq!(error(&mut object, "{op: remove, path: ''}"), JsonPatchError::WholeObject);
        assert_eq!(error(&mut object, "{op: frob, path: /spec}"), JsonPatchError::UnknownOperation("frob".into()));
        // What applied stays applied; the refused operations changed nothing.
        apply_op(&mut object, &rnode("{op: add, path: /spec/ports/-, value: 443}")).expect("appends");
        assert_eq!(object.to_json(), serde_json::json!({"spec": {"ports": [80, 443], "name": "x"}}));
    }

    #[test]
    fn label_selectors_refuse_what_is_no_requirement() {
        assert!(LabelSelector::parse("a=b, c in (d,e), !f").is_ok());
        assert_eq!(
            LabelSelector::parse("a=b, (x)").map(|_| ()).map_err(|e| e.to_string()),
            Err("`(x)` is not a label selector requirement".to_owned())
        );
    }
}
