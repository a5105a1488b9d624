//! Evaluation: one [`Session`] per object under judgement evaluates the
//! programs of a policy (match conditions, validations, messages) against
//! one [`Activation`], lazily evaluating the policy's `variables` once each,
//! counting the cost of every step against the [`Budget`] and recording the
//! last path of `object` that was read, so a finding can point at it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::compile::{Kind, LoopKind, Node, Program};
use crate::value::{Key, Map, Value};

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A run-time error of the expression: a missing key, a type with no
    /// matching overload, a division by zero.
    #[error("{0}")]
    Runtime(String),
    /// The evaluation went over its budget (cost, time or size).
    #[error("{0}")]
    Budget(String),
    /// A function needs data only a live cluster or network has.
    #[error("needs live data: {0}")]
    LiveData(String),
}

/// Shorthand for an evaluation result.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn runtime(message: impl Into<String>) -> Error {
    Error::Runtime(message.into())
}

/// The limits of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Cost units per expression: one per step, more for work that grows
    /// with its input (Kubernetes' per-call limit is 1,000,000).
    pub cost: u64,
    /// Wall-clock time per expression.
    pub time: Duration,
    /// The largest string, bytes or list (in bytes, roughly) an expression
    /// may build.
    pub max_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { cost: 1_000_000, time: Duration::from_secs(2), max_bytes: 4 << 20 }
    }
}

/// One step of a path in an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSeg {
    /// A map key.
    Key(Arc<str>),
    /// A list index.
    Index(usize),
}

/// The path of a value inside the judged `object`, when known.
pub type Path = Vec<PathSeg>;

/// What a [`LiveData`] source could not answer, in its own typed error: the
/// expression fails with its message, as a cluster's "not found" fails it.
pub type LiveDataError = Box<dyn std::error::Error + Send + Sync>;

/// Answers the functions that need a live cluster from test mocks.
pub trait LiveData: Sync {
    /// The answer to `library.function(args)` (`resource.Get`,
    /// `http.Get`, `globalContext.Get`, `image.GetMetadata`): `None` when
    /// nothing mocks that library, `Some(Err)` when the mocks do not hold
    /// what was asked (as a cluster answers "not found").
    fn call(&self, library: &str, function: &str, args: &[Value]) -> Option<std::result::Result<Value, LiveDataError>>;
}

/// The variables an expression sees. Cloning one is cheap: its values are
/// shared.
#[derive(Default, Clone)]
pub struct Activation {
    values: HashMap<Arc<str>, Value>,
    /// `time.now()` for every expression of a run.
    pub(crate) now: i128,
    pub(crate) live: Option<Arc<dyn LiveData + Send>>,
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activation").field("values", &self.values.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

impl Activation {
    /// An activation with no variables, its clock at `now` (nanoseconds
    /// since the Unix epoch).
    pub fn new(now: i128) -> Activation {
        Activation { values: HashMap::new(), now, live: None }
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(Arc::from(name), value);
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Answers live-data functions from `live` (test mocks).
    pub fn set_live_data(&mut self, live: Arc<dyn LiveData + Send>) {
        self.live = Some(live);
    }
}

/// A policy's `variables`: compiled once, evaluated lazily per object.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    entries: Vec<(Arc<str>, Program)>,
}

impl Variables {
    /// Variables in declaration order (each may use the ones before it).
    pub fn new(entries: Vec<(String, Program)>) -> Variables {
        Variables { entries: entries.into_iter().map(|(n, p)| (Arc::from(n.as_str()), p)).collect() }
    }

    /// Whether a variable of that name is declared.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|(n, _)| &**n == name)
    }
}

#[derive(Clone)]
enum Slot {
    Empty,
    Busy,
    Done(Result<Value>, Option<Path>),
}

/// The evaluation of a policy's programs on one object.
pub struct Session<'a> {
    activation: &'a Activation,
    variables: Option<&'a Variables>,
    cache: RefCell<Vec<Slot>>,
    scopes: Vec<(Arc<str>, Result<Value>, Option<Path>)>,
    budget: Budget,
    cost: u64,
    total_cost: u64,
    started: Instant,
    last_read: Option<Path>,
}

/// The variable whose paths findings point at.
const OBJECT: &str = "object";
/// The variable that names the policy's variables.
const VARIABLES: &str = "variables";

impl<'a> Session<'a> {
    /// A session on `activation`, with the policy's `variables`.
    pub fn new(activation: &'a Activation, variables: Option<&'a Variables>, budget: Budget) -> Session<'a> {
        let n = variables.map_or(0, |v| v.entries.len());
        Session {
            activation,
            variables,
            cache: RefCell::new(vec![Slot::Empty; n]),
            scopes: Vec::new(),
            budget,
            cost: 0,
            total_cost: 0,
            started: Instant::now(),
            last_read: None,
        }
    }

    /// Evaluates `program`, its cost counted from zero.
    pub fn eval(&mut self, program: &Program) -> Result<Value> {
        self.cost = 0;
        self.started = Instant::now();
        self.last_read = None;
        self.scopes.clear();
        let r = self.node(&program.root);
        self.total_cost += self.cost;
        r
    }

    /// The last path of `object` the latest evaluation read.
    pub fn last_read(&self) -> Option<&Path> {
        self.last_read.as_ref()
    }

    /// The cost of every evaluation of this session so far.
    pub fn total_cost(&self) -> u64 {
        self.total_cost + self.cost
    }

    pub(crate) fn now(&self) -> i128 {
        self.activation.now
    }

    pub(crate) fn live(&self) -> Option<&(dyn LiveData + Send)> {
        self.activation.live.as_deref()
    }

    /// Counts `units` of cost; fails past the budget.
    pub(crate) fn charge(&mut self, units: u64) -> Result<()> {
        self.cost = self.cost.saturating_add(units);
        if self.cost > self.budget.cost {
            return Err(Error::Budget(format!(
                "operation cancelled: actual cost limit exceeded (more than {} units)",
                self.budget.cost
            )));
        }
        if self.cost.trailing_zeros() >= 10 || units > 0x3ff {
            self.check_time()?;
        }
        Ok(())
    }

    fn check_time(&self) -> Result<()> {
        if self.started.elapsed() > self.budget.time {
            return Err(Error::Budget(format!(
                "operation cancelled: the evaluation took longer than {} ms",
                self.budget.time.as_millis()
            )));
        }
        Ok(())
    }

    /// Fails when a value being built is larger than the budget allows.
    pub(crate) fn check_size(&mut self, bytes: usize) -> Result<()> {
        if bytes > self.budget.max_bytes {
            return Err(Error::Budget(format!(
                "operation cancelled: a value of {bytes} bytes is larger than the {} bytes allowed",
                self.budget.max_bytes
            )));
        }
        self.charge((bytes / 10) as u64)
    }

    fn lookup(&mut self, name: &str) -> Result<(Value, Option<Path>)> {
        if let Some((_, v, p)) = self.scopes.iter().rev().find(|(n, _, _)| &**n == name) {
            return v.clone().map(|v| (v, p.clone()));
        }
        if name == VARIABLES && self.variables.is_some() {
            let names: Vec<Arc<str>> =
                self.variables.map(|v| v.entries.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
            let mut map = Map::new();
            for (i, name) in names.into_iter().enumerate() {
                map.insert(Key::String(name), self.variable(i)?.0);
            }
            return Ok((Value::Map(Arc::new(map)), None));
        }
        match self.activation.values.get(name) {
            Some(v) => Ok((v.clone(), (name == OBJECT).then(Vec::new))),
            None => Err(runtime(format!("no such attribute: {name}"))),
        }
    }

    /// The value of the policy's variable `i`, evaluated at most once.
    fn variable(&mut self, i: usize) -> Result<(Value, Option<Path>)> {
        let slot = self.cache.borrow()[i].clone();
        match slot {
            Slot::Done(v, p) => return v.map(|v| (v, p)),
            Slot::Busy => return Err(runtime("a variable refers to itself")),
            Slot::Empty => {}
        }
        let Some(vars) = self.variables else { return Err(runtime("no variables")) };
        let (_, program) = &vars.entries[i];
        self.cache.borrow_mut()[i] = Slot::Busy;
        let saved = std::mem::take(&mut self.scopes);
        let saved_read = self.last_read.take();
        let r = self.node(&program.root);
        self.scopes = saved;
        self.last_read = saved_read;
        let path = program.path_of(OBJECT);
        self.cache.borrow_mut()[i] = Slot::Done(r.clone(), path.clone());
        r.map(|v| (v, path))
    }

    fn variable_named(&mut self, name: &str) -> Option<Result<(Value, Option<Path>)>> {
        if self.scopes.iter().any(|(n, _, _)| &**n == VARIABLES) {
            return None;
        }
        let i = self.variables?.entries.iter().position(|(n, _)| &**n == name)?;
        Some(self.variable(i))
    }

    fn read(&mut self, path: Option<Path>) {
        if path.is_some() {
            self.last_read = path;
        }
    }

    pub(crate) fn node(&mut self, n: &Node) -> Result<Value> {
        self.with_path(n).map(|(v, _)| v)
    }

    fn boolean(&mut self, n: &Node) -> Result<bool> {
        match self.node(n)? {
            Value::Bool(b) => Ok(b),
            other => Err(runtime(format!("no such overload: expected bool, got {}", other.type_name()))),
        }
    }

    /// A node's value and, when it is part of `object`, its path.
    #[allow(clippy::too_many_lines)]
    fn with_path(&mut self, n: &Node) -> Result<(Value, Option<Path>)> {
        self.charge(1)?;
        Ok(match &n.kind {
            Kind::Const(v) => (v.clone(), None),
            Kind::Var(name) => self.lookup(name)?,
            Kind::Select { operand, field, test } => {
                if let Kind::Var(v) = &operand.kind
                    && &**v == VARIABLES
                    && let Some(r) = self.variable_named(field)
                {
                    if *test {
                        return Ok((Value::Bool(true), None));
                    }
                    let (v, p) = r?;
                    self.read(p.clone());
                    return Ok((v, p));
                }
                let (v, p) = self.with_path(operand)?;
                // Selecting on an optional keeps it optional: `a.?b.c` is
                // none when `b` or `c` is absent.
                if let Value::Optional(o) = &v {
                    return Ok(match o {
                        None => (if *test { Value::Bool(false) } else { Value::Optional(None) }, None),
                        Some(inner) => match (&**inner, test) {
                            (Value::Map(m), true) => (Value::Bool(m.contains_key(&Key::String(field.clone()))), None),
                            (Value::Map(m), false) => self.optional_field(m, field, p),
                            (Value::Null, _) => (if *test { Value::Bool(false) } else { Value::Optional(None) }, None),
                            (other, _) => {
                                return Err(runtime(format!(
                                    "no such overload: field selection `.{field}` on {}",
                                    other.type_name()
                                )));
                            }
                        },
                    });
                }
                let child = p.as_ref().map(|p| extend(p, PathSeg::Key(field.clone())));
                match &v {
                    Value::Map(m) => match m.get(&Key::String(field.clone())) {
                        Some(x) if !*test => {
                            self.read(child.clone());
                            (x.clone(), child)
                        }
                        Some(_) => (Value::Bool(true), None),
                        None if *test => {
                            self.read(p);
                            (Value::Bool(false), None)
                        }
                        None => {
                            self.read(p);
                            return Err(runtime(format!("no such key: {field}")));
                        }
                    },
                    Value::Null if *test => (Value::Bool(false), None),
                    other => {
                        return Err(runtime(format!(
                            "no such overload: field selection `.{field}` on {}",
                            other.type_name()
                        )));
                    }
                }
            }
            Kind::OptSelect { operand, field } => {
                if let Kind::Var(v) = &operand.kind
                    && &**v == VARIABLES
                    && let Some(r) = self.variable_named(field)
                {
                    let (v, p) = r?;
                    return Ok((Value::Optional(Some(Arc::new(v))), p));
                }
                let (v, p) = self.with_path(operand)?;
                let v = match v {
                    Value::Optional(None) => return Ok((Value::Optional(None), None)),
                    Value::Optional(Some(inner)) => (*inner).clone(),
                    v => v,
                };
                if matches!(v, Value::Null) {
                    return Ok((Value::Optional(None), None));
                }
                let Value::Map(m) = &v else {
                    return Err(runtime(format!("no such overload: field selection `.?{field}` on {}", v.type_name())));
                };
                self.optional_field(m, field, p)
            }
            Kind::Index { operand, index } => {
                let (v, p) = self.with_path(operand)?;
                if let Value::Optional(o) = v {
                    let Some(inner) = o else { return Ok((Value::Optional(None), None)) };
                    let i = self.node(index)?;
                    return Ok(match index_value(&inner, &i) {
                        Ok((x, seg)) => {
                            let child = p.as_ref().and_then(|p| seg.map(|s| extend(p, s)));
                            self.read(child.clone());
                            (Value::Optional(Some(Arc::new(x))), child)
                        }
                        Err(_) if matches!(&*inner, Value::Map(_) | Value::List(_) | Value::Null) => {
                            (Value::Optional(None), None)
                        }
                        Err(e) => return Err(e),
                    });
                }
                let i = self.node(index)?;
                let (x, seg) = index_value(&v, &i)?;
                let child = p.as_ref().and_then(|p| seg.map(|s| extend(p, s)));
                self.read(child.clone());
                (x, child)
            }
            Kind::OptIndex { operand, index } => {
                let (v, p) = self.with_path(operand)?;
                let v = match v {
                    Value::Optional(None) => return Ok((Value::Optional(None), None)),
                    Value::Optional(Some(inner)) => (*inner).clone(),
                    v => v,
                };
                let i = self.node(index)?;
                match index_value(&v, &i) {
                    Ok((x, seg)) => {
                        let child = p.as_ref().and_then(|p| seg.map(|s| extend(p, s)));
                        self.read(child.clone());
                        (Value::Optional(Some(Arc::new(x))), child)
                    }
                    Err(_) if matches!(v, Value::Map(_) | Value::List(_) | Value::Null) => {
                        (Value::Optional(None), None)
                    }
                    Err(e) => return Err(e),
                }
            }
            Kind::And(a, b) => (self.logic(a, b, false)?, None),
            Kind::Or(a, b) => (self.logic(a, b, true)?, None),
            Kind::Not(a) => (Value::Bool(!self.boolean(a)?), None),
            Kind::Cond(c, a, b) => {
                if self.boolean(c)? {
                    self.with_path(a)?
                } else {
                    self.with_path(b)?
                }
            }
            Kind::Call { function, args } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.node(a)?);
                }
                ((function.imp)(self, &values)?, None)
            }
            Kind::List { elements, optional } => {
                let mut out = Vec::with_capacity(elements.len());
                for (e, opt) in elements.iter().zip(optional) {
                    let v = self.node(e)?;
                    if *opt {
                        match v {
                            Value::Optional(Some(x)) => out.push((*x).clone()),
                            Value::Optional(None) => {}
                            other => {
                                return Err(runtime(format!(
                                    "optional list element must be an optional, got {}",
                                    other.type_name()
                                )));
                            }
                        }
                    } else {
                        out.push(v);
                    }
                }
                self.charge(out.len() as u64)?;
                (Value::list(out), None)
            }
            Kind::Map { entries } => {
                let mut out = Map::new();
                for (k, v, opt) in entries {
                    let key = self.node(k)?;
                    let key = Key::of(&key)
                        .ok_or_else(|| runtime(format!("unsupported map key type: {}", key.type_name())))?;
                    let value = self.node(v)?;
                    let value = if *opt {
                        match value {
                            Value::Optional(Some(x)) => (*x).clone(),
                            Value::Optional(None) => continue,
                            other => {
                                return Err(runtime(format!(
                                    "optional map entry must be an optional, got {}",
                                    other.type_name()
                                )));
                            }
                        }
                    } else {
                        value
                    };
                    if out.insert(key.clone(), value).is_some() {
                        return Err(runtime(format!("Failed with repeated key: {}", key.to_value())));
                    }
                }
                self.charge(out.len() as u64)?;
                (Value::Map(Arc::new(out)), None)
            }
            Kind::Bind { var, init, body } => {
                let init = self.with_path(init);
                let (init, p) = match init {
                    Ok((v, p)) => (Ok(v), p),
                    Err(e) => (Err(e), None),
                };
                self.scopes.push((var.clone(), init, p));
                let r = self.with_path(body);
                self.scopes.pop();
                r?
            }
            Kind::OptMap { flat, operand, var, body } => {
                let (v, p) = self.with_path(operand)?;
                match v {
                    Value::Optional(None) => (Value::Optional(None), None),
                    Value::Optional(Some(x)) => {
                        self.scopes.push((var.clone(), Ok((*x).clone()), p));
                        let r = self.node(body);
                        self.scopes.pop();
                        let r = r?;
                        if *flat {
                            match r {
                                Value::Optional(_) => (r, None),
                                other => {
                                    return Err(runtime(format!(
                                        "optFlatMap must return an optional, got {}",
                                        other.type_name()
                                    )));
                                }
                            }
                        } else {
                            (Value::Optional(Some(Arc::new(r))), None)
                        }
                    }
                    other => {
                        return Err(runtime(format!("no such overload: optMap on {}", other.type_name())));
                    }
                }
            }
            Kind::Loop { kind, range, var, var2, filter, body } => {
                (self.looped(*kind, range, var, var2.as_ref(), filter.as_deref(), body)?, None)
            }
        })
    }

    /// `m.?field`: an optional of the field, the path of what was read
    /// recorded.
    fn optional_field(&mut self, m: &Map, field: &Arc<str>, p: Option<Path>) -> (Value, Option<Path>) {
        if let Some(x) = m.get(&Key::String(field.clone())) {
            let child = p.as_ref().map(|p| extend(p, PathSeg::Key(field.clone())));
            self.read(child.clone());
            (Value::Optional(Some(Arc::new(x.clone()))), child)
        } else {
            self.read(p);
            (Value::Optional(None), None)
        }
    }

    /// `a && b` (`or` false) or `a || b` (`or` true), as CEL defines them:
    /// commutative, so a decisive operand wins over an error in the other.
    fn logic(&mut self, a: &Node, b: &Node, or: bool) -> Result<Value> {
        let left = self.node(a).and_then(|v| as_bool(&v, if or { "||" } else { "&&" }));
        if left == Ok(or) {
            return Ok(Value::Bool(or));
        }
        let right = self.node(b).and_then(|v| as_bool(&v, if or { "||" } else { "&&" }));
        match (left, right) {
            (_, Ok(r)) if r == or => Ok(Value::Bool(or)),
            (Err(e), _) | (_, Err(e)) => Err(e),
            (Ok(_), Ok(_)) => Ok(Value::Bool(!or)),
        }
    }

    #[allow(clippy::too_many_lines)]
    fn looped(
        &mut self,
        kind: LoopKind,
        range: &Node,
        var: &Arc<str>,
        var2: Option<&Arc<str>>,
        filter: Option<&Node>,
        body: &Node,
    ) -> Result<Value> {
        let (range, path) = self.with_path(range)?;
        // The elements as (first variable, second variable, path of the element).
        let items: Vec<(Value, Option<Value>, Option<Path>)> = match &range {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = path.as_ref().map(|p| extend(p, PathSeg::Index(i)));
                    if var2.is_some() { (Value::Int(i as i64), Some(v.clone()), p) } else { (v.clone(), None, p) }
                })
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| {
                    if var2.is_some() {
                        let p = match (path.as_ref(), k) {
                            (Some(p), Key::String(s)) => Some(extend(p, PathSeg::Key(s.clone()))),
                            _ => None,
                        };
                        (k.to_value(), Some(v.clone()), p)
                    } else {
                        (k.to_value(), None, None)
                    }
                })
                .collect(),
            other => {
                return Err(runtime(format!(
                    "no such overload: a comprehension over {} (expected a list or a map)",
                    other.type_name()
                )));
            }
        };
        let mut error: Option<Error> = None;
        let mut count = 0usize;
        let mut list_out: Vec<Value> = Vec::new();
        let mut map_out = Map::new();
        let mut keyed: Vec<(Value, Value)> = Vec::new();
        let is_map = matches!(range, Value::Map(_));
        for (first, second, p) in items {
            self.charge(1)?;
            let (p1, p2) = if second.is_some() { (None, p) } else { (p, None) };
            self.scopes.push((var.clone(), Ok(first.clone()), p1));
            if let (Some(v2), Some(s)) = (var2, &second) {
                self.scopes.push((v2.clone(), Ok(s.clone()), p2));
            }
            let pushed = if var2.is_some() && second.is_some() { 2 } else { 1 };
            let step = (|| -> Result<Option<bool>> {
                if let Some(f) = filter
                    && !self.boolean(f)?
                {
                    return Ok(None);
                }
                match kind {
                    LoopKind::All | LoopKind::Exists | LoopKind::ExistsOne | LoopKind::Filter => {
                        self.boolean(body).map(Some)
                    }
                    LoopKind::Map => {
                        let v = self.node(body)?;
                        list_out.push(v);
                        self.check_size(list_out.len() * 8)?;
                        Ok(None)
                    }
                    LoopKind::SortBy => {
                        let v = self.node(body)?;
                        keyed.push((first.clone(), v));
                        Ok(None)
                    }
                    LoopKind::TransformMap => {
                        let v = self.node(body)?;
                        let k = Key::of(&first).ok_or_else(|| runtime("unsupported map key"))?;
                        map_out.insert(k, v);
                        Ok(None)
                    }
                    LoopKind::TransformMapEntry => match self.node(body)? {
                        Value::Map(m) => {
                            for (k, v) in m.iter() {
                                if map_out.insert(k.clone(), v.clone()).is_some() {
                                    return Err(runtime(format!("insert failed: key {} already exists", k.to_value())));
                                }
                            }
                            Ok(None)
                        }
                        other => {
                            Err(runtime(format!("transformMapEntry must return a map, got {}", other.type_name())))
                        }
                    },
                }
            })();
            for _ in 0..pushed {
                self.scopes.pop();
            }
            match (kind, step) {
                (_, Err(e @ Error::Budget(_))) => return Err(e),
                (LoopKind::All, Ok(Some(false))) => return Ok(Value::Bool(false)),
                (LoopKind::Exists, Ok(Some(true))) => return Ok(Value::Bool(true)),
                (LoopKind::All | LoopKind::Exists, Err(e)) => {
                    error.get_or_insert(e);
                }
                (LoopKind::ExistsOne, Ok(Some(true))) => count += 1,
                (LoopKind::Filter, Ok(Some(true))) => {
                    let element = if is_map { first } else { second.unwrap_or(first) };
                    list_out.push(element);
                }
                (_, Err(e)) => return Err(e),
                _ => {}
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        Ok(match kind {
            LoopKind::All => Value::Bool(true),
            LoopKind::Exists => Value::Bool(false),
            LoopKind::ExistsOne => Value::Bool(count == 1),
            LoopKind::Map | LoopKind::Filter => Value::list(list_out),
            LoopKind::TransformMap | LoopKind::TransformMapEntry => Value::Map(Arc::new(map_out)),
            LoopKind::SortBy => {
                let mut failed = None;
                keyed.sort_by(|a, b| {
                    crate::value::compare(&a.1, &b.1).unwrap_or_else(|| {
                        failed = Some(runtime("sortBy keys must be comparable"));
                        std::cmp::Ordering::Equal
                    })
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                self.charge(keyed.len() as u64)?;
                Value::list(keyed.into_iter().map(|(v, _)| v).collect())
            }
        })
    }
}

fn as_bool(v: &Value, op: &str) -> Result<bool> {
    v.as_bool().ok_or_else(|| runtime(format!("no such overload: {} {op} ...", v.type_name())))
}

fn extend(p: &Path, seg: PathSeg) -> Path {
    let mut p = p.clone();
    p.push(seg);
    p
}

/// `v[i]` and the path step it takes.
pub(crate) fn index_value(v: &Value, i: &Value) -> Result<(Value, Option<PathSeg>)> {
    match v {
        Value::List(l) => {
            let idx = match i {
                Value::Int(n) => *n,
                Value::Uint(n) => i64::try_from(*n).unwrap_or(i64::MAX),
                Value::Double(d) if d.fract() == 0.0 => *d as i64,
                other => return Err(runtime(format!("no such overload: list index of type {}", other.type_name()))),
            };
            let Ok(u) = usize::try_from(idx) else {
                return Err(runtime(format!("index out of bounds: {idx}")));
            };
            l.get(u)
                .map(|x| (x.clone(), Some(PathSeg::Index(u))))
                .ok_or_else(|| runtime(format!("index out of bounds: {idx}")))
        }
        Value::Map(m) => {
            let k = Key::of(i).ok_or_else(|| runtime(format!("unsupported map key type: {}", i.type_name())))?;
            let seg = match &k {
                Key::String(s) => Some(PathSeg::Key(s.clone())),
                _ => None,
            };
            m.get(&k).map(|x| (x.clone(), seg)).ok_or_else(|| runtime(format!("no such key: {i}")))
        }
        other => Err(runtime(format!("no such overload: index of {}", other.type_name()))),
    }
}
