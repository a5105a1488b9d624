//! `configMapGenerator` and `secretGenerator`, and the content hash kustomize
//! appends to generated names (so that a changed ConfigMap rolls out the
//! workloads that use it).

use sha2::{Digest, Sha256};

use crate::RenderError;
use crate::build::Builder;
use crate::kustomization::Kustomization;
use crate::node::{Origin, RNode};
use crate::resource::{Behavior, Generated, Resource};

/// Runs the generators of `k` and joins their resources to `resources`.
pub(crate) fn run(b: &mut Builder<'_>, k: &Kustomization, resources: &mut Vec<Resource>) -> Result<(), RenderError> {
    let options = k.field("generatorOptions").cloned();
    for (field, kind) in [("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")] {
        let Some(list) = k.field(field) else { continue };
        let Some(items) = list.as_seq() else {
            return Err(k.error(list.origin, format!("`{field}` must be a list")));
        };
        for item in items {
            let generated = generate(b, k, item, kind, options.as_ref())?;
            absorb(k, resources, generated, item.origin)?;
        }
    }
    plugins(b, k, resources)
}

/// The plugin configurations a `generators` or `transformers` field names,
/// with the file each was written in and the entry's origin: inline ones
/// first, then files and directories (a kustomization whose output is
/// configurations), each in their order, as kustomize reads them. Two with
/// one id are refused, as kustomize reads them all into one set.
pub(crate) fn plugin_configs(
    b: &mut Builder<'_>,
    k: &Kustomization,
    field: &str,
) -> Result<Vec<(RNode, crate::node::FileId, Origin)>, RenderError> {
    let mut entries = k.strings(field)?;
    let inline = |entry: &str| {
        tollgate_yaml::parse_yaml(entry, &tollgate_yaml::Limits::default()).is_ok_and(|docs| {
            let docs: Vec<_> = docs.iter().filter(|d| !d.root.is_null()).collect();
            !docs.is_empty() && docs.iter().all(|d| d.root.as_mapping().is_some())
        })
    };
    entries.sort_by_key(|(entry, _)| !inline(entry));
    let mut seen: Vec<crate::resource::ResId> = Vec::new();
    let mut out = Vec::new();
    for (entry, origin) in entries {
        if crate::kustomization::is_remote(&entry) {
            return Err(RenderError::unsupported(
                &k.path,
                origin.span,
                format!("`{entry}` in `{field}` is remote; tollgate fetches nothing"),
            ));
        }
        let path = crate::source::join(&k.dir, &entry);
        let is_dir = !entry.contains('\n') && path.as_ref().is_some_and(|p| b.is_dir(p));
        let configs: Vec<(RNode, crate::node::FileId)> = if is_dir {
            let dir = path.unwrap_or_default();
            b.build_directory(k, &dir, (&entry, field), origin)?.into_iter().map(|r| (r.node, r.file)).collect()
        } else {
            let docs = b.patch_documents(k, &entry, origin)?;
            let file = if entry.contains('\n') { k.file } else { b.file_of(k, &entry) };
            docs.into_iter().map(|d| (d, file)).collect()
        };
        for (config, file) in configs {
            let id = crate::resource::ResId::of(&config);
            if seen.iter().any(|s| s.same(&id)) {
                return Err(
                    k.error(origin, format!("may not add resource with an already registered id: {}", id.display()))
                );
            }
            seen.push(id);
            out.push((config, file, origin));
        }
    }
    Ok(out)
}

/// The `generators` field: configurations of kustomize's built-in
/// `ConfigMapGenerator` and `SecretGenerator` (`apiVersion: builtin`), in a
/// file, inline, or as the output of a kustomization directory. Anything
/// else there is a plugin, a program tollgate never runs.
fn plugins(b: &mut Builder<'_>, k: &Kustomization, resources: &mut Vec<Resource>) -> Result<(), RenderError> {
    for (config, file, origin) in plugin_configs(b, k, "generators")? {
        let api = config.str_at("apiVersion").unwrap_or_default();
        let kind = config.str_at("kind").unwrap_or_default();
        let generated_kind = match (api, kind) {
            ("builtin", "ConfigMapGenerator") => "ConfigMap",
            ("builtin", "SecretGenerator") => "Secret",
            ("builtin", other) => {
                return Err(RenderError::unsupported(
                    &k.path,
                    origin.span,
                    format!("the built-in generator `{other}` is not rendered by tollgate"),
                ));
            }
            _ => {
                return Err(RenderError::unsupported(
                    &k.path,
                    origin.span,
                    format!("`{kind}` ({api}) is a generator plugin: it runs a program, which tollgate never does"),
                ));
            }
        };
        // The configuration is the generator's arguments; its name and
        // namespace default to its own metadata's.
        let mut item = config.clone();
        let config_name = config.at("metadata/name").and_then(RNode::as_str).map(str::to_owned);
        for field in ["name", "namespace"] {
            if item.get(field).and_then(RNode::as_str).is_none_or(str::is_empty)
                && let Some(value) = config.at(&format!("metadata/{field}")).cloned()
            {
                item.set(field, value);
            }
        }
        let mut generated = generate(b, k, &item, generated_kind, None)?;
        generated.made = crate::resource::Made::Generator {
            file,
            kind: if generated_kind == "Secret" { "SecretGenerator" } else { "ConfigMapGenerator" },
            name: config_name,
        };
        absorb(k, resources, generated, item.origin)?;
    }
    Ok(())
}

fn generate(
    b: &mut Builder<'_>,
    k: &Kustomization,
    item: &RNode,
    kind: &str,
    options: Option<&RNode>,
) -> Result<Resource, RenderError> {
    let origin = item.origin;
    let text = |n: &RNode, key: &str| n.get(key).filter(|v| !v.is_null()).and_then(RNode::as_str).map(str::to_owned);
    let name = text(item, "name").ok_or_else(|| k.error(origin, "a generator needs a `name`".to_owned()))?;
    let behavior = match text(item, "behavior").as_deref() {
        None | Some("" | "create") => Behavior::Create,
        Some("merge") => Behavior::Merge,
        Some("replace") => Behavior::Replace,
        Some(other) => return Err(k.error(origin, format!("unknown generator behavior `{other}`"))),
    };
    // Key/value pairs in kustomize's order: env files, literals, files.
    let mut pairs: Vec<(String, String, Origin)> = Vec::new();
    let mut envs: Vec<(String, Origin)> = Vec::new();
    if let Some(env) = item.get("env").filter(|v| !v.is_null()) {
        envs.push((env.as_str().unwrap_or_default().to_owned(), env.origin));
    }
    for e in list_of(item, "envs") {
        envs.push(e);
    }
    for (path, at) in envs {
        let (content, _) = b.read_in(k, &path, at)?;
        for (n, line) in content.lines().enumerate() {
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(RenderError::unsupported(
                    &path,
                    tollgate_yaml::Span::default(),
                    format!(
                        "line {} of the env file `{path}` names `{line}` without a value: kustomize reads it from its own environment, which an offline render does not have",
                        n + 1
                    ),
                ));
            };
            pairs.push((key.trim().to_owned(), value.to_owned(), at));
        }
    }
    for (literal, at) in list_of(item, "literals") {
        let Some((key, value)) = literal.split_once('=') else {
            return Err(k.error(at, format!("literal `{literal}` is not `key=value`")));
        };
        pairs.push((key.to_owned(), unquote(value).to_owned(), at));
    }
    let mut binary: Vec<(String, String, Origin)> = Vec::new();
    for (source, at) in list_of(item, "files") {
        let (key, path) = match source.split_once('=') {
            Some((key, path)) => (key.to_owned(), path.to_owned()),
            None => (source.rsplit('/').next().unwrap_or(&source).to_owned(), source.clone()),
        };
        let bytes = b.read_bytes_in(k, &path, at)?;
        match String::from_utf8(bytes) {
            Ok(text) => pairs.push((key, text, at)),
            Err(e) => binary.push((key, base64(e.as_bytes()), at)),
        }
    }
    for i in 0..pairs.len() {
        if pairs[..i].iter().any(|(key, _, _)| *key == pairs[i].0) {
            return Err(k.error(pairs[i].2, format!("generator `{name}` sets the key `{}` twice", pairs[i].0)));
        }
    }
    let mut node = RNode::map(origin);
    node.set("apiVersion", RNode::string("v1", origin));
    node.set("kind", RNode::string(kind, origin));
    let meta = node.entry_map("metadata", origin);
    meta.set("name", RNode::string(&name, origin));
    if let Some(ns) = item.get("namespace").filter(|v| !v.is_null()) {
        meta.set("namespace", RNode::string(ns.as_str().unwrap_or_default(), ns.origin));
    }
    // Options: the kustomization's `generatorOptions`, then the generator's own.
    let mut hash = true;
    let mut immutable = false;
    for opts in [options, item.get("options")].into_iter().flatten().filter(|o| !o.is_null()) {
        for (field, key) in [("labels", "labels"), ("annotations", "annotations")] {
            if let Some(map) = opts.get(field).filter(|m| !m.is_null()) {
                let pairs = crate::kustomization::string_map_of(map, field, &k.path)?;
                let target = node.entry_map("metadata", origin).entry_map(key, map.origin);
                for (k2, v, at) in pairs {
                    target.set(&k2, RNode::string(v, at));
                }
            }
        }
        if let Some(d) = opts.get("disableNameSuffixHash").and_then(RNode::as_str) {
            hash = d != "true";
        }
        if opts.get("immutable").and_then(RNode::as_str) == Some("true") {
            immutable = true;
        }
    }
    if kind == "Secret" {
        let secret_type = text(item, "type").unwrap_or_else(|| "Opaque".to_owned());
        node.set("type", RNode::string(secret_type, origin));
    }
    if !pairs.is_empty() {
        let data = node.entry_map("data", origin);
        for (key, value, at) in &pairs {
            let value = if kind == "Secret" { base64(value.as_bytes()) } else { value.clone() };
            data.set(key, RNode::string(value, *at));
        }
    }
    if !binary.is_empty() {
        let field = if kind == "Secret" { "data" } else { "binaryData" };
        let data = node.entry_map(field, origin);
        for (key, value, at) in &binary {
            data.set(key, RNode::string(value, *at));
        }
    }
    if immutable {
        node.set("immutable", RNode::plain("true", origin));
    }
    let mut r = Resource::new(node, k.file);
    r.generated = Some(Generated { behavior, hash });
    r.made = crate::resource::Made::Generator {
        file: k.file,
        kind: if kind == "Secret" { "SecretGenerator" } else { "ConfigMapGenerator" },
        name: None,
    };
    Ok(r)
}

fn list_of(item: &RNode, key: &str) -> Vec<(String, Origin)> {
    item.get(key)
        .and_then(RNode::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_str().map(|s| (s.to_owned(), n.origin)))
        .collect()
}

/// A literal's value without the quotes kustomize strips (`'a b'`, `"a b"`).
fn unquote(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

/// Adds a generated resource: created, or merged into / replacing the
/// resource of the same id.
fn absorb(
    k: &Kustomization,
    resources: &mut Vec<Resource>,
    mut new: Resource,
    origin: Origin,
) -> Result<(), RenderError> {
    let id = new.id();
    let behavior = new.generated.map_or(Behavior::Create, |g| g.behavior);
    let found = resources.iter().position(|r| r.was(&id) || r.id().same(&id));
    match (found, behavior) {
        (None, Behavior::Create) => {
            resources.push(new);
            Ok(())
        }
        (None, _) => Err(k.error(
            origin,
            format!("generator `{}` merges into or replaces a {} that does not exist", id.name, id.kind),
        )),
        (Some(_), Behavior::Create) => {
            Err(k.error(origin, format!("may not add resource with an already registered id: {}", id.display())))
        }
        (Some(i), behavior) => {
            let old = resources.remove(i);
            if behavior == Behavior::Merge {
                for field in ["data", "binaryData"] {
                    if let Some(old_data) = old.node.get(field).and_then(RNode::as_map) {
                        let mut merged = RNode::map(origin);
                        for (key, value) in old_data {
                            merged.set(&key.text, value.clone());
                        }
                        if let Some(new_data) = new.node.get(field).and_then(RNode::as_map) {
                            for (key, value) in new_data {
                                merged.set(&key.text, value.clone());
                            }
                        }
                        new.node.set(field, merged);
                    }
                }
            }
            // Labels and annotations of the old resource stay, the new ones win.
            for field in ["labels", "annotations"] {
                if let Some(old_map) = old.node.at(&format!("metadata/{field}")).and_then(RNode::as_map) {
                    let new_map = new.node.entry_map("metadata", origin).entry_map(field, origin);
                    for (key, value) in old_map {
                        if new_map.get(&key.text).is_none() {
                            new_map.set(&key.text, value.clone());
                        }
                    }
                }
            }
            // The result keeps the name and namespace the old resource has
            // by now (a base's prefix stays), as kustomize's
            // `CopyMergeMetaDataFieldsFrom` does.
            let meta = new.node.entry_map("metadata", origin);
            if let Some(name) = old.node.at("metadata/name").cloned() {
                meta.set("name", name);
            }
            match old.node.at("metadata/namespace").cloned() {
                Some(ns) => meta.set("namespace", ns),
                None => {
                    meta.remove("namespace");
                }
            }
            // The name gets a hash only when both asked for one: an object
            // read from a file never does, even when a generator merges
            // into it.
            let hash = old.generated.is_some_and(|g| g.hash) && new.generated.is_some_and(|g| g.hash);
            new.generated = Some(Generated { behavior: Behavior::Create, hash });
            new.original = old.original.clone();
            new.previous = old.previous;
            new.prefixes = old.prefixes;
            new.suffixes = old.suffixes;
            new.file = old.file;
            // kustomize keeps the origin of what a generator merges into,
            // and reports the replacing generator as the origin of what
            // it replaces.
            if behavior == Behavior::Merge {
                new.made = old.made;
            }
            new.transformations = old.transformations;
            resources.insert(i, new);
            Ok(())
        }
    }
}

/// Appends the content hash to the name of every generated resource that
/// asks for it (kustomize's `HashTransformer`, run once at the top).
pub(crate) fn add_hashes(resources: &mut [Resource]) {
    for r in resources.iter_mut() {
        if !r.generated.is_some_and(|g| g.hash) {
            continue;
        }
        let hash = content_hash(&r.node);
        let Some(name) = r.node.str_at("metadata/name").map(str::to_owned) else { continue };
        r.store_previous_id();
        let origin = r.node.at("metadata/name").map_or(r.node.origin, |n| n.origin);
        r.node.entry_map("metadata", origin).set("name", RNode::string(format!("{name}-{hash}"), origin));
    }
}

/// kustomize's hash of a ConfigMap or Secret: the first ten hex digits of
/// the SHA-256 of a JSON encoding of its kind, name and data, with
/// `0 1 3 a e` spelled `g h k m t`.
fn content_hash(node: &RNode) -> String {
    let kind = node.str_at("kind").unwrap_or_default();
    let value = |path: &str| -> serde_json::Value {
        match node.at(path) {
            None => serde_json::Value::String(String::new()),
            Some(n) if n.as_map().is_some() => n.to_json(),
            Some(n) => serde_json::Value::String(n.as_str().unwrap_or_default().to_owned()),
        }
    };
    let mut map = serde_json::Map::new();
    map.insert("kind".into(), serde_json::Value::String(kind.to_owned()));
    // kustomize looks the name up as a single field called `metadata/name`,
    // which never exists: the hash it prints always encodes an empty name.
    // Matching it exactly is what makes our generated names kustomize's.
    map.insert("name".into(), serde_json::Value::String(String::new()));
    map.insert("data".into(), value("data"));
    if kind == "Secret" {
        map.insert("type".into(), value("type"));
        if node.at("stringData").is_some_and(|n| n.as_map().is_some()) {
            map.insert("stringData".into(), value("stringData"));
        }
    } else if node.at("binaryData").is_some_and(|n| n.as_map().is_some()) {
        map.insert("binaryData".into(), value("binaryData"));
    }
    let encoded = go_json(&serde_json::Value::Object(map));
    let digest = Sha256::digest(encoded.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    hex.chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes it: keys sorted, `<`, `>` and `&`
/// (and U+2028/U+2029) escaped.
fn go_json(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", go_string(k), go_json(&map[k.as_str()]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(items) => format!("[{}]", items.iter().map(go_json).collect::<Vec<_>>().join(",")),
        serde_json::Value::String(s) => go_string(s),
        other => other.to_string(),
    }
}

fn go_string(s: &str) -> String {
    let json = serde_json::Value::String(s.to_owned()).to_string();
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Standard base64 with padding, as kustomize encodes a Secret's values.
pub(crate) fn base64(bytes: &[u8]) -> String {
    tollgate_yaml::encode_base64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"hunter2"), "aHVudGVyMg==");
    }

    #[test]
    fn go_json_sorts_and_escapes() {
        let v = serde_json::json!({"name": "a<b", "data": {"z": "1", "a": "&"}});
        assert_eq!(go_json(&v), r#"{"data":{"a":"\u0026","z":"1"},"name":"a\u003cb"}"#);
    }
}
