//! `.tollgate.yaml` as written: the typed form serde reads and the one
//! place its JSON Schema comes from. `schemars` derives the schema from these
//! types (their doc comments are its descriptions); `tollgate schema` prints
//! it and `schemas/tollgate.schema.json` is its checked-in output. Loading
//! validates the file against this schema (for precise, positioned
//! messages), then deserializes it into these types, and
//! [`crate::Config`] is built from them: no field is read twice, by hand.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::severity::Severity;

/// Settings of a tollgate run: `.tollgate.yaml` (or `.tollgate.yml`) at the repository root, or the file given with `--config`; in a range check, the base commit's file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(
    title = "tollgate configuration (.tollgate.yaml)",
    deny_unknown_fields,
    extend("$id" = "https://github.com/tollgate-dev/tollgate/config.schema.json")
)]
pub(crate) struct ConfigFile {
    /// Named path sets; replaces the defaults (prod/staging/dev by path segment) when present.
    #[schemars(extend("minProperties" = 1))]
    pub environments: Option<BTreeMap<String, EnvironmentEntry>>,
    /// Review requirements of changes to protected paths.
    pub review: Option<ReviewSection>,
    /// Commit signing.
    pub signing: Option<SigningSection>,
    /// Policy engines to run: Rego (conftest packs and Gatekeeper templates), Kyverno, and tollgate's built-in packs.
    pub policies: Option<PoliciesSection>,
    /// Judge what production runs: every Kustomize root (a kustomization no other one includes) is rendered natively, every rule and policy engine judges the rendered objects, and each finding lands on the line that produced the value.
    pub render: Option<RenderSection>,
    /// Per-rule settings, keyed by rule id.
    pub rules: Option<BTreeMap<String, RuleEntry>>,
    /// Findings silenced by configuration, each with a reason and an optional end date.
    pub ignore: Option<Vec<IgnoreItem>>,
    /// Path globs tollgate does not read, on top of .gitignore.
    #[schemars(inner(length(min = 1)))]
    pub exclude: Option<Vec<String>>,
    /// Bounds on what one run reads.
    pub limits: Option<LimitsSection>,
}

/// One environment: the paths it covers.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct EnvironmentEntry {
    /// Path globs (repository-relative) of this environment's files.
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub paths: Vec<String>,
    /// Prod: changes here guard production.
    pub protected: Option<bool>,
}

/// Review requirements.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ReviewSection {
    /// Approvals branch protection must require on the default branch (default 1).
    #[schemars(range(max = 4_294_967_295_u32))]
    pub min_approvals: Option<u32>,
    /// Whether the owners of prod paths must be teams, not single users (default false).
    pub owners_must_be_teams: Option<bool>,
    /// Distinct owners each prod path must have (default 1).
    #[schemars(range(min = 1, max = 4_294_967_295_u32))]
    pub min_owners: Option<u32>,
    /// The name of the status check tollgate reports in pull requests, which branch protection must require (default: the name, or id, of each workflow job that runs tollgate).
    #[schemars(length(min = 1))]
    pub status_check: Option<String>,
}

/// Commit signing.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct SigningSection {
    /// The trust policy (`signers.yaml` format), repository-relative; in a range check it is read from the base commit.
    #[schemars(length(min = 1))]
    pub policy: Option<String>,
}

/// Policy engines.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct PoliciesSection {
    /// Rego policies: `.rego` files or directories of them, and YAML with Gatekeeper ConstraintTemplates and Constraints (repository-relative).
    #[schemars(inner(length(min = 1)))]
    pub rego: Option<Vec<String>>,
    /// Kyverno policies: ClusterPolicy/Policy YAML files or directories of them (repository-relative).
    #[schemars(inner(length(min = 1)))]
    pub kyverno: Option<Vec<String>>,
    /// Built-in policy packs to enable (`tollgate rules` lists them).
    #[schemars(inner(length(min = 1)))]
    pub builtin: Option<Vec<String>>,
}

/// Rendering.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct RenderSection {
    /// Render Kustomize roots (default true). With false, every file is judged as written, patches and bases included.
    pub kustomize: Option<bool>,
    /// Directories (repository-relative) rendered besides the roots found, such as a base an Argo CD Application deploys directly.
    #[schemars(inner(length(min = 1)))]
    pub roots: Option<Vec<String>>,
}

/// One rule's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields, extend("minProperties" = 1))]
pub(crate) struct RuleEntry {
    /// Turns the rule on or off.
    pub enabled: Option<bool>,
    /// Replaces the rule's severity.
    pub severity: Option<Severity>,
}

/// A configuration suppression.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct IgnoreItem {
    /// The rule id it silences.
    #[schemars(length(min = 1))]
    pub rule: String,
    /// Path globs it applies to.
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub paths: Vec<String>,
    /// Why the findings are accepted.
    pub reason: String,
    /// The day it stops applying (YYYY-MM-DD).
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub expires: Option<String>,
}

/// Bounds on what one run reads.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    /// Largest file read, in bytes (default 5 MiB); larger files are a parse-error finding.
    #[schemars(range(min = 1))]
    pub max_file_size: Option<u64>,
    /// Most YAML/JSON nodes read in one run (default 20,000,000, about 1 GB of parsed trees); files beyond it are a parse-error finding. One file holds at most 1,000,000 nodes.
    #[schemars(range(min = 1))]
    pub max_nodes: Option<u64>,
}

/// The JSON Schema of `.tollgate.yaml`, derived from [`ConfigFile`]: every
/// subschema inline (so a key's allowed siblings are found by walking
/// `properties`), and an optional field is its type, never also `null`
/// (`protected: ~` is a mistake to report, not "absent").
pub(crate) static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<ConfigFile>();
    let mut value = schema.to_value();
    without_null(&mut value);
    value
});

/// The schema as `tollgate schema` prints it and
/// `schemas/tollgate.schema.json` holds it: pretty JSON, one final newline.
#[cfg(test)]
pub(crate) fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&*SCHEMA).unwrap_or_default();
    text.push('\n');
    text
}

/// Takes `null` out of every `type` list (`["boolean", "null"]` →
/// `"boolean"`), which is how schemars writes an `Option`.
fn without_null(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".to_owned(), only);
                }
            }
            // An `Option` of an enum: `enum` lists `null` too.
            if let Some(serde_json::Value::Array(values)) = map.get_mut("enum") {
                values.retain(|v| !v.is_null());
            }
            map.values_mut().for_each(without_null);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}
