//! tollgate's CEL engine: the Common Expression Language as Kubernetes
//! (`ValidatingAdmissionPolicy`), Kyverno (`ValidatingPolicy`,
//! `validate.cel`) and Gatekeeper (`K8sNativeValidation`) evaluate it,
//! offline and within a budget.
//!
//! - [`compile`] parses an expression with cel's parser and lowers it into a
//!   program, checking that every function and variable is declared; a
//!   mistake is a [`CompileError`] with its line and column.
//! - A [`Session`] evaluates programs on one object: integers stay signed,
//!   a policy's [`Variables`] are evaluated lazily and once, every step is
//!   charged against a [`Budget`] (cost, time and size), and the last path
//!   of `object` that was read is kept so a finding can point at it.
//! - The libraries: CEL's standard one; the strings, lists, math, sets,
//!   base64 and optional extensions; `cel.bind` and two-variable
//!   comprehensions; Kubernetes' lists, regex, URL, IP/CIDR, quantity,
//!   semver, format and authorizer (which answers only in a live cluster);
//!   Kyverno's image, `parseServiceAccount`, `json`, `yaml`, hash,
//!   `listObjToMap`, `math.round`, `time` and `x509` libraries. Functions that need
//!   a live cluster or network fail with [`Error::LiveData`] unless the
//!   [`Activation`] has [`LiveData`] mocks.
//!
//! ```
//! use tollgate_cel::{Activation, Budget, Session, Value, compile};
//! let program = compile("object.spec.replicas + 1 <= 3 && object.spec.containers.all(c, c.image.contains(':'))", &["object"]).unwrap();
//! let mut activation = Activation::new(0);
//! activation.set("object", Value::from_json(&serde_json::json!({
//!     "spec": {"replicas": 2, "containers": [{"image": "nginx:1.27"}, {"image": "redis"}]}
//! })));
//! let mut session = Session::new(&activation, None, Budget::default());
//! assert_eq!(session.eval(&program), Ok(Value::Bool(false)));
//! // The last field read, where a finding would point:
//! assert_eq!(format!("{:?}", session.last_read().unwrap().last()), "Some(Key(\"image\"))");
//! ```

// Operators and library functions name their operands `a`, `b`, `x`, `y`
// as the CEL specification does.
#![allow(clippy::many_single_char_names)]
// Every library function has the one signature of the function table.
#![allow(clippy::unnecessary_wraps)]

mod compile;
mod eval;
mod ext;
mod functions;
pub mod kyverno;
pub mod regex_cache;
mod time;
mod value;
pub mod x509;

pub use compile::{CompileError, Program, compile};
pub use eval::{Activation, Budget, Error, LiveData, LiveDataError, Path, PathSeg, Result, Session, Variables};
pub use ext::Ext;
pub use value::{Key, Map, Value};

/// The authorizer value Kubernetes binds to `authorizer`: every check it
/// makes needs a live cluster.
pub fn authorizer() -> Value {
    Value::Ext(std::sync::Arc::new(Ext::Authorizer(Vec::new())))
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch (the
/// clock an [`Activation`] takes).
pub fn parse_timestamp(s: &str) -> Option<i128> {
    time::parse_timestamp(s)
}

#[cfg(test)]
mod tests;
