//! The parallel runner: discover, parse, check, suppress.

use crate::rule_id::RuleId;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tollgate_yaml::{Limits, Position, Span};

use crate::config::Config;
use crate::date::Date;
use crate::discover::load;
use crate::error::CoreError;
use crate::finding::{ChangeState, Finding, Location, normalize_content};
use crate::model::{RepositoryModel, SourceFile};
use crate::registry::{RegisteredRule, Registry};
use crate::rule::{DocumentContext, RepositoryContext, RuleMeta};
use crate::suppress::{apply_baseline, apply_suppressions};

/// A policy engine (OPA/Rego, Kyverno) that evaluates the documents of the
/// shared model beside the built-in rules: the model is parsed once for all.
pub trait PolicyEngine: Send + Sync + std::fmt::Debug {
    /// The rules it may report: SARIF descriptors and `tollgate rules`.
    fn rules(&self) -> Vec<RuleMeta>;
    /// Evaluates the repository. What cannot be evaluated (a policy that does
    /// not compile, a budget exceeded) is a `policy-error` finding, never a pass.
    fn check(&self, model: &RepositoryModel, config: &Config) -> Vec<Finding>;
}

/// Options of one run beyond the configuration.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Fingerprints of a baseline: matching findings are marked suppressed.
    pub baseline: Option<(String, HashSet<String>)>,
    /// The date `expires` is compared with.
    pub today: Date,
    /// Parser limits.
    pub limits: Limits,
    /// The commit range under review, when checking a change (`--range`).
    pub range: Option<RangeInfo>,
    /// Files git tracks: read even when a `.gitignore` hides them.
    pub tracked: Option<Vec<String>>,
    /// Policy engines evaluated on the same model (Rego packs, Gatekeeper
    /// templates, Kyverno policies).
    pub engines: Vec<std::sync::Arc<dyn PolicyEngine>>,
    /// `.gitignore` files, `(directory, text)`, that decide what discovery
    /// skips instead of the work tree's (in a range check, the base commit's).
    pub gitignores: Option<Vec<(String, String)>>,
    /// Renders the repository's roots (Kustomize overlays) so that rules
    /// and engines judge what production runs.
    pub renderer: Option<std::sync::Arc<dyn crate::render::Renderer>>,
}

/// A change under review: what it changes, and the files rules must read
/// from its base (the target branch) rather than from the change itself.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RangeInfo {
    /// The base as given (`origin/main`).
    pub base: String,
    /// The head as given (`HEAD`).
    pub head: String,
    /// Repository paths the change adds, modifies or deletes (from the merge base).
    pub changed_paths: Vec<String>,
    /// Guarded files (CODEOWNERS, trust policy, ...) as they are at the base; a
    /// path missing here does not exist at the base.
    #[serde(skip)]
    pub base_files: std::collections::HashMap<String, String>,
    /// Why the range could not be read (shallow clone, unknown ref): reported
    /// as `history-unavailable`, never a pass.
    pub problem: Option<String>,
    /// The commits of the range (`git rev-list BASE..HEAD`, merges included),
    /// newest first, each with its signature verdict.
    pub commits: Vec<crate::history::CommitCheck>,
    /// Where the trust policy that judged the signatures came from
    /// (`origin/main:.tollgate/signers.yaml`, a `--signers` file, ...).
    pub trust_source: Option<String>,
    /// The trust policy's path inside the checked root, when it has one:
    /// findings about a commit that changed no file still present anchor there.
    pub trust_anchor: Option<String>,
    /// The change's own configuration (the work tree's), parsed: it judges
    /// nothing until merged, but its edits are reported. `None` when the
    /// change has none.
    #[serde(skip)]
    pub head_config: Option<crate::config::Config>,
    /// The base commit's own configuration, when it has one.
    #[serde(skip)]
    pub base_config: Option<crate::config::Config>,
    /// The merge base of the range (the commit the change starts from).
    pub merge_base: Option<String>,
    /// Files of the change as they are at the merge base (those that carry
    /// inline suppressions now): a suppression missing there is added by
    /// the change.
    #[serde(skip)]
    pub merge_base_files: std::collections::HashMap<String, String>,
    /// Why the change's own configuration is invalid: each is a
    /// `parse-error` at its line, never a silent pass.
    #[serde(skip)]
    pub head_config_problems: Vec<crate::config::ConfigDiagnostic>,
}

/// A summary a rule adds to the report (for example the changed prod files
/// and the owners whose review they need).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSummary {
    /// The rule that wrote it.
    pub rule_id: String,
    /// Its heading.
    pub title: String,
    /// Column headings of the items in a table (`file`, `review`).
    pub columns: (String, String),
    /// `(item, detail)` lines.
    pub items: Vec<(String, String)>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            baseline: None,
            today: Date::today(),
            limits: Limits::default(),
            range: None,
            tracked: None,
            engines: Vec::new(),
            gitignores: None,
            renderer: None,
        }
    }
}

/// Time spent in each stage and how much was read.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Files read.
    pub files: usize,
    /// Documents parsed.
    pub documents: usize,
    /// Bytes read.
    pub bytes: usize,
    /// Walking the tree.
    pub discover: Duration,
    /// Reading and parsing (wall time, in parallel).
    pub parse: Duration,
    /// Rendering the roots (Kustomize overlays), in parallel.
    pub render: Duration,
    /// Roots rendered.
    pub renders: usize,
    /// Running the rules.
    pub rules: Duration,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct CheckReport {
    /// Every finding, suppressed ones included, sorted by place.
    pub findings: Vec<Finding>,
    /// The model the rules ran on (reports use it for source snippets).
    pub model: RepositoryModel,
    /// The rules that ran.
    pub rules: Vec<RuleMeta>,
    /// Timings.
    pub stats: Stats,
    /// Summaries written by rules.
    pub summaries: Vec<RuleSummary>,
    /// In a range check, what the change does to the renders (set by the
    /// caller that rendered the base, see `tollgate::diff`).
    pub rendered_diff: Option<crate::RenderedDiff>,
}

impl CheckReport {
    /// Findings not suppressed.
    pub fn active(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_suppressed())
    }

    /// Marks every finding of a range check [`ChangeState::New`], or
    /// [`ChangeState::Existing`] when `base` (the fingerprints a check of the
    /// base commit produced) holds its fingerprint. Findings only a range
    /// produces (commits, guardrail edits, added suppressions) are new.
    ///
    /// ```
    /// use std::collections::HashSet;
    /// use tollgate_core::{ChangeState, CheckOptions, Config, Registry, check_sources, core_rules};
    /// let registry = Registry::new(core_rules()).unwrap();
    /// let files = vec![("a.yaml".to_owned(), "a: [1\n".to_owned()), ("b.yaml".to_owned(), "b: [2\n".to_owned())];
    /// let mut report = check_sources("m".as_ref(), files, &Config::default(), &registry, &CheckOptions::default());
    /// let base: HashSet<String> = [report.findings[0].fingerprint.clone()].into();
    /// report.mark_against_base(&base);
    /// assert_eq!(report.findings[0].state, Some(ChangeState::Existing));
    /// assert_eq!(report.findings[1].state, Some(ChangeState::New));
    /// ```
    pub fn mark_against_base(&mut self, base: &std::collections::HashSet<String>) {
        for f in &mut self.findings {
            f.state = Some(if base.contains(&f.fingerprint) { ChangeState::Existing } else { ChangeState::New });
        }
    }
}

/// Runs every enabled rule of `registry` on the repository at `root`.
///
/// ```no_run
/// use tollgate_core::{check, CheckOptions, Config, Registry, core_rules};
/// let registry = Registry::new(core_rules()).unwrap();
/// let report = check(std::path::Path::new("."), &Config::default(), &registry, &CheckOptions::default()).unwrap();
/// for f in report.active() {
///     println!("{}:{} {}", f.location.path, f.location.span.start.line, f.message);
/// }
/// ```
pub fn check(
    root: &Path,
    config: &Config,
    registry: &Registry,
    options: &CheckOptions,
) -> Result<CheckReport, CoreError> {
    let (model, stats) =
        load_with(root, config, &options.limits, options.tracked.as_deref(), options.gitignores.as_deref())?;
    Ok(check_model(model, stats, config, registry, options))
}

/// Checks files held in memory (an editor buffer, files from another VCS or
/// an API) as a repository rooted at `root`: `(repository path, text)` pairs.
///
/// ```
/// use tollgate_core::{CheckOptions, Config, Registry, check_sources, core_rules};
/// let registry = Registry::new(core_rules()).unwrap();
/// let files = vec![("apps/prod/x.yaml".to_owned(), "a: [1\n".to_owned())];
/// let report = check_sources("memory".as_ref(), files, &Config::default(), &registry, &CheckOptions::default());
/// assert_eq!(report.findings[0].rule_id, "parse-error");
/// ```
pub fn check_sources(
    root: &Path,
    files: Vec<(String, String)>,
    config: &Config,
    registry: &Registry,
    options: &CheckOptions,
) -> CheckReport {
    let started = Instant::now();
    let parsed: Vec<SourceFile> = files
        .into_par_iter()
        .filter_map(|(path, text)| {
            let path = path.replace('\\', "/").trim_start_matches("./").to_owned();
            let kind = crate::model::classify(&path)?;
            Some(SourceFile::parse(path, kind, text, &options.limits))
        })
        .collect();
    check_parsed(root, parsed, started, config, registry, options)
}

/// [`check_sources`] on files already parsed (a range check's base takes
/// the head's parse of every file whose text is the same); `started` is
/// when reading them began, for the statistics.
pub fn check_parsed(
    root: &Path,
    parsed: Vec<SourceFile>,
    started: Instant,
    config: &Config,
    registry: &Registry,
    options: &CheckOptions,
) -> CheckReport {
    let model = RepositoryModel::new(root, parsed, config.environments.clone());
    let stats = Stats {
        files: model.files.len(),
        documents: model.files.iter().map(|f| f.documents.len()).sum(),
        bytes: model.files.iter().map(|f| f.text.len()).sum(),
        parse: started.elapsed(),
        ..Stats::default()
    };
    check_model(model, stats, config, registry, options)
}

/// Runs the rules on a loaded model, then suppression and baseline.
fn check_model(
    mut model: RepositoryModel,
    mut stats: Stats,
    config: &Config,
    registry: &Registry,
    options: &CheckOptions,
) -> CheckReport {
    model.range.clone_from(&options.range);
    if let Some(range) = &options.range
        && let Some(first) = range.head_config_problems.first()
    {
        model.set_problem(
            &first.file,
            Span {
                start: Position { line: first.line, column: first.column, offset: 0 },
                end: Position { line: first.line, column: first.column + 1, offset: 0 },
            },
            format!(
                "the change's configuration is invalid ({}), so it could not judge anything even once merged: {}{}. Fix it; this range is judged by the base commit's configuration",
                range.head_config_problems.len(),
                first.message,
                if range.head_config_problems.len() > 1 { " (and more: run `tollgate check` on the branch)" } else { "" }
            ),
        );
    }

    if let Some(renderer) = &options.renderer {
        let started = Instant::now();
        let renders = renderer.render(&model, config);
        model.set_renders(renders);
        stats.render = started.elapsed();
        stats.renders = model.renders().rendered.len();
    }

    let started = Instant::now();
    let enabled: Vec<&RegisteredRule> =
        registry.rules().iter().filter(|r| config.rule_enabled(&r.meta.id, r.meta.enabled_by_default)).collect();
    let mut findings = run_rules(&model, config, registry, &enabled);
    let mut metas: Vec<RuleMeta> = enabled.iter().map(|r| r.meta.clone()).collect();
    for engine in &options.engines {
        let produced = engine.check(&model, config);
        for meta in engine.rules() {
            if !metas.iter().any(|m| m.id == meta.id) {
                metas.push(meta);
            }
        }
        // Appended in place (filtering reuses the engine's buffer): an
        // engine may return a hundred thousand findings, and growing the
        // rules' list to hold them would copy them all.
        let mut produced: Vec<Finding> =
            produced.into_iter().filter(|f| config.rule_enabled(&f.rule_id, true)).collect();
        let before = findings.len();
        let added = produced.len();
        if added > before {
            produced.append(&mut findings);
            produced.rotate_left(added);
            findings = produced;
        } else {
            findings.append(&mut produced);
        }
    }
    if enabled.iter().any(|r| r.meta.id == RuleId::ParseError) {
        findings.extend(parse_errors(&model, registry));
        findings.extend(render_problems(&model));
    }
    let mut findings = crate::render::translate(findings, &model);
    stats.rules = started.elapsed();

    for f in &mut findings {
        if let Some(severity) = config.severity_override(&f.rule_id) {
            f.severity = severity;
        }
    }
    let mut invalid = apply_suppressions(&mut findings, &model, config, registry, options.today);
    if config.rule_enabled(RuleId::SuppressionInvalid.as_str(), true) {
        if let Some(severity) = config.severity_override(RuleId::SuppressionInvalid.as_str()) {
            for f in &mut invalid {
                f.severity = severity;
            }
        }
        findings.extend(invalid);
    }
    let (added, added_summary) = if config.rule_enabled(RuleId::SuppressionAdded.as_str(), true) {
        crate::suppress::added_suppressions(&findings, &model, registry)
    } else {
        (Vec::new(), None)
    };
    findings.extend(added.into_iter().map(|mut f| {
        if let Some(severity) = config.severity_override(&f.rule_id) {
            f.severity = severity;
        }
        f
    }));
    if let Some((source, baseline)) = &options.baseline {
        apply_baseline(&mut findings, baseline, source);
    }
    findings.sort_by(|a, b| {
        (&a.location.path, a.location.span.start, &a.rule_id, &a.message).cmp(&(
            &b.location.path,
            b.location.span.start,
            &b.rule_id,
            &b.message,
        ))
    });
    findings.dedup_by(|a, b| a.fingerprint == b.fingerprint && a.location == b.location && a.message == b.message);
    let mut summaries: Vec<RuleSummary> = enabled
        .iter()
        .filter_map(|r| r.rule.summary(&RepositoryContext { model: &model, config, meta: &r.meta, registry }))
        .collect();
    summaries.extend(added_summary);
    CheckReport { findings, model, rules: metas, stats, summaries, rendered_diff: None }
}

/// Discovers, reads and parses the repository (in parallel) into the shared model.
pub fn load_repository(root: &Path, config: &Config, limits: &Limits) -> Result<(RepositoryModel, Stats), CoreError> {
    load_tracked_repository(root, config, limits, None)
}

/// [`load_repository`], also reading the `tracked` files (from git) that a
/// `.gitignore` hides: a change cannot hide a tracked file by ignoring it.
pub fn load_tracked_repository(
    root: &Path,
    config: &Config,
    limits: &Limits,
    tracked: Option<&[String]>,
) -> Result<(RepositoryModel, Stats), CoreError> {
    load_with(root, config, limits, tracked, None)
}

fn load_with(
    root: &Path,
    config: &Config,
    limits: &Limits,
    tracked: Option<&[String]>,
    gitignores: Option<&[(String, String)]>,
) -> Result<(RepositoryModel, Stats), CoreError> {
    let mut stats = Stats::default();
    let started = Instant::now();
    let mut discovery = crate::discover::discover_with(root, config, gitignores)?;
    if let Some(tracked) = tracked {
        crate::discover::add_tracked(root, config, &mut discovery, tracked);
    }
    stats.discover = started.elapsed();

    let started = Instant::now();
    // The run's budget of parsed nodes: files read once it is spent are a
    // `parse-error` (their trees dropped), so memory stays bounded whatever
    // the repository holds. Files parse in parallel, so when a repository is
    // over the budget which files are cut depends on the order they finish.
    let spent = std::sync::atomic::AtomicU64::new(0);
    let mut files: Vec<_> = discovery
        .candidates
        .par_iter()
        .map(|c| {
            let file = load(c, config, limits);
            let nodes: u64 = file.documents.iter().map(|d| d.nodes as u64).sum();
            let total = spent.fetch_add(nodes, std::sync::atomic::Ordering::Relaxed) + nodes;
            if total > config.max_nodes && nodes > 0 {
                return SourceFile::unreadable(
                    file.path,
                    file.kind,
                    format!(
                        "the run's budget of {} parsed YAML/JSON nodes is spent, so tollgate did not keep this file; raise `limits.max_nodes` or exclude generated files",
                        config.max_nodes
                    ),
                );
            }
            file
        })
        .collect();
    files.extend(discovery.problems);
    let mut model = RepositoryModel::new(root, files, config.environments.clone());
    model.other_paths = discovery.other_paths;
    model.protect_link_targets(&discovery.links);
    stats.parse = started.elapsed();
    stats.files = model.files.len();
    stats.documents = model.files.iter().map(|f| f.documents.len()).sum();
    stats.bytes = model.files.iter().map(|f| f.text.len()).sum();
    Ok((model, stats))
}

fn run_rules(model: &RepositoryModel, config: &Config, registry: &Registry, rules: &[&RegisteredRule]) -> Vec<Finding> {
    // Per-document checks over every file, and whole-repository checks, run
    // side by side: neither waits for the slowest task of the other.
    let per_document = || -> Vec<Finding> {
        let judged = model.files.len() + model.renders().rendered.len();
        (0..judged)
            .into_par_iter()
            .flat_map_iter(|index| {
                let mut out = Vec::new();
                let Some(file) = model.judged_file(index) else { return out };
                let environment = model.manifest_environment(file);
                // Objects of a Kustomize base or patch are judged in the renders.
                let consumed = model.is_consumed(file);
                for (document, resource) in file.documents.iter().zip(&file.resources) {
                    if consumed && resource.is_some() {
                        continue;
                    }
                    let object = resource.as_ref().and_then(|_| model.object_id(index, document.index));
                    for r in rules.iter().filter(|r| r.judges.accepts(file.kind, resource.as_deref())) {
                        let cx = DocumentContext {
                            file,
                            document,
                            environment,
                            model,
                            config,
                            meta: &r.meta,
                            resource: resource.as_deref(),
                            object,
                        };
                        r.rule.check_document(&cx, &mut out);
                    }
                }
                out
            })
            .collect()
    };
    let per_repository = || -> Vec<Finding> {
        rules
            .par_iter()
            .flat_map_iter(|r| {
                let cx = RepositoryContext { model, config, meta: &r.meta, registry };
                let mut out = Vec::new();
                r.rule.check_repository(&cx, &mut out);
                out
            })
            .collect()
    };
    let (mut findings, repository) = rayon::join(per_document, per_repository);
    findings.extend(repository);
    findings
}

/// Roots that could not be rendered, and renders' warnings, as
/// `parse-error` findings: what tollgate cannot read is a finding.
fn render_problems(model: &RepositoryModel) -> Vec<Finding> {
    model
        .renders()
        .problems
        .iter()
        .map(|p| {
            let line = model.file(&p.path).and_then(|f| f.line(p.span.start.line)).unwrap_or_default();
            let location = Location { path: p.path.clone(), span: p.span, document: None, route: None };
            let fingerprint =
                Finding::fingerprint_of(&[RuleId::ParseError.as_str(), "render", &p.path, &normalize_content(line)]);
            Finding::new(RuleId::ParseError.as_str(), p.severity, p.message.clone(), location, fingerprint)
        })
        .collect()
}

fn parse_errors(model: &RepositoryModel, registry: &Registry) -> Vec<Finding> {
    let severity = registry.get(RuleId::ParseError.as_str()).map_or(crate::Severity::Error, |r| r.meta.severity);
    model
        .files
        .iter()
        .filter_map(|file| {
            let problem = file.problem.as_ref()?;
            let line = file.line(problem.span.start.line).unwrap_or_default();
            let location = Location { path: file.path.clone(), span: problem.span, document: None, route: None };
            let fingerprint =
                Finding::fingerprint_of(&[RuleId::ParseError.as_str(), &file.path, &normalize_content(line)]);
            Some(Finding::new(RuleId::ParseError.as_str(), severity, problem.message.clone(), location, fingerprint))
        })
        .collect()
}
