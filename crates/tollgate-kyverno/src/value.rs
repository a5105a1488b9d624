//! Value helpers that reproduce what Kyverno's Go runtime does to values:
//! `fmt.Sprint` and `json.Marshal` text, Kubernetes quantities, Go durations.

use serde_json::Value;

/// Go's `fmt.Sprint` of a decoded JSON value.
pub(crate) fn go_sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64().filter(|_| !n.is_f64()) {
                i.to_string()
            } else {
                go_float_g(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_sprint).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            format!("map[{}]", m.iter().map(|(k, v)| format!("{k}:{}", go_sprint(v))).collect::<Vec<_>>().join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
fn go_float_g(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    // Shortest digits; Go's shortest `%g` switches to the exponent form from
    // an exponent of 6 (`1e+06`).
    let s = format!("{f}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// Go's `json.Marshal` of a decoded JSON value (keys sorted, integral floats
/// without a fraction).
pub(crate) fn go_json(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() < 1e21 { format!("{f:.0}") } else { format!("{f}") }
        }
        Value::Array(a) => format!("[{}]", a.iter().map(go_json).collect::<Vec<_>>().join(",")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), go_json(v))).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// A Kubernetes quantity (`100Mi`, `0.5`, `250m`, `1e3`) as a number.
pub(crate) fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (sign, body) = match s.as_bytes()[0] {
        b'+' => (1.0, &s[1..]),
        b'-' => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (digits, suffix) = body.split_at(num_end);
    if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
        return None;
    }
    let base: f64 = digits.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => {
            let e: i32 = s[1..].parse().ok()?;
            10f64.powi(e)
        }
        _ => return None,
    };
    Some(sign * base * mult)
}

/// A Go duration (`1h30m`, `-5s`, `300ms`, `0`) in seconds.
pub(crate) fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n_end == 0 {
            return None;
        }
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u_end..];
        total += n * unit;
    }
    Some(if neg { -total } else { total })
}

/// Why Kyverno's arithmetic refuses its operands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ArithmeticError {
    #[error("`{0}` is not a quantity")]
    NotAQuantity(String),
    #[error("`{0}` is not a quantity or duration")]
    NotAQuantityOrDuration(String),
    #[error("arguments must be numbers, quantities or durations")]
    Operands,
    #[error("division by zero")]
    DivisionByZero,
    #[error("modulo by zero")]
    ModuloByZero,
}

/// Kyverno's arithmetic functions on numbers, quantities and durations.
pub(crate) fn arithmetic(op: &str, a: &Value, b: &Value) -> Result<Value, ArithmeticError> {
    let n = |v: &Value| -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    };
    let (x, y, unit): (f64, f64, Option<&str>) = match (a, b) {
        (Value::Number(_), Value::Number(_)) => (n(a).unwrap_or(0.0), n(b).unwrap_or(0.0), None),
        (Value::String(s), Value::Number(_)) | (Value::Number(_), Value::String(s)) => {
            let q = parse_quantity(s).ok_or_else(|| ArithmeticError::NotAQuantity(s.clone()))?;
            if matches!(a, Value::String(_)) {
                (q, n(b).unwrap_or(0.0), Some("q"))
            } else {
                (n(a).unwrap_or(0.0), q, Some("q"))
            }
        }
        (Value::String(p), Value::String(q)) => {
            if let (Some(d1), Some(d2)) = (parse_duration(p), parse_duration(q)) {
                (d1, d2, Some("d"))
            } else {
                let q1 = parse_quantity(p).ok_or_else(|| ArithmeticError::NotAQuantityOrDuration(p.clone()))?;
                let q2 = parse_quantity(q).ok_or_else(|| ArithmeticError::NotAQuantityOrDuration(q.clone()))?;
                (q1, q2, Some("q"))
            }
        }
        _ => return Err(ArithmeticError::Operands),
    };
    let r = match op {
        "add" => x + y,
        "subtract" => x - y,
        "multiply" => x * y,
        "divide" => {
            if y == 0.0 {
                return Err(ArithmeticError::DivisionByZero);
            }
            x / y
        }
        _ => {
            if y == 0.0 {
                return Err(ArithmeticError::ModuloByZero);
            }
            x % y
        }
    };
    // Quantity or duration divided by its own kind is a plain number.
    Ok(match (unit, op) {
        (Some("d"), "add" | "subtract" | "modulo") => Value::String(format_duration(r)),
        _ => crate::jmespath::num(r),
    })
}

fn format_duration(secs: f64) -> String {
    let mut s = secs.abs();
    let h = (s / 3600.0).floor();
    s -= h * 3600.0;
    let m = (s / 60.0).floor();
    s -= m * 60.0;
    let sign = if secs < 0.0 { "-" } else { "" };
    if h > 0.0 {
        format!("{sign}{h}h{m}m{}s", go_float_g(s))
    } else if m > 0.0 {
        format!("{sign}{m}m{}s", go_float_g(s))
    } else {
        format!("{sign}{}s", go_float_g(s))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    tollgate_yaml::encode_base64(bytes)
}

/// Standard base64 (padding optional); `None` when it is not base64.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Go's `filepath.Clean`.
pub(crate) fn clean_path(p: &str) -> String {
    let abs = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (abs, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Kyverno's `semver_compare(version, range)`, with blang/semver's ranges:
/// comparators `>`, `>=`, `<`, `<=`, `=`, `==`, `!=` (none means `=`), all
/// of a space-separated group must hold, groups are joined by `||`, and
/// `x` wildcards (`1.2.x`). Versions are ordered as semver orders them
/// (`1.2.3-rc.1 < 1.2.3`), parsed by the `semver` crate. As in Kyverno, a
/// version that does not parse is `0.0.0`; a range that does not is an error.
pub(crate) fn semver_compare(version: &str, range: &str) -> Result<bool, RangeError> {
    let v = semver::Version::parse(version.trim()).unwrap_or(semver::Version::new(0, 0, 0));
    let mut any = false;
    for group in range.split("||") {
        let comparators = group
            .split_whitespace()
            .map(comparators)
            .collect::<Result<Vec<Vec<(Op, semver::Version)>>, RangeError>>()?;
        if comparators.is_empty() {
            return Err(RangeError::Empty(range.to_owned()));
        }
        any |= comparators.iter().flatten().all(|(op, w)| op.holds(&v, w));
    }
    Ok(any)
}

/// Why a `semver_compare` range does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RangeError {
    #[error("`{0}` has an empty range")]
    Empty(String),
    #[error("`{text}` is not a semantic version: {message}")]
    Version { text: String, message: String },
    #[error("`{0}` is not a version")]
    NotAVersion(String),
    #[error("`{0}` is not a version range blang/semver accepts")]
    Unaccepted(String),
    #[error("`{0}`: a wildcard with `!=` is not supported")]
    WildcardNotEqual(String),
}

#[derive(Clone, Copy)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn holds(self, v: &semver::Version, w: &semver::Version) -> bool {
        // Build metadata does not order versions.
        let o = v.cmp_precedence(w);
        match self {
            Op::Eq => o.is_eq(),
            Op::Ne => o.is_ne(),
            Op::Gt => o.is_gt(),
            Op::Ge => o.is_ge(),
            Op::Lt => o.is_lt(),
            Op::Le => o.is_le(),
        }
    }
}

/// One comparator, a wildcard one expanded as blang/semver expands it.
fn comparators(text: &str) -> Result<Vec<(Op, semver::Version)>, RangeError> {
    let (op, rest) = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("!=", Op::Ne),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("!", Op::Ne),
    ]
    .iter()
    .find_map(|(p, op)| text.strip_prefix(p).map(|r| (*op, r)))
    .unwrap_or((Op::Eq, text));
    let parts: Vec<&str> = rest.split('.').collect();
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    let Some(at) = parts.iter().position(|p| wild(p)) else {
        let w = semver::Version::parse(rest)
            .map_err(|e| RangeError::Version { text: rest.to_owned(), message: e.to_string() })?;
        return Ok(vec![(op, w)]);
    };
    let num = |i: usize| -> Result<u64, RangeError> {
        parts
            .get(i)
            .filter(|p| !wild(p))
            .map_or(Ok(0), |p| p.parse().map_err(|_| RangeError::NotAVersion(rest.to_owned())))
    };
    if at == 0 || parts.len() > 3 || parts[at..].iter().any(|p| !wild(p)) {
        return Err(RangeError::Unaccepted(rest.to_owned()));
    }
    let low = semver::Version::new(num(0)?, num(1)?, 0);
    let high = if at == 1 {
        semver::Version::new(low.major + 1, 0, 0)
    } else {
        semver::Version::new(low.major, low.minor + 1, 0)
    };
    Ok(match op {
        Op::Eq => vec![(Op::Ge, low), (Op::Lt, high)],
        Op::Gt => vec![(Op::Ge, high)],
        Op::Ge => vec![(Op::Ge, low)],
        Op::Lt => vec![(Op::Lt, low)],
        Op::Le => vec![(Op::Lt, high)],
        Op::Ne => return Err(RangeError::WildcardNotEqual(text.to_owned())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_text() {
        assert_eq!(go_sprint(&json!(3)), "3");
        assert_eq!(go_sprint(&crate::jmespath::num(3.0)), "3");
        assert_eq!(go_sprint(&crate::jmespath::num(1.5)), "1.5");
        assert_eq!(go_sprint(&json!(["a", 1])), "[a 1]");
        assert_eq!(go_json(&crate::jmespath::num(3.0)), "3");
        assert_eq!(go_json(&json!({"b": 1, "a": [true]})), r#"{"a":[true],"b":1}"#);
    }

    #[test]
    fn semver_ranges_as_kyverno() {
        assert_eq!(semver_compare("1.2.3-rc.1", "<1.2.3"), Ok(true));
        assert_eq!(semver_compare("1.2.3", ">=1.2.3-rc.1"), Ok(true));
        assert_eq!(semver_compare("1.2.3", ">1.0.0 <2.0.0"), Ok(true));
        assert_eq!(semver_compare("2.1.0", "<2.0.0 || >=2.1.0"), Ok(true));
        assert_eq!(semver_compare("1.2.9", "1.2.x"), Ok(true));
        assert_eq!(semver_compare("1.3.0", "1.2.x"), Ok(false));
        assert_eq!(semver_compare("1.3.0", ">1.2.x"), Ok(true));
        assert_eq!(semver_compare("1.2.3+build", "=1.2.3"), Ok(true));
        // An unparsable version is 0.0.0; an unparsable range is an error.
        assert_eq!(semver_compare("latest", "<0.0.1"), Ok(true));
        assert!(matches!(semver_compare("1.2.3", ">=banana"), Err(RangeError::Version { .. })));
        assert_eq!(semver_compare("1.2.3", "!=1.x"), Err(RangeError::WildcardNotEqual("!=1.x".to_owned())));
        assert_eq!(
            arithmetic("divide", &serde_json::json!(1), &serde_json::json!(0)),
            Err(ArithmeticError::DivisionByZero)
        );
        assert_eq!(
            arithmetic("add", &serde_json::json!("1Gb"), &serde_json::json!(1)).map_err(|e| e.to_string()),
            Err("`1Gb` is not a quantity".to_owned())
        );
    }

    #[test]
    fn quantities_and_durations() {
        assert_eq!(parse_quantity("100Mi"), Some(100.0 * 1024.0 * 1024.0));
        assert_eq!(parse_quantity("250m"), Some(0.25));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("abc"), None);
        assert_eq!(parse_quantity("1Gb"), None);
        assert_eq!(parse_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_duration("300ms"), Some(0.3));
        assert_eq!(parse_duration("0"), Some(0.0));
        assert_eq!(parse_duration("10"), None);
    }

    #[test]
    fn base64_and_paths() {
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_decode("a*"), None);
        assert_eq!(clean_path("/var/../etc/./x"), "/etc/x");
        assert_eq!(clean_path("a/../.."), "..");
        assert!(semver_compare("1.2.3", ">=1.2.0 <2.0.0").unwrap_or(false));
        assert!(!semver_compare("2.0.0", "<2.0.0").unwrap_or(true));
    }
}
