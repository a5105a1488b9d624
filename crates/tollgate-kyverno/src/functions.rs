//! JMESPath functions: the specification's built-ins and the Kyverno ones
//! that can be computed offline and deterministically.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::jmespath::{Ast, Data, JpError, compare_values, eval, json_eq, num, search};

type JpResult = Result<Value, JpError>;

enum Arg<'a> {
    Val(Value),
    Expr(&'a Ast),
}

fn err(name: &str, msg: impl std::fmt::Display) -> JpError {
    JpError::Function(format!("{name}(): {msg}"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Declares [`Func`] from one table, `Variant => "name"`: the enum, and
/// both directions between a variant and the name policies call it by.
macro_rules! functions {
    ($($variant:ident => $name:literal,)*) => {
        /// A function the JMESPath of Kyverno policies may call, resolved from
        /// its name when the expression is parsed (so a call dispatches on the
        /// variant, not on its name, each time it is evaluated).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Func {
            $(#[doc = concat!("`", $name, "()`.")] $variant,)*
        }

        impl Func {
            /// The function a name calls; `None` for a name no function has
            /// (the call is then an error when evaluated, as in Kyverno).
            pub fn from_name(name: &str) -> Option<Func> {
                match name {
                    $($name => Some(Func::$variant),)*
                    _ => None,
                }
            }

            /// The name policies call it by.
            pub fn name(self) -> &'static str {
                match self {
                    $(Func::$variant => $name,)*
                }
            }
        }
    };
}

functions! {
    Abs => "abs",
    Avg => "avg",
    Ceil => "ceil",
    Floor => "floor",
    Contains => "contains",
    StartsWith => "starts_with",
    EndsWith => "ends_with",
    Join => "join",
    Keys => "keys",
    Values => "values",
    Length => "length",
    Map => "map",
    Max => "max",
    Min => "min",
    MaxBy => "max_by",
    MinBy => "min_by",
    SortBy => "sort_by",
    Merge => "merge",
    NotNull => "not_null",
    Reverse => "reverse",
    Sort => "sort",
    Sum => "sum",
    ToArray => "to_array",
    ToNumber => "to_number",
    ToString => "to_string",
    Type => "type",
    ToUpper => "to_upper",
    ToLower => "to_lower",
    Trim => "trim",
    TrimPrefix => "trim_prefix",
    Split => "split",
    Replace => "replace",
    ReplaceAll => "replace_all",
    EqualFold => "equal_fold",
    Compare => "compare",
    Truncate => "truncate",
    RegexMatch => "regex_match",
    RegexReplaceAll => "regex_replace_all",
    RegexReplaceAllLiteral => "regex_replace_all_literal",
    PatternMatch => "pattern_match",
    LabelMatch => "label_match",
    Add => "add",
    Subtract => "subtract",
    Multiply => "multiply",
    Divide => "divide",
    Modulo => "modulo",
    Round => "round",
    Base64Decode => "base64_decode",
    Base64Encode => "base64_encode",
    PathCanonicalize => "path_canonicalize",
    ParseJson => "parse_json",
    ParseYaml => "parse_yaml",
    Items => "items",
    ObjectFromLists => "object_from_lists",
    SemverCompare => "semver_compare",
    Lookup => "lookup",
    X509Decode => "x509_decode",
    TimeNow => "time_now",
    TimeNowUtc => "time_now_utc",
    TimeSince => "time_since",
    Random => "random",
    ImageNormalize => "image_normalize",
    Sha256 => "sha256",
}

/// Calls function `func`.
pub(crate) fn call(func: Func, args: &[Ast], data: Data<'_>) -> JpResult {
    let name = func.name();
    let mut vals = Vec::with_capacity(args.len());
    for a in args {
        vals.push(match a {
            Ast::ExpRef(e) => Arg::Expr(e),
            other => Arg::Val(match eval(other, data) {
                Err(JpError::NotFound(_)) => Value::Null,
                r => r?.into_owned(),
            }),
        });
    }
    let arity = |n: usize| -> Result<(), JpError> {
        if vals.len() == n { Ok(()) } else { Err(err(name, format!("expected {n} arguments, got {}", vals.len()))) }
    };
    let val = |i: usize| -> Result<&Value, JpError> {
        match vals.get(i) {
            Some(Arg::Val(v)) => Ok(v),
            _ => Err(err(name, format!("argument {} must be a value", i + 1))),
        }
    };
    let string = |i: usize| -> Result<&str, JpError> {
        val(i)?.as_str().ok_or_else(|| {
            err(name, format!("argument {} must be a string, got {}", i + 1, type_name(val(i).unwrap_or(&Value::Null))))
        })
    };
    let number = |i: usize| -> Result<f64, JpError> {
        val(i)?.as_f64().ok_or_else(|| err(name, format!("argument {} must be a number", i + 1)))
    };
    let array = |i: usize| -> Result<&Vec<Value>, JpError> {
        val(i)?.as_array().ok_or_else(|| err(name, format!("argument {} must be an array", i + 1)))
    };
    let expr = |i: usize| -> Result<&Ast, JpError> {
        match vals.get(i) {
            Some(Arg::Expr(e)) => Ok(*e),
            _ => Err(err(name, format!("argument {} must be an expression (&expr)", i + 1))),
        }
    };
    match func {
        Func::Abs => {
            arity(1)?;
            Ok(num(number(0)?.abs()))
        }
        Func::Avg => {
            arity(1)?;
            let a = array(0)?;
            if a.is_empty() {
                return Ok(Value::Null);
            }
            let s: Option<f64> = a.iter().map(Value::as_f64).sum();
            s.map(|s| num(s / a.len() as f64)).ok_or_else(|| err(name, "array of numbers expected"))
        }
        Func::Ceil => {
            arity(1)?;
            Ok(num(number(0)?.ceil()))
        }
        Func::Floor => {
            arity(1)?;
            Ok(num(number(0)?.floor()))
        }
        Func::Contains => {
            arity(2)?;
            let needle = val(1)?;
            match val(0)? {
                Value::Array(a) => Ok(Value::Bool(a.iter().any(|x| json_eq(x, needle)))),
                Value::String(s) => match needle {
                    Value::String(n) => Ok(Value::Bool(s.contains(n.as_str()))),
                    _ => Ok(Value::Bool(false)),
                },
                other => Err(err(name, format!("argument 1 must be an array or string, got {}", type_name(other)))),
            }
        }
        Func::StartsWith => {
            arity(2)?;
            Ok(Value::Bool(string(0)?.starts_with(string(1)?)))
        }
        Func::EndsWith => {
            arity(2)?;
            Ok(Value::Bool(string(0)?.ends_with(string(1)?)))
        }
        Func::Join => {
            arity(2)?;
            let sep = string(0)?;
            let parts: Option<Vec<&str>> = array(1)?.iter().map(Value::as_str).collect();
            Ok(Value::String(parts.ok_or_else(|| err(name, "array of strings expected"))?.join(sep)))
        }
        Func::Keys => {
            arity(1)?;
            match val(0)? {
                Value::Object(m) => Ok(Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())),
                other => Err(err(name, format!("argument must be an object, got {}", type_name(other)))),
            }
        }
        Func::Values => {
            arity(1)?;
            match val(0)? {
                Value::Object(m) => Ok(Value::Array(m.values().cloned().collect())),
                other => Err(err(name, format!("argument must be an object, got {}", type_name(other)))),
            }
        }
        Func::Length => {
            arity(1)?;
            match val(0)? {
                Value::String(s) => Ok(num(s.chars().count() as f64)),
                Value::Array(a) => Ok(num(a.len() as f64)),
                Value::Object(m) => Ok(num(m.len() as f64)),
                other => {
                    Err(err(name, format!("argument must be a string, array or object, got {}", type_name(other))))
                }
            }
        }
        Func::Map => {
            arity(2)?;
            let e = expr(0)?;
            let mut out = Vec::new();
            for item in array(1)? {
                out.push(match search(e, item) {
                    Err(JpError::NotFound(_)) => Value::Null,
                    r => r?,
                });
            }
            Ok(Value::Array(out))
        }
        Func::Max | Func::Min => {
            arity(1)?;
            let a = array(0)?;
            let want = if name == "max" { Ordering::Greater } else { Ordering::Less };
            let mut best: Option<&Value> = None;
            for x in a {
                if !matches!(x, Value::Number(_) | Value::String(_)) {
                    return Err(err(name, "array of numbers or strings expected"));
                }
                best = match best {
                    None => Some(x),
                    Some(b) => match compare_values(x, b) {
                        Some(o) if o == want => Some(x),
                        Some(_) => Some(b),
                        None => return Err(err(name, "mixed types")),
                    },
                };
            }
            Ok(best.cloned().unwrap_or(Value::Null))
        }
        Func::MaxBy | Func::MinBy | Func::SortBy => {
            arity(2)?;
            let e = expr(1)?;
            let mut keyed = Vec::new();
            for item in array(0)? {
                let k = search(e, item)
                    .or_else(|e| if matches!(e, JpError::NotFound(_)) { Ok(Value::Null) } else { Err(e) })?;
                keyed.push((k, item.clone()));
            }
            if name == "sort_by" {
                let mut bad = false;
                keyed.sort_by(|a, b| {
                    compare_values(&a.0, &b.0).unwrap_or_else(|| {
                        bad = true;
                        Ordering::Equal
                    })
                });
                if bad {
                    return Err(err(name, "keys must all be numbers or all strings"));
                }
                return Ok(Value::Array(keyed.into_iter().map(|(_, v)| v).collect()));
            }
            let want = if name == "max_by" { Ordering::Greater } else { Ordering::Less };
            let mut best: Option<(Value, Value)> = None;
            for (k, v) in keyed {
                best = match best {
                    None => Some((k, v)),
                    Some((bk, bv)) => match compare_values(&k, &bk) {
                        Some(o) if o == want => Some((k, v)),
                        Some(_) => Some((bk, bv)),
                        None => return Err(err(name, "keys must all be numbers or all strings")),
                    },
                };
            }
            Ok(best.map_or(Value::Null, |(_, v)| v))
        }
        Func::Merge => {
            let mut out = Map::new();
            for i in 0..vals.len() {
                match val(i)? {
                    Value::Object(m) => out.extend(m.clone()),
                    other => return Err(err(name, format!("arguments must be objects, got {}", type_name(other)))),
                }
            }
            Ok(Value::Object(out))
        }
        Func::NotNull => {
            for i in 0..vals.len() {
                if !val(i)?.is_null() {
                    return Ok(val(i)?.clone());
                }
            }
            Ok(Value::Null)
        }
        Func::Reverse => {
            arity(1)?;
            match val(0)? {
                Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
                Value::Array(a) => Ok(Value::Array(a.iter().rev().cloned().collect())),
                other => Err(err(name, format!("argument must be a string or array, got {}", type_name(other)))),
            }
        }
        Func::Sort => {
            arity(1)?;
            let mut a = array(0)?.clone();
            let mut bad = false;
            a.sort_by(|x, y| {
                compare_values(x, y).unwrap_or_else(|| {
                    bad = true;
                    Ordering::Equal
                })
            });
            if bad {
                return Err(err(name, "array must hold only numbers or only strings"));
            }
            Ok(Value::Array(a))
        }
        Func::Sum => {
            arity(1)?;
            let s: Option<f64> = array(0)?.iter().map(Value::as_f64).sum();
            s.map(num).ok_or_else(|| err(name, "array of numbers expected"))
        }
        Func::ToArray => {
            arity(1)?;
            Ok(match val(0)? {
                Value::Array(a) => Value::Array(a.clone()),
                other => Value::Array(vec![other.clone()]),
            })
        }
        Func::ToNumber => {
            arity(1)?;
            Ok(match val(0)? {
                Value::Number(n) => n.as_f64().map_or(Value::Null, num),
                Value::String(s) => s.trim().parse::<f64>().map_or(Value::Null, num),
                _ => Value::Null,
            })
        }
        Func::ToString => {
            arity(1)?;
            Ok(match val(0)? {
                Value::String(s) => Value::String(s.clone()),
                other => Value::String(crate::value::go_json(other)),
            })
        }
        Func::Type => {
            arity(1)?;
            Ok(Value::String(type_name(val(0)?).into()))
        }
        // Kyverno's functions.
        Func::ToUpper => {
            arity(1)?;
            Ok(Value::String(string(0)?.to_uppercase()))
        }
        Func::ToLower => {
            arity(1)?;
            Ok(Value::String(string(0)?.to_lowercase()))
        }
        Func::Trim => {
            arity(2)?;
            let cut: Vec<char> = string(1)?.chars().collect();
            Ok(Value::String(string(0)?.trim_matches(|c| cut.contains(&c)).to_string()))
        }
        Func::TrimPrefix => {
            arity(2)?;
            let s = string(0)?;
            Ok(Value::String(s.strip_prefix(string(1)?).unwrap_or(s).to_string()))
        }
        Func::Split => {
            arity(2)?;
            let (s, sep) = (string(0)?, string(1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Value::Array(parts))
        }
        Func::Replace => {
            arity(4)?;
            let (s, old, new, n) = (string(0)?, string(1)?, string(2)?, number(3)?);
            Ok(Value::String(if n < 0.0 { s.replace(old, new) } else { s.replacen(old, new, n as usize) }))
        }
        Func::ReplaceAll => {
            arity(3)?;
            Ok(Value::String(string(0)?.replace(string(1)?, string(2)?)))
        }
        Func::EqualFold => {
            arity(2)?;
            Ok(Value::Bool(string(0)?.to_lowercase() == string(1)?.to_lowercase()))
        }
        Func::Compare => {
            arity(2)?;
            Ok(num(match string(0)?.cmp(string(1)?) {
                Ordering::Less => -1.0,
                Ordering::Equal => 0.0,
                Ordering::Greater => 1.0,
            }))
        }
        Func::Truncate => {
            arity(2)?;
            let n = number(1)?.max(0.0) as usize;
            Ok(Value::String(string(0)?.chars().take(n).collect()))
        }
        Func::RegexMatch | Func::RegexReplaceAll | Func::RegexReplaceAllLiteral => {
            let re_src = string(0)?;
            // Compiled once per thread, within size limits (shared with CEL).
            let re = tollgate_cel::regex_cache::cached(re_src)
                .map_or_else(|| tollgate_cel::regex_cache::compile(re_src), Ok)
                .map_err(|e| err(name, format!("invalid regular expression: {e}")))?;
            let subject = |i: usize| -> Result<String, JpError> {
                match val(i)? {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(crate::value::go_sprint(&Value::Number(n.clone()))),
                    other => Err(err(
                        name,
                        format!("argument {} must be a string or number, got {}", i + 1, type_name(other)),
                    )),
                }
            };
            if name == "regex_match" {
                arity(2)?;
                Ok(Value::Bool(re.is_match(&subject(1)?)))
            } else {
                arity(3)?;
                let src = subject(1)?;
                let rep = string(2)?;
                Ok(Value::String(if name == "regex_replace_all" {
                    // Go's `Regexp.ReplaceAllString` template syntax (`$1`, `${name}`)
                    // is the `regex` crate's.
                    re.replace_all(&src, rep).into_owned()
                } else {
                    re.replace_all(&src, regex::NoExpand(rep)).into_owned()
                }))
            }
        }
        Func::PatternMatch => {
            arity(2)?;
            let subject = match val(1)? {
                Value::String(s) => s.clone(),
                other => crate::value::go_sprint(other),
            };
            Ok(Value::Bool(tollgate_core::wildcard_match(string(0)?, &subject)))
        }
        Func::LabelMatch => {
            arity(2)?;
            let (Value::Object(sel), Value::Object(labels)) = (val(0)?, val(1)?) else {
                return Err(err(name, "arguments must be objects"));
            };
            Ok(Value::Bool(sel.iter().all(|(k, v)| labels.get(k).is_some_and(|l| l == v))))
        }
        Func::Add | Func::Subtract | Func::Multiply | Func::Divide | Func::Modulo => {
            arity(2)?;
            crate::value::arithmetic(name, val(0)?, val(1)?).map_err(|m| err(name, m))
        }
        Func::Round => {
            arity(2)?;
            let p = 10f64.powi(number(1)? as i32);
            Ok(num((number(0)? * p).round() / p))
        }
        Func::Base64Decode => {
            arity(1)?;
            let bytes = crate::value::base64_decode(string(0)?).ok_or_else(|| err(name, "input is not base64"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Func::Base64Encode => {
            arity(1)?;
            Ok(Value::String(crate::value::base64_encode(string(0)?.as_bytes())))
        }
        Func::PathCanonicalize => {
            arity(1)?;
            Ok(Value::String(crate::value::clean_path(string(0)?)))
        }
        Func::ParseJson => {
            arity(1)?;
            serde_json::from_str::<Value>(string(0)?).map(crate::jmespath::floats).map_err(|e| err(name, e))
        }
        Func::ParseYaml => {
            arity(1)?;
            let docs =
                tollgate_yaml::parse_yaml(string(0)?, &tollgate_yaml::Limits::default()).map_err(|e| err(name, e))?;
            Ok(docs.first().map_or(Value::Null, |d| crate::jmespath::floats(d.root.to_json())))
        }
        Func::Items => {
            if vals.is_empty() || vals.len() > 3 {
                return Err(err(name, "expected 1 to 3 arguments"));
            }
            let (kn, vn) = (
                val(1).ok().and_then(Value::as_str).unwrap_or("key").to_string(),
                val(2).ok().and_then(Value::as_str).unwrap_or("value").to_string(),
            );
            let entry = |k: Value, v: &Value| {
                let mut m = Map::new();
                m.insert(kn.clone(), k);
                m.insert(vn.clone(), v.clone());
                Value::Object(m)
            };
            match val(0)? {
                Value::Object(m) => {
                    Ok(Value::Array(m.iter().map(|(k, v)| entry(Value::String(k.clone()), v)).collect()))
                }
                Value::Array(a) => {
                    Ok(Value::Array(a.iter().enumerate().map(|(i, v)| entry(num(i as f64), v)).collect()))
                }
                other => Err(err(name, format!("argument 1 must be an object or array, got {}", type_name(other)))),
            }
        }
        Func::ObjectFromLists => {
            arity(2)?;
            let mut m = Map::new();
            let values = array(1)?;
            for (i, k) in array(0)?.iter().enumerate() {
                let k = k.as_str().ok_or_else(|| err(name, "keys must be strings"))?;
                m.insert(k.to_string(), values.get(i).cloned().unwrap_or(Value::Null));
            }
            Ok(Value::Object(m))
        }
        Func::SemverCompare => {
            arity(2)?;
            crate::value::semver_compare(string(0)?, string(1)?).map(Value::Bool).map_err(|m| err(name, m))
        }
        Func::Lookup => {
            arity(2)?;
            match (val(0)?, val(1)?) {
                (Value::Object(m), Value::String(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
                (Value::Array(a), Value::Number(n)) => {
                    Ok(n.as_f64().and_then(|i| a.get(i as usize)).cloned().unwrap_or(Value::Null))
                }
                _ => Err(err(name, "expected (object, string) or (array, number)")),
            }
        }
        Func::X509Decode => {
            arity(1)?;
            tollgate_cel::x509::decode_pem(string(0)?).map_err(|e| err(name, e))
        }
        Func::TimeNow | Func::TimeNowUtc | Func::TimeSince | Func::Random | Func::ImageNormalize | Func::Sha256 => {
            Err(err(name, "is not evaluated by tollgate (it needs the clock, randomness or image registries)"))
        }
    }
}
