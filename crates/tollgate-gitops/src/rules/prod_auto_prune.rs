//! `prod-auto-prune`: automated pruning in prod without confirmation.

use tollgate_core::{DocumentContext, Finding, Judged, Node, Rule, RuleId};

use super::argo::{application_spec, what};
use crate::scope::cached_document_scope;

/// Reports prod Argo CD applications with `automated.prune: true` and no `Prune=confirm` sync option.
pub(crate) struct ProdAutoPrune;

impl Rule for ProdAutoPrune {
    fn page(&self) -> &'static str {
        RuleId::ProdAutoPrune.page()
    }

    fn judges(&self) -> Judged {
        Judged::Objects { kinds: &super::argo::APPLICATIONS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let Some(spec) = application_spec(cx) else { return };
        let root = &cx.document.root;
        let prune = spec.clone().key("syncPolicy").key("automated").key("prune");
        if root.get(&prune).and_then(Node::as_bool) != Some(true) {
            return;
        }
        let options = spec.key("syncPolicy").key("syncOptions");
        let confirmed = root
            .get(&options)
            .and_then(Node::as_sequence)
            .unwrap_or_default()
            .iter()
            .any(|o| o.as_str().is_some_and(|s| s.replace(' ', "") == "Prune=confirm"));
        if confirmed {
            return;
        }
        let scope = cached_document_scope(cx);
        if scope.is_prod() {
            cx.report(
                &prune,
                format!(
                    "Prod {}{} prunes automatically: a resource removed from Git (or an empty or broken render) is deleted from the cluster with no confirmation. Add `Prune=confirm` to `syncPolicy.syncOptions`, or set `prune: false` and prune by hand.",
                    what(cx),
                    scope.via_phrase()
                ),
            )
            .emit(out);
        }
    }
}
