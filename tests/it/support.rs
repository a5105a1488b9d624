//! Helpers: temporary repositories and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory removed on drop.
pub(crate) struct TempRepo {
    pub(crate) path: PathBuf,
}

impl TempRepo {
    pub(crate) fn new(name: &str) -> TempRepo {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("tollgate-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp repo");
        TempRepo { path }
    }

    pub(crate) fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &TempRepo {
        let p = self.path.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    pub(crate) fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The workspace root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().expect("workspace root")
}

/// Runs `tollgate` with arguments; the working directory is `cwd`.
pub(crate) fn tollgate(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .output()
        .expect("run tollgate")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A Deployment using `image`.
pub(crate) fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: {image}\n"
    )
}

/// Makes `repo` a governed repository: every file owned, and a complete
/// ruleset for the default branch, so that tests see only the findings they
/// are about.
pub(crate) fn governed(repo: &TempRepo) {
    repo.write(".github/CODEOWNERS", "* @acme/platform\n");
    repo.write(
        ".github/rulesets/main.json",
        r#"{"name": "main", "target": "branch", "enforcement": "active",
  "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
  "rules": [{"type": "pull_request", "parameters": {"required_approving_review_count": 1, "require_code_owner_review": true, "dismiss_stale_reviews_on_push": true}},
            {"type": "required_signatures"}],
  "bypass_actors": []}
"#,
    );
}

/// git in `dir` with a fixed identity and no signing (unless the arguments
/// turn it on), isolated from the user's and the system's configuration.
pub(crate) fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    cmd
}

/// Runs [`git_command`] with `args`.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Output {
    git_command(dir).args(args).output().expect("git can be started")
}

/// The peers' conformance corpora: `$TOLLGATE_CONFORMANCE`, else
/// `../shared/conformance` beside the workspace.
pub(crate) fn conformance_dir() -> PathBuf {
    std::env::var_os("TOLLGATE_CONFORMANCE").map_or_else(|| workspace().join("../shared/conformance"), PathBuf::from)
}

/// `(N, M)` of the `NAME...: N/M agree` line of `tollgate conformance`.
pub(crate) fn agreement(text: &str, name: &str) -> (u64, u64) {
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"));
    let counts = line.rsplit(": ").next().and_then(|c| c.strip_suffix(" agree")).expect("N/M agree");
    let (n, m) = counts.split_once('/').expect("N/M");
    (n.parse().expect("N"), m.parse().expect("M"))
}

/// A corpus or tool a test needs is missing: outside CI the test prints a
/// notice and skips; in CI (`CI=true`) it fails, so that a missing corpus
/// or tool never passes as a skip.
#[track_caller]
pub(crate) fn skip(notice: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "required in CI: {notice}");
    // Written to the process's stderr directly: the test harness captures
    // `println!` and `eprintln!`, so a notice there is never seen and a
    // skipped test looks like a passing one.
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("notice: {notice} (this test checked nothing)\n").as_bytes(),
    );
}

/// A Python command-line tool the tests need (`pre-commit`, `zizmor`,
/// `actionlint`): the one on `PATH` when it runs, else the one in the tests'
/// own virtual environment under `target/test-tools/venv`, installed there
/// with pip on first use. Nothing is installed into the user's Python.
/// `None` when neither works (offline, no `python3 -m venv`); the caller
/// then [`skip`]s, which fails in CI.
pub(crate) fn python_tool(name: &str, package: &str) -> Option<PathBuf> {
    let works = |p: &Path| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success());
    if works(Path::new(name)) {
        return Some(PathBuf::from(name));
    }
    let tool = workspace().join(TEST_VENV).join("bin").join(name);
    test_venv_install(&[package], &|| works(&tool)).then_some(tool)
}

/// The Python of the tests' own virtual environment with `module`
/// importable, `package` installed there with pip (and `pip_args`) on first
/// use; `None` when that fails (the caller then [`skip`]s, which fails in
/// CI). The Go OPA engine is such a module: OPA as a shared library, from
/// PyPI's `opa-golib-python-bindings`, the peer the Rego rewrites are
/// checked against.
pub(crate) fn python_module(module: &str, package: &str, pip_args: &[&str]) -> Option<PathBuf> {
    let python = workspace().join(TEST_VENV).join("bin/python");
    let imports =
        || Command::new(&python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
    let mut args = pip_args.to_vec();
    args.push(package);
    test_venv_install(&args, &imports).then_some(python)
}

/// The tests' virtual environment, under the workspace.
const TEST_VENV: &str = "target/test-tools/venv";

/// Makes the tests' virtual environment and `pip install`s `args` there,
/// unless `ready` already holds; whether `ready` holds after.
fn test_venv_install(args: &[&str], ready: &dyn Fn() -> bool) -> bool {
    static VENV: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // One installer at a time: the tests run in parallel threads.
    let _guard = VENV.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if ready() {
        return true;
    }
    let venv = workspace().join(TEST_VENV);
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output();
        if !made.is_ok_and(|o| o.status.success()) {
            return false;
        }
    }
    let installed = Command::new(&pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    installed && ready()
}
