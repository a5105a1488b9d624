//! What a change does to its own guardrails.
//!
//! In a range check the base commit's guardrails judge the change (see
//! [`crate::base`]); the change's edits to them judge nothing until merged.
//! Those edits still matter: once merged they decide how every later change
//! is judged. This module compares each guardrail file of the base with the
//! change's version and says, item by item, what the edit weakens (a rule
//! disabled, a severity lowered, a path excluded or ignored, an environment
//! narrowed, an owner or a policy removed, a policy switched to audit, a new
//! signer trusted) and what else it changes. Two rules report the result:
//! `guardrail-weakened` and `guardrail-changed`.

mod changed;
mod weakened;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tollgate_core::{
    CONFIG_FILE_NAMES, Config, Document, FileKind, Limits, Node, RepositoryContext, RepositoryModel, Route, SourceFile,
    Span,
};

pub(crate) use changed::GuardrailChanged;
pub(crate) use weakened::GuardrailWeakened;

/// One edit of a guardrail.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The file, as the change has it (or as the base had it, when deleted).
    pub(crate) path: String,
    /// Where in the change's version (`None`: the file as a whole).
    pub(crate) span: Option<Span>,
    /// Whether it weakens how changes are judged.
    pub(crate) weakens: bool,
    /// What the edit does: "disables the rule `unsigned-commit`".
    pub(crate) what: String,
    /// What the file is: "tollgate's configuration".
    pub(crate) file_role: &'static str,
}

/// Every guardrail edit of the range, computed once per run.
pub(crate) struct Changes(pub(crate) Vec<Change>);

/// The guardrail edits of the range under review (empty outside a range
/// check, or when the range cannot be read).
pub(crate) fn changes(cx: &RepositoryContext<'_>) -> Arc<Changes> {
    cx.model.shared(|model| {
        let Some(range) = model.range.as_ref().filter(|r| r.problem.is_none()) else { return Changes(Vec::new()) };
        let changed: BTreeSet<&str> = range.changed_paths.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        let base_config = range.base_config.clone().unwrap_or_default();
        let head_config = range.head_config.clone().unwrap_or_default();
        let config_path = base_config
            .source
            .clone()
            .or_else(|| head_config.source.clone())
            .unwrap_or_else(|| CONFIG_FILE_NAMES[0].to_owned());
        let cmp = Compare { model, base: &range.base_files, changed: &changed };
        if changed.contains(config_path.as_str()) {
            config_changes(cx, &cmp, &config_path, &base_config, &head_config, &mut out);
        }
        codeowners_changes(&cmp, &base_config, &mut out);
        signers_changes(&cmp, &base_config, &mut out);
        sops_changes(&cmp, &mut out);
        protection_changes(&cmp, &base_config, &mut out);
        policy_changes(&cmp, &base_config, &head_config, &mut out);
        out.sort_by(|a, b| {
            (&a.path, a.span.map(|s| s.start), &a.what).cmp(&(&b.path, b.span.map(|s| s.start), &b.what))
        });
        Changes(out)
    })
}

/// The base's and the change's versions of files.
struct Compare<'a> {
    model: &'a RepositoryModel,
    base: &'a std::collections::HashMap<String, String>,
    changed: &'a BTreeSet<&'a str>,
}

impl Compare<'_> {
    fn base_text(&self, path: &str) -> Option<&str> {
        self.base.get(path).map(String::as_str)
    }

    fn head(&self, path: &str) -> Option<&SourceFile> {
        self.model.file(path)
    }

    fn head_text(&self, path: &str) -> Option<&str> {
        self.head(path).map(|f| f.text.as_str())
    }

    fn was_changed(&self, path: &str) -> bool {
        self.changed.contains(path) && self.base_text(path) != self.head_text(path)
    }

    /// The base version parsed, as a file of the model would be.
    fn base_file(&self, path: &str, kind: FileKind) -> Option<SourceFile> {
        self.base_text(path).map(|t| SourceFile::parse(path.to_owned(), kind, t.to_owned(), &Limits::default()))
    }
}

/// The span of `route` in the first document of `file`, or of its nearest
/// existing ancestor; `None` when the file has no document.
fn span_at(file: Option<&SourceFile>, route: &Route) -> Option<Span> {
    let doc = file?.documents.first()?;
    let (node, depth) = doc.root.locate(route);
    if depth == route.segments().len() {
        let span = doc.root.entry_span(route);
        Some(first_line(span, &file?.text))
    } else {
        Some(first_line(node.span, &file?.text))
    }
}

/// `span` cut to its first line: a whole section would underline every line.
fn first_line(span: Span, text: &str) -> Span {
    let (from, to) = (span.start.byte().min(text.len()), span.end.byte());
    let end = text[from..].find('\n').map_or(to, |i| (from + i).min(to.max(from)));
    if end >= to {
        return span;
    }
    let width = text[from..end].chars().count() as u32;
    Span {
        start: span.start,
        end: tollgate_core::Position {
            line: span.start.line,
            column: span.start.column + width.max(1),
            offset: end as u32,
        },
    }
}

/// The first line the change's version differs from the base's, as a span.
fn first_changed_line(base: &str, head: Option<&SourceFile>) -> Option<Span> {
    let head = head?;
    let diff = similar::TextDiff::configure()
        .timeout(std::time::Duration::from_millis(200))
        .diff_lines(base, head.text.as_str());
    let op = diff.ops().iter().find(|op| op.tag() != similar::DiffTag::Equal)?;
    let line = (op.new_range().start as u32 + 1).min(head.text.lines().count().max(1) as u32);
    head.line_span(line)
}

fn push(out: &mut Vec<Change>, path: &str, span: Option<Span>, weakens: bool, role: &'static str, what: String) {
    out.push(Change { path: path.to_owned(), span, weakens, what, file_role: role });
}

/// A list of at most five items: "`a`, `b` and 3 more".
fn some(items: &[String]) -> String {
    let shown: Vec<String> = items.iter().take(5).map(|i| format!("`{i}`")).collect();
    let more = items.len().saturating_sub(5);
    if more > 0 { format!("{} and {more} more", shown.join(", ")) } else { shown.join(", ") }
}

const CONFIG_ROLE: &str = "tollgate's configuration";

fn config_changes(
    cx: &RepositoryContext<'_>,
    cmp: &Compare<'_>,
    path: &str,
    base: &Config,
    head: &Config,
    out: &mut Vec<Change>,
) {
    let file = cmp.head(path);
    let at = |route: &str| span_at(file, &Route::parse(route));
    if cmp.base_text(path).is_some() && file.is_none() {
        push(out, path, None, true, CONFIG_ROLE, "deletes tollgate's configuration: once merged, the defaults judge every change (its `ignore`, `environments`, policies and signing policy are gone)".to_owned());
    }
    // Rules: enabled and severity, against each rule's defaults.
    let ids: BTreeSet<&String> = base.rules.keys().chain(head.rules.keys()).collect();
    for id in ids {
        let meta = cx.rule_meta(id);
        let default_on = meta.is_none_or(|m| m.enabled_by_default);
        let default_severity = meta.map(|m| m.severity);
        let (was_on, is_on) = (base.rule_enabled(id, default_on), head.rule_enabled(id, default_on));
        let route = format!("/rules/{id}");
        if was_on && !is_on {
            push(out, path, at(&route), true, CONFIG_ROLE, format!("disables the rule `{id}`"));
        } else if !was_on && is_on {
            push(out, path, at(&route), false, CONFIG_ROLE, format!("enables the rule `{id}`"));
        }
        let was = base.severity_override(id).or(default_severity);
        let is = head.severity_override(id).or(default_severity);
        if let (Some(was), Some(is)) = (was, is)
            && was != is
        {
            let weakens = is < was;
            let verb = if weakens { "lowers" } else { "raises" };
            push(
                out,
                path,
                at(&route),
                weakens,
                CONFIG_ROLE,
                format!("{verb} the severity of `{id}` from {was} to {is}"),
            );
        }
    }
    // Suppressions in the configuration.
    let key = |e: &tollgate_core::IgnoreEntry| {
        let mut paths = e.paths.clone();
        paths.sort();
        (e.rule.clone(), paths)
    };
    let base_ignores: BTreeMap<_, _> = base.ignore.iter().map(|e| (key(e), e)).collect();
    for entry in &head.ignore {
        let span = Some(first_line(entry.span, file.map_or("", |f| f.text.as_str())));
        match base_ignores.get(&key(entry)) {
            None => push(
                out,
                path,
                span,
                true,
                CONFIG_ROLE,
                format!(
                    "adds an `ignore` entry that silences `{}` in {} (reason: \"{}\")",
                    entry.rule,
                    some(&entry.paths),
                    entry.reason
                ),
            ),
            Some(was)
                if entry.expires.is_none() && was.expires.is_some()
                    || entry.expires.zip(was.expires).is_some_and(|(a, b)| a > b) =>
            {
                push(
                    out,
                    path,
                    span,
                    true,
                    CONFIG_ROLE,
                    format!(
                        "extends the `ignore` entry for `{}` (expires {})",
                        entry.rule,
                        entry.expires.map_or_else(|| "never".to_owned(), |d| d.to_string())
                    ),
                );
            }
            Some(_) => {}
        }
    }
    let head_keys: BTreeSet<_> = head.ignore.iter().map(key).collect();
    for entry in base.ignore.iter().filter(|e| !head_keys.contains(&key(e))) {
        push(
            out,
            path,
            at("/ignore"),
            false,
            CONFIG_ROLE,
            format!("removes the `ignore` entry for `{}` in {}", entry.rule, some(&entry.paths)),
        );
    }
    // Excluded paths.
    let base_exclude: BTreeSet<&String> = base.exclude.iter().collect();
    let added: Vec<String> = head.exclude.iter().filter(|e| !base_exclude.contains(e)).cloned().collect();
    if !added.is_empty() {
        push(out, path, at("/exclude"), true, CONFIG_ROLE, format!("excludes {} from every check", some(&added)));
    }
    let head_exclude: BTreeSet<&String> = head.exclude.iter().collect();
    let removed: Vec<String> = base.exclude.iter().filter(|e| !head_exclude.contains(e)).cloned().collect();
    if !removed.is_empty() {
        push(out, path, at("/exclude"), false, CONFIG_ROLE, format!("stops excluding {}", some(&removed)));
    }
    // Environments: judged on the repository's paths, not on the globs.
    let protected = |config: &Config, p: &str| config.environments.for_path(p).is_some_and(|e| e.protected);
    let paths = cmp.model.all_paths();
    let lost: Vec<String> =
        paths.iter().filter(|p| protected(base, p) && !protected(head, p)).map(|p| (*p).to_owned()).collect();
    if !lost.is_empty() {
        push(
            out,
            path,
            at("/environments"),
            true,
            CONFIG_ROLE,
            format!(
                "narrows the protected environments: {} file(s) would no longer be judged as prod ({})",
                lost.len(),
                some(&lost)
            ),
        );
    }
    let gained: Vec<String> =
        paths.iter().filter(|p| !protected(base, p) && protected(head, p)).map(|p| (*p).to_owned()).collect();
    if !gained.is_empty() {
        push(
            out,
            path,
            at("/environments"),
            false,
            CONFIG_ROLE,
            format!("protects {} more file(s) as prod ({})", gained.len(), some(&gained)),
        );
    }
    // The trust policy, policies and review requirements.
    if base.signing_policy != head.signing_policy {
        let name = |p: &Option<String>| p.clone().unwrap_or_else(|| ".tollgate/signers.yaml".to_owned());
        push(
            out,
            path,
            at("/signing/policy"),
            true,
            CONFIG_ROLE,
            format!(
                "points the trust policy at `{}` instead of `{}`: once merged, that file decides whose signatures are trusted",
                name(&head.signing_policy),
                name(&base.signing_policy)
            ),
        );
    }
    for (what, was, is, route) in [
        ("Rego policy path", &base.rego, &head.rego, "/policies/rego"),
        ("Kyverno policy path", &base.kyverno, &head.kyverno, "/policies/kyverno"),
        ("built-in policy pack", &base.builtin_policies, &head.builtin_policies, "/policies/builtin"),
    ] {
        let removed: Vec<String> = was.iter().filter(|p| !is.contains(p)).cloned().collect();
        if !removed.is_empty() {
            push(
                out,
                path,
                at(route),
                true,
                CONFIG_ROLE,
                format!("removes the {what} {}: its policies stop judging changes", some(&removed)),
            );
        }
        let added: Vec<String> = is.iter().filter(|p| !was.contains(p)).cloned().collect();
        if !added.is_empty() {
            push(out, path, at(route), false, CONFIG_ROLE, format!("adds the {what} {}", some(&added)));
        }
    }
    let (b, h) = (&base.review, &head.review);
    if h.min_approvals < b.min_approvals {
        push(
            out,
            path,
            at("/review/min_approvals"),
            true,
            CONFIG_ROLE,
            format!("lowers `review.min_approvals` from {} to {}", b.min_approvals, h.min_approvals),
        );
    }
    if h.min_owners < b.min_owners {
        push(
            out,
            path,
            at("/review/min_owners"),
            true,
            CONFIG_ROLE,
            format!("lowers `review.min_owners` from {} to {}", b.min_owners, h.min_owners),
        );
    }
    if b.owners_must_be_teams && !h.owners_must_be_teams {
        push(
            out,
            path,
            at("/review/owners_must_be_teams"),
            true,
            CONFIG_ROLE,
            "no longer requires prod owners to be teams".to_owned(),
        );
    }
    if b.status_check != h.status_check {
        let name = |c: &Option<String>| c.clone().unwrap_or_else(|| "the workflow job's".to_owned());
        push(
            out,
            path,
            at("/review/status_check"),
            true,
            CONFIG_ROLE,
            format!(
                "changes the status check branch protection must require from {} to {}",
                name(&b.status_check),
                name(&h.status_check)
            ),
        );
    }
    if base.max_nodes != head.max_nodes {
        push(
            out,
            path,
            at("/limits/max_nodes"),
            false,
            CONFIG_ROLE,
            format!("changes `limits.max_nodes` from {} to {}", base.max_nodes, head.max_nodes),
        );
    }
    if base.max_file_size != head.max_file_size {
        push(
            out,
            path,
            at("/limits/max_file_size"),
            false,
            CONFIG_ROLE,
            format!("changes `limits.max_file_size` from {} to {} bytes", base.max_file_size, head.max_file_size),
        );
    }
}

const CODEOWNERS_ROLE: &str = "CODEOWNERS";

fn codeowners_changes(cmp: &Compare<'_>, base_config: &Config, out: &mut Vec<Change>) {
    use tollgate_owners::codeowners::{CodeOwners, LOCATIONS};
    let Some(base_path) = LOCATIONS.iter().find(|p| cmp.base_text(p).is_some()) else { return };
    let head_path = LOCATIONS.iter().find(|p| cmp.head(p).is_some());
    if !LOCATIONS.iter().any(|p| cmp.was_changed(p)) {
        return;
    }
    let base = CodeOwners::parse(base_path, cmp.base_text(base_path).unwrap_or_default());
    let head = head_path.and_then(|p| cmp.head(p)).map(|f| CodeOwners::parse(&f.path, &f.text));
    let signers = base_config.signing_policy.clone().unwrap_or_else(|| ".tollgate/signers.yaml".to_owned());
    // Owners lost on the paths that matter: prod files and the guardrails.
    let mut lost: BTreeMap<(Option<u32>, String), Vec<String>> = BTreeMap::new();
    for path in cmp.model.all_paths() {
        let guarded = cmp.model.is_protected(path)
            || LOCATIONS.contains(&path)
            || CONFIG_FILE_NAMES.contains(&path)
            || path == signers
            || path.starts_with(".tollgate/")
            || tollgate_core::classify(path) == Some(tollgate_core::FileKind::Workflow)
            || path.starts_with(".github/rulesets/");
        if !guarded {
            continue;
        }
        let was: Vec<String> = base.owners_of(path).map(|r| r.owners.clone()).unwrap_or_default();
        let rule = head.as_ref().and_then(|h| h.owners_of(path));
        let is: Vec<String> = rule.map(|r| r.owners.clone()).unwrap_or_default();
        let gone: Vec<String> = was.iter().filter(|o| !is.iter().any(|i| i.eq_ignore_ascii_case(o))).cloned().collect();
        if gone.is_empty() {
            continue;
        }
        let who = if is.is_empty() { "no owner at all".to_owned() } else { format!("only {}", is.join(" ")) };
        let key = (rule.map(|r| r.line), format!("{} → {who}", gone.join(" ")));
        lost.entry(key).or_default().push(path.to_owned());
    }
    let head_file = head_path.and_then(|p| cmp.head(p));
    let at = |line: Option<u32>| -> Option<Span> { head_file?.line_span(line?) };
    let shown = head_path.unwrap_or(base_path);
    if lost.is_empty() {
        let span = head_file.and_then(|f| first_changed_line(cmp.base_text(base_path).unwrap_or_default(), Some(f)));
        push(
            out,
            shown,
            span,
            false,
            CODEOWNERS_ROLE,
            "changes who owns which files (no prod file or guardrail loses an owner)".to_owned(),
        );
        return;
    }
    for ((line, what), paths) in lost {
        let (gone, now) = what.split_once(" → ").unwrap_or((&what, ""));
        push(
            out,
            shown,
            at(line),
            true,
            CODEOWNERS_ROLE,
            format!(
                "no longer requires review by {gone} for {} prod or guardrail file(s) ({}): they would need {now}",
                paths.len(),
                some(&paths)
            ),
        );
    }
}

const SIGNERS_ROLE: &str = "the trust policy";

/// A signer as written: its node, OpenPGP key files, SSH keys and paths.
type SignerEntry = (Node, Vec<String>, Vec<String>, Vec<String>);

fn signers_changes(cmp: &Compare<'_>, base_config: &Config, out: &mut Vec<Change>) {
    let path = base_config.signing_policy.clone().unwrap_or_else(|| ".tollgate/signers.yaml".to_owned());
    let path = path.trim_start_matches("./").to_owned();
    // Key files next to the policy: a changed key is a new key.
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
    let key_files: Vec<&str> = cmp
        .changed
        .iter()
        .copied()
        .filter(|p| {
            *p != path && (p.starts_with(".tollgate/") || (!dir.is_empty() && p.starts_with(&format!("{dir}/"))))
        })
        .filter(|p| cmp.base_text(p).is_some() || cmp.head(p).is_some())
        .collect();
    for key in key_files {
        if cmp.base_text(key) == cmp.head_text(key) {
            continue;
        }
        let what = match (cmp.base_text(key).is_some(), cmp.head(key).is_some()) {
            (true, false) => format!("deletes `{key}`, a file of the trust policy's directory"),
            (false, _) => format!("adds `{key}` beside the trust policy: a key file a signer may name"),
            _ => format!("replaces the contents of `{key}`: a signer naming it would be trusted with other keys"),
        };
        let weakens = cmp.head(key).is_some();
        push(out, key, None, weakens, SIGNERS_ROLE, what);
    }
    if !cmp.was_changed(&path) {
        return;
    }
    let Some(base_text) = cmp.base_text(&path) else {
        push(
            out,
            &path,
            None,
            true,
            SIGNERS_ROLE,
            "adds a trust policy: once merged, its signers are trusted".to_owned(),
        );
        return;
    };
    let Some(head) = cmp.head(&path) else {
        push(
            out,
            &path,
            None,
            false,
            SIGNERS_ROLE,
            "deletes the trust policy: once merged, no signer is trusted".to_owned(),
        );
        return;
    };
    let signers = |doc: Option<&Document>| -> BTreeMap<String, SignerEntry> {
        let mut map = BTreeMap::new();
        let list = doc.and_then(|d| d.root.get_key("signers")).and_then(Node::as_sequence).unwrap_or_default();
        for item in list {
            let strings = |k: &str| -> Vec<String> {
                item.get_key(k)
                    .and_then(Node::as_sequence)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            };
            let name = item.get_key("name").and_then(Node::as_str).unwrap_or_default().to_owned();
            map.insert(name, (item.clone(), strings("openpgp"), strings("ssh"), strings("paths")));
        }
        map
    };
    let base_file = SourceFile::parse(path.clone(), FileKind::TrustPolicy, base_text.to_owned(), &Limits::default());
    let was = signers(base_file.documents.first());
    let is = signers(head.documents.first());
    let mut found = false;
    for (name, (node, pgp, ssh, paths)) in &is {
        let span = Some(first_line(node.span, &head.text));
        match was.get(name) {
            None => {
                found = true;
                push(out, &path, span, true, SIGNERS_ROLE, format!("trusts a new signer `{name}`"));
            }
            Some((_, old_pgp, old_ssh, old_paths)) => {
                let new_keys: Vec<String> = pgp
                    .iter()
                    .chain(ssh)
                    .filter(|k| !old_pgp.contains(k) && !old_ssh.contains(k))
                    .map(|k| k.chars().take(40).collect())
                    .collect();
                if !new_keys.is_empty() {
                    found = true;
                    push(
                        out,
                        &path,
                        span,
                        true,
                        SIGNERS_ROLE,
                        format!("trusts new keys for `{name}`: {}", some(&new_keys)),
                    );
                }
                // No `paths` means every path: a signer limited before may now change more.
                let widened =
                    !old_paths.is_empty() && (paths.is_empty() || paths.iter().any(|p| !old_paths.contains(p)));
                if widened {
                    found = true;
                    let now = if paths.is_empty() { "every path".to_owned() } else { some(paths) };
                    push(out, &path, span, true, SIGNERS_ROLE, format!("lets `{name}` change more paths: {now}"));
                }
            }
        }
    }
    for name in was.keys().filter(|n| !is.contains_key(*n)) {
        found = true;
        push(
            out,
            &path,
            first_changed_line(base_text, Some(head)),
            false,
            SIGNERS_ROLE,
            format!("no longer trusts `{name}`"),
        );
    }
    if !found {
        push(
            out,
            &path,
            first_changed_line(base_text, Some(head)),
            false,
            SIGNERS_ROLE,
            "changes the trust policy".to_owned(),
        );
    }
}

const SOPS_ROLE: &str = "SOPS creation rules";

fn sops_changes(cmp: &Compare<'_>, out: &mut Vec<Change>) {
    for path in [".sops.yaml", ".sops.yml"] {
        if !cmp.was_changed(path) {
            continue;
        }
        let regexes = |file: Option<&SourceFile>| -> Vec<(String, Option<Span>)> {
            let Some(file) = file else { return Vec::new() };
            let Some(doc) = file.documents.first() else { return Vec::new() };
            doc.root
                .get_key("creation_rules")
                .and_then(Node::as_sequence)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| {
                    r.get_key("path_regex")
                        .map(|n| (n.as_str().unwrap_or_default().to_owned(), Some(first_line(r.span, &file.text))))
                })
                .collect()
        };
        let base = cmp.base_file(path, FileKind::SopsConfig);
        let was = regexes(base.as_ref());
        let is = regexes(cmp.head(path));
        let removed: Vec<String> =
            was.iter().filter(|(r, _)| !is.iter().any(|(i, _)| i == r)).map(|(r, _)| r.clone()).collect();
        let span = cmp.head(path).and_then(|h| first_changed_line(cmp.base_text(path).unwrap_or_default(), Some(h)));
        if removed.is_empty() {
            push(out, path, span, false, SOPS_ROLE, "changes the SOPS creation rules".to_owned());
        } else {
            push(
                out,
                path,
                span,
                true,
                SOPS_ROLE,
                format!("stops requiring SOPS encryption for files matching {}", some(&removed)),
            );
        }
    }
}

const PROTECTION_ROLE: &str = "branch protection kept as code";

fn protection_changes(cmp: &Compare<'_>, config: &Config, out: &mut Vec<Change>) {
    let is_protection =
        |p: &str| p.starts_with(".github/rulesets/") || matches!(p, ".github/settings.yml" | ".github/settings.yaml");
    let touched: Vec<&str> = cmp.changed.iter().copied().filter(|p| is_protection(p) && cmp.was_changed(p)).collect();
    if touched.is_empty() {
        return;
    }
    // The base's protection files as a model of their own.
    let base_files: Vec<SourceFile> = cmp
        .base
        .keys()
        .filter(|p| is_protection(p))
        .filter_map(|p| {
            let kind = tollgate_core::classify(p)?;
            cmp.base_file(p, kind)
        })
        .collect();
    let base_model = RepositoryModel::new(&cmp.model.root, base_files, config.environments.clone());
    let was_sources = tollgate_owners::protection::sources(&base_model);
    let is_sources = tollgate_owners::protection::sources(cmp.model);
    let weak = |all: &[tollgate_owners::protection::ProtectionSource]| -> (Vec<String>, Vec<String>) {
        if all.is_empty() {
            return (vec!["no branch protection is kept as code for the default branch".to_owned()], Vec::new());
        }
        let (_, missing) = tollgate_owners::protection::weaknesses(all, config.review.min_approvals);
        let bypass =
            all.iter().filter(|s| s.enforced).flat_map(|s| s.bypass.iter().map(|(_, who)| who.clone())).collect();
        (missing, bypass)
    };
    let (was_missing, was_bypass) = weak(&was_sources);
    let (is_missing, is_bypass) = weak(&is_sources);
    let place = is_sources.first().map_or_else(|| (touched[0].to_owned(), None), |s| (s.path.clone(), Some(s.anchor)));
    let mut found = false;
    for what in is_missing.iter().filter(|m| !was_missing.contains(m)) {
        found = true;
        push(out, &place.0, place.1, true, PROTECTION_ROLE, format!("weakens the default branch's protection: {what}"));
    }
    for who in is_bypass.iter().filter(|b| !was_bypass.contains(b)) {
        found = true;
        push(
            out,
            &place.0,
            place.1,
            true,
            PROTECTION_ROLE,
            format!("lets {who} bypass the default branch's protection"),
        );
    }
    if !found {
        for path in touched {
            let span =
                cmp.head(path).and_then(|h| first_changed_line(cmp.base_text(path).unwrap_or_default(), Some(h)));
            push(
                out,
                path,
                span,
                false,
                PROTECTION_ROLE,
                "changes the default branch's protection (nothing it required is dropped)".to_owned(),
            );
        }
    }
}

const POLICY_ROLE: &str = "the policy file";

/// What a policy file defines, by stable name, with how it acts.
fn policy_items(path: &str, text: &str) -> BTreeMap<String, String> {
    let mut items = BTreeMap::new();
    if path.ends_with(".rego") {
        let package = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("package "))
            .map(|p| p.trim().to_owned())
            .unwrap_or_default();
        for line in text.lines() {
            let head: String = line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let rule = ["deny", "violation", "warn"].iter().any(|k| head == *k || head.starts_with(&format!("{k}_")));
            if rule && !line.starts_with(' ') && !line.starts_with('\t') {
                items.insert(format!("Rego rule `{package}.{head}`"), String::new());
            }
        }
        return items;
    }
    let Ok(docs) = tollgate_yaml::parse_yaml(text, &Limits::default()) else { return items };
    for doc in docs {
        let root = &doc.root;
        let api = root.get_key("apiVersion").and_then(Node::as_str).unwrap_or_default();
        let kind = root.get_key("kind").and_then(Node::as_str).unwrap_or_default();
        let name = root.get(&Route::parse("/metadata/name")).and_then(Node::as_str).unwrap_or_default();
        if api.starts_with("kyverno.io/") || api.starts_with("policies.kyverno.io/") {
            let action = root
                .get(&Route::parse("/spec/validationFailureAction"))
                .and_then(Node::as_str)
                .unwrap_or("Audit")
                .to_ascii_lowercase();
            items.insert(format!("Kyverno {kind} `{name}`"), action.clone());
            let rules = root.get(&Route::parse("/spec/rules")).and_then(Node::as_sequence).unwrap_or_default();
            for rule in rules {
                let rule_name = rule.get_key("name").and_then(Node::as_str).unwrap_or_default();
                let rule_action = rule
                    .get(&Route::parse("/validate/failureAction"))
                    .and_then(Node::as_str)
                    .map_or_else(|| action.clone(), str::to_ascii_lowercase);
                items.insert(format!("Kyverno rule `{name}/{rule_name}`"), rule_action);
            }
            if let Some(actions) = root.get(&Route::parse("/spec/validationActions")).and_then(Node::as_sequence) {
                let deny = actions.iter().any(|a| a.as_str() == Some("Deny"));
                items.insert(format!("Kyverno {kind} `{name}`"), if deny { "enforce" } else { "audit" }.to_owned());
            }
        } else if api.starts_with("templates.gatekeeper.sh/") {
            items.insert(format!("Gatekeeper template `{name}`"), String::new());
        } else if api.starts_with("constraints.gatekeeper.sh/") {
            let action = root.get(&Route::parse("/spec/enforcementAction")).and_then(Node::as_str).unwrap_or("deny");
            items.insert(format!("Gatekeeper constraint `{kind}/{name}`"), action.to_ascii_lowercase());
        }
    }
    items
}

/// How strongly an action enforces: `enforce`/`deny` over `warn` over `audit`/`dryrun`.
fn action_rank(action: &str) -> u8 {
    match action {
        "enforce" | "deny" | "" => 2,
        "warn" => 1,
        _ => 0,
    }
}

fn policy_changes(cmp: &Compare<'_>, base: &Config, head: &Config, out: &mut Vec<Change>) {
    let dirs: Vec<String> = base
        .rego
        .iter()
        .chain(&base.kyverno)
        .chain(&head.rego)
        .chain(&head.kyverno)
        .filter_map(|p| tollgate_core::relative_inside_root(p))
        .collect();
    let under = |p: &str| {
        dirs.iter().any(|d| d.is_empty() || p == d || p.strip_prefix(d.as_str()).is_some_and(|r| r.starts_with('/')))
    };
    let is_policy = |p: &str| {
        under(p) && [".rego", ".yaml", ".yml", ".json"].iter().any(|e| p.ends_with(e)) && !p.ends_with("_test.rego")
    };
    let paths: BTreeSet<&str> = cmp.changed.iter().copied().filter(|p| is_policy(p)).collect();
    for path in paths {
        let (was, is) = (cmp.base_text(path), cmp.head(path));
        match (was, is) {
            (None, None) => {}
            (Some(_), None) => push(
                out,
                path,
                None,
                true,
                POLICY_ROLE,
                "deletes it: once merged, its policies stop judging changes".to_owned(),
            ),
            (None, Some(_)) => {
                push(out, path, None, false, POLICY_ROLE, "adds it: it judges changes once merged".to_owned());
            }
            (Some(was), Some(is)) if was == is.text => {}
            (Some(was), Some(is)) => {
                let before = policy_items(path, was);
                let after = policy_items(path, &is.text);
                let mut found = false;
                for (item, action) in &before {
                    match after.get(item) {
                        None => {
                            found = true;
                            push(
                                out,
                                path,
                                first_changed_line(was, Some(is)),
                                true,
                                POLICY_ROLE,
                                format!("removes the {item}: once merged, it stops judging changes"),
                            );
                        }
                        Some(now) if action_rank(now) < action_rank(action) => {
                            found = true;
                            push(
                                out,
                                path,
                                first_changed_line(was, Some(is)),
                                true,
                                POLICY_ROLE,
                                format!(
                                    "switches the {item} from {action} to {now}: once merged, its violations stop failing the check"
                                ),
                            );
                        }
                        Some(_) => {}
                    }
                }
                if !found {
                    push(
                        out,
                        path,
                        first_changed_line(was, Some(is)),
                        false,
                        POLICY_ROLE,
                        "edits it (no rule removed, no action weakened)".to_owned(),
                    );
                }
            }
        }
    }
}
