//! The function table: CEL's standard library, the strings, lists, math,
//! sets, base64 and optional extensions, and (from [`crate::ext`] and
//! [`crate::kyverno`]) Kubernetes' and Kyverno's libraries. Each entry is
//! resolved once at compile time by name and argument count; overloads on
//! argument types are told apart at run time, as CEL's dynamic dispatch does.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::eval::{Error, Result, Session, runtime};
use crate::value::{Key, Value, compare, format_double};

/// An implementation: the receiver (for a member function) then the
/// arguments, already evaluated.
pub(crate) type Imp = fn(&mut Session<'_>, &[Value]) -> Result<Value>;

/// One function of the table.
pub(crate) struct Function {
    pub(crate) name: &'static str,
    member: bool,
    /// Argument counts, the receiver included for a member function.
    min: usize,
    max: usize,
    pub(crate) imp: Imp,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

pub(crate) const fn g(name: &'static str, min: usize, max: usize, imp: Imp) -> Function {
    Function { name, member: false, min, max, imp }
}

pub(crate) const fn m(name: &'static str, min: usize, max: usize, imp: Imp) -> Function {
    Function { name, member: true, min, max, imp }
}

const ANY: usize = usize::MAX;

fn find(name: &str, member: bool, argc: usize) -> Option<&'static Function> {
    [STANDARD, crate::time::FUNCTIONS, crate::ext::FUNCTIONS, crate::kyverno::FUNCTIONS]
        .into_iter()
        .flatten()
        .find(|f| f.member == member && f.name == name && (f.min..=f.max).contains(&argc))
}

/// The global function `name` called with `argc` arguments.
pub(crate) fn global(name: &str, argc: usize) -> Option<&'static Function> {
    find(name, false, argc)
}

/// The member function `name` called with `argc` values, its receiver
/// included.
pub(crate) fn member(name: &str, argc: usize) -> Option<&'static Function> {
    find(name, true, argc)
}

/// The error CEL gives when no overload takes these arguments.
pub(crate) fn no_overload(name: &str, args: &[Value]) -> Error {
    let types: Vec<&str> = args.iter().map(Value::type_name).collect();
    runtime(format!("no such overload: {name}({})", types.join(", ")))
}

pub(crate) fn string_arg<'v>(name: &str, args: &'v [Value], i: usize) -> Result<&'v str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(no_overload(name, args)),
    }
}

pub(crate) fn int_arg(name: &str, args: &[Value], i: usize) -> Result<i64> {
    match args.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::Uint(n)) => i64::try_from(*n).map_err(|_| runtime("integer overflow")),
        _ => Err(no_overload(name, args)),
    }
}

pub(crate) fn list_arg<'v>(name: &str, args: &'v [Value], i: usize) -> Result<&'v Arc<Vec<Value>>> {
    match args.get(i) {
        Some(Value::List(l)) => Ok(l),
        _ => Err(no_overload(name, args)),
    }
}

/// A string result, its size checked against the budget.
pub(crate) fn string_out(s: &mut Session<'_>, out: String) -> Result<Value> {
    s.check_size(out.len())?;
    Ok(Value::String(Arc::from(out)))
}

fn overflow() -> Error {
    runtime("integer overflow")
}

fn add(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_add(*y).ok_or_else(overflow)?),
        (Value::Uint(x), Value::Uint(y)) => Value::Uint(x.checked_add(*y).ok_or_else(overflow)?),
        (Value::Double(x), Value::Double(y)) => Value::Double(x + y),
        (Value::String(x), Value::String(y)) => {
            s.check_size(x.len() + y.len())?;
            let mut out = String::with_capacity(x.len() + y.len());
            out.push_str(x);
            out.push_str(y);
            Value::String(Arc::from(out))
        }
        (Value::Bytes(x), Value::Bytes(y)) => {
            s.check_size(x.len() + y.len())?;
            Value::Bytes(x.iter().chain(y.iter()).copied().collect())
        }
        (Value::List(x), Value::List(y)) => {
            s.check_size((x.len() + y.len()) * 8)?;
            let mut out = Vec::with_capacity(x.len() + y.len());
            out.extend(x.iter().cloned());
            out.extend(y.iter().cloned());
            Value::list(out)
        }
        (Value::Duration(x), Value::Duration(y)) => Value::Duration(crate::time::checked_duration(x + y)?),
        (Value::Timestamp(x), Value::Duration(y)) | (Value::Duration(y), Value::Timestamp(x)) => {
            Value::Timestamp(crate::time::checked_timestamp(x + y)?)
        }
        (Value::Ext(x), Value::Ext(y)) => return crate::ext::quantity_add(x, y, false),
        _ => return Err(no_overload("_+_", a)),
    })
}

fn sub(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_sub(*y).ok_or_else(overflow)?),
        (Value::Uint(x), Value::Uint(y)) => Value::Uint(x.checked_sub(*y).ok_or_else(overflow)?),
        (Value::Double(x), Value::Double(y)) => Value::Double(x - y),
        (Value::Duration(x), Value::Duration(y)) => Value::Duration(crate::time::checked_duration(x - y)?),
        (Value::Timestamp(x), Value::Duration(y)) => Value::Timestamp(crate::time::checked_timestamp(x - y)?),
        (Value::Timestamp(x), Value::Timestamp(y)) => Value::Duration(crate::time::checked_duration(x - y)?),
        _ => return Err(no_overload("_-_", a)),
    })
}

fn mul(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_mul(*y).ok_or_else(overflow)?),
        (Value::Uint(x), Value::Uint(y)) => Value::Uint(x.checked_mul(*y).ok_or_else(overflow)?),
        (Value::Double(x), Value::Double(y)) => Value::Double(x * y),
        _ => return Err(no_overload("_*_", a)),
    })
}

fn div(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match (&a[0], &a[1]) {
        (Value::Int(_) | Value::Uint(_), Value::Int(0) | Value::Uint(0)) => return Err(runtime("division by zero")),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_div(*y).ok_or_else(overflow)?),
        (Value::Uint(x), Value::Uint(y)) => Value::Uint(x / y),
        (Value::Double(x), Value::Double(y)) => Value::Double(x / y),
        _ => return Err(no_overload("_/_", a)),
    })
}

fn rem(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match (&a[0], &a[1]) {
        (Value::Int(_) | Value::Uint(_), Value::Int(0) | Value::Uint(0)) => return Err(runtime("modulus by zero")),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_rem(*y).ok_or_else(overflow)?),
        (Value::Uint(x), Value::Uint(y)) => Value::Uint(x % y),
        _ => return Err(no_overload("_%_", a)),
    })
}

fn neg(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match &a[0] {
        Value::Int(x) => Value::Int(x.checked_neg().ok_or_else(overflow)?),
        Value::Double(x) => Value::Double(-x),
        Value::Duration(x) => Value::Duration(-x),
        _ => return Err(no_overload("-_", a)),
    })
}

fn eq(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    s.charge(((a[0].weight() + a[1].weight()) / 64) as u64)?;
    Ok(Value::Bool(a[0] == a[1]))
}

fn ne(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    s.charge(((a[0].weight() + a[1].weight()) / 64) as u64)?;
    Ok(Value::Bool(a[0] != a[1]))
}

fn ordered(name: &str, a: &[Value], test: fn(Ordering) -> bool) -> Result<Value> {
    if let (Value::Double(x), Value::Double(y)) = (&a[0], &a[1])
        && (x.is_nan() || y.is_nan())
    {
        return Ok(Value::Bool(false));
    }
    compare(&a[0], &a[1]).map(|o| Value::Bool(test(o))).ok_or_else(|| no_overload(name, a))
}

fn lt(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    ordered("_<_", a, Ordering::is_lt)
}
fn le(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    ordered("_<=_", a, Ordering::is_le)
}
fn gt(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    ordered("_>_", a, Ordering::is_gt)
}
fn ge(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    ordered("_>=_", a, Ordering::is_ge)
}

fn in_(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[1] {
        Value::List(l) => {
            s.charge(l.len() as u64)?;
            Ok(Value::Bool(l.iter().any(|x| *x == a[0])))
        }
        Value::Map(m) => Ok(Value::Bool(Key::of(&a[0]).is_some_and(|k| m.contains_key(&k)))),
        _ => Err(no_overload("@in", a)),
    }
}

fn size(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(match &a[0] {
        Value::String(s) => s.chars().count() as i64,
        Value::Bytes(b) => b.len() as i64,
        Value::List(l) => l.len() as i64,
        Value::Map(m) => m.len() as i64,
        _ => return Err(no_overload("size", a)),
    }))
}

fn type_of(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Type(Arc::from(a[0].type_name())))
}

fn dyn_(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(a[0].clone())
}

fn to_int(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(match &a[0] {
        Value::Int(i) => *i,
        Value::Uint(u) => i64::try_from(*u).map_err(|_| runtime("int() range error"))?,
        Value::Double(d) => {
            if !d.is_finite() || *d <= -9.223_372_036_854_776e18 || *d >= 9.223_372_036_854_776e18 {
                return Err(runtime("int() range error converting double"));
            }
            d.trunc() as i64
        }
        Value::String(s) => s.parse::<i64>().map_err(|_| runtime(format!("cannot convert {s:?} to int")))?,
        Value::Timestamp(t) => t.div_euclid(1_000_000_000) as i64,
        Value::Duration(d) => *d as i64,
        Value::Bool(_) | Value::Null | Value::Bytes(_) | Value::List(_) | Value::Map(_) | Value::Type(_) => {
            return Err(no_overload("int", a));
        }
        _ => return Err(no_overload("int", a)),
    }))
}

fn to_uint(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Uint(match &a[0] {
        Value::Uint(u) => *u,
        Value::Int(i) => u64::try_from(*i).map_err(|_| runtime("uint() range error"))?,
        Value::Double(d) => {
            if !d.is_finite() || *d < 0.0 || *d >= 1.844_674_407_370_955_2e19 {
                return Err(runtime("uint() range error converting double"));
            }
            d.trunc() as u64
        }
        Value::String(s) => s.parse::<u64>().map_err(|_| runtime(format!("cannot convert {s:?} to uint")))?,
        _ => return Err(no_overload("uint", a)),
    }))
}

fn to_double(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(match &a[0] {
        Value::Double(d) => *d,
        Value::Int(i) => *i as f64,
        Value::Uint(u) => *u as f64,
        Value::String(s) => s.parse::<f64>().map_err(|_| runtime(format!("cannot convert {s:?} to double")))?,
        _ => return Err(no_overload("double", a)),
    }))
}

fn to_string(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::String(_) => Ok(a[0].clone()),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(t) => string_out(s, t.to_string()),
            Err(_) => Err(runtime("invalid UTF-8 in bytes, cannot convert to string")),
        },
        Value::Int(_) | Value::Uint(_) | Value::Bool(_) | Value::Duration(_) | Value::Timestamp(_) | Value::Ext(_) => {
            string_out(s, a[0].to_string())
        }
        Value::Double(d) => string_out(s, format_double(*d)),
        _ => Err(no_overload("string", a)),
    }
}

fn to_bytes(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Bytes(_) => Ok(a[0].clone()),
        Value::String(s) => Ok(Value::Bytes(Arc::from(s.as_bytes()))),
        _ => Err(no_overload("bytes", a)),
    }
}

fn to_bool(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Bool(_) => Ok(a[0].clone()),
        Value::String(s) => match &**s {
            "1" | "t" | "true" | "TRUE" | "True" => Ok(Value::Bool(true)),
            "0" | "f" | "false" | "FALSE" | "False" => Ok(Value::Bool(false)),
            _ => Err(runtime(format!("type conversion error from 'string' to 'bool': {s:?}"))),
        },
        _ => Err(no_overload("bool", a)),
    }
}

// --- strings -------------------------------------------------------------

fn contains(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (string_arg("contains", a, 0)?, string_arg("contains", a, 1)?);
    s.charge((x.len() / 10) as u64)?;
    Ok(Value::Bool(x.contains(y)))
}

fn starts_with(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(string_arg("startsWith", a, 0)?.starts_with(string_arg("startsWith", a, 1)?)))
}

fn ends_with(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(string_arg("endsWith", a, 0)?.ends_with(string_arg("endsWith", a, 1)?)))
}

/// A compiled regular expression ([`crate::regex_cache`]); its compilation,
/// not a cached one, is charged to the evaluation's cost.
pub(crate) fn regex(s: &mut Session<'_>, pattern: &str) -> Result<Arc<regex::Regex>> {
    if let Some(r) = crate::regex_cache::cached(pattern) {
        return Ok(r);
    }
    s.charge(pattern.len() as u64)?;
    crate::regex_cache::compile(pattern).map_err(|e| runtime(format!("invalid regular expression {pattern:?}: {e}")))
}

fn matches(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (text, pattern) = (string_arg("matches", a, 0)?, string_arg("matches", a, 1)?);
    let r = regex(s, pattern)?;
    s.charge((text.len() / 10) as u64)?;
    Ok(Value::Bool(r.is_match(text)))
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

fn char_at(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let text = chars(string_arg("charAt", a, 0)?);
    let i = int_arg("charAt", a, 1)?;
    let idx = usize::try_from(i).map_err(|_| runtime(format!("index out of range: {i}")))?;
    match idx.cmp(&text.len()) {
        Ordering::Less => string_out(s, text[idx].to_string()),
        Ordering::Equal => Ok(Value::str("")),
        Ordering::Greater => Err(runtime(format!("index out of range: {i}"))),
    }
}

fn index_of(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if let Value::List(l) = &a[0] {
        s.charge(l.len() as u64)?;
        return Ok(Value::Int(l.iter().position(|x| *x == a[1]).map_or(-1, |p| p as i64)));
    }
    let text = chars(string_arg("indexOf", a, 0)?);
    let sub = chars(string_arg("indexOf", a, 1)?);
    let start = if a.len() > 2 { int_arg("indexOf", a, 2)? } else { 0 };
    let start = usize::try_from(start)
        .ok()
        .filter(|s| *s <= text.len())
        .ok_or_else(|| runtime(format!("index out of range: {start}")))?;
    s.charge((text.len() / 10) as u64)?;
    if sub.is_empty() {
        return Ok(Value::Int(start as i64));
    }
    let found = (start..text.len()).find(|&i| text[i..].starts_with(&sub));
    Ok(Value::Int(found.map_or(-1, |i| i as i64)))
}

fn last_index_of(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if let Value::List(l) = &a[0] {
        s.charge(l.len() as u64)?;
        return Ok(Value::Int(l.iter().rposition(|x| *x == a[1]).map_or(-1, |p| p as i64)));
    }
    let text = chars(string_arg("lastIndexOf", a, 0)?);
    let sub = chars(string_arg("lastIndexOf", a, 1)?);
    let end = if a.len() > 2 { int_arg("lastIndexOf", a, 2)? } else { text.len() as i64 };
    let end = usize::try_from(end)
        .ok()
        .filter(|e| *e <= text.len())
        .ok_or_else(|| runtime(format!("index out of range: {end}")))?;
    s.charge((text.len() / 10) as u64)?;
    if sub.is_empty() {
        return Ok(Value::Int(end as i64));
    }
    let found = (0..=end.min(text.len().saturating_sub(sub.len()))).rev().find(|&i| text[i..].starts_with(&sub));
    Ok(Value::Int(found.map_or(-1, |i| i as i64)))
}

fn lower_ascii(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    string_out(s, string_arg("lowerAscii", a, 0)?.to_ascii_lowercase())
}

fn upper_ascii(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    string_out(s, string_arg("upperAscii", a, 0)?.to_ascii_uppercase())
}

fn replace(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (text, from, to) = (string_arg("replace", a, 0)?, string_arg("replace", a, 1)?, string_arg("replace", a, 2)?);
    let n = if a.len() > 3 { int_arg("replace", a, 3)? } else { -1 };
    // The result's size is known before it is built.
    let count = if from.is_empty() { text.chars().count() + 1 } else { text.matches(from).count() };
    let count = if n < 0 { count } else { count.min(n as usize) };
    s.check_size(text.len() + count * to.len())?;
    let out = if n < 0 { text.replace(from, to) } else { text.replacen(from, to, n as usize) };
    string_out(s, out)
}

fn split(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (text, sep) = (string_arg("split", a, 0)?, string_arg("split", a, 1)?);
    let n = if a.len() > 2 { int_arg("split", a, 2)? } else { -1 };
    s.charge((text.len() / 10) as u64)?;
    if n == 0 {
        return Ok(Value::list(Vec::new()));
    }
    let parts: Vec<Value> = if sep.is_empty() {
        let cs: Vec<String> = text.chars().map(String::from).collect();
        if n > 0 && cs.len() > n as usize {
            let mut head: Vec<String> = cs[..n as usize - 1].to_vec();
            head.push(cs[n as usize - 1..].concat());
            head.into_iter().map(|x| Value::str(&x)).collect()
        } else {
            cs.into_iter().map(|x| Value::str(&x)).collect()
        }
    } else if n > 0 {
        text.splitn(n as usize, sep).map(Value::str).collect()
    } else {
        text.split(sep).map(Value::str).collect()
    };
    s.check_size(parts.len() * 8)?;
    Ok(Value::list(parts))
}

fn substring(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let text = chars(string_arg("substring", a, 0)?);
    let start = int_arg("substring", a, 1)?;
    let end = if a.len() > 2 { int_arg("substring", a, 2)? } else { text.len() as i64 };
    if start < 0 || end < start || end as usize > text.len() {
        return Err(runtime(format!(
            "substring out of range: [{start}:{end}] of a string of {} characters",
            text.len()
        )));
    }
    string_out(s, text[start as usize..end as usize].iter().collect())
}

fn trim(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    string_out(s, string_arg("trim", a, 0)?.trim().to_string())
}

fn join(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("join", a, 0)?;
    let sep = if a.len() > 1 { string_arg("join", a, 1)? } else { "" };
    let mut parts = Vec::with_capacity(l.len());
    for v in l.iter() {
        match v {
            Value::String(x) => parts.push(&**x),
            _ => return Err(no_overload("join", a)),
        }
    }
    let total: usize = parts.iter().map(|p| p.len()).sum::<usize>() + sep.len() * parts.len();
    s.check_size(total)?;
    string_out(s, parts.join(sep))
}

fn reverse(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::String(x) => string_out(s, x.chars().rev().collect()),
        Value::List(l) => {
            s.charge(l.len() as u64)?;
            Ok(Value::list(l.iter().rev().cloned().collect()))
        }
        _ => Err(no_overload("reverse", a)),
    }
}

fn quote(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let text = string_arg("strings.quote", a, 0)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('"');
    string_out(s, out)
}

/// `"%s is %d".format([a, b])`: the verbs of cel-go's strings extension.
fn format(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let template = string_arg("format", a, 0)?;
    let args = list_arg("format", a, 1)?;
    let mut out = String::new();
    let mut it = template.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut precision: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut digits = String::new();
            while let Some(d) = it.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                it.next();
            }
            precision = digits.parse().ok();
        }
        let Some(verb) = it.next() else { return Err(runtime("format: a lone % at the end")) };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.get(next).ok_or_else(|| runtime(format!("format: index {next} out of range")))?;
        next += 1;
        let text = match verb {
            's' => match arg {
                Value::String(x) => x.to_string(),
                Value::Double(d) => format_double(*d),
                other => other.to_string(),
            },
            'd' => match arg {
                Value::Int(_) | Value::Uint(_) => arg.to_string(),
                _ => return Err(runtime(format!("format: %d needs an integer, got {}", arg.type_name()))),
            },
            'f' | 'e' => {
                let d = match arg {
                    Value::Double(d) => *d,
                    Value::Int(i) => *i as f64,
                    Value::Uint(u) => *u as f64,
                    _ => return Err(runtime(format!("format: %{verb} needs a number, got {}", arg.type_name()))),
                };
                let p = precision.unwrap_or(6);
                if verb == 'f' { format!("{d:.p$}") } else { format!("{d:.p$e}") }
            }
            'x' | 'X' => {
                let t = match arg {
                    Value::Int(i) if *i < 0 => format!("-{:x}", i.unsigned_abs()),
                    Value::Int(i) => format!("{i:x}"),
                    Value::Uint(u) => format!("{u:x}"),
                    Value::String(x) => x.bytes().map(|b| format!("{b:02x}")).collect(),
                    Value::Bytes(x) => x.iter().map(|b| format!("{b:02x}")).collect(),
                    _ => return Err(runtime(format!("format: %x cannot print {}", arg.type_name()))),
                };
                if verb == 'X' { t.to_uppercase() } else { t }
            }
            'o' => match arg {
                Value::Int(i) => format!("{i:o}"),
                Value::Uint(u) => format!("{u:o}"),
                _ => return Err(runtime("format: %o needs an integer")),
            },
            'b' => match arg {
                Value::Int(i) => format!("{i:b}"),
                Value::Uint(u) => format!("{u:b}"),
                Value::Bool(b) => b.to_string(),
                _ => return Err(runtime("format: %b needs an integer")),
            },
            other => return Err(runtime(format!("format: unknown verb %{other}"))),
        };
        out.push_str(&text);
        s.check_size(out.len())?;
    }
    string_out(s, out)
}

// --- lists ---------------------------------------------------------------

fn numbers_fold(name: &str, a: &[Value], pick: Ordering) -> Result<Value> {
    let l = list_arg(name, a, 0)?;
    let mut best: Option<&Value> = None;
    for v in l.iter() {
        match best {
            None => best = Some(v),
            Some(b) => {
                let o = compare(v, b).ok_or_else(|| no_overload(name, a))?;
                if o == pick {
                    best = Some(v);
                }
            }
        }
    }
    best.cloned().ok_or_else(|| runtime(format!("{name} of an empty list")))
}

fn list_min(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    s.charge(list_arg("min", a, 0)?.len() as u64)?;
    numbers_fold("min", a, Ordering::Less)
}

fn list_max(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    s.charge(list_arg("max", a, 0)?.len() as u64)?;
    numbers_fold("max", a, Ordering::Greater)
}

fn list_sum(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("sum", a, 0)?;
    s.charge(l.len() as u64)?;
    let mut acc: Option<Value> = None;
    for v in l.iter() {
        acc = Some(match acc {
            None => v.clone(),
            Some(x) => add(s, &[x, v.clone()])?,
        });
    }
    Ok(acc.unwrap_or(Value::Int(0)))
}

fn is_sorted(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("isSorted", a, 0)?;
    s.charge(l.len() as u64)?;
    for w in l.windows(2) {
        match compare(&w[0], &w[1]) {
            Some(Ordering::Greater) => return Ok(Value::Bool(false)),
            Some(_) => {}
            None => return Err(no_overload("isSorted", a)),
        }
    }
    Ok(Value::Bool(true))
}

fn distinct(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("distinct", a, 0)?;
    s.charge((l.len() * l.len()) as u64 / 4)?;
    let mut out: Vec<Value> = Vec::new();
    for v in l.iter() {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn flatten(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    fn go(s: &mut Session<'_>, l: &[Value], depth: i64, out: &mut Vec<Value>) -> Result<()> {
        for v in l {
            match v {
                Value::List(inner) if depth > 0 => go(s, inner, depth - 1, out)?,
                other => out.push(other.clone()),
            }
            s.charge(1)?;
        }
        Ok(())
    }
    let l = list_arg("flatten", a, 0)?;
    let depth = if a.len() > 1 { int_arg("flatten", a, 1)? } else { 1 };
    if depth < 0 {
        return Err(runtime("level must be non-negative"));
    }
    let mut out = Vec::new();
    go(s, l, depth, &mut out)?;
    Ok(Value::list(out))
}

fn lists_range(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let n = int_arg("lists.range", a, 0)?;
    let n = usize::try_from(n).unwrap_or(0);
    s.check_size(n * 8)?;
    Ok(Value::list((0..n as i64).map(Value::Int).collect()))
}

fn slice(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("slice", a, 0)?;
    let (from, to) = (int_arg("slice", a, 1)?, int_arg("slice", a, 2)?);
    if from < 0 || to < from || to as usize > l.len() {
        return Err(runtime(format!("cannot slice({from}, {to}) a list of {} elements", l.len())));
    }
    s.charge((to - from) as u64)?;
    Ok(Value::list(l[from as usize..to as usize].to_vec()))
}

fn sort(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let l = list_arg("sort", a, 0)?;
    s.charge(l.len() as u64 * 4)?;
    let mut out = l.to_vec();
    let mut failed = false;
    out.sort_by(|x, y| {
        compare(x, y).unwrap_or_else(|| {
            failed = true;
            Ordering::Equal
        })
    });
    if failed {
        return Err(no_overload("sort", a));
    }
    Ok(Value::list(out))
}

fn first(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Optional(list_arg("first", a, 0)?.first().cloned().map(Arc::new)))
}

fn last(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Optional(list_arg("last", a, 0)?.last().cloned().map(Arc::new)))
}

// --- sets ------------------------------------------------------------------

fn sets_contains(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (list_arg("sets.contains", a, 0)?, list_arg("sets.contains", a, 1)?);
    s.charge((x.len() * y.len()) as u64 / 4)?;
    Ok(Value::Bool(y.iter().all(|v| x.contains(v))))
}

fn sets_equivalent(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (list_arg("sets.equivalent", a, 0)?, list_arg("sets.equivalent", a, 1)?);
    s.charge((x.len() * y.len()) as u64 / 2)?;
    Ok(Value::Bool(y.iter().all(|v| x.contains(v)) && x.iter().all(|v| y.contains(v))))
}

fn sets_intersects(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (list_arg("sets.intersects", a, 0)?, list_arg("sets.intersects", a, 1)?);
    s.charge((x.len() * y.len()) as u64 / 4)?;
    Ok(Value::Bool(y.iter().any(|v| x.contains(v))))
}

// --- math ------------------------------------------------------------------

fn math_extreme(name: &str, a: &[Value], pick: Ordering) -> Result<Value> {
    let items: Vec<Value> = match a {
        [Value::List(l)] => l.to_vec(),
        _ => a.to_vec(),
    };
    let mut best: Option<Value> = None;
    for v in items {
        if !matches!(v, Value::Int(_) | Value::Uint(_) | Value::Double(_)) {
            return Err(no_overload(name, a));
        }
        best = Some(match best {
            None => v,
            Some(b) => {
                if compare(&v, &b) == Some(pick) {
                    v
                } else {
                    b
                }
            }
        });
    }
    best.ok_or_else(|| runtime(format!("{name}(): list must not be empty")))
}

fn math_greatest(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    math_extreme("math.greatest", a, Ordering::Greater)
}

fn math_least(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    math_extreme("math.least", a, Ordering::Less)
}

fn double_arg(name: &str, a: &[Value], i: usize) -> Result<f64> {
    match a.get(i) {
        Some(Value::Double(d)) => Ok(*d),
        _ => Err(no_overload(name, a)),
    }
}

fn math_ceil(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(double_arg("math.ceil", a, 0)?.ceil()))
}
fn math_floor(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(double_arg("math.floor", a, 0)?.floor()))
}
fn math_round(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let d = double_arg("math.round", a, 0)?;
    if a.len() == 2 {
        // Kyverno's math.round(value, digits).
        let digits = int_arg("math.round", a, 1)?;
        if !(0..=15).contains(&digits) {
            return Err(runtime("math.round: digits must be between 0 and 15"));
        }
        let p = 10f64.powi(digits as i32);
        return Ok(Value::Double((d * p).round() / p));
    }
    Ok(Value::Double(d.round()))
}
fn math_trunc(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(double_arg("math.trunc", a, 0)?.trunc()))
}
fn math_sqrt(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Double(match &a[0] {
        Value::Double(d) => d.sqrt(),
        Value::Int(i) => (*i as f64).sqrt(),
        Value::Uint(u) => (*u as f64).sqrt(),
        _ => return Err(no_overload("math.sqrt", a)),
    }))
}
fn math_abs(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match &a[0] {
        Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(overflow)?),
        Value::Uint(u) => Value::Uint(*u),
        Value::Double(d) => Value::Double(d.abs()),
        _ => return Err(no_overload("math.abs", a)),
    })
}
fn math_sign(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(match &a[0] {
        Value::Int(i) => Value::Int(i.signum()),
        Value::Uint(u) => Value::Uint(u64::from(*u > 0)),
        Value::Double(d) if d.is_nan() => Value::Double(f64::NAN),
        Value::Double(d) if *d == 0.0 => Value::Double(0.0),
        Value::Double(d) => Value::Double(d.signum()),
        _ => return Err(no_overload("math.sign", a)),
    })
}
fn math_is_inf(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(double_arg("math.isInf", a, 0)?.is_infinite()))
}
fn math_is_nan(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(double_arg("math.isNaN", a, 0)?.is_nan()))
}
fn math_is_finite(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(double_arg("math.isFinite", a, 0)?.is_finite()))
}

fn bits(name: &str, a: &[Value], int: fn(i64, i64) -> i64, uint: fn(u64, u64) -> u64) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Ok(Value::Int(int(*x, *y))),
        (Value::Uint(x), Value::Uint(y)) => Ok(Value::Uint(uint(*x, *y))),
        _ => Err(no_overload(name, a)),
    }
}
fn bit_and(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    bits("math.bitAnd", a, |x, y| x & y, |x, y| x & y)
}
fn bit_or(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    bits("math.bitOr", a, |x, y| x | y, |x, y| x | y)
}
fn bit_xor(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    bits("math.bitXor", a, |x, y| x ^ y, |x, y| x ^ y)
}
fn bit_not(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Int(x) => Ok(Value::Int(!x)),
        Value::Uint(x) => Ok(Value::Uint(!x)),
        _ => Err(no_overload("math.bitNot", a)),
    }
}
fn bit_shift(a: &[Value], left: bool) -> Result<Value> {
    let n = int_arg("math.bitShift", a, 1)?;
    if n < 0 {
        return Err(runtime("math.bitShift: negative offset"));
    }
    let n = n as u32;
    match &a[0] {
        Value::Int(x) if left => Ok(Value::Int(if n > 63 { 0 } else { x << n })),
        Value::Int(x) => Ok(Value::Int(if n > 63 { 0 } else { ((*x as u64) >> n) as i64 })),
        Value::Uint(x) if left => Ok(Value::Uint(if n > 63 { 0 } else { x << n })),
        Value::Uint(x) => Ok(Value::Uint(if n > 63 { 0 } else { x >> n })),
        _ => Err(no_overload("math.bitShift", a)),
    }
}
fn bit_shift_left(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    bit_shift(a, true)
}
fn bit_shift_right(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    bit_shift(a, false)
}

// --- base64 ------------------------------------------------------------------

fn base64_encode(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    use base64::Engine as _;
    match &a[0] {
        Value::Bytes(b) => string_out(s, base64::engine::general_purpose::STANDARD.encode(b)),
        _ => Err(no_overload("base64.encode", a)),
    }
}

fn base64_decode(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    use base64::Engine as _;
    let text = string_arg("base64.decode", a, 0)?;
    s.check_size(text.len())?;
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = engine
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map_err(|e| runtime(format!("base64.decode: {e}")))?;
    Ok(Value::Bytes(Arc::from(decoded)))
}

// --- optionals ---------------------------------------------------------------

fn optional_of(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Optional(Some(Arc::new(a[0].clone()))))
}

fn optional_none(_: &mut Session<'_>, _: &[Value]) -> Result<Value> {
    Ok(Value::Optional(None))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Int(i) => *i == 0,
        Value::Uint(u) => *u == 0,
        Value::Double(d) => *d == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::List(l) => l.is_empty(),
        Value::Map(m) => m.is_empty(),
        Value::Duration(d) | Value::Timestamp(d) => *d == 0,
        Value::Optional(o) => o.is_none(),
        Value::Type(_) | Value::Ext(_) => false,
    }
}

fn optional_of_non_zero(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Optional(if is_zero(&a[0]) { None } else { Some(Arc::new(a[0].clone())) }))
}

fn has_value(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Optional(o) => Ok(Value::Bool(o.is_some())),
        _ => Err(no_overload("hasValue", a)),
    }
}

fn opt_value(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Optional(Some(v)) => Ok((**v).clone()),
        Value::Optional(None) => Err(runtime("optional.none() dereference")),
        _ => Err(no_overload("value", a)),
    }
}

/// `opt.orValue(default)`. On a value that is not an optional (a field
/// reached without `.?`, `container.volumeMounts.orValue([])`), Kyverno's
/// engine gives the value itself: its policy library relies on that, and
/// its tests expect it.
fn or_value(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Optional(Some(v)) => Ok((**v).clone()),
        Value::Optional(None) => Ok(a[1].clone()),
        other => Ok(other.clone()),
    }
}

fn or(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Optional(Some(_)), _) => Ok(a[0].clone()),
        (Value::Optional(None), Value::Optional(_)) => Ok(a[1].clone()),
        _ => Err(no_overload("or", a)),
    }
}

static STANDARD: &[Function] = &[
    g("_+_", 2, 2, add),
    g("_-_", 2, 2, sub),
    g("_*_", 2, 2, mul),
    g("_/_", 2, 2, div),
    g("_%_", 2, 2, rem),
    g("-_", 1, 1, neg),
    g("_==_", 2, 2, eq),
    g("_!=_", 2, 2, ne),
    g("_<_", 2, 2, lt),
    g("_<=_", 2, 2, le),
    g("_>_", 2, 2, gt),
    g("_>=_", 2, 2, ge),
    g("@in", 2, 2, in_),
    g("size", 1, 1, size),
    m("size", 1, 1, size),
    g("type", 1, 1, type_of),
    g("dyn", 1, 1, dyn_),
    g("int", 1, 1, to_int),
    g("uint", 1, 1, to_uint),
    g("double", 1, 1, to_double),
    g("string", 1, 1, to_string),
    g("bytes", 1, 1, to_bytes),
    g("bool", 1, 1, to_bool),
    m("contains", 2, 2, contains),
    m("startsWith", 2, 2, starts_with),
    m("endsWith", 2, 2, ends_with),
    m("matches", 2, 2, matches),
    g("matches", 2, 2, matches),
    m("charAt", 2, 2, char_at),
    m("indexOf", 2, 3, index_of),
    m("lastIndexOf", 2, 3, last_index_of),
    m("lowerAscii", 1, 1, lower_ascii),
    m("upperAscii", 1, 1, upper_ascii),
    m("replace", 3, 4, replace),
    m("split", 2, 3, split),
    m("substring", 2, 3, substring),
    m("trim", 1, 1, trim),
    m("join", 1, 2, join),
    m("reverse", 1, 1, reverse),
    g("strings.quote", 1, 1, quote),
    m("format", 2, 2, format),
    m("min", 1, 1, list_min),
    m("max", 1, 1, list_max),
    m("sum", 1, 1, list_sum),
    m("isSorted", 1, 1, is_sorted),
    m("distinct", 1, 1, distinct),
    m("flatten", 1, 2, flatten),
    g("lists.range", 1, 1, lists_range),
    m("slice", 3, 3, slice),
    m("sort", 1, 1, sort),
    m("first", 1, 1, first),
    m("last", 1, 1, last),
    g("sets.contains", 2, 2, sets_contains),
    g("sets.equivalent", 2, 2, sets_equivalent),
    g("sets.intersects", 2, 2, sets_intersects),
    g("math.greatest", 1, ANY, math_greatest),
    g("math.least", 1, ANY, math_least),
    g("math.ceil", 1, 1, math_ceil),
    g("math.floor", 1, 1, math_floor),
    g("math.round", 1, 2, math_round),
    g("math.trunc", 1, 1, math_trunc),
    g("math.sqrt", 1, 1, math_sqrt),
    g("math.abs", 1, 1, math_abs),
    g("math.sign", 1, 1, math_sign),
    g("math.isInf", 1, 1, math_is_inf),
    g("math.isNaN", 1, 1, math_is_nan),
    g("math.isFinite", 1, 1, math_is_finite),
    g("math.bitAnd", 2, 2, bit_and),
    g("math.bitOr", 2, 2, bit_or),
    g("math.bitXor", 2, 2, bit_xor),
    g("math.bitNot", 1, 1, bit_not),
    g("math.bitShiftLeft", 2, 2, bit_shift_left),
    g("math.bitShiftRight", 2, 2, bit_shift_right),
    g("base64.encode", 1, 1, base64_encode),
    g("base64.decode", 1, 1, base64_decode),
    g("optional.of", 1, 1, optional_of),
    g("optional.none", 0, 0, optional_none),
    g("optional.ofNonZeroValue", 1, 1, optional_of_non_zero),
    m("hasValue", 1, 1, has_value),
    m("value", 1, 1, opt_value),
    m("orValue", 2, 2, or_value),
    m("or", 2, 2, or),
];
