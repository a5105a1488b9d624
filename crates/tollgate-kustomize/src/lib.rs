//! tollgate's Kustomize renderer: what `kustomize build DIR` prints, computed
//! natively and offline, with the origin of every rendered value.
//!
//! Clusters run the render of an overlay, not its files. tollgate executes
//! nothing from the repository and fetches nothing, so it renders Kustomize
//! itself, following kustomize's own build (`api/internal/target`): the
//! resources and sub-kustomizations of a kustomization are accumulated, its
//! generators run, its components apply, then its transformers in
//! kustomize's order (patches, namespace, name prefix and suffix, labels,
//! annotations, JSON 6902 patches, replicas, images); at the top, generated
//! names get their content hash, name references follow renamed objects,
//! and the output is sorted in kustomize's legacy order.
//!
//! What cannot be rendered offline (remote bases, Helm charts, plugins) or
//! is not rendered yet is never guessed: it is a [`RenderError`] naming the
//! file, line and feature.
//!
//! ```
//! use tollgate_kustomize::{MemorySource, render};
//! let files = MemorySource::new([
//!     ("app/kustomization.yaml".to_owned(), "resources: [cm.yaml]\nnamePrefix: prod-\n".to_owned()),
//!     ("app/cm.yaml".to_owned(), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n".to_owned()),
//! ]);
//! let out = render(&files, "app").unwrap();
//! assert_eq!(out.resources[0].name(), "prod-settings");
//! ```

mod appset;
mod argo;
mod build;
mod emit;
mod fieldspec;
mod flux;
mod generate;
mod kustomization;
mod nameref;
mod node;
mod origin;
mod patch;
mod replace;
mod resource;
mod roots;
mod source;
mod transform;
mod vars;

pub use build::{Render, render};
pub use emit::to_yaml;
pub use kustomization::KUSTOMIZATION_FILE_NAMES;
pub use node::{FileId, Key, Origin, RNode, RValue};
pub use resource::{ResId, Resource};
pub use roots::{KustomizeRenderer, Reuse, roots};
pub use source::{DiskSource, FileSource, MemorySource, PathKind, RootError, SourceError};

use tollgate_yaml::Span;

/// Why a kustomization could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
#[non_exhaustive]
pub struct RenderError {
    /// The file (repository-relative).
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong, or what is not rendered.
    pub message: String,
    /// True when the input is valid Kustomize that tollgate does not render
    /// (remote bases, Helm, plugins, features not rendered yet); false when
    /// kustomize itself would refuse it.
    pub unsupported: bool,
}

impl RenderError {
    pub(crate) fn at(path: &str, span: Span, message: String) -> RenderError {
        RenderError {
            path: path.to_owned(),
            line: span.start.line.max(1),
            column: span.start.column.max(1),
            message,
            unsupported: false,
        }
    }

    pub(crate) fn unsupported(path: &str, span: Span, message: String) -> RenderError {
        RenderError { unsupported: true, ..RenderError::at(path, span, message) }
    }
}
