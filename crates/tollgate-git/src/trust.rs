//! The trust policy: who may sign, with which keys, and what they may change.
//!
//! Two formats are read:
//!
//! - tollgate's `.tollgate/signers.yaml` (`signers:` with `name`, `openpgp`
//!   certificate files relative to the policy, `ssh` public keys and `paths`);
//! - git's `allowed_signers` (`gpg.ssh.allowedSignersFile`): principals,
//!   options (`namespaces`, `valid-after`, `valid-before`) and an SSH key.
//!
//! Every key is parsed once here and indexed by key id (OpenPGP) or by key
//! (SSH), so verifying thousands of commits never parses a key again.

use std::collections::HashMap;

use globset::GlobSet;
use openpgp::cert::{Cert, CertParser};
use openpgp::parse::Parse;
use sequoia_openpgp as openpgp;
use ssh_key::public::KeyData;
use tollgate_yaml::{Limits, Node, Span};

/// A trust policy that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct TrustError {
    /// `file:line:column` (or just the file).
    pub location: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// One trusted SSH key and the limits `allowed_signers` puts on it.
#[derive(Debug, Clone)]
pub(crate) struct SshTrust {
    pub(crate) fingerprint: String,
    /// `namespaces="git,file"`: the key is trusted only for these.
    pub(crate) namespaces: Option<Vec<String>>,
    /// Seconds since the epoch.
    pub(crate) valid_after: Option<i64>,
    pub(crate) valid_before: Option<i64>,
}

/// A signer of the policy.
#[derive(Debug)]
pub struct Signer {
    /// The name (`signers.yaml`) or principals (`allowed_signers`).
    pub name: String,
    /// What the signer may change (globs, relative to the checked root).
    pub paths: Vec<String>,
    matcher: Option<GlobSet>,
    pub(crate) certs: Vec<Cert>,
    pub(crate) ssh: Vec<SshTrust>,
}

impl Signer {
    /// Whether the signer may change `path`.
    pub fn may_change(&self, path: &str) -> bool {
        self.matcher.as_ref().is_none_or(|m| m.is_match(path))
    }
}

/// Trusted signers with their keys indexed.
#[derive(Debug, Default)]
pub struct TrustPolicy {
    /// Where the policy came from, for messages (`origin/main:.tollgate/signers.yaml`).
    pub source: String,
    /// The signers.
    pub signers: Vec<Signer>,
    /// Why there is no usable policy (missing at the base, invalid): every
    /// signature is then untrusted, with this reason.
    pub problem: Option<String>,
    /// OpenPGP key id (primary and subkeys) → (signer, certificate).
    pub(crate) openpgp: HashMap<openpgp::KeyID, Vec<(usize, usize)>>,
    /// SSH key → (signer, key).
    pub(crate) ssh: HashMap<KeyData, Vec<(usize, usize)>>,
}

impl TrustPolicy {
    /// A policy that trusts nobody, for the reason given.
    pub fn unusable(source: impl Into<String>, problem: impl Into<String>) -> TrustPolicy {
        TrustPolicy { source: source.into(), problem: Some(problem.into()), ..TrustPolicy::default() }
    }

    /// Number of keys (OpenPGP certificates and SSH keys) it trusts.
    pub fn key_count(&self) -> usize {
        self.signers.iter().map(|s| s.certs.len() + s.ssh.len()).sum()
    }

    /// Reads tollgate's `signers.yaml`. `source` names the file in messages;
    /// `read` returns the bytes of a certificate file named in `openpgp:`,
    /// relative to the policy's directory (from disk, or from the base
    /// commit); its error is shown with the entry that named the file.
    ///
    /// ```
    /// let policy = tollgate_git::TrustPolicy::from_signers_yaml(
    ///     "signers:\n  - name: bot\n    ssh: [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEWlxuHYOKlBqSUMdHtr5zU4UK6R06qzqSTHZUu/hh19\"]\n    paths: [\"environments/dev/**\"]\n",
    ///     ".tollgate/signers.yaml",
    ///     &|_| Err(std::io::ErrorKind::NotFound.into()),
    /// ).unwrap();
    /// assert_eq!(policy.signers[0].name, "bot");
    /// assert!(policy.signers[0].may_change("environments/dev/app.yaml"));
    /// assert!(!policy.signers[0].may_change("environments/prod/app.yaml"));
    /// ```
    pub fn from_signers_yaml(
        text: &str,
        source: &str,
        read: &dyn Fn(&str) -> std::io::Result<Vec<u8>>,
    ) -> Result<TrustPolicy, TrustError> {
        let at = |span: Span, message: String| TrustError {
            location: format!("{source}:{}:{}", span.start.line, span.start.column),
            message,
        };
        let docs = tollgate_yaml::parse_yaml(text, &Limits::default()).map_err(|e| {
            let p = e.position();
            TrustError { location: format!("{source}:{}:{}", p.line, p.column), message: e.message().to_owned() }
        })?;
        let Some(doc) = docs.first() else {
            return Err(TrustError {
                location: source.to_owned(),
                message: "the file is empty; expected `signers:` with a list of signers".to_owned(),
            });
        };
        let root =
            doc.root.as_mapping().ok_or_else(|| at(doc.root.span, "expected a mapping with `signers:`".to_owned()))?;
        for (key, node) in root.iter() {
            if key != "signers" {
                return Err(at(
                    key_span(&doc.root, key).unwrap_or(node.span),
                    format!("unknown key `{key}`; the policy has one key, `signers`"),
                ));
            }
        }
        let list = root.get("signers").ok_or_else(|| {
            at(
                doc.root.span,
                "missing `signers:` (a list of signers with `name`, `openpgp`/`ssh` keys and `paths`)".to_owned(),
            )
        })?;
        let items = list.as_sequence().ok_or_else(|| at(list.span, "`signers` must be a list".to_owned()))?;
        let mut policy = TrustPolicy { source: source.to_owned(), ..TrustPolicy::default() };
        for item in items {
            let map = item.as_mapping().ok_or_else(|| {
                at(item.span, "a signer must be a mapping with `name`, `openpgp`/`ssh` and `paths`".to_owned())
            })?;
            for (key, node) in map.iter() {
                if !matches!(key, "name" | "openpgp" | "ssh" | "paths") {
                    return Err(at(
                        key_span(item, key).unwrap_or(node.span),
                        format!("unknown key `{key}`; a signer has `name`, `openpgp`, `ssh` and `paths`"),
                    ));
                }
            }
            let name = map
                .get("name")
                .and_then(Node::as_str)
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| at(item.span, "a signer needs a `name`".to_owned()))?
                .to_owned();
            let strings = |key: &str| -> Result<Vec<(String, Span)>, TrustError> {
                let Some(node) = map.get(key) else { return Ok(Vec::new()) };
                let seq = node
                    .as_sequence()
                    .ok_or_else(|| at(node.span, format!("`{key}` of `{name}` must be a list of strings")))?;
                seq.iter()
                    .map(|n| {
                        n.as_str()
                            .map(|s| (s.to_owned(), n.span))
                            .ok_or_else(|| at(n.span, format!("`{key}` of `{name}` must be a list of strings")))
                    })
                    .collect()
            };
            let mut certs = Vec::new();
            for (entry, span) in strings("openpgp")? {
                let bytes = if entry.trim_start().starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
                    entry.clone().into_bytes()
                } else {
                    read(&entry).map_err(|e| {
                        at(span, format!("cannot read the OpenPGP certificate `{entry}` of `{name}`: {e}"))
                    })?
                };
                let parsed = parse_certs(&bytes)
                    .map_err(|e| at(span, format!("`{entry}` of `{name}` is not an OpenPGP certificate: {e}")))?;
                certs.extend(parsed);
            }
            let mut ssh = Vec::new();
            let mut ssh_keys = Vec::new();
            for (entry, span) in strings("ssh")? {
                let key = ssh_key::PublicKey::from_openssh(entry.trim()).map_err(|e| {
                    at(
                        span,
                        format!(
                            "`{}` of `{name}` is not an SSH public key (`ssh-ed25519 AAAA...`): {e}",
                            abbreviate(&entry)
                        ),
                    )
                })?;
                ssh.push(SshTrust {
                    fingerprint: key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
                    namespaces: None,
                    valid_after: None,
                    valid_before: None,
                });
                ssh_keys.push(key.key_data().clone());
            }
            if certs.is_empty() && ssh.is_empty() {
                return Err(at(
                    item.span,
                    format!("signer `{name}` has no keys: give `openpgp` certificate files or `ssh` public keys"),
                ));
            }
            let paths = match map.get("paths") {
                None => vec!["**".to_owned()],
                Some(_) => strings("paths")?.into_iter().map(|(p, _)| p).collect(),
            };
            let matcher = if paths.iter().any(|p| p == "**") {
                None
            } else {
                Some(
                    tollgate_core::glob_set(&paths)
                        .map_err(|e| at(map.get("paths").map_or(item.span, |n| n.span), e.to_string()))?,
                )
            };
            policy.add(Signer { name, paths, matcher, certs, ssh: Vec::new() }, ssh.into_iter().zip(ssh_keys));
        }
        Ok(policy)
    }

    /// Reads git's `allowed_signers` file (`ssh-keygen(1)`, ALLOWED SIGNERS):
    /// `principals [options] keytype base64 [comment]`. Options `namespaces`,
    /// `valid-after` and `valid-before` are honoured; `cert-authority` is
    /// rejected (certificates are not supported).
    ///
    /// ```
    /// let policy = tollgate_git::TrustPolicy::from_allowed_signers(
    ///     "alice@example.com namespaces=\"git\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEWlxuHYOKlBqSUMdHtr5zU4UK6R06qzqSTHZUu/hh19\n",
    ///     "allowed_signers",
    /// ).unwrap();
    /// assert_eq!(policy.key_count(), 1);
    /// ```
    pub fn from_allowed_signers(text: &str, source: &str) -> Result<TrustPolicy, TrustError> {
        let mut policy = TrustPolicy { source: source.to_owned(), ..TrustPolicy::default() };
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| TrustError { location: format!("{source}:{}", n + 1), message };
            let (principals, rest) = split_field(line);
            let rest = rest.trim_start();
            let (options, key_text) = if is_key_type(rest.split_whitespace().next().unwrap_or("")) {
                ("", rest)
            } else {
                let (options, rest) = split_field(rest);
                (options, rest.trim_start())
            };
            let mut trust =
                SshTrust { fingerprint: String::new(), namespaces: None, valid_after: None, valid_before: None };
            for option in split_options(options) {
                let (name, value) = option.split_once('=').map_or((option.as_str(), ""), |(k, v)| (k, v));
                let value = value.trim_matches('"');
                match name.to_ascii_lowercase().as_str() {
                    "namespaces" => trust.namespaces = Some(value.split(',').map(str::to_owned).collect()),
                    "valid-after" => {
                        trust.valid_after = Some(parse_ssh_time(value).ok_or_else(|| {
                            err(format!("`valid-after={value}` is not a time (YYYYMMDD[HHMM[SS]][Z])"))
                        })?);
                    }
                    "valid-before" => {
                        trust.valid_before = Some(parse_ssh_time(value).ok_or_else(|| {
                            err(format!("`valid-before={value}` is not a time (YYYYMMDD[HHMM[SS]][Z])"))
                        })?);
                    }
                    "cert-authority" => {
                        return Err(err(
                            "`cert-authority` (SSH certificates) is not supported; list the signers' keys".to_owned(),
                        ));
                    }
                    other => {
                        return Err(err(format!(
                            "unknown option `{other}`; expected `namespaces`, `valid-after` or `valid-before`"
                        )));
                    }
                }
            }
            let key = ssh_key::PublicKey::from_openssh(key_text).map_err(|e| {
                err(format!("expected `principals [options] keytype base64-key`, but the key does not parse: {e}"))
            })?;
            trust.fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
            let principals = principals.trim_matches('"').to_owned();
            policy.add(
                Signer {
                    name: principals,
                    paths: vec!["**".to_owned()],
                    matcher: None,
                    certs: Vec::new(),
                    ssh: Vec::new(),
                },
                std::iter::once((trust, key.key_data().clone())),
            );
        }
        if policy.signers.is_empty() {
            return Err(TrustError {
                location: source.to_owned(),
                message: "no signers: expected lines `principals [options] keytype base64-key`".to_owned(),
            });
        }
        Ok(policy)
    }

    fn add(&mut self, mut signer: Signer, ssh: impl IntoIterator<Item = (SshTrust, KeyData)>) {
        let s = self.signers.len();
        for (c, cert) in signer.certs.iter().enumerate() {
            for key in cert.keys() {
                self.openpgp.entry(key.key().keyid()).or_default().push((s, c));
            }
        }
        for (trust, data) in ssh {
            self.ssh.entry(data).or_default().push((s, signer.ssh.len()));
            signer.ssh.push(trust);
        }
        self.signers.push(signer);
    }
}

fn key_span(node: &Node, key: &str) -> Option<Span> {
    node.as_mapping()?.entry(key).map(|(k, _)| k.span)
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}...", s.chars().take(40).collect::<String>()) } else { s.to_owned() }
}

/// Why the bytes given for an `openpgp` entry are no certificate.
#[derive(Debug, thiserror::Error)]
enum CertError {
    /// Sequoia could not read them (not OpenPGP, or damaged).
    #[error("{0}")]
    Unreadable(#[from] openpgp::anyhow::Error),
    /// They read, but hold no certificate.
    #[error("no certificate in it (expected an armored `PGP PUBLIC KEY BLOCK`)")]
    Empty,
}

fn parse_certs(bytes: &[u8]) -> Result<Vec<Cert>, CertError> {
    let certs = CertParser::from_bytes(bytes)?.collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(certs)
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") || word.starts_with("sk-")
}

/// The first whitespace-separated field, honouring double quotes.
fn split_field(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// Comma-separated options, honouring double quotes.
fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]` as seconds since the epoch (taken as UTC).
fn parse_ssh_time(s: &str) -> Option<i64> {
    let digits = s.strip_suffix(['Z', 'z']).unwrap_or(s);
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).map_or(Some(0), |d| d.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEWlxuHYOKlBqSUMdHtr5zU4UK6R06qzqSTHZUu/hh19";

    fn no_files(_: &str) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not found"))
    }

    #[test]
    fn openpgp_entries_that_hold_no_certificate_say_why() {
        let files = |path: &str| -> std::io::Result<Vec<u8>> {
            match path {
                "keys/empty.asc" => Ok(Vec::new()),
                "keys/junk.asc" => Ok(b"not a key at all".to_vec()),
                _ => no_files(path),
            }
        };
        for (entry, expected) in [
            ("keys/empty.asc", "no certificate in it (expected an armored `PGP PUBLIC KEY BLOCK`)"),
            // Sequoia's own reason, passed through.
            ("keys/junk.asc", "is not an OpenPGP certificate: unexpected EOF"),
        ] {
            let text = format!("signers:\n  - name: a\n    openpgp: [\"{entry}\"]\n");
            let err = TrustPolicy::from_signers_yaml(&text, "s.yaml", &files).expect_err(entry).to_string();
            assert!(err.starts_with(&format!("s.yaml:3:15: `{entry}` of `a` is not an OpenPGP certificate")), "{err}");
            assert!(err.ends_with(expected), "{err}");
        }
    }

    #[test]
    fn signers_yaml_errors_name_line_and_column() {
        let cases = [
            ("signer:\n  - name: a\n", "s.yaml:1:1: unknown key `signer`"),
            ("signers:\n  - name: a\n", "s.yaml:2:5: signer `a` has no keys"),
            (
                "signers:\n  - name: a\n    ssh: [\"ssh-ed25519 nope\"]\n",
                "s.yaml:3:11: `ssh-ed25519 nope` of `a` is not an SSH public key",
            ),
            (
                "signers:\n  - name: a\n    openpgp: [\"keys/a.asc\"]\n",
                "s.yaml:3:15: cannot read the OpenPGP certificate `keys/a.asc` of `a`: not found",
            ),
            ("signers:\n  - name: a\n    pahts: [x]\n", "s.yaml:3:5: unknown key `pahts`"),
            ("signers: {}\n", "s.yaml:1:10: `signers` must be a list"),
            ("", "s.yaml: the file is empty"),
        ];
        for (text, expected) in cases {
            let err = TrustPolicy::from_signers_yaml(text, "s.yaml", &no_files).expect_err(text);
            assert!(err.to_string().starts_with(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn signers_yaml_paths_default_to_everything() {
        let text = format!(
            "signers:\n  - name: a\n    ssh: [\"{KEY} a@x\"]\n  - name: b\n    ssh: [\"{KEY}\"]\n    paths: [\"env/dev/**\"]\n"
        );
        let p = TrustPolicy::from_signers_yaml(&text, "s.yaml", &no_files).expect("parses");
        assert!(p.signers[0].may_change("env/prod/x.yaml"));
        assert!(p.signers[1].may_change("env/dev/a/x.yaml"));
        assert!(!p.signers[1].may_change("env/prod/x.yaml"));
        assert!(!p.signers[1].may_change("env/devx/x.yaml"));
        // The same key under two signers: both are candidates.
        assert_eq!(p.ssh.values().next().map(Vec::len), Some(2));
        assert_eq!(p.key_count(), 2);
    }

    #[test]
    fn allowed_signers_lines() {
        let text = format!(
            "# comment\nalice@x {KEY}\n\"bob@x,carol@x\" namespaces=\"git,file\",valid-after=\"20240101\",valid-before=\"20250101Z\" {KEY} comment\n"
        );
        let p = TrustPolicy::from_allowed_signers(&text, "allowed_signers").expect("parses");
        assert_eq!(p.signers.len(), 2);
        assert_eq!(p.signers[1].name, "bob@x,carol@x");
        let t = &p.signers[1].ssh[0];
        assert_eq!(t.namespaces.as_deref(), Some(&["git".to_owned(), "file".to_owned()][..]));
        assert_eq!(t.valid_after, Some(1_704_067_200));
        assert_eq!(t.valid_before, Some(1_735_689_600));
        assert!(t.fingerprint.starts_with("SHA256:"));
        for (bad, expected) in [
            (format!("a cert-authority {KEY}"), "allowed_signers:1: `cert-authority`"),
            (format!("a valid-after=\"2024\" {KEY}"), "allowed_signers:1: `valid-after=2024` is not a time"),
            ("a ssh-ed25519 AAAA".to_owned(), "allowed_signers:1: expected `principals [options] keytype base64-key`"),
            (format!("a frobnicate {KEY}"), "allowed_signers:1: unknown option `frobnicate`"),
            ("# nothing\n".to_owned(), "allowed_signers: no signers"),
        ] {
            let err = TrustPolicy::from_allowed_signers(&bad, "allowed_signers").expect_err(&bad);
            assert!(err.to_string().starts_with(expected), "{bad}: {err}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_ssh_time("202401021530"), Some(1_704_209_400));
        assert_eq!(parse_ssh_time("20241301"), None);
    }
}
