//! The core's error type.

use std::path::PathBuf;

use crate::config::ConfigDiagnostic;

/// Why a run could not even start. Problems inside the scanned files are
/// findings, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The scanned root cannot be read.
    // The cause is the error's source, printed once by whoever prints the
    // chain (`error: cannot read x: No such file or directory`).
    #[error("cannot read the scanned root {}", path.display())]
    Root {
        /// The root given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file tollgate needs (configuration, baseline) cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid; every problem is listed.
    #[error("invalid configuration:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigDiagnostic>),
    /// A rule page is malformed (a bug in tollgate or in an embedding program).
    #[error("rule page `{id}`: {error}")]
    RulePage {
        /// The rule id, as far as it could be read.
        id: String,
        /// What is wrong.
        error: crate::rule::PageError,
    },
    /// Two rules share an id.
    #[error("two rules are registered with the id `{0}`")]
    DuplicateRule(String),
    /// A baseline file is not SARIF tollgate can read.
    #[error("baseline {}: {message}", path.display())]
    Baseline {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
