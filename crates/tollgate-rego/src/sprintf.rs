//! OPA's `sprintf`: Go's `fmt.Sprintf` over the arguments as OPA hands them
//! to Go (integers as `int`, other numbers as `float64`, strings as `string`,
//! anything else as its Rego text). regorus rejects a format with more verbs
//! than arguments, where OPA (Go) prints `%!v(MISSING)` and carries on;
//! policies in the wild rely on that, so tollgate registers this function in
//! place of regorus' builtin.

use std::fmt::Write as _;

use regorus::Value;

#[derive(Debug, Clone)]
enum Arg {
    Int(i128),
    Float(f64),
    Str(String),
}

impl Arg {
    fn of(v: &Value) -> Arg {
        match v {
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Arg::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Arg::Int(i128::from(u))
                } else {
                    Arg::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Arg::Str(s.to_string()),
            other => Arg::Str(rego_text(other)),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }

    fn plain(&self) -> String {
        match self {
            Arg::Int(i) => i.to_string(),
            Arg::Float(f) => go_g(*f, None),
            Arg::Str(s) => s.clone(),
        }
    }
}

/// A value as Rego prints it (`[1, "a"]`, `{"k": true}`, `{1, 2}` for sets).
fn rego_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => match Arg::of(v) {
            Arg::Int(i) => i.to_string(),
            Arg::Float(f) => go_g(f, None),
            Arg::Str(s) => s,
        },
        Value::String(s) => serde_json::Value::String(s.to_string()).to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(rego_text).collect::<Vec<_>>().join(", ")),
        Value::Set(s) => {
            if s.is_empty() {
                "set()".into()
            } else {
                format!("{{{}}}", s.iter().map(rego_text).collect::<Vec<_>>().join(", "))
            }
        }
        Value::Object(o) => {
            format!(
                "{{{}}}",
                o.iter().map(|(k, v)| format!("{}: {}", rego_text(k), rego_text(v))).collect::<Vec<_>>().join(", ")
            )
        }
        Value::Undefined => "undefined".into(),
    }
}

/// Go's `%g`/`%v` of a float (`precision` digits, or the shortest).
fn go_g(f: f64, precision: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return "0".into();
    }
    let e = match precision {
        Some(p) => format!("{:.*e}", p.max(1) - 1, f),
        None => format!("{f:e}"),
    };
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // Go uses the exponent form from an exponent of 6 for the shortest form.
    let limit = precision.map_or(6, |p| p.max(1) as i32);
    let mant = if mant.contains('.') { mant.trim_end_matches('0').trim_end_matches('.') } else { mant };
    if exp < -4 || exp >= limit {
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let neg = f < 0.0;
    let point = exp + 1;
    let mut s = String::new();
    if point <= 0 {
        s.push_str("0.");
        s.push_str(&"0".repeat((-point) as usize));
        s.push_str(&digits);
    } else if (point as usize) >= digits.len() {
        s.push_str(&digits);
        s.push_str(&"0".repeat(point as usize - digits.len()));
    } else {
        s.push_str(&digits[..point as usize]);
        s.push('.');
        s.push_str(&digits[point as usize..]);
    }
    if neg { format!("-{s}") } else { s }
}

fn go_e(f: f64, precision: usize, upper: bool) -> String {
    let e = format!("{f:.precision$e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let s = format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    if upper { s.to_uppercase() } else { s }
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match s.strip_prefix(['-', '+']) {
            Some(r) => (&s[..1], r),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn bad(verb: char, arg: &Arg) -> String {
    format!("%!{verb}({}={})", arg.type_name(), arg.plain())
}

fn format_one(verb: char, spec: &Spec, arg: &Arg) -> String {
    let signed = |s: String, neg: bool| {
        if neg {
            s
        } else if spec.plus {
            format!("+{s}")
        } else if spec.space {
            format!(" {s}")
        } else {
            s
        }
    };
    let out = match (verb, arg) {
        ('v' | 'g' | 'G', Arg::Float(f)) => {
            let s = go_g(*f, spec.precision);
            let s = if verb == 'G' { s.to_uppercase() } else { s };
            signed(s, *f < 0.0)
        }
        ('v' | 'd', Arg::Int(i)) => signed(i.to_string(), *i < 0),
        ('v' | 's', Arg::Str(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('q', Arg::Str(s)) => serde_json::Value::String(s.clone()).to_string(),
        ('q', Arg::Int(i)) => format!("'{}'", u32::try_from(*i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}')),
        ('c', Arg::Int(i)) => u32::try_from(*i).ok().and_then(char::from_u32).unwrap_or('\u{fffd}').to_string(),
        ('x', Arg::Int(i)) => {
            let s = format!("{:x}", i.unsigned_abs());
            let s = if spec.sharp { format!("0x{s}") } else { s };
            if *i < 0 { format!("-{s}") } else { s }
        }
        ('X', Arg::Int(i)) => {
            let s = format!("{:X}", i.unsigned_abs());
            let s = if spec.sharp { format!("0X{s}") } else { s };
            if *i < 0 { format!("-{s}") } else { s }
        }
        ('o', Arg::Int(i)) => format!("{}{:o}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('b', Arg::Int(i)) => format!("{}{:b}", if *i < 0 { "-" } else { "" }, i.unsigned_abs()),
        ('x', Arg::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Arg::Str(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('f' | 'F', Arg::Float(f)) => signed(format!("{:.*}", spec.precision.unwrap_or(6), f), *f < 0.0),
        ('e' | 'E', Arg::Float(f)) => signed(go_e(*f, spec.precision.unwrap_or(6), verb == 'E'), *f < 0.0),
        ('T', a) => a.type_name().to_string(),
        _ => return bad(verb, arg),
    };
    let numeric = matches!(arg, Arg::Int(_) | Arg::Float(_));
    pad(out, spec, numeric)
}

/// OPA's `sprintf(format, args)`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let args: Vec<Arg> = args.iter().map(Arg::of).collect();
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut next = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            i += 1;
        }
        // Go's `parsenum`: a number that grows past 1e6 is an overflow,
        // which consumes the rest of the format (so `%!(NOVERB)` follows):
        // a width can never ask for a gigabyte of padding.
        match go_parse_number(&chars, &mut i) {
            GoNumber::Overflow => {
                out.push_str("%!(NOVERB)");
                break;
            }
            GoNumber::Present(w) => spec.width = Some(w),
            GoNumber::Absent => {}
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            match go_parse_number(&chars, &mut i) {
                GoNumber::Overflow => {
                    out.push_str("%!(NOVERB)");
                    break;
                }
                GoNumber::Present(p) => spec.precision = Some(p),
                GoNumber::Absent => spec.precision = Some(0),
            }
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(a) => out.push_str(&format_one(verb, &spec, a)),
            None => {
                let _ = write!(out, "%!{verb}(MISSING)");
            }
        }
        next += 1;
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[next..].iter().map(|a| format!("{}={}", a.type_name(), a.plain())).collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

/// A width or precision as Go's `fmt.parsenum` reads it.
enum GoNumber {
    /// No digits.
    Absent,
    /// A number.
    Present(usize),
    /// It grew past one million before its last digit.
    Overflow,
}

/// Go's `fmt.parsenum` from `chars[*i]`; on overflow the rest of the format
/// is consumed, as in Go.
fn go_parse_number(chars: &[char], i: &mut usize) -> GoNumber {
    let mut num: usize = 0;
    let mut present = false;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        if num > 1_000_000 {
            *i = chars.len();
            return GoNumber::Overflow;
        }
        num = num * 10 + (chars[*i] as usize - '0' as usize);
        present = true;
        *i += 1;
    }
    if present { GoNumber::Present(num) } else { GoNumber::Absent }
}

/// Registers [`sprintf`] on `engine` in place of regorus' builtin.
pub(crate) fn register(engine: &mut regorus::Engine) {
    // Registration fails only when the name is taken, which it is not on a
    // fresh engine; the builtin then stays in use.
    let _ = engine.add_extension(
        "sprintf".to_string(),
        2,
        Box::new(|args: Vec<Value>| {
            let format = match args.first() {
                Some(Value::String(s)) => s.to_string(),
                _ => anyhow::bail!("sprintf: operand 1 must be a string"),
            };
            let items: Vec<Value> = match args.get(1) {
                Some(Value::Array(a)) => a.iter().cloned().collect(),
                _ => anyhow::bail!("sprintf: operand 2 must be an array"),
            };
            Ok(Value::from(sprintf(&format, &items)))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(json: &str) -> Vec<Value> {
        match Value::from_json_str(json) {
            Ok(Value::Array(a)) => a.iter().cloned().collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn like_go_through_opa() {
        assert_eq!(sprintf("%v and %v", &v(r#"["a", 1]"#)), "a and 1");
        assert_eq!(sprintf("%v %v", &v("[1]")), "1 %!v(MISSING)");
        assert_eq!(sprintf("%s", &v("[1, 2]")), "%!s(int=1)%!(EXTRA int=2)");
        assert_eq!(sprintf("%v", &v(r#"[[{"a": 1}, "x"]]"#)), r#"[{"a": 1}, "x"]"#);
        assert_eq!(sprintf("%v", &v("[true]")), "true");
        assert_eq!(
            sprintf("%.2f|%5d|%-4s|%05d|%x|%q", &v(r#"[1.5, 42, "ab", -7, 255, "q"]"#)),
            r#"1.50|   42|ab  |-0007|ff|"q""#
        );
        assert_eq!(sprintf("%v %v", &v("[1.5, 100000000.5]")), "1.5 1.000000005e+08");
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%d", &v(r#"["x"]"#)), "%!d(string=x)");
    }

    #[test]
    fn huge_widths_overflow_as_in_go() {
        let started = std::time::Instant::now();
        assert_eq!(sprintf("%999999999d", &v("[1]")), "%!(NOVERB)%!(EXTRA int=1)");
        assert_eq!(sprintf("%.999999999f", &v("[1.5]")), "%!(NOVERB)%!(EXTRA float64=1.5)");
        assert_eq!(sprintf("%3d", &v("[7]")).len(), 3);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
