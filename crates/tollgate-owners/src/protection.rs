//! Branch protection kept as code: GitHub ruleset exports
//! (`.github/rulesets/*.json`), the Settings app (`.github/settings.yml`) and
//! Terraform (`github_branch_protection`, `github_branch_protection_v3`,
//! `github_repository_ruleset`), read into one shape.

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use tollgate_core::{Document, FileKind, Node, Position, RepositoryModel, Route, SourceFile, Span};

/// Pull-request requirements of one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullRequestRules {
    /// Required approving reviews.
    pub approvals: u32,
    /// Code-owner review required.
    pub code_owners: bool,
    /// Stale approvals dismissed on push.
    pub dismiss_stale: bool,
}

/// One place that protects the default branch.
#[derive(Debug, Clone)]
pub struct ProtectionSource {
    /// The file.
    pub path: String,
    /// What it is, for messages (`ruleset `main``).
    pub what: String,
    /// Where missing requirements are reported.
    pub anchor: Span,
    /// Whether it is enforced (a ruleset in `evaluate` or `disabled` mode is not).
    pub enforced: bool,
    /// Pull requests required, and with what.
    pub pull_request: Option<PullRequestRules>,
    /// Signed commits required.
    pub signed_commits: bool,
    /// Who may bypass it: (where, who).
    pub bypass: Vec<(Span, String)>,
    /// The status checks a pull request must pass (check names, `context`).
    pub required_checks: Vec<String>,
}

/// Branch names and ruleset conditions that cover the default branch.
fn covers_default_branch(name: &str) -> bool {
    matches!(
        name.trim_start_matches("refs/heads/"),
        "~DEFAULT_BRANCH" | "~ALL" | "main" | "master" | "*" | "**" | "default"
    )
}

fn position(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Position { line, column: before[line_start..].chars().count() as u32 + 1, offset: offset as u32 }
}

fn byte_span(text: &str, range: Option<std::ops::Range<usize>>) -> Span {
    let range = range.unwrap_or(0..1);
    let start = position(text, range.start);
    // Point at the first line only: a block's span covers its whole body.
    let end_offset =
        text[range.start.min(text.len())..range.end.min(text.len())].find('\n').map_or(range.end, |i| range.start + i);
    Span { start, end: position(text, end_offset) }
}

fn node_span(document: &Document, route: &Route) -> Span {
    let span = document.root.entry_span(route);
    if span.end.line > span.start.line { document.root.key_span(route).unwrap_or(span) } else { span }
}

/// Every source in the repository that protects the default branch.
pub fn sources(model: &RepositoryModel) -> Vec<ProtectionSource> {
    let mut out = Vec::new();
    for file in &model.files {
        if file.path.starts_with(".github/rulesets/") {
            if let Some(doc) = file.documents.first() {
                ruleset_json(file, doc, &mut out);
            }
        } else if matches!(file.path.as_str(), ".github/settings.yml" | ".github/settings.yaml") {
            if let Some(doc) = file.documents.first() {
                settings_app(file, doc, &mut out);
            }
        } else if file.kind == FileKind::Terraform
            && let Ok(body) = hcl_edit::parser::parse_body(&file.text)
        {
            terraform(file, &body, &mut out);
        }
    }
    out
}

/// What the default branch's protection (`all`, non-empty) lacks for a
/// reviewed prod change, each said as a sentence fragment, and the source
/// the findings are placed at. Bypass actors are not included (they are
/// in [`ProtectionSource::bypass`]).
pub fn weaknesses(all: &[ProtectionSource], min_approvals: u32) -> (&ProtectionSource, Vec<String>) {
    let enforced: Vec<_> = all.iter().filter(|s| s.enforced).collect();
    let primary = enforced.first().copied().unwrap_or(&all[0]);
    let pr = enforced.iter().filter_map(|s| s.pull_request.as_ref()).fold(None, |acc: Option<(u32, bool, bool)>, p| {
        let (a, c, d) = acc.unwrap_or((0, false, false));
        Some((a.max(p.approvals), c || p.code_owners, d || p.dismiss_stale))
    });
    let mut missing: Vec<String> = Vec::new();
    if enforced.is_empty() {
        missing.push(format!("{} is not enforced (`enforcement` is not `active`)", primary.what));
    }
    match pr {
        None => {
            missing
                .push("pull requests are not required, so anyone with write access can push to it directly".to_owned());
        }
        Some((approvals, code_owners, dismiss_stale)) => {
            if approvals < min_approvals {
                missing.push(format!(
                    "{approvals} approving review(s) required, fewer than `review.min_approvals: {min_approvals}`"
                ));
            }
            if !code_owners {
                missing.push(
                    "code-owner review is not required, so CODEOWNERS assigns reviewers but does not gate the merge"
                        .to_owned(),
                );
            }
            if !dismiss_stale {
                missing.push(
                    "stale approvals are not dismissed, so commits pushed after the approval merge unreviewed"
                        .to_owned(),
                );
            }
        }
    }
    if !enforced.iter().any(|s| s.signed_commits) {
        missing.push("signed commits are not required".to_owned());
    }
    (primary, missing)
}

/// Whether the repository keeps any branch protection as code (even for other branches).
pub fn has_settings_as_code(model: &RepositoryModel) -> bool {
    model.files.iter().any(|f| {
        f.path.starts_with(".github/rulesets/")
            || matches!(f.path.as_str(), ".github/settings.yml" | ".github/settings.yaml")
            || (f.kind == FileKind::Terraform
                && ["github_branch_protection", "github_repository_ruleset"].iter().any(|r| f.text.contains(r)))
    })
}

fn ruleset_json(file: &SourceFile, doc: &Document, out: &mut Vec<ProtectionSource>) {
    let root = &doc.root;
    if root.get_key("target").and_then(Node::as_str).is_some_and(|t| t != "branch") {
        return;
    }
    let includes =
        root.get(&Route::parse("/conditions/ref_name/include")).and_then(Node::as_sequence).unwrap_or_default();
    if !includes.iter().filter_map(Node::as_str).any(covers_default_branch) {
        return;
    }
    let name = root.get_key("name").and_then(Node::as_str).unwrap_or("");
    let enforced = root.get_key("enforcement").and_then(Node::as_str) == Some("active");
    let mut source = ProtectionSource {
        path: file.path.clone(),
        what: format!("ruleset `{name}`"),
        anchor: node_span(doc, &Route::root().key(if root.get_key("rules").is_some() { "rules" } else { "name" })),
        enforced,
        pull_request: None,
        signed_commits: false,
        bypass: Vec::new(),
        required_checks: Vec::new(),
    };
    for rule in root.get_key("rules").and_then(Node::as_sequence).unwrap_or_default() {
        match rule.get_key("type").and_then(Node::as_str) {
            Some("pull_request") => {
                let p = rule.get_key("parameters");
                let get = |k: &str| p.and_then(|p| p.get_key(k));
                source.pull_request = Some(PullRequestRules {
                    approvals: get("required_approving_review_count").and_then(Node::as_i64).unwrap_or(0).max(0) as u32,
                    code_owners: get("require_code_owner_review").and_then(Node::as_bool) == Some(true),
                    dismiss_stale: get("dismiss_stale_reviews_on_push").and_then(Node::as_bool) == Some(true),
                });
            }
            Some("required_signatures") => source.signed_commits = true,
            Some("required_status_checks") => {
                let checks = rule
                    .get(&Route::parse("/parameters/required_status_checks"))
                    .and_then(Node::as_sequence)
                    .unwrap_or_default();
                source.required_checks.extend(
                    checks.iter().filter_map(|c| c.get_key("context").and_then(Node::as_str)).map(str::to_owned),
                );
            }
            _ => {}
        }
    }
    for (i, actor) in root.get_key("bypass_actors").and_then(Node::as_sequence).unwrap_or_default().iter().enumerate() {
        let kind = actor.get_key("actor_type").and_then(Node::as_str).unwrap_or("actor");
        let id = actor.get_key("actor_id").and_then(Node::as_str).unwrap_or("");
        let mode = actor.get_key("bypass_mode").and_then(Node::as_str).unwrap_or("always");
        let span = node_span(doc, &Route::root().key("bypass_actors").index(i));
        source.bypass.push((span, format!("{kind} {id} (bypass mode `{mode}`)").replace("  ", " ")));
    }
    out.push(source);
}

fn settings_app(file: &SourceFile, doc: &Document, out: &mut Vec<ProtectionSource>) {
    for (i, branch) in doc.root.get_key("branches").and_then(Node::as_sequence).unwrap_or_default().iter().enumerate() {
        let name = branch.get_key("name").and_then(Node::as_str).unwrap_or("");
        if !covers_default_branch(name) {
            continue;
        }
        let base = Route::root().key("branches").index(i);
        let protection = branch.get_key("protection").filter(|p| !p.is_null());
        let mut source = ProtectionSource {
            path: file.path.clone(),
            what: format!("Settings app branch `{name}`"),
            anchor: node_span(doc, &base.clone().key(if protection.is_some() { "protection" } else { "name" })),
            enforced: protection.is_some(),
            pull_request: None,
            signed_commits: false,
            bypass: Vec::new(),
            required_checks: Vec::new(),
        };
        let Some(p) = protection else {
            out.push(source);
            continue;
        };
        if let Some(reviews) = p.get_key("required_pull_request_reviews").filter(|r| !r.is_null()) {
            source.pull_request = Some(PullRequestRules {
                approvals: reviews.get_key("required_approving_review_count").and_then(Node::as_i64).unwrap_or(0).max(0)
                    as u32,
                code_owners: reviews.get_key("require_code_owner_reviews").and_then(Node::as_bool) == Some(true),
                dismiss_stale: reviews.get_key("dismiss_stale_reviews").and_then(Node::as_bool) == Some(true),
            });
            let allowances = base
                .clone()
                .key("protection")
                .key("required_pull_request_reviews")
                .key("bypass_pull_request_allowances");
            if let Some(a) = doc.root.get(&allowances) {
                for kind in ["users", "teams", "apps"] {
                    for (j, who) in a.get_key(kind).and_then(Node::as_sequence).unwrap_or_default().iter().enumerate() {
                        let span = node_span(doc, &allowances.clone().key(kind).index(j));
                        source
                            .bypass
                            .push((span, format!("{} `{}`", kind.trim_end_matches('s'), who.as_str().unwrap_or(""))));
                    }
                }
            }
        }
        source.signed_commits = p.get_key("required_signatures").and_then(Node::as_bool) == Some(true);
        if let Some(checks) = p.get_key("required_status_checks").filter(|c| !c.is_null()) {
            let contexts = checks.get_key("contexts").and_then(Node::as_sequence).unwrap_or_default();
            source.required_checks.extend(contexts.iter().filter_map(Node::as_str).map(str::to_owned));
            let list = checks.get_key("checks").and_then(Node::as_sequence).unwrap_or_default();
            source
                .required_checks
                .extend(list.iter().filter_map(|c| c.get_key("context").and_then(Node::as_str)).map(str::to_owned));
        }
        if p.get_key("enforce_admins").and_then(Node::as_bool) != Some(true) {
            let route = base.clone().key("protection").key("enforce_admins");
            let span = if doc.root.get(&route).is_some() { node_span(doc, &route) } else { source.anchor };
            source.bypass.push((span, "repository administrators (`enforce_admins` is not true)".to_owned()));
        }
        out.push(source);
    }
}

fn hcl_bool(body: &Body, key: &str) -> Option<bool> {
    match &body.get_attribute(key)?.value {
        Expression::Bool(b) => Some(*b.value()),
        _ => None,
    }
}

fn hcl_number(body: &Body, key: &str) -> Option<u64> {
    match &body.get_attribute(key)?.value {
        Expression::Number(n) => n.value().as_u64(),
        _ => None,
    }
}

fn hcl_strings(body: &Body, key: &str) -> Vec<String> {
    match body.get_attribute(key).map(|a| &a.value) {
        Some(Expression::String(s)) => vec![s.value().clone()],
        Some(Expression::Array(a)) => a
            .iter()
            .filter_map(|e| match e {
                Expression::String(s) => Some(s.value().clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn terraform(file: &SourceFile, body: &Body, out: &mut Vec<ProtectionSource>) {
    let text = &file.text;
    for block in body.get_blocks("resource") {
        let labels: Vec<&str> = block.labels.iter().map(hcl_edit::structure::BlockLabel::as_str).collect();
        let [kind, name] = labels[..] else { continue };
        let what = format!("Terraform `{kind}.{name}`");
        let anchor = byte_span(text, block.span());
        match kind {
            "github_branch_protection" | "github_branch_protection_v3" => {
                let key = if kind == "github_branch_protection" { "pattern" } else { "branch" };
                if !hcl_strings(&block.body, key).iter().any(|b| covers_default_branch(b)) {
                    continue;
                }
                let mut source = classic_protection(text, block, what, anchor);
                source.path.clone_from(&file.path);
                out.push(source);
            }
            "github_repository_ruleset" => {
                if hcl_strings(&block.body, "target").first().is_some_and(|t| t != "branch") {
                    continue;
                }
                let include: Vec<String> = block
                    .body
                    .get_blocks("conditions")
                    .flat_map(|c| {
                        c.body.get_blocks("ref_name").flat_map(|r| hcl_strings(&r.body, "include")).collect::<Vec<_>>()
                    })
                    .collect();
                if !include.iter().any(|b| covers_default_branch(b)) {
                    continue;
                }
                let enforced = hcl_strings(&block.body, "enforcement").first().is_some_and(|e| e == "active");
                let mut source = ProtectionSource {
                    path: file.path.clone(),
                    what,
                    anchor,
                    enforced,
                    pull_request: None,
                    signed_commits: false,
                    bypass: Vec::new(),
                    required_checks: Vec::new(),
                };
                for rules in block.body.get_blocks("rules") {
                    for checks in rules.body.get_blocks("required_status_checks") {
                        for check in checks.body.get_blocks("required_check") {
                            source.required_checks.extend(hcl_strings(&check.body, "context"));
                        }
                    }
                    if let Some(pr) = rules.body.get_blocks("pull_request").next() {
                        source.pull_request = Some(PullRequestRules {
                            approvals: hcl_number(&pr.body, "required_approving_review_count").unwrap_or(0) as u32,
                            code_owners: hcl_bool(&pr.body, "require_code_owner_review") == Some(true),
                            dismiss_stale: hcl_bool(&pr.body, "dismiss_stale_reviews_on_push") == Some(true),
                        });
                    }
                    source.signed_commits |= hcl_bool(&rules.body, "required_signatures") == Some(true);
                }
                for actor in block.body.get_blocks("bypass_actors") {
                    let kind =
                        hcl_strings(&actor.body, "actor_type").first().cloned().unwrap_or_else(|| "actor".into());
                    let mode =
                        hcl_strings(&actor.body, "bypass_mode").first().cloned().unwrap_or_else(|| "always".into());
                    source.bypass.push((byte_span(text, actor.span()), format!("{kind} (bypass mode `{mode}`)")));
                }
                out.push(source);
            }
            _ => {}
        }
    }
}

fn classic_protection(text: &str, block: &Block, what: String, anchor: Span) -> ProtectionSource {
    let body = &block.body;
    let mut source = ProtectionSource {
        path: String::new(),
        what,
        anchor,
        enforced: true,
        pull_request: None,
        signed_commits: hcl_bool(body, "require_signed_commits") == Some(true),
        bypass: Vec::new(),
        required_checks: body
            .get_blocks("required_status_checks")
            .flat_map(|c| hcl_strings(&c.body, "contexts"))
            .collect(),
    };
    if let Some(reviews) = body.get_blocks("required_pull_request_reviews").next() {
        source.pull_request = Some(PullRequestRules {
            approvals: hcl_number(&reviews.body, "required_approving_review_count").unwrap_or(1) as u32,
            code_owners: hcl_bool(&reviews.body, "require_code_owner_reviews") == Some(true),
            dismiss_stale: hcl_bool(&reviews.body, "dismiss_stale_reviews") == Some(true),
        });
        for key in ["pull_request_bypassers", "bypass_pull_request_allowances"] {
            if let Some(attr) = reviews.body.get_attribute(key)
                && !hcl_strings(&reviews.body, key).is_empty()
            {
                source.bypass.push((
                    byte_span(text, attr.span()),
                    format!("`{key}` {}", hcl_strings(&reviews.body, key).join(", ")),
                ));
            }
        }
    }
    if hcl_bool(body, "enforce_admins") != Some(true) {
        let span = body.get_attribute("enforce_admins").map_or(anchor, |a| byte_span(text, a.span()));
        source.bypass.push((span, "repository administrators (`enforce_admins` is not true)".to_owned()));
    }
    source
}
