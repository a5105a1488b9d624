//! `canary-without-thresholds`: a Flagger Canary that cannot decide to roll back.

use tollgate_core::{DocumentContext, Finding, Judged, Node, ObjectKind, Route, Rule, RuleId};

/// Reports Flagger Canaries without metrics or without a failure threshold.
pub(crate) struct CanaryWithoutThresholds;

impl Rule for CanaryWithoutThresholds {
    fn page(&self) -> &'static str {
        RuleId::CanaryWithoutThresholds.page()
    }

    fn judges(&self) -> Judged {
        const KINDS: &[ObjectKind] = &[ObjectKind::of("flagger.app", "Canary")];
        Judged::Objects { kinds: KINDS, kustomizations: false }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        if !cx.is("flagger.app", "Canary") {
            return;
        }
        let root = &cx.document.root;
        let name = cx.resource().map_or("", |r| r.name.as_str());
        let key = if root.get(&Route::parse("/spec/analysis")).is_some() { "analysis" } else { "canaryAnalysis" };
        let analysis_route = Route::parse("/spec").key(key);
        let Some(analysis) = root.get(&analysis_route) else {
            cx.report(&Route::parse("/spec"), format!("Flagger Canary `{name}` has no `analysis`, so it promotes without checking any metric. Add `spec.analysis` with `metrics` and a `threshold`."))
                .key_only()
                .emit(out);
            return;
        };
        let metrics = analysis.get_key("metrics").and_then(Node::as_sequence).is_some_and(|m| !m.is_empty());
        let threshold = analysis.get_key("threshold").and_then(Node::as_i64).is_some_and(|t| t > 0);
        let missing = match (metrics, threshold) {
            (true, true) => return,
            (false, true) => "no `metrics`",
            (true, false) => "no failure `threshold`",
            (false, false) => "no `metrics` and no failure `threshold`",
        };
        cx.report(
            &analysis_route,
            format!(
                "Flagger Canary `{name}` has {missing} in `spec.{key}`, so a failing canary is never rolled back automatically. Add `metrics` (e.g. request-success-rate and request-duration with thresholds) and `threshold: 5`."
            ),
        )
        .key_only()
        .emit(out);
    }
}
