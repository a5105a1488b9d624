//! The memory limit is process-wide, so its test runs in a process of its
//! own: beside other tests, their evaluations would meet the limit too.

use tollgate_rego::memory::MemoryLimit;

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
