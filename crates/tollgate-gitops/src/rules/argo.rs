//! Where Argo CD keeps the sync policy of an `Application` or an `ApplicationSet` template.

use tollgate_core::{DocumentContext, Route};

use tollgate_core::ObjectKind;

/// The Argo CD objects that carry an Application spec.
pub(crate) const APPLICATIONS: [ObjectKind; 2] =
    [ObjectKind::of("argoproj.io", "Application"), ObjectKind::of("argoproj.io", "ApplicationSet")];

/// The route of the Application spec (`/spec`, or `/spec/template/spec` of an ApplicationSet).
pub(crate) fn application_spec(cx: &DocumentContext<'_>) -> Option<Route> {
    if cx.group() != Some("argoproj.io") {
        return None;
    }
    match cx.kind()? {
        "Application" => Some(Route::parse("/spec")),
        "ApplicationSet" => Some(Route::parse("/spec/template/spec")),
        _ => None,
    }
}

/// `kind `name``, for messages.
pub(crate) fn what(cx: &DocumentContext<'_>) -> String {
    cx.resource().map_or_else(|| "This object".to_owned(), |r| format!("{} `{}`", r.kind, r.name))
}
