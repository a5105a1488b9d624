//! The memory limit is process-wide, so its tests run in a process of their
//! own (beside other tests, their evaluations would meet the limit too),
//! one at a time.

use tollgate_rego::memory::MemoryLimit;

/// The tests of this binary set the one process-wide limit: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn a_doubling_string_ends_at_the_memory_limit() {
    let _serial = serial();
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

#[test]
fn overlapping_limits_end_in_any_order_and_restore_the_one_before() {
    let _serial = serial();
    let before = regorus::global_memory_limit();
    let small = MemoryLimit::starting_now(1 << 20);
    let small_bytes = regorus::global_memory_limit().expect("a limit is set");
    let large = MemoryLimit::starting_now(1 << 30);
    let large_bytes = regorus::global_memory_limit().expect("a limit is set");
    assert!(large_bytes > small_bytes, "the highest live limit is in force");
    drop(small);
    assert_eq!(regorus::global_memory_limit(), Some(large_bytes), "the first one ending leaves the other's");
    drop(large);
    assert_eq!(regorus::global_memory_limit(), before, "the last one ending restores the limit before");
}
