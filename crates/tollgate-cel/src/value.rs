//! CEL values: the JSON kinds of a Kubernetes object plus CEL's own (unsigned
//! integers, bytes, durations, timestamps, types, optionals) and the
//! Kubernetes library objects (quantities, IPs, CIDRs, URLs, semvers).
//!
//! Lists and maps are shared (`Arc`), so binding an object to a variable or
//! iterating over it copies nothing.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::ext::Ext;

/// A map key: CEL allows booleans, integers and strings. An `Int` and a
/// `Uint` of the same number are the same key (CEL's heterogeneous equality),
/// so unsigned keys are stored as `Int` whenever they fit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer (or an unsigned one that fits).
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    Uint(u64),
    /// A string.
    String(Arc<str>),
}

impl Key {
    /// The key a value names, `None` for a value that cannot be a key.
    pub fn of(value: &Value) -> Option<Key> {
        Some(match value {
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            Value::Uint(u) => i64::try_from(*u).map_or(Key::Uint(*u), Key::Int),
            Value::Double(d) if d.fract() == 0.0 && d.is_finite() && d.abs() < 9.0e15 => Key::Int(*d as i64),
            Value::String(s) => Key::String(s.clone()),
            _ => return None,
        })
    }

    /// The key as a value.
    pub fn to_value(&self) -> Value {
        match self {
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::Int(*i),
            Key::Uint(u) => Value::Uint(*u),
            Key::String(s) => Value::String(s.clone()),
        }
    }
}

/// A CEL map. Ordered by key, so iteration and printing are deterministic
/// (Kubernetes objects have no key order to keep).
pub type Map = BTreeMap<Key, Value>;

/// A CEL value.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer: every YAML and JSON integer that fits.
    Int(i64),
    /// An unsigned 64-bit integer (`1u`).
    Uint(u64),
    /// A double.
    Double(f64),
    /// A string.
    String(Arc<str>),
    /// Bytes.
    Bytes(Arc<[u8]>),
    /// A list.
    List(Arc<Vec<Value>>),
    /// A map.
    Map(Arc<Map>),
    /// A type, as `type(x)` returns and `int` names.
    Type(Arc<str>),
    /// A duration in nanoseconds.
    Duration(i128),
    /// A timestamp in nanoseconds since the Unix epoch (UTC).
    Timestamp(i128),
    /// `optional.of(v)` or `optional.none()`.
    Optional(Option<Arc<Value>>),
    /// A library object (quantity, IP, CIDR, URL, semver, image, ...).
    Ext(Arc<Ext>),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::String(Arc::from(s))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// CEL's name of the value's type.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Type(_) => "type",
            Value::Duration(_) => "google.protobuf.Duration",
            Value::Timestamp(_) => "google.protobuf.Timestamp",
            Value::Optional(_) => "optional_type",
            Value::Ext(e) => e.type_name(),
        }
    }

    /// The value of a JSON document, integers kept signed.
    pub fn from_json(json: &Json) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::Uint(u)
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => Value::str(s),
            Json::Array(a) => Value::list(a.iter().map(Value::from_json).collect()),
            Json::Object(o) => Value::Map(Arc::new(
                o.iter().map(|(k, v)| (Key::String(Arc::from(k.as_str())), Value::from_json(v))).collect(),
            )),
        }
    }

    /// The value as JSON (for messages and for `json.marshal`); `None` for a
    /// value JSON cannot hold.
    pub fn to_json(&self) -> Option<Json> {
        Some(match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Uint(u) => Json::from(*u),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.to_string()),
            Value::List(l) => Json::Array(l.iter().map(Value::to_json).collect::<Option<_>>()?),
            Value::Map(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Key::String(s) => s.to_string(),
                            other => other.to_value().to_string(),
                        };
                        Some((key, v.to_json()?))
                    })
                    .collect::<Option<_>>()?,
            ),
            Value::Optional(Some(v)) => v.to_json()?,
            Value::Optional(None) => Json::Null,
            Value::Duration(_) | Value::Timestamp(_) | Value::Ext(_) => Json::String(self.to_string()),
            Value::Bytes(_) | Value::Type(_) => return None,
        })
    }

    /// The boolean, if the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A field of a map value.
    pub fn get(&self, field: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(&Key::String(Arc::from(field))),
            _ => None,
        }
    }

    /// An approximate size in bytes, for the memory part of the budget.
    pub(crate) fn weight(&self) -> usize {
        match self {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::List(l) => l.len() * 8,
            Value::Map(m) => m.len() * 16,
            _ => 1,
        }
    }
}

/// CEL equality: numbers compare across int, uint and double; lists and maps
/// element by element; values of different types are unequal.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x == y),
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            (Value::Type(a), Value::Type(b)) => a == b,
            (Value::Duration(a), Value::Duration(b)) | (Value::Timestamp(a), Value::Timestamp(b)) => a == b,
            (Value::Optional(a), Value::Optional(b)) => match (a, b) {
                (None, None) => true,
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
            (Value::Ext(a), Value::Ext(b)) => a.equals(b),
            (a, b) => numeric_cmp(a, b) == Some(Ordering::Equal),
        }
    }
}

/// The order of two numbers of any numeric types; `None` when either is not
/// a number or a double is NaN.
pub(crate) fn numeric_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Uint(x), Value::Uint(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Uint(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Uint(x), Value::Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Value::Double(x), Value::Double(y)) => x.partial_cmp(y),
        (Value::Double(x), Value::Int(y)) => cmp_double_int(*x, i128::from(*y)),
        (Value::Double(x), Value::Uint(y)) => cmp_double_int(*x, i128::from(*y)),
        (Value::Int(x), Value::Double(y)) => cmp_double_int(*y, i128::from(*x)).map(Ordering::reverse),
        (Value::Uint(x), Value::Double(y)) => cmp_double_int(*y, i128::from(*x)).map(Ordering::reverse),
        _ => None,
    }
}

fn cmp_double_int(d: f64, i: i128) -> Option<Ordering> {
    if d.is_nan() {
        return None;
    }
    if d < -1.8e19 {
        return Some(Ordering::Less);
    }
    if d > 1.8e19 {
        return Some(Ordering::Greater);
    }
    let floor = d.floor();
    match (floor as i128).cmp(&i) {
        Ordering::Equal if d > floor => Some(Ordering::Greater),
        o => Some(o),
    }
}

/// The order CEL's `<` uses: numbers across types, strings, bytes, booleans,
/// durations and timestamps; `None` for values without one.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Duration(x), Value::Duration(y)) | (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Ext(x), Value::Ext(y)) => x.compare(y),
        _ => numeric_cmp(a, b),
    }
}

impl fmt::Display for Value {
    /// The form `string(x)` gives for scalars, and a CEL literal for the rest
    /// (as messages print them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}"),
            Value::Double(d) => f.write_str(&format_double(*d)),
            Value::String(s) => f.write_str(s),
            Value::Bytes(b) => f.write_str(&String::from_utf8_lossy(b)),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_literal(f, v)?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_literal(f, &k.to_value())?;
                    f.write_str(": ")?;
                    write_literal(f, v)?;
                }
                f.write_str("}")
            }
            Value::Type(t) => f.write_str(t),
            Value::Duration(d) => f.write_str(&crate::time::format_duration(*d)),
            Value::Timestamp(t) => f.write_str(&crate::time::format_timestamp(*t)),
            Value::Optional(Some(v)) => write!(f, "optional.of({v})"),
            Value::Optional(None) => f.write_str("optional.none()"),
            Value::Ext(e) => write!(f, "{e}"),
        }
    }
}

fn write_literal(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::String(s) => write!(f, "{s:?}"),
        other => write!(f, "{other}"),
    }
}

/// A double as Go's `strconv.FormatFloat(d, 'g', -1, 64)` prints it, which is
/// what `string(1.5)` gives in CEL.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let s = format!("{d:e}");
        // Rust prints `1e21`, Go `1e+21`.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        };
    }
    format!("{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_equal_across_types() {
        assert_eq!(Value::Int(1), Value::Uint(1));
        assert_eq!(Value::Int(1), Value::Double(1.0));
        assert_ne!(Value::Int(1), Value::Double(1.5));
        assert_ne!(Value::Int(1), Value::str("1"));
    }

    #[test]
    fn json_integers_stay_signed() {
        let v = Value::from_json(&serde_json::json!({"replicas": 3}));
        assert!(matches!(v.get("replicas"), Some(Value::Int(3))));
    }

    #[test]
    fn doubles_print_as_go_does() {
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(3.0), "3");
    }
}
