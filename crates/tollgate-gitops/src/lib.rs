//! `GitOps` knowledge: Kubernetes workload shapes, image references, SOPS, and
//! the built-in `GitOps` rules.
//!
//! ```
//! let registry = tollgate_core::Registry::new(tollgate_gitops::rules()).unwrap();
//! assert!(registry.get("mutable-image-ref").is_some());
//! ```

pub mod image;
pub mod kube;
pub mod renovate;
mod rules;
pub mod scope;
pub mod workflows;

pub use rules::rules;
