//! The pre-commit hook, run by the real `pre-commit` (`pre-commit try-repo`)
//! against a temporary repository: a bad commit is refused with tollgate's
//! message, a good one passes. pre-commit is the one on `PATH`, else installed
//! into `target/test-tools/venv`; without either the test prints a notice and
//! skips outside CI, and fails in CI.

use std::process::Command;

use super::support::{TempRepo, git, governed, workspace};

#[test]
fn pre_commit_refuses_a_bad_commit_and_accepts_a_good_one() {
    let Some(pre_commit) = super::support::python_tool("pre-commit", "pre-commit") else {
        super::support::skip("pre-commit is not installed and could not be installed; hook test skipped");
        return;
    };
    let repo = TempRepo::new("pre-commit");
    if !git(&repo.path, &["init", "-q"]).status.success() {
        super::support::skip("git is not available; hook test skipped");
        return;
    }
    governed(&repo);
    repo.write(
        "apps/prod/web.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n",
    );
    assert!(git(&repo.path, &["add", "-A"]).status.success());
    // pre-commit builds the hook with `cargo install`; keep that build quick and cached.
    let target = workspace().join("target/pre-commit");
    let run = || {
        Command::new(&pre_commit)
            .args(["try-repo"])
            .arg(workspace())
            .args(["tollgate", "--verbose"])
            .current_dir(&repo.path)
            .env("PRE_COMMIT_HOME", workspace().join("target/pre-commit-home"))
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .output()
            .expect("pre-commit runs")
    };
    let bad = run();
    let text = format!("{}{}", String::from_utf8_lossy(&bad.stdout), String::from_utf8_lossy(&bad.stderr));
    assert!(!bad.status.success(), "the bad change must be refused:\n{text}");
    assert!(text.contains("error[plaintext-secret]: Secret `db` has plaintext `stringData`"), "{text}");
    repo.write(
        "apps/prod/web.yaml",
        "apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: db}\nspec:\n  secretStoreRef: {kind: ClusterSecretStore, name: vault}\n",
    );
    assert!(git(&repo.path, &["add", "-A"]).status.success());
    let good = run();
    let text = format!("{}{}", String::from_utf8_lossy(&good.stdout), String::from_utf8_lossy(&good.stderr));
    assert!(good.status.success(), "the good change must pass:\n{text}");
}
