//! The memory a Rego evaluation may use.
//!
//! A time budget alone does not bound memory: doubling a string forty times
//! takes a few seconds and more memory than the machine has. With its
//! `allocator-memory-limits` feature, regorus installs mimalloc as the
//! process's global allocator, counts every allocation and, once a global
//! limit is set, stops an evaluation that goes over it with an error, which
//! tollgate reports as a `policy-error`. While policies evaluate, the limit
//! is what the process already uses plus [`EVALUATION_MEMORY`]. (A program
//! embedding tollgate gets the same allocator through this crate.)

/// Memory all concurrent Rego evaluations may add to what the process holds.
pub const EVALUATION_MEMORY: u64 = 2 << 30;

/// Sets the limit for as long as it lives; the previous limit comes back
/// when it is dropped.
#[derive(Debug)]
pub struct MemoryLimit {
    previous: Option<u64>,
}

impl MemoryLimit {
    /// Limits evaluations to the memory in use now plus `extra` bytes.
    pub fn starting_now(extra: u64) -> MemoryLimit {
        regorus_mimalloc::limits::flush_thread_counters();
        let in_use = regorus_mimalloc::limits::global_allocation_stats_snapshot().allocated;
        let previous = regorus::global_memory_limit();
        regorus::set_global_memory_limit(Some(in_use.saturating_add(extra)));
        MemoryLimit { previous }
    }
}

impl Drop for MemoryLimit {
    fn drop(&mut self) {
        regorus::set_global_memory_limit(self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doubling_string_ends_at_the_memory_limit() {
        let mut lines = vec!["package main".to_owned(), "s0 := \"xxxxxxxxxxxxxxxx\"".to_owned()];
        for i in 1..40 {
            lines.push(format!("s{i} := concat(\"\", [s{}, s{}])", i - 1, i - 1));
        }
        lines.push("deny contains \"x\" if count(s39) > 0".to_owned());
        let mut engine = regorus::Engine::new();
        engine.add_policy("p.rego".to_owned(), lines.join("\n")).expect("compiles");
        let started = std::time::Instant::now();
        let result = {
            let _limit = MemoryLimit::starting_now(64 << 20);
            engine.eval_rule("data.main.deny".to_owned())
        };
        let error = result.expect_err("over the limit").to_string();
        assert!(error.contains("memory"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
