//! The Step Functions API (AWS JSON 1.0: `POST /` with
//! `X-Amz-Target: AWSStepFunctions.<Operation>`), as boto3's `stepfunctions`
//! client and the AWS CLI speak it, over `host/state_machines.rs`. Errors
//! are `{"__type", "message"}` with AWS's types; times are epoch seconds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::api::http::{Face, HttpRequest, HttpResponse, Refusal};
use crate::host::state_machines::{self, SfnError, StateMachines};
use crate::host::states::{Env, Execution, Status};

/// A definition is at most 1 MB, an input 256 KB: bodies up to 2 MB.
const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// An execution's input or output is at most 256 KB (AWS's quota).
const MAX_PAYLOAD: usize = 256 * 1024;

/// The face.
pub struct StepFunctionsApi {
    machines: Arc<StateMachines>,
    env: Env,
}

impl StepFunctionsApi {
    /// Serves `machines`; `TestState` runs on `env`.
    pub fn new(machines: Arc<StateMachines>, env: Env) -> Self {
        Self { machines, env }
    }
}

fn reply(body: &Value) -> HttpResponse {
    HttpResponse::json(200, body).with_header("content-type", "application/x-amz-json-1.0")
}

fn error(status: u16, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"__type": format!("com.amazonaws.swf.service.v2.model#{kind}"), "message": message}))
        .with_header("content-type", "application/x-amz-json-1.0")
        .with_header("x-amzn-ErrorType", kind)
}

fn sfn_error(e: &SfnError) -> HttpResponse {
    error(400, e.kind, &e.message)
}

fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn string<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, HttpResponse> {
    match body.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(error(
            400,
            "ValidationException",
            &format!("1 validation error detected: Value at '{key}' must be a string"),
        )),
        None => Err(error(
            400,
            "ValidationException",
            &format!(
                "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
            ),
        )),
    }
}

fn optional<'a>(body: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, HttpResponse> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => string(body, key).map(Some),
    }
}

/// Pages of `items`: `maxResults` (default `default`, at most 1,000) and a
/// `nextToken` (an offset).
fn page<T: Clone>(
    body: &Map<String, Value>,
    items: &[T],
    default: usize,
) -> Result<(Vec<T>, Option<String>), HttpResponse> {
    let max = match body.get("maxResults").and_then(Value::as_u64) {
        None | Some(0) => default,
        Some(n) if n <= 1000 => n as usize,
        Some(n) => {
            return Err(error(
                400,
                "ValidationException",
                &format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
                ),
            ));
        }
    };
    let start = match optional(body, "nextToken")? {
        None => 0,
        Some(t) => t
            .strip_prefix("lambdesk-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| error(400, "InvalidToken", &format!("Invalid Token: '{t}'")))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("lambdesk-{end}"));
    Ok((items[start..end].to_vec(), next))
}

fn describe_execution(e: &Execution) -> Value {
    let r = e.record();
    let mut v = json!({
        "executionArn": r.arn,
        "stateMachineArn": r.machine_arn,
        "name": r.name,
        "status": r.status,
        "startDate": epoch(r.start),
        "input": r.input,
        "inputDetails": {"included": true},
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
    });
    if let Some(t) = r.stop {
        v["stopDate"] = json!(epoch(t));
    }
    if let Some(out) = &r.output {
        v["output"] = json!(out);
        v["outputDetails"] = json!({"included": true});
    }
    if let Some(err) = &r.error {
        v["error"] = json!(err.error);
        v["cause"] = json!(err.cause);
    }
    v
}

impl StepFunctionsApi {
    fn operation(&self, op: &str, body: &Map<String, Value>) -> Result<Value, HttpResponse> {
        let m = &self.machines;
        match op {
            "CreateStateMachine" => {
                let kind = optional(body, "type")?.unwrap_or("STANDARD");
                let machine = m
                    .create(
                        string(body, "name")?,
                        string(body, "definition")?,
                        kind,
                        optional(body, "roleArn")?.unwrap_or_default(),
                    )
                    .map_err(|e| sfn_error(&e))?;
                Ok(json!({"stateMachineArn": machine.arn, "creationDate": epoch(machine.created)}))
            }
            "UpdateStateMachine" => {
                let machine = m
                    .update(
                        string(body, "stateMachineArn")?,
                        optional(body, "definition")?,
                        optional(body, "roleArn")?,
                    )
                    .map_err(|e| sfn_error(&e))?;
                Ok(json!({"updateDate": epoch(machine.updated), "revisionId": machine.revision_id}))
            }
            "DescribeStateMachine" => {
                let machine = m
                    .describe(string(body, "stateMachineArn")?)
                    .map_err(|e| sfn_error(&e))?;
                Ok(json!({
                    "stateMachineArn": machine.arn, "name": machine.name, "status": "ACTIVE",
                    "definition": machine.definition, "roleArn": machine.role_arn, "type": machine.kind,
                    "creationDate": epoch(machine.created), "revisionId": machine.revision_id,
                    "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
                }))
            }
            "ListStateMachines" => {
                let all = m.list();
                let (items, next) = page(body, &all, 100)?;
                let list: Vec<Value> = items
                    .iter()
                    .map(|x| json!({"stateMachineArn": x.arn, "name": x.name, "type": x.kind, "creationDate": epoch(x.created)}))
                    .collect();
                Ok(with_token(json!({"stateMachines": list}), next))
            }
            "DeleteStateMachine" => {
                m.delete(string(body, "stateMachineArn")?)
                    .map_err(|e| sfn_error(&e))?;
                Ok(json!({}))
            }
            "ValidateStateMachineDefinition" => {
                let definition = string(body, "definition")?;
                Ok(match crate::model::states::definition::parse(definition) {
                    Ok(_) => json!({"result": "OK", "diagnostics": [], "truncated": false}),
                    Err(problems) => {
                        let max = body
                            .get("maxResults")
                            .and_then(Value::as_u64)
                            .unwrap_or(100) as usize;
                        let diagnostics: Vec<Value> = problems
                            .iter()
                            .take(max)
                            .map(|p| json!({"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": p.message, "location": p.pointer}))
                            .collect();
                        json!({"result": "FAIL", "diagnostics": diagnostics, "truncated": problems.len() > max})
                    }
                })
            }
            "StartExecution" | "StartSyncExecution" => {
                let input = optional(body, "input")?;
                if input.is_some_and(|i| i.len() > MAX_PAYLOAD) {
                    return Err(error(
                        400,
                        "InvalidExecutionInput",
                        "The input is over 262144 bytes",
                    ));
                }
                let arn = string(body, "stateMachineArn")?;
                let name = optional(body, "name")?;
                if op == "StartExecution" {
                    let e = m.start(arn, name, input).map_err(|e| sfn_error(&e))?;
                    let r = e.record();
                    return Ok(json!({"executionArn": r.arn, "startDate": epoch(r.start)}));
                }
                let machine = m.describe(arn).map_err(|e| sfn_error(&e))?;
                if machine.kind != "EXPRESS" {
                    return Err(error(
                        400,
                        "StateMachineTypeNotSupported",
                        "This operation is not supported by this type of state machine",
                    ));
                }
                let e = m.start_sync(arn, name, input).map_err(|e| sfn_error(&e))?;
                let mut v = describe_execution(&e);
                let r = e.record();
                let billed = r
                    .stop
                    .map_or(0, |s| (s - r.start).num_milliseconds().max(100));
                if let Some(o) = v.as_object_mut() {
                    for k in ["redriveCount", "redriveStatus"] {
                        o.remove(k);
                    }
                }
                v["billingDetails"] = json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": (billed + 99) / 100 * 100});
                Ok(v)
            }
            "DescribeExecution" => {
                let e = m
                    .api_execution(string(body, "executionArn")?)
                    .map_err(|e| sfn_error(&e))?;
                Ok(describe_execution(&e))
            }
            "StopExecution" => {
                let e = m
                    .api_execution(string(body, "executionArn")?)
                    .map_err(|e| sfn_error(&e))?;
                e.stop(
                    optional(body, "error")?.map(str::to_owned),
                    optional(body, "cause")?.map(str::to_owned),
                );
                e.wait(std::time::Duration::from_secs(10));
                Ok(json!({"stopDate": epoch(e.record().stop.unwrap_or_else(Utc::now))}))
            }
            "ListExecutions" => {
                let status = match optional(body, "statusFilter")? {
                    None => None,
                    Some(s) => Some(serde_json::from_value::<Status>(json!(s)).map_err(|_| {
                        error(400, "ValidationException", &format!("1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, RUNNING]"))
                    })?),
                };
                let all = m
                    .list_executions(string(body, "stateMachineArn")?, status)
                    .map_err(|e| sfn_error(&e))?;
                let (items, next) = page(body, &all, 100)?;
                let list: Vec<Value> = items
                    .iter()
                    .map(|e| {
                        let r = e.record();
                        let mut v = json!({"executionArn": r.arn, "stateMachineArn": r.machine_arn, "name": r.name, "status": r.status, "startDate": epoch(r.start)});
                        if let Some(t) = r.stop {
                            v["stopDate"] = json!(epoch(t));
                        }
                        v
                    })
                    .collect();
                Ok(with_token(json!({"executions": list}), next))
            }
            "GetExecutionHistory" => {
                let e = m
                    .api_execution(string(body, "executionArn")?)
                    .map_err(|e| sfn_error(&e))?;
                let mut events: Vec<Value> =
                    e.record().events.iter().map(|e| e.to_json()).collect();
                if body.get("reverseOrder") == Some(&Value::Bool(true)) {
                    events.reverse();
                }
                if body.get("includeExecutionData") == Some(&Value::Bool(false)) {
                    for ev in &mut events {
                        strip_data(ev);
                    }
                }
                let (items, next) = page(body, &events, 100)?;
                Ok(with_token(json!({"events": items}), next))
            }
            "TestState" => {
                let input: Value = match optional(body, "input")? {
                    None => json!({}),
                    Some(t) => serde_json::from_str(t).map_err(|e| {
                        error(400, "InvalidExecutionInput", &format!("Invalid input: {e}"))
                    })?,
                };
                let level = optional(body, "inspectionLevel")?.unwrap_or("INFO");
                if !matches!(level, "INFO" | "DEBUG" | "TRACE") {
                    return Err(error(
                        400,
                        "ValidationException",
                        &format!(
                            "1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
                        ),
                    ));
                }
                let variables = match optional(body, "variables")? {
                    None => Map::new(),
                    Some(t) => match serde_json::from_str::<Value>(t) {
                        Ok(Value::Object(o)) => o,
                        _ => {
                            return Err(error(
                                400,
                                "ValidationException",
                                "variables must be a JSON object of variable names and values",
                            ));
                        }
                    },
                };
                let r = state_machines::test_state(
                    string(body, "definition")?,
                    &input,
                    variables,
                    &self.env,
                )
                .map_err(|e| sfn_error(&e))?;
                let mut v = json!({"status": r.status});
                if let Some(o) = &r.output {
                    v["output"] = json!(o.to_string());
                }
                if let Some(n) = &r.next_state {
                    v["nextState"] = json!(n);
                }
                if let Some((err, cause)) = &r.error {
                    v["error"] = json!(err);
                    v["cause"] = json!(cause);
                }
                if level != "INFO" {
                    let i = &r.inspection;
                    v["inspectionData"] = json!({
                        "input": i.input.to_string(),
                        "afterInputPath": i.after_input_path.to_string(),
                        "afterParameters": i.after_parameters.to_string(),
                        "result": i.result.to_string(),
                        "afterResultSelector": i.after_result_selector.to_string(),
                        "afterResultPath": i.after_result_path.to_string(),
                        "variables": r.variables.to_string(),
                    });
                }
                Ok(v)
            }
            other => Err(error(
                400,
                "UnknownOperationException",
                &format!("{other} is not an operation of this Step Functions API"),
            )),
        }
    }
}

fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["nextToken"] = json!(t);
    }
    v
}

/// `includeExecutionData: false`: inputs and outputs left out of the details.
fn strip_data(event: &mut Value) {
    if let Some(o) = event.as_object_mut() {
        for (k, d) in o.iter_mut() {
            if k.ends_with("EventDetails")
                && let Some(d) = d.as_object_mut()
            {
                d.remove("input");
                d.remove("output");
            }
        }
    }
}

impl Face for StepFunctionsApi {
    fn body_limit(&self, _method: &str, _path: &str) -> usize {
        BODY_LIMIT
    }

    fn handle(&self, request: HttpRequest) -> HttpResponse {
        if request.method != "POST" {
            return error(
                405,
                "UnknownOperationException",
                "the Step Functions API takes POST requests",
            );
        }
        let Some(op) = request
            .header("x-amz-target")
            .and_then(|t| t.strip_prefix("AWSStepFunctions."))
            .map(str::to_owned)
        else {
            return error(
                400,
                "UnknownOperationException",
                "X-Amz-Target: AWSStepFunctions.<Operation> is missing",
            );
        };
        let body: Map<String, Value> = if request.body.is_empty() {
            Map::new()
        } else {
            match serde_json::from_slice::<Value>(&request.body) {
                Ok(Value::Object(o)) => o,
                Ok(_) => {
                    return error(
                        400,
                        "SerializationException",
                        "the request body must be a JSON object",
                    );
                }
                Err(e) => {
                    return error(
                        400,
                        "SerializationException",
                        &format!("the request body is not JSON: {e}"),
                    );
                }
            }
        };
        match self.operation(&op, &body) {
            Ok(v) => reply(&v),
            Err(r) => r,
        }
    }

    fn refuse(&self, refusal: Refusal) -> HttpResponse {
        match refusal {
            Refusal::TooLarge { limit, size } => error(
                413,
                "ValidationException",
                &format!("the request body ({size} bytes) is over {limit} bytes"),
            ),
            Refusal::SlowBody => error(
                408,
                "RequestTimeout",
                "the request body did not arrive in time",
            ),
            Refusal::BadBody => error(
                400,
                "SerializationException",
                "the request body could not be read",
            ),
        }
    }
}
