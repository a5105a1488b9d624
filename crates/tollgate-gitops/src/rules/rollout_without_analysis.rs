//! `rollout-without-analysis`: prod progressive delivery with no automated analysis.

use tollgate_core::{DocumentContext, Finding, Judged, Node, ObjectKind, Route, Rule, RuleId};

use crate::scope::cached_document_scope;

/// Reports prod Argo Rollouts whose canary or blue-green strategy has no analysis.
pub(crate) struct RolloutWithoutAnalysis;

impl Rule for RolloutWithoutAnalysis {
    fn page(&self) -> &'static str {
        RuleId::RolloutWithoutAnalysis.page()
    }

    fn judges(&self) -> Judged {
        const KINDS: &[ObjectKind] = &[ObjectKind::of("argoproj.io", "Rollout")];
        Judged::Objects { kinds: KINDS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        if !cx.is("argoproj.io", "Rollout") {
            return;
        }
        let root = &cx.document.root;
        let strategy = Route::parse("/spec/strategy");
        let (route, analysed, name) = if let Some(canary) = root.get(&strategy.clone().key("canary")) {
            let steps = canary.get_key("steps").and_then(Node::as_sequence).unwrap_or_default();
            let analysed =
                canary.get_key("analysis").is_some() || steps.iter().any(|s| s.get_key("analysis").is_some());
            (strategy.key("canary"), analysed, "canary")
        } else if let Some(bg) = root.get(&strategy.clone().key("blueGreen")) {
            let analysed =
                bg.get_key("prePromotionAnalysis").is_some() || bg.get_key("postPromotionAnalysis").is_some();
            (strategy.key("blueGreen"), analysed, "blue-green")
        } else {
            return;
        };
        if analysed {
            return;
        }
        let scope = cached_document_scope(cx);
        if scope.is_prod() {
            cx.report(
                &route,
                format!(
                    "Prod Rollout `{}`{} uses a {name} strategy with no analysis, so a bad version is promoted unless a human notices, and nothing rolls it back automatically. Add an AnalysisTemplate with success conditions on your SLO metrics and reference it (`canary.analysis`, an `analysis` step, or `prePromotionAnalysis`).",
                    cx.resource().map_or("", |r| r.name.as_str()),
                    scope.via_phrase()
                ),
            )
            .key_only()
            .emit(out);
        }
    }
}
