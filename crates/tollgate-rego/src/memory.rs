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

// The test is `tests/memory_limit.rs`: a process-wide limit must not meet
// the unit tests' evaluations, which run beside it in one process.
