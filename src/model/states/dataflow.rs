//! A state's data flow, in the Amazon States Language's order: the state
//! input, `InputPath`, `Parameters` (payload templates with `.$` fields,
//! intrinsic functions and the context object `$$`), the result,
//! `ResultSelector`, `ResultPath` (into the state input) and `OutputPath`.
//! Each step's value is kept in an [`Inspection`], as `TestState`'s
//! `inspectionData` shows it.

use serde_json::{Map, Value, json};

use super::definition::State;
use super::error::{StatesError, names};
use super::{intrinsics, paths};

/// Every step's value for one state.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// The state input.
    pub input: Value,
    /// After `InputPath`.
    pub after_input_path: Value,
    /// After `Parameters` (or `ItemSelector`).
    pub after_parameters: Value,
    /// The task's (or Pass's, or Parallel's, or Map's) result.
    pub result: Value,
    /// After `ResultSelector`.
    pub after_result_selector: Value,
    /// After `ResultPath`.
    pub after_result_path: Value,
    /// The state output (after `OutputPath`).
    pub output: Value,
}

/// Fills a payload template: `"key.$"` fields take a path's value (of the
/// input, or of the context object for `$$`) or an intrinsic function's.
pub fn payload(
    template: &Value,
    input: &Value,
    context: &Value,
    missing: &str,
) -> Result<Value, StatesError> {
    match template {
        Value::Object(o) => {
            let mut out = Map::with_capacity(o.len());
            for (k, v) in o {
                match (k.strip_suffix(".$"), v) {
                    (Some(name), Value::String(expr)) => {
                        let value = if intrinsics::is_call(expr) {
                            intrinsics::evaluate(expr, input, context)?
                        } else {
                            paths::select(input, context, expr).ok_or_else(|| {
                                let shown = if expr.starts_with("$$") { super::variables::visible(context) } else { input.clone() };
                                StatesError::new(
                                    missing,
                                    format!(
                                        "The JsonPath argument for the field '{k}' could not be found in the input '{}'",
                                        shown
                                    ),
                                )
                            })?
                        };
                        out.insert(name.to_owned(), value);
                    }
                    _ => {
                        out.insert(k.clone(), payload(v, input, context, missing)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|v| payload(v, input, context, missing))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// `InputPath` then `Parameters`: the effective input of the state's work.
pub fn effective_input(
    state: &State,
    input: &Value,
    context: &Value,
    ins: &mut Inspection,
) -> Result<Value, StatesError> {
    ins.input = input.clone();
    if state.jsonata {
        // JSONata: `Arguments` (default: the input).
        ins.after_input_path = input.clone();
        let args = match &state.arguments {
            Some(t) => super::jsonata::template(t, &json!({"input": input, "context": context}))?,
            None => input.clone(),
        };
        ins.after_parameters = args.clone();
        return Ok(args);
    }
    let after_input = match &state.input_path {
        None => Value::Object(Map::new()),
        Some(p) => paths::select_field(input, context, p, "InputPath")?,
    };
    ins.after_input_path = after_input.clone();
    let after_params = match &state.parameters {
        Some(t) => payload(t, &after_input, context, names::PARAMETER_PATH_FAILURE)?,
        None => after_input,
    };
    ins.after_parameters = after_params.clone();
    Ok(after_params)
}

/// `ResultSelector`, `ResultPath` (into the state input) and `OutputPath`:
/// the state output.
pub fn output(
    state: &State,
    input: &Value,
    result: Value,
    context: &Value,
    ins: &mut Inspection,
) -> Result<Value, StatesError> {
    ins.result = result.clone();
    if state.jsonata {
        // JSONata: `Output` (default: the result).
        let out = match &state.output {
            Some(t) => super::jsonata::template(
                t,
                &json!({"input": input, "result": result, "context": context}),
            )?,
            None => result,
        };
        ins.after_result_selector = out.clone();
        ins.after_result_path = out.clone();
        ins.output = out.clone();
        return Ok(out);
    }
    let selected = match &state.result_selector {
        Some(t) => payload(t, &result, context, names::RUNTIME)?,
        None => result,
    };
    ins.after_result_selector = selected.clone();
    let placed = match &state.result_path {
        None => input.clone(),
        Some(p) => paths::set(input.clone(), p, selected)?,
    };
    ins.after_result_path = placed.clone();
    let out = filter_output(state, &placed, context)?;
    ins.output = out.clone();
    Ok(out)
}

/// `OutputPath` alone (for states without a result: Choice, Wait, Succeed).
pub fn filter_output(state: &State, value: &Value, context: &Value) -> Result<Value, StatesError> {
    if state.jsonata {
        return match &state.output {
            Some(t) => super::jsonata::template(t, &json!({"input": value, "context": context})),
            None => Ok(value.clone()),
        };
    }
    match &state.output_path {
        None => Ok(Value::Object(Map::new())),
        Some(p) => paths::select_field(value, context, p, "OutputPath"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(def: Value) -> State {
        let m =
            super::super::definition::parse_value(&json!({"StartAt": "S", "States": {"S": def}}))
                .unwrap();
        m.states[0].clone()
    }

    #[test]
    fn aws_documented_input_and_output_processing() {
        // The example of "InputPath, ResultPath and OutputPath" in AWS's guide.
        let s = state(json!({
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true,
            "InputPath": "$.lambda",
            "Parameters": {"comment": "Example for Parameters.", "product": {"details": {"color.$": "$.color", "size.$": "$.size"}}, "who.$": "$$.Execution.Name"},
            "ResultSelector": {"modifiedPayload": {"body.$": "$.Payload.body"}},
            "ResultPath": "$.taskresult",
            "OutputPath": "$.taskresult"
        }));
        let input = json!({"comment": "x", "lambda": {"color": "red", "size": 5}});
        let context = json!({"Execution": {"Name": "run-1"}});
        let mut ins = Inspection::default();
        let eff = effective_input(&s, &input, &context, &mut ins).unwrap();
        assert_eq!(
            eff,
            json!({"comment": "Example for Parameters.", "product": {"details": {"color": "red", "size": 5}}, "who": "run-1"})
        );
        let out = output(
            &s,
            &input,
            json!({"Payload": {"body": "hi"}, "StatusCode": 200}),
            &context,
            &mut ins,
        )
        .unwrap();
        assert_eq!(out, json!({"modifiedPayload": {"body": "hi"}}));
        assert_eq!(
            ins.after_result_path["taskresult"],
            json!({"modifiedPayload": {"body": "hi"}})
        );
        assert_eq!(ins.after_result_path["lambda"], input["lambda"]);
    }

    #[test]
    fn null_paths_and_failures() {
        let s = state(
            json!({"Type": "Pass", "End": true, "InputPath": null, "ResultPath": null, "OutputPath": null}),
        );
        let mut ins = Inspection::default();
        assert_eq!(
            effective_input(&s, &json!({"a": 1}), &json!({}), &mut ins).unwrap(),
            json!({})
        );
        assert_eq!(
            output(&s, &json!({"a": 1}), json!(2), &json!({}), &mut ins).unwrap(),
            json!({})
        );
        let s = state(json!({"Type": "Pass", "End": true, "ResultPath": null}));
        assert_eq!(
            output(&s, &json!({"a": 1}), json!(2), &json!({}), &mut ins).unwrap(),
            json!({"a": 1})
        );
        let s = state(json!({"Type": "Pass", "End": true, "Parameters": {"x.$": "$.missing"}}));
        let e = effective_input(&s, &json!({"a": 1}), &json!({}), &mut ins).unwrap_err();
        assert_eq!(e.error, "States.ParameterPathFailure");
        assert_eq!(
            e.cause,
            "The JsonPath argument for the field 'x.$' could not be found in the input '{\"a\":1}'"
        );
        let s = state(json!({"Type": "Pass", "End": true, "InputPath": "$.nope"}));
        assert_eq!(
            effective_input(&s, &json!({}), &json!({}), &mut ins)
                .unwrap_err()
                .error,
            "States.Runtime"
        );
    }
}
