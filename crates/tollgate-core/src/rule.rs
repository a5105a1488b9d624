//! Rules: their metadata (read from their documentation page) and the trait
//! every source of findings implements.

use std::borrow::Cow;

use tollgate_yaml::{Document, Limits, Position, Route, Span, parse_yaml};

use crate::config::Config;
use crate::environment::Environment;
use crate::error::CoreError;
use crate::finding::{Finding, Location, RelatedLocation, ResourceIdentity, normalize_content};
use crate::ident::pascal_case;
use crate::model::{RepositoryModel, SourceFile};
use crate::rule_id::RuleId;
use crate::severity::Severity;

/// Declares a crate's rule modules and the function that lists them, one
/// line per rule: `module::Type`, in catalog order. Adding a rule is its
/// code file, its page `rules/<id>.md` (which generates its
/// [`crate::RuleId`]), its fixtures, and this one line. The rule crates
/// `tollgate-gitops` and `tollgate-owners` declare their rules with it:
///
/// ```text
/// tollgate_core::rules! {
///     /// Every built-in GitOps rule, in catalog order.
///     pub fn rules() {
///         prod_self_heal::ProdSelfHeal,
///         prod_auto_prune::ProdAutoPrune,
///     }
/// }
/// ```
#[macro_export]
macro_rules! rules {
    ($(#[$doc:meta])* $vis:vis fn $name:ident() { $($module:ident :: $rule:ident),* $(,)? }) => {
        $(mod $module;)*
        $(#[$doc])*
        $vis fn $name() -> ::std::vec::Vec<::std::boxed::Box<dyn $crate::Rule>> {
            ::std::vec![$(::std::boxed::Box::new($module::$rule)),*]
        }
    };
}

pub use crate::sections::REQUIRED_SECTIONS;

/// Why a rule page cannot be read: what [`RuleMeta::from_page`] and
/// [`crate::Registry::add`] refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The page does not open with a `---` line.
    #[error("the page must start with `---` front matter")]
    NoFrontMatter,
    /// No `---` line closes the front matter.
    #[error("the front matter must end with a `---` line")]
    UnterminatedFrontMatter,
    /// The front matter is not YAML.
    #[error("front matter: {0}")]
    FrontMatter(tollgate_yaml::ParseError),
    /// The front matter is empty.
    #[error("empty front matter")]
    EmptyFrontMatter,
    /// A required key is absent or of the wrong type.
    #[error("front matter needs `{key}` ({expected})")]
    Missing {
        /// The key.
        key: &'static str,
        /// What it must hold.
        expected: &'static str,
    },
    /// The severity is not one of the three.
    #[error(transparent)]
    Severity(#[from] crate::severity::UnknownSeverity),
    /// A key the front matter does not know (a typo would otherwise be
    /// ignored).
    #[error("unknown front matter key `{0}`")]
    UnknownKey(String),
    /// The id is not lowercase words joined by `-`.
    #[error("id `{0}` is not a kebab-case slug")]
    NotKebabCase(String),
    /// A section every page must have is missing or out of order
    /// ([`REQUIRED_SECTIONS`]).
    #[error("missing section `{0}` (sections must appear in order)")]
    MissingSection(&'static str),
}

/// A rule's metadata, parsed from the front matter of its page. A rule
/// tollgate ships has its metadata in a static table generated from its page
/// at build time ([`RuleId::meta`]): its texts are borrowed, not allocated.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleMeta {
    /// Stable kebab-case id; the SARIF `ruleId`.
    pub id: Cow<'static, str>,
    /// `PascalCase` name for SARIF `name`.
    pub name: Cow<'static, str>,
    /// Default severity.
    pub severity: Severity,
    /// One-sentence summary.
    pub summary: Cow<'static, str>,
    /// Tags (SARIF `properties.tags`).
    pub tags: Cow<'static, [Cow<'static, str>]>,
    /// SARIF `properties.precision`.
    pub precision: Cow<'static, str>,
    /// SARIF `properties.security-severity`, for rules that guard production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_severity: Option<Cow<'static, str>>,
    /// Whether the rule runs without being enabled in configuration.
    pub enabled_by_default: bool,
    /// Whether an inline `# tollgate: ignore[...]` comment may suppress its
    /// findings (front matter `inline-suppression: false` says no). Findings
    /// about commits and the fail-closed rules are judged by the base
    /// configuration only: a change cannot silence them with a comment it
    /// brings itself.
    pub inline_suppression: bool,
    /// The page body (Markdown, without front matter).
    #[serde(skip)]
    pub docs: Cow<'static, str>,
    /// Where the rule is documented. `None` for tollgate's own rules (their
    /// page under `rules/`); a policy engine's rule gives its policy's
    /// `related_resources`, or nothing.
    #[serde(skip)]
    pub help_uri: Option<String>,
    /// Whether the rule has a page in tollgate's catalog (`rules/<id>.md`).
    #[serde(skip)]
    pub in_catalog: bool,
}

impl RuleMeta {
    /// Parses a page: `---` front matter `---` then Markdown.
    ///
    /// ```
    /// let page = "---\nid: my-rule\nseverity: warning\nsummary: Finds things.\ntags: [a]\n---\n## What it finds\n";
    /// let meta = tollgate_core::RuleMeta::from_page(page).unwrap();
    /// assert_eq!(meta.name, "MyRule");
    /// ```
    pub fn from_page(page: &str) -> Result<RuleMeta, PageError> {
        let rest = page.strip_prefix("---\n").ok_or(PageError::NoFrontMatter)?;
        let end = rest.find("\n---\n").ok_or(PageError::UnterminatedFrontMatter)?;
        let (front, body) = (&rest[..=end], &rest[end + 5..]);
        let docs = parse_yaml(front, &Limits::default()).map_err(PageError::FrontMatter)?;
        let root = docs.first().map(|d| &d.root).ok_or(PageError::EmptyFrontMatter)?;
        let text = |key: &str| root.get_key(key).and_then(|n| n.as_str()).map(|s| Cow::<str>::Owned(s.to_owned()));
        let missing = |key, expected| PageError::Missing { key, expected };
        let id = text("id").ok_or(missing("id", "a kebab-case slug"))?;
        let severity = text("severity").ok_or(missing("severity", "error, warning or note"))?.parse()?;
        let summary = text("summary").ok_or(missing("summary", "one sentence"))?;
        let tags = root
            .get_key("tags")
            .and_then(|t| t.as_sequence())
            .ok_or(missing("tags", "a list"))?
            .iter()
            .filter_map(|t| t.as_str().map(|t| Cow::Owned(t.to_owned())))
            .collect::<Vec<_>>()
            .into();
        for key in root.as_mapping().map(|m| m.iter().map(|(k, _)| k).collect::<Vec<_>>()).unwrap_or_default() {
            if ![
                "id",
                "name",
                "severity",
                "summary",
                "tags",
                "precision",
                "security-severity",
                "enabled",
                "inline-suppression",
            ]
            .contains(&key)
            {
                return Err(PageError::UnknownKey(key.to_owned()));
            }
        }
        Ok(RuleMeta {
            name: text("name").unwrap_or_else(|| Cow::Owned(pascal_case(&id))),
            id,
            severity,
            summary,
            tags,
            precision: text("precision").unwrap_or(Cow::Borrowed("high")),
            security_severity: text("security-severity"),
            enabled_by_default: root.get_key("enabled").and_then(tollgate_yaml::Node::as_bool).unwrap_or(true),
            inline_suppression: root
                .get_key("inline-suppression")
                .and_then(tollgate_yaml::Node::as_bool)
                .unwrap_or(true),
            docs: Cow::Owned(body.trim_start().to_owned()),
            help_uri: None,
            in_catalog: true,
        })
    }

    /// The full page: summary heading then the docs, as `explain` prints it.
    pub fn page_markdown(&self) -> String {
        format!("# {}\n\n{}\n\nDefault severity: `{}`.\n\n{}", self.id, self.summary, self.severity, self.docs)
    }

    /// The metadata of a policy engine's rule (a Rego rule, a Gatekeeper
    /// constraint, a Kyverno rule): no page in the catalog, the summary cut
    /// to 1,000 characters, the name derived from the id.
    ///
    /// ```
    /// use tollgate_core::{RuleMeta, Severity};
    /// let m = RuleMeta::policy("pod-baseline/no-privileged", Severity::Error, "No privileged pods", vec![], "");
    /// assert_eq!((&*m.name, m.in_catalog), ("PodBaselineNoPrivileged", false));
    /// ```
    pub fn policy(id: &str, severity: crate::Severity, summary: &str, tags: Vec<String>, docs: &str) -> RuleMeta {
        RuleMeta {
            id: Cow::Owned(id.to_owned()),
            name: Cow::Owned(pascal_case(id)),
            severity,
            summary: Cow::Owned(summary.chars().take(1000).collect()),
            tags: tags.into_iter().map(Cow::Owned).collect::<Vec<_>>().into(),
            precision: Cow::Borrowed("high"),
            security_severity: None,
            enabled_by_default: true,
            inline_suppression: true,
            docs: Cow::Owned(docs.to_owned()),
            help_uri: None,
            in_catalog: false,
        }
    }

    /// The metadata of `policy-error`, which every policy engine reports.
    pub fn policy_error() -> RuleMeta {
        RuleId::PolicyError.meta().clone()
    }
}

/// Anything that yields findings: a built-in rule, a policy engine's rule set,
/// or a type registered by an embedding program.
///
/// A rule names its page (a built-in rule: [`crate::RuleId::page`]) and implements one or both
/// checks. The runner calls [`Rule::check_document`] for every parsed
/// document of every file, in parallel, and [`Rule::check_repository`] once.
///
/// ```
/// use tollgate_core::{DocumentContext, Finding, Rule};
/// use tollgate_yaml::Route;
///
/// struct NoFoo;
/// impl Rule for NoFoo {
///     fn page(&self) -> &'static str {
///         "---\nid: no-foo\nseverity: warning\nsummary: No foo.\ntags: [example]\n---\n## What it finds\n"
///     }
///     fn check_document(&self, cx: &DocumentContext<'_>, out: &mut Vec<Finding>) {
///         if cx.document.root.get_key("foo").is_some() {
///             cx.report(&Route::root().key("foo"), "`foo` is set. Remove it.").emit(out);
///         }
///     }
/// }
/// ```
pub trait Rule: Send + Sync {
    /// The rule's page: front matter and Markdown docs.
    fn page(&self) -> &'static str;

    /// Which documents [`Rule::check_document`] is called for; the runner
    /// skips the others. The default is every document.
    fn judges(&self) -> Judged {
        Judged::Everything
    }

    /// Checks one document.
    fn check_document(&self, _cx: &DocumentContext<'_>, _out: &mut Vec<Finding>) {}

    /// Checks the repository as a whole (cross-file rules).
    fn check_repository(&self, _cx: &RepositoryContext<'_>, _out: &mut Vec<Finding>) {}

    /// A summary for the report, written after the checks (text and JSON show it).
    fn summary(&self, _cx: &RepositoryContext<'_>) -> Option<crate::runner::RuleSummary> {
        None
    }
}

/// A kind of Kubernetes object a rule judges: `kind` of the API `group`, or
/// of any group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectKind {
    /// The API group (`argoproj.io`, `""` for the core group), or `None`
    /// for any group.
    pub group: Option<&'static str>,
    /// The kind.
    pub kind: &'static str,
}

impl ObjectKind {
    /// `kind` of the API `group`.
    pub const fn of(group: &'static str, kind: &'static str) -> ObjectKind {
        ObjectKind { group: Some(group), kind }
    }

    /// `kind` of any API group.
    pub const fn any(kind: &'static str) -> ObjectKind {
        ObjectKind { group: None, kind }
    }

    /// Whether an object is of this kind.
    pub fn matches(&self, object: &ResourceIdentity) -> bool {
        object.kind == self.kind && self.group.is_none_or(|g| object.group() == g)
    }
}

/// Which documents a rule's [`Rule::check_document`] is called for, so that
/// a rule about Argo CD Applications is not called for every ConfigMap.
///
/// ```
/// use tollgate_core::{FileKind, Judged, ObjectKind, ResourceIdentity};
/// let rollout = ResourceIdentity { api_version: "argoproj.io/v1alpha1".into(), kind: "Rollout".into(), namespace: None, name: "web".into() };
/// const ROLLOUTS: &[ObjectKind] = &[ObjectKind::of("argoproj.io", "Rollout")];
/// let judged = Judged::Objects { kinds: ROLLOUTS, kustomizations: false };
/// assert!(judged.accepts(FileKind::Yaml, Some(&rollout)));
/// assert!(!judged.accepts(FileKind::Yaml, None));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// Every document of every judged file.
    Everything,
    /// Objects of these kinds, and the documents of Kustomization files
    /// when `kustomizations` is set.
    Objects {
        /// The kinds.
        kinds: &'static [ObjectKind],
        /// Whether kustomization files are judged too.
        kustomizations: bool,
    },
}

impl Judged {
    /// Whether a document of a file of `file_kind`, with the identity
    /// `object` when it is a Kubernetes object, is judged.
    pub fn accepts(&self, file_kind: crate::model::FileKind, object: Option<&ResourceIdentity>) -> bool {
        match self {
            Judged::Everything => true,
            Judged::Objects { kinds, kustomizations } => {
                (*kustomizations && file_kind == crate::model::FileKind::Kustomization)
                    || object.is_some_and(|o| kinds.iter().any(|k| k.matches(o)))
            }
        }
    }
}

/// What a rule sees when it checks one document.
pub struct DocumentContext<'a> {
    /// The file the document is in.
    pub file: &'a SourceFile,
    /// The document.
    pub document: &'a Document,
    /// The environment of the file, if any.
    pub environment: Option<&'a Environment>,
    /// The repository (for cross-file look-ups).
    pub model: &'a RepositoryModel,
    /// The configuration in force.
    pub config: &'a Config,
    pub(crate) meta: &'a RuleMeta,
    pub(crate) resource: Option<&'a ResourceIdentity>,
    pub(crate) object: Option<crate::model::ObjectId>,
}

impl<'a> DocumentContext<'a> {
    /// The Kubernetes identity of the document, when it is an object.
    pub fn resource(&self) -> Option<&'a ResourceIdentity> {
        self.resource
    }

    /// The `kind` of the document, when it is a Kubernetes object.
    pub fn kind(&self) -> Option<&'a str> {
        self.resource.map(|r| r.kind.as_str())
    }

    /// The API group of the document, when it is a Kubernetes object
    /// (empty for the core group).
    pub fn group(&self) -> Option<&'a str> {
        self.resource.map(ResourceIdentity::group)
    }

    /// Whether the document is a `kind` of the API `group`.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.resource.is_some_and(|r| r.is(group, kind))
    }

    /// The object's id in the model's object table
    /// ([`RepositoryModel::object`]), when the document is a judged object:
    /// facts computed once per object are indexed by it.
    pub fn object(&self) -> Option<crate::model::ObjectId> {
        self.object
    }

    /// True when the file belongs to a protected (prod) environment.
    pub fn is_protected(&self) -> bool {
        self.environment.is_some_and(|e| e.protected)
    }

    /// Starts a finding at `route` in this document. By default the location
    /// is the whole entry (`key: value`); see [`FindingBuilder::value_only`].
    pub fn report(&self, route: &Route, message: impl Into<String>) -> FindingBuilder<'a> {
        // The builder takes the document's identity from the file, shared.
        FindingBuilder::new(self.meta, self.file, self.document, route, message.into())
    }
}

/// What a rule sees when it checks the whole repository.
pub struct RepositoryContext<'a> {
    /// The repository.
    pub model: &'a RepositoryModel,
    /// The configuration in force.
    pub config: &'a Config,
    pub(crate) meta: &'a RuleMeta,
    pub(crate) registry: &'a crate::registry::Registry,
}

impl<'a> RepositoryContext<'a> {
    /// Starts a finding at `route` of a document of `file`.
    pub fn report(
        &self,
        file: &'a SourceFile,
        document: &'a Document,
        route: &Route,
        message: impl Into<String>,
    ) -> FindingBuilder<'a> {
        FindingBuilder::new(self.meta, file, document, route, message.into())
            .resource(ResourceIdentity::of(document).map(std::sync::Arc::new))
    }

    /// The rule's metadata.
    pub fn meta(&self) -> &'a RuleMeta {
        self.meta
    }

    /// The metadata of any registered rule (its default severity, whether it
    /// is on by default), for rules that reason about other rules.
    pub fn rule_meta(&self, id: &str) -> Option<&'a RuleMeta> {
        self.registry.get(id).map(|r| &r.meta)
    }

    /// A finding about a whole file or a line of a file that has no parsed
    /// document (CODEOWNERS, a file tollgate does not read): `span` of `None`
    /// means line 1, column 1. `key` identifies the finding within the file
    /// for its fingerprint (not a line number, so moving lines keeps it).
    pub fn finding_at(&self, path: &str, span: Option<Span>, key: &str, message: impl Into<String>) -> Finding {
        let start = Position { line: 1, column: 1, offset: 0 };
        let span = span.unwrap_or(Span { start, end: Position { column: 2, offset: 1, ..start } });
        let location = Location { path: path.to_owned(), span, document: None, route: None };
        let fingerprint = Finding::fingerprint_of(&[&self.meta.id, path, &normalize_content(key)]);
        Finding::new(self.meta.id.clone(), self.meta.severity, message, location, fingerprint)
    }
}

/// Builds a finding whose location is resolved from a route.
pub struct FindingBuilder<'a> {
    meta: &'a RuleMeta,
    file: &'a SourceFile,
    document: &'a Document,
    route: Route,
    message: String,
    severity: Severity,
    target: Target,
    resource: Option<std::sync::Arc<ResourceIdentity>>,
    related: Vec<RelatedLocation>,
    masked: Vec<Span>,
}

impl<'a> FindingBuilder<'a> {
    /// Starts a finding of the rule `meta` at `route` of `document` (policy
    /// engines use this with the metadata of their own rules).
    pub fn new(
        meta: &'a RuleMeta,
        file: &'a SourceFile,
        document: &'a Document,
        route: &Route,
        message: String,
    ) -> Self {
        FindingBuilder {
            meta,
            file,
            document,
            route: route.clone(),
            message,
            severity: meta.severity,
            target: Target::Entry,
            // The object the finding is about, as built-in rules name it.
            resource: file
                .resources
                .get(document.index)
                .cloned()
                .flatten()
                .or_else(|| ResourceIdentity::of(document).map(std::sync::Arc::new)),
            related: Vec::new(),
            masked: Vec::new(),
        }
    }

    /// Overrides the rule's default severity (for example by environment).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// Points at the value only, not at `key: value`.
    #[must_use]
    pub fn value_only(mut self) -> Self {
        self.target = Target::Value;
        self
    }

    /// Points at the mapping key only (a whole job or section would be too
    /// large a span): `deploy:` rather than the job's body.
    #[must_use]
    pub fn key_only(mut self) -> Self {
        self.target = Target::Key;
        self
    }

    /// Points at the first line of the node only: a whole document or a
    /// large object would underline every line (policy engines reporting a
    /// document use this).
    #[must_use]
    pub fn first_line(mut self) -> Self {
        self.target = Target::FirstLine;
        self
    }

    fn resource(mut self, resource: Option<std::sync::Arc<ResourceIdentity>>) -> Self {
        self.resource = resource;
        self
    }

    /// Adds a related location in the same document.
    #[must_use]
    pub fn related(mut self, route: &Route, message: impl Into<String>) -> Self {
        let (location, _) = locate(self.file, self.document, route, Target::Entry);
        self.related.push(RelatedLocation { location, message: message.into() });
        self
    }

    /// Hides the text of `span` in source snippets (a secret's value).
    #[must_use]
    pub fn mask(mut self, span: Span) -> Self {
        self.masked.push(span);
        self
    }

    /// Adds a related location given as is.
    #[must_use]
    pub fn related_location(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(RelatedLocation { location, message: message.into() });
        self
    }

    /// Finishes the finding.
    pub fn build(self) -> Finding {
        let (location, content) = locate(self.file, self.document, &self.route, self.target);
        let identity = self
            .resource
            .as_deref()
            .map_or_else(|| format!("#{}", self.document.index), ResourceIdentity::display_name);
        let route = self.route.to_string();
        let fingerprint = Finding::fingerprint_of(&[&self.meta.id, &self.file.path, &identity, &route, &content]);
        let mut finding = Finding::new(self.meta.id.clone(), self.severity, self.message, location, fingerprint);
        finding.related = self.related;
        finding.resource = self.resource;
        finding.masked = self.masked;
        finding
    }

    /// Finishes the finding and adds it to `out`.
    pub fn emit(self, out: &mut Vec<Finding>) {
        out.push(self.build());
    }
}

/// Resolves a route to a location (nearest existing ancestor when the node is
/// missing) and the normalized content used in fingerprints.
pub(crate) fn locate(file: &SourceFile, document: &Document, route: &Route, target: Target) -> (Location, String) {
    let (node, depth) = document.root.locate(route);
    let exact = depth == route.segments().len();
    let span = match target {
        _ if !exact => node.span,
        Target::Entry => document.root.entry_span(route),
        Target::Value => node.span,
        Target::Key => document.root.key_span(route).unwrap_or(node.span),
        Target::FirstLine => first_line_of(node.span, &file.text),
    };
    // The fingerprint hashes what the finding is about: for a key, its whole entry.
    let content_span = if target == Target::Key { document.root.entry_span(route) } else { span };
    let content = if exact { normalize_content(content_span.text(&file.text)) } else { String::from("<missing>") };
    (
        Location { path: file.path.clone(), span, document: Some(document.index), route: Some(route.to_string()) },
        content,
    )
}

/// `span` cut at the end of its first line (unchanged in a file that keeps
/// no text, a render, whose findings move to the origin of the span).
fn first_line_of(span: Span, text: &str) -> Span {
    let start = span.start;
    if start.byte() >= text.len() {
        return span;
    }
    let from = start.byte().min(text.len());
    let line_end = text[from..].find('\n').map_or(text.len(), |i| from + i).min(span.end.byte().max(from + 1));
    let width = text.get(from..line_end).map_or(0, |t| t.chars().count()) as u32;
    Span {
        start,
        end: Position { line: start.line, column: start.column + width.max(1), offset: line_end.max(from + 1) as u32 },
    }
}

/// Which part of a mapping entry a finding points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `key: value`.
    Entry,
    /// The value.
    Value,
    /// The key.
    Key,
    /// The first line of the node.
    FirstLine,
}

/// A stand-in for rules whose findings the runner itself produces.
pub(crate) struct EngineRule(pub(crate) &'static str);

impl Rule for EngineRule {
    fn page(&self) -> &'static str {
        self.0
    }
}

/// Built-in rules the core emits itself: `parse-error`, `suppression-invalid`,
/// `policy-error` (which the policy engines report) and `suppression-added`.
pub fn core_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(EngineRule(RuleId::ParseError.page())),
        Box::new(EngineRule(RuleId::SuppressionInvalid.page())),
        Box::new(EngineRule(RuleId::PolicyError.page())),
        Box::new(EngineRule(RuleId::SuppressionAdded.page())),
    ]
}

pub(crate) fn page_error(page: &str, error: PageError) -> CoreError {
    let id = page.lines().find_map(|l| l.strip_prefix("id: ")).unwrap_or("?").to_owned();
    CoreError::RulePage { id, error }
}
