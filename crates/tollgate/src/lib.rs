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

/// The rule catalog as Markdown (`tollgate rules --format markdown`, and
/// `docs/rules.md`, which a test keeps equal to it): an index table, then
/// every rule's page.
pub fn rules_markdown(registry: &Registry) -> String {
    let mut s = String::from(
        "# tollgate rules\n\nGenerated from the rule registry by `tollgate rules --format markdown`; do not edit by hand.\n\n| id | default severity | summary |\n| --- | --- | --- |\n",
    );
    for r in registry.rules() {
        let m = &r.meta;
        let off = if m.enabled_by_default { "" } else { " (off by default)" };
        s.push_str(&format!("| [`{}`](#{}) | {}{off} | {} |\n", m.id, m.id, m.severity, m.summary.replace('|', "\\|")));
    }
    for r in registry.rules() {
        s.push('\n');
        s.push_str(&r.meta.page_markdown().replacen("# ", "## ", 1).replace("\n## ", "\n### "));
        if !s.ends_with('\n') {
            s.push('\n');
        }
    }
    s
}
