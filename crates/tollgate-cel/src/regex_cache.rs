//! Regular expressions compiled once per thread, for CEL's `matches` and
//! friends and for Kyverno's JMESPath `regex_*` functions: a policy applies
//! the same few patterns to every object, and compiling one costs far more
//! than matching it (compiled per call, they were a tenth of a large Kyverno
//! run's time and most of its fresh memory).
//!
//! RE2 syntax, as CEL's and Go's: the `regex` crate runs in time linear in
//! the input, so no pattern can be catastrophic. Bounded in count and in
//! size, because a pattern a policy builds from the object under check (an
//! annotation, say) is the change's input: each pattern compiles to at most
//! 1 MiB (and its lazy DFA to 1 MiB), a thread keeps at most [`KEPT`] of them
//! (256 MiB at the very most), and a pattern longer than [`KEPT_SOURCE`] is
//! compiled per call and not kept.
//!
//! ```
//! use tollgate_cel::regex_cache::{cached, compile};
//! let r = compile("^a+$").unwrap();
//! assert!(r.is_match("aaa") && cached("^a+$").is_some());
//! assert!(compile(r"(\w{100}){100}").is_err(), "over the size limit");
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The most patterns a thread keeps compiled; past it the cache restarts.
pub const KEPT: usize = 128;

/// Patterns longer than this are not kept.
pub const KEPT_SOURCE: usize = 1024;

thread_local! {
    static REGEXES: RefCell<HashMap<Box<str>, Arc<regex::Regex>>> = RefCell::new(HashMap::new());
}

/// `pattern`, if this thread has compiled it.
pub fn cached(pattern: &str) -> Option<Arc<regex::Regex>> {
    REGEXES.with(|c| c.borrow().get(pattern).cloned())
}

/// Compiles `pattern` within the size limits and keeps it when it is short
/// (see [`cached`] for the lookup that comes first).
pub fn compile(pattern: &str) -> Result<Arc<regex::Regex>, regex::Error> {
    let r = Arc::new(regex::RegexBuilder::new(pattern).size_limit(1 << 20).dfa_size_limit(1 << 20).build()?);
    if pattern.len() <= KEPT_SOURCE {
        REGEXES.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= KEPT {
                c.clear();
            }
            c.insert(Box::from(pattern), Arc::clone(&r));
        });
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled_regex(pattern: &str) -> Result<Arc<regex::Regex>, regex::Error> {
        cached(pattern).map_or_else(|| compile(pattern), Ok)
    }

    #[test]
    fn regexes_are_kept_bounded_in_count_and_size() {
        assert!(compiled_regex("^a+$").is_ok_and(|r| r.is_match("aaa")));
        assert!(compiled_regex("(").is_err() && compiled_regex("(").is_err(), "an error is an error every time");
        // A long pattern (built from an object, say) works but is not kept.
        let long = format!("^{}$", "x".repeat(4096));
        assert!(compiled_regex(&long).is_ok_and(|r| r.is_match(&"x".repeat(4096))));
        assert!(REGEXES.with(|c| !c.borrow().contains_key(long.as_str())));
        // A pattern that compiles past the size limit is an error, not a
        // gigabyte.
        assert!(compiled_regex(r"(\w{100}){100}").is_err());
        for i in 0..600 {
            assert!(compiled_regex(&format!("^n{i}$")).is_ok());
            assert!(REGEXES.with(|c| c.borrow().len()) <= 128);
        }
    }
}
