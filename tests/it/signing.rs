//! Commit signatures on repositories and keys built by the test: SSH keys
//! from `ssh-keygen`, OpenPGP keys from `gpg` and from sequoia (for keys that
//! expire at chosen times); every verdict cross-checked with `git
//! verify-commit` configured with the same keys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use openpgp::cert::CertBuilder;
use openpgp::packet::signature::SignatureBuilder;
use openpgp::policy::StandardPolicy;
use openpgp::serialize::{Marshal, SerializeInto};
use openpgp::types::SignatureType;
use sequoia_openpgp as openpgp;

use super::support::{TempRepo, git_command, governed, stderr, stdout, tollgate};

/// 2026-01-01T00:00:00Z: commit times are fixed, so verdicts about key
/// validity do not depend on the day the test runs.
const T0: i64 = 1_767_225_600;

struct Lab {
    repo: TempRepo,
    gnupghome: PathBuf,
    /// Commit summary → id.
    commits: BTreeMap<String, String>,
    clock: i64,
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command can be started")
}

/// Whether `tool` can be started at all (ssh-keygen has no `--version`).
fn spawns(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Author and committer `name <name@example.com>`, at `date` (`@secs +0000`) when given.
fn identity<'a>(cmd: &'a mut Command, name: &str, date: Option<&str>) -> &'a mut Command {
    let email = format!("{}@example.com", name.to_lowercase());
    cmd.env("GIT_AUTHOR_NAME", name)
        .env("GIT_AUTHOR_EMAIL", &email)
        .env("GIT_COMMITTER_NAME", name)
        .env("GIT_COMMITTER_EMAIL", &email);
    if let Some(date) = date {
        cmd.env("GIT_AUTHOR_DATE", date).env("GIT_COMMITTER_DATE", date);
    }
    cmd
}

impl Lab {
    fn git(&self, extra: &[&str], args: &[&str]) -> Output {
        let out = run(git_command(&self.repo.path).args(extra).args(args).env("GNUPGHOME", &self.gnupghome));
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn head(&self) -> String {
        String::from_utf8_lossy(&self.git(&[], &["rev-parse", "HEAD"]).stdout).trim().to_owned()
    }

    /// Writes `path` and commits it as `author`, signed with `sign` (git `-c`
    /// options), at the next tick of the clock.
    fn commit(&mut self, files: &[(&str, &str)], author: &str, sign: &[&str], summary: &str) -> String {
        for (path, content) in files {
            self.repo.write(path, content);
        }
        self.git(&[], &["add", "-A"]);
        self.clock += 60;
        let date = format!("@{} +0000", self.clock);
        let signed = !sign.is_empty();
        let mut args = vec!["commit", "-q", "--allow-empty", "-m", summary];
        if signed {
            args.push("-S");
        }
        let out = run(identity(
            git_command(&self.repo.path).args(sign).args(&args).env("GNUPGHOME", &self.gnupghome),
            author,
            Some(&date),
        ));
        assert!(out.status.success(), "commit {summary}: {}", String::from_utf8_lossy(&out.stderr));
        let id = self.head();
        self.commits.insert(summary.to_owned(), id.clone());
        id
    }

    /// Replaces HEAD by the same commit with `signature` (armored) in its
    /// `gpgsig` header, the way git writes it.
    fn replace_head_signature(&mut self, summary: &str, sign: impl FnOnce(&[u8]) -> String) {
        let raw = self.git(&[], &["cat-file", "commit", "HEAD"]).stdout;
        let text = String::from_utf8(raw).expect("utf-8 commit");
        let (header, message) = text.split_once("\n\n").expect("commit header");
        let unsigned: String =
            header.lines().filter(|l| !l.starts_with("gpgsig") && !l.starts_with(' ')).collect::<Vec<_>>().join("\n");
        let payload = format!("{unsigned}\n\n{message}");
        let armored = sign(payload.as_bytes());
        let folded = armored.trim_end().replace('\n', "\n ");
        let signed = format!("{unsigned}\ngpgsig {folded}\n\n{message}");
        let id = self.hash_commit(&signed);
        self.git(&[], &["update-ref", "HEAD", &id]);
        self.commits.insert(summary.to_owned(), id);
    }

    fn hash_commit(&self, text: &str) -> String {
        let mut child = git_command(&self.repo.path)
            .args(["hash-object", "-t", "commit", "-w", "--stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("git hash-object");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), text.as_bytes()).expect("write commit");
        let out = child.wait_with_output().expect("hash-object");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// An SSH key pair: (private key path, public key line).
fn ssh_key(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let out =
        run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C"]).arg(name).arg("-f").arg(&path));
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
    let line = public.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    (path.display().to_string(), line)
}

/// A gpg key in `home`: its fingerprint and armored certificate.
fn gpg_key(home: &Path, uid: &str) -> (String, String) {
    let gpg = |args: &[&str]| run(Command::new("gpg").args(["--batch", "--quiet"]).args(args).env("GNUPGHOME", home));
    let out = gpg(&["--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"]);
    assert!(out.status.success(), "gpg: {}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8_lossy(&gpg(&["--with-colons", "--list-keys", uid]).stdout).into_owned();
    let fpr =
        listing.lines().find_map(|l| l.strip_prefix("fpr:")).map(|l| l.trim_matches(':').to_owned()).expect("fpr");
    let armored = String::from_utf8_lossy(&gpg(&["--armor", "--export", &fpr]).stdout).into_owned();
    (fpr, armored)
}

/// An OpenPGP key made in Rust, valid from `created` for `valid_for`.
fn sequoia_key(uid: &str, created: i64, valid_for: Duration) -> openpgp::Cert {
    let at = UNIX_EPOCH + Duration::from_secs(created as u64);
    CertBuilder::new()
        .add_userid(uid)
        .set_creation_time(at)
        .set_validity_period(valid_for)
        .add_signing_subkey()
        .generate()
        .expect("generate key")
        .0
}

/// A detached, armored signature by `cert` over `payload`, made at `time`.
fn sequoia_sign(cert: &openpgp::Cert, payload: &[u8], time: i64) -> String {
    let policy = StandardPolicy::new();
    let created = cert.primary_key().key().creation_time();
    let key = cert
        .keys()
        .unencrypted_secret()
        .with_policy(&policy, created)
        .for_signing()
        .next()
        .expect("signing key")
        .key()
        .clone();
    let mut pair = key.into_keypair().expect("key pair");
    let sig = SignatureBuilder::new(SignatureType::Binary)
        .set_signature_creation_time(UNIX_EPOCH + Duration::from_secs(time as u64))
        .expect("time")
        .sign_message(&mut pair, payload)
        .expect("sign");
    let mut out = Vec::new();
    {
        let mut w = openpgp::armor::Writer::new(&mut out, openpgp::armor::Kind::Signature).expect("armor");
        openpgp::Packet::from(sig).serialize(&mut w).expect("serialize");
        w.finalize().expect("finalize");
    }
    String::from_utf8(out).expect("armor is text")
}

fn armored_cert(cert: &openpgp::Cert) -> String {
    String::from_utf8(cert.armored().to_vec().expect("armor")).expect("armor is text")
}

const PROD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {replicas: \"3\"}\n";

/// Verdicts by commit summary from the JSON report: the rule of the finding
/// about each commit (`trusted` when none).
fn verdicts(report: &serde_json::Value, commits: &BTreeMap<String, String>) -> BTreeMap<String, Vec<String>> {
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        if let Some(id) = f["commit"]["id"].as_str() {
            by_id.entry(id.to_owned()).or_default().push(f["rule_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    commits
        .iter()
        .map(|(summary, id)| (summary.clone(), by_id.get(id).cloned().unwrap_or_else(|| vec!["trusted".to_owned()])))
        .collect()
}

#[test]
fn every_commit_of_the_range_is_judged_by_the_base_policy() {
    if !spawns("git") || !spawns("ssh-keygen") {
        super::support::skip("git or ssh-keygen is not available; signing tests skipped");
        return;
    }
    let gpg = spawns("gpg");
    if !gpg {
        super::support::skip(
            "gpg is not available; the gpg-made key and the git verify-commit cross-check are skipped",
        );
    }
    let repo = TempRepo::new("signing");
    let keys = repo.join("../").join(format!("{}-keys", repo.path.file_name().and_then(|n| n.to_str()).unwrap_or("k")));
    let gnupghome = keys.join("gnupg");
    std::fs::create_dir_all(&gnupghome).expect("gnupg home");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gnupghome, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    std::fs::write(gnupghome.join("gpg.conf"), "pinentry-mode loopback\nbatch\nno-tty\n").expect("gpg.conf");
    std::fs::write(gnupghome.join("gpg-agent.conf"), "allow-loopback-pinentry\n").expect("gpg-agent.conf");
    let mut lab = Lab { repo, gnupghome: gnupghome.clone(), commits: BTreeMap::new(), clock: T0 };

    let (alice_key, alice_pub) = ssh_key(&keys, "alice");
    let (bot_key, bot_pub) = ssh_key(&keys, "bot");
    let (mallory_key, mallory_pub) = ssh_key(&keys, "mallory");
    // Eve's key expired a day before the change; Frank's expires an hour
    // after his commit (valid when he signed, expired now).
    let eve = sequoia_key("Eve <eve@example.com>", T0 - 10 * 86_400, Duration::from_hours(24));
    let frank = sequoia_key("Frank <frank@example.com>", T0 - 3600, Duration::from_hours(2));
    // Ivan's key was compromised and revoked: no signature of it is trusted.
    let ivan = sequoia_key("Ivan <ivan@example.com>", T0 - 86_400, Duration::from_hours(24 * 365));
    let ivan_revoked = {
        let mut primary = ivan
            .primary_key()
            .key()
            .clone()
            .parts_into_secret()
            .expect("secret primary")
            .into_keypair()
            .expect("key pair");
        let revocation = ivan
            .revoke(&mut primary, openpgp::types::ReasonForRevocation::KeyCompromised, b"laptop stolen")
            .expect("revoke");
        ivan.clone().insert_packets(revocation).expect("insert").0
    };
    let bob = gpg.then(|| gpg_key(&gnupghome, "Bob <bob@example.com>"));

    // main: the policy and the files.
    lab.git(&[], &["init", "-q"]);
    governed(&lab.repo);
    let mut policy = format!(
        "signers:\n  - name: alice\n    ssh: [\"{alice_pub}\"]\n  - name: image-bot\n    ssh: [\"{bot_pub}\"]\n    paths: [\"dev/**\"]\n  - name: eve\n    openpgp: [keys/eve.asc]\n  - name: frank\n    openpgp: [keys/frank.asc]\n  - name: ivan\n    openpgp: [keys/ivan.asc]\n"
    );
    lab.repo.write(".tollgate/keys/eve.asc", armored_cert(&eve));
    lab.repo.write(".tollgate/keys/frank.asc", armored_cert(&frank));
    lab.repo.write(".tollgate/keys/ivan.asc", armored_cert(&ivan_revoked));
    if let Some((_, cert)) = &bob {
        policy.push_str("  - name: bob\n    openpgp: [keys/bob.asc]\n");
        lab.repo.write(".tollgate/keys/bob.asc", cert);
    }
    lab.repo.write(".tollgate/signers.yaml", &policy);
    lab.repo.write("prod/app.yaml", PROD);
    lab.repo.write("dev/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dev}\n");
    lab.git(&[], &["add", "-A"]);
    lab.git(&[], &["commit", "-q", "-m", "base"]);
    lab.git(&[], &["checkout", "-q", "-b", "change"]);
    lab.commits.clear();

    let ssh = |key: &str| {
        vec!["-c".to_owned(), "gpg.format=ssh".to_owned(), "-c".to_owned(), format!("user.signingkey={key}")]
    };
    let (alice, bot, mallory) = (ssh(&alice_key), ssh(&bot_key), ssh(&mallory_key));
    let unsigned: Vec<String> = Vec::new();
    let commit = |lab: &mut Lab, files: &[(&str, &str)], who: &str, sign: &[String], summary: &str| {
        let sign: Vec<&str> = sign.iter().map(String::as_str).collect();
        lab.commit(files, who, &sign, summary)
    };

    commit(&mut lab, &[("prod/app.yaml", &PROD.replace('3', "4"))], "Alice", &alice, "alice changes prod");
    commit(
        &mut lab,
        &[("dev/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dev2}\n")],
        "Dave",
        &unsigned,
        "dave unsigned",
    );
    commit(&mut lab, &[("dev/b.yaml", "a: 1\n")], "Mallory", &mallory, "mallory untrusted key");
    commit(&mut lab, &[("prod/app.yaml", &PROD.replace('3', "5"))], "Bot", &bot, "bot changes prod");
    commit(&mut lab, &[("dev/c.yaml", "a: 1\n")], "Bot", &bot, "bot changes dev");
    commit(&mut lab, &[("dev/d.yaml", "a: 1\n")], "Eve", &unsigned, "eve expired key");
    let when = lab.clock;
    lab.replace_head_signature("eve expired key", |p| sequoia_sign(&eve, p, when));
    lab.clock = T0 - 3600 + 60;
    commit(&mut lab, &[("dev/f.yaml", "a: 1\n")], "Frank", &unsigned, "frank key valid when signed");
    let when = lab.clock;
    lab.replace_head_signature("frank key valid when signed", |p| sequoia_sign(&frank, p, when));
    lab.clock = T0 + 3600;
    commit(&mut lab, &[("dev/i.yaml", "a: 1\n")], "Ivan", &unsigned, "ivan revoked key");
    let when = lab.clock;
    lab.replace_head_signature("ivan revoked key", |p| sequoia_sign(&ivan, p, when));
    if let Some((fpr, _)) = &bob {
        let sign =
            vec!["-c".to_owned(), "gpg.format=openpgp".to_owned(), "-c".to_owned(), format!("user.signingkey={fpr}")];
        commit(&mut lab, &[("dev/g.yaml", "a: 1\n")], "Bob", &sign, "bob gpg");
    }
    // A commit signed by alice, then rewritten: its signature no longer matches.
    commit(&mut lab, &[("dev/h.yaml", "a: 1\n")], "Alice", &alice, "alice before tampering");
    let raw = String::from_utf8(lab.git(&[], &["cat-file", "commit", "HEAD"]).stdout).expect("utf-8");
    let tampered = lab.hash_commit(&raw.replace("alice before tampering", "alice tampered"));
    lab.git(&[], &["update-ref", "HEAD", &tampered]);
    lab.git(&[], &["reset", "-q", "--hard", "HEAD"]);
    lab.commits.remove("alice before tampering");
    lab.commits.insert("alice tampered".to_owned(), tampered);
    // The change trusts its own key: policy edited, then signed with that key.
    let own = format!("{policy}  - name: mallory\n    ssh: [\"{mallory_pub}\"]\n");
    commit(&mut lab, &[(".tollgate/signers.yaml", &own)], "Mallory", &mallory, "mallory trusts herself");
    commit(&mut lab, &[("prod/app.yaml", &PROD.replace('3', "9"))], "Mallory", &mallory, "mallory with her own policy");
    // A side branch merged with a signed merge commit.
    lab.git(&[], &["checkout", "-q", "-b", "side", "main"]);
    commit(&mut lab, &[("dev/side.yaml", "a: 1\n")], "Alice", &alice, "alice on a side branch");
    lab.git(&[], &["checkout", "-q", "change"]);
    lab.clock += 60;
    let date = format!("@{} +0000", lab.clock);
    let merge = run(identity(
        git_command(&lab.repo.path)
            .args(["-c", "gpg.format=ssh", "-c", &format!("user.signingkey={alice_key}")])
            .args(["merge", "-q", "--no-ff", "-S", "-m", "alice merges side", "side"]),
        "Alice",
        Some(&date),
    ));
    assert!(merge.status.success(), "merge: {}", String::from_utf8_lossy(&merge.stderr));
    let merge_id = lab.head();
    lab.commits.insert("alice merges side".to_owned(), merge_id);

    let out = tollgate(&lab.repo.path, &["check", ".", "--format", "json", "--range", "main..change"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json report");
    let got = verdicts(&report, &lab.commits);
    let mut expected: BTreeMap<String, Vec<String>> = [
        ("alice changes prod", "trusted"),
        ("dave unsigned", "unsigned-commit"),
        ("mallory untrusted key", "untrusted-signer"),
        ("bot changes prod", "signer-not-authorized"),
        ("bot changes dev", "trusted"),
        ("eve expired key", "untrusted-signer"),
        ("frank key valid when signed", "trusted"),
        ("ivan revoked key", "untrusted-signer"),
        ("alice tampered", "bad-signature"),
        ("mallory trusts herself", "untrusted-signer"),
        ("mallory with her own policy", "untrusted-signer"),
        ("alice on a side branch", "trusted"),
        ("alice merges side", "trusted"),
    ]
    .into_iter()
    .map(|(s, v)| (s.to_owned(), vec![v.to_owned()]))
    .collect();
    if bob.is_some() {
        expected.insert("bob gpg".to_owned(), vec!["trusted".to_owned()]);
    }
    assert_eq!(got, expected, "{report:#}");

    // Messages: full id, author, signer fingerprint, the file for paths.
    let find = |rule: &str| {
        report["findings"].as_array().expect("findings").iter().find(|f| f["rule_id"] == rule).cloned().expect(rule)
    };
    let not_authorized = find("signer-not-authorized");
    assert_eq!(not_authorized["location"]["path"], "prod/app.yaml");
    let bot_commit = &lab.commits["bot changes prod"];
    let message = not_authorized["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(bot_commit.as_str()) && message.contains("`image-bot` may only change `dev/**`"),
        "{message}"
    );
    assert!(not_authorized["commit"]["signer"].as_str().is_some_and(|s| s.starts_with("SHA256:")));
    let unsigned = find("unsigned-commit");
    assert_eq!(unsigned["commit"]["author"], "Dave <dave@example.com>");
    assert_eq!(unsigned["location"]["path"], "dev/app.yaml");
    let expired = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["commit"]["id"] == lab.commits["eve expired key"].as_str())
        .expect("eve's finding");
    let message = expired["message"].as_str().unwrap_or_default();
    assert!(message.contains("expired") || message.contains("not valid at"), "{message}");
    let revoked = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["commit"]["id"] == lab.commits["ivan revoked key"].as_str())
        .expect("ivan's finding");
    assert!(revoked["message"].as_str().unwrap_or_default().contains("revoked"), "{revoked:#}");
    let own = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["commit"]["id"] == lab.commits["mallory with her own policy"].as_str())
        .expect("mallory's finding");
    assert!(
        own["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is not in the trust policy `main:.tollgate/signers.yaml`")
    );
    // SARIF carries the commit id.
    let sarif = tollgate(&lab.repo.path, &["check", ".", "--format", "sarif", "--range", "main..change"]);
    let validator = jsonschema::validator_for(&super::outputs::sarif_schema()).expect("schema compiles");
    let sarif = super::outputs::assert_valid_sarif(&validator, &stdout(&sarif));
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    assert!(results.iter().any(|r| r["ruleId"] == "unsigned-commit"
        && r["properties"]["commit"] == lab.commits["dave unsigned"].as_str()
        && r["properties"]["author"] == "Dave <dave@example.com>"));

    // After the policy change is merged, mallory's key is trusted for later changes.
    let base = String::from_utf8_lossy(&lab.git(&[], &["rev-parse", "main"]).stdout).trim().to_owned();
    lab.git(&[], &["checkout", "-q", "main"]);
    lab.git(&[], &["checkout", "-q", "change", "--", ".tollgate/signers.yaml"]);
    lab.git(&[], &["commit", "-q", "-m", "trust mallory (reviewed)"]);
    lab.git(&[], &["checkout", "-q", "-b", "later"]);
    lab.commits.clear();
    commit(&mut lab, &[("dev/later.yaml", "a: 1\n")], "Mallory", &mallory, "mallory after review");
    let out = tollgate(&lab.repo.path, &["check", ".", "--format", "json", "--base", "main"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(verdicts(&report, &lab.commits)["mallory after review"], vec!["trusted".to_owned()], "{report:#}");

    // --allowed-signers (git's format) instead of the policy: only alice.
    let allowed = keys.join("allowed_signers");
    std::fs::write(&allowed, format!("alice@example.com namespaces=\"git\" {alice_pub}\n")).expect("allowed_signers");
    lab.git(&[], &["checkout", "-q", "change"]);
    lab.commits.clear();
    lab.commits.insert("alice changes prod".to_owned(), String::new());
    let out = tollgate(
        &lab.repo.path,
        &[
            "check",
            ".",
            "--format",
            "json",
            "--range",
            "main..change",
            "--allowed-signers",
            &allowed.display().to_string(),
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["commit"].is_object())
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    // The bot's two commits, mallory's three, eve's, frank's and ivan's: untrusted.
    assert_eq!(
        rules.iter().filter(|r| **r == "untrusted-signer").count(),
        8 + usize::from(bob.is_some()),
        "{report:#}"
    );
    assert!(!rules.contains(&"signer-not-authorized"));

    if gpg {
        cross_check_with_git(
            &lab,
            &base,
            &keys,
            &alice_pub,
            &bot_pub,
            &[&eve, &frank],
            bob.as_ref().map(|b| b.1.as_str()),
        );
    }
    let _ = run(Command::new("gpgconf").args(["--kill", "gpg-agent"]).env("GNUPGHOME", &gnupghome));
    let _ = std::fs::remove_dir_all(&keys);
}

/// `git verify-commit` with the same keys agrees with every verdict, except
/// where tollgate judges a key at signing time and gpg at verification time
/// (Frank's key expired after he signed: gpg says EXPKEYSIG).
fn cross_check_with_git(
    lab: &Lab,
    base: &str,
    keys: &Path,
    alice: &str,
    bot: &str,
    certs: &[&openpgp::Cert],
    bob: Option<&str>,
) {
    let home = keys.join("verify-gnupg");
    std::fs::create_dir_all(&home).expect("verify home");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let import = |armored: &str| {
        let mut child = Command::new("gpg")
            .args(["--batch", "--quiet", "--import"])
            .env("GNUPGHOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gpg");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), armored.as_bytes()).expect("import");
        child.wait().expect("gpg import");
    };
    for cert in certs {
        import(&armored_cert(cert));
    }
    if let Some(bob) = bob {
        import(bob);
    }
    let allowed = keys.join("verify_allowed_signers");
    std::fs::write(&allowed, format!("alice@example.com {alice}\nbot@example.com {bot}\n")).expect("allowed");
    lab.git(&[], &["checkout", "-q", "change"]);
    let range = format!("{base}..change");
    let out = tollgate(&lab.repo.path, &["check", ".", "--format", "json", "--range", &range]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    // Summary → id of every commit of the range, in one `git log`.
    let log = String::from_utf8_lossy(&lab.git(&[], &["log", "--format=%H %s", &range]).stdout).into_owned();
    let commits: BTreeMap<String, String> =
        log.lines().filter_map(|l| l.split_once(' ')).map(|(id, s)| (s.to_owned(), id.to_owned())).collect();
    let ours = verdicts(&report, &commits);
    let mut agree = 0;
    let mut compared = 0;
    for (summary, verdict) in &ours {
        let id = &commits[summary];
        let git = run(git_command(&lab.repo.path)
            .args(["-c", &format!("gpg.ssh.allowedSignersFile={}", allowed.display()), "verify-commit", id])
            .env("GNUPGHOME", &home));
        let git_valid = git.status.success();
        // A valid signature by an authorized or not-authorized-for-this-path signer is valid to git.
        let ours_valid = verdict.iter().all(|v| v == "trusted" || v == "signer-not-authorized");
        if summary == "frank key valid when signed" {
            assert!(ours_valid && !git_valid, "frank: tollgate judges at signing time, gpg now");
            continue;
        }
        compared += 1;
        if git_valid == ours_valid {
            agree += 1;
        } else {
            panic!("{summary}: tollgate {verdict:?}, git verify-commit {}", String::from_utf8_lossy(&git.stderr));
        }
    }
    println!("signatures: {agree}/{compared} verdicts agree with git verify-commit");
    assert!(compared >= 10);
    let _ = run(Command::new("gpgconf").args(["--kill", "gpg-agent"]).env("GNUPGHOME", &home));
}

#[test]
fn invalid_or_missing_policy_trusts_nobody() {
    if !spawns("git") {
        super::support::skip("git is not available; signing tests skipped");
        return;
    }
    let repo = TempRepo::new("no-policy");
    let git = |args: &[&str]| assert!(super::support::git(&repo.path, args).status.success(), "git {args:?}");
    git(&["init", "-q"]);
    governed(&repo);
    repo.write("prod/app.yaml", PROD);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    let keys = TempRepo::new("no-policy-keys");
    let (key, public) = ssh_key(&keys.path, "alice");
    let signed = |summary: &str, file: &str| {
        repo.write(file, "a: 1\n");
        git(&["add", "-A"]);
        let signing = format!("user.signingkey={key}");
        let out = run(identity(
            git_command(&repo.path).args(["-c", "gpg.format=ssh", "-c", &signing, "commit", "-q", "-S", "-m", summary]),
            "A",
            None,
        ));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    signed("signed without a policy", "dev/a.yaml");
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--base", "HEAD~1"]);
    let text = stdout(&out);
    assert!(
        text.contains("untrusted-signer")
            && text.contains("there is no trust policy at `HEAD~1:.tollgate/signers.yaml`"),
        "{text}"
    );
    // An invalid policy at the base: the reason names file, line and column.
    repo.write(
        ".tollgate/signers.yaml",
        format!("signers:\n  - name: alice\n    ssh: [\"{public}\"]\n    path: [\"**\"]\n"),
    );
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "bad policy"]);
    signed("signed under a bad policy", "dev/b.yaml");
    let out = tollgate(&repo.path, &["check", ".", "--format", "json", "--base", "HEAD~1"]);
    let text = stdout(&out);
    assert!(text.contains("HEAD~1:.tollgate/signers.yaml:4:5: unknown key `path`"), "{text}");
    // A bad --signers file is a usage error (exit 2) naming the line.
    let bad = keys.join("signers.yaml");
    std::fs::write(&bad, "signers:\n  - name: x\n").expect("write");
    let out = tollgate(&repo.path, &["check", ".", "--base", "HEAD~1", "--signers", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("signers.yaml:2:5: signer `x` has no keys"), "{}", stderr(&out));
    // --signers without a range is a usage error too.
    let out = tollgate(&repo.path, &["check", ".", "--signers", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn github_actions_pull_request_range_is_the_default() {
    if !spawns("git") {
        super::support::skip("git is not available; signing tests skipped");
        return;
    }
    let repo = TempRepo::new("gha-range");
    let git = |args: &[&str]| super::support::git(&repo.path, args);
    git(&["init", "-q"]);
    governed(&repo);
    repo.write("prod/app.yaml", PROD);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "base"]);
    let base = String::from_utf8_lossy(&git(&["rev-parse", "HEAD"]).stdout).trim().to_owned();
    repo.write("dev/a.yaml", "a: 1\n");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "unsigned change"]);
    let head = String::from_utf8_lossy(&git(&["rev-parse", "HEAD"]).stdout).trim().to_owned();
    let event = repo.join("../gha-event.json");
    std::fs::write(
        &event,
        format!(r#"{{"pull_request": {{"base": {{"sha": "{base}"}}, "head": {{"sha": "{head}"}}}}}}"#),
    )
    .expect("event");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", ".", "--format", "json"])
        .current_dir(&repo.path)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_PATH", &event)
        .output()
        .expect("tollgate");
    let _ = std::fs::remove_file(&event);
    assert!(stderr(&out).contains(&format!("checking the pull request's range {base}..{head}")), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"rule_id\": \"unsigned-commit\""), "{}", stdout(&out));
    // Outside GitHub Actions the same environment does not start a range check.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", ".", "--format", "json"])
        .current_dir(&repo.path)
        .env_remove("GITHUB_ACTIONS")
        .env("GITHUB_BASE_REF", "main")
        .output()
        .expect("tollgate");
    assert!(!stdout(&out).contains("\"rule_id\": \"unsigned-commit\""), "{}", stdout(&out));
}
