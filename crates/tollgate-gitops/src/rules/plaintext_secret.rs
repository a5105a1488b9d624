//! `plaintext-secret`: secrets committed in clear text.

use regex::Regex;
use tollgate_core::{
    Document, DocumentContext, FileKind, Finding, Node, RepositoryContext, Route, Rule, RuleId, SourceFile, Span, Value,
};

/// Reports Kubernetes Secrets with clear `data`/`stringData`, Kustomize
/// `secretGenerator` literals, SOPS files with cleartext values, and files
/// that should be SOPS-encrypted but carry no `sops` metadata.
pub(crate) struct PlaintextSecret;

impl Rule for PlaintextSecret {
    fn page(&self) -> &'static str {
        RuleId::PlaintextSecret.page()
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let root = &cx.document.root;
        if let Some(sops) = root.get_key("sops").filter(|s| s.as_mapping().is_some()) {
            check_sops_document(cx, sops, out);
            return;
        }
        if cx.file.kind == FileKind::Kustomization {
            check_secret_generator(cx, out);
            return;
        }
        if cx.kind() != Some("Secret") || cx.resource().is_none_or(|r| r.api_version != "v1") {
            return;
        }
        let name = cx.resource().map_or("", |r| r.name.as_str());
        // argocd-vault-plugin fills `<key>` placeholders from the path its
        // annotation names.
        let avp = root
            .get(&Route::parse("/metadata/annotations"))
            .and_then(Node::as_mapping)
            .is_some_and(|a| a.iter().any(|(k, _)| k.starts_with("avp.kubernetes.io/")));
        for field in ["data", "stringData"] {
            let Some(map) = root.get_key(field).and_then(Node::as_mapping) else { continue };
            let keys: Vec<&str> = map
                .iter()
                .filter(|(_, v)| has_value(v))
                .filter(|(_, v)| !v.as_str().is_some_and(|t| is_store_reference(t, field == "data", avp)))
                .map(|(k, _)| k)
                .collect();
            if keys.is_empty() {
                continue;
            }
            let encoding = if field == "data" { " (base64 is an encoding, not encryption)" } else { "" };
            let mut finding = cx.report(
                &Route::root().key(field),
                format!(
                    "Secret `{name}` has plaintext `{field}` ({}){encoding}. Anyone who can read the repository can read it. Encrypt it with SOPS, or replace it with a SealedSecret or an ExternalSecret.",
                    list(&keys)
                ),
            );
            for span in value_spans(root.get_key(field).unwrap_or(root)) {
                finding = finding.mask(span);
            }
            finding.emit(out);
        }
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        // In a range check, the base commit's `.sops.yaml` decides.
        let sops = [".sops.yaml", ".sops.yml"].into_iter().find_map(|p| cx.model.guardrail(p).map(|t| (p, t)));
        let sops = sops.map(|(p, t)| {
            SourceFile::parse(p.to_owned(), FileKind::SopsConfig, t.to_owned(), &tollgate_core::Limits::default())
        });
        let rules = creation_rules(sops.as_ref());
        for file in &cx.model.files {
            if !matches!(file.kind, FileKind::Yaml | FileKind::Json) || file.documents.is_empty() {
                continue;
            }
            let by_name = sops_by_name(&file.path);
            let by_rule = rules.iter().find(|(re, _)| re.is_match(&file.path)).map(|(_, src)| src.as_str());
            if !by_name && by_rule.is_none() {
                continue;
            }
            for document in &file.documents {
                let root = &document.root;
                if root.get_key("sops").is_some() || !has_value(root) {
                    continue;
                }
                // Secrets are reported by the per-document check already.
                if root.get_key("kind").and_then(Node::as_str) == Some("Secret") {
                    continue;
                }
                let why = match by_rule {
                    Some(re) => format!("its path matches the `.sops.yaml` creation rule `{re}`"),
                    None => "its name marks it as SOPS-encrypted".to_owned(),
                };
                report_missing_metadata(cx, file, document, &why, out);
            }
        }
    }
}

fn report_missing_metadata(
    cx: &RepositoryContext<'_>,
    file: &SourceFile,
    document: &Document,
    why: &str,
    out: &mut Vec<Finding>,
) {
    let mut finding = cx.report(
        file,
        document,
        &Route::root(),
        format!(
            "`{}` should be SOPS-encrypted ({why}) but has no `sops` metadata, so its values are in clear text. Encrypt it with `sops --encrypt --in-place {}`.",
            file.path, file.path
        ),
    )
    .value_only();
    for span in value_spans(&document.root) {
        finding = finding.mask(span);
    }
    finding.emit(out);
}

/// The spans of every scalar value below `node` (keys excluded): what a
/// report must not print of a secret.
fn value_spans(node: &Node) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match &node.value {
            Value::Scalar(s) if !s.is_null() => spans.push(node.span),
            Value::Scalar(_) => {}
            Value::Sequence(items) => stack.extend(items),
            Value::Mapping(m) => stack.extend(m.entries.iter().map(|(_, v)| v)),
        }
    }
    spans
}

fn sops_by_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    [".sops.", ".enc.", ".secret.enc."].iter().any(|m| name.contains(m)) && !name.starts_with(".sops.")
}

/// `creation_rules[].path_regex` of `.sops.yaml`, compiled once per run.
fn creation_rules(file: Option<&SourceFile>) -> Vec<(Regex, String)> {
    let Some(doc) = file.and_then(|f| f.documents.first()) else { return Vec::new() };
    doc.root
        .get_key("creation_rules")
        .and_then(Node::as_sequence)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.get_key("path_regex").and_then(Node::as_str))
        .filter_map(|re| Regex::new(re).ok().map(|c| (c, re.to_owned())))
        .collect()
}

/// Whether a Secret value only names where the secret lives, for a tool
/// that fills it in at deploy time: the 1Password operator's
/// `op://vault/item/field`, argocd-vault-plugin's `<path:…#key>` (and its
/// `<key>` placeholders when the Secret has an `avp.kubernetes.io/`
/// annotation), bank-vaults' `vault:…`, vals' `ref+…://`, and Flux
/// `postBuild` substitutions such as `${DB_PASSWORD}` that make up the whole
/// value. `data` values are base64: they are decoded first. A weak literal
/// such as `changeme` is a value, and stays reported.
fn is_store_reference(text: &str, base64: bool, avp: bool) -> bool {
    let decoded;
    let text = if base64 {
        match tollgate_yaml::decode_base64(text.trim()).and_then(|b| String::from_utf8(b).ok()) {
            Some(t) => {
                decoded = t;
                decoded.as_str()
            }
            None => return false,
        }
    } else {
        text
    };
    let t = text.trim();
    if t.is_empty() || t.contains(char::is_whitespace) && !t.starts_with("<path:") {
        return false;
    }
    if t.starts_with("op://") || t.starts_with("vault:") || (t.starts_with("ref+") && t.contains("://")) {
        return true;
    }
    if let Some(inner) = t.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        // `<path:secret/data/db#url | base64encode>` may pipe modifiers.
        let path = inner.starts_with("path:");
        let placeholder = !inner.is_empty()
            && inner.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:#|".contains(c) || (path && c == ' '));
        return placeholder && (path || avp);
    }
    // Only substitutions: `${A}`, `${A}${B}`, `${A:=default}` is a value.
    let mut rest = t;
    let mut any = false;
    while let Some(r) = rest.strip_prefix("${") {
        let Some(end) = r.find('}') else { return false };
        let var = &r[..end];
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        rest = &r[end + 1..];
        any = true;
    }
    any && rest.is_empty()
}

/// True when a node holds something other than null or empty strings.
fn has_value(node: &Node) -> bool {
    match &node.value {
        Value::Scalar(s) => !s.is_null() && !s.text.is_empty(),
        Value::Sequence(items) => items.iter().any(has_value),
        Value::Mapping(m) => m.entries.iter().any(|(_, v)| has_value(v)),
    }
}

fn list(keys: &[&str]) -> String {
    const SHOWN: usize = 5;
    let mut s = keys.iter().take(SHOWN).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
    if keys.len() > SHOWN {
        s.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    s
}

/// Kustomize `secretGenerator` entries with `literals`: the values are in the file.
fn check_secret_generator(cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
    let Some(generators) = cx.document.root.get_key("secretGenerator").and_then(Node::as_sequence) else { return };
    for (i, generator) in generators.iter().enumerate() {
        let Some(literals) = generator.get_key("literals").and_then(Node::as_sequence) else { continue };
        let keys: Vec<&str> = literals
            .iter()
            .filter_map(Node::as_str)
            .filter_map(|l| l.split_once('=').filter(|(_, v)| !v.is_empty()).map(|(k, _)| k))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let name = generator.get_key("name").and_then(Node::as_str).unwrap_or("");
        let mut finding = cx.report(
            &Route::root().key("secretGenerator").index(i).key("literals"),
            format!(
                "Kustomize `secretGenerator` `{name}` writes plaintext literals ({}) into the repository. Generate the Secret from a SOPS-encrypted file or use an ExternalSecret instead.",
                list(&keys)
            ),
        );
        // `key=value`: the value starts after the first `=` of the source text.
        for literal in literals {
            let source = literal.span.text(&cx.file.text);
            if let Some(at) = source.find('=') {
                let mut span = literal.span;
                span.start.offset += (at + 1) as u32;
                finding = finding.mask(span);
            }
        }
        finding.emit(out);
    }
}

/// A SOPS key-selection regex that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("`sops.{key}` is not a valid regex: {}", one_line(error))]
struct InvalidSopsRegex {
    /// `encrypted_regex` or `unencrypted_regex`.
    key: &'static str,
    error: regex::Error,
}

/// The regex crate's error on one line: a parse error's own sentence (its
/// message quotes the pattern and marks the column over several lines).
fn one_line(error: &regex::Error) -> String {
    let text = error.to_string();
    match text.lines().find_map(|l| l.strip_prefix("error: ")) {
        Some(reason) => reason.to_owned(),
        None => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// SOPS settings that decide which keys are encrypted.
struct SopsRules {
    encrypted_regex: Option<Regex>,
    unencrypted_regex: Option<Regex>,
    encrypted_suffix: Option<String>,
    unencrypted_suffix: String,
}

impl SopsRules {
    fn from(sops: &Node) -> Result<SopsRules, InvalidSopsRegex> {
        let regex = |key: &'static str| -> Result<Option<Regex>, InvalidSopsRegex> {
            sops.get_key(key)
                .and_then(Node::as_str)
                .map(|re| Regex::new(re).map_err(|error| InvalidSopsRegex { key, error }))
                .transpose()
        };
        Ok(SopsRules {
            encrypted_regex: regex("encrypted_regex")?,
            unencrypted_regex: regex("unencrypted_regex")?,
            encrypted_suffix: sops.get_key("encrypted_suffix").and_then(Node::as_str).map(str::to_owned),
            unencrypted_suffix: sops
                .get_key("unencrypted_suffix")
                .and_then(Node::as_str)
                .unwrap_or("_unencrypted")
                .to_owned(),
        })
    }

    /// Whether a value is encrypted, from the keys on its path, as SOPS
    /// decides: only one of the four settings is used, the suffix/regex that
    /// selects encrypted keys taking precedence.
    fn encrypted(&self, path: &[&str]) -> bool {
        if let Some(suffix) = &self.encrypted_suffix {
            return path.iter().any(|k| k.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.encrypted_regex {
            return path.iter().any(|k| re.is_match(k));
        }
        if let Some(re) = &self.unencrypted_regex {
            return !path.iter().any(|k| re.is_match(k));
        }
        !path.iter().any(|k| k.ends_with(self.unencrypted_suffix.as_str()))
    }
}

fn check_sops_document(cx: &DocumentContext<'_>, sops: &Node, out: &mut Vec<Finding>) {
    let rules = match SopsRules::from(sops) {
        Ok(r) => r,
        Err(invalid) => {
            // On the regex itself: the line to fix.
            cx.report(
                &Route::root().key("sops").key(invalid.key),
                format!("{invalid}. tollgate cannot tell which values SOPS encrypted; fix the metadata."),
            )
            .emit(out);
            return;
        }
    };
    let Some(map) = cx.document.root.as_mapping() else { return };
    let mut clear: Vec<Route> = Vec::new();
    for (key, value) in map.iter().filter(|(k, _)| *k != "sops") {
        walk(value, Route::root().key(key), &mut vec![key], &rules, &mut clear);
    }
    let what = cx.resource().map_or_else(|| format!("`{}`", cx.file.path), |r| format!("{} `{}`", r.kind, r.name));
    for route in clear {
        let value = cx.document.root.get(&route).map(|n| n.span);
        let mut finding = cx.report(
            &route,
            format!(
                "{what} is SOPS-encrypted but `{route}` is in clear text. A value SOPS should encrypt was added or edited after encryption. Re-encrypt with `sops --encrypt --in-place {}` (or `sops updatekeys`/`sops edit`).",
                cx.file.path
            ),
        );
        if let Some(span) = value {
            finding = finding.mask(span);
        }
        finding.emit(out);
    }
}

fn walk<'a>(node: &'a Node, route: Route, path: &mut Vec<&'a str>, rules: &SopsRules, clear: &mut Vec<Route>) {
    match &node.value {
        Value::Mapping(m) => {
            for (k, v) in m.iter() {
                path.push(k);
                walk(v, route.clone().key(k), path, rules, clear);
                path.pop();
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, route.clone().index(i), path, rules, clear);
            }
        }
        Value::Scalar(s) => {
            if rules.encrypted(path) && !s.is_null() && !s.text.is_empty() && !s.text.starts_with("ENC[") {
                clear.push(route);
            }
        }
    }
}
