//! The `tollgate` command line and the composition of every built-in rule.
//!
//! ```
//! let registry = tollgate::registry().unwrap();
//! assert!(registry.get("plaintext-secret").is_some());
//! ```

pub mod base;
pub mod diff;
pub mod map;

/// The README's Rust examples, compiled and run as doctests so that they
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
mod guardrails;

use tollgate_core::{CoreError, Registry, Rule};

/// Every built-in rule of every crate, in catalog order.
pub fn builtin_rules() -> Vec<Box<dyn Rule>> {
    let mut rules = tollgate_core::core_rules();
    rules.extend(tollgate_owners::rules());
    rules.extend(tollgate_git::rules());
    rules.extend(tollgate_gitops::rules());
    rules.push(Box::new(guardrails::GuardrailWeakened));
    rules.push(Box::new(guardrails::GuardrailChanged));
    rules
}

/// The registry of every built-in rule.
pub fn registry() -> Result<Registry, CoreError> {
    Registry::new(builtin_rules())
}

/// The rule catalog as Markdown (`tollgate rules --format markdown`): an
/// index by area (a rule's first tag) and severity.
pub fn rules_markdown(registry: &Registry) -> String {
    use std::collections::BTreeMap;
    let mut areas: BTreeMap<&str, Vec<&tollgate_core::RuleMeta>> = BTreeMap::new();
    for r in registry.rules() {
        areas.entry(r.meta.tags.first().map_or("other", |t| &**t)).or_default().push(&r.meta);
    }
    let mut s = String::from(
        "# tollgate rules\n\nGenerated from `rules/*.md` by `tollgate rules --docs docs/rules`; do not edit by hand.\nEach rule's page is `docs/rules/<id>.md` (`tollgate explain <id>` prints it).\n",
    );
    for (area, mut metas) in areas {
        metas.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        s.push_str(&format!("\n## {area}\n\n| rule | default severity | summary |\n| --- | --- | --- |\n"));
        for m in metas {
            let off = if m.enabled_by_default { "" } else { " (off by default)" };
            s.push_str(&format!(
                "| [`{}`]({}.md) | {}{off} | {} |\n",
                m.id,
                m.id,
                m.severity,
                m.summary.replace('|', "\\|")
            ));
        }
    }
    s
}

/// The generated documentation directory: `README.md` (the index) and one
/// page per rule, as `(file name, content)`.
pub fn rule_docs(registry: &Registry) -> Vec<(String, String)> {
    let mut files = vec![("README.md".to_owned(), rules_markdown(registry))];
    for r in registry.rules() {
        files.push((format!("{}.md", r.meta.id), r.meta.page_markdown()));
    }
    files
}

/// Why the policy engines a configuration asks for cannot be set up. Each
/// message starts with `file:line:column: ` of the entry when the
/// configuration writes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicySetupError {
    /// A configured policy path leaves the repository root, lexically or
    /// through a symbolic link.
    #[error(
        "{place}the configured policy path `{path}` leaves the repository root; tollgate reads nothing outside the checked root (give organisation-wide policies with `--policy` or `--kyverno`)"
    )]
    OutsideRoot {
        /// Where the entry is written (`.tollgate.yaml:4:11: `), or empty.
        place: String,
        /// The path as configured.
        path: String,
    },
    /// A configured policy path does not exist.
    #[error("{place}`{path}` in `{key}` does not exist; fix the path or remove the entry")]
    Missing {
        /// Where the entry is written, or empty.
        place: String,
        /// The path as configured.
        path: String,
        /// `policies.rego` or `policies.kyverno`.
        key: String,
    },
    /// `policies.builtin` names no built-in pack.
    #[error("{place}unknown built-in policy pack `{name}` in `policies.builtin`; {hint}known: {}", known.join(", "))]
    UnknownPack {
        /// Where the entry is written, or empty.
        place: String,
        /// The name as configured.
        name: String,
        /// `did you mean `x`? `, or empty.
        hint: String,
        /// Every built-in pack.
        known: Vec<String>,
    },
}

/// `root/path` for a path of the configuration, refused when it leaves the
/// root, lexically or through a symbolic link.
fn inside_root(
    root: &std::path::Path,
    config: &tollgate_core::Config,
    path: &str,
    key: &str,
) -> Result<std::path::PathBuf, PolicySetupError> {
    let place = config.place_of(key, path);
    let leaves = || PolicySetupError::OutsideRoot { place: place.clone(), path: path.to_owned() };
    let relative = tollgate_core::relative_inside_root(path).ok_or_else(leaves)?;
    let joined = root.join(&relative);
    if let (Ok(resolved), Ok(root)) = (std::fs::canonicalize(&joined), std::fs::canonicalize(root))
        && !resolved.starts_with(root)
    {
        return Err(leaves());
    }
    // As a missing `--policy` path is a bad argument, a missing configured
    // one is a bad configuration: the run stops and says where.
    if std::fs::symlink_metadata(&joined).is_err() {
        return Err(PolicySetupError::Missing { place, path: path.to_owned(), key: key.to_owned() });
    }
    Ok(joined)
}

/// The policy engines a configuration asks for: `policies.rego` paths
/// (relative to `root`) plus the `rego` options given on the command line, as
/// one Rego engine (conftest packs and Gatekeeper templates/constraints);
/// `policies.kyverno` paths plus `kyverno` ones, as one Kyverno engine; and
/// the built-in packs of `policies.builtin` (Rego or Kyverno) in the engine of
/// their kind. Nothing is loaded when no policy is given; an unknown built-in
/// pack is an error.
///
/// ```
/// let mut config = tollgate_core::Config::default();
/// let none = tollgate_rego::RegoOptions::default();
/// let engines = tollgate::policy_engines(".".as_ref(), &config, &none, &[]).unwrap();
/// assert!(engines.is_empty());
/// config.builtin_policies = vec!["k8s-workload-baseline".to_owned(), "kyverno-workload-baseline".to_owned()];
/// let engines = tollgate::policy_engines(".".as_ref(), &config, &none, &[]).unwrap();
/// assert_eq!(engines.len(), 2);
/// config.builtin_policies = vec!["k8s-workload-baselin".to_owned()];
/// let Err(tollgate::PolicySetupError::UnknownPack { hint, .. }) =
///     tollgate::policy_engines(".".as_ref(), &config, &none, &[])
/// else {
///     panic!("an unknown pack is an error")
/// };
/// assert_eq!(hint, "did you mean `k8s-workload-baseline`? ");
/// ```
pub fn policy_engines(
    root: &std::path::Path,
    config: &tollgate_core::Config,
    rego: &tollgate_rego::RegoOptions,
    kyverno: &[std::path::PathBuf],
) -> Result<Vec<std::sync::Arc<dyn tollgate_core::PolicyEngine>>, PolicySetupError> {
    let mut options = rego.clone();
    let configured: Vec<std::path::PathBuf> =
        config.rego.iter().map(|p| inside_root(root, config, p, "policies.rego")).collect::<Result<_, _>>()?;
    options.policy.splice(0..0, configured);
    let kyverno_paths: Vec<std::path::PathBuf> = config
        .kyverno
        .iter()
        .map(|p| inside_root(root, config, p, "policies.kyverno"))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .chain(kyverno.iter().cloned())
        .collect();
    engines_of(root, config, options, kyverno_paths, Vec::new())
}

/// The engines of Rego options and Kyverno paths and sources as given, plus
/// the configuration's built-in packs (`policies.builtin`).
pub(crate) fn engines_of(
    root: &std::path::Path,
    config: &tollgate_core::Config,
    mut options: tollgate_rego::RegoOptions,
    kyverno_paths: Vec<std::path::PathBuf>,
    kyverno_sources: Vec<(String, String)>,
) -> Result<Vec<std::sync::Arc<dyn tollgate_core::PolicyEngine>>, PolicySetupError> {
    let mut kyverno_options = tollgate_kyverno::KyvernoOptions { policy: kyverno_paths, sources: kyverno_sources };
    for name in &config.builtin_policies {
        if let Some(pack) = tollgate_rego::builtin_pack(name) {
            options.sources.push(pack.file());
            options.namespaces.names.push(pack.package.to_owned());
        } else if let Some(set) = tollgate_kyverno::builtin_policy_set(name) {
            kyverno_options.sources.push(set.source());
        } else {
            let known: Vec<&str> = tollgate_rego::BUILTIN_PACKS
                .iter()
                .map(|p| p.name)
                .chain(tollgate_kyverno::BUILTIN_POLICY_SETS.iter().map(|p| p.name))
                .collect();
            // Where the name is written, as other configuration errors say.
            let place = config.place_of("policies.builtin", name);
            let hint = tollgate_core::closest(name, known.iter().copied())
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            return Err(PolicySetupError::UnknownPack {
                place,
                name: name.clone(),
                hint,
                known: known.into_iter().map(str::to_owned).collect(),
            });
        }
    }
    let mut engines: Vec<std::sync::Arc<dyn tollgate_core::PolicyEngine>> = Vec::new();
    let any_rego = !options.policy.is_empty()
        || !options.sources.is_empty()
        || !options.documents.is_empty()
        || !options.data_documents.is_empty();
    if any_rego {
        engines.push(std::sync::Arc::new(tollgate_rego::RegoEngine::load(root, &options)));
    }
    if !kyverno_options.policy.is_empty() || !kyverno_options.sources.is_empty() {
        engines.push(std::sync::Arc::new(tollgate_kyverno::KyvernoEngine::load(root, &kyverno_options)));
    }
    Ok(engines)
}
