//! `GitOps` knowledge: Kubernetes workload shapes, image references, SOPS, and
//! the built-in `GitOps` rules.
//!
//! ```
//! let registry = tollgate_core::Registry::new(tollgate_gitops::rules()).unwrap();
//! assert!(registry.get("mutable-image-ref").is_some());
//! ```

pub mod image;
pub mod kube;
mod rules;

pub use rules::rules;
