//! How rule ids are spelled: kebab-case ids, PascalCase names. One file for
//! the library and for `build.rs`, which includes it to name `RuleId`'s
//! variants exactly as the registry names the rules.

/// True for ids like `prod-self-heal`: lowercase ASCII words joined by `-`.
pub fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// `prod-self-heal` → `ProdSelfHeal` (any non-alphanumeric separates words).
pub(crate) fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}
