//! The `tollgate` command line and the composition of every built-in rule.
//!
//! ```
//! let registry = tollgate::registry().unwrap();
//! assert!(registry.get("plaintext-secret").is_some());
//! ```

use tollgate_core::{CoreError, Registry, Rule};

/// Every built-in rule of every crate, in catalog order.
pub fn builtin_rules() -> Vec<Box<dyn Rule>> {
    let mut rules = tollgate_core::core_rules();
    rules.extend(tollgate_owners::rules());
    rules.extend(tollgate_git::rules());
    rules.extend(tollgate_gitops::rules());
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
        areas.entry(r.meta.tags.first().map_or("other", String::as_str)).or_default().push(&r.meta);
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

/// The policy engines a configuration asks for: `policies.rego` paths
/// (relative to `root`), the built-in packs of `policies.builtin`, plus
/// `extra` ones given on the command line, as one Rego engine (conftest packs
/// and Gatekeeper templates/constraints). Nothing is loaded when no policy is
/// given; an unknown built-in pack is an error.
///
/// ```
/// let mut config = tollgate_core::Config::default();
/// let engines = tollgate::policy_engines(".".as_ref(), &config, &tollgate_rego::RegoOptions::default()).unwrap();
/// assert!(engines.is_empty());
/// config.builtin_policies = vec!["k8s-workload-baseline".to_owned()];
/// let engines = tollgate::policy_engines(".".as_ref(), &config, &tollgate_rego::RegoOptions::default()).unwrap();
/// assert_eq!(engines.len(), 1);
/// ```
pub fn policy_engines(
    root: &std::path::Path,
    config: &tollgate_core::Config,
    extra: &tollgate_rego::RegoOptions,
) -> Result<Vec<std::sync::Arc<dyn tollgate_core::PolicyEngine>>, String> {
    let mut options = extra.clone();
    let configured: Vec<std::path::PathBuf> = config.rego.iter().map(|p| root.join(p)).collect();
    options.policy.splice(0..0, configured);
    for name in &config.builtin_policies {
        let pack = tollgate_rego::builtin_pack(name).ok_or_else(|| {
            let known: Vec<&str> = tollgate_rego::BUILTIN_PACKS.iter().map(|p| p.name).collect();
            format!("unknown built-in policy pack `{name}` in `policies.builtin`; known: {}", known.join(", "))
        })?;
        options.sources.push(pack.file());
        options.namespaces.names.push(pack.package.to_owned());
    }
    if options.policy.is_empty() && options.sources.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![std::sync::Arc::new(tollgate_rego::RegoEngine::load(root, &options))])
}
