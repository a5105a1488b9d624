//! Verifying one commit signature against the trust policy.
//!
//! OpenPGP through `sequoia-openpgp` (pure-Rust crypto backend), SSH
//! signatures (`sshsig`, namespace `git`) through `ssh-key`. Nothing is
//! executed: no gpg, no ssh-keygen.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openpgp::cert::amalgamation::ValidAmalgamation;
use openpgp::packet::Signature;
use openpgp::parse::Parse;
use openpgp::policy::{HashAlgoSecurity, Policy, StandardPolicy};
use openpgp::types::RevocationStatus;
use openpgp::{KeyID, Packet, PacketPile};
use sequoia_openpgp as openpgp;
use tollgate_core::SignatureVerdict;

use crate::trust::TrustPolicy;

/// A trusted verdict before the signer's paths are checked.
pub(crate) enum Verified {
    /// Valid and trusted: signer index, key fingerprint, format.
    Trusted { signer: usize, fingerprint: String, format: &'static str },
    /// Anything else, final.
    Other(SignatureVerdict),
}

/// Verifies `signature` (the armored text of the commit's `gpgsig` header)
/// over `payload` (the commit without that header). `commit_time` is the
/// committer time, used where the signature carries no time of its own (SSH).
pub(crate) fn verify(policy: &TrustPolicy, signature: &[u8], payload: &[u8], commit_time: i64) -> Verified {
    let text = String::from_utf8_lossy(signature);
    let text = text.trim_start();
    if text.starts_with("-----BEGIN PGP SIGNATURE-----") {
        verify_openpgp(policy, signature, payload)
    } else if text.starts_with("-----BEGIN SSH SIGNATURE-----") {
        verify_ssh(policy, signature, payload, commit_time)
    } else if text.starts_with("-----BEGIN SIGNED MESSAGE-----") || text.starts_with("-----BEGIN PKCS7-----") {
        Verified::Other(SignatureVerdict::Bad {
            format: "x509".to_owned(),
            fingerprint: None,
            reason: "it is an X.509 (S/MIME, gitsign) signature, which tollgate cannot verify offline; sign with an OpenPGP or SSH key the trust policy names".to_owned(),
        })
    } else {
        Verified::Other(SignatureVerdict::Bad {
            format: "unknown".to_owned(),
            fingerprint: None,
            reason: "the signature is in no format tollgate knows (expected an OpenPGP or SSH signature)".to_owned(),
        })
    }
}

fn bad(format: &str, fingerprint: Option<String>, reason: impl Into<String>) -> Verified {
    Verified::Other(SignatureVerdict::Bad { format: format.to_owned(), fingerprint, reason: reason.into() })
}

fn untrusted(format: &str, fingerprint: Option<String>, reason: impl Into<String>) -> Verified {
    Verified::Other(SignatureVerdict::Untrusted { format: format.to_owned(), fingerprint, reason: reason.into() })
}

fn verify_openpgp(policy: &TrustPolicy, signature: &[u8], payload: &[u8]) -> Verified {
    let pile = match PacketPile::from_bytes(signature) {
        Ok(pile) => pile,
        Err(e) => return bad("openpgp", None, format!("the OpenPGP signature cannot be parsed: {e}")),
    };
    let signatures: Vec<&Signature> =
        pile.descendants().filter_map(|p| if let Packet::Signature(s) = p { Some(s) } else { None }).collect();
    if signatures.is_empty() {
        return bad("openpgp", None, "the OpenPGP armor holds no signature packet");
    }
    // Several signatures: the best verdict wins (one trusted signature is enough).
    let mut best: Option<Verified> = None;
    for sig in signatures {
        let verdict = verify_openpgp_one(policy, sig, payload);
        let rank = |v: &Verified| match v {
            Verified::Trusted { .. } => 3,
            Verified::Other(SignatureVerdict::Untrusted { .. }) => 2,
            Verified::Other(_) => 1,
        };
        if best.as_ref().is_none_or(|b| rank(&verdict) > rank(b)) {
            best = Some(verdict);
        }
    }
    best.unwrap_or_else(|| bad("openpgp", None, "no signature"))
}

fn verify_openpgp_one(policy: &TrustPolicy, sig: &Signature, payload: &[u8]) -> Verified {
    let standard = StandardPolicy::new();
    let issuers = sig.get_issuers();
    let issuer = issuers.first().map(openpgp::KeyHandle::to_hex);
    let Some(created) = sig.signature_creation_time() else {
        return bad("openpgp", issuer, "the OpenPGP signature has no creation time");
    };
    if issuers.is_empty() {
        return bad("openpgp", None, "the OpenPGP signature names no issuer key");
    }
    if let Err(e) = standard.signature(sig, HashAlgoSecurity::CollisionResistance) {
        return bad(
            "openpgp",
            issuer,
            format!("the OpenPGP signature is not acceptable under the standard policy: {e}"),
        );
    }
    if let Some(problem) = &policy.problem {
        return untrusted("openpgp", issuer, problem.clone());
    }
    let mut candidates: Vec<(usize, usize)> = Vec::new();
    for handle in &issuers {
        if let Some(found) = policy.openpgp.get(&KeyID::from(handle.clone())) {
            for c in found {
                if !candidates.contains(c) {
                    candidates.push(*c);
                }
            }
        }
    }
    if candidates.is_empty() {
        return untrusted(
            "openpgp",
            issuer.clone(),
            format!("OpenPGP key {} is not in the trust policy `{}`", issuer.unwrap_or_default(), policy.source),
        );
    }
    let mut problem: Option<Verified> = None;
    for (s, c) in candidates {
        let cert = &policy.signers[s].certs[c];
        // The signing key among the cert's keys, cryptographically.
        let Some(key) = cert
            .keys()
            .filter(|k| issuers.iter().any(|h| h.aliases(k.key().key_handle())))
            .find(|k| sig.verify_message(k.key(), payload).is_ok())
        else {
            problem.get_or_insert_with(|| {
                bad(
                    "openpgp",
                    issuer.clone(),
                    format!(
                        "the OpenPGP signature does not verify against the key of `{}`: the commit was changed after it was signed, or the signature is corrupt",
                        policy.signers[s].name
                    ),
                )
            });
            continue;
        };
        let fingerprint = key.key().fingerprint().to_hex();
        let when = format_time(created);
        // Valid at the time of the signature: not expired, not revoked.
        let reason = match cert.with_policy(&standard, created) {
            Err(e) => Some(format!(
                "the certificate of `{}` is not valid at {when} (expired, revoked or not yet created): {e}",
                policy.signers[s].name
            )),
            Ok(valid) => {
                if let RevocationStatus::Revoked(_) = valid.revocation_status() {
                    Some(format!("the certificate of `{}` is revoked", policy.signers[s].name))
                } else if let Err(e) = valid.alive() {
                    Some(format!("the certificate of `{}` is not alive at {when}: {e}", policy.signers[s].name))
                } else {
                    match valid.keys().key_handle(key.key().key_handle()).next() {
                        None => Some(format!(
                            "the signing key {fingerprint} of `{}` has no valid binding at {when}",
                            policy.signers[s].name
                        )),
                        Some(ka) => {
                            if let RevocationStatus::Revoked(_) = ka.revocation_status() {
                                Some(format!(
                                    "the signing key {fingerprint} of `{}` is revoked",
                                    policy.signers[s].name
                                ))
                            } else if let Err(e) = ka.alive() {
                                Some(format!(
                                    "the signing key {fingerprint} of `{}` is expired at {when}: {e}",
                                    policy.signers[s].name
                                ))
                            } else if !ka.for_signing() {
                                Some(format!(
                                    "the key {fingerprint} of `{}` is not marked for signing",
                                    policy.signers[s].name
                                ))
                            } else if let Err(e) = sig.signature_alive(created, Duration::ZERO) {
                                Some(format!("the signature is not alive: {e}"))
                            } else {
                                None
                            }
                        }
                    }
                }
            }
        };
        match reason {
            None => return Verified::Trusted { signer: s, fingerprint, format: "openpgp" },
            Some(reason) => {
                if !matches!(problem, Some(Verified::Other(SignatureVerdict::Untrusted { .. }))) {
                    problem = Some(untrusted("openpgp", Some(fingerprint), reason));
                }
            }
        }
    }
    problem.unwrap_or_else(|| untrusted("openpgp", issuer, "no key of the trust policy verifies it"))
}

fn verify_ssh(policy: &TrustPolicy, signature: &[u8], payload: &[u8], commit_time: i64) -> Verified {
    let sig = match ssh_key::SshSig::from_pem(signature) {
        Ok(sig) => sig,
        Err(e) => return bad("ssh", None, format!("the SSH signature cannot be parsed: {e}")),
    };
    let key = ssh_key::PublicKey::from(sig.public_key().clone());
    let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
    if sig.namespace() != "git" {
        return bad(
            "ssh",
            Some(fingerprint),
            format!("the SSH signature is for namespace `{}`, not `git`", sig.namespace()),
        );
    }
    if let Err(e) = key.verify("git", payload, &sig) {
        return bad(
            "ssh",
            Some(fingerprint),
            format!(
                "the SSH signature does not verify ({e}): the commit was changed after it was signed, or the signature is corrupt"
            ),
        );
    }
    if let Some(problem) = &policy.problem {
        return untrusted("ssh", Some(fingerprint), problem.clone());
    }
    let Some(found) = policy.ssh.get(sig.public_key()) else {
        return untrusted(
            "ssh",
            Some(fingerprint.clone()),
            format!("SSH key {fingerprint} is not in the trust policy `{}`", policy.source),
        );
    };
    let mut reason = String::new();
    for &(s, k) in found {
        let trust = &policy.signers[s].ssh[k];
        let name = &policy.signers[s].name;
        if let Some(namespaces) = &trust.namespaces
            && !namespaces.iter().any(|n| n == "git")
        {
            reason = format!("the key of `{name}` is trusted only for namespaces {namespaces:?}, not `git`");
        } else if let Some(after) = trust.valid_after
            && commit_time < after
        {
            reason = format!(
                "the key of `{name}` is valid only after {}, and the commit is from {}",
                format_secs(after),
                format_secs(commit_time)
            );
        } else if let Some(before) = trust.valid_before
            && commit_time >= before
        {
            reason = format!(
                "the key of `{name}` expired at {}, and the commit is from {}",
                format_secs(before),
                format_secs(commit_time)
            );
        } else {
            return Verified::Trusted { signer: s, fingerprint, format: "ssh" };
        }
    }
    untrusted("ssh", Some(fingerprint), reason)
}

fn format_time(t: SystemTime) -> String {
    format_secs(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn format_secs(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (inverse of `days_from_civil`).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_and_round_trip() {
        assert_eq!(format_secs(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_secs(1_704_209_400), "2024-01-02 15:30:00 UTC");
        for days in [-1000, 0, 59, 60, 365, 11_017, 20_000] {
            let s = format_secs(days * 86_400);
            let (y, m, d) =
                (s[0..4].parse().expect("number"), s[5..7].parse().expect("number"), s[8..10].parse().expect("number"));
            if days >= 0 {
                assert_eq!(crate::trust::days_from_civil(y, m, d), days, "{s}");
            }
        }
    }

    #[test]
    fn unknown_formats_are_bad_not_valid() {
        let policy = TrustPolicy::unusable("p", "none");
        for (sig, format) in [
            ("-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----\n", "x509"),
            ("hello", "unknown"),
            ("-----BEGIN PGP SIGNATURE-----\n\nnot base64!\n-----END PGP SIGNATURE-----\n", "openpgp"),
            ("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n", "ssh"),
        ] {
            match verify(&policy, sig.as_bytes(), b"payload", 0) {
                Verified::Other(SignatureVerdict::Bad { format: f, .. }) => assert_eq!(f, format, "{sig}"),
                _ => panic!("{sig}: not reported as bad"),
            }
        }
    }
}
