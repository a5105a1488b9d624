//! Gatekeeper's `K8sNativeValidation` engine: the CEL code of a
//! ConstraintTemplate (`code[].engine: K8sNativeValidation`), evaluated as
//! Gatekeeper's driver does, with `tollgate-cel`:
//! - `params` is the Constraint, `variables.params` its `spec.parameters`,
//!   `variables.anyObject` the object (the old object of a DELETE);
//! - the template's `matchConditions` decide whether it applies;
//! - every validation that is false, or fails (the failure policy is
//!   `Fail`), is one violation, with its message or message expression.

use std::sync::Arc;

use serde_json::Value as Json;
use tollgate_cel::{Activation, Budget, Program, Session, Variables};

use crate::gatekeeper::{CelError, Constraint, Violation};
use crate::policy::PolicyProblem;

/// The variables a Gatekeeper CEL expression may use.
const DECLARED: &[&str] = &["object", "oldObject", "request", "params", "namespaceObject", "variables", "authorizer"];

/// What Gatekeeper binds before the template's own variables.
const ANY_OBJECT: &str =
    r#"has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object"#;
const PARAMS: &str = "!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters";

#[derive(Debug)]
struct Validation {
    program: Program,
    message: String,
    message_expression: Option<Program>,
}

/// The CEL code of a template, compiled once.
#[derive(Debug)]
pub(crate) struct CelCode {
    match_conditions: Vec<(String, Program)>,
    variables: Variables,
    validations: Vec<Validation>,
}

impl CelCode {
    /// Compiles `source` (the `code[].source` of `engine:
    /// K8sNativeValidation`) of template `name` read from `path`.
    pub(crate) fn compile(path: &str, name: &str, source: &Json) -> Result<Arc<CelCode>, PolicyProblem> {
        let compile = |expr: &str, field: String| -> Result<Program, PolicyProblem> {
            tollgate_cel::compile(expr, DECLARED).map_err(|e| {
                PolicyProblem::at(
                    path,
                    format!("ConstraintTemplate `{name}`: the CEL expression at `{field}` does not compile: {e}"),
                )
            })
        };
        let mut match_conditions = Vec::new();
        for (i, c) in source["matchConditions"].as_array().into_iter().flatten().enumerate() {
            let expr = c["expression"].as_str().unwrap_or_default();
            match_conditions.push((
                c["name"].as_str().unwrap_or_default().to_owned(),
                compile(expr, format!("matchConditions[{i}].expression"))?,
            ));
        }
        let mut variables = vec![
            ("anyObject".to_owned(), compile(ANY_OBJECT, "variables.anyObject".into())?),
            ("params".to_owned(), compile(PARAMS, "variables.params".into())?),
        ];
        for (i, v) in source["variables"].as_array().into_iter().flatten().enumerate() {
            let expr = v["expression"].as_str().unwrap_or_default();
            variables.push((
                v["name"].as_str().unwrap_or_default().to_owned(),
                compile(expr, format!("variables[{i}].expression"))?,
            ));
        }
        let mut validations = Vec::new();
        for (i, v) in source["validations"].as_array().into_iter().flatten().enumerate() {
            let expr = v["expression"].as_str().unwrap_or_default();
            let program = compile(expr, format!("validations[{i}].expression"))?;
            let message_expression = match v["messageExpression"].as_str() {
                Some(m) => Some(compile(m, format!("validations[{i}].messageExpression"))?),
                None => None,
            };
            validations.push(Validation {
                program,
                message: v["message"].as_str().unwrap_or_default().to_owned(),
                message_expression,
            });
        }
        if validations.is_empty() {
            return Err(PolicyProblem::at(
                path,
                format!("ConstraintTemplate `{name}`: its CEL code has no validations"),
            ));
        }
        Ok(Arc::new(CelCode { match_conditions, variables: Variables::new(variables), validations }))
    }

    /// The violations of `review` (gator's `input.review`) under
    /// `constraint`.
    pub(crate) fn violations(&self, constraint: &Constraint, review: &Json) -> Result<Vec<Violation>, CelError> {
        let delete = review["operation"] == "DELETE";
        let mut activation = Activation::new(0);
        let object = if delete { Json::Null } else { review["object"].clone() };
        activation.set("object", tollgate_cel::Value::from_json(&object));
        activation.set("oldObject", tollgate_cel::Value::from_json(&review["oldObject"]));
        activation.set("request", tollgate_cel::Value::from_json(review));
        activation.set("params", tollgate_cel::Value::from_json(&constraint.object));
        activation.set("namespaceObject", tollgate_cel::Value::Null);
        activation.set("authorizer", tollgate_cel::authorizer());
        let mut s = Session::new(&activation, Some(&self.variables), Budget::default());
        for (name, p) in &self.match_conditions {
            match s.eval(p) {
                Ok(tollgate_cel::Value::Bool(true)) => {}
                Ok(tollgate_cel::Value::Bool(false)) => return Ok(Vec::new()),
                Ok(other) => {
                    return Err(CelError::MatchNotBool { name: name.clone(), type_name: other.type_name().to_owned() });
                }
                Err(error) => return Err(CelError::Match { name: name.clone(), error }),
            }
        }
        let mut out = Vec::new();
        for (i, v) in self.validations.iter().enumerate() {
            let message = match s.eval(&v.program) {
                Ok(tollgate_cel::Value::Bool(true)) => continue,
                Ok(tollgate_cel::Value::Bool(false)) => {
                    let mut message = v.message.clone();
                    if let Some(me) = &v.message_expression
                        && let Ok(tollgate_cel::Value::String(m)) = s.eval(me)
                    {
                        message = m.to_string();
                    }
                    if message.is_empty() {
                        message = format!("failed expression: {}", v.program.source().trim());
                    }
                    message
                }
                Ok(other) => format!("validation {i} evaluated to {}, not a bool", other.type_name()),
                // A budget or live-data failure is no verdict: the run says so.
                Err(error @ (tollgate_cel::Error::Budget(_) | tollgate_cel::Error::LiveData(_))) => {
                    return Err(CelError::Validation { index: i, error });
                }
                Err(e) => format!("expression '{}' resulted in error: {e}", v.program.source().trim()),
            };
            out.push(Violation { message, details: Json::Null });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn constraint() -> Constraint {
        Constraint {
            kind: "K8sTest".into(),
            name: "c".into(),
            path: "c.yaml".into(),
            matcher: Json::Null,
            parameters: Json::Null,
            action: "deny".into(),
            object: json!({"spec": {}}),
        }
    }

    fn judge(source: &Json) -> Result<Vec<Violation>, CelError> {
        let code = CelCode::compile("t.yaml", "t", source).expect("compiles");
        code.violations(&constraint(), &json!({"operation": "CREATE", "object": {"metadata": {"name": "x"}}}))
    }

    #[test]
    fn failures_without_a_verdict_are_typed() {
        let validation = json!([{"expression": "true"}]);
        let not_bool =
            judge(&json!({"matchConditions": [{"name": "m", "expression": "'yes'"}], "validations": validation}));
        assert_eq!(not_bool, Err(CelError::MatchNotBool { name: "m".into(), type_name: "string".into() }));
        assert_eq!(not_bool.expect_err("not a bool").to_string(), "match condition `m` is a string, not a bool");

        let failed = judge(
            &json!({"matchConditions": [{"name": "m", "expression": "object.spec.x"}], "validations": validation}),
        );
        assert!(
            matches!(&failed, Err(CelError::Match { name, error: tollgate_cel::Error::Runtime(_) }) if name == "m"),
            "{failed:?}"
        );

        // Ten lists of ten, nested: 10^7 steps, over the cost budget.
        let list = "[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]";
        let mut expensive = "true".to_owned();
        for v in ["a", "b", "c", "d", "e", "f", "g"] {
            expensive = format!("{list}.all({v}, {expensive})");
        }
        let over = judge(&json!({"validations": [{"expression": "true"}, {"expression": expensive}]}));
        assert!(
            matches!(&over, Err(CelError::Validation { index: 1, error: tollgate_cel::Error::Budget(_) })),
            "{over:?}"
        );

        // A validation that fails to evaluate is a violation (Gatekeeper's
        // message), not a failure of the run.
        let violations = judge(&json!({"validations": [{"expression": "object.spec.x == 1"}]})).expect("a verdict");
        assert_eq!(violations.len(), 1);
        assert!(
            violations[0].message.starts_with("expression 'object.spec.x == 1' resulted in error: "),
            "{}",
            violations[0].message
        );
    }
}
