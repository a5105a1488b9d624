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

/// Limits evaluations for as long as it lives. Limits may overlap (checks
/// running at once in one process, ended in any order): while any is alive,
/// the process-wide limit is the highest of them, so no check is held to
/// another's smaller headroom; when the last one goes, the limit that was
/// in force before the first comes back.
#[derive(Debug)]
pub struct MemoryLimit {
    bytes: u64,
}

/// The live limits (in bytes) and the limit before the first.
struct Live {
    limits: Vec<u64>,
    before: Option<u64>,
}

static LIVE: std::sync::Mutex<Live> = std::sync::Mutex::new(Live { limits: Vec::new(), before: None });

fn live() -> std::sync::MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryLimit {
    /// Limits evaluations to the memory in use now plus `extra` bytes.
    pub fn starting_now(extra: u64) -> MemoryLimit {
        regorus_mimalloc::limits::flush_thread_counters();
        let in_use = regorus_mimalloc::limits::global_allocation_stats_snapshot().allocated;
        let mut live = live();
        if live.limits.is_empty() {
            live.before = regorus::global_memory_limit();
        }
        let bytes = in_use.saturating_add(extra);
        live.limits.push(bytes);
        regorus::set_global_memory_limit(live.limits.iter().copied().max());
        MemoryLimit { bytes }
    }
}

impl Drop for MemoryLimit {
    fn drop(&mut self) {
        let mut live = live();
        // One of the live limits of this size (any: they are alike).
        if let Some(at) = live.limits.iter().position(|&bytes| bytes == self.bytes) {
            live.limits.swap_remove(at);
        }
        let limit = live.limits.iter().copied().max().or(live.before);
        regorus::set_global_memory_limit(limit);
    }
}

// The test is `tests/memory_limit.rs`: a process-wide limit must not meet
// the unit tests' evaluations, which run beside it in one process.
