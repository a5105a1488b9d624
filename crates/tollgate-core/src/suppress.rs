//! Suppression: `# tollgate: ignore[rule-id] reason` comments, config
//! `ignore` entries, and baselines.

use crate::rule_id::RuleId;
use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use tollgate_yaml::{Limits, Position, Span};

use crate::config::Config;
use crate::date::Date;
use crate::error::CoreError;
use crate::finding::{Finding, Location, Suppression, normalize_content};
use crate::model::RepositoryModel;
use crate::registry::Registry;
use crate::severity::Severity;

/// One `tollgate: ignore[...]` comment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InlineSuppression {
    /// 1-based line of the comment.
    pub line: u32,
    /// Where the comment is.
    #[serde(skip)]
    pub span: Span,
    /// The rule ids it names.
    pub rules: Vec<String>,
    /// The reason after `]` (may be empty, which is a finding).
    pub reason: String,
    /// True when the comment is alone on its line (it then covers the next line too).
    pub own_line: bool,
}

fn comment_pattern() -> &'static Regex {
    // A comment start (`#`, or `//` in JSONC) at the line start or after white space.
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:^|\s)(?:#|//)\s*tollgate:\s*ignore\[([^\]]*)\][ \t]*(.*)$")
            .expect("a constant pattern, compiled by every suppression test")
    });
    &RE
}

/// Finds every `tollgate: ignore[...]` text of a file that looks like a
/// comment on its line (a `#` or `//` at the line start or after white
/// space). These are candidates: [`comments_only`] keeps those that are real
/// comments of the file's syntax.
///
/// ```
/// let s = tollgate_core::parse_inline("a: 1 # tollgate: ignore[plaintext-secret] fixture data\n");
/// assert_eq!(s[0].rules, ["plaintext-secret"]);
/// assert_eq!(s[0].reason, "fixture data");
/// ```
pub fn parse_inline(text: &str) -> Vec<InlineSuppression> {
    if !text.contains("tollgate:") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split('\n').enumerate() {
        if line.contains("tollgate:")
            && let Some(c) = comment_pattern().captures(line)
        {
            let whole = c.get(0).map_or(0..0, |m| m.range());
            let start_in_line = whole.start + line[whole.clone()].find(['#', '/']).unwrap_or(0);
            let line_no = i as u32 + 1;
            let column = line[..start_in_line].chars().count() as u32 + 1;
            let end_col = line.trim_end().chars().count() as u32 + 1;
            out.push(InlineSuppression {
                line: line_no,
                span: Span {
                    start: Position { line: line_no, column, offset: (offset + start_in_line) as u32 },
                    end: Position { line: line_no, column: end_col, offset: (offset + line.trim_end().len()) as u32 },
                },
                rules: c[1].split(',').map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()).collect(),
                reason: c[2].trim().to_owned(),
                own_line: line[..start_in_line].trim().is_empty(),
            });
        }
        offset += line.len() + 1;
    }
    out
}

/// Keeps the candidates of [`parse_inline`] that are real comments.
///
/// For YAML and JSON that is decided by the parsed tree: text inside a
/// scalar (a quoted string, a block scalar, a JSON string) is a value, never a
/// comment, so `a: "x # tollgate: ignore[plaintext-secret] y"` suppresses
/// nothing. A file that did not parse has no suppressions at all (its only
/// finding is `parse-error`, which cannot be suppressed inline). Text files
/// (Rego, HCL, CODEOWNERS) have no tree here: a candidate counts unless an
/// odd number of quotes before it on its line puts it inside a string.
///
/// ```
/// use tollgate_core::{Limits, comments_only, parse_inline};
/// let text = "a: \"x # tollgate: ignore[plaintext-secret] y\"\nb: 1 # tollgate: ignore[plaintext-secret] real\n";
/// let docs = tollgate_yaml::parse_yaml(text, &Limits::default()).unwrap();
/// let kept = comments_only(parse_inline(text), text, Some(&docs));
/// assert_eq!(kept.len(), 1);
/// assert_eq!(kept[0].line, 2);
/// ```
pub fn comments_only(
    candidates: Vec<InlineSuppression>,
    text: &str,
    documents: Option<&[tollgate_yaml::Document]>,
) -> Vec<InlineSuppression> {
    if candidates.is_empty() {
        return candidates;
    }
    match documents {
        Some(documents) => candidates
            .into_iter()
            .filter(|s| !documents.iter().any(|d| inside_scalar(&d.root, s.span.start.byte())))
            .collect(),
        None => candidates
            .into_iter()
            .filter(|s| {
                let at = s.span.start.byte().min(text.len());
                let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                let before = &text[line_start..at];
                let mut quotes = 0usize;
                let mut escaped = false;
                for c in before.chars() {
                    match c {
                        '\\' if !escaped => {
                            escaped = true;
                            continue;
                        }
                        '"' | '`' if !escaped => quotes += 1,
                        _ => {}
                    }
                    escaped = false;
                }
                quotes.is_multiple_of(2)
            })
            .collect(),
    }
}

/// True when `offset` lies inside the source text of a scalar of the tree
/// (a key or a value). Collections are entered only where they cover it.
fn inside_scalar(node: &tollgate_yaml::Node, offset: usize) -> bool {
    use tollgate_yaml::Value;
    let covers = node.span.start.byte() <= offset && offset < node.span.end.byte();
    match &node.value {
        Value::Scalar(_) => covers,
        _ if !covers => false,
        Value::Sequence(items) => items.iter().any(|n| inside_scalar(n, offset)),
        Value::Mapping(m) => m.entries.iter().any(|(k, v)| inside_scalar(k, offset) || inside_scalar(v, offset)),
    }
}

/// True for ids a policy engine may produce (`package.rule`, `policy/rule`).
fn engine_named(id: &str) -> bool {
    id.contains('.') || id.contains('/')
}

/// Whether an inline comment may suppress findings of `id` (policy engines'
/// own rules may; built-in rules unless their page says otherwise).
fn inline_allowed(registry: &Registry, id: &str) -> bool {
    registry.get(id).is_none_or(|r| r.meta.inline_suppression)
}

fn invalid(registry: &Registry, location: Location, content: &str, message: String) -> Finding {
    let severity = registry.get(RuleId::SuppressionInvalid.as_str()).map_or(Severity::Warning, |r| r.meta.severity);
    let fingerprint =
        Finding::fingerprint_of(&[RuleId::SuppressionInvalid.as_str(), &location.path, &normalize_content(content)]);
    Finding::new(RuleId::SuppressionInvalid.as_str(), severity, message, location, fingerprint)
}

/// Marks suppressed findings and returns `suppression-invalid` findings for
/// suppressions without a reason, naming unknown rules, or past `expires`.
/// Invalid suppressions suppress nothing: tollgate fails closed.
pub fn apply_suppressions(
    findings: &mut [Finding],
    model: &RepositoryModel,
    config: &Config,
    registry: &Registry,
    today: Date,
) -> Vec<Finding> {
    let mut problems = Vec::new();
    let known = |id: &str| registry.get(id).is_some() || engine_named(id);
    // Inline comments: validate, then apply the valid ones.
    for file in &model.files {
        for s in &file.suppressions {
            let location = Location { path: file.path.clone(), span: s.span, document: None, route: None };
            let comment = s.span.text(&file.text);
            if s.rules.is_empty() {
                problems.push(invalid(
                    registry,
                    location.clone(),
                    comment,
                    "suppression names no rule; write `# tollgate: ignore[rule-id] reason`".into(),
                ));
            }
            for id in s.rules.iter().filter(|id| !known(id)) {
                let hint = registry.suggest(id).map(|h| format!(" Did you mean `{h}`?")).unwrap_or_default();
                problems.push(invalid(
                    registry,
                    location.clone(),
                    comment,
                    format!("suppression names unknown rule `{id}`, so it suppresses nothing.{hint} `tollgate rules` lists the ids"),
                ));
            }
            for id in s.rules.iter().filter(|id| !inline_allowed(registry, id)) {
                problems.push(invalid(
                    registry,
                    location.clone(),
                    comment,
                    format!("`{id}` cannot be suppressed inline, so this comment suppresses nothing: findings about commits and the fail-closed rules are judged by the configuration of the base branch only, never by a comment a change brings. If the finding is acceptable, add an `ignore` entry with a reason to `.tollgate.yaml` on the target branch"),
                ));
            }
            if s.reason.is_empty() {
                problems.push(invalid(
                    registry,
                    location.clone(),
                    comment,
                    "suppression has no reason, so it suppresses nothing. Say why after the bracket: `# tollgate: ignore[rule-id] why this is acceptable`".into(),
                ));
            }
        }
    }
    for finding in findings.iter_mut() {
        let Some(file) = model.file(&finding.location.path) else { continue };
        let (first, last) = (finding.location.span.start.line, finding.location.span.end.line);
        if !inline_allowed(registry, &finding.rule_id) {
            continue;
        }
        let hit = file.suppressions.iter().find(|s| {
            !s.reason.is_empty()
                && s.rules.iter().any(|r| r == &finding.rule_id)
                && ((s.line >= first && s.line <= last) || (s.own_line && s.line + 1 == first))
        });
        if let Some(s) = hit {
            finding.suppressed = Some(Box::new(Suppression {
                kind: "inline",
                reason: s.reason.clone(),
                location: Some(Location { path: file.path.clone(), span: s.span, document: None, route: None }),
            }));
        }
    }
    // Config entries.
    let config_path = config.source.clone().unwrap_or_else(|| ".tollgate.yaml".to_owned());
    let config_text = model.file(&config_path).map(|f| f.text.as_str()).unwrap_or_default();
    for entry in &config.ignore {
        let location = Location { path: config_path.clone(), span: entry.span, document: Some(0), route: None };
        let content = entry.span.text(config_text);
        let content = if content.is_empty() { entry.rule.as_str() } else { content };
        if !known(&entry.rule) {
            let hint = registry.suggest(&entry.rule).map(|h| format!(" Did you mean `{h}`?")).unwrap_or_default();
            problems.push(invalid(
                registry,
                location,
                content,
                format!("ignore entry names unknown rule `{}`, so it suppresses nothing.{hint}", entry.rule),
            ));
            continue;
        }
        if entry.reason.is_empty() {
            problems.push(invalid(
                registry,
                location,
                content,
                "ignore entry has an empty reason, so it suppresses nothing. Say why the findings are acceptable"
                    .into(),
            ));
            continue;
        }
        if let Some(expires) = entry.expires.filter(|e| *e < today) {
            problems.push(invalid(
                registry,
                location,
                content,
                format!("ignore entry for `{}` expired on {expires}, so it no longer suppresses anything. Fix the findings, or renew the entry with a new date and reason", entry.rule),
            ));
            continue;
        }
        let Ok(globs) = crate::environment::glob_set(&entry.paths) else { continue };
        for finding in findings.iter_mut().filter(|f| f.suppressed.is_none() && f.rule_id == entry.rule) {
            if globs.is_match(&finding.location.path) {
                finding.suppressed = Some(Box::new(Suppression {
                    kind: "config",
                    reason: entry.reason.clone(),
                    location: Some(location.clone()),
                }));
            }
        }
    }
    problems
}

/// In a range check, the inline suppressions the change adds or edits
/// (missing, with the same rules and reason, from the file at the merge
/// base), each reported at its comment with what it silences, and listed
/// in a summary: the owners of the file see every exception a change
/// brings. Runs after [`apply_suppressions`].
pub(crate) fn added_suppressions(
    findings: &[Finding],
    model: &RepositoryModel,
    registry: &Registry,
) -> (Vec<Finding>, Option<crate::runner::RuleSummary>) {
    let Some(range) = model.range.as_ref().filter(|r| r.problem.is_none()) else { return (Vec::new(), None) };
    let Some(meta) = registry.get(RuleId::SuppressionAdded.as_str()).map(|r| &r.meta) else {
        return (Vec::new(), None);
    };
    let key = |s: &InlineSuppression| {
        let mut rules = s.rules.clone();
        rules.sort();
        (rules, s.reason.clone())
    };
    let mut out = Vec::new();
    let mut items = Vec::new();
    for path in &range.changed_paths {
        let Some(file) = model.file(path) else { continue };
        if file.suppressions.is_empty() {
            continue;
        }
        let mut before: Vec<(Vec<String>, String)> = range
            .merge_base_files
            .get(path)
            .map(|text| {
                let old = crate::model::SourceFile::parse(path.clone(), file.kind, text.clone(), &Limits::default());
                old.suppressions.iter().map(key).collect()
            })
            .unwrap_or_default();
        for s in &file.suppressions {
            let k = key(s);
            if let Some(i) = before.iter().position(|b| *b == k) {
                before.swap_remove(i);
                continue;
            }
            let silenced: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    f.suppressed.as_ref().is_some_and(|sup| {
                        sup.kind == "inline"
                            && sup.location.as_ref().is_some_and(|l| l.path == file.path && l.span == s.span)
                    })
                })
                .collect();
            let what = if silenced.is_empty() {
                "it silences no finding of this run".to_owned()
            } else {
                let first = silenced[0];
                let title = first.message.split(". ").next().unwrap_or(&first.message);
                format!(
                    "it silences {} finding(s), the first at line {}: {}",
                    silenced.len(),
                    first.location.span.start.line,
                    title.chars().take(200).collect::<String>()
                )
            };
            let rules = s.rules.join(", ");
            let location = Location { path: file.path.clone(), span: s.span, document: None, route: None };
            let message = format!(
                "This change adds a suppression of `{rules}` (reason: \"{}\"): {what}. The owners of `{}` must agree that the exception is acceptable.",
                s.reason, file.path
            );
            let fingerprint =
                Finding::fingerprint_of(&[&meta.id, &file.path, &normalize_content(s.span.text(&file.text))]);
            let mut finding = Finding::new(meta.id.clone(), meta.severity, message, location, fingerprint);
            finding.related = silenced
                .iter()
                .take(5)
                .map(|f| crate::finding::RelatedLocation {
                    location: f.location.clone(),
                    message: format!("silenced `{}`", f.rule_id),
                })
                .collect();
            out.push(finding);
            items.push((format!("{}:{}", file.path, s.line), format!("ignore[{rules}] {} — {what}", s.reason)));
        }
    }
    let summary = (!items.is_empty()).then(|| crate::runner::RuleSummary {
        rule_id: meta.id.to_string(),
        title: format!("{} inline suppression(s) added in {}..{}", items.len(), range.base, range.head),
        columns: ("comment".to_owned(), "suppresses".to_owned()),
        items,
    });
    (out, summary)
}

/// Reads the fingerprints of a SARIF file written by tollgate
/// (`partialFingerprints["tollgateFingerprint/v1"]` of every result).
pub fn load_baseline(path: &Path) -> Result<HashSet<String>, CoreError> {
    let text = std::fs::read_to_string(path).map_err(|source| CoreError::Read { path: path.to_path_buf(), source })?;
    let bad = |message: String| CoreError::Baseline { path: path.to_path_buf(), message };
    let sarif: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let runs = sarif
        .get("runs")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("no `runs` array: is this a SARIF file?".into()))?;
    let mut out = HashSet::new();
    for run in runs {
        for result in run.get("results").and_then(|r| r.as_array()).into_iter().flatten() {
            if let Some(fp) = result.pointer("/partialFingerprints/tollgateFingerprint~1v1").and_then(|f| f.as_str()) {
                out.insert(fp.to_owned());
            }
        }
    }
    Ok(out)
}

/// Marks findings whose fingerprint is in the baseline.
pub fn apply_baseline(findings: &mut [Finding], baseline: &HashSet<String>, source: &str) {
    for f in findings.iter_mut().filter(|f| f.suppressed.is_none()) {
        if baseline.contains(&f.fingerprint) {
            f.suppressed = Some(Box::new(Suppression {
                kind: "baseline",
                reason: format!("present in baseline {source}"),
                location: None,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_yaml::Limits;

    #[test]
    fn parses_comment_forms() {
        let text = "a: 1\n# tollgate: ignore[x, y] because\nb: \"# tollgate: ignore[z] not a comment\"\nc: 2  // tollgate: ignore[w]\n";
        let s = parse_inline(text);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].line, s[0].own_line, s[0].rules.clone()), (2, true, vec!["x".to_owned(), "y".to_owned()]));
        assert_eq!((s[1].line, s[1].own_line, s[1].reason.as_str()), (4, false, ""));
        assert_eq!(s[0].span.start.column, 1);
        assert_eq!(s[1].span.start.column, 7);
    }

    fn kept(text: &str, syntax_tree: bool) -> Vec<u32> {
        let docs = if text.trim_start().starts_with('{') {
            vec![tollgate_yaml::parse_json(text, tollgate_yaml::JsonDialect::Jsonc, &Limits::default()).expect("json")]
        } else {
            tollgate_yaml::parse_yaml(text, &Limits::default()).expect("yaml")
        };
        let tree = syntax_tree.then_some(docs.as_slice());
        comments_only(parse_inline(text), text, tree).iter().map(|s| s.line).collect()
    }

    #[test]
    fn only_real_comments_suppress() {
        // A quoted scalar, a plain scalar and a block scalar hold the text as a value.
        let yaml = "a: \"x # tollgate: ignore[plaintext-secret] y\"\nb: 'p # tollgate: ignore[x] q'\nc: |\n  run # tollgate: ignore[x] z\n  more\n# tollgate: ignore[x] real\nd: 1 # tollgate: ignore[x] real too\n";
        assert_eq!(kept(yaml, true), vec![6, 7]);
        // Multi-line double-quoted scalar whose second line looks like a comment.
        let yaml = "a: \"one\n  # tollgate: ignore[x] inside\"\nb: 2\n";
        assert_eq!(kept(yaml, true), Vec::<u32>::new());
        // JSONC: a string is a value; a `//` comment is a comment.
        let json = "{\n  \"a\": \"v // tollgate: ignore[x] no\",\n  // tollgate: ignore[x] yes\n  \"b\": 1\n}\n";
        assert_eq!(kept(json, true), vec![3]);
        // Text syntax (HCL, Rego): quotes before the marker make it a string.
        let hcl = "a = \"x # tollgate: ignore[x] no\"\n# tollgate: ignore[x] yes\nb = 1 # tollgate: ignore[x] yes\n";
        assert_eq!(comments_only(parse_inline(hcl), hcl, None).iter().map(|s| s.line).collect::<Vec<_>>(), vec![2, 3]);
    }
}
