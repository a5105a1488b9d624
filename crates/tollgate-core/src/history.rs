//! The commits of a change under review and what their signatures prove.
//!
//! `tollgate-git` fills these in (walking the range and verifying each
//! signature against the trust policy of the base commit); the history rules
//! only report them.

use serde::Serialize;

/// The commit a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitRef {
    /// Full object id (hex).
    pub id: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// Fingerprint of the key that signed it, when there is a signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// One commit of the range with its signature verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitCheck {
    /// Full object id (hex).
    pub id: String,
    /// `Name <email>` of the author.
    pub author: String,
    /// First line of the message.
    pub summary: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// Number of parents (2 or more: a merge commit).
    pub parents: usize,
    /// Paths (relative to the checked root) this commit itself changes: for a
    /// merge, only those that differ from every parent (what the merge adds).
    pub changed_paths: Vec<String>,
    /// What the signature proves.
    pub verdict: SignatureVerdict,
}

impl CommitCheck {
    /// The form used in messages: the full id and the summary.
    pub fn short(&self) -> String {
        format!("{} (\"{}\")", self.id, self.summary)
    }

    /// The reference findings carry.
    pub fn reference(&self) -> CommitRef {
        let signer = match &self.verdict {
            SignatureVerdict::Unsigned => None,
            SignatureVerdict::Bad { fingerprint, .. } | SignatureVerdict::Untrusted { fingerprint, .. } => {
                fingerprint.clone()
            }
            SignatureVerdict::Trusted { fingerprint, .. } => Some(fingerprint.clone()),
        };
        CommitRef { id: self.id.clone(), author: self.author.clone(), signer }
    }
}

/// What a commit's signature proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum SignatureVerdict {
    /// No signature at all.
    Unsigned,
    /// A signature that does not verify, cannot be parsed, or is of a format
    /// tollgate cannot verify (x509, gitsign): never taken as valid.
    Bad {
        /// `openpgp`, `ssh`, `x509` or `unknown`.
        format: String,
        /// The key the signature names, when it can be read.
        fingerprint: Option<String>,
        /// Why it does not verify.
        reason: String,
    },
    /// A signature by a key the trust policy does not name, or names but not
    /// as valid at the time of the signature (expired, revoked).
    Untrusted {
        /// `openpgp` or `ssh`.
        format: String,
        /// The key that signed.
        fingerprint: Option<String>,
        /// Why it is not trusted.
        reason: String,
    },
    /// A valid signature by a signer of the trust policy.
    Trusted {
        /// `openpgp` or `ssh`.
        format: String,
        /// The signer's name in the policy.
        signer: String,
        /// The key that signed.
        fingerprint: String,
        /// Paths of [`CommitCheck::changed_paths`] the signer may not change.
        unauthorized: Vec<String>,
        /// The signer's `paths`, for the message.
        allowed: Vec<String>,
    },
}
