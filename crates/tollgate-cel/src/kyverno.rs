//! Kyverno's CEL libraries that work offline (image references,
//! `parseServiceAccount`, `json`/`yaml` parsing, hashes, `listObjToMap`,
//! `math.round`, time against the run's clock), and the ones that need a
//! live cluster or network (`resource`, `http`, `globalContext`,
//! `image.GetMetadata`), answered only from test mocks.

use std::sync::Arc;

use crate::eval::{Error, Result, Session, runtime};
use crate::ext::Ext;
use crate::functions::{Function, g, list_arg, m, no_overload, string_arg, string_out};
use crate::value::{Key, Map, Value};

/// A container image reference, parsed as go-containerregistry's
/// `name.ParseReference` does (Kyverno's image library).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub(crate) text: String,
    registry: String,
    repository: String,
    tag: String,
    digest: String,
}

/// Parses an image reference; `None` when go-containerregistry refuses it.
pub(crate) fn parse_image(s: &str) -> Option<ImageRef> {
    if s.is_empty() || s.len() > 4096 || s.chars().any(char::is_whitespace) {
        return None;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => {
            let (alg, hex) = d.split_once(':')?;
            if alg != "sha256"
                || hex.len() != 64
                || !hex.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                return None;
            }
            (r, d.to_string())
        }
        None => (s, String::new()),
    };
    let (registry, remainder) = match rest.split_once('/') {
        Some((f, r)) if f.contains(['.', ':']) || f == "localhost" => (f.to_string(), r),
        _ => ("index.docker.io".to_string(), rest),
    };
    let (repo, tag) = match remainder.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') => (p, t.to_string()),
        _ => (remainder, String::new()),
    };
    if !tag.is_empty()
        && (tag.len() > 128
            || !tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            || !tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return None;
    }
    let repo_ok = !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
        });
    if !repo_ok {
        return None;
    }
    let repository =
        if registry == "index.docker.io" && !repo.contains('/') { format!("library/{repo}") } else { repo.to_string() };
    let tag = if tag.is_empty() && digest.is_empty() { "latest".to_string() } else { tag };
    Some(ImageRef { text: s.to_string(), registry, repository, tag, digest })
}

fn image(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("image", a, 0)?;
    parse_image(s)
        .map(|i| Value::Ext(Arc::new(Ext::Image(i))))
        .ok_or_else(|| runtime(format!("could not parse reference: {s}")))
}

fn is_image(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(parse_image(string_arg("isImage", a, 0)?).is_some()))
}

fn the_image<'v>(name: &str, a: &'v [Value]) -> Result<&'v ImageRef> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Image(i) => Ok(i),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

fn contains_digest(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(!the_image("containsDigest", a)?.digest.is_empty()))
}
fn registry(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_image("registry", a)?.registry))
}
fn repository(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_image("repository", a)?.repository))
}
fn identifier(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let i = the_image("identifier", a)?;
    Ok(Value::str(if i.digest.is_empty() { &i.tag } else { &i.digest }))
}
fn tag(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let i = the_image("tag", a)?;
    Ok(Value::str(if i.digest.is_empty() { &i.tag } else { "" }))
}
fn digest(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_image("digest", a)?.digest))
}

fn map_of(entries: &[(&str, Value)]) -> Value {
    Value::Map(Arc::new(entries.iter().map(|(k, v)| (Key::String(Arc::from(*k)), v.clone())).collect::<Map>()))
}

/// `parseServiceAccount("system:serviceaccount:ns:name")`.
fn parse_service_account(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let user = string_arg("parseServiceAccount", a, 0)?;
    let (ns, name) = user.strip_prefix("system:serviceaccount:").and_then(|r| r.split_once(':')).unwrap_or(("", ""));
    Ok(map_of(&[("Namespace", Value::str(ns)), ("Name", Value::str(name))]))
}

fn library<'v>(name: &'static str, a: &'v [Value]) -> Result<&'v str> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Library(l) => Ok(l),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

/// `json.unmarshal(text)`.
fn json_unmarshal(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if library("unmarshal", a)? != "json" {
        return Err(no_overload("unmarshal", a));
    }
    let text = string_arg("unmarshal", a, 1)?;
    s.check_size(text.len() * 2)?;
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| runtime(format!("json.unmarshal: {e}")))?;
    Ok(Value::from_json(&v))
}

/// `json.marshal(value)`.
fn json_marshal(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if library("marshal", a)? != "json" {
        return Err(no_overload("marshal", a));
    }
    let v = a[1].to_json().ok_or_else(|| runtime(format!("json.marshal: cannot marshal {}", a[1].type_name())))?;
    string_out(s, v.to_string())
}

/// `yaml.parse(text)`.
fn yaml_parse(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if library("parse", a)? != "yaml" {
        return Err(no_overload("parse", a));
    }
    let text = string_arg("parse", a, 1)?;
    s.check_size(text.len() * 2)?;
    let docs = tollgate_yaml::parse_yaml(text, &tollgate_yaml::Limits::default())
        .map_err(|e| runtime(format!("yaml.parse: {}", e.message())))?;
    Ok(docs.first().map_or(Value::Null, |d| Value::from_json(&d.root.to_json())))
}

fn hash_input(name: &str, a: &[Value]) -> Result<Vec<u8>> {
    match &a[0] {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Bytes(b) => Ok(b.to_vec()),
        _ => Err(no_overload(name, a)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    use sha2::Digest as _;
    let input = hash_input("sha256", a)?;
    s.charge((input.len() / 10) as u64)?;
    Ok(Value::String(Arc::from(hex(&sha2::Sha256::digest(&input)))))
}

fn sha1(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    use sha1collisiondetection::Digest as _;
    let input = hash_input("sha1", a)?;
    s.charge((input.len() / 10) as u64)?;
    Ok(Value::String(Arc::from(hex(&sha1collisiondetection::Sha1CD::digest(&input)))))
}

fn md5(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    use md5::Digest as _;
    let input = hash_input("md5", a)?;
    s.charge((input.len() / 10) as u64)?;
    Ok(Value::String(Arc::from(hex(&md5::Md5::digest(&input)))))
}

/// `listObjToMap(keys, values, keyField, valueField)`.
fn list_obj_to_map(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (keys, values) = (list_arg("listObjToMap", a, 0)?, list_arg("listObjToMap", a, 1)?);
    let (key_field, value_field) = (string_arg("listObjToMap", a, 2)?, string_arg("listObjToMap", a, 3)?);
    if keys.len() != values.len() {
        return Err(runtime(format!(
            "listObjToMap must take lists of equal length. list1: {}, list2: {}",
            keys.len(),
            values.len()
        )));
    }
    s.charge(keys.len() as u64)?;
    let mut out = Map::new();
    for (k, v) in keys.iter().zip(values.iter()) {
        let Some(Value::String(key)) = k.get(key_field) else {
            return Err(runtime("the passed key name cannot be handled as a string in the key object list"));
        };
        out.insert(Key::String(key.clone()), v.get(value_field).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Map(Arc::new(out)))
}

/// `x509.decode(pem)`: an RSA certificate or certificate request as Go
/// marshals it.
fn x509_decode(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let text = string_arg("x509.decode", a, 0)?;
    s.charge((text.len() / 10) as u64)?;
    crate::x509::decode_pem(text).map(|j| Value::from_json(&j)).map_err(|e| runtime(format!("x509.decode: {e}")))
}

fn random(_: &mut Session<'_>, _: &[Value]) -> Result<Value> {
    Err(runtime("random() is not evaluated: a verdict must not depend on chance"))
}

/// A call of a library that needs live data: answered from the run's
/// mocks, or an error that says what was needed.
fn live(s: &mut Session<'_>, name: &'static str, a: &[Value]) -> Result<Value> {
    let lib = library(name, a)?;
    if let Some(mock) = s.live()
        && let Some(answer) = mock.call(lib, name, &a[1..])
    {
        return answer.map_err(|e| runtime(format!("{lib}.{name}(): {e}")));
    }
    Err(Error::LiveData(format!("{lib}.{name}() needs a live cluster or network, and no mock answers it")))
}

macro_rules! live_fn {
    ($f:ident, $name:literal) => {
        fn $f(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
            live(s, $name, a)
        }
    };
}
live_fn!(live_get, "Get");
live_fn!(live_get_camel, "get");
live_fn!(live_list, "List");
live_fn!(live_list_camel, "list");
live_fn!(live_post, "Post");
live_fn!(live_post_camel, "post");
live_fn!(live_client, "Client");
live_fn!(live_client_camel, "client");
live_fn!(live_metadata, "GetMetadata");
live_fn!(live_metadata_camel, "getMetadata");
live_fn!(live_to_gvr, "ToGVR");
live_fn!(live_to_gvr_camel, "toGVR");

pub(crate) static FUNCTIONS: &[Function] = &[
    g("image", 1, 1, image),
    g("parseImageReference", 1, 1, image),
    g("isImage", 1, 1, is_image),
    m("containsDigest", 1, 1, contains_digest),
    m("registry", 1, 1, registry),
    m("repository", 1, 1, repository),
    m("identifier", 1, 1, identifier),
    m("tag", 1, 1, tag),
    m("digest", 1, 1, digest),
    g("parseServiceAccount", 1, 1, parse_service_account),
    g("user.parseServiceAccount", 1, 1, parse_service_account),
    m("unmarshal", 2, 2, json_unmarshal),
    m("marshal", 2, 2, json_marshal),
    m("parse", 2, 2, yaml_parse),
    g("sha256", 1, 1, sha256),
    g("hash.sha256", 1, 1, sha256),
    g("sha1", 1, 1, sha1),
    g("hash.sha1", 1, 1, sha1),
    g("md5", 1, 1, md5),
    g("hash.md5", 1, 1, md5),
    g("listObjToMap", 4, 4, list_obj_to_map),
    g("transform.listObjToMap", 4, 4, list_obj_to_map),
    g("x509.decode", 1, 1, x509_decode),
    g("random", 0, 1, random),
    g("random.random", 0, 1, random),
    m("Get", 2, 6, live_get),
    m("get", 2, 6, live_get_camel),
    m("List", 2, 5, live_list),
    m("list", 2, 5, live_list_camel),
    m("Post", 3, 5, live_post),
    m("post", 3, 5, live_post_camel),
    m("Client", 2, 3, live_client),
    m("client", 2, 3, live_client_camel),
    m("GetMetadata", 2, 2, live_metadata),
    m("getMetadata", 2, 2, live_metadata_camel),
    m("ToGVR", 2, 3, live_to_gvr),
    m("toGVR", 2, 3, live_to_gvr_camel),
];

/// The library objects a Kyverno policy's expressions see as variables.
pub const LIBRARY_VARIABLES: &[&str] = &["json", "yaml", "resource", "http", "globalContext", "image"];

/// The value of a library variable.
pub fn library_value(name: &'static str) -> Value {
    Value::Ext(Arc::new(Ext::Library(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_parse_as_go_containerregistry_does() {
        let i = parse_image("nginx").expect("valid");
        assert_eq!(
            (i.registry.as_str(), i.repository.as_str(), i.tag.as_str()),
            ("index.docker.io", "library/nginx", "latest")
        );
        let i = parse_image("ghcr.io/org/app:1.2").expect("valid");
        assert_eq!((i.registry.as_str(), i.repository.as_str(), i.tag.as_str()), ("ghcr.io", "org/app", "1.2"));
        assert!(parse_image("Nginx").is_none());
    }
}
