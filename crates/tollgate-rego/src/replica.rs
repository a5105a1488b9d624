//! Engines that share nothing, so that threads evaluate without writing to
//! each other's memory.
//!
//! regorus is built with its `arc` feature (an engine must cross threads),
//! so the compiled policy, its syntax tree and every value are counted with
//! atomic reference counts, and `Engine::clone` shares them all. Evaluation
//! clones and drops those references all the time (the current module,
//! rule bodies, the data document), so two threads evaluating on clones of
//! one engine write the same counters, and the cache lines holding them
//! move from core to core on every write. Measured on `bench/rego.sh`
//! (23,434 documents, 2 cores), evaluation on clones ran only 1.37 times as
//! fast as on one thread, and on engines built apart 2 times as fast.
//!
//! So an engine is built through a [`Recorded`] engine, which also keeps
//! what was added to it (each policy text as added, after tollgate's
//! rewrites, and the data), and [`Recorded::replica`] builds the same engine
//! again, sharing nothing with it. [`PerThread`] keeps one value for each
//! worker thread of rayon's pool, and [`Recorded::for_thread`] gives each
//! its engine: a replica, or from the [`MAX_REPLICAS`]th thread on a clone,
//! so that a machine with many cores does not compile the policies once per
//! core.

use std::sync::{Mutex, PoisonError};

/// A regorus engine set up as every tollgate engine is: tollgate's
/// built-ins (OPA's `sprintf`), a builtin error making its expression
/// undefined (as OPA by default), and `print()` output collected, never
/// written to tollgate's standard output.
pub(crate) fn new_engine() -> regorus::Engine {
    let mut engine = regorus::Engine::new();
    crate::builtins::register(&mut engine);
    engine.set_strict_builtin_errors(false);
    engine.set_gather_prints(true);
    engine
}

/// One policy as added: its path, its text (rewritten), its syntax.
#[derive(Debug, Clone)]
struct Added {
    path: String,
    text: String,
    rego_v0: bool,
}

/// Threads of [`PerThread`] slots from this one on evaluate on clones, not
/// replicas ([`Recorded::for_thread`]). Each replica holds a compiled copy of the policies: on a
/// machine with many cores, a large policy set compiled once per thread
/// would cost more memory (and start-up) than the contention it saves.
pub(crate) const MAX_REPLICAS: usize = 16;

/// An engine, and what was added to it, so that it can be built again.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// The engine: for single-threaded use, and clones that share it.
    pub(crate) engine: regorus::Engine,
    policies: Vec<Added>,
    data: Vec<serde_json::Value>,
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded { engine: new_engine(), policies: Vec::new(), data: Vec::new() }
    }
}

impl Recorded {
    /// Adds a policy in Rego v0 (`rego_v0`) or v1 syntax; the package on
    /// success, regorus' error otherwise (the engine is then unchanged).
    pub(crate) fn add_policy(&mut self, path: &str, text: &str, rego_v0: bool) -> anyhow::Result<String> {
        self.engine.set_rego_v0(rego_v0);
        let added = self.engine.add_policy(path.to_owned(), text.to_owned());
        self.engine.set_rego_v0(false);
        if added.is_ok() {
            self.policies.push(Added { path: path.to_owned(), text: text.to_owned(), rego_v0 });
        }
        added
    }

    /// Merges `data` into the data document.
    pub(crate) fn add_data(&mut self, data: serde_json::Value) -> anyhow::Result<()> {
        self.engine.add_data(regorus::Value::from(data.clone()))?;
        self.data.push(data);
        Ok(())
    }

    /// Analyses the policies now, so that the first evaluation (on every
    /// clone) does not.
    pub(crate) fn prepare(&mut self) {
        prepare(&mut self.engine);
    }

    /// The same engine built again from what was added, prepared, sharing
    /// nothing with this one. Should regorus refuse a replay of what it
    /// accepted once (it parses the same text with the same settings), the
    /// replica is a clone: slower on many threads, but the same policy.
    pub(crate) fn replica(&self) -> regorus::Engine {
        let mut engine = new_engine();
        for p in &self.policies {
            engine.set_rego_v0(p.rego_v0);
            if engine.add_policy(p.path.clone(), p.text.clone()).is_err() {
                return self.engine.clone();
            }
        }
        engine.set_rego_v0(false);
        for data in &self.data {
            if engine.add_data(regorus::Value::from(data.clone())).is_err() {
                return self.engine.clone();
            }
        }
        prepare(&mut engine);
        engine
    }

    /// The engine of the thread in [`PerThread`] slot `slot`: a replica, or
    /// past [`MAX_REPLICAS`] a clone.
    pub(crate) fn for_thread(&self, slot: usize) -> regorus::Engine {
        if slot < MAX_REPLICAS { self.replica() } else { self.engine.clone() }
    }
}

/// regorus analyses the policies at the first evaluation after a change;
/// any query does it. Its result is of no interest (an error would come
/// again, and be reported, at the real evaluation).
fn prepare(engine: &mut regorus::Engine) {
    let _ = engine.eval_query("true".to_owned(), false);
}

/// One value for each worker thread of rayon's current pool, made on the
/// thread's first use: each thread evaluates on its own replica, and no two
/// threads ever use one value (a thread outside the pool uses the first
/// slot, which is then shared, and only slower).
pub(crate) struct PerThread<T> {
    slots: Vec<Mutex<Option<T>>>,
}

impl<T> PerThread<T> {
    /// Empty slots, one per thread of rayon's current pool.
    pub(crate) fn new() -> Self {
        PerThread { slots: (0..rayon::current_num_threads().max(1)).map(|_| Mutex::new(None)).collect() }
    }

    /// Runs `f` on this thread's value, made by `make` on first use; both
    /// are given the slot's index. `f` must not wait on rayon work (no parallel
    /// iterator inside): the thread could then run another item needing the
    /// same slot. Should `f` panic (a bug), the value, which it may have
    /// left half changed, is dropped (the next use makes a new one) and the
    /// panic goes on to the caller.
    pub(crate) fn with<R>(&self, make: impl FnOnce(usize) -> T, f: impl FnOnce(&mut T, usize) -> R) -> R {
        let index = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
        let mut slot = self.slots[index].lock().unwrap_or_else(PoisonError::into_inner);
        let value = slot.get_or_insert_with(|| make(index));
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(value, index))) {
            Ok(r) => r,
            Err(panic) => {
                *slot = None;
                drop(slot);
                std::panic::resume_unwind(panic)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn a_replica_evaluates_as_the_engine_does_and_shares_nothing() {
        let mut recorded = Recorded::default();
        let package = recorded
            .add_policy(
                "p.rego",
                "package p\nallow if input.x == data.want\nmsg := sprintf(\"%v\", [input.x])\n",
                false,
            )
            .expect("the policy compiles");
        assert_eq!(package, "data.p");
        assert!(recorded.add_policy("bad.rego", "package q\nallow {", false).is_err(), "a refusal is not recorded");
        recorded.add_data(serde_json::json!({"want": 3})).expect("data loads");
        recorded.prepare();
        let mut replica = recorded.replica();
        for engine in [&mut recorded.engine, &mut replica] {
            engine.set_input(regorus::Value::from(serde_json::json!({"x": 3})));
            assert_eq!(engine.eval_rule("data.p.allow".to_owned()).ok(), Some(regorus::Value::from(true)));
            assert_eq!(engine.eval_rule("data.p.msg".to_owned()).ok(), Some(regorus::Value::from("3")));
        }
    }

    #[test]
    fn a_value_a_panic_left_half_changed_is_made_again() {
        let per = PerThread::new();
        let made = std::cell::Cell::new(0);
        let make = |_| {
            made.set(made.get() + 1);
            vec![1]
        };
        let caught = tollgate_core::catch_panic(|| {
            per.with(make, |v: &mut Vec<i32>, _| {
                v.push(2);
                panic!("a bug")
            })
        });
        assert_eq!(caught.map_err(|p| p.0), Err("a bug".to_owned()));
        assert_eq!(per.with(make, |v, _| v.clone()), vec![1], "made again, not [1, 2]");
        assert_eq!(made.get(), 2);
    }

    #[test]
    fn per_thread_makes_one_value_per_pool_thread() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a pool");
        let made = std::sync::atomic::AtomicUsize::new(0);
        let sums: Vec<usize> = pool.install(|| {
            let per = PerThread::new();
            (0..10_000usize)
                .into_par_iter()
                .map(|i| {
                    per.with(
                        |slot| {
                            assert!(slot < 3, "slot {slot} of a 3-thread pool");
                            made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            0usize
                        },
                        |seen, _| {
                            *seen += 1;
                            i
                        },
                    )
                })
                .collect()
        });
        assert_eq!(sums.len(), 10_000);
        let made = made.into_inner();
        assert!((1..=3).contains(&made), "one value per thread used, made {made}");
    }
}
