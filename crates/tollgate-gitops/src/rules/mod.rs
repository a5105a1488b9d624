//! The built-in `GitOps` rules. Adding a rule: its file here, one line in
//! [`rules`], its page `rules/<id>.md`, its fixtures `testdata/rules/<id>/`.

use tollgate_core::Rule;

mod mutable_image_ref;
mod plaintext_secret;

/// Every built-in `GitOps` rule.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![Box::new(plaintext_secret::PlaintextSecret), Box::new(mutable_image_ref::MutableImageRef)]
}
