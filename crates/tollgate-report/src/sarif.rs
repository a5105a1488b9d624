//! SARIF 2.1.0 shaped for GitHub code scanning.
//!
//! What GitHub silently drops or rejects decides the shape: one run, every
//! rule that ran described, exactly one physical location per result (a
//! result without one makes GitHub reject the whole file), our own stable
//! `partialFingerprints`, suppressed findings left out, at most 25,000
//! results with a notification when more were cut.

use std::collections::{BTreeMap, HashMap};

use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location as SarifLocation, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult,
    ResultLevel, Run, RunAutomationDetails, Sarif, Tool, ToolComponent,
};
use tollgate_core::{CheckReport, Finding, Location, RuleMeta, Severity};

use crate::{INFORMATION_URI, ReportOptions, VERSION};

/// GitHub keeps at most this many results per run.
pub const MAX_RESULTS: usize = 25_000;

/// GitHub's limit on `shortDescription` and `fullDescription`.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

const SCHEMA_URI: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub(crate) fn render(report: &CheckReport, options: &ReportOptions) -> String {
    crate::pretty_json(&to_sarif(report, options))
}

/// [`render`], streamed into `out`.
pub(crate) fn write(
    report: &CheckReport,
    options: &ReportOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    crate::write_pretty_json(&to_sarif(report, options), out)
}

fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Error => ResultLevel::Error,
        Severity::Warning => ResultLevel::Warning,
        Severity::Note => ResultLevel::Note,
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// The first paragraph of the page's "What it finds" section; when it
/// introduces a list (it ends with `:`), the list's items follow it, as
/// many whole items as fit, so the description is never a clipped sentence.
fn full_description(meta: &RuleMeta) -> String {
    let flat = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    let section = meta.docs.split("## What it finds").nth(1).unwrap_or(&meta.summary);
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut paragraphs = section.trim_start().split("\n\n");
    let text = flat(paragraphs.next().unwrap_or(&meta.summary));
    if text.is_empty() {
        return truncate(&meta.summary, MAX_DESCRIPTION_CHARS);
    }
    let Some(intro) = text.strip_suffix(':') else { return truncate(&text, MAX_DESCRIPTION_CHARS) };
    let list = paragraphs.next().unwrap_or("");
    let items: Vec<String> = list
        .split("\n- ")
        .map(|i| flat(i.trim_start_matches("- ")).trim_end_matches([';', '.', ',']).trim_end_matches(" and").to_owned())
        .filter(|i| !i.is_empty())
        .collect();
    let mut out = format!("{intro}: ");
    let mut shown = 0;
    for item in &items {
        let more = if shown + 1 < items.len() { " (and more)." } else { "." };
        if out.chars().count() + item.chars().count() + 2 + more.len() > MAX_DESCRIPTION_CHARS {
            break;
        }
        if shown > 0 {
            out.push_str("; ");
        }
        out.push_str(item);
        shown += 1;
    }
    if shown == 0 {
        return truncate(&meta.summary, MAX_DESCRIPTION_CHARS);
    }
    out.push_str(if shown < items.len() { " (and more)." } else { "." });
    out
}

fn descriptor(meta: &RuleMeta) -> ReportingDescriptor {
    let mut props = BTreeMap::new();
    props.insert("precision".to_owned(), serde_json::Value::String(meta.precision.to_string()));
    if let Some(ss) = &meta.security_severity {
        props.insert("security-severity".to_owned(), serde_json::Value::String(ss.to_string()));
    }
    let level_value = serde_json::Value::String(meta.severity.as_str().to_owned());
    let mut descriptor = ReportingDescriptor::builder()
        .id(meta.id.clone())
        .name(meta.name.clone())
        .short_description(
            MultiformatMessageString::builder().text(truncate(&meta.summary, MAX_DESCRIPTION_CHARS)).build(),
        )
        .full_description(MultiformatMessageString::builder().text(full_description(meta)).build())
        .help(MultiformatMessageString::builder().text(meta.page_markdown()).markdown(meta.page_markdown()).build())
        .default_configuration(ReportingConfiguration { level: Some(level_value), ..ReportingConfiguration::default() })
        .properties(PropertyBag {
            tags: Some(meta.tags.iter().map(ToString::to_string).collect()),
            additional_properties: props,
        })
        .build();
    // Policy rules have no page in tollgate's catalog: link their own docs, or nothing.
    descriptor.help_uri = if meta.in_catalog {
        Some(format!("{INFORMATION_URI}/blob/main/rules/{}.md", meta.id))
    } else {
        meta.help_uri.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    };
    descriptor
}

/// Percent-encodes a repository-relative path for a SARIF `uri`.
fn encode_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn physical(location: &Location, message: Option<&str>, id: Option<i64>) -> SarifLocation {
    let s = location.span;
    let start_line = i64::from(s.start.line.max(1));
    let start_column = i64::from(s.start.column.max(1));
    let end_line = i64::from(s.end.line).max(start_line);
    let mut end_column = i64::from(s.end.column.max(1));
    if end_line == start_line && end_column <= start_column {
        end_column = start_column + 1;
    }
    SarifLocation {
        id,
        message: message.map(|m| Message { text: Some(m.to_owned()), ..Message::default() }),
        physical_location: Some(PhysicalLocation {
            artifact_location: Some(ArtifactLocation {
                uri: Some(encode_uri(&location.path)),
                uri_base_id: Some("%SRCROOT%".to_owned()),
                ..ArtifactLocation::default()
            }),
            region: Some(Region {
                start_line: Some(start_line),
                start_column: Some(start_column),
                end_line: Some(end_line),
                end_column: Some(end_column),
                ..Region::default()
            }),
            ..PhysicalLocation::default()
        }),
        ..SarifLocation::default()
    }
}

/// Whether a location lies outside the repository (a policy given with
/// `--policy ../policies`): SARIF must anchor such a result in a file of the
/// repository; its message names the real file.
fn outside(path: &str) -> bool {
    path.starts_with('/') || path.starts_with("../") || path == ".." || path.get(1..3) == Some(":\\")
}

fn result(f: &Finding, rule_index: i64, anchor: Option<&str>) -> SarifResult {
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("tollgateFingerprint/v1".to_owned(), f.fingerprint.clone());
    let mut props = BTreeMap::new();
    if let Some(r) = &f.resource {
        props.insert("resource".to_owned(), serde_json::to_value(r).unwrap_or_default());
    }
    if !f.renders.is_empty() {
        // The rendered roots (Kustomize overlays) the value was judged in.
        props.insert("renders".to_owned(), serde_json::json!(f.renders));
    }
    if let Some(c) = &f.commit {
        props.insert("commit".to_owned(), serde_json::Value::String(c.id.clone()));
        props.insert("author".to_owned(), serde_json::Value::String(c.author.clone()));
        if let Some(signer) = &c.signer {
            props.insert("signer".to_owned(), serde_json::Value::String(signer.clone()));
        }
    }
    let related: Vec<SarifLocation> = f
        .related
        .iter()
        .enumerate()
        .map(|(i, r)| physical(&r.location, Some(&r.message), Some(i as i64 + 1)))
        .collect();
    let mut builder = SarifResult::builder()
        .rule_id(f.rule_id.clone())
        .rule_index(rule_index)
        .level(level(f.severity))
        .message(Message { text: Some(f.message.clone()), ..Message::default() })
        .locations(vec![match anchor.filter(|_| outside(&f.location.path)) {
            Some(first) => physical(
                &Location { path: first.to_owned(), span: tollgate_core::Span::default(), document: None, route: None },
                None,
                None,
            ),
            None => physical(&f.location, None, None),
        }])
        .partial_fingerprints(fingerprints)
        .build();
    if !related.is_empty() {
        builder.related_locations = Some(related);
    }
    if let Some(state) = f.state {
        // A range check: `new` with the change, or `unchanged` (SARIF's word)
        // when the base commit produces the same fingerprint; `properties.state`
        // says it in tollgate's words.
        props.insert("state".to_owned(), serde_json::Value::String(state.as_str().to_owned()));
        let sarif_state = match state {
            tollgate_core::ChangeState::New => "new",
            tollgate_core::ChangeState::Existing => "unchanged",
        };
        builder.baseline_state = Some(serde_json::Value::String(sarif_state.to_owned()));
    }
    if !props.is_empty() {
        builder.properties = Some(PropertyBag { tags: None, additional_properties: props });
    }
    builder
}

/// Builds the SARIF log of a report.
pub fn to_sarif(report: &CheckReport, options: &ReportOptions) -> Sarif {
    // Every rule that ran, plus any rule a finding names (policy engines).
    let mut metas: Vec<RuleMeta> = report.rules.clone();
    let mut index: HashMap<String, usize> = metas.iter().enumerate().map(|(i, m)| (m.id.to_string(), i)).collect();
    let mut active: Vec<&Finding> = report.active().collect();
    for f in &active {
        if !index.contains_key(&f.rule_id) {
            index.insert(f.rule_id.clone(), metas.len());
            let mut meta = RuleMeta::policy(&f.rule_id, f.severity, &f.rule_id, Vec::new(), "");
            meta.name = f.rule_id.clone().into();
            metas.push(meta);
        }
    }
    let total = active.len();
    let mut notifications = Vec::new();
    if total > MAX_RESULTS {
        // Keep the most severe; the sort is stable so the order within a severity is kept.
        active.sort_by_key(|f| std::cmp::Reverse(f.severity));
        active.truncate(MAX_RESULTS);
        notifications.push(
            Notification::builder()
                .message(Message {
                    text: Some(format!(
                        "{total} results were found but GitHub code scanning accepts at most {MAX_RESULTS} per run; the {MAX_RESULTS} most severe are included. Run tollgate with --format text or json to see all of them."
                    )),
                    ..Message::default()
                })
                .level(serde_json::Value::String("warning".to_owned()))
                .build(),
        );
    }
    let anchor = report.model.files.first().map(|f| f.path.as_str());
    let results: Vec<SarifResult> = active.iter().map(|f| result(f, index[&f.rule_id] as i64, anchor)).collect();
    let driver = ToolComponent::builder()
        .name("tollgate")
        .semantic_version(VERSION)
        .version(VERSION)
        .information_uri(INFORMATION_URI)
        .rules(metas.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let mut invocation = Invocation::builder().execution_successful(true).build();
    if !notifications.is_empty() {
        invocation.tool_execution_notifications = Some(notifications);
    }
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .automation_details(RunAutomationDetails {
            id: Some(format!("tollgate/{}/", options.sarif_category)),
            ..RunAutomationDetails::default()
        })
        .column_kind(serde_json::Value::String("unicodeCodePoints".to_owned()))
        .invocations(vec![invocation])
        .results(results)
        .build();
    Sarif::builder().schema(SCHEMA_URI).version(serde_json::Value::String("2.1.0".to_owned())).runs(vec![run]).build()
}
