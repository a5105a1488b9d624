//! `prod-self-heal`: prod reconcilers that revert drift automatically.

use tollgate_core::{DocumentContext, Finding, Judged, Node, ObjectKind, Route, Rule, RuleId};

use super::argo::{application_spec, what};
use crate::scope::cached_document_scope;

/// Reports Argo CD `automated.selfHeal: true` and Flux HelmRelease
/// `driftDetection.mode: enabled` in prod.
pub(crate) struct ProdSelfHeal;

impl Rule for ProdSelfHeal {
    fn page(&self) -> &'static str {
        RuleId::ProdSelfHeal.page()
    }

    fn judges(&self) -> Judged {
        const KINDS: &[ObjectKind] = &[
            ObjectKind::of("argoproj.io", "Application"),
            ObjectKind::of("argoproj.io", "ApplicationSet"),
            ObjectKind::of("helm.toolkit.fluxcd.io", "HelmRelease"),
        ];
        Judged::Objects { kinds: KINDS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let root = &cx.document.root;
        let (route, message) = if let Some(spec) = application_spec(cx) {
            let route = spec.key("syncPolicy").key("automated").key("selfHeal");
            if root.get(&route).and_then(Node::as_bool) != Some(true) {
                return;
            }
            (
                route,
                "sets `automated.selfHeal: true`, so Argo CD reverts any change made in the cluster within seconds, including a deliberate hotfix, before a human has looked. Set `selfHeal: false` in prod and alert on drift (OutOfSync notifications) instead.",
            )
        } else if cx.is("helm.toolkit.fluxcd.io", "HelmRelease") {
            let route = Route::parse("/spec/driftDetection/mode");
            if root.get(&route).and_then(Node::as_str) != Some("enabled") {
                return;
            }
            (
                route,
                "sets `driftDetection.mode: enabled`, so Flux reverts any change made in the cluster, including a deliberate hotfix, before a human has looked. Use `mode: warn` in prod and alert on the drift events instead.",
            )
        } else {
            return;
        };
        let scope = cached_document_scope(cx);
        if scope.is_prod() {
            cx.report(&route, format!("Prod {}{} {message}", what(cx), scope.via_phrase())).emit(out);
        }
    }
}
