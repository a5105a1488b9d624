//! Durations and timestamps: Go's duration syntax (`1h30m`), RFC 3339
//! timestamps, their arithmetic within CEL's range, and the UTC getters.
//! Written here (a few dozen lines of calendar arithmetic) rather than
//! pulling a date crate into every build for the handful of operations CEL
//! defines.

use std::sync::Arc;

use crate::eval::{Result, Session, runtime};
use crate::functions::{Function, g, int_arg, m, no_overload, string_arg};
use crate::value::Value;

const NANOS: i128 = 1_000_000_000;
/// CEL's timestamp range: years 1 to 9999.
const MIN_TS: i128 = -62_135_596_800 * NANOS;
const MAX_TS: i128 = 253_402_300_799 * NANOS + (NANOS - 1);
/// CEL's duration range: ±10,000 years, roughly.
const MAX_DURATION: i128 = 315_576_000_000 * NANOS;

pub(crate) fn checked_duration(d: i128) -> Result<i128> {
    if d.abs() > MAX_DURATION { Err(runtime("duration out of range")) } else { Ok(d) }
}

pub(crate) fn checked_timestamp(t: i128) -> Result<i128> {
    if (MIN_TS..=MAX_TS).contains(&t) { Ok(t) } else { Err(runtime("timestamp out of range")) }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1-12, day 1-31) of a day count.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05.5Z`, `+01:00`).
pub(crate) fn parse_timestamp(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        frac = digits.parse::<i128>().ok()? * 10i128.pow(9 - digits.len() as u32);
    }
    let offset: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if *c == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    checked_timestamp(i128::from(secs) * NANOS + frac).ok()
}

/// A timestamp as RFC 3339 in UTC, with as many fraction digits as needed
/// (Go's `time.RFC3339Nano`).
pub(crate) fn format_timestamp(t: i128) -> String {
    let secs = t.div_euclid(NANOS) as i64;
    let nanos = t.rem_euclid(NANOS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos > 0 {
        let f = format!("{nanos:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses a Go duration (`300ms`, `-1.5h`, `2h45m`).
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if n_end == 0 {
            return None;
        }
        let number = &rest[..n_end];
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit: i128 = match &rest[..u_end] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS,
            "m" => 60 * NANOS,
            "h" => 3600 * NANOS,
            _ => return None,
        };
        rest = &rest[u_end..];
        if let Ok(i) = number.parse::<i128>() {
            exact = exact.checked_add(i.checked_mul(unit)?)?;
        } else {
            total += number.parse::<f64>().ok()? * unit as f64;
        }
    }
    let d = exact + total.round() as i128;
    let d = if neg { -d } else { d };
    checked_duration(d).ok()
}

/// A duration as CEL prints it: seconds with a fraction, `1.5s`.
pub(crate) fn format_duration(d: i128) -> String {
    let secs = d / NANOS;
    let nanos = (d % NANOS).abs();
    let sign = if d < 0 && secs == 0 { "-" } else { "" };
    if nanos == 0 {
        format!("{sign}{secs}s")
    } else {
        let f = format!("{nanos:09}");
        format!("{sign}{secs}.{}s", f.trim_end_matches('0'))
    }
}

fn duration(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Duration(_) => Ok(a[0].clone()),
        Value::String(s) => {
            parse_duration(s).map(Value::Duration).ok_or_else(|| runtime(format!("invalid duration {s:?}")))
        }
        Value::Int(i) => Ok(Value::Duration(i128::from(*i) * NANOS)),
        _ => Err(no_overload("duration", a)),
    }
}

fn timestamp(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Timestamp(_) => Ok(a[0].clone()),
        Value::String(s) => {
            parse_timestamp(s).map(Value::Timestamp).ok_or_else(|| runtime(format!("invalid timestamp {s:?}")))
        }
        Value::Int(i) => checked_timestamp(i128::from(*i) * NANOS).map(Value::Timestamp),
        _ => Err(no_overload("timestamp", a)),
    }
}

/// The UTC fields of a timestamp argument; a time zone argument other than
/// UTC is refused (tollgate carries no time zone database).
fn fields(name: &str, a: &[Value]) -> Result<(i64, i64, i64, i64, i128)> {
    let Value::Timestamp(t) = &a[0] else { return Err(no_overload(name, a)) };
    if a.len() > 1 {
        let tz = string_arg(name, a, 1)?;
        if !matches!(tz, "UTC" | "Z" | "+00:00" | "00:00") {
            return Err(runtime(format!("{name}: time zone {tz:?} is not supported offline (only UTC)")));
        }
    }
    let secs = t.div_euclid(NANOS) as i64;
    let days = secs.div_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    Ok((y, mo, d, secs.rem_euclid(86_400), t.rem_euclid(NANOS)))
}

fn get(name: &'static str, a: &[Value]) -> Result<Value> {
    if let Value::Duration(d) = &a[0] {
        return Ok(Value::Int(match name {
            "getHours" => d / (3600 * NANOS),
            "getMinutes" => d / (60 * NANOS),
            "getSeconds" => d / NANOS,
            "getMilliseconds" => d / 1_000_000,
            _ => return Err(no_overload(name, a)),
        } as i64));
    }
    let (y, mo, d, secs, nanos) = fields(name, a)?;
    let Value::Timestamp(t) = &a[0] else { return Err(no_overload(name, a)) };
    Ok(Value::Int(match name {
        "getFullYear" => y,
        "getMonth" => mo - 1,
        "getDate" => d,
        "getDayOfMonth" => d - 1,
        "getDayOfYear" => days_from_civil(y, mo, d) - days_from_civil(y, 1, 1),
        "getDayOfWeek" => (t.div_euclid(NANOS * 86_400) as i64 + 4).rem_euclid(7),
        "getHours" => secs / 3600,
        "getMinutes" => secs % 3600 / 60,
        "getSeconds" => secs % 60,
        "getMilliseconds" => (nanos / 1_000_000) as i64,
        _ => return Err(no_overload(name, a)),
    }))
}

macro_rules! getter {
    ($f:ident, $name:literal) => {
        fn $f(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
            get($name, a)
        }
    };
}
getter!(get_full_year, "getFullYear");
getter!(get_month, "getMonth");
getter!(get_date, "getDate");
getter!(get_day_of_month, "getDayOfMonth");
getter!(get_day_of_year, "getDayOfYear");
getter!(get_day_of_week, "getDayOfWeek");
getter!(get_hours, "getHours");
getter!(get_minutes, "getMinutes");
getter!(get_seconds, "getSeconds");
getter!(get_milliseconds, "getMilliseconds");

/// Kyverno's `time.now()`: one fixed clock per run, so every object of a
/// run is judged at the same instant.
fn now(s: &mut Session<'_>, _: &[Value]) -> Result<Value> {
    Ok(Value::Timestamp(s.now()))
}

/// Kyverno's `time.truncate(timestamp, duration)`.
fn truncate(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Timestamp(t), Value::Duration(d)) if *d > 0 => Ok(Value::Timestamp(t - t.rem_euclid(*d))),
        (Value::Timestamp(_), Value::Duration(_)) => Ok(a[0].clone()),
        _ => Err(no_overload("time.truncate", a)),
    }
}

/// Kyverno's `time.toCron(timestamp)`: `minute hour day month weekday`.
fn to_cron(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (_, mo, d, secs, _) = fields("time.toCron", a)?;
    let dow = get("getDayOfWeek", a)?;
    Ok(Value::String(Arc::from(format!("{} {} {d} {mo} {dow}", secs % 3600 / 60, secs / 3600))))
}

fn ts_int(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let n = int_arg("time", a, 0)?;
    checked_timestamp(i128::from(n) * NANOS).map(Value::Timestamp)
}

pub(crate) static FUNCTIONS: &[Function] = &[
    g("duration", 1, 1, duration),
    g("timestamp", 1, 1, timestamp),
    m("getFullYear", 1, 2, get_full_year),
    m("getMonth", 1, 2, get_month),
    m("getDate", 1, 2, get_date),
    m("getDayOfMonth", 1, 2, get_day_of_month),
    m("getDayOfYear", 1, 2, get_day_of_year),
    m("getDayOfWeek", 1, 2, get_day_of_week),
    m("getHours", 1, 2, get_hours),
    m("getMinutes", 1, 2, get_minutes),
    m("getSeconds", 1, 2, get_seconds),
    m("getMilliseconds", 1, 2, get_milliseconds),
    g("time.now", 0, 0, now),
    g("time.truncate", 2, 2, truncate),
    g("time.toCron", 1, 1, to_cron),
    g("time.unix", 1, 1, ts_int),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2024-02-29T12:34:56.5Z").expect("valid");
        assert_eq!(format_timestamp(t), "2024-02-29T12:34:56.5Z");
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_duration("1h30m"), Some(5400 * NANOS));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("-300ms"), Some(-300_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(format_duration(1_500_000_000), "1.5s");
    }
}
