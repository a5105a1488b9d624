//! The registry: every rule, with its metadata, in one place.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::CoreError;
use crate::ident::is_kebab_case;
use crate::rule::{PageError, REQUIRED_SECTIONS, Rule, RuleMeta, page_error};

/// A rule and its parsed metadata.
#[derive(Clone)]
pub struct RegisteredRule {
    /// Metadata from the rule's page.
    pub meta: RuleMeta,
    /// The implementation.
    pub rule: Arc<dyn Rule>,
    /// Which documents it judges ([`Rule::judges`], asked once).
    pub judges: crate::rule::Judged,
}

/// All rules known to a run, in registration order.
///
/// ```
/// let registry = tollgate_core::Registry::new(tollgate_core::core_rules()).unwrap();
/// assert!(registry.get("parse-error").is_some());
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    rules: Vec<RegisteredRule>,
    index: HashMap<String, usize>,
}

impl Registry {
    /// Registers rules, validating each page (front matter, kebab-case id,
    /// required sections) and that ids are unique.
    pub fn new(rules: Vec<Box<dyn Rule>>) -> Result<Registry, CoreError> {
        let mut registry = Registry::default();
        for rule in rules {
            registry.add(Arc::from(rule))?;
        }
        Ok(registry)
    }

    /// Registers one more rule. A rule tollgate ships (its page is one of
    /// `rules/<id>.md`) takes its metadata from the static table generated
    /// and checked at build time ([`crate::RuleId::meta`]); any other page
    /// is parsed and checked here.
    pub fn add(&mut self, rule: Arc<dyn Rule>) -> Result<(), CoreError> {
        let page = rule.page();
        let meta = match crate::RuleId::of_page(page) {
            Some(builtin) => builtin.meta().clone(),
            None => checked_meta(page)?,
        };
        if self.index.contains_key(&*meta.id) {
            return Err(CoreError::DuplicateRule(meta.id.into_owned()));
        }
        self.index.insert(meta.id.to_string(), self.rules.len());
        let judges = rule.judges();
        self.rules.push(RegisteredRule { meta, rule, judges });
        Ok(())
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&RegisteredRule> {
        self.index.get(id).map(|&i| &self.rules[i])
    }

    /// Every rule, in registration order.
    pub fn rules(&self) -> &[RegisteredRule] {
        &self.rules
    }

    /// The registered id closest to `id`, for "did you mean" hints.
    pub fn suggest(&self, id: &str) -> Option<&str> {
        crate::config::closest(id, self.rules.iter().map(|r| &*r.meta.id))
    }
}

/// The metadata of a page that is not one of tollgate's own: parsed, with a
/// kebab-case id and the required sections in order (what `build.rs` checks
/// of tollgate's pages).
fn checked_meta(page: &str) -> Result<RuleMeta, CoreError> {
    let meta = RuleMeta::from_page(page).map_err(|m| page_error(page, m))?;
    if !is_kebab_case(&meta.id) {
        return Err(page_error(page, PageError::NotKebabCase(meta.id.into_owned())));
    }
    let mut from = 0;
    for section in REQUIRED_SECTIONS {
        match meta.docs[from..].find(section) {
            Some(at) => from += at + section.len(),
            None => return Err(page_error(page, PageError::MissingSection(section))),
        }
    }
    Ok(meta)
}
