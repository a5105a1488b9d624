//! Built-in Kyverno policy sets (`policies/` at the workspace root),
//! embedded in the binary and opt-in from configuration:
//! `policies: {builtin: [NAME]}`.

/// One embedded Kyverno policy set.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPolicySet {
    /// The name configuration uses.
    pub name: &'static str,
    /// Its ClusterPolicy YAML.
    pub source: &'static str,
}

/// Every built-in Kyverno policy set.
pub const BUILTIN_POLICY_SETS: &[BuiltinPolicySet] = &[BuiltinPolicySet {
    name: "kyverno-workload-baseline",
    source: include_str!("../../../policies/kyverno-workload-baseline/policy.yaml"),
}];

/// The set named `name`.
///
/// ```
/// let set = tollgate_kyverno::builtin_policy_set("kyverno-workload-baseline").unwrap();
/// let engine = tollgate_kyverno::KyvernoEngine::load(".".as_ref(), &set.options());
/// assert!(engine.problems().is_empty());
/// assert_eq!(engine.policies()[0].name, "workload-baseline");
/// ```
pub fn builtin_policy_set(name: &str) -> Option<&'static BuiltinPolicySet> {
    BUILTIN_POLICY_SETS.iter().find(|p| p.name == name)
}

impl BuiltinPolicySet {
    /// The set as in-memory policies (named `builtin:<name>/policy.yaml`).
    pub fn source(&self) -> (String, String) {
        (format!("builtin:{}/policy.yaml", self.name), self.source.to_owned())
    }

    /// Options that load only this set.
    pub fn options(&self) -> crate::KyvernoOptions {
        crate::KyvernoOptions { policy: Vec::new(), sources: vec![self.source()] }
    }
}
