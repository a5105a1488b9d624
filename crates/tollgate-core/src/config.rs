//! `.tollgate.yaml`: loading, validation against its JSON Schema (derived
//! from the typed file in [`crate::config_file`]), and the configuration
//! the rest of tollgate reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind::AdditionalProperties;
use tollgate_yaml::{Limits, Node, Route, Span, parse_yaml};

use crate::date::Date;
use crate::environment::Environments;
use crate::error::CoreError;
use crate::registry::Registry;
use crate::severity::Severity;

/// The JSON Schema of `.tollgate.yaml` (`tollgate schema` prints it): the
/// checked-in `schemas/tollgate.schema.json`, which a test keeps equal to
/// the schema derived from the typed configuration file.
pub const CONFIG_SCHEMA: &str = include_str!("../../../schemas/tollgate.schema.json");

/// File names looked for at the scanned root, in order.
pub const CONFIG_FILE_NAMES: [&str; 2] = [".tollgate.yaml", ".tollgate.yml"];

/// Default largest file read: 5 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 5 * 1024 * 1024;

/// Default most YAML/JSON nodes read in one run: about 2 GB of parsed trees.
pub const DEFAULT_MAX_NODES: u64 = 20_000_000;

/// A problem in the configuration, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDiagnostic {
    /// The configuration file as given or found.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Per-rule settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSettings {
    /// Turns the rule on or off.
    pub enabled: Option<bool>,
    /// Replaces the rule's severity.
    pub severity: Option<Severity>,
}

/// A config `ignore` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoreEntry {
    /// The rule it silences.
    pub rule: String,
    /// Path globs it applies to.
    pub paths: Vec<String>,
    /// Why.
    pub reason: String,
    /// When it stops applying.
    pub expires: Option<Date>,
    /// Where the entry is written (in the config file).
    pub span: Span,
}

/// Review requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSettings {
    /// Approvals required on the default branch.
    pub min_approvals: u32,
    /// Whether prod owners must be teams.
    pub owners_must_be_teams: bool,
    /// Distinct owners required for prod files.
    pub min_owners: u32,
    /// The status check that runs tollgate on pull requests, which branch
    /// protection must require (`None`: derived from the workflows).
    pub status_check: Option<String>,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings { min_approvals: 1, owners_must_be_teams: false, min_owners: 1, status_check: None }
    }
}

/// The configuration in force for a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (repository-relative when inside the root), if any.
    pub source: Option<String>,
    /// The environments (configured, or the defaults).
    pub environments: Environments,
    /// Review requirements.
    pub review: ReviewSettings,
    /// The signers policy path.
    pub signing_policy: Option<String>,
    /// Rego policy directories.
    pub rego: Vec<String>,
    /// Kyverno policy directories.
    pub kyverno: Vec<String>,
    /// Built-in policy packs to enable.
    pub builtin_policies: Vec<String>,
    /// Per-rule settings by id.
    pub rules: BTreeMap<String, RuleSettings>,
    /// Config suppressions.
    pub ignore: Vec<IgnoreEntry>,
    /// Extra excluded path globs.
    pub exclude: Vec<String>,
    /// Largest file read, in bytes.
    pub max_file_size: u64,
    /// Most YAML/JSON nodes read in one run.
    pub max_nodes: u64,
    /// Whether Kustomize roots are rendered and judged as rendered.
    pub render_kustomize: bool,
    /// Directories rendered besides the roots found.
    pub render_roots: Vec<String>,
    /// Where each entry of `policies.rego`, `policies.kyverno` and
    /// `policies.builtin` is written: what the run reports a problem of an
    /// entry at (`policies.builtin`, name) → span.
    pub entry_spans: BTreeMap<(String, String), Span>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            environments: Environments::defaults(),
            review: ReviewSettings::default(),
            signing_policy: None,
            rego: Vec::new(),
            kyverno: Vec::new(),
            builtin_policies: Vec::new(),
            rules: BTreeMap::new(),
            ignore: Vec::new(),
            exclude: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_nodes: DEFAULT_MAX_NODES,
            render_kustomize: true,
            render_roots: Vec::new(),
            entry_spans: BTreeMap::new(),
        }
    }
}

/// The validator of the derived schema, built once.
fn schema_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
        // The derived schema is checked by a unit test. Were it ever broken,
        // the `false` schema rejects every configuration: a broken validator
        // must fail closed, never accept everything.
        jsonschema::validator_for(&crate::config_file::SCHEMA)
            .or_else(|_| jsonschema::validator_for(&serde_json::Value::Bool(false)))
            .expect("the `false` JSON Schema always compiles")
    });
    &VALIDATOR
}

impl Config {
    /// `file:line:column: ` of the `policies.<key>` entry `value`, for a
    /// message about it; empty when the configuration does not write it.
    ///
    /// ```
    /// let rules = tollgate_core::Registry::new(tollgate_core::core_rules()).unwrap();
    /// let c = tollgate_core::Config::from_text("policies:\n  builtin: [x]\n", ".tollgate.yaml", &rules).unwrap();
    /// assert_eq!(c.place_of("policies.builtin", "x"), ".tollgate.yaml:2:13: ");
    /// assert_eq!(c.place_of("policies.rego", "x"), "");
    /// ```
    pub fn place_of(&self, key: &str, value: &str) -> String {
        match (&self.source, self.entry_spans.get(&(key.to_owned(), value.to_owned()))) {
            (Some(file), Some(span)) => format!("{file}:{}:{}: ", span.start.line, span.start.column),
            _ => String::new(),
        }
    }

    /// Finds and loads the configuration: `explicit` if given, else
    /// `.tollgate.yaml`/`.tollgate.yml` at `root`, else the defaults.
    /// `rules` is the run's registry: the ids a `rules:` or `ignore:` entry
    /// may name (policy-engine ids such as `<package>.<rule>` are always
    /// accepted), and the list a typo's "did you mean" comes from.
    ///
    /// ```no_run
    /// use tollgate_core::{Config, Registry, core_rules};
    /// let registry = Registry::new(core_rules())?;
    /// let config = Config::discover("repo".as_ref(), None, &registry)?;
    /// # Ok::<(), tollgate_core::CoreError>(())
    /// ```
    pub fn discover(root: &Path, explicit: Option<&Path>, rules: &Registry) -> Result<Config, CoreError> {
        let path: Option<PathBuf> = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => CONFIG_FILE_NAMES
                .iter()
                .map(|n| root.join(n))
                .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir())),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        if explicit.is_none() {
            // The configuration found at the root is part of the repository:
            // a link out of the root (to a runner's token file, say) is
            // refused without reading it, so nothing of it reaches a message.
            let inside = std::fs::canonicalize(&path)
                .ok()
                .zip(std::fs::canonicalize(root).ok())
                .is_some_and(|(file, root)| file.starts_with(root) && file.is_file());
            if !inside {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                return Err(CoreError::Config(vec![ConfigDiagnostic {
                    file: name.clone(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "`{name}` is a symbolic link that leaves the repository root or points nowhere (or is not a regular file); tollgate never reads outside the checked root. Commit the configuration itself"
                    ),
                }]));
            }
        }
        let text = std::fs::read_to_string(&path).map_err(|source| CoreError::Read { path: path.clone(), source })?;
        let shown = path
            .strip_prefix(root)
            .map_or_else(|_| path.display().to_string(), |p| p.to_string_lossy().replace('\\', "/"));
        Config::from_text(&text, &shown, rules)
    }

    /// Parses and validates configuration text. Every problem is reported at
    /// once, each with its line and column.
    ///
    /// ```
    /// use tollgate_core::{Config, Registry, core_rules};
    /// let rules = Registry::new(core_rules()).unwrap();
    /// let err = Config::from_text("enviroments: {}\n", ".tollgate.yaml", &rules).unwrap_err();
    /// assert!(err.to_string().contains(".tollgate.yaml:1:1: unknown key `enviroments`"));
    /// ```
    pub fn from_text(text: &str, file: &str, rules: &Registry) -> Result<Config, CoreError> {
        let known_rules: Vec<&str> = rules.rules().iter().map(|r| &*r.meta.id).collect();
        let diag = |span: Span, message: String| ConfigDiagnostic {
            file: file.to_owned(),
            line: span.start.line.max(1),
            column: span.start.column.max(1),
            message,
        };
        let docs = parse_yaml(text, &Limits::default()).map_err(|e| {
            let p = e.position();
            CoreError::Config(vec![ConfigDiagnostic {
                file: file.to_owned(),
                line: p.line.max(1),
                column: p.column.max(1),
                message: e.message().to_owned(),
            }])
        })?;
        if docs.len() > 1 {
            return Err(CoreError::Config(vec![diag(
                Span::default(),
                "expected one YAML document, found several".into(),
            )]));
        }
        let Some(doc) = docs.into_iter().next().filter(|d| !d.root.is_null()) else {
            return Ok(Config { source: Some(file.to_owned()), ..Config::default() });
        };
        let root = &doc.root;
        let json = root.to_json();
        let mut problems: Vec<ConfigDiagnostic> = Vec::new();
        // A section the schema rejects is left out of the typed read below
        // (its problems are reported here); the others are still read and
        // checked, so every problem is reported at once, never in waves.
        let mut broken: Vec<String> = Vec::new();
        let mut whole_broken = false;
        for error in schema_validator().iter_errors(&json) {
            let pointer = error.instance_path().as_str().to_owned();
            let route = Route::parse(&pointer);
            let node = root.get(&route).unwrap_or(root);
            match (pointer.split('/').nth(1), error.kind()) {
                (Some(section), _) => broken.push(section.replace("~1", "/").replace("~0", "~")),
                // Unknown top-level keys: the known sections stand.
                (None, AdditionalProperties { unexpected }) => broken.extend(unexpected.iter().cloned()),
                (None, _) => whole_broken = true,
            }
            match error.kind() {
                AdditionalProperties { unexpected } => {
                    let allowed = allowed_keys(&pointer);
                    for key in unexpected {
                        let span = node.as_mapping().and_then(|m| m.entry(key)).map_or(node.span, |(k, _)| k.span);
                        let hint = closest(key, allowed.iter().map(String::as_str))
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        problems.push(diag(
                            span,
                            format!("unknown key `{key}` (expected one of: {}){hint}", allowed.join(", ")),
                        ));
                    }
                }
                _ => problems.push(diag(node.span, format!("{}: {error}", describe(&pointer)))),
            }
        }
        if !whole_broken {
            let mut sections = json;
            if let Some(map) = sections.as_object_mut() {
                map.retain(|k, _| !broken.contains(k));
            }
            let read =
                |json: &serde_json::Value| <crate::config_file::ConfigFile as serde::Deserialize>::deserialize(json);
            match read(&sections) {
                Ok(written) => {
                    let config = Config::from_file(written, root, file, &known_rules, &mut problems);
                    if problems.is_empty() {
                        return Ok(config);
                    }
                }
                // What the schema accepts but the types cannot hold (`1e6`
                // where a count is expected, say): still an error, never
                // dropped, at the section that holds it.
                Err(e) => {
                    let failing = sections.as_object().and_then(|map| {
                        map.iter().find_map(|(key, value)| {
                            let error = read(&serde_json::json!({ key: value })).err()?;
                            Some((key.clone(), error))
                        })
                    });
                    let (span, section, e) = match failing {
                        Some((key, e)) => (root.get_key(&key).map_or(root.span, |n| n.span), format!("`{key}`"), e),
                        None => (root.span, describe(""), e),
                    };
                    problems.push(diag(span, format!("{section} cannot be read: {e}")));
                }
            }
        }
        problems.sort_by(|a, b| (a.line, a.column, &a.message).cmp(&(b.line, b.column, &b.message)));
        problems.dedup();
        Err(CoreError::Config(problems))
    }

    /// The configuration the typed file `written` says, checked for what only
    /// the meaning shows; `root` (the same file as parsed YAML) gives each
    /// problem its place.
    fn from_file(
        written: crate::config_file::ConfigFile,
        root: &Node,
        file: &str,
        known_rules: &[&str],
        problems: &mut Vec<ConfigDiagnostic>,
    ) -> Config {
        let diag = |span: Span, message: String| ConfigDiagnostic {
            file: file.to_owned(),
            line: span.start.line,
            column: span.start.column,
            message,
        };
        let node = |pointer: &str| root.get(&Route::parse(pointer));
        let span_of = |pointer: &str| node(pointer).map_or(root.span, |n| n.span);
        let mut config = Config { source: Some(file.to_owned()), ..Config::default() };
        if let Some(mut envs) = written.environments {
            // In the order the file writes them: where several match a
            // path, the first one written (after any protected one) holds it.
            let order = node("/environments").and_then(Node::as_mapping).map(|m| m.iter().map(|(k, _)| k.to_owned()));
            let entries: Vec<(String, Vec<String>, bool)> = order
                .into_iter()
                .flatten()
                .filter_map(|name| envs.remove(&name).map(|e| (name, e.paths, e.protected.unwrap_or(false))))
                .collect();
            match Environments::configured(&entries) {
                Ok(e) => config.environments = e,
                Err(m) => problems.push(diag(span_of("/environments"), m.to_string())),
            }
        }
        if let Some(review) = written.review {
            let defaults = ReviewSettings::default();
            config.review = ReviewSettings {
                min_approvals: review.min_approvals.unwrap_or(defaults.min_approvals),
                owners_must_be_teams: review.owners_must_be_teams.unwrap_or(defaults.owners_must_be_teams),
                min_owners: review.min_owners.unwrap_or(defaults.min_owners),
                status_check: review.status_check,
            };
        }
        config.signing_policy = written.signing.and_then(|s| s.policy);
        let policies = written.policies;
        let (rego, kyverno, builtin) = policies.map_or_else(Default::default, |p| (p.rego, p.kyverno, p.builtin));
        config.rego = rego.unwrap_or_default();
        config.kyverno = kyverno.unwrap_or_default();
        config.builtin_policies = builtin.unwrap_or_default();
        let render = written.render;
        let (kustomize, roots) = render.map_or((None, None), |r| (r.kustomize, r.roots));
        config.render_kustomize = kustomize.unwrap_or(true);
        config.render_roots = roots.unwrap_or_default();
        // Paths the configuration names are read from the repository (and,
        // in a range check, from the base commit): never from outside it.
        // (section, the entry's pointer, the path)
        let mut paths: Vec<(&str, String, &str)> = config
            .signing_policy
            .iter()
            .map(|p| ("/signing/policy", "/signing/policy".to_owned(), p.as_str()))
            .collect();
        for (section, values) in [
            ("/policies/rego", &config.rego),
            ("/policies/kyverno", &config.kyverno),
            ("/render/roots", &config.render_roots),
        ] {
            paths.extend(values.iter().enumerate().map(|(i, v)| (section, format!("{section}/{i}"), v.as_str())));
        }
        for (section, pointer, path) in paths {
            if relative_inside_root(path).is_none() {
                problems.push(diag(
                    span_of(&pointer),
                    format!(
                        "`{}` must be a path inside the repository (relative to its root, not leaving it with `..`): tollgate reads nothing outside the checked root. Give policies or a trust policy kept outside the repository on the command line (`--policy`, `--kyverno`, `--signers`)",
                        describe(section)
                    ),
                ));
            }
        }
        for (key, values) in
            [("rego", &config.rego), ("kyverno", &config.kyverno), ("builtin", &config.builtin_policies)]
        {
            for (i, value) in values.iter().enumerate() {
                let span = span_of(&format!("/policies/{key}/{i}"));
                config.entry_spans.entry((format!("policies.{key}"), value.clone())).or_insert(span);
            }
        }
        config.exclude = written.exclude.unwrap_or_default();
        if let Err(m) = crate::environment::glob_set(&config.exclude) {
            problems.push(diag(span_of("/exclude"), format!("exclude: {m}")));
        }
        if let Some(limits) = written.limits {
            config.max_file_size = limits.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
            config.max_nodes = limits.max_nodes.unwrap_or(DEFAULT_MAX_NODES);
        }
        let rule_keys = node("/rules").and_then(Node::as_mapping);
        for (id, entry) in written.rules.unwrap_or_default() {
            // Policy-engine rule ids (`package.rule`, `policy/rule`) are known only once policies load.
            let engine_named = id.contains('.') || id.contains('/');
            if !engine_named && !known_rules.contains(&id.as_str()) {
                let hint = closest(&id, known_rules.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                let span = rule_keys.and_then(|m| m.entry(&id)).map_or(root.span, |(k, _)| k.span);
                problems.push(diag(span, format!("unknown rule `{id}` (see `tollgate rules`){hint}")));
                continue;
            }
            config.rules.insert(id, RuleSettings { enabled: entry.enabled, severity: entry.severity });
        }
        for (i, entry) in written.ignore.unwrap_or_default().into_iter().enumerate() {
            let at = format!("/ignore/{i}");
            let expires = entry.expires.as_deref().map(|text| (text, Date::parse(text)));
            if let Some((text, None)) = expires {
                problems.push(diag(
                    span_of(&format!("{at}/expires")),
                    format!("`expires: {text}` is not a real date (expected YYYY-MM-DD)"),
                ));
            }
            if let Err(m) = crate::environment::glob_set(&entry.paths) {
                problems.push(diag(span_of(&format!("{at}/paths")), format!("ignore paths: {m}")));
            }
            config.ignore.push(IgnoreEntry {
                expires: expires.and_then(|(_, d)| d),
                rule: entry.rule,
                paths: entry.paths,
                reason: entry.reason.trim().to_owned(),
                span: span_of(&at),
            });
        }
        config
    }

    /// Whether a rule runs: configuration first, then the rule's default.
    pub fn rule_enabled(&self, id: &str, default: bool) -> bool {
        self.rules.get(id).and_then(|r| r.enabled).unwrap_or(default)
    }

    /// The severity configured for a rule, if any.
    pub fn severity_override(&self, id: &str) -> Option<Severity> {
        self.rules.get(id).and_then(|r| r.severity)
    }
}

/// `path` as a normalized repository-relative path (`./a/../b/` → `b`), or
/// `None` when it is absolute or leaves the root.
///
/// ```
/// use tollgate_core::relative_inside_root;
/// assert_eq!(relative_inside_root("./policy/../kyverno/").as_deref(), Some("kyverno"));
/// assert_eq!(relative_inside_root("."), Some(String::new()));
/// assert_eq!(relative_inside_root("../org-policies"), None);
/// assert_eq!(relative_inside_root("/etc/passwd"), None);
/// assert_eq!(relative_inside_root("C:\\Windows"), None);
/// ```
pub fn relative_inside_root(path: &str) -> Option<String> {
    let path = path.replace('\\', "/");
    let absolute = path.starts_with('/')
        || path.starts_with('~')
        || path.as_bytes().get(1) == Some(&b':') && path.as_bytes()[0].is_ascii_alphabetic();
    if absolute {
        return None;
    }
    normalize_segments(&path)
}

/// The `/`-separated segments of `path` with empty and `.` ones dropped and
/// each `..` taking off the segment before it, joined by `/`; `None` when a
/// `..` climbs above the start. Lexical only: nothing is read, a leading `/`
/// is not special (see [`relative_inside_root`] for paths a user gives).
///
/// ```
/// use tollgate_core::normalize_segments;
/// assert_eq!(normalize_segments("apps/base/../overlays//prod/.").as_deref(), Some("apps/overlays/prod"));
/// assert_eq!(normalize_segments("a/../.."), None);
/// ```
pub fn normalize_segments(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Names the config section a JSON pointer lies in, for messages.
fn describe(pointer: &str) -> String {
    if pointer.is_empty() {
        "the configuration".to_owned()
    } else {
        format!("`{}`", pointer.trim_start_matches('/').replace('/', "."))
    }
}

/// The keys the schema allows in the object at `pointer`.
fn allowed_keys(pointer: &str) -> Vec<String> {
    let mut node: &serde_json::Value = &crate::config_file::SCHEMA;
    for segment in pointer.split('/').filter(|s| !s.is_empty()) {
        let next = node
            .get("properties")
            .and_then(|p| p.get(segment))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
            .or_else(|| node.get("items"));
        match next {
            Some(n) => node = n,
            None => return Vec::new(),
        }
    }
    node.get("properties").and_then(|p| p.as_object()).map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// The candidate closest to `word` by edit distance, if close enough: how
/// tollgate says "did you mean".
///
/// ```
/// assert_eq!(tollgate_core::closest("patern", ["pattern", "deny"].into_iter()), Some("pattern"));
/// assert_eq!(tollgate_core::closest("xyz", ["pattern"].into_iter()), None);
/// ```
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core crate's own rules: the ids a `rules:` entry may name here.
    static RULES: std::sync::LazyLock<crate::Registry> =
        std::sync::LazyLock::new(|| crate::Registry::new(crate::core_rules()).expect("core rules register"));

    fn errors(text: &str) -> Vec<String> {
        match Config::from_text(text, "c.yaml", &RULES) {
            Err(CoreError::Config(d)) => d.into_iter().map(|d| d.to_string()).collect(),
            other => panic!("expected config errors, got {other:?}"),
        }
    }

    #[test]
    fn schema_is_derived_valid_and_checked_in() {
        jsonschema::validator_for(&crate::config_file::SCHEMA).expect("the derived schema compiles");
        // `schemas/tollgate.schema.json` (and `tollgate schema`) is the
        // derived schema, byte for byte.
        let derived = crate::config_file::schema_text();
        if std::env::var_os("TOLLGATE_WRITE_SCHEMA").is_some() {
            std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/tollgate.schema.json"), &derived)
                .expect("schema written");
        }
        assert!(
            CONFIG_SCHEMA == derived,
            "schemas/tollgate.schema.json is not the schema derived from crates/tollgate-core/src/config_file.rs; \
             regenerate it: TOLLGATE_WRITE_SCHEMA=1 cargo test -p tollgate-core schema_is_derived"
        );
    }

    #[test]
    fn design_example_loads() {
        let text = r#"
environments:
  prod:    { paths: ["environments/prod/**", "clusters/production/**"], protected: true }
  staging: { paths: ["environments/staging/**"] }
review:
  min_approvals: 2
  owners_must_be_teams: true
signing:
  policy: .tollgate/signers.yaml
policies:
  rego: ["policy/"]
  kyverno: ["kyverno/"]
rules:
  suppression-added: { severity: error }
  suppression-invalid: { enabled: false }
ignore:
  - { rule: suppression-invalid, paths: ["testdata/**"], reason: "fixtures", expires: "2030-01-31" }
"#;
        let c = Config::from_text(text, "c.yaml", &RULES).expect("valid");
        assert_eq!(c.review.min_approvals, 2);
        assert!(c.environments.for_path("clusters/production/a.yaml").is_some_and(|e| e.protected));
        assert!(c.environments.for_path("apps/prod/a.yaml").is_none());
        assert_eq!(c.severity_override("suppression-added"), Some(Severity::Error));
        assert!(!c.rule_enabled("suppression-invalid", true));
        assert_eq!(c.ignore[0].expires.map(|d| d.to_string()).as_deref(), Some("2030-01-31"));
        assert_eq!(c.signing_policy.as_deref(), Some(".tollgate/signers.yaml"));
    }

    #[test]
    fn every_mistake_reported_with_position() {
        let errs = errors(
            "enviroments: {}\nreview:\n  min_approvals: two\nrules:\n  suppression-invalids: {enabled: false}\n",
        );
        // Schema problems and unknown rule ids at once, not in waves.
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("c.yaml:1:1: unknown key `enviroments`"), "{errs:?}");
        assert!(errs[0].contains("did you mean `environments`?"), "{errs:?}");
        assert!(errs[1].starts_with("c.yaml:3:18: `review.min_approvals`"), "{errs:?}");
        assert!(errs[2].starts_with("c.yaml:5:3: unknown rule `suppression-invalids`"), "{errs:?}");
        let errs = errors("rules:\n  suppression-invalids: {enabled: false}\n");
        assert_eq!(
            errs,
            vec![
                "c.yaml:2:3: unknown rule `suppression-invalids` (see `tollgate rules`); did you mean `suppression-invalid`?"
            ]
        );
    }

    #[test]
    fn wrong_types_and_dates() {
        let errs = errors("ignore:\n  - rule: x\n    paths: [a]\n    reason: r\n    expires: 2024-02-30\n");
        assert_eq!(errs, vec!["c.yaml:5:14: `expires: 2024-02-30` is not a real date (expected YYYY-MM-DD)"]);
        let errs = errors("exclude: yes\n");
        assert!(errs[0].starts_with("c.yaml:1:10: `exclude`"), "{errs:?}");
        let errs = errors("ignore:\n  - rule: x\n    paths: [a]\n");
        assert!(errs[0].contains("\"reason\" is a required property"), "{errs:?}");
    }

    #[test]
    fn the_schema_derived_from_the_types_is_strict() {
        // `null` is not "absent": an optional key written empty is reported.
        let errs = errors("environments:\n  prod: {paths: [a], protected: ~}\n");
        assert!(errs[0].starts_with("c.yaml:2:33: `environments.prod.protected`"), "{errs:?}");
        // A count beyond what the type holds is the schema's error, at its line.
        let errs = errors("review:\n  min_approvals: 5000000000\n");
        assert!(errs[0].starts_with("c.yaml:2:18: `review.min_approvals`"), "{errs:?}");
        // A severity is one of three names.
        let errs = errors("rules:\n  suppression-added: {severity: fatal}\n");
        assert!(errs[0].starts_with("c.yaml:2:33: `rules.suppression-added.severity`"), "{errs:?}");
        // A broken section does not hide the problems of the others.
        let errs = errors("review: {min_owners: 0}\nexclude: [\"a[\"]\n");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[1].starts_with("c.yaml:2:10: exclude:"), "{errs:?}");
        // What the schema lets through but the type cannot hold is an error
        // at its section, never a silent default.
        let errs = errors("exclude: [a]\nlimits:\n  max_nodes: 1e6\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("c.yaml:3:3: `limits` cannot be read: invalid type: floating point"), "{errs:?}");
        // Environments keep the order the file writes them in: the first
        // one a path matches holds it.
        let c = Config::from_text(
            "environments:\n  staging: {paths: [\"apps/**\"]}\n  dev: {paths: [\"apps/dev/**\"]}\n",
            "c.yaml",
            &RULES,
        )
        .expect("valid");
        let names: Vec<&str> = c.environments.all().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["staging", "dev"]);
        assert_eq!(c.environments.for_path("apps/dev/a.yaml").map(|e| e.name.as_str()), Some("staging"));
        // Every section the types know is read.
        let c = Config::from_text(
            "review: {min_owners: 2, status_check: tollgate}\nrender: {kustomize: false, roots: [base]}\nlimits: {max_nodes: 10}\npolicies: {builtin: [k8s-workload-baseline]}\n",
            "c.yaml",
            &RULES,
        )
        .expect("valid");
        assert_eq!((c.review.min_owners, c.review.min_approvals), (2, 1));
        assert_eq!(c.review.status_check.as_deref(), Some("tollgate"));
        assert!(!c.render_kustomize);
        assert_eq!(c.render_roots, ["base"]);
        assert_eq!((c.max_nodes, c.max_file_size), (10, DEFAULT_MAX_FILE_SIZE));
        assert_eq!(c.place_of("policies.builtin", "k8s-workload-baseline"), "c.yaml:4:22: ");
    }

    #[test]
    fn empty_config_is_default() {
        let c = Config::from_text("# nothing\n", "c.yaml", &RULES).expect("valid");
        assert_eq!(c.max_file_size, DEFAULT_MAX_FILE_SIZE);
    }
}
