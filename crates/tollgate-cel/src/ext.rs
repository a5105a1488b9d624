//! Kubernetes' CEL libraries: quantity, IP and CIDR, URL, semver, regex
//! `find`/`findAll`, named formats, and the authorizer, which cannot be
//! consulted offline. Their values are [`Ext`] objects.

use std::cmp::Ordering;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::eval::{Error, Result, Session, runtime};
use crate::functions::{Function, g, int_arg, m, no_overload, regex, string_arg};
use crate::value::{Key, Map, Value};

/// A library object.
#[derive(Debug, Clone, PartialEq)]
pub enum Ext {
    /// A Kubernetes quantity, in billionths (exact down to `1n`).
    Quantity {
        /// The value × 10⁹.
        nanos: i128,
        /// As written.
        text: Arc<str>,
    },
    /// An IP address.
    Ip(IpAddr),
    /// A CIDR block: its address as written and prefix length.
    Cidr(IpAddr, u8),
    /// A URL.
    Url(Url),
    /// A semantic version.
    Semver(Semver),
    /// A container image reference (Kyverno's image library).
    Image(crate::kyverno::ImageRef),
    /// A named format of Kubernetes' format library.
    Format(&'static str),
    /// The authorizer, with what the call chain has set so far.
    Authorizer(Vec<(&'static str, Arc<str>)>),
    /// A library object of Kyverno (`json`, `yaml`, `resource`, `http`,
    /// `globalContext`, `image`): the receiver of its functions.
    Library(&'static str),
}

/// A parsed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    host: String,
    path: String,
    query: String,
}

/// A parsed semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<String>,
    text: String,
}

impl Ext {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Ext::Quantity { .. } => "kubernetes.Quantity",
            Ext::Ip(_) => "net.IP",
            Ext::Cidr(..) => "net.CIDR",
            Ext::Url(_) => "kubernetes.URL",
            Ext::Semver(_) => "kubernetes.Semver",
            Ext::Image(_) => "kyverno.Image",
            Ext::Format(_) => "kubernetes.NamedFormat",
            Ext::Authorizer(_) => "kubernetes.authorization.Authorizer",
            Ext::Library(name) => name,
        }
    }

    pub(crate) fn equals(&self, other: &Ext) -> bool {
        match (self, other) {
            (Ext::Quantity { nanos: a, .. }, Ext::Quantity { nanos: b, .. }) => a == b,
            (Ext::Semver(a), Ext::Semver(b)) => semver_cmp(a, b) == Ordering::Equal,
            (Ext::Cidr(a, p), Ext::Cidr(b, q)) => p == q && mask(*a, *p) == mask(*b, *q) && a == b,
            _ => self == other,
        }
    }

    pub(crate) fn compare(&self, other: &Ext) -> Option<Ordering> {
        match (self, other) {
            (Ext::Quantity { nanos: a, .. }, Ext::Quantity { nanos: b, .. }) => Some(a.cmp(b)),
            (Ext::Semver(a), Ext::Semver(b)) => Some(semver_cmp(a, b)),
            _ => None,
        }
    }
}

impl fmt::Display for Ext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ext::Quantity { text, .. } => f.write_str(text),
            Ext::Ip(ip) => write!(f, "{ip}"),
            Ext::Cidr(ip, p) => write!(f, "{ip}/{p}"),
            Ext::Url(u) => write!(f, "{}://{}{}", u.scheme, u.host, u.path),
            Ext::Semver(s) => f.write_str(&s.text),
            Ext::Image(i) => f.write_str(&i.text),
            Ext::Format(n) => write!(f, "format.{n}"),
            Ext::Authorizer(_) => f.write_str("authorizer"),
            Ext::Library(n) => f.write_str(n),
        }
    }
}

fn ext(v: Ext) -> Value {
    Value::Ext(Arc::new(v))
}

// --- quantity ----------------------------------------------------------------

/// Parses a Kubernetes quantity (`500m`, `1.5Gi`, `2e3`) into billionths,
/// rounding a finer fraction up as Kubernetes does.
pub(crate) fn parse_quantity(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // value = digits × 10^-frac_len × multiplier
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut binary: i128 = 1;
    match suffix {
        "" => {}
        "Ki" => binary = 1 << 10,
        "Mi" => binary = 1 << 20,
        "Gi" => binary = 1 << 30,
        "Ti" => binary = 1 << 40,
        "Pi" => binary = 1 << 50,
        "Ei" => binary = 1 << 60,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        e if e.starts_with(['e', 'E']) => exp10 += e[1..].parse::<i32>().ok().filter(|x| x.abs() <= 40)?,
        _ => return None,
    }
    // In billionths.
    exp10 += 9;
    let scaled = mantissa.checked_mul(binary)?;
    let value = if exp10 >= 0 {
        scaled.checked_mul(10i128.checked_pow(exp10 as u32)?)?
    } else {
        let d = 10i128.checked_pow((-exp10) as u32)?;
        // Round away from zero, as Kubernetes rounds up below its precision.
        (scaled + d - 1) / d
    };
    Some(sign * value)
}

fn quantity(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("quantity", a, 0)?;
    let nanos = parse_quantity(s)
        .ok_or_else(|| runtime(format!("quantities must match the regular expression: {s:?} does not")))?;
    Ok(ext(Ext::Quantity { nanos, text: Arc::from(s) }))
}

fn is_quantity(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(parse_quantity(string_arg("isQuantity", a, 0)?).is_some()))
}

fn quantity_of(v: &Value) -> Option<i128> {
    match v {
        Value::Ext(e) => match &**e {
            Ext::Quantity { nanos, .. } => Some(*nanos),
            _ => None,
        },
        Value::Int(i) => Some(i128::from(*i) * 1_000_000_000),
        _ => None,
    }
}

fn quantity_value(nanos: i128) -> Value {
    let text = if nanos % 1_000_000_000 == 0 {
        format!("{}", nanos / 1_000_000_000)
    } else if nanos % 1_000_000 == 0 {
        format!("{}m", nanos / 1_000_000)
    } else if nanos % 1000 == 0 {
        format!("{}u", nanos / 1000)
    } else {
        format!("{nanos}n")
    };
    ext(Ext::Quantity { nanos, text: Arc::from(text) })
}

pub(crate) fn quantity_add(x: &Ext, y: &Ext, subtract: bool) -> Result<Value> {
    match (x, y) {
        (Ext::Quantity { nanos: a, .. }, Ext::Quantity { nanos: b, .. }) => {
            let r = if subtract { a.checked_sub(*b) } else { a.checked_add(*b) };
            r.map(quantity_value).ok_or_else(|| runtime("quantity overflow"))
        }
        _ => Err(runtime(format!("no such overload: _+_({}, {})", x.type_name(), y.type_name()))),
    }
}

fn q_add(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (quantity_of(&a[0]), quantity_of(&a[1]));
    match (x, y) {
        (Some(x), Some(y)) if matches!(a[0], Value::Ext(_)) => {
            x.checked_add(y).map(quantity_value).ok_or_else(|| runtime("quantity overflow"))
        }
        _ => Err(no_overload("add", a)),
    }
}

fn q_sub(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (x, y) = (quantity_of(&a[0]), quantity_of(&a[1]));
    match (x, y) {
        (Some(x), Some(y)) if matches!(a[0], Value::Ext(_)) => {
            x.checked_sub(y).map(quantity_value).ok_or_else(|| runtime("quantity overflow"))
        }
        _ => Err(no_overload("sub", a)),
    }
}

fn q_sign(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    quantity_of(&a[0])
        .filter(|_| matches!(a[0], Value::Ext(_)))
        .map(|n| Value::Int(n.signum() as i64))
        .ok_or_else(|| no_overload("sign", a))
}

fn q_is_integer(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let n = quantity_of(&a[0]).ok_or_else(|| no_overload("isInteger", a))?;
    Ok(Value::Bool(n % 1_000_000_000 == 0 && i64::try_from(n / 1_000_000_000).is_ok()))
}

fn q_as_integer(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let n = quantity_of(&a[0]).ok_or_else(|| no_overload("asInteger", a))?;
    if n % 1_000_000_000 != 0 {
        return Err(runtime("cannot convert value to integer: it has a fraction"));
    }
    i64::try_from(n / 1_000_000_000).map(Value::Int).map_err(|_| runtime("cannot convert value to integer: overflow"))
}

fn q_as_float(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let n = quantity_of(&a[0]).ok_or_else(|| no_overload("asApproximateFloat", a))?;
    Ok(Value::Double(n as f64 / 1e9))
}

fn q_cmp(name: &str, a: &[Value]) -> Result<Ordering> {
    match (&a[0], &a[1]) {
        (Value::Ext(x), Value::Ext(y)) => x.compare(y).ok_or_else(|| no_overload(name, a)),
        _ => Err(no_overload(name, a)),
    }
}

fn compare_to(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(q_cmp("compareTo", a)? as i64))
}

fn is_greater_than(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(q_cmp("isGreaterThan", a)? == Ordering::Greater))
}

fn is_less_than(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(q_cmp("isLessThan", a)? == Ordering::Less))
}

// --- IP and CIDR ---------------------------------------------------------------

/// Kubernetes' strict IP parsing: no IPv4-mapped IPv6, no zone, no leading
/// zeros in IPv4.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains('%') {
        return None;
    }
    let ip: IpAddr = s.parse().ok()?;
    if let IpAddr::V6(v6) = ip
        && v6.to_ipv4_mapped().is_some()
    {
        return None;
    }
    Some(ip)
}

fn ip(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    if let Value::Ext(e) = &a[0]
        && let Ext::Cidr(addr, _) = &**e
    {
        return Ok(ext(Ext::Ip(*addr)));
    }
    let s = string_arg("ip", a, 0)?;
    parse_ip(s)
        .map(|i| ext(Ext::Ip(i)))
        .ok_or_else(|| runtime(format!("IP Address {s:?} parse error during conversion from string")))
}

fn is_ip(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(parse_ip(string_arg("isIP", a, 0)?).is_some()))
}

fn ip_is_canonical(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("ip.isCanonical", a, 0)?;
    let ip = parse_ip(s).ok_or_else(|| runtime(format!("IP Address {s:?} parse error")))?;
    Ok(Value::Bool(ip.to_string() == s))
}

fn the_ip(name: &str, a: &[Value]) -> Result<IpAddr> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Ip(ip) => Ok(*ip),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

fn family(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(if the_ip("family", a)?.is_ipv4() { 4 } else { 6 }))
}

fn is_unspecified(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(the_ip("isUnspecified", a)?.is_unspecified()))
}

fn is_loopback(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(the_ip("isLoopback", a)?.is_loopback()))
}

fn is_link_local_multicast(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match the_ip("isLinkLocalMulticast", a)? {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    }))
}

fn is_link_local_unicast(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match the_ip("isLinkLocalUnicast", a)? {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }))
}

fn is_global_unicast(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let ip = the_ip("isGlobalUnicast", a)?;
    Ok(Value::Bool(match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified() || v4.is_loopback() || v4.is_multicast() || v4.is_broadcast() || v4.is_link_local())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.segments()[0] & 0xffc0 == 0xfe80)
        }
    }))
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let ip = parse_ip(addr)?;
    if prefix.is_empty()
        || prefix.len() > 3
        || !prefix.bytes().all(|c| c.is_ascii_digit())
        || (prefix.len() > 1 && prefix.starts_with('0'))
    {
        return None;
    }
    let p: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (p <= max).then_some((ip, p))
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6((bits & m).into())
        }
    }
}

fn cidr(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("cidr", a, 0)?;
    parse_cidr(s)
        .map(|(i, p)| ext(Ext::Cidr(i, p)))
        .ok_or_else(|| runtime(format!("network address parse error during conversion from string: {s:?}")))
}

fn is_cidr(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(parse_cidr(string_arg("isCIDR", a, 0)?).is_some()))
}

fn the_cidr(name: &str, a: &[Value]) -> Result<(IpAddr, u8)> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Cidr(ip, p) => Ok((*ip, *p)),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

fn contains_ip(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (net, p) = the_cidr("containsIP", a)?;
    let other = match &a[1] {
        Value::String(s) => parse_ip(s).ok_or_else(|| runtime(format!("IP Address {s:?} parse error")))?,
        Value::Ext(e) => match &**e {
            Ext::Ip(ip) => *ip,
            _ => return Err(no_overload("containsIP", a)),
        },
        _ => return Err(no_overload("containsIP", a)),
    };
    Ok(Value::Bool(net.is_ipv4() == other.is_ipv4() && mask(net, p) == mask(other, p)))
}

fn contains_cidr(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (net, p) = the_cidr("containsCIDR", a)?;
    let (other, q) = match &a[1] {
        Value::String(s) => parse_cidr(s).ok_or_else(|| runtime(format!("network address parse error: {s:?}")))?,
        Value::Ext(e) => match &**e {
            Ext::Cidr(ip, q) => (*ip, *q),
            _ => return Err(no_overload("containsCIDR", a)),
        },
        _ => return Err(no_overload("containsCIDR", a)),
    };
    Ok(Value::Bool(net.is_ipv4() == other.is_ipv4() && q >= p && mask(net, p) == mask(other, p)))
}

fn masked(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (net, p) = the_cidr("masked", a)?;
    Ok(ext(Ext::Cidr(mask(net, p), p)))
}

fn prefix_length(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(i64::from(the_cidr("prefixLength", a)?.1)))
}

// --- URL -------------------------------------------------------------------------

/// Go's `url.ParseRequestURI` as Kubernetes uses it: an absolute URL, or an
/// absolute path.
fn parse_url(s: &str) -> Option<Url> {
    if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let (before, _) = s.split_once('#').unwrap_or((s, ""));
    let (before, query) = before.split_once('?').unwrap_or((before, ""));
    if let Some(path) = before.strip_prefix('/') {
        return Some(Url { scheme: String::new(), host: String::new(), path: format!("/{path}"), query: query.into() });
    }
    let (scheme, rest) = before.split_once(':')?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let Some(rest) = rest.strip_prefix("//") else {
        // `mailto:x` is opaque: a request URI needs a path or authority.
        return rest.starts_with('/').then(|| Url {
            scheme: scheme.into(),
            host: String::new(),
            path: rest.into(),
            query: query.into(),
        });
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(Url { scheme: scheme.into(), host: host.into(), path: path.into(), query: query.into() })
}

fn url(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("url", a, 0)?;
    parse_url(s)
        .map(|u| ext(Ext::Url(u)))
        .ok_or_else(|| runtime(format!("URL parse error during conversion from string: {s:?}")))
}

fn is_url(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(parse_url(string_arg("isURL", a, 0)?).is_some()))
}

fn the_url<'v>(name: &str, a: &'v [Value]) -> Result<&'v Url> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Url(u) => Ok(u),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

fn split_host(host: &str) -> (&str, &str) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((h, after)) = rest.split_once(']') {
            return (h, after.strip_prefix(':').unwrap_or(""));
        }
        return (host, "");
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p),
        _ => (host, ""),
    }
}

fn get_scheme(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_url("getScheme", a)?.scheme))
}

fn get_host(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_url("getHost", a)?.host))
}

fn get_hostname(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(split_host(&the_url("getHostname", a)?.host).0))
}

fn get_port(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(split_host(&the_url("getPort", a)?.host).1))
}

fn get_escaped_path(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::str(&the_url("getEscapedPath", a)?.path))
}

fn get_query(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let u = the_url("getQuery", a)?;
    let mut map: std::collections::BTreeMap<String, Vec<Value>> = std::collections::BTreeMap::new();
    for pair in u.query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(k.to_string()).or_default().push(Value::str(v));
    }
    Ok(Value::Map(Arc::new(map.into_iter().map(|(k, v)| (Key::String(Arc::from(k)), Value::list(v))).collect::<Map>())))
}

// --- semver ------------------------------------------------------------------------

fn parse_semver(s: &str, normalize: bool) -> Option<Semver> {
    let mut t = s.to_string();
    if normalize {
        if let Some(rest) = t.strip_prefix('v') {
            t = rest.to_string();
        }
        let core_end = t.find(['-', '+']).unwrap_or(t.len());
        let mut parts: Vec<String> = t[..core_end]
            .split('.')
            .map(|p| {
                let trimmed = p.trim_start_matches('0');
                if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() }
            })
            .collect();
        while parts.len() < 3 {
            parts.push("0".into());
        }
        t = format!("{}{}", parts.join("."), &t[core_end..]);
    }
    let (main, _build) = t.split_once('+').unwrap_or((&t, ""));
    let (core, pre) = main.split_once('-').map_or((main, None), |(c, p)| (c, Some(p)));
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return None;
    }
    let num = |x: &str| -> Option<u64> {
        if x.is_empty() || !x.bytes().all(|c| c.is_ascii_digit()) || (x.len() > 1 && x.starts_with('0')) {
            return None;
        }
        x.parse().ok()
    };
    let pre: Vec<String> = match pre {
        Some(p) => {
            let ids: Vec<String> = p.split('.').map(str::to_string).collect();
            if ids.iter().any(|i| i.is_empty() || !i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
                return None;
            }
            ids
        }
        None => Vec::new(),
    };
    Some(Semver { major: num(nums[0])?, minor: num(nums[1])?, patch: num(nums[2])?, pre, text: s.to_string() })
}

fn semver_cmp(a: &Semver, b: &Semver) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| {
        match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (x, y) in a.pre.iter().zip(&b.pre) {
                    let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                        (Ok(i), Ok(j)) => i.cmp(&j),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => x.cmp(y),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.pre.len().cmp(&b.pre.len())
            }
        }
    })
}

fn semver(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let s = string_arg("semver", a, 0)?;
    let normalize = matches!(a.get(1), Some(Value::Bool(true)));
    parse_semver(s, normalize)
        .map(|v| ext(Ext::Semver(v)))
        .ok_or_else(|| runtime(format!("could not parse {s:?} as a semantic version")))
}

fn is_semver(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let normalize = matches!(a.get(1), Some(Value::Bool(true)));
    Ok(Value::Bool(parse_semver(string_arg("isSemver", a, 0)?, normalize).is_some()))
}

fn the_semver<'v>(name: &str, a: &'v [Value]) -> Result<&'v Semver> {
    match &a[0] {
        Value::Ext(e) => match &**e {
            Ext::Semver(v) => Ok(v),
            _ => Err(no_overload(name, a)),
        },
        _ => Err(no_overload(name, a)),
    }
}

fn major(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(the_semver("major", a)?.major as i64))
}
fn minor(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(the_semver("minor", a)?.minor as i64))
}
fn patch(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Ok(Value::Int(the_semver("patch", a)?.patch as i64))
}

// --- regex -------------------------------------------------------------------------

fn find(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (text, pattern) = (string_arg("find", a, 0)?, string_arg("find", a, 1)?);
    let r = regex(s, pattern)?;
    s.charge((text.len() / 10) as u64)?;
    Ok(Value::str(r.find(text).map_or("", |m| m.as_str())))
}

fn find_all(s: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let (text, pattern) = (string_arg("findAll", a, 0)?, string_arg("findAll", a, 1)?);
    let limit = if a.len() > 2 { int_arg("findAll", a, 2)? } else { -1 };
    let r = regex(s, pattern)?;
    s.charge((text.len() / 10) as u64)?;
    let it = r.find_iter(text).map(|m| Value::str(m.as_str()));
    let out: Vec<Value> = if limit < 0 { it.collect() } else { it.take(limit as usize).collect() };
    s.check_size(out.len() * 8)?;
    Ok(Value::list(out))
}

// --- named formats -----------------------------------------------------------------------

const FORMATS: &[&str] = &[
    "dns1123Label",
    "dns1123Subdomain",
    "dns1035Label",
    "qualifiedName",
    "dns1123LabelPrefix",
    "dns1123SubdomainPrefix",
    "dns1035LabelPrefix",
    "labelValue",
    "uri",
    "uuid",
    "byte",
    "date",
    "datetime",
];

fn format_named(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let name = string_arg("format.named", a, 0)?;
    Ok(Value::Optional(FORMATS.iter().find(|f| **f == name).map(|f| Arc::new(ext(Ext::Format(f))))))
}

macro_rules! named_format {
    ($f:ident, $name:literal) => {
        fn $f(_: &mut Session<'_>, _: &[Value]) -> Result<Value> {
            Ok(ext(Ext::Format($name)))
        }
    };
}
named_format!(f_dns1123_label, "dns1123Label");
named_format!(f_dns1123_subdomain, "dns1123Subdomain");
named_format!(f_dns1035_label, "dns1035Label");
named_format!(f_qualified_name, "qualifiedName");
named_format!(f_label_value, "labelValue");
named_format!(f_uri, "uri");
named_format!(f_uuid, "uuid");
named_format!(f_date, "date");
named_format!(f_datetime, "datetime");

fn label_like(s: &str, max: usize, first_alpha: bool) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > max {
        errs.push(format!("must be no more than {max} characters"));
    }
    let ok = !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && (!first_alpha || s.starts_with(|c: char| c.is_ascii_lowercase()));
    if !ok {
        errs.push(if first_alpha {
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character".to_string()
        } else {
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character".to_string()
        });
    }
    errs
}

fn validate_format(name: &str, s: &str) -> Vec<String> {
    match name {
        "dns1123Label" | "dns1123LabelPrefix" => label_like(s, 63, false),
        "dns1035Label" | "dns1035LabelPrefix" => label_like(s, 63, true),
        "dns1123Subdomain" | "dns1123SubdomainPrefix" => {
            let mut errs = Vec::new();
            if s.len() > 253 {
                errs.push("must be no more than 253 characters".into());
            }
            if s.is_empty() || s.split('.').any(|l| !label_like(l, 63, false).is_empty()) {
                errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".into());
            }
            errs
        }
        "qualifiedName" => {
            let (prefix, name) = s.rsplit_once('/').map_or((None, s), |(p, n)| (Some(p), n));
            let mut errs = Vec::new();
            if let Some(p) = prefix
                && (p.is_empty() || !validate_format("dns1123Subdomain", p).is_empty())
            {
                errs.push("prefix part must be a DNS subdomain".into());
            }
            let ok = !name.is_empty()
                && name.len() <= 63
                && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into());
            }
            errs
        }
        "labelValue" => {
            let ok = s.is_empty()
                || (s.len() <= 63
                    && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                    && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && s.ends_with(|c: char| c.is_ascii_alphanumeric()));
            if ok {
                Vec::new()
            } else {
                vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".into()]
            }
        }
        "uri" => {
            if parse_url(s).is_some() {
                Vec::new()
            } else {
                vec!["must be a URI".into()]
            }
        }
        "uuid" => {
            let b = s.as_bytes();
            let ok = b.len() == 36
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() });
            if ok { Vec::new() } else { vec!["does not match the UUID format".into()] }
        }
        "date" => {
            if crate::time::parse_timestamp(&format!("{s}T00:00:00Z")).is_some() && s.len() == 10 {
                Vec::new()
            } else {
                vec!["must be a date (YYYY-MM-DD)".into()]
            }
        }
        "datetime" => {
            if crate::time::parse_timestamp(s).is_some() {
                Vec::new()
            } else {
                vec!["must be an RFC 3339 date-time".into()]
            }
        }
        _ => Vec::new(),
    }
}

fn validate(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let Value::Ext(e) = &a[0] else { return Err(no_overload("validate", a)) };
    let Ext::Format(name) = &**e else { return Err(no_overload("validate", a)) };
    let errs = validate_format(name, string_arg("validate", a, 1)?);
    Ok(Value::Optional((!errs.is_empty()).then(|| Arc::new(Value::list(errs.iter().map(|e| Value::str(e)).collect())))))
}

// --- authorizer --------------------------------------------------------------------------

fn authz_step(name: &'static str, a: &[Value]) -> Result<Value> {
    let Value::Ext(e) = &a[0] else { return Err(no_overload(name, a)) };
    let Ext::Authorizer(steps) = &**e else { return Err(no_overload(name, a)) };
    let mut steps = steps.clone();
    for v in &a[1..] {
        steps.push((name, Arc::from(v.to_string())));
    }
    Ok(ext(Ext::Authorizer(steps)))
}

macro_rules! authz {
    ($f:ident, $name:literal) => {
        fn $f(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
            authz_step($name, a)
        }
    };
}
authz!(authz_group, "group");
authz!(authz_resource, "resource");
authz!(authz_subresource, "subresource");
authz!(authz_namespace, "namespace");
authz!(authz_name, "name");
authz!(authz_path, "path");
authz!(authz_service_account, "serviceAccount");

/// `check(verb)`: the authorizer's answer is unknown offline, so what
/// depends on it is reported as needing live data, never guessed.
fn authz_check(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    let Value::Ext(e) = &a[0] else { return Err(no_overload("check", a)) };
    let Ext::Authorizer(steps) = &**e else { return Err(no_overload("check", a)) };
    let what: Vec<String> = steps.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Err(Error::LiveData(format!(
        "the authorizer (check {:?} on {}) answers only in a live cluster",
        a.get(1).map(ToString::to_string).unwrap_or_default(),
        what.join(", ")
    )))
}

/// The members of an authorization decision. No decision exists offline
/// (`check` fails first); a value of another type has no such members.
fn decision(_: &mut Session<'_>, a: &[Value]) -> Result<Value> {
    Err(no_overload("allowed", a))
}

pub(crate) static FUNCTIONS: &[Function] = &[
    m("allowed", 1, 1, decision),
    m("reason", 1, 1, decision),
    m("errored", 1, 1, decision),
    m("error", 1, 1, decision),
    g("quantity", 1, 1, quantity),
    g("isQuantity", 1, 1, is_quantity),
    m("add", 2, 2, q_add),
    m("sub", 2, 2, q_sub),
    m("sign", 1, 1, q_sign),
    m("isInteger", 1, 1, q_is_integer),
    m("asInteger", 1, 1, q_as_integer),
    m("asApproximateFloat", 1, 1, q_as_float),
    m("compareTo", 2, 2, compare_to),
    m("isGreaterThan", 2, 2, is_greater_than),
    m("isLessThan", 2, 2, is_less_than),
    g("ip", 1, 1, ip),
    m("ip", 1, 1, ip),
    g("isIP", 1, 1, is_ip),
    g("ip.isCanonical", 1, 1, ip_is_canonical),
    m("family", 1, 1, family),
    m("isUnspecified", 1, 1, is_unspecified),
    m("isLoopback", 1, 1, is_loopback),
    m("isLinkLocalMulticast", 1, 1, is_link_local_multicast),
    m("isLinkLocalUnicast", 1, 1, is_link_local_unicast),
    m("isGlobalUnicast", 1, 1, is_global_unicast),
    g("cidr", 1, 1, cidr),
    g("isCIDR", 1, 1, is_cidr),
    m("containsIP", 2, 2, contains_ip),
    m("containsCIDR", 2, 2, contains_cidr),
    m("masked", 1, 1, masked),
    m("prefixLength", 1, 1, prefix_length),
    g("url", 1, 1, url),
    g("isURL", 1, 1, is_url),
    m("getScheme", 1, 1, get_scheme),
    m("getHost", 1, 1, get_host),
    m("getHostname", 1, 1, get_hostname),
    m("getPort", 1, 1, get_port),
    m("getEscapedPath", 1, 1, get_escaped_path),
    m("getQuery", 1, 1, get_query),
    g("semver", 1, 2, semver),
    g("isSemver", 1, 2, is_semver),
    m("major", 1, 1, major),
    m("minor", 1, 1, minor),
    m("patch", 1, 1, patch),
    m("find", 2, 2, find),
    m("findAll", 2, 3, find_all),
    g("format.named", 1, 1, format_named),
    g("format.dns1123Label", 0, 0, f_dns1123_label),
    g("format.dns1123Subdomain", 0, 0, f_dns1123_subdomain),
    g("format.dns1035Label", 0, 0, f_dns1035_label),
    g("format.qualifiedName", 0, 0, f_qualified_name),
    g("format.labelValue", 0, 0, f_label_value),
    g("format.uri", 0, 0, f_uri),
    g("format.uuid", 0, 0, f_uuid),
    g("format.date", 0, 0, f_date),
    g("format.datetime", 0, 0, f_datetime),
    m("validate", 2, 2, validate),
    m("group", 2, 2, authz_group),
    m("resource", 2, 2, authz_resource),
    m("subresource", 2, 2, authz_subresource),
    m("namespace", 2, 2, authz_namespace),
    m("name", 2, 2, authz_name),
    m("path", 2, 2, authz_path),
    m("serviceAccount", 3, 3, authz_service_account),
    m("check", 2, 2, authz_check),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_exact() {
        assert_eq!(parse_quantity("1Gi"), Some((1i128 << 30) * 1_000_000_000));
        assert_eq!(parse_quantity("500m"), Some(500_000_000));
        assert_eq!(parse_quantity("1.5"), Some(1_500_000_000));
        assert_eq!(parse_quantity("2e3"), Some(2_000_000_000_000));
        assert_eq!(parse_quantity("1x"), None);
    }

    #[test]
    fn cidrs_contain() {
        let (n, p) = parse_cidr("10.0.0.0/8").expect("valid");
        let ip = parse_ip("10.1.2.3").expect("valid");
        assert_eq!(mask(n, p), mask(ip, p));
        assert!(parse_ip("::ffff:1.2.3.4").is_none());
    }

    #[test]
    fn semvers_order() {
        let a = parse_semver("1.2.3-alpha", false).expect("valid");
        let b = parse_semver("1.2.3", false).expect("valid");
        assert_eq!(semver_cmp(&a, &b), Ordering::Less);
        assert!(parse_semver("v1.2", false).is_none());
        assert!(parse_semver("v1.2", true).is_some());
    }
}
