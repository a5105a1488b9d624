//! How Kubernetes reads a scalar.
//!
//! Kubernetes, `kubectl`, Argo CD and Flux decode manifests through
//! `sigs.k8s.io/yaml`, which converts YAML to JSON with go-yaml v2: YAML 1.1
//! tag resolution (`yes`/`on`/`y` are booleans, `0755` is octal, `1e3` is a
//! number, a plain `2001-12-14` stays a string), explicit tags honoured on
//! quoted scalars too (`!!bool "true"` is a boolean), and a value that does
//! not fit its explicit tag rejected. tollgate must never see less than they
//! do, so this module follows go-yaml's resolver (`resolve.go`) rule by rule;
//! `tests/it/kubernetes_yaml.rs` checks it against `kubectl` itself.

/// What a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved {
    /// `null`, `~`, empty.
    Null,
    /// A boolean (YAML 1.1 spellings included).
    Bool(bool),
    /// An integer that fits in 64 bits, signed or not.
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str,
}

/// Resolves a plain (untagged, unquoted) scalar as go-yaml v2 does.
///
/// ```
/// use tollgate_yaml::{Resolved, resolve_plain};
/// assert_eq!(resolve_plain("yes"), Resolved::Bool(true));
/// assert_eq!(resolve_plain("0755"), Resolved::Int(493));
/// assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
/// assert_eq!(resolve_plain("08"), Resolved::Float(8.0));
/// assert_eq!(resolve_plain("2001-12-14"), Resolved::Str);
/// ```
pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' => go_parse_float(text).map_or(Resolved::Str, Resolved::Float),
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = text.chars().filter(|c| *c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Resolved::Int(i);
            }
            if yaml_style_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Resolved::Float(f);
            }
            if let Some(digits) = plain.strip_prefix("0b") {
                return parse_digits(digits, 2).map_or(Resolved::Str, Resolved::Int);
            }
            if let Some(digits) = plain.strip_prefix("-0b") {
                return parse_digits(digits, 2).map_or(Resolved::Str, |v| Resolved::Int(-v));
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// What an explicitly tagged scalar becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tagged {
    /// Read the text as a plain scalar (the tag agrees with what it resolves to).
    Plain,
    /// A string with this text.
    Str(String),
    /// Kubernetes rejects the document; the message says why.
    Rejected(String),
}

/// Applies an explicit tag (`handle` + `suffix` as the parser resolved them)
/// to a scalar of `text`, as go-yaml does.
pub(crate) fn resolve_tagged(handle: &str, suffix: &str, text: &str) -> Tagged {
    // `!!bool`, and the verbatim `!<tag:yaml.org,2002:bool>`, are the same tag.
    let full = format!("{handle}{suffix}");
    let Some(suffix) = full.strip_prefix("tag:yaml.org,2002:") else {
        // A local tag (`!secret`, `!Ref`) or the non-specific `!`: go-yaml
        // keeps the text as a string.
        return Tagged::Str(text.to_owned());
    };
    let resolved = resolve_plain(text);
    let reject = |what: &str| {
        Tagged::Rejected(format!(
            "the value `{}` tagged `!!{suffix}` is not a {what}; Kubernetes' YAML reader rejects it",
            text.chars().take(40).collect::<String>()
        ))
    };
    match suffix {
        "str" => Tagged::Str(text.to_owned()),
        "bool" if matches!(resolved, Resolved::Bool(_)) => Tagged::Plain,
        "bool" => reject("boolean"),
        "int" if matches!(resolved, Resolved::Int(_)) => Tagged::Plain,
        "int" => reject("integer"),
        "float" if matches!(resolved, Resolved::Int(_) | Resolved::Float(_)) => Tagged::Plain,
        "float" => reject("number"),
        "null" if resolved == Resolved::Null => Tagged::Plain,
        "null" => reject("null"),
        "binary" => match decode_base64(text).and_then(|b| String::from_utf8(b).ok()) {
            Some(decoded) => Tagged::Str(decoded),
            None => Tagged::Rejected(
                "a `!!binary` value that is not base64 of UTF-8 text; tollgate cannot be sure how Kubernetes reads it"
                    .to_owned(),
            ),
        },
        other => Tagged::Rejected(format!(
            "a scalar tagged `!!{other}`; tollgate cannot be sure how Kubernetes reads it. Write the value without the tag"
        )),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: sign, `0x`/`0o`/`0b`
/// prefixes and a leading `0` for octal.
fn go_parse_int(s: &str) -> Option<i128> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    let value = parse_digits(digits, radix)?;
    let value = if negative { -value } else { value };
    // int64, or (unsigned only) uint64.
    let fits = (i128::from(i64::MIN)..=i128::from(i64::MAX)).contains(&value)
        || (!negative && s.as_bytes()[0] != b'+' && value <= i128::from(u64::MAX));
    fits.then_some(value)
}

fn parse_digits(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() || digits.len() > 70 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i128::from_str_radix(digits, radix).ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML text reaches
/// (hexadecimal floats and `inf` spellings are handled before, or are not
/// numbers to go-yaml).
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['+', '-']);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Standard base64 with padding (Go's `base64.StdEncoding`).
///
/// ```
/// assert_eq!(tollgate_yaml::encode_base64(b"prod"), "cHJvZA==");
/// ```
pub fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding, line breaks ignored (Go's
/// `base64.StdEncoding.DecodeString` as go-yaml calls it, and as Kubernetes
/// reads a Secret's `data`).
///
/// ```
/// assert_eq!(tollgate_yaml::decode_base64("cHJvZA==").as_deref(), Some(&b"prod"[..]));
/// assert_eq!(tollgate_yaml::decode_base64("cHJvZA"), None);
/// ```
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = text.bytes().filter(|b| !matches!(b, b'\n' | b'\r')).collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for (n, chunk) in clean.chunks(4).enumerate() {
        let last = n + 1 == clean.len() / 4;
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | value(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// The text of a mapping key as Kubernetes' JSON has it: go-yaml resolves
/// keys like values (`y:` is the key `true`, `0x1F:` is `31`), so two keys
/// written differently can be one key.
pub(crate) fn kubernetes_key(text: &str, plain: bool) -> std::borrow::Cow<'_, str> {
    if !plain {
        return std::borrow::Cow::Borrowed(text);
    }
    match resolve_plain(text) {
        Resolved::Str => std::borrow::Cow::Borrowed(text),
        Resolved::Null => "null".into(),
        Resolved::Bool(b) => b.to_string().into(),
        Resolved::Int(i) => i.to_string().into(),
        Resolved::Float(f) => f.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v2() {
        for (text, want) in [
            ("true", Resolved::Bool(true)),
            ("On", Resolved::Bool(true)),
            ("n", Resolved::Bool(false)),
            ("~", Resolved::Null),
            ("", Resolved::Null),
            ("12", Resolved::Int(12)),
            ("-12", Resolved::Int(-12)),
            ("+12", Resolved::Int(12)),
            ("0x1F", Resolved::Int(31)),
            ("0o17", Resolved::Int(15)),
            ("0b101", Resolved::Int(5)),
            ("0755", Resolved::Int(493)),
            ("1e3", Resolved::Float(1000.0)),
            ("1.5", Resolved::Float(1.5)),
            (".5", Resolved::Float(0.5)),
            ("18446744073709551615", Resolved::Int(18_446_744_073_709_551_615)),
            ("1.2.3", Resolved::Str),
            ("2001-12-14", Resolved::Str),
            ("nginx", Resolved::Str),
            ("0x", Resolved::Str),
            ("-", Resolved::Str),
            ("1e", Resolved::Str),
        ] {
            assert_eq!(resolve_plain(text), want, "{text}");
        }
        assert!(matches!(resolve_plain(".nan"), Resolved::Float(f) if f.is_nan()));
    }

    #[test]
    fn tags_resolve_or_reject() {
        let core = "tag:yaml.org,2002:";
        assert_eq!(resolve_tagged(core, "bool", "true"), Tagged::Plain);
        assert_eq!(resolve_tagged(core, "bool", "yes"), Tagged::Plain);
        assert!(matches!(resolve_tagged(core, "bool", "maybe"), Tagged::Rejected(_)));
        assert_eq!(resolve_tagged(core, "int", "0x10"), Tagged::Plain);
        assert_eq!(resolve_tagged(core, "float", "1"), Tagged::Plain);
        assert_eq!(resolve_tagged(core, "str", "true"), Tagged::Str("true".into()));
        assert_eq!(resolve_tagged(core, "binary", "aGVsbG8="), Tagged::Str("hello".into()));
        assert!(matches!(resolve_tagged(core, "timestamp", "2001-12-14"), Tagged::Rejected(_)));
        assert_eq!(resolve_tagged("!", "secret", "x"), Tagged::Str("x".into()));
    }

    #[test]
    fn base64_follows_the_standard_alphabet() {
        assert_eq!(decode_base64("bmdpbng6bGF0ZXN0").as_deref(), Some(&b"nginx:latest"[..]));
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64("YQ"), None);
        assert_eq!(decode_base64("Y===").as_deref(), None);
    }
}
