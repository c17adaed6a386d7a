//! The runtime over the real sample functions: responses, warm state, limits
//! (in `_obeyed` / `_violated` pairs), errors, logs, concurrency and caching.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambdesk::model::{FunctionConfig, Mount};
use lambdesk::runtime::{
    CodeError, CodeSource, DeployError, ErrorKind, InvokeError, InvokeOptions, LogKind, ModuleKind,
    Outcome, StartKind,
};
use serde_json::{Value, json};

use crate::common::{Logs, TempDir, config, runtime, runtime_in, sample, wat};

fn response(inv: &lambdesk::runtime::Invocation) -> Value {
    match &inv.outcome {
        Outcome::Response(bytes) => serde_json::from_slice(bytes).unwrap(),
        Outcome::Error(e) => panic!("expected a response, got {e:?}"),
    }
}

fn error(inv: &lambdesk::runtime::Invocation) -> &lambdesk::runtime::FunctionError {
    inv.error().unwrap_or_else(|| {
        panic!(
            "expected an error, got {:?}",
            String::from_utf8_lossy(&inv.payload())
        )
    })
}

fn behave(rt: &lambdesk::runtime::Runtime, f: impl FnOnce(&mut FunctionConfig)) {
    let mut c = config("handler");
    f(&mut c);
    rt.deploy("behave", &sample("behave.wasm"), c).unwrap();
}

#[test]
fn hello_greets_and_echoes_the_event() {
    let t = runtime();
    let info = t
        .runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    assert!(matches!(
        info.kind,
        ModuleKind::Handler {
            has_initialize: true,
            ..
        }
    ));
    let inv = t
        .runtime
        .invoke("hello", br#"{"name":"Ada","n":1}"#)
        .unwrap();
    assert_eq!(
        response(&inv),
        json!({"message": "Hello, Ada!", "event": {"name": "Ada", "n": 1}})
    );
    assert_eq!(inv.start, StartKind::Cold);
    assert_eq!(
        t.runtime.invoke("hello", b"{}").unwrap().start,
        StartKind::Warm
    );
}

#[test]
fn sum_adds_and_reports_missing_values_as_handled_errors() {
    let t = runtime();
    let info = t
        .runtime
        .deploy("sum", &sample("sum.wasm"), config("_start"))
        .unwrap();
    assert_eq!(info.kind, ModuleKind::Command);
    let inv = t
        .runtime
        .invoke("sum", br#"{"value1": 20, "value2": 22}"#)
        .unwrap();
    assert_eq!(inv.payload().as_ref(), b"42");
    let inv = t.runtime.invoke("sum", br#"{"value1": 1}"#).unwrap();
    let e = error(&inv);
    assert_eq!(e.kind, ErrorKind::Handled);
    assert_eq!(e.error_type, "InvalidInput");
    assert_eq!(e.error_message, "`value2` must be a number");
}

#[test]
fn s3_object_info_answers_bucket_and_key() {
    let t = runtime();
    t.runtime
        .deploy("s3", &sample("s3-object-info.wasm"), config("_start"))
        .unwrap();
    let event = lambdesk::model::events::template("s3-put").unwrap().body;
    let inv = t.runtime.invoke("s3", event.as_bytes()).unwrap();
    assert_eq!(
        response(&inv),
        json!({"bucket": "example-bucket", "key": "test/key", "size": 1024})
    );
}

#[test]
fn counter_keeps_state_while_warm_and_resets_when_cold() {
    let t = runtime();
    t.runtime
        .deploy("counter", &sample("counter.wasm"), config("handler"))
        .unwrap();
    let counts: Vec<u64> = (0..3)
        .map(|_| {
            response(&t.runtime.invoke("counter", b"{}").unwrap())["count"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(t.runtime.drop_environments("counter"), 1);
    let inv = t.runtime.invoke("counter", b"{}").unwrap();
    assert_eq!(inv.start, StartKind::Cold);
    assert_eq!(response(&inv)["count"], 1);
}

#[test]
fn hand_written_wat_samples_run() {
    let t = runtime();
    t.runtime
        .deploy("echo", &sample("echo.wat"), config("_start"))
        .unwrap();
    let event = br#"{ "spaced" :  [1, 2] }"#;
    assert_eq!(
        t.runtime.invoke("echo", event).unwrap().payload().as_ref(),
        event
    );
    t.runtime
        .deploy("ping", &sample("ping.wat"), config("handler"))
        .unwrap();
    let pongs: Vec<Vec<u8>> = (0..3)
        .map(|_| t.runtime.invoke("ping", b"{}").unwrap().payload().to_vec())
        .collect();
    assert_eq!(
        pongs,
        [
            b"{\"pong\":1}".to_vec(),
            b"{\"pong\":2}".to_vec(),
            b"{\"pong\":3}".to_vec()
        ]
    );
}

#[test]
fn phases_and_billing_distinguish_cold_from_warm() {
    let t = runtime();
    t.runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    let cold = t.runtime.invoke("hello", b"{}").unwrap();
    let (source, _) = cold.phases.load.unwrap();
    assert_eq!(source, CodeSource::Compiled);
    assert!(cold.phases.instantiate > Duration::ZERO);
    assert!(cold.report.init_duration_ms.is_some());
    let billed = (cold.phases.handler + cold.phases.init_total())
        .as_nanos()
        .div_ceil(1_000_000) as u64;
    assert_eq!(cold.report.billed_duration_ms, billed.max(1));
    // The compile is a phase of its own: neither Init Duration nor billed.
    let (_, compile) = cold.phases.load.unwrap();
    let init = cold.report.init_duration_ms.unwrap();
    assert!(
        (init - lambdesk::runtime::report::as_ms(cold.phases.instantiate + cold.phases.init)).abs()
            < 1e-9,
        "Init Duration {init} ms is instantiate + _initialize"
    );
    assert!(
        lambdesk::runtime::report::as_ms(compile) > init,
        "compiling hello ({compile:?}) takes longer than its INIT ({init} ms), and is not in it"
    );
    assert!((cold.report.billed_duration_ms as f64) < lambdesk::runtime::report::as_ms(compile));
    let warm = t.runtime.invoke("hello", b"{}").unwrap();
    assert!(warm.phases.load.is_none());
    assert_eq!(warm.phases.instantiate, Duration::ZERO);
    assert!(warm.report.init_duration_ms.is_none());
    assert!(warm.report.cost_usd > 0.0);
}

#[test]
fn second_runtime_loads_compiled_module_from_disk_cache() {
    let dir = TempDir::new("cache");
    let cache = dir.path().join("shared-cache");
    let make = |cache: &std::path::Path, scratch: &str| {
        lambdesk::runtime::Runtime::new(lambdesk::runtime::RuntimeOptions {
            cache_dir: Some(cache.to_owned()),
            scratch_dir: dir.path().join(scratch),
            pool_slots: 8,
            ..Default::default()
        })
        .unwrap()
    };
    let first = make(&cache, "a");
    let info = first
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    assert_eq!(info.load.0, CodeSource::Compiled);
    let second = make(&cache, "b");
    let info = second
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    assert_eq!(info.load.0, CodeSource::DiskCache);
    assert_eq!(
        second
            .invoke("hello", b"{}")
            .unwrap()
            .phases
            .load
            .unwrap()
            .0,
        CodeSource::DiskCache
    );
    // A damaged cache file is compiled again, not trusted.
    let file = std::fs::read_dir(&cache)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, b"garbage").unwrap();
    let third = make(&cache, "c");
    assert_eq!(
        third
            .deploy("hello", &sample("hello.wasm"), config("handler"))
            .unwrap()
            .load
            .0,
        CodeSource::Compiled
    );
}

#[test]
fn timeout_obeyed() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 1);
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"sleep","ms":200}"#)
        .unwrap();
    assert_eq!(response(&inv), json!({"slept_ms": 200}));
}

#[test]
fn timeout_violated_while_sleeping_in_a_host_call() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 1);
    let started = Instant::now();
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"sleep","ms":8000}"#)
        .unwrap();
    // The guest sleeps 8 s; the caller hears at the 1 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let e = error(&inv);
    assert_eq!(e.kind, ErrorKind::Unhandled);
    assert_eq!(e.error_message, "Task timed out after 1.00 seconds");
    assert_eq!(e.error_type, "Sandbox.Timedout");
    // The environment was discarded: the next start is cold.
    let next = t.runtime.invoke("behave", br#"{"action":"echo"}"#).unwrap();
    assert_eq!(next.start, StartKind::Cold);
}

#[test]
fn timeout_violated_while_spinning() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 1);
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"spin","ms":60000}"#)
        .unwrap();
    assert_eq!(
        error(&inv).error_message,
        "Task timed out after 1.00 seconds"
    );
    assert_eq!(t.runtime.environments("behave").len(), 0);
}

#[test]
fn timeout_message_has_two_decimals_of_the_configured_timeout() {
    let t = runtime();
    let dir = TempDir::new("loop");
    let path = wat(
        dir.path(),
        "loop",
        r#"(module (memory (export "memory") 1) (func (export "handler") (loop $l (br $l))))"#,
    );
    let c = FunctionConfig {
        timeout_s: 2,
        ..config("handler")
    };
    t.runtime.deploy("loop", &path, c).unwrap();
    let inv = t.runtime.invoke("loop", b"{}").unwrap();
    assert_eq!(
        error(&inv).error_message,
        "Task timed out after 2.00 seconds"
    );
}

#[test]
fn memory_obeyed() {
    let t = runtime();
    behave(&t.runtime, |c| c.memory_mb = 128);
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"alloc","mb":40}"#)
        .unwrap();
    assert_eq!(response(&inv)["allocated_mb"], 40);
    assert!(
        inv.report.max_memory_used_mb >= 40,
        "{}",
        inv.report.max_memory_used_mb
    );
    assert!(inv.report.max_memory_used_mb <= 128);
}

#[test]
fn memory_violated() {
    let t = runtime();
    behave(&t.runtime, |c| c.memory_mb = 128);
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"alloc","mb":200}"#)
        .unwrap();
    let e = error(&inv);
    assert_eq!(e.error_type, "Runtime.OutOfMemory");
    assert_eq!(
        e.error_message,
        "Runtime exited with error: memory limit of 128 MB exceeded"
    );
    // Max Memory Used is the peak reached: the memory size.
    assert_eq!(inv.report.max_memory_used_mb, 128);
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Cold
    );
    // More memory configured: the same request fits.
    behave(&t.runtime, |c| c.memory_mb = 512);
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"alloc","mb":200}"#)
        .unwrap();
    assert_eq!(response(&inv)["allocated_mb"], 200);
}

#[test]
fn panic_is_an_unhandled_trap_with_a_named_backtrace() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"panic"}"#)
        .unwrap();
    let e = error(&inv);
    assert_eq!(e.kind, ErrorKind::Unhandled);
    assert_eq!(e.error_type, "Runtime.Trap");
    assert!(
        e.stack_trace.iter().any(|f| f.contains("handler")),
        "{:?}",
        e.stack_trace
    );
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Cold
    );
}

#[test]
fn traps_in_wat_carry_function_names() {
    let t = runtime();
    let dir = TempDir::new("traps");
    let path = wat(
        dir.path(),
        "traps",
        r#"(module
            (memory (export "memory") 1)
            (func $explode unreachable)
            (func $divide (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
            (func $recurse (call $recurse))
            (func (export "unreachable") (call $explode))
            (func (export "divide") (drop (call $divide (i32.const 0))))
            (func (export "overflow") (call $recurse)))"#,
    );
    for (handler, message, frame) in [
        ("unreachable", "unreachable", "explode"),
        ("divide", "integer divide by zero", "divide"),
        ("overflow", "call stack exhausted", "recurse"),
    ] {
        t.runtime.deploy("traps", &path, config(handler)).unwrap();
        let inv = t.runtime.invoke("traps", b"{}").unwrap();
        let e = error(&inv);
        assert_eq!(e.error_type, "Runtime.Trap", "{handler}");
        assert!(
            e.error_message.contains(message),
            "{handler}: {}",
            e.error_message
        );
        assert!(
            e.stack_trace.iter().any(|f| f.contains(frame)),
            "{handler}: {:?}",
            e.stack_trace
        );
    }
}

#[test]
fn command_exit_status_is_a_runtime_exit_error() {
    let t = runtime();
    let dir = TempDir::new("exit");
    let path = wat(
        dir.path(),
        "exit",
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const 3))))"#,
    );
    t.runtime.deploy("exit", &path, config("_start")).unwrap();
    let e = error(&t.runtime.invoke("exit", b"{}").unwrap()).clone();
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert_eq!(e.error_message, "Runtime exited with error: exit status 3");
    assert_eq!(e.kind, ErrorKind::Unhandled);
}

#[test]
fn handled_errors_are_distinguishable_from_responses() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"error"}"#)
        .unwrap();
    let e = error(&inv);
    assert_eq!(e.kind, ErrorKind::Handled);
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("BehaveError", "behave was asked to fail")
    );
    let payload: Value = serde_json::from_slice(&inv.payload()).unwrap();
    assert_eq!(
        payload,
        json!({"errorType": "BehaveError", "errorMessage": "behave was asked to fail", "stackTrace": []})
    );
    // A handled error keeps the environment warm.
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Warm
    );
}

#[test]
fn payload_limits_obeyed() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    let big = format!(
        r#"{{"action":"echo","pad":"{}"}}"#,
        "x".repeat(5 * 1024 * 1024)
    );
    let inv = t.runtime.invoke("behave", big.as_bytes()).unwrap();
    assert_eq!(inv.payload().len(), big.len());
}

#[test]
fn payload_limits_violated() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    let too_big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(6 * 1024 * 1024));
    let err = t.runtime.invoke("behave", too_big.as_bytes()).unwrap_err();
    assert!(matches!(err, InvokeError::RequestTooLarge { .. }));
    assert_eq!(err.error_type(), "RequestTooLargeException");
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"output","bytes":7000000}"#)
        .unwrap();
    assert_eq!(error(&inv).error_type, "Function.ResponseSizeTooLarge");
    let err = t.runtime.invoke("behave", b"not json").unwrap_err();
    assert_eq!(err.error_type(), "InvalidRequestContentException");
    let err = t.runtime.invoke("nobody", b"{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:123456789012:function:nobody"
    );
}

#[test]
fn logs_come_in_lambdas_order_and_format() {
    let t = runtime();
    t.runtime
        .deploy("counter", &sample("counter.wasm"), config("handler"))
        .unwrap();
    let logs = Logs::default();
    let opts = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..Default::default()
    };
    let cold = t.runtime.invoke_with("counter", b"{}", &opts).unwrap();
    let warm = t.runtime.invoke_with("counter", b"{}", &opts).unwrap();
    let lines = logs.0.lock().unwrap().clone();
    let kinds: Vec<LogKind> = lines.iter().map(|(_, l)| l.kind).collect();
    use LogKind::*;
    assert_eq!(
        kinds,
        [
            Function, Start, Function, End, Report, Start, Function, End, Report
        ]
    );
    let texts = logs.texts();
    let id = &cold.request_id;
    assert_eq!(texts[1], format!("START RequestId: {id} Version: $LATEST"));
    assert_eq!(texts[3], format!("END RequestId: {id}"));
    let report = &texts[4];
    let fields: Vec<&str> = report.split('\t').collect();
    assert_eq!(fields[0], format!("REPORT RequestId: {id}"));
    assert!(fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"));
    assert!(fields[2].starts_with("Billed Duration: ") && fields[2].ends_with(" ms"));
    assert_eq!(fields[3], "Memory Size: 128 MB");
    assert!(fields[4].starts_with("Max Memory Used: ") && fields[4].ends_with(" MB"));
    assert!(fields[5].starts_with("Init Duration: ") && fields[5].ends_with(" ms"));
    assert_eq!(fields.len(), 6);
    assert_eq!(
        texts[8].split('\t').count(),
        5,
        "no Init Duration on a warm start: {}",
        texts[8]
    );
    // Every line carries function, stream and request id.
    for (_, l) in &lines[5..] {
        assert_eq!(&*l.request_id, warm.request_id);
        assert_eq!(&*l.function, "counter");
        assert_eq!(&*l.log_stream, warm.log_stream);
    }
    assert_eq!(cold.log_stream, warm.log_stream);
    assert!(cold.log_stream.contains("/[$LATEST]"));
}

#[test]
fn log_lines_stream_while_the_function_runs() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 10);
    let logs = Logs::default();
    let opts = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..Default::default()
    };
    t.runtime
        .invoke_with("behave", br#"{"action":"sleep","ms":2000}"#, &opts)
        .unwrap();
    let finished = Instant::now();
    let lines = logs.0.lock().unwrap().clone();
    let (at, _) = lines
        .iter()
        .find(|(_, l)| l.text == "sleeping 2000 ms")
        .unwrap();
    assert!(finished.duration_since(*at) >= Duration::from_millis(1500));
}

#[test]
fn log_flood_is_bounded_and_completes() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 60);
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = count.clone();
    let opts = InvokeOptions {
        log_sink: Some(Arc::new(move |_| {
            c2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })),
        ..Default::default()
    };
    let inv = t
        .runtime
        .invoke_with("behave", br#"{"action":"log","lines":100000}"#, &opts)
        .unwrap();
    assert_eq!(response(&inv), json!({"logged": 100000}));
    assert_eq!(
        count.load(std::sync::atomic::Ordering::Relaxed),
        100_000 + 3
    );

    // One endless line (64 MB, no newline) arrives as 256 KB pieces.
    let dir = TempDir::new("flood");
    let path = wat(
        dir.path(),
        "flood",
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 2)
            (func (export "_start") (local $i i32)
              (i32.store (i32.const 0) (i32.const 1024))
              (i32.store (i32.const 4) (i32.const 65536))
              (loop $l
                (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 1024))))))"#,
    );
    t.runtime
        .deploy(
            "flood",
            &path,
            FunctionConfig {
                timeout_s: 60,
                ..config("_start")
            },
        )
        .unwrap();
    let logs = Logs::default();
    let opts = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..Default::default()
    };
    t.runtime.invoke_with("flood", b"{}", &opts).unwrap();
    let lines = logs.0.lock().unwrap();
    let function_lines: Vec<usize> = lines
        .iter()
        .filter(|(_, l)| l.kind == LogKind::Function)
        .map(|(_, l)| l.text.len())
        .collect();
    assert_eq!(function_lines.len(), 256);
    assert!(function_lines.iter().all(|&n| n == 256 * 1024));
}

#[test]
fn reserved_concurrency_obeyed() {
    let t = runtime();
    behave(&t.runtime, |c| c.reserved_concurrency = Some(2));
    let rt = &t.runtime;
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            rt.invoke("behave", br#"{"action":"sleep","ms":300}"#)
                .unwrap()
        });
        let b = s.spawn(|| {
            rt.invoke("behave", br#"{"action":"sleep","ms":300}"#)
                .unwrap()
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(
        a.environment_id, b.environment_id,
        "parallel invocations use separate environments"
    );
    assert_eq!(rt.environments("behave").len(), 2);
}

#[test]
fn reserved_concurrency_violated() {
    let t = runtime();
    behave(&t.runtime, |c| c.reserved_concurrency = Some(1));
    let rt = &t.runtime;
    std::thread::scope(|s| {
        let slow = s.spawn(|| rt.invoke("behave", br#"{"action":"sleep","ms":1500}"#));
        // Wait until the slow one holds the only slot.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !rt.environments("behave").iter().any(|e| e.busy) {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        let err = rt.invoke("behave", b"{}").unwrap_err();
        assert_eq!(
            err,
            InvokeError::TooManyRequests {
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
        );
        assert!(slow.join().unwrap().is_ok());
    });
    behave(rt, |c| c.reserved_concurrency = Some(0));
    assert_eq!(
        rt.invoke("behave", b"{}").unwrap_err().error_type(),
        "TooManyRequestsException"
    );
}

#[test]
fn environment_and_context_are_lambdas() {
    let t = runtime();
    behave(&t.runtime, |c| {
        c.environment.insert("GREETING".into(), "hi".into());
        c.memory_mb = 256;
    });
    let env = response(&t.runtime.invoke("behave", br#"{"action":"env"}"#).unwrap());
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "behave");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/behave");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["_HANDLER"], "handler");
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task");
    let inv = t
        .runtime
        .invoke("behave", br#"{"action":"context"}"#)
        .unwrap();
    let ctx = response(&inv);
    assert_eq!(ctx["awsRequestId"], inv.request_id.as_str());
    assert_eq!(ctx["functionName"], "behave");
    assert_eq!(ctx["memoryLimitInMB"], 256);
    assert_eq!(
        ctx["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:behave"
    );
    assert_eq!(ctx["logStreamName"], inv.log_stream.as_str());
    assert_eq!(env["AWS_LAMBDA_LOG_STREAM_NAME"], inv.log_stream.as_str());
    let remaining = ctx["remainingTimeMs"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 3000, "{remaining}");
}

#[test]
fn tmp_is_private_and_persists_while_warm() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    let first = response(&t.runtime.invoke("behave", br#"{"action":"tmp"}"#).unwrap());
    assert_eq!(first["previous"], Value::Null);
    let second = response(&t.runtime.invoke("behave", br#"{"action":"tmp"}"#).unwrap());
    assert_eq!(second["previous"], first["written"]);
    t.runtime.drop_environments("behave");
    let third = response(&t.runtime.invoke("behave", br#"{"action":"tmp"}"#).unwrap());
    assert_eq!(third["previous"], Value::Null);
}

#[test]
fn role_mounts_grant_exactly_what_they_say() {
    let t = runtime();
    let data = TempDir::new("mount");
    std::fs::write(data.path().join("in.txt"), "from the host").unwrap();
    let out = TempDir::new("mount-rw");
    behave(&t.runtime, |c| {
        c.role.mounts = vec![
            Mount {
                host_path: data.path().to_owned(),
                guest_path: "/data".into(),
                read_only: true,
            },
            Mount {
                host_path: out.path().to_owned(),
                guest_path: "/out".into(),
                read_only: false,
            },
        ];
    });
    let read = response(
        &t.runtime
            .invoke("behave", br#"{"action":"read","path":"/data/in.txt"}"#)
            .unwrap(),
    );
    assert_eq!(read["content"], "from the host");
    let denied = t
        .runtime
        .invoke("behave", br#"{"action":"write","path":"/data/new.txt"}"#)
        .unwrap();
    assert_eq!(error(&denied).error_type, "IOError");
    assert!(!data.path().join("new.txt").exists());
    t.runtime
        .invoke("behave", br#"{"action":"write","path":"/out/new.txt"}"#)
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("new.txt")).unwrap(),
        "written by behave"
    );
    let outside = t
        .runtime
        .invoke("behave", br#"{"action":"read","path":"/etc/hostname"}"#)
        .unwrap();
    assert_eq!(error(&outside).error_type, "IOError");
}

#[test]
fn zip_bundles_expose_their_files_at_var_task() {
    use std::io::Write;
    let t = runtime();
    let dir = TempDir::new("zip");
    let zip_path = dir.path().join("bundle.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("bootstrap.wasm", opts).unwrap();
    zip.write_all(&std::fs::read(sample("behave.wasm")).unwrap())
        .unwrap();
    zip.start_file("config/settings.json", opts).unwrap();
    zip.write_all(br#"{"from":"bundle"}"#).unwrap();
    zip.finish().unwrap();
    t.runtime
        .deploy("bundle", &zip_path, config("handler"))
        .unwrap();
    let read = response(
        &t.runtime
            .invoke(
                "bundle",
                br#"{"action":"read","path":"/var/task/config/settings.json"}"#,
            )
            .unwrap(),
    );
    assert_eq!(read["content"], r#"{"from":"bundle"}"#);
    let write = t
        .runtime
        .invoke("bundle", br#"{"action":"write","path":"/var/task/x"}"#)
        .unwrap();
    assert_eq!(error(&write).error_type, "IOError");
}

#[test]
fn broken_code_gets_clear_errors() {
    let t = runtime();
    let dir = TempDir::new("broken");
    let p = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let err = |path: &std::path::Path, handler: &str| {
        t.runtime
            .deploy("broken", path, config(handler))
            .unwrap_err()
            .to_string()
    };
    assert!(err(&p("text.wasm", b"hello world"), "_start").starts_with("not a WebAssembly module"));
    assert!(
        err(&p("bad.wasm", b"\0asm\x01\0\0\0\xff\xff"), "_start")
            .starts_with("invalid WebAssembly module")
    );
    assert!(err(&p("component.wasm", b"\0asm\x0d\0\x01\0"), "_start").contains("component"));
    assert!(
        err(
            &p("bad.wat", b"(module (func (export \"x\") (i32.add)))"),
            "_start"
        )
        .starts_with("invalid WebAssembly")
    );
    let no_entry = err(
        &p("lib.wat", br#"(module (func (export "other")))"#),
        "handler",
    );
    assert_eq!(
        no_entry,
        "no entry point: the module exports no function `handler` (exported functions: other)"
    );
    let imports = err(
        &p("imports.wat", br#"(module (import "env" "db_query" (func)) (import "env" "log" (func)) (func (export "_start")))"#),
        "_start",
    );
    assert_eq!(
        imports,
        "the module imports what no one provides: env::db_query, env::log"
    );
    let zip_path = dir.path().join("empty.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file("README.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.finish().unwrap();
    assert!(err(&zip_path, "_start").starts_with("the zip bundle contains no .wasm module"));
    assert!(matches!(
        t.runtime
            .deploy("broken", &dir.path().join("missing.wasm"), config("_start")),
        Err(DeployError::Code(CodeError::Io { .. }))
    ));
    // Nothing was deployed by all that.
    assert!(t.runtime.function_names().is_empty());
}

#[test]
fn configuration_out_of_range_is_refused_naming_the_field() {
    let t = runtime();
    let bad = FunctionConfig {
        memory_mb: 100,
        timeout_s: 0,
        ..config("_start")
    };
    let err = t
        .runtime
        .deploy("sum", &sample("sum.wasm"), bad)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: memory_mb: 100 is out of range; allowed 128–10240 MB; timeout_s: 0 is out of range; allowed 1–900 seconds"
    );
}

#[test]
fn idle_environments_are_reaped() {
    let t = runtime();
    behave(&t.runtime, |c| c.idle_timeout_s = 1);
    t.runtime.invoke("behave", b"{}").unwrap();
    assert_eq!(t.runtime.environments("behave").len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.runtime.environments("behave").is_empty() {
        assert!(Instant::now() < deadline, "not reaped");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Cold
    );
}

#[test]
fn new_configuration_makes_the_next_start_cold() {
    let t = runtime();
    behave(&t.runtime, |_| {});
    t.runtime.invoke("behave", b"{}").unwrap();
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Warm
    );
    behave(&t.runtime, |c| c.timeout_s = 5);
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Cold
    );
}

#[test]
fn discard_option_makes_every_start_cold() {
    let t = runtime_in(TempDir::new("discard"));
    t.runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    let opts = InvokeOptions {
        discard_environment: true,
        ..Default::default()
    };
    for _ in 0..3 {
        assert_eq!(
            t.runtime.invoke_with("hello", b"{}", &opts).unwrap().start,
            StartKind::Cold
        );
    }
}

#[test]
fn init_failure_is_reported_and_not_kept() {
    let t = runtime();
    let dir = TempDir::new("initfail");
    let path = wat(
        dir.path(),
        "initfail",
        r#"(module (memory (export "memory") 1)
            (func (export "_initialize") unreachable)
            (func (export "handler")))"#,
    );
    t.runtime
        .deploy("initfail", &path, config("handler"))
        .unwrap();
    let logs = Logs::default();
    let opts = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..Default::default()
    };
    let inv = t.runtime.invoke_with("initfail", b"{}", &opts).unwrap();
    assert_eq!(error(&inv).error_type, "Runtime.InitError");
    assert!(
        logs.texts()
            .last()
            .unwrap()
            .starts_with("REPORT RequestId: ")
    );
    assert!(t.runtime.environments("initfail").is_empty());
}

#[test]
fn a_running_invocation_can_be_cancelled() {
    let t = runtime();
    behave(&t.runtime, |c| c.timeout_s = 60);
    for action in [
        r#"{"action":"spin","ms":30000}"#,
        r#"{"action":"sleep","ms":30000}"#,
    ] {
        let cancel = lambdesk::runtime::CancelToken::new();
        let opts = InvokeOptions {
            cancel: Some(cancel.clone()),
            ..Default::default()
        };
        let started = Instant::now();
        let inv = std::thread::scope(|s| {
            let h = s.spawn(|| {
                t.runtime
                    .invoke_with("behave", action.as_bytes(), &opts)
                    .unwrap()
            });
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
            h.join().unwrap()
        });
        assert!(started.elapsed() < Duration::from_secs(20), "{action}");
        assert_eq!(error(&inv).error_type, "Runtime.Cancelled", "{action}");
    }
    assert_eq!(
        t.runtime.invoke("behave", b"{}").unwrap().start,
        StartKind::Cold
    );
}

#[test]
fn two_runtimes_in_one_process_keep_their_own_tmp_folders() {
    // Each runtime gets its own scratch folder (its stock of /tmp folders is
    // named inside it, and removed with it).
    let cache = TempDir::new("two-runtimes");
    let new = || {
        lambdesk::runtime::Runtime::new(lambdesk::runtime::RuntimeOptions {
            cache_dir: Some(cache.path().join("cache")),
            pool_slots: 8,
            ..Default::default()
        })
        .unwrap()
    };
    let (a, b) = (new(), new());
    assert_ne!(a.scratch_dir(), b.scratch_dir());
    for rt in [&a, &b] {
        rt.deploy("hello", &sample("hello.wasm"), config("handler"))
            .unwrap();
        assert!(rt.invoke("hello", b"{}").unwrap().error().is_none());
    }
    drop(a);
    // Cold starts of the runtime left take /tmp folders from its own stock.
    let cold = lambdesk::runtime::InvokeOptions {
        discard_environment: true,
        ..Default::default()
    };
    for _ in 0..3 {
        let inv = b.invoke_with("hello", b"{}", &cold).unwrap();
        assert!(inv.error().is_none(), "{:?}", inv.error());
    }
}
