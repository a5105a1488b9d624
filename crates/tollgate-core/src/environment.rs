//! Environments: which paths are prod, staging or dev.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// The role an environment plays in promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Development, test, QA, sandbox.
    Dev,
    /// Staging, pre-production, UAT.
    Staging,
    /// Production (protected).
    Prod,
    /// A configured environment whose name says neither.
    Other,
}

/// A named set of paths.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Environment {
    /// Its name (`prod`, `staging`, ... or as configured).
    pub name: String,
    /// Whether changes here guard production.
    pub protected: bool,
    /// Its role in promotion.
    pub tier: Tier,
    /// The path globs (empty for the defaults, which match path segments).
    pub paths: Vec<String>,
    #[serde(skip)]
    globs: Option<GlobSet>,
}

const PROD_WORDS: [&str; 4] = ["prod", "production", "prd", "live"];
const STAGING_WORDS: [&str; 5] = ["staging", "stage", "stg", "preprod", "uat"];
const DEV_WORDS: [&str; 5] = ["dev", "development", "test", "qa", "sandbox"];

/// The environments of a repository, from configuration or the defaults.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Environments {
    list: Vec<Environment>,
    defaults: bool,
}

/// Builds a glob with gitignore-like semantics: `*` stays within a path
/// segment, `**` crosses segments.
pub fn compile_glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build()
}

impl Environments {
    /// The documented defaults: a path segment with a `-`/`_`/`.`-separated
    /// word `prod`, `production`, `prd` or `live` is protected prod; one whose
    /// first word is `staging`, `stage`, `stg`, `preprod` or `uat` is staging;
    /// `dev`, `development`, `test`, `qa` or `sandbox`, dev.
    pub fn defaults() -> Environments {
        let make = |name: &str, tier, protected| Environment {
            name: name.to_owned(),
            protected,
            tier,
            paths: Vec::new(),
            globs: None,
        };
        Environments {
            list: vec![
                make("prod", Tier::Prod, true),
                make("staging", Tier::Staging, false),
                make("dev", Tier::Dev, false),
            ],
            defaults: true,
        }
    }

    /// Environments from configuration, in order: `(name, globs, protected)`.
    pub fn configured(entries: &[(String, Vec<String>, bool)]) -> Result<Environments, GlobError> {
        let mut list = Vec::new();
        for (name, paths, protected) in entries {
            let mut set = GlobSetBuilder::new();
            for p in paths {
                set.add(compile_glob(p).map_err(|source| GlobError::Pattern {
                    environment: Some(name.clone()),
                    pattern: p.clone(),
                    source,
                })?);
            }
            let lower = name.to_ascii_lowercase();
            let tier = if *protected {
                Tier::Prod
            } else if STAGING_WORDS.contains(&lower.as_str()) {
                Tier::Staging
            } else if DEV_WORDS.contains(&lower.as_str()) {
                Tier::Dev
            } else {
                Tier::Other
            };
            list.push(Environment {
                name: name.clone(),
                protected: *protected,
                tier,
                paths: paths.clone(),
                globs: Some(set.build().map_err(GlobError::Set)?),
            });
        }
        Ok(Environments { list, defaults: false })
    }

    /// Every environment.
    pub fn all(&self) -> &[Environment] {
        &self.list
    }

    /// Index of the environment a repository-relative path belongs to. When
    /// several match, a protected one wins: tollgate fails closed.
    ///
    /// With the defaults, every directory segment and the file name without
    /// its extension count (see [`Environments::segment_index`]):
    /// `values-production.yaml` is prod.
    pub fn index_for(&self, path: &str) -> Option<usize> {
        self.index_for_file(path, &[])
    }

    /// [`Environments::index_for`] for a file holding objects named
    /// `object_names`: a file named after an object it holds takes no
    /// environment from its name, since the word is the object's
    /// (`letsencrypt-prod.yaml` holding the ClusterIssuer `letsencrypt-prod`,
    /// which every environment has).
    pub fn index_for_file(&self, path: &str, object_names: &[&str]) -> Option<usize> {
        if self.defaults {
            let (dirs, file) = path.rsplit_once('/').unwrap_or(("", path));
            let stem = file.split('.').next().unwrap_or("");
            let named_after_object = object_names.iter().any(|n| n.eq_ignore_ascii_case(stem));
            let from_file = if stem.is_empty() || named_after_object { None } else { default_segment_index(stem) };
            return dirs.split('/').filter(|s| !s.is_empty()).filter_map(default_segment_index).chain(from_file).min();
        }
        let matches = self.list.iter().enumerate().filter(|(_, e)| e.globs.as_ref().is_some_and(|g| g.is_match(path)));
        let mut first = None;
        for (i, e) in matches {
            if e.protected {
                return Some(i);
            }
            first = first.or(Some(i));
        }
        first
    }

    /// The environment one name stands for: a directory segment, a job
    /// name, a cluster or namespace (`prod`, `eu-prod`, `dev-eu`). With the
    /// defaults, prod is recognised in any `-`/`_`/`.`-separated word
    /// (tollgate fails closed) except after a negation (`non-prod`,
    /// `not_prod`, `no-prod`); `pre-prod` is staging; staging and dev count
    /// only as the first word, so that `e2e-test` or `.chainsaw-test` are
    /// not environments. Configured environments match by name.
    pub fn segment_index(&self, segment: &str) -> Option<usize> {
        if self.defaults {
            return default_segment_index(segment);
        }
        let mut first = None;
        for (i, e) in self.list.iter().enumerate() {
            if e.name.eq_ignore_ascii_case(segment) {
                if e.protected {
                    return Some(i);
                }
                first = first.or(Some(i));
            }
        }
        first
    }

    /// The environment at an index from [`Environments::index_for`].
    pub fn get(&self, index: usize) -> Option<&Environment> {
        self.list.get(index)
    }

    /// The environment a path belongs to.
    pub fn for_path(&self, path: &str) -> Option<&Environment> {
        self.index_for(path).and_then(|i| self.get(i))
    }
}

/// Words that negate the environment word after them (`non-prod`).
const NEGATIONS: [&str; 3] = ["non", "not", "no"];

/// The default environment (0 prod, 1 staging, 2 dev) of one whole word.
fn word_index(word: &str) -> Option<usize> {
    let is = |list: &[&str]| list.iter().any(|w| w.eq_ignore_ascii_case(word));
    if is(&PROD_WORDS) {
        Some(0)
    } else if is(&STAGING_WORDS) {
        Some(1)
    } else if is(&DEV_WORDS) {
        Some(2)
    } else {
        None
    }
}

/// The default environment of a directory segment or a name.
fn default_segment_index(segment: &str) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut previous = "";
    for (position, word) in segment.split(['-', '_', '.']).enumerate() {
        let negated = NEGATIONS.iter().any(|n| n.eq_ignore_ascii_case(previous));
        let found = match word_index(word) {
            Some(0) if negated => None,
            // `pre-prod`, `pre_production`: staging.
            Some(0) if previous.eq_ignore_ascii_case("pre") && position == 1 => Some(1),
            Some(0) => Some(0),
            Some(tier) if position == 0 => Some(tier),
            _ => None,
        };
        best = match (best, found) {
            (Some(b), Some(f)) => Some(b.min(f)),
            (b, f) => b.or(f),
        };
        previous = word;
    }
    best
}

/// A glob of the configuration (an environment's `paths`, `exclude`, an
/// `ignore` entry's or a signer's `paths`) that does not compile.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    /// One pattern is not a glob.
    #[error("{}bad glob `{pattern}`: {source}", .environment.as_ref().map(|n| format!("environment `{n}`: ")).unwrap_or_default())]
    Pattern {
        /// The environment whose `paths` hold it, if any.
        environment: Option<String>,
        /// The pattern as written.
        pattern: String,
        /// Why it does not compile.
        source: globset::Error,
    },
    /// The patterns do not build into one set.
    #[error("{0}")]
    Set(globset::Error),
}

/// Compiles globs into one set.
///
/// ```
/// let err = tollgate_core::glob_set(&["apps/[prod".to_owned()]).unwrap_err();
/// assert!(err.to_string().starts_with("bad glob `apps/[prod`: "));
/// ```
pub fn glob_set(patterns: &[String]) -> Result<GlobSet, GlobError> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(compile_glob(p).map_err(|source| GlobError::Pattern {
            environment: None,
            pattern: p.clone(),
            source,
        })?);
    }
    b.build().map_err(GlobError::Set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_by_segment_and_word() {
        let e = Environments::defaults();
        let name = |p: &str| e.for_path(p).map(|e| e.name.clone());
        assert_eq!(name("environments/prod/app.yaml").as_deref(), Some("prod"));
        assert_eq!(name("clusters/production-eu/x.yaml").as_deref(), Some("prod"));
        assert_eq!(name("overlays/stg/kustomization.yaml").as_deref(), Some("staging"));
        assert_eq!(name("apps/dev/x.yaml").as_deref(), Some("dev"));
        assert_eq!(name("values/prod.yaml").as_deref(), Some("prod"));
        assert_eq!(name("apps/web/base/deploy.yaml"), None);
        assert_eq!(name("testdata/x.yaml"), None);
        assert_eq!(name("apps/liveness/x.yaml"), None);
        assert_eq!(name("clusters/eu-prod/x.yaml").as_deref(), Some("prod"));
        assert_eq!(name("clusters/dev-eu/x.yaml").as_deref(), Some("dev"));
        assert_eq!(name("policies/.chainsaw-test/x.yaml"), None);
        assert_eq!(name("e2e-test/x.yaml"), None);
        // Both: protected wins.
        assert_eq!(name("dev/prod/x.yaml").as_deref(), Some("prod"));
        assert!(e.for_path("live/x.yaml").is_some_and(|e| e.protected));
    }

    #[test]
    fn words_of_directories_and_file_names_not_of_object_names() {
        let e = Environments::defaults();
        let name = |p: &str| e.for_path(p).map(|e| e.name.clone());
        // A file name is read like a directory segment...
        assert_eq!(name("apps/web/values-prod.yaml").as_deref(), Some("prod"));
        assert_eq!(name("helm-guestbook/values-production.yaml").as_deref(), Some("prod"));
        assert_eq!(name("clusters/production.yaml").as_deref(), Some("prod"));
        // ...unless the file is named after an object it holds.
        let issuer = "infrastructure/cert-manager/letsencrypt-prod.yaml";
        assert_eq!(e.index_for_file(issuer, &["letsencrypt-prod"]), None);
        assert_eq!(e.index_for_file(issuer, &["other"]), Some(0));
        assert_eq!(name("clusters/prod.kustomization.yaml").as_deref(), Some("prod"));
        // Negated prod is not prod.
        assert_eq!(name("clusters/non-prod/x.yaml"), None);
        assert_eq!(name("clusters/not_prod/x.yaml"), None);
        assert_eq!(name("clusters/nonprod/x.yaml"), None);
        assert_eq!(name("clusters/eu-non-prod/x.yaml"), None);
        assert_eq!(name("clusters/pre-prod/x.yaml").as_deref(), Some("staging"));
        // Regional variants stay prod.
        assert_eq!(name("clusters/prod-us/x.yaml").as_deref(), Some("prod"));
        assert_eq!(name("clusters/us-east-production/x.yaml").as_deref(), Some("prod"));
        // Names (jobs, clusters, namespaces) are read as segments.
        assert_eq!(e.segment_index("deploy-prod"), Some(0));
        assert_eq!(e.segment_index("non-prod"), None);
        assert_eq!(e.segment_index("staging-eu"), Some(1));
    }

    #[test]
    fn configured_globs() {
        let e = Environments::configured(&[
            ("staging".into(), vec!["environments/staging/**".into()], false),
            ("prod".into(), vec!["environments/prod/**".into(), "clusters/*/prod.yaml".into()], true),
        ])
        .expect("valid");
        assert_eq!(e.for_path("environments/prod/a/b.yaml").map(|e| e.tier), Some(Tier::Prod));
        assert_eq!(e.for_path("clusters/eu/prod.yaml").map(|e| e.tier), Some(Tier::Prod));
        assert!(e.for_path("clusters/eu/x/prod.yaml").is_none());
        assert_eq!(e.for_path("environments/staging/x.yaml").map(|e| e.tier), Some(Tier::Staging));
        assert!(e.for_path("apps/prod/x.yaml").is_none());
    }
}
