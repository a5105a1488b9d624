//! Compiling CEL: cel's parser gives the syntax tree (macros left as
//! calls), and this module lowers it into tollgate's program form, checking
//! as cel-go's checker does that every function and identifier is declared:
//! - macros (`has`, `all`, `exists`, `exists_one`, `map`, `filter`, their
//!   two-variable forms, `transformList`/`transformMap`/`transformMapEntry`,
//!   `cel.bind`, `optMap`/`optFlatMap`, `sortBy`) become native loops, so a
//!   `map` appends in place instead of copying its accumulator at each step;
//! - namespaced functions (`strings.quote`, `math.greatest`) are told apart
//!   from member calls on variables (`object.size()`);
//! - each function call is resolved to its implementation once.

use std::collections::HashSet;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};

use crate::functions::{self, Function};
use crate::value::Value;

/// A compile error at a place in the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct CompileError {
    /// 1-based line in the expression.
    pub line: u32,
    /// 1-based column in the expression.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// A compiled expression, evaluated with [`crate::Session::eval`].
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) root: Node,
    source: Arc<str>,
}

impl Program {
    /// The expression's source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The one path of `root` this program reads, when its whole value is
    /// such a path (`object.spec.containers`): how a variable passes on
    /// where its value came from.
    pub(crate) fn path_of(&self, root: &str) -> Option<Vec<crate::PathSeg>> {
        fn walk(n: &Node, root: &str) -> Option<Vec<crate::PathSeg>> {
            match &n.kind {
                Kind::Var(name) if &**name == root => Some(Vec::new()),
                Kind::Select { operand, field, test: false } => {
                    let mut p = walk(operand, root)?;
                    p.push(crate::PathSeg::Key(field.clone()));
                    Some(p)
                }
                _ => None,
            }
        }
        walk(&self.root, root)
    }
}

/// A node of a compiled program.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
}

/// What kind of loop a macro lowered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoopKind {
    All,
    Exists,
    ExistsOne,
    /// `map`, `transformList`: a list of the body's values.
    Map,
    /// `filter`: the elements for which the body is true.
    Filter,
    /// `transformMap`: a map from each key to the body's value.
    TransformMap,
    /// `transformMapEntry`: the union of the maps the body returns.
    TransformMapEntry,
    /// `sortBy`: the elements sorted by the body's value.
    SortBy,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Const(Value),
    Var(Arc<str>),
    Select {
        operand: Box<Node>,
        field: Arc<str>,
        test: bool,
    },
    OptSelect {
        operand: Box<Node>,
        field: Arc<str>,
    },
    Index {
        operand: Box<Node>,
        index: Box<Node>,
    },
    OptIndex {
        operand: Box<Node>,
        index: Box<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Call {
        function: &'static Function,
        args: Vec<Node>,
    },
    List {
        elements: Vec<Node>,
        optional: Vec<bool>,
    },
    Map {
        entries: Vec<(Node, Node, bool)>,
    },
    Loop {
        kind: LoopKind,
        range: Box<Node>,
        var: Arc<str>,
        var2: Option<Arc<str>>,
        filter: Option<Box<Node>>,
        body: Box<Node>,
    },
    Bind {
        var: Arc<str>,
        init: Box<Node>,
        body: Box<Node>,
    },
    OptMap {
        flat: bool,
        operand: Box<Node>,
        var: Arc<str>,
        body: Box<Node>,
    },
}

/// Namespaces of global functions (`strings.quote`): a call on one of these
/// names, when it is not a declared variable, is a global call.
const NAMESPACES: &[&str] = &[
    "strings",
    "math",
    "sets",
    "lists",
    "base64",
    "optional",
    "time",
    "hash",
    "user",
    "transform",
    "random",
    "format",
    "ip",
];

/// Compiles `source` for an environment with the `declared` variables.
pub fn compile(source: &str, declared: &[&str]) -> Result<Program, CompileError> {
    thread_local! {
        static ENV: cel::Env = cel::Env::default().with_optional_support(true);
    }
    if source.len() > 100_000 {
        return Err(CompileError { line: 1, column: 1, message: "the expression is longer than 100,000 bytes".into() });
    }
    let parsed = ENV.with(|env| env.parser().parse_with_source_info(source));
    let (expr, info) = match parsed {
        Ok(p) => p,
        Err(errors) => {
            let first = errors.errors.first();
            return Err(CompileError {
                line: first.map_or(1, |e| e.pos.0.max(1) as u32),
                column: first.map_or(1, |e| e.pos.1.max(1) as u32),
                message: first.map_or_else(|| "cannot parse the expression".into(), |e| e.msg.clone()),
            });
        }
    };
    let mut c = Compiler {
        declared: declared.iter().map(|s| (*s).to_string()).collect(),
        scopes: Vec::new(),
        info: &info,
        source,
    };
    let root = c.lower(&expr)?;
    Ok(Program { root, source: Arc::from(source) })
}

struct Compiler<'a> {
    declared: HashSet<String>,
    scopes: Vec<String>,
    info: &'a cel::common::ast::SourceInfo,
    source: &'a str,
}

impl Compiler<'_> {
    fn offset(&self, e: &IdedExpr) -> u32 {
        self.info.offset_for(e.id).map_or(0, |(start, _)| start)
    }

    fn error(&self, e: &IdedExpr, message: impl Into<String>) -> CompileError {
        self.error_at(self.offset(e) as usize, message)
    }

    /// An error at the name of the function a call node calls: the
    /// parser places a member call at its `(`.
    fn error_at_name(&self, e: &IdedExpr, name: &str, message: impl Into<String>) -> CompileError {
        let at = self.offset(e) as usize;
        let named = self.source.chars().nth(at) == Some('(') && at >= name.chars().count();
        self.error_at(if named { at - name.chars().count() } else { at }, message)
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> CompileError {
        let (mut line, mut column) = (1u32, 1u32);
        for ch in self.source.chars().take(offset) {
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        CompileError { line, column, message: message.into() }
    }

    fn bound(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s == name) || self.declared.contains(name)
    }

    fn var_arg(&self, call: &IdedExpr, e: &IdedExpr) -> Result<Arc<str>, CompileError> {
        ident(e).map(Arc::from).ok_or_else(|| self.error(call, "argument must be a simple name"))
    }

    fn boxed(&mut self, e: &IdedExpr) -> Result<Box<Node>, CompileError> {
        Ok(Box::new(self.lower(e)?))
    }

    fn with_vars<T>(
        &mut self,
        vars: &[&Arc<str>],
        f: impl FnOnce(&mut Self) -> Result<T, CompileError>,
    ) -> Result<T, CompileError> {
        let n = self.scopes.len();
        self.scopes.extend(vars.iter().map(|v| (*v).to_string()));
        let r = f(self);
        self.scopes.truncate(n);
        r
    }

    #[allow(clippy::too_many_lines)]
    fn lower(&mut self, e: &IdedExpr) -> Result<Node, CompileError> {
        Ok(match &e.expr {
            Expr::Literal(l) => mk(Kind::Const(match l {
                LiteralValue::Boolean(b) => Value::Bool(*b.inner()),
                LiteralValue::Bytes(b) => Value::Bytes(Arc::from(b.inner())),
                LiteralValue::Double(d) => Value::Double(*d.inner()),
                LiteralValue::Int(i) => Value::Int(*i.inner()),
                LiteralValue::Null => Value::Null,
                LiteralValue::String(s) => Value::str(s.inner()),
                LiteralValue::UInt(u) => Value::Uint(*u.inner()),
            })),
            Expr::Ident(name) => {
                if self.bound(name) {
                    mk(Kind::Var(Arc::from(name.as_str())))
                } else if let Some(t) = type_named(name) {
                    mk(Kind::Const(Value::Type(Arc::from(t))))
                } else {
                    return Err(self.error(e, format!("undeclared reference to '{name}'")));
                }
            }
            Expr::Select(s) => {
                let operand = self.boxed(&s.operand)?;
                mk(Kind::Select { operand, field: Arc::from(s.field.as_str()), test: s.test })
            }
            Expr::List(l) => {
                let elements = l.elements.iter().map(|x| self.lower(x)).collect::<Result<Vec<_>, _>>()?;
                let optional = (0..elements.len()).map(|i| l.optional_indices.contains(&i)).collect();
                mk(Kind::List { elements, optional })
            }
            Expr::Map(m) => {
                let mut entries = Vec::new();
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(me) => {
                            entries.push((self.lower(&me.key)?, self.lower(&me.value)?, me.optional));
                        }
                        EntryExpr::StructField(_) => return Err(self.error(e, "message fields are not supported")),
                    }
                }
                mk(Kind::Map { entries })
            }
            Expr::Struct(s) => {
                return Err(self.error(e, format!("message construction `{}{{...}}` is not supported", s.type_name)));
            }
            Expr::Comprehension(_) | Expr::Unspecified => return Err(self.error(e, "unexpected expression")),
            Expr::Call(call) => self.call(e, call)?,
        })
    }

    #[allow(clippy::too_many_lines)]
    fn call(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> Result<Node, CompileError> {
        use cel::common::ast::operators as op;
        let name = call.func_name.as_str();
        let args = &call.args;
        let target = call.target.as_deref();
        // Operators and short-circuits.
        if target.is_none() {
            match (name, args.len()) {
                (op::LOGICAL_AND, 2) => {
                    return Ok(mk(Kind::And(self.boxed(&args[0])?, self.boxed(&args[1])?)));
                }
                (op::LOGICAL_OR, 2) => {
                    return Ok(mk(Kind::Or(self.boxed(&args[0])?, self.boxed(&args[1])?)));
                }
                (op::LOGICAL_NOT, 1) => return Ok(mk(Kind::Not(self.boxed(&args[0])?))),
                (op::CONDITIONAL, 3) => {
                    return Ok(mk(Kind::Cond(self.boxed(&args[0])?, self.boxed(&args[1])?, self.boxed(&args[2])?)));
                }
                (op::INDEX, 2) => {
                    return Ok(mk(Kind::Index { operand: self.boxed(&args[0])?, index: self.boxed(&args[1])? }));
                }
                (op::OPT_INDEX, 2) => {
                    return Ok(mk(Kind::OptIndex { operand: self.boxed(&args[0])?, index: self.boxed(&args[1])? }));
                }
                (op::OPT_SELECT, 2) => {
                    let Expr::Literal(LiteralValue::String(field)) = &args[1].expr else {
                        return Err(self.error(e, "optional selection needs a field name"));
                    };
                    return Ok(mk(Kind::OptSelect { operand: self.boxed(&args[0])?, field: Arc::from(field.inner()) }));
                }
                (op::HAS, 1) => {
                    let Expr::Select(s) = &args[0].expr else {
                        return Err(self.error(e, "invalid argument to has() macro"));
                    };
                    let operand = self.boxed(&s.operand)?;
                    return Ok(mk(Kind::Select { operand, field: Arc::from(s.field.as_str()), test: true }));
                }
                _ => {}
            }
        }
        // Macros on a target.
        if let Some(t) = target {
            let loop_kind = match (name, args.len()) {
                ("all", 2 | 3) => Some(LoopKind::All),
                ("exists", 2 | 3) => Some(LoopKind::Exists),
                ("exists_one" | "existsOne", 2 | 3) => Some(LoopKind::ExistsOne),
                ("map", 2 | 3) | ("transformList", 3 | 4) => Some(LoopKind::Map),
                ("filter", 2) => Some(LoopKind::Filter),
                ("transformMap", 3 | 4) => Some(LoopKind::TransformMap),
                ("transformMapEntry", 3 | 4) => Some(LoopKind::TransformMapEntry),
                ("sortBy", 2) => Some(LoopKind::SortBy),
                _ => None,
            };
            if let Some(kind) = loop_kind
                && ident(&args[0]).is_some()
            {
                let two_vars = matches!(
                    (name, args.len()),
                    ("all" | "exists" | "exists_one" | "existsOne", 3)
                        | ("transformList" | "transformMap" | "transformMapEntry", 3 | 4)
                );
                let range = self.boxed(t)?;
                let var = self.var_arg(e, &args[0])?;
                let var2 = if two_vars { Some(self.var_arg(e, &args[1])?) } else { None };
                let rest = &args[if two_vars { 2 } else { 1 }..];
                let mut vars = vec![&var];
                if let Some(v) = &var2 {
                    vars.push(v);
                }
                let (filter, body) = self.with_vars(&vars, |c| {
                    if rest.len() == 2 {
                        Ok((Some(c.boxed(&rest[0])?), c.boxed(&rest[1])?))
                    } else {
                        Ok((None, c.boxed(&rest[0])?))
                    }
                })?;
                return Ok(mk(Kind::Loop { kind, range, var, var2, filter, body }));
            }
            if matches!(name, "optMap" | "optFlatMap") && args.len() == 2 && ident(&args[0]).is_some() {
                let operand = self.boxed(t)?;
                let var = self.var_arg(e, &args[0])?;
                let body = self.with_vars(&[&var], |c| c.boxed(&args[1]))?;
                return Ok(mk(Kind::OptMap { flat: name == "optFlatMap", operand, var, body }));
            }
            if name == "bind" && args.len() == 3 && ident(t) == Some("cel") && !self.bound("cel") {
                let var = self.var_arg(e, &args[0])?;
                let init = self.boxed(&args[1])?;
                let body = self.with_vars(&[&var], |c| c.boxed(&args[2]))?;
                return Ok(mk(Kind::Bind { var, init, body }));
            }
        }
        // A namespaced global function?
        if let Some(t) = target
            && let Some(ns) = ident(t)
            && !self.bound(ns)
            && NAMESPACES.contains(&ns)
        {
            let full = format!("{ns}.{name}");
            let Some(function) = functions::global(&full, args.len()) else {
                return Err(self.error(e, format!("undeclared reference to '{full}' with {} arguments", args.len())));
            };
            let args = args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>()?;
            return Ok(mk(Kind::Call { function, args }));
        }
        let function = match target {
            Some(_) => functions::member(name, args.len() + 1),
            None => functions::global(name, args.len()),
        };
        let Some(function) = function else {
            let style = if target.is_some() { "member function" } else { "function" };
            return Err(self.error_at_name(
                e,
                name,
                format!("undeclared reference to {style} '{name}' with {} arguments", args.len()),
            ));
        };
        let mut lowered = Vec::with_capacity(args.len() + 1);
        if let Some(t) = target {
            lowered.push(self.lower(t)?);
        }
        for a in args {
            lowered.push(self.lower(a)?);
        }
        Ok(mk(Kind::Call { function, args: lowered }))
    }
}

fn ident(e: &IdedExpr) -> Option<&str> {
    match &e.expr {
        Expr::Ident(name) => Some(name),
        _ => None,
    }
}

fn mk(kind: Kind) -> Node {
    Node { kind }
}

/// The type an identifier names (`int`, `string`, ...), if any.
fn type_named(name: &str) -> Option<&'static str> {
    Some(match name {
        "int" => "int",
        "uint" => "uint",
        "double" => "double",
        "bool" => "bool",
        "string" => "string",
        "bytes" => "bytes",
        "list" => "list",
        "map" => "map",
        "null_type" => "null_type",
        "type" => "type",
        "dyn" => "dyn",
        "optional_type" => "optional_type",
        "google.protobuf.Duration" => "google.protobuf.Duration",
        "google.protobuf.Timestamp" => "google.protobuf.Timestamp",
        _ => return None,
    })
}
