//! The core of tollgate: findings and their locations, rule metadata and the
//! [`Rule`] trait, the [`Registry`], configuration ([`Config`]), environment
//! resolution, discovery, suppression and the parallel [`check`] runner.
//!
//! Data flows one way: discover → parse → model → check → suppress → report.
//! Every file is parsed once into a [`RepositoryModel`] that all rules share;
//! rules run in parallel over documents with `rayon`.
//!
//! ```
//! use tollgate_core::{CheckOptions, Config, Registry, check, core_rules};
//! let dir = std::env::temp_dir().join(format!("tollgate-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("broken.yaml"), "a: [1\n").unwrap();
//! let registry = Registry::new(core_rules()).unwrap();
//! let report = check(&dir, &Config::default(), &registry, &CheckOptions::default()).unwrap();
//! assert_eq!(report.findings[0].rule_id, "parse-error");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod config;
mod config_file;
mod date;
mod diff;
mod discover;
mod environment;
mod error;
mod finding;
mod history;
mod ident;
mod model;
mod panicked;
mod registry;
mod render;
mod rule;
mod rule_id;
mod runner;
mod sections;
mod severity;
mod suppress;
mod wildcard;

pub use config::{
    CONFIG_FILE_NAMES, CONFIG_SCHEMA, Config, ConfigDiagnostic, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_NODES, IgnoreEntry,
    ReviewSettings, RuleSettings, closest, normalize_segments, relative_inside_root,
};
pub use date::Date;
pub use diff::{ObjectChange, ObjectDiff, RenderedDiff, RootDiff};
pub use discover::{Candidate, Discovery, discover, discover_with, load};
pub use environment::{Environment, Environments, GlobError, Tier, compile_glob, glob_set};
pub use error::CoreError;
pub use finding::{ChangeState, Finding, Location, RelatedLocation, ResourceIdentity, Suppression};
pub use history::{CommitCheck, CommitRef, SignatureVerdict};
pub use ident::is_kebab_case;
pub use model::{FileKind, FileProblem, ObjectId, RepositoryModel, SourceFile, Syntax, classify};
pub use panicked::{Panicked, catch_panic};
pub use registry::{RegisteredRule, Registry};
pub use render::{Origin, RENDER_PREFIX, RenderProblem, Rendered, Renderer, Renders, origin_position, translate};
pub use rule::{
    DocumentContext, FindingBuilder, Judged, ObjectKind, PageError, REQUIRED_SECTIONS, RepositoryContext, Rule,
    RuleMeta, core_rules,
};
pub use rule_id::RuleId;
pub use runner::{
    CheckOptions, CheckReport, PolicyEngine, RangeInfo, RuleSummary, Stats, check, check_parsed, check_sources,
    load_repository, load_tracked_repository,
};
pub use severity::{Severity, UnknownSeverity};
pub use suppress::{InlineSuppression, apply_baseline, apply_suppressions, comments_only, load_baseline, parse_inline};
pub use tollgate_yaml::{Document, Limits, Node, Position, Route, Segment, Span, Value};
pub use wildcard::wildcard_match;
