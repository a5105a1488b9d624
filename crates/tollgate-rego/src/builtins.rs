//! Builtins tollgate registers in place of regorus' own: OPA's `sprintf`
//! (see [`crate::sprintf`]), and `numbers.range`/`numbers.range_step` with a
//! bound on what one call may build. regorus allocates a range's array in
//! one step, before any check: `numbers.range(1, 2e9)` asks for tens of
//! gigabytes at once and the process aborts. Above [`MAX_RANGE`] numbers the
//! call is an evaluation error instead (a `policy-error`).

use regorus::Value;

/// Most numbers one `numbers.range` or `numbers.range_step` call may make.
pub(crate) const MAX_RANGE: i64 = 1_000_000;

/// Registers every replacement on `engine` (once, on a fresh engine).
pub(crate) fn register(engine: &mut regorus::Engine) {
    crate::sprintf::register(engine);
    // Registration fails only when the name is taken, which it is not on a
    // fresh engine; the builtin then stays in use.
    let _ = engine.add_extension("numbers.range".to_string(), 2, Box::new(|args: Vec<Value>| range(&args, None)));
    let _ = engine.add_extension(
        "numbers.range_step".to_string(),
        3,
        Box::new(|args: Vec<Value>| {
            let step = args.get(2).and_then(integer);
            match step {
                Some(s) if s > 0 => range(&args, Some(s)),
                // OPA: "step must be a positive number above zero".
                _ => anyhow::bail!("numbers.range_step: step must be a positive integer"),
            }
        }),
    );
}

/// The integer a value holds, if it is one.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if n.is_integer() => n.as_i64(),
        _ => None,
    }
}

/// `[a, a±step, ..., b]` (b included when reached), as OPA builds it.
fn range(args: &[Value], step: Option<i64>) -> anyhow::Result<Value> {
    let name = if step.is_some() { "numbers.range_step" } else { "numbers.range" };
    // A non-integer operand makes the call undefined (errors are not strict).
    let (Some(from), Some(to)) = (args.first().and_then(integer), args.get(1).and_then(integer)) else {
        return Ok(Value::Undefined);
    };
    let step = step.unwrap_or(1);
    let count = (i128::from(to) - i128::from(from)).abs() / i128::from(step) + 1;
    if count > i128::from(MAX_RANGE) {
        anyhow::bail!(
            "{name}({from}, {to}) would make {count} numbers, over tollgate's limit of {MAX_RANGE} for one call"
        );
    }
    let direction = if to >= from { step } else { -step };
    let mut values = Vec::with_capacity(count as usize);
    let mut v = from;
    for _ in 0..count {
        values.push(Value::from(v));
        v = v.saturating_add(direction);
    }
    Ok(Value::from(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(query: &str) -> Result<Value, String> {
        let mut engine = regorus::Engine::new();
        register(&mut engine);
        engine.set_strict_builtin_errors(false);
        engine.eval_rule(query.to_owned()).map_err(|e| e.to_string()).or_else(|_| {
            engine.eval_query(query.to_owned(), false).map_err(|e| e.to_string()).map(|r| {
                r.result.first().and_then(|r| r.expressions.first()).map_or(Value::Undefined, |e| e.value.clone())
            })
        })
    }

    #[test]
    fn ranges_follow_opa_and_stay_bounded() {
        assert_eq!(eval("numbers.range(1, 3)"), Ok(Value::from(vec![Value::from(1), Value::from(2), Value::from(3)])));
        assert_eq!(eval("numbers.range(3, 1)"), Ok(Value::from(vec![Value::from(3), Value::from(2), Value::from(1)])));
        assert_eq!(
            eval("numbers.range_step(0, 5, 2)"),
            Ok(Value::from(vec![Value::from(0), Value::from(2), Value::from(4)]))
        );
        let started = std::time::Instant::now();
        let huge = eval("count(numbers.range(1, 2e9))");
        assert!(huge.is_err() || huge == Ok(Value::Undefined), "{huge:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
