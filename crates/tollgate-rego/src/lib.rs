//! tollgate's OPA/Rego gate through `regorus`: conftest-style policy packs
//! and Gatekeeper ConstraintTemplates with their Constraints, evaluated
//! offline on the documents tollgate has already parsed, with findings at the
//! exact node when a policy says which (`path`).

mod builtin;
mod builtins;
mod conftest;
mod engine;
mod gatekeeper;
mod guard;
mod k8scel;
pub mod memory;
mod policy;
mod replica;
mod sprintf;
mod testing;

pub use builtin::{BUILTIN_PACKS, BuiltinPack, builtin_pack};
pub use conftest::{Conftest, Evaluation, Evaluator, Namespaces, Outcome, RuleResult};
pub use engine::{RegoEngine, RegoOptions};
pub use gatekeeper::{
    CelError, Constraint, Gatekeeper, GatekeeperError, Template, TemplateEvaluator, Violation, inventory_of, review_of,
};
pub use policy::{Annotation, PackageRules, PolicyProblem, RegoFile, load_data, rego_files, rewrites, rule_kind};
pub use testing::{TestOutcome, find_suites, run_gator_suite, run_gator_suite_cel, run_rego_tests};
