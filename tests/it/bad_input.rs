//! Hostile and broken input: each ends quickly with a clear finding or a
//! clear error, never a panic, a hang or a silent pass.

use std::time::{Duration, Instant};

use super::support::{TempRepo, stderr, stdout, tollgate};

/// Runs `check --format json` and returns (exit code, findings, elapsed).
fn run(repo: &TempRepo) -> (Option<i32>, Vec<serde_json::Value>, Duration) {
    let started = Instant::now();
    let out = tollgate(&repo.path, &["check", ".", "--format", "json"]);
    let elapsed = started.elapsed();
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("json ({e}): {}", stdout(&out)));
    (out.status.code(), v["findings"].as_array().cloned().unwrap_or_default(), elapsed)
}

fn single_parse_error(repo: &TempRepo, path: &str, needle: &str) {
    let (code, findings, elapsed) = run(repo);
    assert_eq!(code, Some(1));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    let f: Vec<_> = findings.iter().filter(|f| f["location"]["path"] == path).collect();
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["rule_id"], "parse-error");
    let message = f[0]["message"].as_str().unwrap_or("");
    assert!(message.contains(needle), "`{needle}` not in `{message}`");
}

#[test]
fn alias_bomb() {
    let repo = TempRepo::new("bomb");
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    repo.write("bomb.yaml", text);
    single_parse_error(&repo, "bomb.yaml", "alias bomb");
}

#[test]
fn deep_nesting() {
    let repo = TempRepo::new("deep");
    repo.write("deep.yaml", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    repo.write("deep.json", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    repo.write("deep-block.yaml", (0..5000).map(|i| format!("{}k:\n", " ".repeat(i))).collect::<String>());
    let (code, findings, elapsed) = run(&repo);
    assert_eq!(code, Some(1));
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(findings.iter().filter(|f| f["rule_id"] == "parse-error").count(), 3, "{findings:#?}");
}

#[test]
fn huge_file_is_a_finding_not_read() {
    let repo = TempRepo::new("huge");
    let f = std::fs::File::create(repo.join("huge.yaml")).expect("create");
    f.set_len(50 * 1024 * 1024).expect("50 MiB sparse file");
    single_parse_error(&repo, "huge.yaml", "over the 5242880-byte limit");
    repo.write(".tollgate.yaml", "limits: { max_file_size: 100 }\n");
    repo.write("small.yaml", "a: 1\n".repeat(30));
    let (_, findings, _) = run(&repo);
    assert!(findings.iter().any(|f| f["location"]["path"] == "small.yaml"
        && f["message"].as_str().is_some_and(|m| m.contains("150 bytes, over the 100-byte limit"))));
}

#[test]
fn invalid_utf8_names_the_place() {
    let repo = TempRepo::new("utf8");
    repo.write("latin1.yaml", b"name: ok\nnote: caf\xe9\n");
    single_parse_error(&repo, "latin1.yaml", "invalid UTF-8 at byte 18 (line 2, column 10)");
}

#[test]
fn binary_file_with_yaml_name() {
    let repo = TempRepo::new("binary");
    repo.write("image.yaml", [0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0xff, 0xfe]);
    single_parse_error(&repo, "image.yaml", "binary");
}

#[cfg(unix)]
#[test]
fn symlink_out_of_root_is_reported_not_followed() {
    let outside = TempRepo::new("outside");
    outside.write("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n");
    let repo = TempRepo::new("symlink");
    repo.write("apps/ok.yaml", "a: 1\n");
    std::os::unix::fs::symlink(outside.join("secret.yaml"), repo.join("apps/linked.yaml")).expect("symlink");
    std::os::unix::fs::symlink(&outside.path, repo.join("linked-dir")).expect("dir symlink");
    std::os::unix::fs::symlink(repo.join("apps/ok.yaml"), repo.join("inside.yaml")).expect("inner symlink");
    let (code, findings, _) = run(&repo);
    assert_eq!(code, Some(1));
    let paths: Vec<&str> = findings.iter().filter_map(|f| f["location"]["path"].as_str()).collect();
    assert_eq!(paths, vec!["apps/linked.yaml", "linked-dir"], "{findings:#?}");
    assert!(findings.iter().all(|f| f["rule_id"] == "parse-error"
        && f["message"].as_str().is_some_and(|m| m.contains("leaves the repository root"))));
    // The content behind the link was not read.
    assert!(!findings.iter().any(|f| f["rule_id"] == "plaintext-secret"));
}

#[cfg(unix)]
#[test]
fn unreadable_files_are_findings() {
    use std::os::unix::fs::PermissionsExt;
    let repo = TempRepo::new("unreadable");
    repo.write("locked.yaml", "a: 1\n");
    std::fs::set_permissions(repo.join("locked.yaml"), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    // A FIFO would block a naive reader forever; root can read mode-000 files, a FIFO it cannot.
    let fifo = std::process::Command::new("mkfifo").arg(repo.join("pipe.yaml")).status();
    let (code, findings, elapsed) = run(&repo);
    assert!(elapsed < Duration::from_secs(3));
    let running_as_root = std::fs::read(repo.join("locked.yaml")).is_ok();
    if !running_as_root {
        assert!(
            findings.iter().any(|f| f["location"]["path"] == "locked.yaml" && f["rule_id"] == "parse-error"),
            "{findings:#?}"
        );
    }
    if fifo.is_ok_and(|s| s.success()) {
        assert_eq!(code, Some(1));
        assert!(
            findings.iter().any(|f| f["location"]["path"] == "pipe.yaml"
                && f["message"].as_str().is_some_and(|m| m.contains("not a regular file"))),
            "{findings:#?}"
        );
    } else {
        super::support::skip("mkfifo unavailable; FIFO case not exercised");
    }
    std::fs::set_permissions(repo.join("locked.yaml"), std::fs::Permissions::from_mode(0o644)).expect("chmod back");
}

#[test]
fn an_unreadable_config_says_its_cause_once() {
    let repo = TempRepo::new("missing-config");
    repo.write("a.yaml", "a: 1\n");
    let missing = repo.join("nowhere/config.yaml");
    let out = tollgate(&repo.path, &["check", "--config", &missing.display().to_string(), "."]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot read"), "{err}");
    // The operating system's words for the cause, once.
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}
