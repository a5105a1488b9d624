//! `tollgate`: the command line.

mod conformance;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tollgate_core::{
    CONFIG_FILE_NAMES, CONFIG_SCHEMA, CheckOptions, Config, CoreError, Date, Limits, Registry, Severity, check,
    load_baseline, load_repository,
};
use tollgate_report::{Format, ReportOptions, render};

/// Lint a `GitOps` repository for every way a change could reach production
/// unreviewed, unsigned, unchecked or irreversible.
#[derive(Parser)]
#[command(
    name = "tollgate",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TOLLGATE_COMMIT"), ")"),
    about,
    long_about = None,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per process")]
enum Command {
    /// Check a repository and report findings (exit 0: none at or above --fail-on; 1: some; 2: the run failed).
    Check(CheckArgs),
    /// List every built-in rule.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// Write the generated documentation (index and one page per rule) into this directory.
        #[arg(long, value_name = "DIR")]
        docs: Option<PathBuf>,
    },
    /// Print the documentation of a rule.
    Explain {
        /// The rule id, e.g. `prod-self-heal`.
        rule_id: String,
    },
    /// Print the JSON Schema of `.tollgate.yaml`.
    Schema,
    /// Print the Kustomize render of the kustomization in PATH, as `kustomize
    /// build PATH` would: a document per object, `---` between them. Nothing
    /// is executed or fetched; nothing outside the root is read. Exit 2 with
    /// `file:line:col` and the reason when it cannot be rendered.
    Render {
        /// The directory holding the kustomization.
        path: PathBuf,
        /// Nothing outside this directory is read (default: the git work
        /// tree holding PATH, else PATH itself).
        #[arg(long)]
        root: Option<PathBuf>,
    },
    /// Print what a change does to the renders: for every rendered root
    /// (Kustomize overlay, Argo CD or Flux path) whose inputs it touches, the
    /// objects added, removed or changed, with a unified diff of each, prod
    /// first. Both sides are read from git objects; Secret values are shown
    /// as `***` and a hash. Exit 0, or 2 when the range cannot be read.
    Diff {
        /// `BASE..HEAD` (or `BASE`, meaning `BASE..HEAD`).
        range: String,
        /// The repository root.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Print the delivery map: for each application and environment, how a
    /// change arrives (pull request, Renovate automerge, image automation,
    /// Kargo), who must approve it, which reconciler applies it, how it
    /// rolls out, and whether `git revert` restores what ran before; gaps
    /// that rules report are marked. Markdown includes a Mermaid flowchart.
    Map {
        /// The repository root.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = MapFormat::Markdown)]
        format: MapFormat,
        /// Configuration file (default: `.tollgate.yaml` at the root).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Measure agreement with the peers' own test suites (the `shared/conformance`
    /// corpora): gator suites and Rego unit tests of the Gatekeeper library,
    /// conftest outcomes. Prints `N/M agree` and every disagreement.
    #[command(hide = true)]
    Conformance {
        /// The conformance directory (default: `$TOLLGATE_CONFORMANCE` or `../shared/conformance`).
        dir: Option<PathBuf>,
        /// Only the suites whose name contains this (`kustomize`, `kyverno`, `gatekeeper`, `conftest`):
        /// `kustomize` renders kustomize's own build tests and compares the documents.
        #[arg(long)]
        only: Option<String>,
    },
    /// Run policy tests under DIR: Rego unit tests (`test_*` rules in
    /// directories with `*_test.rego`, like `opa test`), gator `suite.yaml`
    /// files and `kyverno-test.yaml` files (like `kyverno test`). Exit 0 when
    /// every test passes, 1 otherwise.
    Test {
        /// The directory to search.
        dir: PathBuf,
        /// Print passing tests too.
        #[arg(long, short)]
        verbose: bool,
        /// Run gator suites with the CEL (`K8sNativeValidation`) code of
        /// templates that ship both engines, as `gator verify
        /// --enable-k8s-native-validation`.
        #[arg(long)]
        enable_k8s_native_validation: bool,
    },
    /// List every suppression (inline comments and config `ignore` entries).
    Suppressions {
        /// The repository root.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Configuration file (default: `.tollgate.yaml` at the root).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// The repository root.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// In a range check, only findings the change brings fail the run:
    /// findings whose fingerprint a check of the base commit also produces
    /// are marked `existing` and listed, but do not count for --fail-on.
    #[arg(long)]
    new_only: bool,
    /// In a range check, leave out the rendered diff (what the change does
    /// to each rendered root) from the text, JSON and Markdown reports.
    #[arg(long)]
    no_rendered_diff: bool,
    /// In a range check, leave out the delivery map's rows of the
    /// applications the change touches from the Markdown summary.
    #[arg(long)]
    no_delivery_map: bool,
    /// Configuration file (default: `.tollgate.yaml` at the root).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check a change: the commit range `BASE..HEAD`. CODEOWNERS is then read
    /// from BASE (the target branch), never from the change.
    #[arg(long, value_name = "BASE..HEAD", conflicts_with = "base")]
    range: Option<String>,
    /// Same as `--range REF..HEAD`.
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Rego policies: a `.rego` file or a directory of them (conftest packs),
    /// and YAML with Gatekeeper ConstraintTemplates and Constraints. Repeatable;
    /// added to `policies.rego` of the configuration.
    #[arg(long, value_name = "PATH")]
    policy: Vec<PathBuf>,
    /// Data for the Rego policies (YAML/JSON; top-level keys under `data.`). Repeatable.
    #[arg(long, value_name = "PATH")]
    data: Vec<PathBuf>,
    /// Kyverno policies: a ClusterPolicy/Policy YAML file or a directory of
    /// them. Repeatable; added to `policies.kyverno` of the configuration.
    #[arg(long, value_name = "PATH")]
    kyverno: Vec<PathBuf>,
    /// Rego packages to query for deny/violation/warn rules (default `main`; globs allowed). Repeatable.
    #[arg(long, value_name = "NS")]
    namespace: Vec<String>,
    /// Query every Rego package.
    #[arg(long)]
    all_namespaces: bool,
    /// Give all documents to the Rego policies as one input (an array of `{path, contents}`), as conftest's `--combine`.
    #[arg(long)]
    combine: bool,
    /// Judge Gatekeeper templates that ship both Rego and CEL
    /// (`K8sNativeValidation`) with their CEL, as gator's flag of the same
    /// name. CEL-only templates are always judged with CEL.
    #[arg(long)]
    enable_k8s_native_validation: bool,
    /// Trust policy kept outside the repository (`signers.yaml` format; key
    /// files relative to it), used instead of the base commit's policy.
    #[arg(long, value_name = "FILE", conflicts_with = "allowed_signers")]
    signers: Option<PathBuf>,
    /// git's `allowed_signers` file (SSH keys), used as the trust policy.
    #[arg(long, value_name = "FILE")]
    allowed_signers: Option<PathBuf>,
    /// Report only findings whose fingerprint is not in this SARIF file.
    #[arg(long, value_name = "SARIF")]
    baseline: Option<PathBuf>,
    /// SARIF category (`automationDetails.id` = `tollgate/<category>/`).
    #[arg(long, default_value = "tollgate", value_name = "NAME")]
    sarif_category: String,
    /// Include suppressed findings in text and JSON output.
    #[arg(long)]
    show_suppressed: bool,
    /// Print timings and sizes of each stage to standard error.
    #[arg(long)]
    stats: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
    Sarif,
    Github,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Note,
}

/// Stack of every worker thread. Every parser and evaluator bounds its own
/// depth (YAML 256 levels, JMESPath 128, Rego functions never recursive), so
/// that this stack is never reached; it is large enough for those bounds in
/// any build profile, with a wide margin.
const WORKER_STACK: usize = 32 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The global pool runs parsing, rules and policy evaluation: its threads
    // get an explicit stack, not the platform default of 2 MiB.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(WORKER_STACK).build_global();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let registry = tollgate::registry().context("internal error: the rule registry is invalid")?;
    match cli.command {
        Command::Check(args) => run_check(&args, &registry),
        Command::Rules { docs: Some(dir), .. } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, content) in tollgate::rule_docs(&registry) {
                std::fs::write(dir.join(&name), content).with_context(|| format!("cannot write {name}"))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules { format, docs: None } => {
            let text = match format {
                ListFormat::Markdown => tollgate::rules_markdown(&registry),
                ListFormat::Json => {
                    serde_json::to_string_pretty(&registry.rules().iter().map(|r| &r.meta).collect::<Vec<_>>())? + "\n"
                }
                ListFormat::Text => {
                    let width = registry.rules().iter().map(|r| r.meta.id.len()).max().unwrap_or(0);
                    let mut s = String::new();
                    for r in registry.rules() {
                        let m = &r.meta;
                        let off = if m.enabled_by_default { "" } else { " (off by default)" };
                        s.push_str(&format!("{:width$}  {:7}  {}{off}\n", m.id, m.severity.as_str(), m.summary));
                    }
                    s
                }
            };
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { rule_id } => {
            if let Some(r) = registry.get(&rule_id) {
                print(&r.meta.page_markdown())?;
                Ok(ExitCode::SUCCESS)
            } else {
                let hint = registry.suggest(&rule_id).map(|s| format!(" Did you mean `{s}`?")).unwrap_or_default();
                bail!("unknown rule `{rule_id}`.{hint} `tollgate rules` lists every rule")
            }
        }
        Command::Schema => {
            print(CONFIG_SCHEMA)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { path, root } => run_render(&path, root.as_deref()),
        Command::Diff { range, path, format } => run_diff(&range, &path, format, &registry),
        Command::Map { path, format, config } => run_map(&path, format, config.as_deref(), &registry),
        Command::Suppressions { path, config } => run_suppressions(&path, config.as_deref(), &registry),
        Command::Test { dir, verbose, enable_k8s_native_validation } => {
            run_tests(&dir, verbose, enable_k8s_native_validation)
        }
        Command::Conformance { dir, only } => {
            let dir = dir
                .or_else(|| std::env::var_os("TOLLGATE_CONFORMANCE").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("../shared/conformance"));
            if !dir.is_dir() {
                bail!("no conformance corpora at `{}`", dir.display());
            }
            let (out, _) = conformance::run_only(&dir, only.as_deref())?;
            print(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Fails unless `path` is a directory, saying which of the two it is not:
/// missing, or a file.
fn require_dir(path: &Path, verb: &str) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!(
            "cannot {verb} `{}`: it is a file, not a directory; give the repository's root directory",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("cannot {verb} `{}`: no such directory", path.display())
        }
        Err(e) => bail!("cannot {verb} `{}`: {e}", path.display()),
    }
}

fn run_render(path: &Path, root: Option<&Path>) -> Result<ExitCode> {
    let dir = std::fs::canonicalize(path).with_context(|| format!("cannot render `{}`", path.display()))?;
    require_dir(path, "render")?;
    let root = if let Some(r) = root {
        std::fs::canonicalize(r).with_context(|| format!("cannot read the root `{}`", r.display()))?
    } else {
        // The git work tree holding PATH, else the current directory when
        // PATH is below it, else PATH itself.
        let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
        match dir.ancestors().find(|a| a.join(".git").exists()) {
            Some(git) => git.to_path_buf(),
            None => cwd.filter(|c| dir.starts_with(c)).unwrap_or_else(|| dir.clone()),
        }
    };
    let Ok(rel) = dir.strip_prefix(&root) else {
        bail!("`{}` is not inside the root `{}`", path.display(), root.display());
    };
    let rel = rel.to_string_lossy().replace('\\', "/");
    let source = tollgate_kustomize::DiskSource::new(&root, tollgate_core::DEFAULT_MAX_FILE_SIZE)?;
    let shown = |path: &str| -> String {
        // The file as the user reaches it from here.
        let file = root.join(path);
        let cwd = std::env::current_dir().ok().and_then(|c| std::fs::canonicalize(c).ok());
        let shown = cwd.and_then(|c| file.strip_prefix(c).ok().map(Path::to_path_buf)).unwrap_or(file);
        tollgate_report::printable(&shown.to_string_lossy()).into_owned()
    };
    let report = |e: &tollgate_kustomize::RenderError, kind: &str| {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{}:{}:{}: {kind}: {}",
            shown(&e.path),
            e.line,
            e.column,
            tollgate_report::printable(&e.message)
        );
    };
    match tollgate_kustomize::render(&source, &rel) {
        Ok(render) => {
            let yaml = render.to_yaml();
            if !yaml.is_empty() {
                print(&yaml)?;
            }
            for w in &render.warnings {
                report(w, "warning");
            }
            // The stream is printed; a patch that changes nothing still
            // fails the command, as the mistake it almost surely is.
            Ok(if render.warnings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Err(e) => {
            report(&e, if e.unsupported { "cannot render (not supported offline)" } else { "cannot render" });
            Ok(ExitCode::from(2))
        }
    }
}

fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn load_config(root: &Path, explicit: Option<&Path>, registry: &Registry) -> Result<Config> {
    match Config::discover(root, explicit, registry) {
        Ok(c) => Ok(c),
        Err(CoreError::Config(diags)) => {
            let list = diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            bail!(
                "invalid configuration ({} problem{}):\n{list}\n`tollgate schema` prints the expected shape",
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn run_check(args: &CheckArgs, registry: &Registry) -> Result<ExitCode> {
    let root = &args.path;
    require_dir(root, "check")?;
    let mut options = CheckOptions::default();
    if let Some(baseline) = &args.baseline {
        let fingerprints = load_baseline(baseline)?;
        options.baseline = Some((baseline.display().to_string(), fingerprints));
    }
    let rego = tollgate_rego::RegoOptions {
        policy: args.policy.clone(),
        data: args.data.clone(),
        namespaces: tollgate_rego::Namespaces {
            names: if args.namespace.is_empty() { vec!["main".to_owned()] } else { args.namespace.clone() },
            all: args.all_namespaces,
        },
        combine: args.combine,
        k8s_native_validation: args.enable_k8s_native_validation,
        ..tollgate_rego::RegoOptions::default()
    };
    for path in rego.policy.iter().chain(&rego.data).chain(&args.kyverno) {
        if !path.exists() {
            bail!("`{}` does not exist (given with --policy, --data or --kyverno)", path.display());
        }
    }
    let range = range_of(args)?;
    if range.is_none() && args.new_only {
        // Not an error, so that a workflow can pass it on every event: without
        // a base nothing is existing, and every finding counts (fail closed).
        let _ = writeln!(
            std::io::stderr(),
            "note: --new-only compares a change with its base, and this is not a range check (no --range or --base, no pull request): every finding counts"
        );
    }
    let config = match &range {
        None => {
            if args.signers.is_some() || args.allowed_signers.is_some() {
                bail!(
                    "--signers and --allowed-signers judge the commits of a range: give `--range BASE..HEAD` or `--base REF`"
                );
            }
            let config = load_config(root, args.config.as_deref(), registry)?;
            options.engines = tollgate::policy_engines(root, &config, &rego, &args.kyverno)?;
            config
        }
        Some((base, head)) => judge_range(args, registry, &rego, base, head, &mut options)?,
    };
    // Tracked files are read even when a `.gitignore` hides them.
    options.tracked = tollgate_git::tracked_paths(root);
    // Judge what production runs: the renders of the Kustomize roots.
    if config.render_kustomize {
        options.renderer = Some(std::sync::Arc::new(tollgate_kustomize::KustomizeRenderer {
            extra_roots: config.render_roots.clone(),
            reuse: None,
            files: None,
        }));
    }
    let started = std::time::Instant::now();
    let mut report = check(root, &config, registry, &options)?;
    // A range: each finding is new with the change, or existing at the base.
    let mut base_time = None;
    // When the range cannot be read (`history-unavailable`), nothing is
    // marked and every finding counts.
    match &range {
        Some((base, range_head)) if options.range.as_ref().is_some_and(|r| r.problem.is_none()) => {
            let at = std::time::Instant::now();
            // Unreadable here although the range was read: every finding is new.
            let base_report =
                tollgate::base::base_check(root, base, &config, registry, &options, &mut report.model).ok();
            let fingerprints: std::collections::HashSet<String> =
                base_report.iter().flat_map(|r| r.active().map(|f| f.fingerprint.clone())).collect();
            report.mark_against_base(&fingerprints);
            if let (Some(base_report), Some(info), false) = (&base_report, &options.range, args.no_rendered_diff) {
                report.rendered_diff = Some(tollgate::diff::rendered_diff(
                    &base_report.model,
                    &report.model,
                    &info.changed_paths,
                    base,
                    range_head,
                ));
            }
            // Dropped with the process's other large trees (see below).
            std::mem::forget(base_report);
            base_time = Some(at.elapsed());
        }
        _ => {}
    }
    let format = match args.format {
        OutputFormat::Text => Format::Text,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sarif => Format::Sarif,
        OutputFormat::Github => Format::Github,
        OutputFormat::Markdown => Format::Markdown,
    };
    let color = args.output.is_none()
        && matches!(format, Format::Text)
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let report_options = ReportOptions {
        show_suppressed: args.show_suppressed,
        color,
        sarif_category: args.sarif_category.clone(),
        new_only: args.new_only,
    };
    // JSON and SARIF go out as they are serialized: a large run's report is
    // tens of megabytes, not worth holding whole.
    if matches!(format, Format::Json | Format::Sarif) {
        if let Some(path) = &args.output {
            let mut file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            tollgate_report::write(format, &report, &report_options, &mut file)
                .with_context(|| format!("cannot write {}", path.display()))?;
        } else {
            let mut out = std::io::stdout().lock();
            tollgate_report::write(format, &report, &report_options, &mut out)?;
            out.flush()?;
        }
    } else {
        let mut rendered = render(format, &report, &report_options);
        // The job summary of a range: the delivery map's rows of the
        // applications the change touches.
        if matches!(format, Format::Markdown)
            && !args.no_delivery_map
            && let Some(info) = report.model.range.as_ref().filter(|r| r.problem.is_none())
        {
            let touched: Vec<tollgate::map::Row> = tollgate::map::delivery_map(&report)
                .into_iter()
                .filter(|row| row.files.iter().any(|f| info.changed_paths.contains(f)))
                .collect();
            if !touched.is_empty() {
                rendered.push_str("\n### Delivery of the applications this change touches\n\n");
                rendered.push_str(&tollgate::map::table(&touched));
            }
        }
        match &args.output {
            Some(path) => {
                std::fs::write(path, &rendered).with_context(|| format!("cannot write {}", path.display()))?;
            }
            None => print(&rendered)?,
        }
    }
    if args.stats {
        let s = &report.stats;
        let mb = s.bytes as f64 / 1_048_576.0;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "stats: {} files, {} documents, {:.1} MiB; discover {:.0} ms, read+parse {:.0} ms ({:.1} ms/MiB), render {:.0} ms ({} roots), rules {:.0} ms{}, total {:.0} ms",
            s.files,
            s.documents,
            mb,
            s.discover.as_secs_f64() * 1e3,
            s.parse.as_secs_f64() * 1e3,
            if mb > 0.0 { s.parse.as_secs_f64() * 1e3 / mb } else { 0.0 },
            s.render.as_secs_f64() * 1e3,
            s.renders,
            s.rules.as_secs_f64() * 1e3,
            base_time.map_or_else(String::new, |t| format!(", base commit's findings {:.0} ms", t.as_secs_f64() * 1e3)),
            started.elapsed().as_secs_f64() * 1e3,
        );
    }
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
        FailOn::Note => Severity::Note,
    };
    let failing = report
        .active()
        .filter(|f| !(args.new_only && f.state == Some(tollgate_core::ChangeState::Existing)))
        .any(|f| f.severity >= threshold);
    // The model holds every parsed node of the repository; the process is
    // about to exit, so skip freeing a million small allocations one by one.
    std::mem::forget(report);
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Sets up a range check: the base commit's configuration and policies
/// judge it (see [`tollgate::base`]); the change's own configuration is
/// parsed for its problems and its edits. Returns the configuration in force.
fn judge_range(
    args: &CheckArgs,
    registry: &Registry,
    rego: &tollgate_rego::RegoOptions,
    base: &str,
    head: &str,
    options: &mut CheckOptions,
) -> Result<Config> {
    use tollgate::base::{BaseError, path_in_root, read_base_guardrails};
    let root = &args.path;
    // Command-line paths inside the repository are part of the change: they
    // are read from the base too. Paths outside it (an organisation's
    // policies checked out by CI) are used as given.
    let split = |paths: &[PathBuf]| -> (Vec<String>, Vec<PathBuf>) {
        let mut inside = Vec::new();
        let mut outside = Vec::new();
        for p in paths {
            match path_in_root(root, p) {
                Some(rel) => inside.push(rel),
                None => outside.push(p.clone()),
            }
        }
        (inside, outside)
    };
    let (rego_in, rego_out) = split(&rego.policy);
    let (data_in, data_out) = split(&rego.data);
    let (kyverno_in, kyverno_out) = split(&args.kyverno);
    let config_in = args.config.as_deref().and_then(|p| path_in_root(root, p));
    let mut outside = rego.clone();
    outside.policy = rego_out;
    outside.data = data_out;
    let guardrails =
        read_base_guardrails(root, base, config_in.as_deref(), registry, (&rego_in, &data_in, &kyverno_in));
    // The change's own configuration: parsed, reported when broken, never obeyed.
    let (head_config, head_problems) =
        match Config::discover(root, args.config.as_deref().filter(|_| config_in.is_some()), registry) {
            Ok(c) if c.source.is_some() => (Some(c), Vec::new()),
            Ok(_) => (None, Vec::new()),
            Err(CoreError::Config(diags)) => (None, diags),
            Err(e) => (
                None,
                vec![tollgate_core::ConfigDiagnostic {
                    file: CONFIG_FILE_NAMES[0].to_owned(),
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                }],
            ),
        };
    let mut base_config = None;
    let (config, base_files) = match guardrails {
        Ok(g) => {
            base_config = g.config.source.is_some().then(|| g.config.clone());
            let config = match (&args.config, &config_in) {
                // A configuration kept outside the repository is the CI's own.
                (Some(path), None) => load_config(root, Some(path), registry)?,
                _ => g.config.clone(),
            };
            options.engines = g.policy_engines(root, &outside, &kyverno_out, head_config.as_ref())?;
            options.gitignores = Some(g.gitignores());
            (config, g.files)
        }
        Err(BaseError::InvalidConfig { base, problems }) => {
            let list = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            bail!(
                "the configuration of the base commit `{base}` judges this range but is invalid ({} problem{}):\n{list}\nFix it on the target branch first",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            )
        }
        // The base cannot be read: `history-unavailable` fails the run, and
        // the defaults (every rule on, nothing ignored) judge the rest.
        Err(_) => (Config::default(), std::collections::BTreeMap::default()),
    };
    let trust = trust_of(args, &config)?;
    let mut guarded: Vec<&str> = tollgate_owners::codeowners::LOCATIONS.to_vec();
    guarded.extend(CONFIG_FILE_NAMES);
    let mut info = tollgate_git::read_range(root, base, head, &guarded, trust);
    info.base_files.extend(base_files);
    info.base_config = base_config;
    // Files of the change that carry suppressions, as they were where the
    // change started: what is new in them was added by the change.
    if let Some(merge_base) = info.merge_base.clone() {
        let with_comments: std::collections::HashSet<&str> = info
            .changed_paths
            .iter()
            .map(String::as_str)
            .filter(|p| {
                // Regular files of the work tree only: links are never followed.
                let path = root.join(p);
                std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= config.max_file_size)
                    && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("tollgate:"))
            })
            .collect();
        if !with_comments.is_empty()
            && let Ok(tree) =
                tollgate_git::read_tree(root, &merge_base, &|p| with_comments.contains(p), config.max_file_size)
        {
            info.merge_base_files =
                tree.files.into_iter().map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned())).collect();
        }
    }
    info.head_config = head_config;
    info.head_config_problems = head_problems;
    options.range = Some(info);
    Ok(config)
}

/// The trust policy: `--signers`, `--allowed-signers`, or the configured
/// policy file read from the base commit.
fn trust_of(args: &CheckArgs, config: &Config) -> Result<tollgate_git::Trust> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).with_context(|| format!("cannot read the trust policy {}", path.display()))
    };
    if let Some(path) = &args.signers {
        let text = read(path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let files = |file: &str| std::fs::read(dir.join(file));
        let policy = tollgate_git::TrustPolicy::from_signers_yaml(&text, &path.display().to_string(), &files)
            .map_err(|e| anyhow::anyhow!("invalid trust policy: {e}"))?;
        return Ok(tollgate_git::Trust::Given(policy));
    }
    if let Some(path) = &args.allowed_signers {
        let text = read(path)?;
        let policy = tollgate_git::TrustPolicy::from_allowed_signers(&text, &path.display().to_string())
            .map_err(|e| anyhow::anyhow!("invalid allowed_signers file: {e}"))?;
        return Ok(tollgate_git::Trust::Given(policy));
    }
    let path = config.signing_policy.clone().unwrap_or_else(|| ".tollgate/signers.yaml".to_owned());
    Ok(tollgate_git::Trust::BasePolicy(path.trim_start_matches("./").to_owned()))
}

/// `(base, head)` from `--range BASE..HEAD` or `--base REF`; in GitHub
/// Actions without either, the pull request's (or merge group's) base and
/// head from the event payload, else `origin/$GITHUB_BASE_REF..HEAD`.
/// Output formats of `tollgate diff`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DiffFormat {
    /// Unified diffs, as in the text report.
    Text,
    /// JSON (`roots`, each with its `objects`).
    Json,
    /// The job summary's collapsible sections.
    Markdown,
}

/// Output formats of `tollgate map`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum MapFormat {
    /// A Mermaid flowchart and a table.
    Markdown,
    /// One object per application and environment.
    Json,
    /// The Mermaid flowchart alone.
    Mermaid,
}

fn run_map(root: &Path, format: MapFormat, explicit: Option<&Path>, registry: &Registry) -> Result<ExitCode> {
    require_dir(root, "map")?;
    let config = load_config(root, explicit, registry)?;
    let options = CheckOptions {
        tracked: tollgate_git::tracked_paths(root),
        renderer: Some(std::sync::Arc::new(tollgate_kustomize::KustomizeRenderer {
            extra_roots: config.render_roots.clone(),
            reuse: None,
            files: None,
        })),
        ..CheckOptions::default()
    };
    let report = check(root, &config, registry, &options)?;
    let rows = tollgate::map::delivery_map(&report);
    let out = match format {
        MapFormat::Markdown => tollgate::map::markdown(&rows, "Delivery map"),
        MapFormat::Json => format!("{:#}\n", tollgate::map::json(&rows)),
        MapFormat::Mermaid => tollgate::map::mermaid(&rows),
    };
    print(&out)?;
    std::mem::forget(report);
    Ok(ExitCode::SUCCESS)
}

fn run_diff(range: &str, root: &Path, format: DiffFormat, registry: &Registry) -> Result<ExitCode> {
    require_dir(root, "read")?;
    let (base, head) = match range.split_once("..") {
        Some((base, head)) => (base, if head.is_empty() { "HEAD" } else { head }),
        None => (range, "HEAD"),
    };
    if base.is_empty() {
        bail!("`{range}` has no base: write `BASE..HEAD`, e.g. `origin/main..HEAD`");
    }
    // The base commit's configuration decides environments and renders.
    let config = match tollgate::base::read_base_guardrails(root, base, None, registry, (&[], &[], &[])) {
        Ok(g) => g.config,
        Err(tollgate::base::BaseError::InvalidConfig { base, problems }) => {
            let list = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
            bail!("the configuration of `{base}` is invalid:\n{list}")
        }
        Err(e) => bail!("{e}"),
    };
    let (base_model, base_files) = tollgate::diff::model_at(root, base, &config)?;
    let (head_model, head_files) = tollgate::diff::model_at(root, head, &config)?;
    let changed = tollgate::diff::changed_paths(&base_files, &head_files);
    let diff = tollgate::diff::rendered_diff(&base_model, &head_model, &changed, base, head);
    let format = match format {
        DiffFormat::Text => Format::Text,
        DiffFormat::Json => Format::Json,
        DiffFormat::Markdown => Format::Markdown,
    };
    let color = matches!(format, Format::Text)
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    print(&tollgate_report::render_diff(format, &diff, color))?;
    std::mem::forget((base_model, head_model));
    Ok(ExitCode::SUCCESS)
}

fn range_of(args: &CheckArgs) -> Result<Option<(String, String)>> {
    if let Some(base) = &args.base {
        return Ok(Some((base.clone(), "HEAD".to_owned())));
    }
    let Some(range) = &args.range else { return Ok(github_range()) };
    let (base, head) = range
        .split_once("...")
        .or_else(|| range.split_once(".."))
        .ok_or_else(|| anyhow::anyhow!("--range `{range}` is not `BASE..HEAD`"))?;
    if base.is_empty() {
        bail!("--range `{range}` has no base: write `BASE..HEAD`, e.g. `origin/main..HEAD`");
    }
    Ok(Some((base.to_owned(), if head.is_empty() { "HEAD".to_owned() } else { head.to_owned() })))
}

/// The range GitHub Actions gives a pull request or merge group run.
fn github_range() -> Option<(String, String)> {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return None;
    }
    let from_event = std::env::var_os("GITHUB_EVENT_PATH").and_then(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        let event: serde_json::Value = serde_json::from_str(&text).ok()?;
        let sha = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(pr) = event.get("pull_request") {
            return Some((sha(&pr["base"]["sha"])?, sha(&pr["head"]["sha"])?));
        }
        let group = event.get("merge_group")?;
        Some((sha(&group["base_sha"])?, sha(&group["head_sha"])?))
    });
    let range = from_event.or_else(|| {
        std::env::var("GITHUB_BASE_REF")
            .ok()
            .filter(|r| !r.is_empty())
            .map(|r| (format!("origin/{r}"), "HEAD".to_owned()))
    });
    if let Some((base, head)) = &range {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "tollgate: checking the pull request's range {base}..{head} (GitHub Actions)");
    }
    range
}

fn run_tests(dir: &Path, verbose: bool, cel: bool) -> Result<ExitCode> {
    require_dir(dir, "test")?;
    let mut out = String::new();
    let report = |kind: &str, outcomes: &[tollgate_rego::TestOutcome], out: &mut String| -> (usize, usize) {
        let passed = outcomes.iter().filter(|o| o.passed).count();
        for o in outcomes {
            match (&o.reason, o.passed) {
                (_, true) if verbose => out.push_str(&format!("PASS {}\n", o.name)),
                (_, true) => {}
                (reason, false) => {
                    out.push_str(&format!("FAIL {}: {}\n", o.name, reason.as_deref().unwrap_or("failed")));
                }
            }
        }
        if !outcomes.is_empty() {
            out.push_str(&format!("{kind}: {passed}/{} passed\n", outcomes.len()));
        }
        (passed, outcomes.len())
    };
    let rego = tollgate_rego::run_rego_tests(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    if verbose {
        // Policies loading rewrote so that regorus agrees with OPA.
        for file in tollgate_rego::rego_files(&[dir.to_path_buf()]).unwrap_or_default() {
            let rewrites = tollgate_rego::rewrites(&file.text);
            if !rewrites.is_empty() {
                out.push_str(&format!(
                    "note: {} is rewritten before evaluation, on the same lines, so that it runs as in OPA: {}\n",
                    file.path,
                    rewrites.join("; ")
                ));
            }
        }
    }
    let (mut passed, mut total) = report("rego unit tests", &rego, &mut out);
    let mut cases = Vec::new();
    for suite in tollgate_rego::find_suites(dir).map_err(|e| anyhow::anyhow!("{e}"))? {
        let run = if cel {
            tollgate_rego::run_gator_suite_cel(&suite)
                .and_then(|o| o.map_or_else(|| tollgate_rego::run_gator_suite(&suite), Ok))
        } else {
            tollgate_rego::run_gator_suite(&suite)
        };
        match run {
            Ok(c) => cases.extend(c),
            Err(e) => cases.push(tollgate_rego::TestOutcome {
                name: suite.display().to_string(),
                passed: false,
                reason: Some(e.to_string()),
            }),
        }
    }
    let (p, t) = report("gator suite cases", &cases, &mut out);
    passed += p;
    total += t;
    let mut kyverno = Vec::new();
    for file in tollgate_kyverno::find_kyverno_tests(dir) {
        let outcome = tollgate_kyverno::run_test_file(&file);
        let name = file.display().to_string();
        if let Some(e) = &outcome.error {
            kyverno.push(tollgate_rego::TestOutcome { name: name.clone(), passed: false, reason: Some(e.clone()) });
            continue;
        }
        for row in &outcome.rows {
            for (resource, case) in &row.cases {
                let case_name = format!("{name}: {}/{} {resource} (expected {})", row.policy, row.rule, row.expected);
                let (passed, reason) = match case {
                    tollgate_kyverno::CaseOutcome::Agree => (true, None),
                    tollgate_kyverno::CaseOutcome::Disagree(why) | tollgate_kyverno::CaseOutcome::Error(why) => {
                        (false, Some(why.replace('\n', " ")))
                    }
                    tollgate_kyverno::CaseOutcome::NotRun(why) => (false, Some(format!("NOT RUN: {why}"))),
                    tollgate_kyverno::CaseOutcome::NotApplicable => (
                        false,
                        Some("the rule does not select this resource, so the expectation tests nothing (the Kyverno CLI reports such rows as passing)".to_owned()),
                    ),
                };
                kyverno.push(tollgate_rego::TestOutcome { name: case_name, passed, reason });
            }
        }
    }
    let (p, t) = report("kyverno test cases", &kyverno, &mut out);
    if t > 0 {
        // The Kyverno CLI's closing line, for scripts that look for it.
        out.push_str(&format!("Test Summary: {p} tests passed and {} tests failed\n", t - p));
    }
    passed += p;
    total += t;
    if total == 0 {
        bail!(
            "no tests under `{}`: expected `*_test.rego` files, gator `suite.yaml` files or `kyverno-test.yaml` files",
            dir.display()
        );
    }
    out.push_str(&format!("{passed}/{total} tests passed\n"));
    print(&out)?;
    Ok(if passed == total { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn run_suppressions(root: &Path, explicit: Option<&Path>, registry: &Registry) -> Result<ExitCode> {
    require_dir(root, "read")?;
    let config = load_config(root, explicit, registry)?;
    let (model, _) = load_repository(root, &config, &Limits::default())?;
    let today = Date::today();
    let mut out = String::new();
    let mut count = 0;
    for file in &model.files {
        for s in &file.suppressions {
            count += 1;
            let mut problems = Vec::new();
            if s.rules.is_empty() {
                problems.push("names no rule".to_owned());
            }
            for id in &s.rules {
                match registry.get(id) {
                    None if !id.contains('.') && !id.contains('/') => problems.push(format!("unknown rule `{id}`")),
                    Some(r) if !r.meta.inline_suppression => {
                        problems.push(format!("`{id}` cannot be suppressed inline"));
                    }
                    _ => {}
                }
            }
            if s.reason.is_empty() {
                problems.push("no reason".to_owned());
            }
            let state =
                if problems.is_empty() { String::new() } else { format!("  [INVALID: {}]", problems.join(", ")) };
            out.push_str(&format!("{}:{}: ignore[{}] {}{state}\n", file.path, s.line, s.rules.join(","), s.reason));
        }
    }
    let source = config.source.clone().unwrap_or_else(|| ".tollgate.yaml".to_owned());
    for entry in &config.ignore {
        count += 1;
        let expires = entry.expires.map(|d| format!(" (expires {d})")).unwrap_or_default();
        let mut problems = Vec::new();
        if registry.get(&entry.rule).is_none() && !entry.rule.contains('.') && !entry.rule.contains('/') {
            problems.push(format!("unknown rule `{}`", entry.rule));
        }
        if entry.reason.is_empty() {
            problems.push("no reason".to_owned());
        }
        if entry.expires.is_some_and(|d| d < today) {
            problems.push("expired".to_owned());
        }
        let state = if problems.is_empty() { String::new() } else { format!("  [INVALID: {}]", problems.join(", ")) };
        out.push_str(&format!(
            "{source}:{}: ignore[{}] paths {} {}{expires}{state}\n",
            entry.span.start.line,
            entry.rule,
            entry.paths.join(","),
            entry.reason
        ));
    }
    out.push_str(&format!("{count} suppression{}\n", if count == 1 { "" } else { "s" }));
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}
