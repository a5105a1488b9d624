//! `allow-empty-sync`: a sync that may delete everything.

use tollgate_core::{DocumentContext, Finding, Judged, Node, Rule, RuleId};

use super::argo::{application_spec, what};

/// Reports Argo CD `automated.allowEmpty: true`.
pub(crate) struct AllowEmptySync;

impl Rule for AllowEmptySync {
    fn page(&self) -> &'static str {
        RuleId::AllowEmptySync.page()
    }

    fn judges(&self) -> Judged {
        Judged::Objects { kinds: &super::argo::APPLICATIONS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let Some(spec) = application_spec(cx) else { return };
        let route = spec.key("syncPolicy").key("automated").key("allowEmpty");
        if cx.document.root.get(&route).and_then(Node::as_bool) == Some(true) {
            cx.report(
                &route,
                format!(
                    "{} sets `automated.allowEmpty: true`: if its source renders no resources (a wrong path, a broken overlay, an emptied directory), automated sync with prune deletes every resource of the application. Remove `allowEmpty` (it defaults to false).",
                    what(cx)
                ),
            )
            .emit(out);
        }
    }
}
