//! Integration tests of the `tollgate` crate: rule fixtures, the registry,
//! the command line, output formats and hostile input.
#![expect(clippy::print_stdout, reason = "tests print the figures they measured")]

mod action;
mod attacks;
mod bad_input;
mod budgets;
mod cel;
mod cli;
mod conformance;
mod delivery_map;
mod fixtures;
mod gitops;
mod kubernetes_yaml;
mod kustomize;
mod kyverno;
mod new_findings;
mod outputs;
mod owners;
mod precommit;
mod range;
mod readme;
mod registry;
mod rego;
mod render_check;
mod rendered_diff;
mod sarif_multitool;
mod signing;
mod support;
