//! A JMESPath interpreter with Kyverno's dialect.
//!
//! Written here rather than taken from a crate because Kyverno's evaluator is
//! a fork (`kyverno/go-jmespath`) whose differences decide verdicts: a field
//! missing from an object is a *not found* error (which `||`, comparisons,
//! projections and function arguments turn into `null`, but a whole query
//! reports), every number is a float, and Kyverno registers its own functions
//! (`regex_match`, `to_upper`, `parse_yaml`, `divide`, ...). The grammar is the
//! JMESPath specification's, parsed by precedence climbing with the
//! specification's binding powers.

use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Number, Value};

pub use crate::functions::Func;

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JpError {
    /// A field is missing from an object (Kyverno's `Unknown key "x" in path`).
    #[error("Unknown key \"{0}\" in path")]
    NotFound(String),
    /// The expression does not parse.
    #[error("invalid JMESPath expression `{expr}`: {error}")]
    Syntax {
        /// The expression (its first 200 characters).
        expr: String,
        /// What is wrong.
        error: SyntaxError,
    },
    /// A function was called wrongly or failed.
    #[error("{0}")]
    Function(String),
}

impl JpError {
    fn is_not_found(&self) -> bool {
        matches!(self, JpError::NotFound(_))
    }
}

/// Why an expression does not parse (tokens are shown as the parser
/// names them).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// A character no token starts with.
    #[error("unexpected character `{found}` at {at}")]
    Character {
        /// The character.
        found: char,
        /// Its index (in characters).
        at: usize,
    },
    /// A lone `=` (JMESPath compares with `==`).
    #[error("unexpected `=` at {0} (use `==`)")]
    SingleEquals(usize),
    /// A quoted identifier, raw string or JSON literal left open.
    #[error("unterminated {0}")]
    Unterminated(&'static str),
    /// A quoted identifier that is not a JSON string.
    #[error("bad quoted identifier {raw}: {message}")]
    QuotedIdentifier {
        /// The identifier as written.
        raw: String,
        /// Why JSON refuses it.
        message: String,
    },
    /// A number that is not a 64-bit integer.
    #[error("bad number `{0}`")]
    Number(String),
    /// More tokens than tollgate evaluates.
    #[error("the expression has more than {MAX_TOKENS} tokens; tollgate refuses it")]
    TooManyTokens,
    /// Deeper nesting than tollgate evaluates.
    #[error("the expression nests deeper than {MAX_DEPTH} levels; tollgate refuses it")]
    TooDeep,
    /// A token where none of its kind may stand; `context` says where
    /// (empty, or ` after a projection`, ` after `.``).
    #[error("unexpected token {found}{context}")]
    Token {
        /// The token.
        found: String,
        /// Where.
        context: &'static str,
    },
    /// A token that cannot start or continue an index (`[...]`).
    #[error("unexpected {0} in an index")]
    InIndex(String),
    /// Another token than the one the grammar needs here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What the grammar needs.
        expected: String,
        /// The token found.
        found: String,
    },
    /// `"name"(...)`.
    #[error("quoted identifier cannot be a function name")]
    QuotedFunctionName,
    /// `a.b(...)`, `[0](...)`.
    #[error("only a name can be called")]
    CallOnNonName,
    /// `[::1:]`.
    #[error("too many `:` in a slice")]
    SliceColons,
    /// `[::0]`.
    #[error("slice step cannot be 0")]
    SliceStepZero,
    /// `[]` where an index must be (`a[]` is a flatten, `[]` alone too).
    #[error("empty index")]
    EmptyIndex,
}

impl SyntaxError {
    fn token(found: &Tok, context: &'static str) -> SyntaxError {
        SyntaxError::Token { found: format!("{found:?}"), context }
    }

    fn expected(expected: impl Into<String>, found: &Tok) -> SyntaxError {
        SyntaxError::Expected { expected: expected.into(), found: format!("{found:?}") }
    }
}

type JpResult = Result<Value, JpError>;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// `@`, and the implicit left side of projections.
    Current,
    /// `foo`.
    Field(String),
    /// `[0]`.
    Index(i64),
    /// `[a:b:c]`.
    Slice(Option<i64>, Option<i64>, Option<i64>),
    /// `a.b`, `a[0]`: the right side evaluated on the left's value.
    Sub(Box<Ast>, Box<Ast>),
    /// `a[*].b`, `a[].b`, slices: the right side on every element.
    Projection(Box<Ast>, Box<Ast>),
    /// `a.*.b`: the right side on every value of an object.
    ValueProjection(Box<Ast>, Box<Ast>),
    /// `a[?cond].b`.
    Filter(Box<Ast>, Box<Ast>, Box<Ast>),
    /// `a[]`.
    Flatten(Box<Ast>),
    /// `a || b`.
    Or(Box<Ast>, Box<Ast>),
    /// `a && b`.
    And(Box<Ast>, Box<Ast>),
    /// `!a`.
    Not(Box<Ast>),
    /// `a == b` and the other comparators.
    Compare(Cmp, Box<Ast>, Box<Ast>),
    /// `a | b`.
    Pipe(Box<Ast>, Box<Ast>),
    /// `[a, b]`.
    List(Vec<Ast>),
    /// `{k: a}`.
    Hash(Vec<(String, Ast)>),
    /// `` `json` `` and `'raw'`.
    Literal(Value),
    /// `f(a, b)`: the function, resolved when parsed, and its arguments.
    Call(Callee, Vec<Ast>),
    /// `&expr`.
    ExpRef(Box<Ast>),
}

/// The function a call names, resolved when the expression is parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Callee {
    /// A function Kyverno has.
    Known(Func),
    /// No function has this name: an error when the call is evaluated (not
    /// when parsed), as in Kyverno.
    Unknown(Box<str>),
}

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Quoted(String),
    Number(i64),
    Literal(Value),
    Dot,
    Star,
    Flatten,
    Filter,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(Cmp),
    At,
    Amp,
    Eof,
}

fn bp(t: &Tok) -> u8 {
    match t {
        Tok::Pipe => 1,
        Tok::Or => 2,
        Tok::And => 3,
        Tok::Cmp(_) => 5,
        Tok::Flatten => 9,
        Tok::Star => 20,
        Tok::Filter => 21,
        Tok::Dot => 40,
        Tok::Not => 45,
        Tok::LBrace => 50,
        Tok::LBracket => 55,
        Tok::LParen => 60,
        _ => 0,
    }
}

fn lex(expr: &str) -> Result<Vec<Tok>, SyntaxError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let single = match c {
            '.' => Some(Tok::Dot),
            '*' => Some(Tok::Star),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ']' => Some(Tok::RBracket),
            '@' => Some(Tok::At),
            _ => None,
        };
        if let Some(t) = single {
            out.push(t);
            i += 1;
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '[' => {
                if chars.get(i + 1) == Some(&']') {
                    out.push(Tok::Flatten);
                    i += 2;
                } else if chars.get(i + 1) == Some(&'?') {
                    out.push(Tok::Filter);
                    i += 2;
                } else {
                    out.push(Tok::LBracket);
                    i += 1;
                }
            }
            '|' => {
                if chars.get(i + 1) == Some(&'|') {
                    out.push(Tok::Or);
                    i += 2;
                } else {
                    out.push(Tok::Pipe);
                    i += 1;
                }
            }
            '&' => {
                if chars.get(i + 1) == Some(&'&') {
                    out.push(Tok::And);
                    i += 2;
                } else {
                    out.push(Tok::Amp);
                    i += 1;
                }
            }
            '!' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Cmp(Cmp::Ne));
                    i += 2;
                } else {
                    out.push(Tok::Not);
                    i += 1;
                }
            }
            '=' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Cmp(Cmp::Eq));
                    i += 2;
                } else {
                    return Err(SyntaxError::SingleEquals(i));
                }
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Cmp(match (c, eq) {
                    ('<', true) => Cmp::Le,
                    ('<', false) => Cmp::Lt,
                    (_, true) => Cmp::Ge,
                    _ => Cmp::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(SyntaxError::Unterminated("quoted identifier"));
                }
                let raw: String = chars[start..=i].iter().collect();
                let s: String = serde_json::from_str(&raw)
                    .map_err(|e| SyntaxError::QuotedIdentifier { raw: raw.clone(), message: e.to_string() })?;
                out.push(Tok::Quoted(s));
                i += 1;
            }
            '\'' => {
                i += 1;
                let mut s = String::new();
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' && chars.get(i + 1) == Some(&'\'') {
                        s.push('\'');
                        i += 2;
                    } else {
                        s.push(chars[i]);
                        i += 1;
                    }
                }
                if i >= chars.len() {
                    return Err(SyntaxError::Unterminated("raw string literal"));
                }
                i += 1;
                out.push(Tok::Literal(Value::String(s)));
            }
            '`' => {
                i += 1;
                let mut s = String::new();
                while i < chars.len() && chars[i] != '`' {
                    if chars[i] == '\\' && chars.get(i + 1) == Some(&'`') {
                        s.push('`');
                        i += 2;
                    } else {
                        s.push(chars[i]);
                        i += 1;
                    }
                }
                if i >= chars.len() {
                    return Err(SyntaxError::Unterminated("JSON literal"));
                }
                i += 1;
                let v = match serde_json::from_str::<Value>(s.trim()) {
                    Ok(v) => v,
                    // The specification's legacy form: an unquoted string.
                    Err(_) => Value::String(s.trim().to_string()),
                };
                out.push(Tok::Literal(v));
            }
            '-' | '0'..='9' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let s: String = chars[start..i].iter().collect();
                let n = s.parse::<i64>().map_err(|_| SyntaxError::Number(s.clone()))?;
                out.push(Tok::Number(n));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(SyntaxError::Character { found: other, at: i }),
        }
    }
    out.push(Tok::Eof);
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Most tokens in one expression: the syntax tree (and so the recursion of
/// its evaluation) can never be deeper than its tokens.
const MAX_TOKENS: usize = 2048;
/// Deepest nesting of sub-expressions the parser enters.
const MAX_DEPTH: usize = 128;

/// Parses a JMESPath expression.
pub fn parse(expr: &str) -> Result<Ast, JpError> {
    let err = |error: SyntaxError| JpError::Syntax { expr: expr.chars().take(200).collect(), error };
    let toks = lex(expr).map_err(err)?;
    if toks.len() > MAX_TOKENS {
        return Err(err(SyntaxError::TooManyTokens));
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let ast = p.expr(0).map_err(err)?;
    if p.peek() != &Tok::Eof {
        return Err(err(SyntaxError::token(p.peek(), "")));
    }
    Ok(ast)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }
    fn peek2(&self) -> &Tok {
        self.toks.get(self.pos + 1).unwrap_or(&Tok::Eof)
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn expect(&mut self, t: &Tok) -> Result<(), SyntaxError> {
        if self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(SyntaxError::expected(format!("{t:?}"), self.peek()))
        }
    }

    fn expr(&mut self, rbp: u8) -> Result<Ast, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError::TooDeep);
        }
        let t = self.next();
        let mut left = self.nud(t)?;
        while rbp < bp(self.peek()) {
            let t = self.next();
            left = self.led(t, left)?;
        }
        self.depth -= 1;
        Ok(left)
    }

    fn nud(&mut self, t: Tok) -> Result<Ast, SyntaxError> {
        Ok(match t {
            Tok::Literal(v) => Ast::Literal(v),
            Tok::Ident(s) => Ast::Field(s),
            Tok::Quoted(s) => {
                if self.peek() == &Tok::LParen {
                    return Err(SyntaxError::QuotedFunctionName);
                }
                Ast::Field(s)
            }
            Tok::Star => {
                let right =
                    if self.peek() == &Tok::RBracket { Ast::Current } else { self.projection_rhs(bp(&Tok::Star))? };
                Ast::ValueProjection(Box::new(Ast::Current), Box::new(right))
            }
            Tok::Filter => self.led_filter(Ast::Current)?,
            Tok::LBrace => self.hash()?,
            Tok::LParen => {
                let e = self.expr(0)?;
                self.expect(&Tok::RParen)?;
                e
            }
            Tok::Flatten => {
                let left = Ast::Flatten(Box::new(Ast::Current));
                let right = self.projection_rhs(bp(&Tok::Flatten))?;
                Ast::Projection(Box::new(left), Box::new(right))
            }
            Tok::Not => Ast::Not(Box::new(self.expr(bp(&Tok::Not))?)),
            Tok::LBracket => match (self.peek(), self.peek2()) {
                (Tok::Number(_) | Tok::Colon, _) => {
                    let right = self.index_expr()?;
                    self.project_if_slice(Ast::Current, right)?
                }
                (Tok::Star, Tok::RBracket) => {
                    self.next();
                    self.next();
                    let right = self.projection_rhs(bp(&Tok::Star))?;
                    Ast::Projection(Box::new(Ast::Current), Box::new(right))
                }
                _ => self.list()?,
            },
            Tok::At => Ast::Current,
            Tok::Amp => Ast::ExpRef(Box::new(self.expr(0)?)),
            Tok::Number(n) => Ast::Literal(Value::from(n)),
            other => return Err(SyntaxError::token(&other, "")),
        })
    }

    fn led(&mut self, t: Tok, left: Ast) -> Result<Ast, SyntaxError> {
        Ok(match t {
            Tok::Dot => {
                if self.peek() == &Tok::Star {
                    self.next();
                    let right = self.projection_rhs(bp(&Tok::Dot))?;
                    Ast::ValueProjection(Box::new(left), Box::new(right))
                } else {
                    let right = self.dot_rhs(bp(&Tok::Dot))?;
                    Ast::Sub(Box::new(left), Box::new(right))
                }
            }
            Tok::Pipe => Ast::Pipe(Box::new(left), Box::new(self.expr(bp(&Tok::Pipe))?)),
            Tok::Or => Ast::Or(Box::new(left), Box::new(self.expr(bp(&Tok::Or))?)),
            Tok::And => Ast::And(Box::new(left), Box::new(self.expr(bp(&Tok::And))?)),
            Tok::Cmp(c) => Ast::Compare(c, Box::new(left), Box::new(self.expr(bp(&Tok::Cmp(c)))?)),
            Tok::LParen => {
                let Ast::Field(name) = left else { return Err(SyntaxError::CallOnNonName) };
                let mut args = Vec::new();
                while self.peek() != &Tok::RParen {
                    args.push(self.expr(0)?);
                    if self.peek() == &Tok::Comma {
                        self.next();
                    } else if self.peek() != &Tok::RParen {
                        return Err(SyntaxError::expected("`,` or `)`", self.peek()));
                    }
                }
                self.next();
                Ast::Call(Func::from_name(&name).map_or_else(|| Callee::Unknown(name.into()), Callee::Known), args)
            }
            Tok::Filter => self.led_filter(left)?,
            Tok::Flatten => {
                let l = Ast::Flatten(Box::new(left));
                let right = self.projection_rhs(bp(&Tok::Flatten))?;
                Ast::Projection(Box::new(l), Box::new(right))
            }
            Tok::LBracket => match self.peek() {
                Tok::Number(_) | Tok::Colon => {
                    let right = self.index_expr()?;
                    self.project_if_slice(left, right)?
                }
                _ => {
                    self.expect(&Tok::Star)?;
                    self.expect(&Tok::RBracket)?;
                    let right = self.projection_rhs(bp(&Tok::Star))?;
                    Ast::Projection(Box::new(left), Box::new(right))
                }
            },
            other => return Err(SyntaxError::token(&other, "")),
        })
    }

    fn led_filter(&mut self, left: Ast) -> Result<Ast, SyntaxError> {
        let cond = self.expr(0)?;
        self.expect(&Tok::RBracket)?;
        let right = if self.peek() == &Tok::Flatten { Ast::Current } else { self.projection_rhs(bp(&Tok::Filter))? };
        Ok(Ast::Filter(Box::new(left), Box::new(right), Box::new(cond)))
    }

    fn projection_rhs(&mut self, rbp: u8) -> Result<Ast, SyntaxError> {
        let t = self.peek().clone();
        if bp(&t) < 10 {
            Ok(Ast::Current)
        } else if matches!(t, Tok::LBracket | Tok::Filter) {
            self.expr(rbp)
        } else if t == Tok::Dot {
            self.next();
            self.dot_rhs(rbp)
        } else {
            Err(SyntaxError::token(&t, " after a projection"))
        }
    }

    fn dot_rhs(&mut self, rbp: u8) -> Result<Ast, SyntaxError> {
        match self.peek() {
            Tok::Ident(_) | Tok::Quoted(_) | Tok::Star => self.expr(rbp),
            Tok::LBracket => {
                self.next();
                self.list()
            }
            Tok::LBrace => {
                self.next();
                self.hash()
            }
            other => Err(SyntaxError::token(other, " after `.`")),
        }
    }

    fn project_if_slice(&mut self, left: Ast, right: Ast) -> Result<Ast, SyntaxError> {
        if matches!(right, Ast::Slice(..)) {
            let rhs = self.projection_rhs(bp(&Tok::Star))?;
            Ok(Ast::Projection(Box::new(Ast::Sub(Box::new(left), Box::new(right))), Box::new(rhs)))
        } else {
            Ok(Ast::Sub(Box::new(left), Box::new(right)))
        }
    }

    fn index_expr(&mut self) -> Result<Ast, SyntaxError> {
        let mut parts: [Option<i64>; 3] = [None, None, None];
        let mut idx = 0;
        let mut is_slice = false;
        loop {
            match self.next() {
                Tok::Number(n) => parts[idx] = Some(n),
                Tok::Colon => {
                    is_slice = true;
                    idx += 1;
                    if idx > 2 {
                        return Err(SyntaxError::SliceColons);
                    }
                }
                Tok::RBracket => break,
                other => return Err(SyntaxError::InIndex(format!("{other:?}"))),
            }
        }
        if is_slice {
            if parts[2] == Some(0) {
                return Err(SyntaxError::SliceStepZero);
            }
            Ok(Ast::Slice(parts[0], parts[1], parts[2]))
        } else {
            Ok(Ast::Index(parts[0].ok_or(SyntaxError::EmptyIndex)?))
        }
    }

    fn list(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = Vec::new();
        loop {
            items.push(self.expr(0)?);
            match self.next() {
                Tok::Comma => {}
                Tok::RBracket => break,
                other => return Err(SyntaxError::expected("`,` or `]`", &other)),
            }
        }
        Ok(Ast::List(items))
    }

    fn hash(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = Vec::new();
        loop {
            let key = match self.next() {
                Tok::Ident(s) | Tok::Quoted(s) => s,
                other => return Err(SyntaxError::expected("a key", &other)),
            };
            self.expect(&Tok::Colon)?;
            items.push((key, self.expr(0)?));
            match self.next() {
                Tok::Comma => {}
                Tok::RBrace => break,
                other => return Err(SyntaxError::expected("`,` or `}`", &other)),
            }
        }
        Ok(Ast::Hash(items))
    }
}

/// JMESPath truthiness.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

fn ok_or_null(r: Result<Cow<'_, Value>, JpError>) -> Result<Cow<'_, Value>, JpError> {
    match r {
        Err(e) if e.is_not_found() => Ok(Cow::Owned(Value::Null)),
        other => other,
    }
}

/// A float, as every number in Kyverno's JMESPath is.
pub fn num(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// What an expression is evaluated on: a value, or the root of an
/// evaluation context made of variables set on top of a shared base (so a
/// context never copies the resource it holds).
#[derive(Debug, Clone, Copy)]
pub enum Data<'a> {
    /// A plain value.
    Value(&'a Value),
    /// Top-level variables, looked up in `overlay` first, then in `base`.
    Layers(&'a Map<String, Value>, &'a Value),
}

impl<'a> Data<'a> {
    fn field(self, key: &str) -> Result<Cow<'a, Value>, JpError> {
        match self {
            Data::Value(Value::Object(m)) => {
                m.get(key).map(Cow::Borrowed).ok_or_else(|| JpError::NotFound(key.to_string()))
            }
            Data::Value(_) => Ok(Cow::Owned(Value::Null)),
            Data::Layers(overlay, base) => overlay
                .get(key)
                .or_else(|| base.get(key))
                .map(Cow::Borrowed)
                .ok_or_else(|| JpError::NotFound(key.to_string())),
        }
    }

    fn value(self) -> Cow<'a, Value> {
        match self {
            Data::Value(v) => Cow::Borrowed(v),
            Data::Layers(overlay, base) => {
                let mut m = base.as_object().cloned().unwrap_or_default();
                m.extend(overlay.iter().map(|(k, v)| (k.clone(), v.clone())));
                Cow::Owned(Value::Object(m))
            }
        }
    }
}

/// Evaluates `ast` on `data`.
pub fn search(ast: &Ast, data: &Value) -> JpResult {
    eval(ast, Data::Value(data)).map(Cow::into_owned)
}

fn items_of(v: Cow<'_, Value>) -> Option<Vec<Cow<'_, Value>>> {
    match v {
        Cow::Borrowed(Value::Array(a)) => Some(a.iter().map(Cow::Borrowed).collect()),
        Cow::Owned(Value::Array(a)) => Some(a.into_iter().map(Cow::Owned).collect()),
        _ => None,
    }
}

fn on<'a>(left: Cow<'a, Value>, right: &Ast) -> Result<Cow<'a, Value>, JpError> {
    match left {
        Cow::Borrowed(v) => eval(right, Data::Value(v)),
        Cow::Owned(v) => eval(right, Data::Value(&v)).map(|c| Cow::Owned(c.into_owned())),
    }
}

/// Evaluates `ast` on `data`, borrowing from it where the result is a part
/// of it.
pub fn eval<'a>(ast: &Ast, data: Data<'a>) -> Result<Cow<'a, Value>, JpError> {
    let owned = |v: Value| Ok(Cow::Owned(v));
    match ast {
        Ast::Current => Ok(data.value()),
        Ast::Field(k) => data.field(k),
        Ast::Index(i) => {
            let v = data.value();
            let len = v.as_array().map_or(0, Vec::len) as i64;
            let idx = if *i < 0 { len + i } else { *i };
            if idx < 0 || idx >= len {
                return owned(Value::Null);
            }
            Ok(match v {
                Cow::Borrowed(Value::Array(a)) => Cow::Borrowed(&a[idx as usize]),
                Cow::Owned(Value::Array(mut a)) => Cow::Owned(a.swap_remove(idx as usize)),
                _ => Cow::Owned(Value::Null),
            })
        }
        Ast::Slice(start, stop, step) => owned(match data.value().as_ref() {
            Value::Array(a) => Value::Array(slice(a, *start, *stop, *step)),
            _ => Value::Null,
        }),
        Ast::Sub(l, r) => {
            let left = eval(l, data)?;
            on(left, r)
        }
        Ast::Projection(l, r) => {
            let left = ok_or_null(eval(l, data))?;
            let Some(items) = items_of(left) else { return owned(Value::Null) };
            let mut out = Vec::new();
            for item in items {
                let v = ok_or_null(on(item, r))?;
                if !v.is_null() {
                    out.push(v.into_owned());
                }
            }
            owned(Value::Array(out))
        }
        Ast::ValueProjection(l, r) => {
            let values: Vec<Cow<'a, Value>> = match eval(l, data) {
                Ok(Cow::Borrowed(Value::Object(m))) => m.values().map(Cow::Borrowed).collect(),
                Ok(Cow::Owned(Value::Object(m))) => m.into_iter().map(|(_, v)| Cow::Owned(v)).collect(),
                _ => return owned(Value::Null),
            };
            let mut out = Vec::new();
            for item in values {
                let v = ok_or_null(on(item, r))?;
                if !v.is_null() {
                    out.push(v.into_owned());
                }
            }
            owned(Value::Array(out))
        }
        Ast::Filter(l, r, cond) => {
            let Some(items) = eval(l, data).ok().and_then(items_of) else { return owned(Value::Null) };
            let mut out = Vec::new();
            for item in items {
                let c = ok_or_null(eval(cond, Data::Value(item.as_ref())))?;
                if !is_false(&c) {
                    let v = ok_or_null(on(item, r))?;
                    if !v.is_null() {
                        out.push(v.into_owned());
                    }
                }
            }
            owned(Value::Array(out))
        }
        Ast::Flatten(inner) => {
            let Some(items) = eval(inner, data).ok().and_then(items_of) else { return owned(Value::Null) };
            let mut out = Vec::new();
            for item in items {
                match item.into_owned() {
                    Value::Array(a) => out.extend(a),
                    other => out.push(other),
                }
            }
            owned(Value::Array(out))
        }
        Ast::Or(l, r) => {
            let left = ok_or_null(eval(l, data))?;
            if is_false(&left) { ok_or_null(eval(r, data)) } else { Ok(left) }
        }
        Ast::And(l, r) => {
            let left = ok_or_null(eval(l, data))?;
            if is_false(&left) { Ok(left) } else { eval(r, data) }
        }
        Ast::Not(inner) => owned(Value::Bool(is_false(ok_or_null(eval(inner, data))?.as_ref()))),
        Ast::Compare(op, l, r) => {
            let left = ok_or_null(eval(l, data))?;
            let right = ok_or_null(eval(r, data))?;
            owned(match op {
                Cmp::Eq => Value::Bool(json_eq(&left, &right)),
                Cmp::Ne => Value::Bool(!json_eq(&left, &right)),
                _ => match (as_f64(&left), as_f64(&right)) {
                    (Some(a), Some(b)) => Value::Bool(match op {
                        Cmp::Lt => a < b,
                        Cmp::Le => a <= b,
                        Cmp::Gt => a > b,
                        _ => a >= b,
                    }),
                    _ => Value::Null,
                },
            })
        }
        Ast::Pipe(l, r) => {
            let left = ok_or_null(eval(l, data))?;
            ok_or_null(on(left, r))
        }
        Ast::List(items) => {
            if matches!(data, Data::Value(Value::Null)) {
                return owned(Value::Null);
            }
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(ok_or_null(eval(i, data))?.into_owned());
            }
            owned(Value::Array(out))
        }
        Ast::Hash(items) => {
            if matches!(data, Data::Value(Value::Null)) {
                return owned(Value::Null);
            }
            let mut m = Map::new();
            for (k, i) in items {
                m.insert(k.clone(), ok_or_null(eval(i, data))?.into_owned());
            }
            owned(Value::Object(m))
        }
        Ast::Literal(v) => owned(v.clone()),
        Ast::ExpRef(_) => {
            Err(JpError::Function("an expression reference (&expr) is only valid as a function argument".into()))
        }
        Ast::Call(Callee::Known(func), args) => crate::functions::call(*func, args, data).map(Cow::Owned),
        Ast::Call(Callee::Unknown(name), _) => Err(JpError::Function(format!("unknown function: {name}()"))),
    }
}

fn slice(a: &[Value], start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Vec<Value> {
    let len = a.len() as i64;
    let step = step.unwrap_or(1);
    let adjust = |v: i64, default: i64| -> i64 {
        if v < 0 {
            let v = v + len;
            if v < 0 { if step < 0 { -1 } else { 0 } } else { v }
        } else if v >= len {
            if step < 0 { len - 1 } else { len }
        } else {
            let _ = default;
            v
        }
    };
    let start = start.map_or(if step < 0 { len - 1 } else { 0 }, |s| adjust(s, 0));
    let stop = stop.map_or(if step < 0 { -1 } else { len }, |s| adjust(s, len));
    let mut out = Vec::new();
    let mut i = start;
    if step > 0 {
        while i < stop {
            out.push(a[i as usize].clone());
            i += step;
        }
    } else {
        while i > stop {
            if i >= 0 && i < len {
                out.push(a[i as usize].clone());
            }
            i += step;
        }
    }
    out
}

/// Deep equality with numbers compared by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Orders numbers or strings (for `sort`, `max`, ...).
pub fn compare_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

thread_local! {
    static PARSED: RefCell<HashMap<String, Rc<Ast>>> = RefCell::new(HashMap::new());
}

/// Parses `expr` once per thread (policies repeat the same expressions on
/// every object).
pub fn parse_cached(expr: &str) -> Result<Rc<Ast>, JpError> {
    // Long expressions are not kept: a policy writes short ones, and one a
    // variable's value produced (the object's, the change's input) could
    // otherwise fill the table with megabytes each.
    if expr.len() > 1024 {
        return parse(expr).map(Rc::new);
    }
    if let Some(ast) = PARSED.with(|c| c.borrow().get(expr).cloned()) {
        return Ok(ast);
    }
    let ast = Rc::new(parse(expr)?);
    PARSED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 10_000 {
            c.clear();
        }
        c.insert(expr.to_string(), Rc::clone(&ast));
    });
    Ok(ast)
}

/// Runs `expr` on `data`, Kyverno style: numbers in the result are floats.
pub fn query(expr: &str, data: &Value) -> JpResult {
    query_in(expr, Data::Value(data))
}

/// Runs `expr` on `data` (a value or a layered context).
pub fn query_in(expr: &str, data: Data<'_>) -> JpResult {
    let ast = parse_cached(expr)?;
    eval(&ast, data).map(|v| floats_ref(&v))
}

/// [`floats`] of a borrowed value.
pub fn floats_ref(v: &Value) -> Value {
    match v {
        Value::Number(n) if !n.is_f64() => n.as_f64().map_or(Value::Number(n.clone()), num),
        Value::Array(a) => Value::Array(a.iter().map(floats_ref).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), floats_ref(v))).collect()),
        other => other.clone(),
    }
}

/// Every number as a float, as Go's JSON decoding into `interface{}` gives.
pub fn floats(v: Value) -> Value {
    match v {
        Value::Number(n) if !n.is_f64() => n.as_f64().map_or(Value::Number(n), num),
        Value::Array(a) => Value::Array(a.into_iter().map(floats).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(e: &str, d: &Value) -> Value {
        query(e, d).unwrap_or_else(|err| panic!("{e}: {err}"))
    }

    #[test]
    fn deep_or_long_expressions_are_refused_without_recursing() {
        let deep = format!("{}a{}", "(".repeat(30_000), ")".repeat(30_000));
        assert!(parse(&deep).is_err());
        let long = std::iter::repeat_n("a", 20_000).collect::<Vec<_>>().join(".");
        assert!(parse(&long).is_err());
        let nested_lists = format!("{}a{}", "[".repeat(5_000), "]".repeat(5_000));
        assert!(parse(&nested_lists).is_err());
        assert!(parse("a.b[0].c || d").is_ok());
    }

    #[test]
    fn syntax_errors_are_typed_and_say_what_is_wrong() {
        let error = |expr: &str| match parse(expr) {
            Err(JpError::Syntax { error, .. }) => error,
            other => panic!("{expr}: {other:?}"),
        };
        assert_eq!(error("a = b"), SyntaxError::SingleEquals(2));
        assert_eq!(error("'open"), SyntaxError::Unterminated("raw string literal"));
        assert_eq!(error("a[::0]"), SyntaxError::SliceStepZero);
        assert_eq!(error("\"x\"(a)"), SyntaxError::QuotedFunctionName);
        assert!(matches!(error("a.`1`"), SyntaxError::Token { context: " after `.`", .. }));
        assert!(matches!(error("{a: b"), SyntaxError::Expected { .. }));
        assert_eq!(
            parse("a = b").map_err(|e| e.to_string()),
            Err("invalid JMESPath expression `a = b`: unexpected `=` at 2 (use `==`)".to_owned())
        );
    }

    #[test]
    fn paths_projections_and_filters() {
        let d = json!({"spec": {"containers": [{"name": "a", "image": "x:1", "ports": [{"p": 1}]}, {"name": "b", "image": "y"}]}});
        assert_eq!(q("spec.containers[*].name", &d), json!(["a", "b"]));
        assert_eq!(q("spec.containers[].ports[].p", &d), json!([1.0]));
        assert_eq!(q("spec.containers[?name=='b'].image | [0]", &d), json!("y"));
        assert_eq!(q("length(spec.containers)", &d), json!(2.0));
        assert_eq!(q("spec.containers[0:1].name", &d), json!(["a"]));
        assert_eq!(q("{n: spec.containers[0].name}", &d), json!({"n": "a"}));
        assert_eq!(q("spec.*.name", &d), json!([]));
        assert_eq!(q("!(spec.missing) || 'd'", &d), json!(true));
        // `!` binds tighter than `.`, as in the reference implementations.
        assert_eq!(q("!spec.missing || 'd'", &d), json!("d"));
    }

    #[test]
    fn functions_are_resolved_when_parsed_and_unknown_ones_fail_when_called() {
        assert_eq!(
            parse("to_upper(name)"),
            Ok(Ast::Call(Callee::Known(Func::ToUpper), vec![Ast::Field("name".into())]))
        );
        for func in [Func::Abs, Func::X509Decode, Func::TimeNowUtc, Func::ObjectFromLists] {
            assert_eq!(Func::from_name(func.name()), Some(func));
        }
        // As Kyverno: an unknown name parses, and is an error only if called.
        let unknown = parse("to_uper(name)").expect("parses");
        assert_eq!(unknown, Ast::Call(Callee::Unknown("to_uper".into()), vec![Ast::Field("name".into())]));
        let d = json!({"name": "a", "n": null});
        assert_eq!(query("to_uper(name)", &d), Err(JpError::Function("unknown function: to_uper()".into())));
        assert_eq!(q("n || to_upper(name)", &d), json!("A"));
    }

    #[test]
    fn missing_keys_are_errors_unless_defaulted() {
        let d = json!({"metadata": {"labels": {}}});
        assert_eq!(query("metadata.labels.app", &d), Err(JpError::NotFound("app".into())));
        assert_eq!(q("metadata.labels.app || 'none'", &d), json!("none"));
        assert_eq!(q("metadata.labels.app == null", &d), json!(true));
        assert_eq!(q("metadata.missing.app || ''", &d), json!(""));
        assert_eq!(q("to_string(metadata.labels.app)", &d), json!("null"));
    }

    #[test]
    fn literals_and_comparisons() {
        let d = json!({"n": 3});
        assert_eq!(q("n > `2`", &d), json!(true));
        assert_eq!(q(r"'it\'s'", &d), json!("it's"));
        // Literals are decoded as Go decodes JSON: every number a float.
        assert_eq!(q("`[1, 2]`", &d), json!([1.0, 2.0]));
        assert!(parse("a[").is_err());
        assert!(parse("a.=b").is_err());
    }
}
