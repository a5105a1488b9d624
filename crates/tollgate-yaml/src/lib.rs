//! YAML and JSON loading with exact spans.
//!
//! Every file tollgate reads is parsed once into a tree of [`Node`]s. Each node
//! knows the [`Span`] of source text it came from (1-based line and column, and
//! byte offsets), so a rule can ask for "document 2, route
//! `/spec/syncPolicy/automated/selfHeal`" and get the exact place to point at.
//!
//! # Why `saphyr-parser`
//!
//! `serde_yaml` is deprecated and, like most serde-based loaders, throws spans
//! away. `saphyr-parser` is the maintained pure-Rust YAML 1.2 event parser (the
//! successor of `yaml-rust`/`yaml-rust2`); every event carries a start and end
//! marker, it has no C dependency, and its parser keeps an explicit state stack
//! instead of recursing, so deep nesting cannot overflow our stack. We build the
//! tree ourselves from its events, which is where the limits against hostile
//! input (depth, node count, alias expansion) are enforced.
//!
//! JSON is read by a small span-aware parser of our own ([`parse_json`]) that
//! also accepts the JSONC and JSON5 dialects Renovate configurations use.
//!
//! ```
//! use tollgate_yaml::{parse_yaml, Limits, Route};
//!
//! let text = "a: 1\n---\nspec:\n  syncPolicy:\n    automated:\n      selfHeal: true\n";
//! let docs = parse_yaml(text, &Limits::default()).unwrap();
//! let route = Route::parse("/spec/syncPolicy/automated/selfHeal");
//! let node = docs[1].root.get(&route).unwrap();
//! assert_eq!(node.as_bool(), Some(true));
//! assert_eq!((node.span.start.line, node.span.start.column), (6, 17));
//! ```

mod json;
mod node;
mod resolve;
mod route;
mod yaml;

pub use json::{JsonDialect, parse_json};
pub use node::{CoreScalar, Document, Mapping, Node, Position, Scalar, ScalarStyle, Span, Value};
pub use resolve::{Resolved, decode_base64, encode_base64, resolve_plain};
pub use route::{Route, Segment};
pub use yaml::parse_yaml;

/// Limits that keep hostile input from exhausting time or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of collections accepted.
    pub max_depth: usize,
    /// Most nodes that aliases may copy into one file (the defence against
    /// "billion laughs" alias bombs).
    pub max_alias_nodes: usize,
    /// Most nodes one file may hold (keys, values and alias copies): what
    /// bounds the memory of a file that is all tiny nodes (`[1,1,1,...]`).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 256, max_alias_nodes: 100_000, max_nodes: 1_000_000 }
    }
}

/// Why a text could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text is not well-formed.
    #[error("{message}")]
    Syntax {
        /// What is wrong and what was expected.
        message: String,
        /// Where the parser stopped.
        position: Position,
    },
    /// The text is well-formed but exceeds a [`Limits`] bound.
    #[error("{message}")]
    Limit {
        /// Which limit and by how much.
        message: String,
        /// Where the limit was crossed.
        position: Position,
    },
}

impl ParseError {
    /// Where the problem is.
    pub fn position(&self) -> Position {
        match self {
            ParseError::Syntax { position, .. } | ParseError::Limit { position, .. } => *position,
        }
    }

    /// The message without position.
    pub fn message(&self) -> &str {
        match self {
            ParseError::Syntax { message, .. } | ParseError::Limit { message, .. } => message,
        }
    }
}
