//! State machine benchmarks: transitions per second through a 1,000-state
//! `Pass` chain, a `Task` state's overhead over invoking the same function
//! directly (the baseline, in the same process), and an execution's start
//! through the Step Functions API to its first state.
//!
//! `cargo bench --bench states` (release build).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdesk::host::async_queue::Clock;
use lambdesk::host::states::{self, Env, InvokeFn};
use lambdesk::model::FunctionConfig;
use lambdesk::model::states::definition;
use lambdesk::runtime::{InvokeOptions, Runtime, RuntimeOptions};
use serde_json::{Value, json};

mod support;
use support::{measure, median};

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn run(machine: &Arc<definition::StateMachine>, env: &Env, input: Value) -> Duration {
    let started = Instant::now();
    let exec = states::start(
        machine.clone(),
        "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
        "b",
        input,
        env.clone(),
    )
    .expect("start");
    assert!(exec.wait(Duration::from_secs(60)));
    let r = exec.record();
    assert_eq!(r.status, states::Status::Succeeded, "{:?}", r.error);
    started.elapsed()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-states-{}", std::process::id()));
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.join("cache")),
        scratch_dir: dir.join("scratch"),
        cpu_share: lambdesk::model::CpuShare::Off,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-functions/dist/hello.wasm");
    rt.deploy(
        "hello",
        &hello,
        FunctionConfig {
            handler: "handler".into(),
            ..FunctionConfig::default()
        },
    )
    .expect("deploy");
    let r2 = rt.clone();
    let invoke: InvokeFn = Arc::new(move |target, payload, cancel| {
        r2.invoke_with(
            target,
            payload,
            &InvokeOptions {
                cancel: Some(cancel.clone()),
                ..InvokeOptions::default()
            },
        )
    });
    let env = Env {
        invoke,
        clock: Clock::new(1.0),
    };

    // 1,000 Pass states in a chain.
    let mut states = serde_json::Map::new();
    for i in 0..1000 {
        let mut s = json!({"Type": "Pass", "Result": {"step": i}, "ResultPath": "$.last"});
        if i < 999 {
            s["Next"] = json!(format!("S{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        states.insert(format!("S{i}"), s);
    }
    let chain = Arc::new(
        definition::parse_value(&json!({"StartAt": "S0", "States": states})).expect("chain"),
    );
    for _ in 0..3 {
        run(&chain, &env, json!({"x": 1}));
    }
    let chain_time = median(
        (0..15)
            .map(|_| run(&chain, &env, json!({"x": 1})))
            .collect(),
    );
    let per_second = 1000.0 / chain_time.as_secs_f64();

    // A Task against invoking the same function directly, per call: a
    // 100-Task chain against 100 direct invokes.
    let mut tasks = serde_json::Map::new();
    for i in 0..100 {
        let mut s = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hello", "ResultPath": null});
        if i < 99 {
            s["Next"] = json!(format!("T{}", i + 1));
        } else {
            s["End"] = json!(true);
        }
        tasks.insert(format!("T{i}"), s);
    }
    let task_chain = Arc::new(
        definition::parse_value(&json!({"StartAt": "T0", "States": tasks})).expect("tasks"),
    );
    let event = json!({"name": "bench"});
    let payload = event.to_string();
    let direct = measure(200, 2_000, || {
        rt.invoke("hello", payload.as_bytes()).expect("invoke");
    });
    for _ in 0..3 {
        run(&task_chain, &env, event.clone());
    }
    let task_each = median(
        (0..15)
            .map(|_| run(&task_chain, &env, event.clone()) / 100)
            .collect(),
    );

    // StartExecution through the API to the first state entered.
    let host_dir = dir.join("host");
    let mut options = lambdesk::host::HostOptions::new(host_dir.join("queue"));
    options.lambda_port = 0;
    options.sfn_port = 0;
    let host = lambdesk::api::start_host(rt.clone(), options).expect("host");
    let addr = host.sfn_addr().expect("sfn");
    host.state_machines()
        .create(
            "one",
            &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string(),
            "STANDARD",
            "",
        )
        .expect("machine");
    let mut round_trips = Vec::new();
    let mut to_first_state = Vec::new();
    for _ in 0..200 {
        let body =
            json!({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:one"})
                .to_string();
        let sent = chrono::Utc::now();
        let started = Instant::now();
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        write!(s, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).expect("write");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("read");
        round_trips.push(started.elapsed());
        let arn = reply
            .split("\"executionArn\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("arn")
            .to_owned();
        let exec = host.state_machines().execution(&arn).expect("execution");
        assert!(exec.wait(Duration::from_secs(10)));
        let r = exec.record();
        let entered = r
            .events
            .iter()
            .find(|e| e.kind == "PassStateEntered")
            .expect("entered");
        to_first_state.push((entered.timestamp - sent).to_std().unwrap_or_default());
    }
    let round_trip = median(round_trips);
    let first_state = median(to_first_state);
    println!("state machines (medians):");
    println!(
        "  1,000-state Pass chain                        {:>9.2} ms = {:>9.0} transitions/s (target ≥ 100,000)",
        chain_time.as_secs_f64() * 1e3,
        per_second
    );
    println!(
        "  direct invoke of hello (baseline)             {:>9.1} µs",
        us(direct)
    );
    println!(
        "  Task state invoking hello (per state)         {:>9.1} µs; overhead {:.1} µs (target ≤ 20 µs)",
        us(task_each),
        us(task_each.saturating_sub(direct))
    );
    println!(
        "  StartExecution round trip (new connection)    {:>9.1} µs",
        us(round_trip)
    );
    println!(
        "  StartExecution sent to its first state entered {:>8.1} µs",
        us(first_state)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
