//! `analysis-template-missing`: a Rollout names an AnalysisTemplate that does not exist.

use std::collections::HashSet;

use tollgate_core::{Finding, Node, RepositoryContext, Route, Rule, RuleId, Segment};

use crate::image::is_placeholder;

/// Reports `templateName` references of Rollouts (and Experiments) that no
/// `AnalysisTemplate` or `ClusterAnalysisTemplate` in the repository defines.
pub(crate) struct AnalysisTemplateMissing;

impl Rule for AnalysisTemplateMissing {
    fn page(&self) -> &'static str {
        RuleId::AnalysisTemplateMissing.page()
    }

    fn check_repository(&self, cx: &RepositoryContext<'_>, out: &mut Vec<Finding>) {
        let mut namespaced: Vec<(Option<&str>, &str)> = Vec::new();
        let mut cluster: HashSet<&str> = HashSet::new();
        for (_, _, r) in cx.model.objects() {
            if r.group() != "argoproj.io" {
                continue;
            }
            match r.kind.as_str() {
                "AnalysisTemplate" => {
                    namespaced.push((r.namespace.as_deref(), r.name.as_str()));
                }
                "ClusterAnalysisTemplate" => {
                    cluster.insert(r.name.as_str());
                }
                _ => {}
            }
        }
        for (file, doc, r) in cx.model.objects() {
            if !matches!(r.kind.as_str(), "Rollout" | "Experiment") || r.group() != "argoproj.io" {
                continue;
            }
            let mut references: Vec<(Route, String, bool)> = Vec::new();
            doc.root.walk(&mut |route, node| {
                let in_templates =
                    matches!(route.segments(), [.., Segment::Key(k), Segment::Index(_)] if k == "templates" || k == "analyses");
                if in_templates && let Some(name) = node.get_key("templateName").and_then(Node::as_str) {
                    let cluster_scope = node.get_key("clusterScope").and_then(Node::as_bool) == Some(true);
                    references.push((route.clone().key("templateName"), name.to_owned(), cluster_scope));
                }
            });
            for (route, name, cluster_scope) in references {
                if is_placeholder(&name) {
                    continue;
                }
                let found = if cluster_scope {
                    cluster.contains(name.as_str())
                } else {
                    // Namespaces left unset are filled in at apply time: they match any.
                    let ns = r.namespace.as_deref();
                    namespaced.iter().any(|(t_ns, t)| *t == name && (t_ns.is_none() || ns.is_none() || *t_ns == ns))
                };
                if found {
                    continue;
                }
                let kind = if cluster_scope { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" };
                cx.report(
                    file,
                    doc,
                    &route,
                    format!(
                        "{} `{}` uses {kind} `{name}`, which is not defined in the repository. The analysis cannot run, so the rollout either stalls or proceeds unchecked. Add the {kind} next to the Rollout (in its namespace), or fix the name.",
                        r.kind, r.name
                    ),
                )
                .value_only()
                .emit(out);
            }
        }
    }
}
