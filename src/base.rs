//! Range mode: the base commit's guardrails judge the change.
//!
//! In `tollgate check --range BASE..HEAD` the work tree holds the change
//! under review, which may be hostile. Everything that decides how a change
//! is judged is therefore read from the base commit (the target branch) out
//! of git objects: `.tollgate.yaml` (rules, severities, `ignore`, `exclude`,
//! `environments`, `limits`, `signing.policy`, policy paths), every policy
//! file under the configured policy paths (and under `--policy`, `--data`
//! and `--kyverno` paths that lie inside the repository), `.sops.yaml`, the
//! `.gitignore` files discovery honours, CODEOWNERS, the trust policy and
//! branch protection kept as code. The change's own versions are still
//! parsed and checked (a broken one is a finding), and its edits to them are
//! reported, but they judge nothing until merged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use tollgate_core::{
    CONFIG_FILE_NAMES, Config, ConfigDiagnostic, CoreError, Finding, PolicyEngine, RepositoryModel, RuleMeta,
};

/// Files as `(repository path, text)`.
type Files = Vec<(String, String)>;

/// Files that are guardrails wherever the configuration points: read at the
/// base commit in every range check.
pub fn is_fixed_guardrail(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    CONFIG_FILE_NAMES.contains(&path)
        || tollgate_owners::codeowners::LOCATIONS.contains(&path)
        || matches!(path, ".sops.yaml" | ".sops.yml" | ".github/settings.yml" | ".github/settings.yaml")
        || path.starts_with(".tollgate/")
        || path.starts_with(".github/rulesets/")
        || name == ".gitignore"
}

/// Why the base commit's guardrails cannot judge the change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaseError {
    /// The base commit cannot be read (not a repository, unknown ref,
    /// shallow clone): the range check reports `history-unavailable`.
    #[error("{0}")]
    Unreadable(String),
    /// The base commit's configuration is invalid.
    #[error("the configuration of the base commit `{base}` is invalid; fix it on the target branch")]
    InvalidConfig {
        /// The base as given.
        base: String,
        /// Every problem.
        problems: Vec<ConfigDiagnostic>,
    },
}

/// What judges a range check, read from its base commit.
#[derive(Debug, Clone)]
pub struct BaseGuardrails {
    /// The base as given (`origin/main`).
    pub base: String,
    /// The configuration in force: the base commit's, or the defaults when
    /// the base has none.
    pub config: Config,
    /// Root-relative path → text of every guardrail file at the base
    /// (configuration, CODEOWNERS, trust policy, `.sops.yaml`, `.gitignore`
    /// files, rulesets, and every file under the policy paths).
    pub files: BTreeMap<String, String>,
    /// Policy paths (configured, or given on the command line inside the
    /// repository) as root-relative paths, by engine.
    pub rego_paths: Vec<String>,
    /// `--data` paths inside the repository.
    pub data_paths: Vec<String>,
    /// Kyverno policy paths.
    pub kyverno_paths: Vec<String>,
    /// Guardrail files that could not be read at the base: `(path, why)`.
    pub problems: Vec<(String, String)>,
}

/// A command-line path inside the checked root, as a root-relative path.
pub fn path_in_root(root: &Path, path: &Path) -> Option<String> {
    let root = std::fs::canonicalize(root).ok()?;
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().ok()?.join(path) };
    let resolved = std::fs::canonicalize(&absolute).unwrap_or(absolute);
    let rel = resolved.strip_prefix(&root).ok()?;
    tollgate_core::relative_inside_root(&rel.to_string_lossy())
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Reads the guardrails of the base commit `base` for a check of `root`.
/// `config_file` is the configuration's root-relative path when `--config`
/// names a file inside the repository; `cli_rego`, `cli_data` and
/// `cli_kyverno` are `--policy`, `--data` and `--kyverno` paths inside it.
pub fn read_base_guardrails(
    root: &Path,
    base: &str,
    config_file: Option<&str>,
    rules: &tollgate_core::Registry,
    cli: (&[String], &[String], &[String]),
) -> Result<BaseGuardrails, BaseError> {
    let (cli_rego, cli_data, cli_kyverno) = cli;
    let max = tollgate_core::DEFAULT_MAX_FILE_SIZE;
    let fixed = |p: &str| is_fixed_guardrail(p) || config_file == Some(p);
    let first = tollgate_git::read_tree(root, base, &fixed, max).map_err(|e| BaseError::Unreadable(e.to_string()))?;
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let take =
        |tree: tollgate_git::TreeFiles, files: &mut BTreeMap<String, String>, problems: &mut Vec<(String, String)>| {
            for (path, bytes) in tree.files {
                match String::from_utf8(bytes) {
                    Ok(text) => {
                        files.insert(path, text);
                    }
                    Err(_) => problems.push((path, format!("is not UTF-8 text at `{base}`"))),
                }
            }
            for path in tree.links {
                problems.push((
                    path,
                    format!("is a symbolic link at `{base}`; tollgate does not follow links to guardrail files"),
                ));
            }
            for path in tree.oversized {
                problems.push((path, format!("is larger than {max} bytes at `{base}`; tollgate did not read it")));
            }
        };
    take(first, &mut files, &mut problems);
    let config_path = match config_file {
        Some(p) => Some(p.to_owned()),
        None => CONFIG_FILE_NAMES.iter().find(|n| files.contains_key(**n)).map(|n| (*n).to_owned()),
    };
    let config = match config_path.as_deref().and_then(|p| files.get(p).map(|t| (p, t))) {
        None => Config::default(),
        Some((path, text)) => match Config::from_text(text, path, rules) {
            Ok(c) => c,
            Err(CoreError::Config(diags)) => {
                return Err(BaseError::InvalidConfig { base: base.to_owned(), problems: diags });
            }
            Err(e) => return Err(BaseError::Unreadable(e.to_string())),
        },
    };
    let relative = |paths: &[String]| -> Vec<String> {
        paths.iter().filter_map(|p| tollgate_core::relative_inside_root(p)).collect()
    };
    let mut rego_paths = relative(&config.rego);
    rego_paths.extend(cli_rego.iter().cloned());
    let mut kyverno_paths = relative(&config.kyverno);
    kyverno_paths.extend(cli_kyverno.iter().cloned());
    let data_paths: Vec<String> = cli_data.to_vec();
    let all: Vec<&String> = rego_paths.iter().chain(&kyverno_paths).chain(&data_paths).collect();
    if !all.is_empty() {
        let wanted = |p: &str| all.iter().any(|dir| under(p, dir));
        let second =
            tollgate_git::read_tree(root, base, &wanted, max).map_err(|e| BaseError::Unreadable(e.to_string()))?;
        take(second, &mut files, &mut problems);
        for dir in &all {
            if !files.keys().any(|p| under(p, dir)) && !problems.iter().any(|(p, _)| under(p, dir)) {
                problems.push((
                    (*dir).clone(),
                    format!("does not exist at `{base}`, so its policies cannot judge the change; merge the policies before they are used"),
                ));
            }
        }
    }
    Ok(BaseGuardrails { base: base.to_owned(), config, files, rego_paths, data_paths, kyverno_paths, problems })
}

impl BaseGuardrails {
    /// The `.gitignore` files of the base, `(directory, text)`, for discovery.
    pub fn gitignores(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .filter(|(p, _)| p.rsplit('/').next() == Some(".gitignore"))
            .map(|(p, t)| (p.rsplit_once('/').map_or("", |(d, _)| d).to_owned(), t.clone()))
            .collect()
    }

    /// The policy engines the base commit's policies make, beside the
    /// command-line policies outside the repository (`rego` and `kyverno`,
    /// used as given) and the configuration's built-in packs.
    /// `head` is the change's own configuration, whose policy paths are
    /// loaded from the work tree only to report what would not load.
    pub fn policy_engines(
        &self,
        root: &Path,
        rego: &tollgate_rego::RegoOptions,
        kyverno: &[PathBuf],
        head: Option<&Config>,
    ) -> Result<Vec<Arc<dyn PolicyEngine>>, crate::PolicySetupError> {
        let shown = |p: &str| root.join(p).display().to_string();
        let in_paths = |p: &str, dirs: &[String]| dirs.iter().any(|d| under(p, d));
        let mut options = rego.clone();
        let mut kyverno_sources = Vec::new();
        for (path, text) in &self.files {
            let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
            let yaml = matches!(ext.as_str(), "yaml" | "yml" | "json");
            if in_paths(path, &self.rego_paths) {
                if ext == "rego" {
                    options.sources.push(tollgate_rego::RegoFile { path: shown(path), text: text.clone() });
                } else if yaml {
                    options.documents.push((shown(path), text.clone()));
                }
            }
            if yaml && in_paths(path, &self.data_paths) {
                options.data_documents.push((shown(path), text.clone()));
            }
            if yaml && in_paths(path, &self.kyverno_paths) {
                kyverno_sources.push((shown(path), text.clone()));
            }
        }
        let mut engines = crate::engines_of(root, &self.config, options, kyverno.to_vec(), kyverno_sources)?;
        let problems: Vec<(String, String)> = self
            .problems
            .iter()
            .filter(|(p, _)| {
                in_paths(p, &self.rego_paths) || in_paths(p, &self.kyverno_paths) || in_paths(p, &self.data_paths)
            })
            .cloned()
            .collect();
        let mut unusable: Vec<Finding> = Vec::new();
        for (path, why) in problems {
            unusable.push(Finding::policy_error_at(
                path.clone(),
                1,
                1,
                format!("The policy path `{path}` {why}. What it guards is unchecked."),
                &[&path, &why],
            ));
        }
        unusable.extend(self.head_policy_problems(root, head));
        if !unusable.is_empty() {
            engines.push(Arc::new(PolicyProblems { findings: unusable }));
        }
        Ok(engines)
    }

    /// The change's own versions of the policies (in the work tree, under
    /// the policy paths of the base's and the change's configurations) are
    /// loaded too, only to report what would not load once merged.
    fn head_policy_problems(&self, root: &Path, head: Option<&Config>) -> Vec<Finding> {
        let mut rego_dirs: Vec<String> = self.rego_paths.clone();
        let mut kyverno_dirs: Vec<String> = self.kyverno_paths.clone();
        if let Some(head) = head {
            rego_dirs.extend(head.rego.iter().filter_map(|p| tollgate_core::relative_inside_root(p)));
            kyverno_dirs.extend(head.kyverno.iter().filter_map(|p| tollgate_core::relative_inside_root(p)));
        }
        let existing = |dirs: &mut Vec<String>| -> Vec<PathBuf> {
            dirs.sort();
            dirs.dedup();
            dirs.iter()
                .map(|d| root.join(d))
                .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink()))
                .collect()
        };
        let mut out = Vec::new();
        let said = |path: &str, line: u32, column: u32, message: &str| -> Option<Finding> {
            let rel = Finding::path_in_root(root, path.split('#').next().unwrap_or(path))?;
            Some(Finding::policy_error_at(
                rel.clone(),
                line,
                column,
                format!(
                    "The change's version of the policy `{rel}` cannot be used: {line}:{column}: {message}. It judges nothing in this range (the base branch's version does), but once merged what it guards would be unchecked."
                ),
                &["head", &rel, message],
            ))
        };
        let rego_paths = existing(&mut rego_dirs);
        if !rego_paths.is_empty() {
            let options = tollgate_rego::RegoOptions { policy: rego_paths, ..tollgate_rego::RegoOptions::default() };
            let engine = tollgate_rego::RegoEngine::load(root, &options);
            out.extend(engine.problems().iter().filter_map(|p| said(&p.path, p.line, p.column, &p.message)));
        }
        let kyverno_paths = existing(&mut kyverno_dirs);
        if !kyverno_paths.is_empty() {
            let options = tollgate_kyverno::KyvernoOptions { policy: kyverno_paths, sources: Vec::new() };
            let engine = tollgate_kyverno::KyvernoEngine::load(root, &options);
            out.extend(engine.problems().iter().filter_map(|p| said(&p.path, p.line, p.column, &p.message)));
        }
        // What the base's own engines report about the same file is said once.
        out.retain(|f| {
            !self.files.get(&f.location.path).is_some_and(|base| {
                std::fs::read_to_string(root.join(&f.location.path)).is_ok_and(|head| &head == base)
            })
        });
        out
    }
}

/// Policy files that could not be used (unreadable at the base, or broken
/// in the change): each is a `policy-error`, never a policy silently left out.
#[derive(Debug)]
struct PolicyProblems {
    findings: Vec<Finding>,
}

impl PolicyEngine for PolicyProblems {
    fn rules(&self) -> Vec<RuleMeta> {
        vec![RuleMeta::policy_error()]
    }

    fn check(&self, model: &RepositoryModel, _config: &Config) -> Vec<Finding> {
        self.findings
            .iter()
            .cloned()
            .map(|mut f| {
                let path = f.location.path.clone();
                // Placed at the file when the work tree still has it, else at the configuration.
                if model.file(&path).is_none()
                    && !model.other_paths.contains(&path)
                    && let Some(config) = CONFIG_FILE_NAMES.iter().find(|n| model.file(n).is_some())
                {
                    (*config).clone_into(&mut f.location.path);
                    f.location.span = tollgate_core::Span {
                        start: tollgate_core::Position { line: 1, column: 1, offset: 0 },
                        end: tollgate_core::Position { line: 1, column: 2, offset: 1 },
                    };
                }
                f
            })
            .collect()
    }
}

/// A check of the base commit `revision`: the repository's files as they
/// are there (read from git objects, never checked out), judged by the same
/// configuration, rules, policy engines and renderer as the change
/// (`options` without its range). A finding of the change whose fingerprint
/// the base's active findings have already existed before it, and the two
/// models' renders give the change's rendered diff.
pub fn base_check(
    root: &Path,
    revision: &str,
    config: &Config,
    registry: &tollgate_core::Registry,
    options: &tollgate_core::CheckOptions,
    head: &mut RepositoryModel,
) -> Result<tollgate_core::CheckReport, tollgate_git::TreeError> {
    // The head's renders are lent to the base's renderer (roots the change
    // does not touch take theirs) and given back afterwards.
    let renders = Arc::new(head.take_renders());
    let result = base_check_with(root, revision, config, registry, options, head, &renders);
    head.set_renders(Arc::try_unwrap(renders).unwrap_or_else(|shared| (*shared).clone()));
    result
}

fn base_check_with(
    root: &Path,
    revision: &str,
    config: &Config,
    registry: &tollgate_core::Registry,
    options: &tollgate_core::CheckOptions,
    head: &RepositoryModel,
    head_renders: &Arc<tollgate_core::Renders>,
) -> Result<tollgate_core::CheckReport, tollgate_git::TreeError> {
    let exclude = tollgate_core::glob_set(&config.exclude).unwrap_or_default();
    // Manifests, and the other files the head's renders read (a generator's
    // `.env` or `.properties`): the base's renders read those from git too.
    let render_inputs: std::collections::HashSet<&str> = head_renders
        .rendered
        .iter()
        .flat_map(|r| r.files.iter().map(String::as_str))
        .filter(|p| tollgate_core::classify(p).is_none())
        .collect();
    let want = |p: &str| (tollgate_core::classify(p).is_some() || render_inputs.contains(p)) && !exclude.is_match(p);
    let started = std::time::Instant::now();
    // A base blob that is the head's file byte for byte is not read: the
    // head's parse of it is taken (same text, same parse).
    let at_head: std::collections::HashMap<&str, &tollgate_core::SourceFile> =
        head.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let head_ids: std::collections::HashMap<&str, Vec<u8>> = head
        .files
        .par_iter()
        .filter(|f| f.problem.is_none())
        .map(|f| (f.path.as_str(), tollgate_git::blob_id(f.text.as_bytes())))
        .collect();
    let known = |path: &str, id: &[u8]| head_ids.get(path).is_some_and(|h| h.as_slice() == id);
    let tree = tollgate_git::read_tree_known(root, revision, &want, config.max_file_size, &known)?;
    let same: Vec<&str> = tree.known.iter().map(String::as_str).collect();
    let (files, others): (Files, Files) = tree
        .files
        .into_iter()
        .map(|(path, bytes)| (path, String::from_utf8_lossy(&bytes).into_owned()))
        .partition(|(path, _)| tollgate_core::classify(path).is_some());
    let mut options =
        tollgate_core::CheckOptions { range: None, baseline: None, tracked: None, gitignores: None, ..options.clone() };
    if options.renderer.is_some() && config.render_kustomize {
        // Only the roots the change touches are rendered again; the others
        // take the head's render (same inputs, same output).
        let mut changed: std::collections::HashSet<String> =
            head.range.iter().flat_map(|r| r.changed_paths.iter().cloned()).collect();
        let at_base: std::collections::HashSet<&str> =
            files.iter().map(|(p, _)| p.as_str()).chain(same.iter().copied()).collect();
        changed.extend(
            files.iter().filter(|(p, t)| at_head.get(p.as_str()).is_none_or(|f| f.text != *t)).map(|(p, _)| p.clone()),
        );
        changed.extend(head.files.iter().filter(|f| !at_base.contains(f.path.as_str())).map(|f| f.path.clone()));
        options.renderer = Some(Arc::new(tollgate_kustomize::KustomizeRenderer {
            extra_roots: config.render_roots.clone(),
            reuse: Some(Arc::new(tollgate_kustomize::Reuse::new(head_renders.clone(), changed))),
            files: Some(Arc::new(others.into_iter().collect())),
        }));
    }
    // The model's root is a path that does not exist: the work tree holds the
    // change, so nothing of the base may be read from it. Files that are not
    // manifests come from the base commit (`files` above); one the head's
    // renders did not read cannot be read at the base, and the findings of
    // such a render count as new, never as existing.
    let nowhere = root.join(".tollgate-base-commit-is-read-from-git-objects");
    // A file whose text is the head's parses the same: take the head's parse.
    let mut parsed: Vec<tollgate_core::SourceFile> =
        same.par_iter().filter_map(|p| at_head.get(p).map(|f| (*f).clone())).collect();
    parsed.par_extend(files.into_par_iter().filter_map(|(path, text)| match at_head.get(path.as_str()) {
        Some(head_file) if head_file.text == text => Some((*head_file).clone()),
        _ => {
            let kind = tollgate_core::classify(&path)?;
            Some(tollgate_core::SourceFile::parse(path, kind, text, &options.limits))
        }
    }));
    Ok(tollgate_core::check_parsed(&nowhere, parsed, started, config, registry, &options))
}
