//! `unpinned-chart`: Helm charts that float.

use tollgate_core::{DocumentContext, FileKind, Finding, Judged, Node, ObjectKind, Route, Rule, RuleId};

/// Reports Flux `HelmRelease`/`HelmChart` versions, Argo CD Helm sources'
/// `targetRevision` and Kustomize `helmCharts` versions that are missing,
/// ranges, wildcards or `HEAD`, and the Flux `OCIRepository`/`GitRepository`
/// chart sources of HelmReleases that float (`latest`, a semver range, a
/// branch).
pub(crate) struct UnpinnedChart;

/// Why a chart version is not pinned, if it is not.
fn problem(version: Option<&str>) -> Option<String> {
    let Some(v) = version.map(str::trim) else {
        return Some("no version is set, so the newest chart is installed".to_owned());
    };
    if v.is_empty() {
        return Some("the version is empty, so the newest chart is installed".to_owned());
    }
    if v == "HEAD" || v == "latest" {
        return Some(format!("`{v}` tracks whatever is newest"));
    }
    let range = v.contains(['*', '^', '~', '>', '<', '|', ' '])
        || v.split(['.', '-', '+']).any(|part| part.eq_ignore_ascii_case("x"));
    range.then(|| format!("`{v}` is a range, so a new chart can be installed without a commit"))
}

impl Rule for UnpinnedChart {
    fn page(&self) -> &'static str {
        RuleId::UnpinnedChart.page()
    }

    fn judges(&self) -> Judged {
        const KINDS: &[ObjectKind] = &[
            ObjectKind::of("helm.toolkit.fluxcd.io", "HelmRelease"),
            ObjectKind::of("source.toolkit.fluxcd.io", "HelmChart"),
            ObjectKind::of("argoproj.io", "Application"),
            ObjectKind::of("argoproj.io", "ApplicationSet"),
            ObjectKind::of("source.toolkit.fluxcd.io", "OCIRepository"),
            ObjectKind::of("source.toolkit.fluxcd.io", "GitRepository"),
        ];
        Judged::Objects { kinds: KINDS, kustomizations: true }
    }

    fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
        let root = &cx.document.root;
        let fix = "Pin an exact chart version (`1.4.2`), so that a `git revert` restores exactly what ran before.";
        if cx.file.kind == FileKind::Kustomization {
            for (i, chart) in
                root.get_key("helmCharts").and_then(Node::as_sequence).unwrap_or_default().iter().enumerate()
            {
                let name = chart.get_key("name").and_then(Node::as_str).unwrap_or("");
                let version = chart.get_key("version").and_then(Node::as_str);
                if let Some(why) = problem(version) {
                    let route = Route::root().key("helmCharts").index(i);
                    let route = if version.is_some() { route.key("version") } else { route };
                    cx.report(&route, format!("Kustomize Helm chart `{name}` is not pinned: {why}. {fix}")).emit(out);
                }
            }
            return;
        }
        match (cx.kind(), cx.group().unwrap_or("")) {
            (Some("HelmRelease"), "helm.toolkit.fluxcd.io") | (Some("HelmChart"), "source.toolkit.fluxcd.io") => {
                let spec = if cx.kind() == Some("HelmRelease") {
                    Route::parse("/spec/chart/spec")
                } else {
                    Route::parse("/spec")
                };
                let Some(chart) = root.get(&spec) else { return };
                // Charts from Git or a bucket ignore `version`; the source's ref pins them.
                let source_kind =
                    chart.get(&Route::parse("/sourceRef/kind")).and_then(Node::as_str).unwrap_or("HelmRepository");
                if source_kind != "HelmRepository" {
                    return;
                }
                let version = chart.get_key("version").and_then(Node::as_str);
                // A base without a version is fine when overlays patch one in
                // (the patches are checked themselves).
                if version.is_none()
                    && cx.resource().is_some_and(|r| patched_elsewhere(cx, &r.name, r.namespace.as_deref()))
                {
                    return;
                }
                if let Some(why) = problem(version) {
                    let name = chart.get_key("chart").and_then(Node::as_str).unwrap_or("");
                    let name = if name.is_empty() { "its chart".to_owned() } else { format!("chart `{name}`") };
                    let route = if version.is_some() { spec.key("version") } else { spec };
                    cx.report(
                        &route,
                        format!(
                            "{} `{}` installs {name} unpinned: {why}. {fix}",
                            cx.kind().unwrap_or(""),
                            cx.resource().map_or("", |r| r.name.as_str())
                        ),
                    )
                    .emit(out);
                }
            }
            (Some(kind @ ("OCIRepository" | "GitRepository")), "source.toolkit.fluxcd.io") => {
                let Some(r) = cx.resource() else { return };
                let users = chart_sources(cx);
                let Some((_, _, _, release)) = users.0.iter().find(|(k, ns, n, _)| {
                    k == kind && *n == r.name && (ns.is_none() || r.namespace.is_none() || *ns == r.namespace)
                }) else {
                    return;
                };
                let Some((route, why)) = source_problem(kind, root) else { return };
                cx.report(
                    &route,
                    format!(
                        "{kind} `{}` is the chart source of HelmRelease `{release}` and is not pinned: {why}. Pin it ({}), so that a `git revert` restores exactly what ran before.",
                        r.name,
                        if kind == "OCIRepository" {
                            "`ref.tag: 1.4.2`, or `ref.digest`"
                        } else {
                            "`ref.tag`, or `ref.commit`"
                        }
                    ),
                )
                .emit(out);
            }
            (Some("Application" | "ApplicationSet"), "argoproj.io") => {
                let spec = if cx.kind() == Some("Application") {
                    Route::parse("/spec")
                } else {
                    Route::parse("/spec/template/spec")
                };
                let mut sources = vec![spec.clone().key("source")];
                let count = root.get(&spec.clone().key("sources")).and_then(Node::as_sequence).map_or(0, <[Node]>::len);
                sources.extend((0..count).map(|i| spec.clone().key("sources").index(i)));
                for source_route in sources {
                    let Some(source) = root.get(&source_route) else { continue };
                    let Some(chart) = source.get_key("chart").and_then(Node::as_str) else { continue };
                    let revision = source.get_key("targetRevision").and_then(Node::as_str);
                    if let Some(why) = problem(revision) {
                        let route = if revision.is_some() { source_route.key("targetRevision") } else { source_route };
                        cx.report(
                            &route,
                            format!(
                                "Argo CD application `{}` installs Helm chart `{chart}` unpinned: {why}. {fix}",
                                cx.resource().map_or("", |r| r.name.as_str())
                            ),
                        )
                        .emit(out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Flux sources HelmReleases install charts from: (kind, namespace, name,
/// the first HelmRelease that uses it).
struct ChartSources(Vec<(String, Option<String>, String, String)>);

fn chart_sources(cx: &DocumentContext<'_>) -> std::sync::Arc<ChartSources> {
    cx.model.shared(|model| {
        let mut out = Vec::new();
        for (_, doc, r) in model.objects() {
            if r.kind != "HelmRelease" {
                continue;
            }
            // `spec.chartRef` (an OCIRepository or HelmChart), or a chart
            // template built from a Git or OCI source.
            for at in ["/spec/chartRef", "/spec/chart/spec/sourceRef"] {
                let Some(reference) = doc.root.get(&Route::parse(at)) else { continue };
                let kind = reference.get_key("kind").and_then(Node::as_str).unwrap_or("");
                let Some(name) = reference.get_key("name").and_then(Node::as_str) else { continue };
                if !matches!(kind, "OCIRepository" | "GitRepository") {
                    continue;
                }
                let namespace = reference
                    .get_key("namespace")
                    .and_then(Node::as_str)
                    .map(str::to_owned)
                    .or_else(|| r.namespace.clone());
                out.push((kind.to_owned(), namespace, name.to_owned(), r.name.clone()));
            }
        }
        ChartSources(out)
    })
}

/// Where and why a Flux chart source floats: an OCIRepository without a
/// ref (Flux pulls `latest`), on `latest`, or on a semver range; a
/// GitRepository on a branch (or on the default branch, without a ref).
fn source_problem(kind: &str, root: &Node) -> Option<(Route, String)> {
    let spec = Route::parse("/spec");
    let Some(reference) = root.get(&Route::parse("/spec/ref")) else {
        return Some((
            spec,
            if kind == "OCIRepository" {
                "it has no `ref`, so Flux pulls the `latest` tag".to_owned()
            } else {
                "it has no `ref`, so it follows the default branch".to_owned()
            },
        ));
    };
    let at = |k: &str| Route::parse("/spec/ref").key(k);
    let field = |k: &str| reference.get_key(k).and_then(Node::as_str).map(str::trim).filter(|v| !v.is_empty());
    if kind == "OCIRepository" {
        if field("digest").is_some() {
            return None;
        }
        if let Some(range) = field("semver") {
            // An exact version in `semver` pins as a tag does.
            return problem(Some(range)).map(|why| (at("semver"), why));
        }
        return match field("tag") {
            Some(t) if t.eq_ignore_ascii_case("latest") => Some((at("tag"), "its tag `latest` moves".to_owned())),
            Some(_) => None,
            None => Some((
                Route::parse("/spec/ref"),
                "its `ref` names no tag, semver or digest, so Flux pulls `latest`".to_owned(),
            )),
        };
    }
    if field("commit").is_some() || field("tag").is_some() || field("name").is_some_and(|n| n.starts_with("refs/tags/"))
    {
        return None;
    }
    if let Some(range) = field("semver") {
        return problem(Some(range)).map(|why| (at("semver"), why));
    }
    match field("branch") {
        Some(b) => Some((at("branch"), format!("it follows the branch `{b}`"))),
        None => Some((
            Route::parse("/spec/ref"),
            "its `ref` names no tag, semver or commit, so it follows a branch".to_owned(),
        )),
    }
}

/// HelmReleases (namespace, name) whose chart version some document sets.
struct VersionedReleases(Vec<(Option<String>, String)>);

fn patched_elsewhere(cx: &DocumentContext<'_>, name: &str, namespace: Option<&str>) -> bool {
    let versioned = cx.model.shared(|model| {
        VersionedReleases(
            model
                .objects()
                .filter(|(_, doc, r)| {
                    r.kind == "HelmRelease" && doc.root.get(&Route::parse("/spec/chart/spec/version")).is_some()
                })
                .map(|(_, _, r)| (r.namespace.clone(), r.name.clone()))
                .collect(),
        )
    });
    versioned.0.iter().any(|(ns, n)| n == name && (ns.is_none() || namespace.is_none() || ns.as_deref() == namespace))
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn versions() {
        for floating in ["*", "1.x", "^1.2.0", "~1.2", ">=1.0.0", "1.2.x", "HEAD", "", ">=1.0.0 <2.0.0"] {
            assert!(problem(Some(floating)).is_some(), "{floating}");
        }
        for pinned in ["1.2.3", "v1.2.3", "6.5.4-rc.1", "0.0.1+build"] {
            assert!(problem(Some(pinned)).is_none(), "{pinned}");
        }
        assert!(problem(None).is_some());
    }
}
