//! Legacy `vars`: `$(NAME)` in well-known fields replaced by a field of an
//! object, as kustomize v5 still does.
//!
//! A kustomization declares a var once its own transformers have run: the
//! object its `objref` names (group, version, kind and name exactly, the
//! namespace too when given, against every identity the object had) is
//! marked with the var. Vars of nested kustomizations and components add up;
//! a name declared twice is an error. At the end of the build, after name
//! references are fixed, each var takes the value of its `fieldref`
//! (default `metadata.name`) in the marked object, and `$(NAME)` is
//! replaced in the fields kustomize's built-in `varReference` table names
//! (container args, commands, env values and mount paths, Ingress hosts,
//! Service ports, labels and annotations, ...). A string that is exactly
//! `$(NAME)` takes the value's type; `$$` is a `$`; an unknown name is left
//! as written. A replaced value points at the field the var reads.

use crate::RenderError;
use crate::kustomization::Kustomization;
use crate::node::{Origin, RNode, RValue};
use crate::resource::{ResId, Resource};
use tollgate_yaml::ScalarStyle;

/// A declared var.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub(crate) name: String,
    target: ResId,
    field_path: String,
    /// The kustomization and line that declared it.
    path: String,
    origin: Origin,
}

/// The kinds whose pod template `varReference` reaches, with the path to
/// the pod spec.
const POD_SPECS: [(&str, &str); 7] = [
    ("CronJob", "spec/jobTemplate/spec/template/spec"),
    ("DaemonSet", "spec/template/spec"),
    ("Deployment", "spec/template/spec"),
    ("Job", "spec/template/spec"),
    ("Pod", "spec"),
    ("ReplicaSet", "spec/template/spec"),
    ("StatefulSet", "spec/template/spec"),
];

/// The fields `$(NAME)` is replaced in (kustomize's `varReference`).
fn var_references() -> Vec<(Option<&'static str>, String)> {
    let mut out: Vec<(Option<&'static str>, String)> = Vec::new();
    for (kind, spec) in POD_SPECS {
        for list in ["containers", "initContainers"] {
            for field in ["args", "command", "env/value", "volumeMounts/mountPath"] {
                out.push((Some(kind), format!("{spec}/{list}/{field}")));
            }
        }
        // CronJob's volumes sit one level up in kustomize's table.
        let volumes = if kind == "CronJob" {
            "spec/jobTemplate/spec/template/volumes/nfs/server".to_owned()
        } else {
            format!("{spec}/volumes/nfs/server")
        };
        out.push((Some(kind), volumes));
    }
    // A StatefulSet's claim templates, not its pod's volumes.
    out.retain(|(k, p)| !(*k == Some("StatefulSet") && p.ends_with("volumes/nfs/server")));
    out.push((Some("StatefulSet"), "spec/volumeClaimTemplates/spec/nfs/server".to_owned()));
    out.push((Some("Deployment"), "spec/template/metadata/annotations".to_owned()));
    out.push((Some("Ingress"), "spec/rules/host".to_owned()));
    out.push((Some("Ingress"), "spec/tls/hosts".to_owned()));
    out.push((Some("Ingress"), "spec/tls/secretName".to_owned()));
    out.push((Some("Service"), "spec/ports/port".to_owned()));
    out.push((Some("Service"), "spec/ports/targetPort".to_owned()));
    out.push((Some("PersistentVolume"), "spec/nfs/server".to_owned()));
    out.push((None, "metadata/labels".to_owned()));
    out.push((None, "metadata/annotations".to_owned()));
    out
}

/// Declares the vars of `k` on `resources` (its own, transformed).
pub(crate) fn declare(k: &Kustomization, resources: &mut [Resource], vars: &mut Vec<Var>) -> Result<(), RenderError> {
    let Some(list) = k.field("vars") else { return Ok(()) };
    let Some(items) = list.as_seq() else {
        return Err(k.error(list.origin, "`vars` must be a list".to_owned()));
    };
    for item in items {
        let name = item.str_at("name").unwrap_or_default().to_owned();
        if name.is_empty() {
            return Err(k.error(item.origin, "a var needs a `name`".to_owned()));
        }
        let objref = item.get("objref");
        let text = |key: &str| objref.and_then(|o| o.str_at(key)).unwrap_or_default().to_owned();
        let (mut group, mut version) = (text("group"), text("version"));
        let api = text("apiVersion");
        if !api.is_empty() {
            match api.split_once('/') {
                Some((g, v)) => (group, version) = (g.to_owned(), v.to_owned()),
                None => version = api,
            }
        }
        let target = ResId { group, version, kind: text("kind"), namespace: text("namespace"), name: text("name") };
        let field_path = item
            .at("fieldref/fieldpath")
            .and_then(RNode::as_str)
            .filter(|p| !p.is_empty())
            .unwrap_or("metadata.name")
            .to_owned();
        let by_namespace =
            !target.namespace.is_empty() || crate::transform::cluster_scoped(&target.group, &target.kind);
        let matches = |id: &ResId| {
            id.name == target.name
                && id.group == target.group
                && id.version == target.version
                && id.kind == target.kind
                && (!by_namespace || id.effective_namespace() == target.effective_namespace())
        };
        let matched: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| std::iter::once(r.id()).chain(r.previous_ids()).any(|id| matches(&id)))
            .map(|(i, _)| i)
            .collect();
        if matched.len() > 1 {
            return Err(k.error(
                item.origin,
                format!("the var `{name}` matches {} objects; name one (give its `namespace`)", matched.len()),
            ));
        }
        if let Some(&i) = matched.first() {
            resources[i].ref_vars.push(name.clone());
        }
        if vars.iter().any(|v| v.name == name) {
            return Err(k.error(item.origin, format!("the var `{name}` is declared twice")));
        }
        vars.push(Var { name, target, field_path, path: k.path.clone(), origin: item.origin });
    }
    Ok(())
}

/// A var's value: its text and whether it is a string.
struct Value {
    text: String,
    string: bool,
    origin: Origin,
}

/// Resolves every var and replaces `$(NAME)` in the fields that take it.
pub(crate) fn resolve(
    vars: &[Var],
    resources: &mut [Resource],
    custom: &[crate::fieldspec::FieldSpec],
) -> Result<(), RenderError> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values: Vec<(String, Value)> = Vec::new();
    for v in vars {
        let Some(object) = resources.iter().find(|r| r.ref_vars.contains(&v.name)) else {
            return Err(RenderError::at(
                &v.path,
                v.origin.span,
                format!(
                    "the var `{}` names {} `{}`, which is not in the build (group, version and kind must match exactly)",
                    v.name, v.target.kind, v.target.name
                ),
            ));
        };
        let Some(node) = lookup(&object.node, &v.field_path) else {
            return Err(RenderError::at(
                &v.path,
                v.origin.span,
                format!("the var `{}`: `{}` is not a field of {}", v.name, v.field_path, object.id().display()),
            ));
        };
        let value = match &node.value {
            RValue::Scalar(s) => {
                let string = s.style != ScalarStyle::Plain || !crate::emit::core_resolves_to_non_string(&s.text);
                Value { text: s.text.to_string(), string, origin: node.origin }
            }
            _ => Value { text: node.to_json().to_string(), string: true, origin: node.origin },
        };
        values.push((v.name.clone(), value));
    }
    let references = var_references();
    for r in resources.iter_mut() {
        let kind = r.kind().to_owned();
        for (only, path) in &references {
            if only.is_some_and(|k| k != kind) {
                continue;
            }
            crate::fieldspec::apply_path(&mut r.node, path, &mut |n| replace_in(n, &values));
        }
        // The `configurations`' own `varReference` fields.
        let id = r.original.clone();
        for spec in custom.iter().filter(|s| s.selects(&id)) {
            crate::fieldspec::apply_path(&mut r.node, &spec.path, &mut |n| replace_in(n, &values));
        }
    }
    Ok(())
}

/// Replaces vars in a scalar string, a map's string values, or a list's
/// strings.
fn replace_in(node: &mut RNode, values: &[(String, Value)]) {
    match &mut node.value {
        RValue::Scalar(_) => replace_scalar(node, values),
        RValue::Map(entries) => entries.iter_mut().for_each(|(_, v)| replace_scalar(v, values)),
        RValue::Seq(items) => items.iter_mut().for_each(|v| replace_scalar(v, values)),
    }
}

fn replace_scalar(node: &mut RNode, values: &[(String, Value)]) {
    let RValue::Scalar(s) = &node.value else { return };
    // Only strings take vars (a number is left alone).
    if s.style == ScalarStyle::Plain && (crate::emit::core_resolves_to_non_string(&s.text) || s.is_null()) {
        return;
    }
    if !s.text.contains('$') {
        return;
    }
    let text = s.text.to_string();
    // Exactly `$(NAME)`: the value, with its type.
    if let Some(name) = text.strip_prefix("$(").and_then(|t| t.strip_suffix(')'))
        && !name.contains(')')
        && let Some((_, v)) = values.iter().find(|(n, _)| n == name)
    {
        let style = if v.string { ScalarStyle::DoubleQuoted } else { ScalarStyle::Plain };
        node.value = RValue::Scalar(tollgate_yaml::Scalar { text: v.text.clone().into(), style });
        node.origin = v.origin;
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut origin = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            out.push_str(&text[start..i]);
            let rest = &text[i + 1..];
            if rest.starts_with('$') {
                out.push('$');
                i += 2;
            } else if let Some(body) = rest.strip_prefix('(') {
                let Some(end) = body.find(')') else {
                    out.push_str("$(");
                    i += 2;
                    start = i;
                    continue;
                };
                let name = &body[..end];
                if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
                    out.push_str(&v.text);
                    origin = origin.or(Some(v.origin));
                } else {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
                i += end + 3;
            } else {
                out.push('$');
                i += 1;
            }
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[start.min(text.len())..]);
    if out != text {
        node.value = RValue::Scalar(tollgate_yaml::Scalar { text: out.into(), style: ScalarStyle::DoubleQuoted });
        if let Some(o) = origin {
            node.origin = o;
        }
    }
}

/// A field path as vars write it: `spec.ports[0].port`, `a.b`.
fn lookup<'a>(node: &'a RNode, path: &str) -> Option<&'a RNode> {
    let mut at = node;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (field, index) = match part.strip_suffix(']').and_then(|p| p.rsplit_once('[')) {
            Some((f, i)) if i.chars().all(|c| c.is_ascii_digit()) && !i.is_empty() => (f, Some(i)),
            _ => (part, None),
        };
        if !field.is_empty() {
            at = at
                .get(field)
                .or_else(|| at.as_seq().and_then(|s| field.parse::<usize>().ok().and_then(|i| s.get(i))))?;
        }
        if let Some(i) = index {
            at = at.as_seq()?.get(i.parse::<usize>().ok()?)?;
        }
    }
    Some(at)
}
