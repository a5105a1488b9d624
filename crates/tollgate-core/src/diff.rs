//! What a change does to the renders: per rendered root (a Kustomize
//! overlay, an Argo CD or Flux path), the objects it adds, removes or
//! changes, with a unified diff of each changed object's YAML. Computed by
//! the composition (it needs the renderer's YAML emitter); reports show it.

use serde::Serialize;

/// The rendered diff of a range.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RenderedDiff {
    /// The base as given.
    pub base: String,
    /// The head as given (`HEAD`, or the work tree).
    pub head: String,
    /// The roots whose render changed, most protected environment first.
    pub roots: Vec<RootDiff>,
    /// Object diffs left out past the size limit (counted, never silently).
    #[serde(skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The changes of one rendered root.
#[derive(Debug, Clone, Serialize)]
pub struct RootDiff {
    /// The root as users name it (`apps/shop/overlays/prod`).
    pub root: String,
    /// The environment of the root (`prod`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Whether that environment is protected.
    pub protected: bool,
    /// The objects added, removed or changed, by kind and name.
    pub objects: Vec<ObjectDiff>,
}

/// What happened to one object of a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectChange {
    /// Rendered at the head only.
    Added,
    /// Rendered at the base only.
    Removed,
    /// Rendered at both, differently.
    Changed,
}

impl ObjectChange {
    /// `added`, `removed` or `changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectChange::Added => "added",
            ObjectChange::Removed => "removed",
            ObjectChange::Changed => "changed",
        }
    }
}

/// One object's change.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    /// `apiVersion Kind/namespace/name`.
    pub object: String,
    /// Added, removed or changed.
    pub change: ObjectChange,
    /// A unified diff of the object's YAML (`--- base`, `+++ head`); Secret
    /// values appear as `***` and a short hash.
    pub diff: String,
}

impl RenderedDiff {
    /// The number of object changes shown.
    pub fn object_count(&self) -> usize {
        self.roots.iter().map(|r| r.objects.len()).sum()
    }
}
