//! `lower-env-drift-uncorrected`: dev/staging apps that do not self-heal.

use tollgate_core::{DocumentContext, Finding, Judged, Node, Rule, RuleId};

use super::argo::{application_spec, what};
use crate::scope::cached_document_scope;

/// Reports dev and staging Argo CD applications without automated self-heal.
pub(crate) struct LowerEnvDriftUncorrected;

impl Rule for LowerEnvDriftUncorrected {
    fn page(&self) -> &'static str {
        RuleId::LowerEnvDriftUncorrected.page()
    }

    fn judges(&self) -> Judged {
        Judged::Objects { kinds: &super::argo::APPLICATIONS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let Some(spec) = application_spec(cx) else { return };
        let scope = cached_document_scope(cx);
        if !scope.only_lower() {
            return;
        }
        let root = &cx.document.root;
        let automated = spec.clone().key("syncPolicy").key("automated");
        let (route, problem) = match root.get(&automated) {
            None => (spec.key("syncPolicy"), "has no automated sync"),
            Some(a) if a.get_key("selfHeal").and_then(Node::as_bool) != Some(true) => {
                (automated, "syncs automatically but does not self-heal")
            }
            Some(_) => return,
        };
        cx.report(
            &route,
            format!(
                "{} in a lower environment{} {problem}, so manual changes in the cluster linger and the environment drifts from Git (and from prod). Set `syncPolicy.automated.selfHeal: true` outside prod.",
                what(cx),
                scope.lower_via.as_ref().map(|v| format!(" (by its {v})")).unwrap_or_default()
            ),
        )
        .key_only()
        .emit(out);
    }
}
