//! State machines (`host/states.rs` over `model/states/`): executions over
//! the real sample functions, their histories as AWS records them, Retry on
//! the fast clock, Catch, Parallel and Map, timeouts and stops, and the
//! `lambdesk states` command line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdesk::host::async_queue::Clock;
use lambdesk::host::states::{self, Env, Execution, InvokeFn, Record, Status};
use lambdesk::model::FunctionConfig;
use lambdesk::model::states::definition;
use lambdesk::runtime::InvokeOptions;
use serde_json::{Value, json};

use crate::common::{TestRuntime, config, runtime, sample};

fn functions() -> TestRuntime {
    let t = runtime();
    t.runtime
        .deploy("sum", &sample("sum.wasm"), config("_start"))
        .unwrap();
    t.runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    t.runtime
        .deploy(
            "behave",
            &sample("behave.wasm"),
            FunctionConfig {
                timeout_s: 10,
                ..config("handler")
            },
        )
        .unwrap();
    t
}

fn env(t: &TestRuntime, speed: f64) -> Env {
    let rt = t.runtime.clone();
    let invoke: InvokeFn = Arc::new(move |target, payload, cancel| {
        rt.invoke_with(
            target.strip_suffix(":$LATEST").unwrap_or(target),
            payload,
            &InvokeOptions {
                cancel: Some(cancel.clone()),
                ..InvokeOptions::default()
            },
        )
    });
    Env {
        invoke,
        clock: Clock::new(speed),
    }
}

fn start(t: &TestRuntime, speed: f64, definition: Value, input: Value) -> Execution {
    let machine = definition::parse_value(&definition).unwrap_or_else(|p| panic!("{p:#?}"));
    states::start(
        Arc::new(machine),
        "arn:aws:states:us-east-1:123456789012:stateMachine:test",
        "run-1",
        input,
        env(t, speed),
    )
    .unwrap()
}

fn run(t: &TestRuntime, definition: Value, input: Value) -> Record {
    let exec = start(t, 1.0, definition, input);
    assert!(exec.wait(Duration::from_secs(60)), "the execution ended");
    exec.record()
}

fn output(r: &Record) -> Value {
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    serde_json::from_str(r.output.as_deref().unwrap()).unwrap()
}

fn kinds(r: &Record) -> Vec<&str> {
    r.events.iter().map(|e| e.kind.as_str()).collect()
}

const SUM: &str = "arn:aws:lambda:eu-west-3:999999999999:function:sum";

#[test]
fn a_task_calls_the_local_function_by_any_arn_and_the_history_is_awss() {
    let r = run(
        &functions(),
        json!({
            "StartAt": "Add",
            "States": {
                "Add": {"Type": "Task", "Resource": SUM, "ResultPath": "$.sum", "Next": "Big?"},
                "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.sum", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": true},
                "Small": {"Type": "Succeed"}
            }
        }),
        json!({"value1": 7, "value2": 5}),
    );
    assert_eq!(
        output(&r),
        json!({"value1": 7, "value2": 5, "sum": 12, "size": "big"})
    );
    assert_eq!(
        kinds(&r),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    // Ids count up and each event follows the one before it.
    for (i, e) in r.events.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert_eq!(e.previous_event_id, i as u64);
    }
    let scheduled = r.events[2].to_json();
    assert_eq!(
        scheduled["lambdaFunctionScheduledEventDetails"]["resource"],
        SUM
    );
    assert_eq!(
        scheduled["lambdaFunctionScheduledEventDetails"]["input"],
        "{\"value1\":7,\"value2\":5}"
    );
    let exited = r.events[5].to_json();
    assert_eq!(exited["stateExitedEventDetails"]["name"], "Add");
    assert_eq!(r.transitions, 3);
}

#[test]
fn the_optimised_lambda_invoke_wraps_the_result_as_aws() {
    let r = run(
        &functions(),
        json!({
            "StartAt": "Invoke",
            "States": {"Invoke": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST", "Payload": {"name.$": "$.who"}},
                "ResultSelector": {"message.$": "$.Payload.message", "status.$": "$.StatusCode", "version.$": "$.ExecutedVersion"},
                "End": true
            }}
        }),
        json!({"who": "Step Functions"}),
    );
    assert_eq!(
        output(&r),
        json!({"message": "Hello, Step Functions!", "status": 200, "version": "$LATEST"})
    );
    assert_eq!(
        kinds(&r)[2..5],
        ["TaskScheduled", "TaskStarted", "TaskSucceeded"]
    );
    let d = r.events[2].to_json();
    assert_eq!(d["taskScheduledEventDetails"]["resourceType"], "lambda");
    assert_eq!(d["taskScheduledEventDetails"]["resource"], "invoke");
}

#[test]
fn retry_backs_off_on_the_fast_clock_then_catch_takes_the_functions_error() {
    // 60 s, then 120 s of backoff: 180 s of clock time at 600x is 0.3 s.
    let t = functions();
    let started = Instant::now();
    let exec = start(
        &t,
        600.0,
        json!({
            "StartAt": "Flaky",
            "States": {
                "Flaky": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave",
                    "Retry": [{"ErrorEquals": ["BehaveError"], "IntervalSeconds": 60, "MaxAttempts": 2, "BackoffRate": 2}],
                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Handled"}],
                    "End": true
                },
                "Handled": {"Type": "Pass", "End": true}
            }
        }),
        json!({"action": "error"}),
    );
    assert!(exec.wait(Duration::from_secs(30)));
    let elapsed = started.elapsed();
    let r = exec.record();
    let out = output(&r);
    assert_eq!(out["error"]["Error"], "BehaveError");
    let cause: Value = serde_json::from_str(out["error"]["Cause"].as_str().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "behave was asked to fail");
    let attempts = kinds(&r)
        .iter()
        .filter(|k| **k == "LambdaFunctionScheduled")
        .count();
    assert_eq!(attempts, 3, "{:?}", kinds(&r));
    assert!(
        elapsed >= Duration::from_millis(290),
        "the backoff was waited: {elapsed:?}"
    );
    assert!(kinds(&r).contains(&"PassStateEntered"));
}

#[test]
fn states_runtime_is_not_caught_by_states_all() {
    let r = run(
        &functions(),
        json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Resource": SUM, "InputPath": "$.missing",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}], "End": true},
                "B": {"Type": "Succeed"}
            }
        }),
        json!({}),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().error, "States.Runtime");
    assert_eq!(kinds(&r).last(), Some(&"ExecutionFailed"));
}

#[test]
fn parallel_branches_run_at_once_and_a_failing_branch_fails_the_state() {
    let t = functions();
    let machine = |second: Value| {
        json!({
            "StartAt": "Both",
            "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave", "Parameters": {"action": "sleep", "ms": 300}, "ResultSelector": {"slept.$": "$.slept_ms"}, "End": true}}},
                {"StartAt": "Second", "States": {"Second": second}}
            ]}}
        })
    };
    let started = Instant::now();
    let r = run(
        &t,
        machine(
            json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave", "Parameters": {"action": "sleep", "ms": 300}, "ResultSelector": {"slept.$": "$.slept_ms"}, "End": true}),
        ),
        json!({}),
    );
    assert!(
        started.elapsed() < Duration::from_millis(590),
        "the branches overlapped"
    );
    let out = output(&r);
    assert_eq!(out.as_array().unwrap().len(), 2, "{out}");
    assert!(kinds(&r).contains(&"ParallelStateStarted"));
    assert!(kinds(&r).contains(&"ParallelStateSucceeded"));
    let r = run(
        &t,
        machine(json!({"Type": "Fail", "Error": "Custom.Error", "Cause": "branch two failed"})),
        json!({}),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().error, "Custom.Error");
    assert_eq!(r.error.as_ref().unwrap().cause, "branch two failed");
    assert!(kinds(&r).contains(&"ParallelStateFailed"));
}

#[test]
fn a_map_of_1000_items_keeps_their_order_under_max_concurrency() {
    let items: Vec<Value> = (0..1000).map(|i| json!({"n": i})).collect();
    let r = run(
        &functions(),
        json!({
            "StartAt": "Each",
            "States": {"Each": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 10,
                "ItemSelector": {"value1.$": "$$.Map.Item.Value.n", "value2.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Double", "States": {
                    "Double": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($.value1, $.value2)", "tag.$": "$.tag"}, "End": true}
                }},
                "End": true
            }}
        }),
        json!({"items": items, "tag": "t"}),
    );
    let out = output(&r);
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 1000);
    for (i, v) in out.iter().enumerate() {
        assert_eq!(v, &json!({"double": 2 * i, "tag": "t"}));
    }
    let started = kinds(&r)
        .iter()
        .filter(|k| **k == "MapIterationStarted")
        .count();
    assert_eq!(started, 1000);
    assert_eq!(
        r.events[2].to_json()["mapStateStartedEventDetails"]["length"],
        1000
    );
}

#[test]
fn a_map_over_a_function_and_its_tolerated_failures() {
    let t = functions();
    let machine = |tolerated: u64| {
        json!({
            "StartAt": "Each",
            "States": {"Each": {
                "Type": "Map", "MaxConcurrency": 4, "ToleratedFailureCount": tolerated,
                "ItemProcessor": {"StartAt": "Sum", "States": {
                    "Sum": {"Type": "Task", "Resource": SUM, "End": true}
                }},
                "End": true
            }}
        })
    };
    // The third item has no value2: sum fails it with a handled error.
    let input = json!([{"value1": 1, "value2": 2}, {"value1": 3, "value2": 4}, {"value1": 5}]);
    let r = run(&t, machine(1), input.clone());
    let out = output(&r);
    assert_eq!(out[0], 3);
    assert_eq!(out[1], 7);
    assert!(out[2]["Error"].is_string(), "{out}");
    let r = run(&t, machine(0), input);
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.error.as_ref().unwrap().error,
        "States.ExceedToleratedFailureThreshold"
    );
    assert!(kinds(&r).contains(&"MapIterationFailed"));
    assert!(kinds(&r).contains(&"MapStateFailed"));
}

#[test]
fn an_hour_of_wait_passes_in_a_tenth_of_a_second_on_the_fast_clock() {
    let t = functions();
    let started = Instant::now();
    let exec = start(
        &t,
        36_000.0,
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        json!({"x": 1}),
    );
    assert!(exec.wait(Duration::from_secs(10)));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(output(&exec.record()), json!({"x": 1}));
}

#[test]
fn task_timeout_obeyed_and_violated() {
    let t = functions();
    let machine = |ms: u64| {
        json!({
            "StartAt": "Slow",
            "States": {
                "Slow": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave",
                         "Parameters": {"action": "sleep", "ms": ms}, "TimeoutSeconds": 1,
                         "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "TooSlow"}], "End": true},
                "TooSlow": {"Type": "Fail", "Error": "TooSlow", "Cause": "the task timed out"}
            }
        })
    };
    let r = run(&t, machine(100), json!({}));
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    let started = Instant::now();
    let r = run(&t, machine(5_000), json!({}));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cancelled at the timeout"
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().error, "TooSlow");
    assert!(kinds(&r).contains(&"LambdaFunctionFailed"));
}

#[test]
fn stopped_and_timed_out_executions() {
    let t = functions();
    let exec = start(
        &t,
        1.0,
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
        json!({}),
    );
    std::thread::sleep(Duration::from_millis(100));
    exec.stop(Some("Operator".into()), Some("no longer needed".into()));
    assert!(exec.wait(Duration::from_secs(5)));
    let r = exec.record();
    assert_eq!(r.status, Status::Aborted);
    assert_eq!(kinds(&r).last(), Some(&"ExecutionAborted"));
    assert_eq!(
        r.events.last().unwrap().to_json()["executionAbortedEventDetails"]["cause"],
        "no longer needed"
    );
    let exec = start(
        &t,
        1.0,
        json!({"StartAt": "W", "TimeoutSeconds": 1, "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}),
        json!({}),
    );
    assert!(exec.wait(Duration::from_secs(5)));
    let r = exec.record();
    assert_eq!(r.status, Status::TimedOut);
    assert_eq!(kinds(&r).last(), Some(&"ExecutionTimedOut"));
}

fn lambdesk(args: &[&str]) -> std::process::Output {
    let cache = crate::common::TempDir::new("states-cli");
    std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args(args)
        .env("LAMBDESK_CACHE_DIR", cache.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_command_line_validates_and_runs() {
    let dir = crate::common::TempDir::new("states");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Done"}, "B": {"Type": "Wait"}}}"#,
    )
    .unwrap();
    let out = lambdesk(&["states", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/States/A/Next: 'Done' is not a state of this machine"),
        "{text}"
    );
    assert!(
        text.contains("/States/B: a Wait state has exactly one of"),
        "{text}"
    );
    let good = dir.path().join("add.json");
    std::fs::write(
        &good,
        json!({"StartAt": "Add", "States": {"Add": {"Type": "Task", "Resource": SUM, "End": true}}}).to_string(),
    )
    .unwrap();
    let function = format!("sum={}", sample("sum.wasm").display());
    let out = lambdesk(&[
        "states",
        "run",
        good.to_str().unwrap(),
        "--function",
        &function,
        "--input",
        r#"{"value1": 2, "value2": 40}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let out = lambdesk(&[
        "states",
        "run",
        good.to_str().unwrap(),
        "--function",
        &function,
        "--input",
        r#"{"value1": 2}"#,
        "--history",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let history: Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = history["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["type"], "ExecutionFailed");
    assert_eq!(last["executionFailedEventDetails"]["error"], "InvalidInput");
}

#[test]
fn the_command_line_tests_one_state() {
    let dir = crate::common::TempDir::new("test-state");
    let state = dir.path().join("state.json");
    std::fs::write(
        &state,
        json!({"Type": "Task", "Resource": SUM, "InputPath": "$.pair", "ResultPath": "$.sum", "Next": "Done"}).to_string(),
    )
    .unwrap();
    let function = format!("sum={}", sample("sum.wasm").display());
    let out = lambdesk(&[
        "states",
        "test-state",
        state.to_str().unwrap(),
        "--function",
        &function,
        "--input",
        r#"{"pair": {"value1": 4, "value2": 5}}"#,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status"], "SUCCEEDED");
    assert_eq!(r["nextState"], "Done");
    assert_eq!(r["output"]["sum"], 9);
    assert_eq!(
        r["inspectionData"]["afterInputPath"],
        json!({"value1": 4, "value2": 5})
    );
    assert_eq!(r["inspectionData"]["result"], 9);
    // A Parallel state cannot be tested alone, as in AWS.
    std::fs::write(
        &state,
        r#"{"Type": "Parallel", "End": true, "Branches": []}"#,
    )
    .unwrap();
    let out = lambdesk(&["states", "test-state", state.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn jsonata_states_run_with_arguments_output_conditions_and_items() {
    let t = functions();
    let r = run(
        &t,
        json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Add",
            "States": {
                "Add": {
                    "Type": "Task", "Resource": SUM,
                    "Arguments": {"value1": "{% $states.input.a %}", "value2": "{% $states.input.b %}"},
                    "Output": {"total": "{% $states.result %}", "list": "{% $states.input.list %}"},
                    "Next": "Big?"
                },
                "Big?": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.total > 10 %}", "Next": "Each"}], "Default": "Small"},
                "Each": {
                    "Type": "Map", "Items": "{% $states.input.list %}",
                    "ItemSelector": {"value1": "{% $states.context.Map.Item.Value %}", "value2": "{% $states.context.Map.Item.Index %}"},
                    "ItemProcessor": {"StartAt": "AddOne", "States": {"AddOne": {"Type": "Task", "Resource": SUM, "End": true}}},
                    "Output": "{% $sum($states.result) %}",
                    "Next": "Pause"
                },
                "Pause": {"Type": "Wait", "Seconds": "{% 0 %}", "Next": "Done"},
                "Done": {"Type": "Pass", "Output": {"sumOfSums": "{% $states.input %}", "id": "{% $length($uuid()) %}"}, "End": true},
                "Small": {"Type": "Fail", "Error": "Small", "Cause": "{% 'only ' & $string($states.input.total) %}"}
            }
        }),
        json!({"a": 7, "b": 5, "list": [10, 20, 30]}),
    );
    // (10+0) + (20+1) + (30+2) = 63
    assert_eq!(output(&r), json!({"sumOfSums": 63, "id": 36}));
    let r = run(
        &t,
        json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Add",
            "States": {
                "Add": {"Type": "Task", "Resource": SUM, "Output": {"total": "{% $states.result %}"}, "Next": "Big?"},
                "Big?": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.total > 10 %}", "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Succeed"},
                "Small": {"Type": "Fail", "Error": "Small", "Cause": "{% 'only ' & $string($states.input.total) %}"}
            }
        }),
        json!({"value1": 1, "value2": 2}),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().error, "Small");
    assert_eq!(r.error.as_ref().unwrap().cause, "only 3");
}

#[test]
fn jsonata_catch_output_and_query_errors() {
    let t = functions();
    let r = run(
        &t,
        json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Fails",
            "States": {
                "Fails": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave",
                    "Arguments": {"action": "error"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {"caught": "{% $states.errorOutput.Error %}", "was": "{% $states.input.tag %}"}, "Next": "After"}],
                    "End": true
                },
                "After": {"Type": "Pass", "End": true}
            }
        }),
        json!({"tag": "t1"}),
    );
    assert_eq!(output(&r), json!({"caught": "BehaveError", "was": "t1"}));
    let r = run(
        &t,
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $partition($states.input, 0) %}", "End": true}}}),
        json!([1, 2]),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.error.as_ref().unwrap().error,
        "States.QueryEvaluationError"
    );
}

#[test]
fn jsonata_and_jsonpath_fields_do_not_mix() {
    let problems = definition::parse_value(&json!({
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "InputPath": "$.x", "Output": "{% $states.input.( %}", "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "C"}], "Default": "C"},
            "C": {"Type": "Pass", "QueryLanguage": "JSONPath", "Arguments": {}, "End": true}
        }
    }))
    .unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for want in [
        "/States/A/InputPath: 'InputPath' is a JSONPath field; a JSONata state uses Arguments and Output",
        "/States/B/Choices/0: a JSONata choice rule has a Condition ({% … %}) and Next",
        "/States/C/QueryLanguage: a JSONPath state cannot be inside a JSONata machine (the other way round is allowed)",
        "/States/C/Arguments: 'Arguments' is a JSONata field; set QueryLanguage: JSONata to use it",
    ] {
        assert!(text.iter().any(|t| t == want), "missing {want}\n{text:#?}");
    }
    assert!(
        text.iter()
            .any(|t| t.starts_with("/States/A/Output: the JSONata expression is not valid")),
        "{text:#?}"
    );
}

#[test]
fn an_endless_loop_fails_at_the_history_limit() {
    let started = Instant::now();
    let r = run(
        &functions(),
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"}
        }}),
        json!({}),
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_ref().unwrap().error, "States.Runtime");
    assert!(
        r.error.as_ref().unwrap().cause.contains("25000"),
        "{:?}",
        r.error
    );
    assert_eq!(r.events.len(), 25_001, "the limit, and the failure itself");
    assert_eq!(kinds(&r).last(), Some(&"ExecutionFailed"));
}

#[test]
fn variables_are_assigned_from_results_and_read_by_later_states() {
    let t = functions();
    let r = run(
        &t,
        json!({
            "StartAt": "Remember",
            "States": {
                "Remember": {"Type": "Pass", "Parameters": {"order.$": "$.order"}, "ResultPath": null,
                             "Assign": {"order.$": "$.order", "greeting": "hi", "a": 1, "b": 2}, "Next": "Add"},
                "Add": {"Type": "Task", "Resource": SUM, "Parameters": {"value1.$": "$order.qty", "value2.$": "$b"},
                        "ResultSelector": {"total.$": "$"},
                        "Assign": {"total.$": "$.total", "a.$": "$b", "b.$": "$a", "count.$": "States.MathAdd($a, 100)"},
                        "OutputPath": "$.total", "Next": "Check"},
                "Check": {"Type": "Choice",
                          "Choices": [{"Variable": "$total", "NumericGreaterThan": 5, "Assign": {"size": "big"}, "Next": "Done"}],
                          "Default": "Done", "Assign": {"size": "small"}},
                "Done": {"Type": "Pass", "Parameters": {"order.$": "$order.id", "total.$": "$total", "a.$": "$a", "b.$": "$b",
                                                         "count.$": "$count", "size.$": "$size", "hello.$": "States.Format('{} #{}', $greeting, $order.id)"},
                         "End": true}
            }
        }),
        json!({"order": {"id": "o-1", "qty": 4}}),
    );
    // `a` and `b` swap: every value is worked out from the variables before the state.
    assert_eq!(
        output(&r),
        json!({"order": "o-1", "total": 6, "a": 2, "b": 1, "count": 101, "size": "big", "hello": "hi #o-1"})
    );
    // The history names what each state assigned, as AWS's `assignedVariables`.
    let exited: Vec<Value> = r
        .events
        .iter()
        .filter(|e| e.kind == "TaskStateExited")
        .map(|e| e.to_json()["stateExitedEventDetails"].clone())
        .collect();
    assert_eq!(exited[0]["assignedVariables"]["total"], "6");
    assert_eq!(exited[0]["assignedVariables"]["a"], "2");
    assert_eq!(exited[0]["assignedVariablesDetails"]["truncated"], false);
    // An unknown variable is an error the execution fails with.
    let r = run(
        &t,
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x.$": "$nothing"}, "End": true}}}),
        json!({}),
    );
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.error.as_ref().unwrap().error,
        "States.ParameterPathFailure"
    );
}

#[test]
fn jsonata_variables_scopes_in_map_and_catch_assign() {
    let t = functions();
    let r = run(
        &t,
        json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Init",
            "States": {
                "Init": {"Type": "Pass", "Assign": {"factor": 10, "seen": "outer"}, "Output": "{% $states.input %}", "Next": "Each"},
                "Each": {
                    "Type": "Map", "Items": "{% $states.input.items %}",
                    "ItemProcessor": {"StartAt": "Scale", "States": {
                        // An iteration reads the outer `factor`; what it assigns stays inside it
                        // (and it cannot assign an outer name such as `seen`: refused at validation).
                        "Scale": {"Type": "Pass", "Assign": {"note": "{% 'inner ' & $string($states.input) %}"},
                                  "Output": "{% $states.input * $factor %}", "Next": "Show"},
                        "Show": {"Type": "Pass", "Output": "{% [$states.input, $note] %}", "End": true}
                    }},
                    "Assign": {"scaled": "{% $states.result %}"},
                    // Output sees the variables from before the state: `scaled` is not set yet.
                    "Output": "{% {'seen': $seen, 'scaled': $exists($scaled)} %}",
                    "Next": "Fails"
                },
                "Fails": {
                    "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:behave",
                    "Arguments": {"action": "error"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"failure": "{% $states.errorOutput.Error %}"}, "Next": "Report"}],
                    "End": true
                },
                "Report": {"Type": "Pass", "Output": "{% {'scaled': $scaled, 'seen': $seen, 'failure': $failure, 'seeded': $random(7) = $random(7), 'unit': $random() < 1} %}", "End": true}
            }
        }),
        json!({"items": [1, 2]}),
    );
    assert_eq!(
        output(&r),
        json!({"scaled": [[10, "inner 1"], [20, "inner 2"]], "seen": "outer", "failure": "BehaveError", "seeded": true, "unit": true})
    );
    let map_exit = r
        .events
        .iter()
        .find(|e| e.kind == "MapStateExited")
        .unwrap()
        .to_json();
    assert_eq!(
        map_exit["stateExitedEventDetails"]["output"],
        "{\"scaled\":false,\"seen\":\"outer\"}"
    );
}

#[test]
fn assign_is_validated_where_it_is_written() {
    let problems = definition::parse_value(&json!({
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"states": 1, "2x": 2, "ok.$": "$..[", "fine": 3}, "Next": "B"},
            "B": {"Type": "Choice", "Choices": [{"Variable": "$fine", "NumericEquals": 3, "Assign": "no", "Next": "C"}], "Default": "C"},
            "C": {"Type": "Succeed"}
        }
    }))
    .unwrap_err();
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for want in [
        "/States/A/Assign/states: 'states' is reserved",
        "/States/A/Assign/2x: '2x' is not a variable name (a letter or _, then letters, digits or _; at most 80)",
        "/States/B/Choices/0/Assign: Assign must be an object of variable names and values",
    ] {
        assert!(text.iter().any(|t| t == want), "missing {want}\n{text:#?}");
    }
    assert!(
        text.iter()
            .any(|t| t.starts_with("/States/A/Assign/ok.$: ")),
        "{text:#?}"
    );
    assert_eq!(text.len(), 4, "{text:#?}");
}

#[test]
fn heartbeat_seconds_ends_a_task_that_sends_none() {
    let t = functions();
    let machine = |catch: &str| {
        json!({
            "StartAt": "Slow",
            "States": {
                "Slow": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "behave", "Payload": {"action": "sleep", "ms": 3000}},
                         "TimeoutSeconds": 30, "HeartbeatSeconds": 1,
                         "Catch": [{"ErrorEquals": [catch], "ResultPath": "$.error", "Next": "Late"}], "End": true},
                "Late": {"Type": "Pass", "OutputPath": "$.error", "End": true}
            }
        })
    };
    let r = run(&t, machine("States.HeartbeatTimeout"), json!({}));
    let out = output(&r);
    assert_eq!(out["Error"], "States.HeartbeatTimeout");
    assert_eq!(
        out["Cause"],
        "Task timed out after 1 seconds (HeartbeatSeconds of 'Slow')"
    );
    let scheduled = r
        .events
        .iter()
        .find(|e| e.kind == "TaskScheduled")
        .unwrap()
        .to_json();
    assert_eq!(
        scheduled["taskScheduledEventDetails"]["heartbeatInSeconds"],
        1
    );
    // States.Timeout names heartbeat timeouts too; States.TaskFailed does not.
    assert_eq!(
        output(&run(&t, machine("States.Timeout"), json!({})))["Error"],
        "States.HeartbeatTimeout"
    );
    assert_eq!(
        run(&t, machine("States.TaskFailed"), json!({})).status,
        Status::Failed
    );
    let problems = definition::parse_value(&json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": SUM, "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": true}}}))
    .unwrap_err();
    assert_eq!(
        problems[0].to_string(),
        "/States/T/HeartbeatSeconds: HeartbeatSeconds (5) must be smaller than TimeoutSeconds (5)"
    );
}
