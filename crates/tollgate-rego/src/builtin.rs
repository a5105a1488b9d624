//! Built-in policy packs (`policies/` at the workspace root), embedded in the
//! binary and opt-in from configuration: `policies: {builtin: [NAME]}`.

use crate::policy::RegoFile;

/// One embedded pack.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPack {
    /// The name configuration uses.
    pub name: &'static str,
    /// The Rego package it defines (queried in addition to `--namespace`).
    pub package: &'static str,
    /// Its policy source.
    pub source: &'static str,
}

/// Every built-in pack.
pub const BUILTIN_PACKS: &[BuiltinPack] = &[BuiltinPack {
    name: "k8s-workload-baseline",
    package: "tollgate.k8s_workload_baseline",
    source: include_str!("../../../policies/k8s-workload-baseline/policy.rego"),
}];

/// The pack named `name`.
pub fn builtin_pack(name: &str) -> Option<&'static BuiltinPack> {
    BUILTIN_PACKS.iter().find(|p| p.name == name)
}

impl BuiltinPack {
    /// The pack as a policy file (named `builtin:<name>/policy.rego`).
    pub fn file(&self) -> RegoFile {
        RegoFile { path: format!("builtin:{}/policy.rego", self.name), text: self.source.to_owned() }
    }
}
