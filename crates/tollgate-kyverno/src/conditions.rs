//! Condition operators of `preconditions` and `deny.conditions`, with the
//! type coercions of Kyverno's operator handlers
//! (`pkg/engine/variables/operator`).

use serde_json::Value;

use crate::jmespath::json_eq;
use crate::pattern::{is_range, value_matches, wildcard};
use crate::value::{go_sprint, parse_duration, parse_quantity};

/// A condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `Equals` / `Equal`
    Equals,
    /// `NotEquals` / `NotEqual`
    NotEquals,
    /// `In` (deprecated)
    In,
    /// `NotIn` (deprecated)
    NotIn,
    /// `AnyIn`
    AnyIn,
    /// `AllIn`
    AllIn,
    /// `AnyNotIn`
    AnyNotIn,
    /// `AllNotIn`
    AllNotIn,
    /// `GreaterThan`
    GreaterThan,
    /// `GreaterThanOrEquals`
    GreaterThanOrEquals,
    /// `LessThan`
    LessThan,
    /// `LessThanOrEquals`
    LessThanOrEquals,
    /// `DurationGreaterThan`
    DurationGreaterThan,
    /// `DurationGreaterThanOrEquals`
    DurationGreaterThanOrEquals,
    /// `DurationLessThan`
    DurationLessThan,
    /// `DurationLessThanOrEquals`
    DurationLessThanOrEquals,
}

impl Operator {
    /// Parses an operator name, case-insensitively as Kyverno does.
    pub fn parse(name: &str) -> Option<Operator> {
        Some(match name.to_ascii_lowercase().as_str() {
            "equal" | "equals" => Operator::Equals,
            "notequal" | "notequals" => Operator::NotEquals,
            "in" => Operator::In,
            "notin" => Operator::NotIn,
            "anyin" => Operator::AnyIn,
            "allin" => Operator::AllIn,
            "anynotin" => Operator::AnyNotIn,
            "allnotin" => Operator::AllNotIn,
            "greaterthan" => Operator::GreaterThan,
            "greaterthanorequals" => Operator::GreaterThanOrEquals,
            "lessthan" => Operator::LessThan,
            "lessthanorequals" => Operator::LessThanOrEquals,
            "durationgreaterthan" => Operator::DurationGreaterThan,
            "durationgreaterthanorequals" => Operator::DurationGreaterThanOrEquals,
            "durationlessthan" => Operator::DurationLessThan,
            "durationlessthanorequals" => Operator::DurationLessThanOrEquals,
            _ => return None,
        })
    }
}

fn is_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if !n.is_f64() => n.as_i64(),
        _ => None,
    }
}

fn is_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) if n.is_f64() => n.as_f64(),
        _ => None,
    }
}

/// Evaluates `key OPERATOR value`.
pub fn evaluate(op: Operator, key: &Value, value: &Value) -> bool {
    match op {
        Operator::Equals => equals(key, value),
        Operator::NotEquals => not_equals(key, value),
        Operator::In => in_op(key, value, false),
        Operator::NotIn => in_op(key, value, true),
        Operator::AnyIn => any_all(key, value, false, false),
        Operator::AnyNotIn => any_all(key, value, false, true),
        Operator::AllIn => any_all(key, value, true, false),
        Operator::AllNotIn => any_all(key, value, true, true),
        Operator::GreaterThan | Operator::GreaterThanOrEquals | Operator::LessThan | Operator::LessThanOrEquals => {
            numeric(op, key, value)
        }
        _ => duration(op, key, value),
    }
}

fn go_duration(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) if s != "0" => parse_duration(s),
        _ => None,
    }
}

/// Kyverno's `parseDuration`: at least one side a duration string, the
/// other a duration or a number of seconds.
fn both_durations(key: &Value, value: &Value) -> Option<(f64, f64)> {
    let (k, v) = (go_duration(key), go_duration(value));
    if k.is_none() && v.is_none() {
        return None;
    }
    let secs = |d: Option<f64>, raw: &Value| d.or_else(|| if raw.is_number() { raw.as_f64() } else { None });
    Some((secs(k, key)?, secs(v, value)?))
}

fn equals(key: &Value, value: &Value) -> bool {
    if let Some(k) = is_int(key) {
        return match value {
            Value::Number(n) if n.is_f64() => n.as_f64().is_some_and(|f| f.fract() == 0.0 && f as i64 == k),
            Value::Number(n) => n.as_i64() == Some(k),
            Value::String(s) => s.parse::<i64>().ok() == Some(k),
            _ => false,
        };
    }
    if let Some(k) = is_float(key) {
        return match value {
            Value::Number(n) if n.is_f64() => n.as_f64() == Some(k),
            Value::Number(n) => k.fract() == 0.0 && n.as_i64() == Some(k as i64),
            Value::String(s) => s.parse::<f64>().ok() == Some(k),
            _ => false,
        };
    }
    match key {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::String(k) => {
            if let Some((a, b)) = both_durations(key, value) {
                return a == b;
            }
            if let Value::String(v) = value
                && let Some(eq) = decimal_eq(k, v)
            {
                return eq;
            }
            if let Some(kq) = parse_quantity(k)
                && let Value::String(v) = value
            {
                return parse_quantity(v) == Some(kq);
            }
            value.as_str().is_some_and(|v| wildcard(v, k))
        }
        Value::Object(_) => value.is_object() && json_eq(key, value),
        Value::Array(_) => value.is_array() && json_eq(key, value),
        _ => false,
    }
}

/// Two plain decimal numbers compared exactly: Kubernetes quantities are
/// arbitrary-precision, so two 600-digit RSA moduli differ even where a
/// float sees the same infinity. `None` unless both are plain decimals.
fn decimal_eq(a: &str, b: &str) -> Option<bool> {
    fn normal(s: &str) -> Option<(bool, &str, &str)> {
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit() || c == b'.') || s.matches('.').count() > 1 {
            return None;
        }
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
        Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
    }
    // Only where floats lose digits: shorter numbers keep the quantity
    // comparison Kyverno makes.
    if a.len() < 16 && b.len() < 16 {
        return None;
    }
    Some(normal(a)? == normal(b)?)
}

fn not_equals(key: &Value, value: &Value) -> bool {
    if let Some(k) = is_int(key) {
        return match value {
            Value::Number(n) if n.is_f64() => !n.as_f64().is_some_and(|f| f.fract() == 0.0 && f as i64 == k),
            Value::Number(n) => n.as_i64() != Some(k),
            Value::String(s) => s.parse::<i64>().ok() != Some(k),
            _ => true,
        };
    }
    if let Some(k) = is_float(key) {
        return match value {
            Value::Number(n) if n.is_f64() => n.as_f64() != Some(k),
            Value::Number(n) => !(k.fract() == 0.0 && n.as_i64() == Some(k as i64)),
            Value::String(s) => s.parse::<f64>().ok() != Some(k),
            _ => true,
        };
    }
    match key {
        Value::Bool(b) => value.as_bool() != Some(*b),
        Value::String(k) => {
            if let Some((a, b)) = both_durations(key, value) {
                return a != b;
            }
            if let Value::String(v) = value
                && let Some(eq) = decimal_eq(k, v)
            {
                return !eq;
            }
            if let Some(kq) = parse_quantity(k)
                && let Value::String(v) = value
            {
                if v.is_empty() {
                    return !wildcard(v, k);
                }
                return parse_quantity(v) != Some(kq);
            }
            value.as_str().is_none_or(|v| !wildcard(v, k))
        }
        Value::Object(_) | Value::Array(_) => !(value.is_object() == key.is_object() && json_eq(key, value)),
        // Kyverno's handler returns false for a key of another type.
        _ => false,
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(go_sprint(v)),
        _ => None,
    }
}

/// A JSON array in a string (`'["a","b"]'`), as the `In` operators accept.
fn json_string_array(s: &str) -> Result<Vec<String>, ()> {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_string).ok_or(())).collect(),
        Ok(_) => Err(()),
        Err(_) => Err(()),
    }
}

fn in_op(key: &Value, value: &Value, negate: bool) -> bool {
    match key {
        Value::Array(items) => {
            // `In` with a list key: every key element must be a string.
            let Some(keys) = items.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>() else {
                return false;
            };
            let values: Vec<String> = match value {
                Value::Array(a) => match a.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>() {
                    Some(v) => v,
                    None => return false,
                },
                Value::String(s) => {
                    if keys.len() == 1 && &keys[0] == s {
                        return true;
                    }
                    match json_string_array(s) {
                        Ok(a) => a,
                        Err(()) => return false,
                    }
                }
                _ => return false,
            };
            let missing = keys.iter().any(|k| !values.contains(k));
            if negate { missing } else { !missing }
        }
        k => {
            let Some(k) = scalar_string(k) else { return false };
            let found = match value {
                Value::Array(a) => a.iter().any(|v| {
                    let v = go_sprint(v);
                    wildcard(&v, &k) || wildcard(&k, &v)
                }),
                Value::String(s) => {
                    if wildcard(s, &k) {
                        true
                    } else {
                        match json_string_array(s) {
                            Ok(a) => a.contains(&k),
                            Err(()) => return false,
                        }
                    }
                }
                _ => return false,
            };
            if negate { !found } else { found }
        }
    }
}

fn range_holds(key: &str, range: &str) -> bool {
    value_matches(&Value::String(key.to_string()), &Value::String(range.to_string()))
}

/// `AnyIn`, `AllIn`, `AnyNotIn`, `AllNotIn`.
fn any_all(key: &Value, value: &Value, all: bool, not: bool) -> bool {
    let keys: Vec<String> = match key {
        Value::Array(items) => items.iter().map(go_sprint).collect(),
        k => match scalar_string(k) {
            Some(s) => {
                // A single key: `*KeyExistsInArray`, the same for any and all.
                let Some(exists) = single_exists(&s, value) else { return false };
                return if not { !exists } else { exists };
            }
            None => return false,
        },
    };
    let values: Vec<String> = match value {
        Value::Array(a) => a.iter().map(go_sprint).collect(),
        Value::Number(_) | Value::Bool(_) if !all => vec![go_sprint(value)],
        Value::String(s) => {
            if keys.len() == 1 && &keys[0] == s {
                return !not;
            }
            if is_range(s) {
                return match (all, not) {
                    (false, false) => keys.iter().any(|k| range_holds(k, s)),
                    (false, true) => {
                        let inverted = s.replacen('-', "!-", 1);
                        keys.iter().any(|k| range_holds(k, &inverted))
                    }
                    (true, false) => keys.iter().all(|k| range_holds(k, s)),
                    (true, true) => !keys.iter().any(|k| range_holds(k, s)),
                };
            }
            if serde_json::from_str::<Value>(s).is_ok() {
                match json_string_array(s) {
                    Ok(a) => a,
                    Err(()) => return false,
                }
            } else {
                vec![s.clone()]
            }
        }
        _ => return false,
    };
    let matches = |k: &String| values.iter().any(|v| wildcard(k, v) || wildcard(v, k));
    match (all, not) {
        (false, false) => keys.iter().any(matches),
        (false, true) => keys.iter().any(|k| !matches(k)),
        (true, false) => keys.iter().all(matches),
        (true, true) => !keys.iter().any(matches),
    }
}

/// `anyKeyExistsInArray` / `allKeyExistsInArray` (identical in Kyverno):
/// `None` for a value of the wrong type.
fn single_exists(key: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Array(a) => Some(a.iter().any(|v| {
            let v = go_sprint(v);
            wildcard(&v, key) || wildcard(key, &v)
        })),
        Value::String(s) => {
            if wildcard(s, key) {
                return Some(true);
            }
            if is_range(s) {
                return Some(range_holds(key, s));
            }
            let arr =
                if serde_json::from_str::<Value>(s).is_ok() { json_string_array(s).ok()? } else { vec![s.clone()] };
            Some(arr.iter().any(|v| v == key))
        }
        _ => None,
    }
}

fn compare(op: Operator, a: f64, b: f64) -> bool {
    match op {
        Operator::GreaterThan | Operator::DurationGreaterThan => a > b,
        Operator::GreaterThanOrEquals | Operator::DurationGreaterThanOrEquals => a >= b,
        Operator::LessThan | Operator::DurationLessThan => a < b,
        _ => a <= b,
    }
}

fn numeric(op: Operator, key: &Value, value: &Value) -> bool {
    match key {
        Value::Number(n) => {
            let k = n.as_f64().unwrap_or(f64::NAN);
            match value {
                Value::Number(v) => compare(op, k, v.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => {
                    if let Some((a, b)) = both_durations(key, value) {
                        return compare(op, a, b);
                    }
                    s.parse::<f64>().is_ok_and(|v| compare(op, k, v))
                }
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some((a, b)) = both_durations(key, value) {
                return compare(op, a, b);
            }
            if let (Some(a), Value::String(v)) = (parse_quantity(k), value)
                && let Some(b) = parse_quantity(v)
            {
                return compare(op, a, b);
            }
            if let Ok(f) = k.parse::<f64>() {
                return numeric(op, &crate::jmespath::num(f), value);
            }
            if let (Some(a), Value::String(v)) = (semver3(k), value) {
                return semver3(v).is_some_and(|b| {
                    let o = a.cmp(&b);
                    match op {
                        Operator::GreaterThan => o.is_gt(),
                        Operator::GreaterThanOrEquals => o.is_ge(),
                        Operator::LessThan => o.is_lt(),
                        _ => o.is_le(),
                    }
                });
            }
            false
        }
        _ => false,
    }
}

fn semver3(s: &str) -> Option<(u64, u64, u64)> {
    let core = s.split(['-', '+']).next()?;
    let mut it = core.split('.');
    let t = (it.next()?.parse().ok()?, it.next()?.parse().ok()?, it.next()?.parse().ok()?);
    if it.next().is_some() { None } else { Some(t) }
}

fn duration(op: Operator, key: &Value, value: &Value) -> bool {
    let secs = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64().map(f64::trunc),
            Value::String(s) => parse_duration(s),
            _ => None,
        }
    };
    match (key, secs(key), secs(value)) {
        (Value::Number(_) | Value::String(_), Some(a), Some(b)) => compare(op, a, b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(x: f64) -> Value {
        crate::jmespath::num(x)
    }

    #[test]
    fn equality_with_wildcards_numbers_quantities_durations() {
        assert!(evaluate(Operator::Equals, &json!("nginx:1"), &json!("nginx:*")));
        assert!(!evaluate(Operator::Equals, &json!("nginx:*"), &json!("nginx:1")));
        assert!(evaluate(Operator::Equals, &f(3.0), &json!(3)));
        assert!(evaluate(Operator::Equals, &json!("1Gi"), &json!("1024Mi")));
        assert!(evaluate(Operator::Equals, &json!("1h"), &json!("60m")));
        assert!(evaluate(Operator::NotEquals, &json!("a"), &json!("b")));
        assert!(evaluate(Operator::NotEquals, &json!(true), &json!("true")));
        assert!(evaluate(Operator::Equals, &json!({"a": 1}), &json!({"a": 1.0})));
        // Numbers past a float's digits (RSA moduli) compare exactly.
        let a = "9".repeat(400);
        let b = format!("{}8", "9".repeat(399));
        assert!(evaluate(Operator::NotEquals, &json!(a), &json!(b)));
        assert!(evaluate(Operator::Equals, &json!(a), &json!(format!("000{a}.000"))));
    }

    #[test]
    fn set_operators() {
        assert!(evaluate(Operator::AnyIn, &json!("DELETE"), &json!(["DELETE", "UPDATE"])));
        assert!(!evaluate(Operator::AnyIn, &json!("CREATE"), &json!(["DELETE", "UPDATE"])));
        assert!(evaluate(Operator::AnyIn, &json!(["a", "x"]), &json!(["x*"])));
        assert!(evaluate(Operator::AllIn, &json!(["a", "b"]), &json!(["a", "b", "c"])));
        assert!(!evaluate(Operator::AllIn, &json!(["a", "d"]), &json!(["a", "b"])));
        assert!(evaluate(Operator::AnyNotIn, &json!(["a", "d"]), &json!(["a", "b"])));
        assert!(evaluate(Operator::AllNotIn, &json!(["d", "e"]), &json!(["a", "b"])));
        assert!(!evaluate(Operator::AllNotIn, &json!(["a", "e"]), &json!(["a", "b"])));
        assert!(evaluate(Operator::AnyIn, &json!([f(5.0)]), &json!("1-10")));
        assert!(evaluate(Operator::In, &json!("a"), &json!(["a", "b"])));
        assert!(evaluate(Operator::NotIn, &json!("c"), &json!(["a", "b"])));
        assert!(evaluate(Operator::AnyIn, &json!("a"), &json!("[\"a\"]")));
    }

    #[test]
    fn numeric_and_duration_operators() {
        assert!(evaluate(Operator::GreaterThan, &f(4.0), &json!(3)));
        assert!(evaluate(Operator::LessThanOrEquals, &json!("500Mi"), &json!("1Gi")));
        assert!(evaluate(Operator::GreaterThanOrEquals, &json!("1.25.0"), &json!("1.24.3")));
        assert!(evaluate(Operator::GreaterThan, &json!("2h"), &json!("90m")));
        assert!(evaluate(Operator::DurationLessThan, &json!("30s"), &json!("1m")));
        assert!(evaluate(Operator::DurationGreaterThan, &json!(120), &json!("1m")));
        assert!(!evaluate(Operator::GreaterThan, &json!("abc"), &json!(1)));
    }
}
