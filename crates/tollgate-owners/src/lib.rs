//! Who must review a change: CODEOWNERS read with GitHub's exact semantics,
//! ownership of protected paths and of the guardrails themselves, and branch
//! protection kept as code.
//!
//! ```
//! use tollgate_owners::codeowners::CodeOwners;
//! let owners = CodeOwners::parse(".github/CODEOWNERS", "* @acme/platform\n/apps/prod/ @acme/sre\n/apps/prod/README.md\n");
//! assert_eq!(owners.owners_of("apps/prod/app.yaml").unwrap().owners, ["@acme/sre"]);
//! assert!(owners.owners_of("apps/prod/README.md").unwrap().owners.is_empty());
//! assert_eq!(owners.owners_of("src/main.rs").unwrap().owners, ["@acme/platform"]);
//! ```

pub mod codeowners;
pub mod gate;
pub mod protection;
mod rules;

pub use rules::rules;
