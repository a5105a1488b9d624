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
    rules.extend(tollgate_gitops::rules());
    rules
}

/// The registry of every built-in rule.
pub fn registry() -> Result<Registry, CoreError> {
    Registry::new(builtin_rules())
}
