//! JavaScript functions (`runtimes/javascript`, Boa): Lambda's Node.js
//! handler contract over the JavaScript samples and small functions written
//! here: callback, async and ES module handlers, `context`, the console's
//! log format, INIT errors with Lambda's types and messages, thrown errors,
//! warm state, timers, the web and Node globals, and the limits every
//! function has (timeout, memory).

use std::path::{Path, PathBuf};

use lambdesk::model::{FunctionConfig, Language};
use lambdesk::runtime::{ErrorKind, InvokeOptions, LogKind, Outcome, StartKind};
use serde_json::{Value, json};

use crate::common::{Logs, TempDir, TestRuntime};

/// A runtime whose compiled-module cache is shared by these tests (and
/// python.rs's): each language runtime's module compiles once per test run,
/// not per test.
pub fn runtime() -> TestRuntime {
    let dir = TempDir::new("js-rt");
    let options = lambdesk::runtime::RuntimeOptions {
        cache_dir: Some(std::env::temp_dir().join("lambdesk-test-js-module-cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 64,
        ..lambdesk::runtime::RuntimeOptions::default()
    };
    TestRuntime {
        runtime: lambdesk::runtime::Runtime::new(options).unwrap(),
        dir,
    }
}

fn js_sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions/javascript")
        .join(name)
}

fn js_config() -> FunctionConfig {
    FunctionConfig {
        runtime: Language::Javascript,
        handler: "index.handler".to_owned(),
        ..FunctionConfig::default()
    }
}

/// A function folder with `files` (name, text).
pub fn folder(dir: &TempDir, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.path().join(name);
    for (file, text) in files {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

pub fn deploy(t: &TestRuntime, name: &str, code: &Path, config: FunctionConfig) {
    t.runtime
        .deploy(name, code, config)
        .unwrap_or_else(|e| panic!("deploying {name}: {e}"));
}

pub fn response(inv: &lambdesk::runtime::Invocation) -> Value {
    match &inv.outcome {
        Outcome::Response(bytes) => serde_json::from_slice(bytes).unwrap(),
        Outcome::Error(e) => panic!(
            "expected a response, got {}",
            String::from_utf8_lossy(&e.to_json())
        ),
    }
}

/// The error object the caller gets, and whether it is `Unhandled`.
pub fn error_object(inv: &lambdesk::runtime::Invocation) -> (Value, ErrorKind) {
    let e = inv.error().unwrap_or_else(|| {
        panic!(
            "expected an error, got {}",
            String::from_utf8_lossy(&inv.payload())
        )
    });
    (serde_json::from_slice(&inv.payload()).unwrap(), e.kind)
}

pub fn invoke_logged(
    t: &TestRuntime,
    name: &str,
    event: &[u8],
) -> (lambdesk::runtime::Invocation, Logs) {
    let logs = Logs::default();
    let opts = InvokeOptions {
        log_sink: Some(logs.sink()),
        ..Default::default()
    };
    let inv = t.runtime.invoke_with(name, event, &opts).unwrap();
    (inv, logs)
}

#[test]
fn a_callback_handler_sums_and_logs_as_lambdas_node_runtime() {
    let t = runtime();
    deploy(&t, "node-sum", &js_sample("node-sum"), js_config());
    let (inv, logs) = invoke_logged(&t, "node-sum", br#"{"value1": 20, "value2": 22}"#);
    assert_eq!(response(&inv), json!(42));
    let line = logs
        .0
        .lock()
        .unwrap()
        .iter()
        .find(|(_, l)| l.kind == LogKind::Function)
        .map(|(_, l)| l.text.clone())
        .expect("a console line");
    // `<ISO time>\t<request id>\tINFO\t<message>`
    let parts: Vec<&str> = line.split('\t').collect();
    assert_eq!(parts.len(), 4, "{line}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(parts[0]).is_ok(),
        "{line}"
    );
    assert_eq!(parts[1], inv.request_id);
    assert_eq!(parts[2], "INFO");
    assert_eq!(parts[3], "adding 20 and 22");
    // An error through the callback: Node's error object, Unhandled.
    let inv = t.runtime.invoke("node-sum", br#"{"value1": 1}"#).unwrap();
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "TypeError");
    assert_eq!(err["errorMessage"], "value1 and value2 must be numbers");
    assert!(err["trace"].is_array(), "{err}");
    assert!(err.get("stackTrace").is_none(), "Node's shape: {err}");
}

#[test]
fn module_state_survives_warm_starts_and_init_logs_carry_no_request_id() {
    let t = runtime();
    deploy(&t, "node-counter", &js_sample("node-counter"), js_config());
    let (cold, logs) = invoke_logged(&t, "node-counter", b"{}");
    assert_eq!(cold.start, StartKind::Cold);
    assert_eq!(response(&cold)["count"], 1);
    let warm = t.runtime.invoke("node-counter", b"{}").unwrap();
    assert_eq!(warm.start, StartKind::Warm);
    assert_eq!(response(&warm)["count"], 2);
    assert_eq!(response(&warm)["startedAt"], response(&cold)["startedAt"]);
    let init = logs
        .texts()
        .into_iter()
        .find(|l| l.ends_with("INIT: a new environment"))
        .expect("the INIT line");
    assert_eq!(init.split('\t').nth(1), Some("undefined"), "{init}");
    assert!(
        cold.report.init_duration_ms.is_some(),
        "a cold start reports INIT"
    );
}

#[test]
fn api_gateway_and_sqs_samples_answer_as_lambda_integrations_expect() {
    let t = runtime();
    deploy(&t, "node-api", &js_sample("node-api"), js_config());
    deploy(&t, "node-sqs", &js_sample("node-sqs"), js_config());
    let sample = lambdesk::store::samples::sample("node-api").unwrap();
    let inv = t
        .runtime
        .invoke("node-api", sample.event.1.as_bytes())
        .unwrap();
    let r = response(&inv);
    assert_eq!(r["statusCode"], 200);
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["message"], "Hello, you!");
    assert_eq!(body["method"], "GET");
    assert_eq!(body["requestId"], inv.request_id);
    let sample = lambdesk::store::samples::sample("node-sqs").unwrap();
    let inv = t
        .runtime
        .invoke("node-sqs", sample.event.1.as_bytes())
        .unwrap();
    assert_eq!(
        response(&inv),
        json!({"batchItemFailures": [{"itemIdentifier": "m2"}]})
    );
}

#[test]
fn context_has_lambdas_fields_and_the_remaining_time_counts_down() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "ctx",
        &[(
            "index.js",
            r#"
exports.handler = async (event, context) => {
  const before = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 120));
  const after = context.getRemainingTimeInMillis();
  return {
    awsRequestId: context.awsRequestId, functionName: context.functionName,
    functionVersion: context.functionVersion, invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB, logGroupName: context.logGroupName,
    logStreamName: context.logStreamName, waits: context.callbackWaitsForEmptyEventLoop,
    before, after, env: process.env.AWS_LAMBDA_FUNCTION_NAME, handler: process.env._HANDLER,
    mine: process.env.GREETING,
  };
};"#,
        )],
    );
    let t = runtime();
    let mut config = js_config();
    config.timeout_s = 5;
    config.environment.insert("GREETING".into(), "hi".into());
    deploy(&t, "ctx", &code, config);
    let inv = t.runtime.invoke("ctx", b"{}").unwrap();
    let r = response(&inv);
    assert_eq!(r["awsRequestId"], inv.request_id);
    assert_eq!(r["functionName"], "ctx");
    assert_eq!(r["functionVersion"], "$LATEST");
    assert_eq!(
        r["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    );
    assert_eq!(r["memoryLimitInMB"], "128", "a string, as Lambda's");
    assert_eq!(r["logGroupName"], "/aws/lambda/ctx");
    assert_eq!(r["logStreamName"], inv.log_stream);
    assert_eq!(r["waits"], true);
    assert_eq!(r["env"], "ctx");
    assert_eq!(r["handler"], "index.handler");
    assert_eq!(r["mine"], "hi");
    let (before, after) = (r["before"].as_f64().unwrap(), r["after"].as_f64().unwrap());
    assert!(before <= 5000.0 && before > 4000.0, "{before}");
    assert!(
        before - after >= 100.0,
        "counts down: {before} then {after}"
    );
}

#[test]
fn init_errors_have_lambdas_types_and_messages() {
    let dir = TempDir::new("js");
    let t = runtime();
    // (function, its files, handler, errorType, start of errorMessage)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "syntax",
            vec![(
                "index.js",
                "exports.handler = async () => {\n  return 1 +;\n};\n",
            )],
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
        ),
        (
            "missing-file",
            vec![("app.js", "exports.handler = () => 1;")],
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'index'\nRequire stack:\n- /var/runtime/index.mjs",
        ),
        (
            "missing-export",
            vec![("index.js", "exports.other = () => 1;")],
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            "not-a-function",
            vec![("index.js", "exports.handler = 42;")],
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            "bad-require",
            vec![(
                "index.js",
                "const x = require('./nope');\nexports.handler = () => x;",
            )],
            "index.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module './nope'",
        ),
        (
            "throws-at-init",
            vec![("index.js", "throw new RangeError('no config');")],
            "index.handler",
            "RangeError",
            "no config",
        ),
    ];
    for (name, files, handler, want_type, want_message) in cases {
        let code = folder(&dir, name, &files);
        let mut config = js_config();
        config.handler = handler.to_owned();
        deploy(&t, name, &code, config);
        for _ in 0..2 {
            // Every start after a failed INIT is cold again.
            let inv = t.runtime.invoke(name, b"{}").unwrap();
            let (err, kind) = error_object(&inv);
            assert_eq!(kind, ErrorKind::Unhandled, "{name}");
            assert_eq!(err["errorType"], want_type, "{name}: {err}");
            let message = err["errorMessage"].as_str().unwrap();
            assert!(
                message.starts_with(want_message),
                "{name}: {message:?} should start with {want_message:?}"
            );
            assert!(err["trace"].is_array(), "{name}: {err}");
            assert_eq!(inv.start, StartKind::Cold, "{name}");
        }
    }
}

#[test]
fn a_syntax_error_names_the_file_and_line_it_is_in() {
    // The editor marks the line from the trace's frame, so a syntax error in
    // a required (or imported) file must name that file, not the handler's.
    let dir = TempDir::new("js");
    let t = runtime();
    type Files<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Files, &str); 3] = [
        (
            "own",
            vec![(
                "index.js",
                "const a = 1;\nexports.handler = async () => {\n  return a +;\n};\n",
            )],
            "    at /var/task/index.js:3:13",
        ),
        (
            "required",
            vec![
                (
                    "index.js",
                    "const lib = require('./lib');\nexports.handler = async () => lib.f();\n",
                ),
                ("lib.js", "exports.f = () => {\n  return 1 +* 2;\n};\n"),
            ],
            "    at /var/task/lib.js:2:13",
        ),
        (
            "imported",
            vec![
                (
                    "index.mjs",
                    "import { f } from './lib.mjs';\nexport const handler = async () => f();\n",
                ),
                (
                    "lib.mjs",
                    "export const f = () => {\n\n  return 1 +* 2;\n};\n",
                ),
            ],
            "    at /var/task/lib.mjs:3:13",
        ),
    ];
    for (name, files, frame) in cases {
        let code = folder(&dir, name, &files);
        deploy(&t, name, &code, js_config());
        let inv = t.runtime.invoke(name, b"{}").unwrap();
        let (err, _) = error_object(&inv);
        assert_eq!(
            err["errorType"], "Runtime.UserCodeSyntaxError",
            "{name}: {err}"
        );
        let trace: Vec<&str> = err["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(
            trace[0],
            format!(
                "Runtime.UserCodeSyntaxError: {}",
                err["errorMessage"].as_str().unwrap()
            )
        );
        assert_eq!(trace[1..], [frame], "{name}");
    }
}

#[test]
fn thrown_values_and_unserialisable_results_are_reported_as_node_does() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "errors",
        &[(
            "index.js",
            r#"
class ValidationError extends Error { constructor(m) { super(m); this.name = 'ValidationError'; } }
exports.handler = async (event) => {
  switch (event.kind) {
    case 'custom': throw new ValidationError('bad input');
    case 'string': throw 'just a string';
    case 'circular': { const a = {}; a.self = a; return a; }
    case 'bigint': return { n: 10n };
    case 'undefined': return undefined;
    case 'rejected-timer': setTimeout(() => { throw new Error('late'); }, 1); return new Promise(() => {});
    default: return 'ok';
  }
};"#,
        )],
    );
    let t = runtime();
    deploy(&t, "errors", &code, js_config());
    let call = |kind: &str| {
        t.runtime
            .invoke("errors", json!({"kind": kind}).to_string().as_bytes())
            .unwrap()
    };
    let (err, kind) = error_object(&call("custom"));
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "ValidationError");
    assert_eq!(err["errorMessage"], "bad input");
    assert!(
        err["trace"][0]
            .as_str()
            .unwrap()
            .starts_with("ValidationError: bad input"),
        "{err}"
    );
    let (err, _) = error_object(&call("string"));
    assert_eq!(
        err,
        json!({"errorType": "string", "errorMessage": "just a string", "trace": []})
    );
    for kind in ["circular", "bigint"] {
        let (err, _) = error_object(&call(kind));
        assert_eq!(err["errorType"], "Runtime.MarshalError", "{kind}: {err}");
    }
    assert_eq!(response(&call("undefined")), Value::Null);
    let (err, _) = error_object(&call("rejected-timer"));
    assert_eq!(err["errorMessage"], "late");
    // The environment is kept after a thrown error, as Node's runtime keeps
    // its process.
    let inv = call("other");
    assert_eq!(inv.start, StartKind::Warm);
    assert_eq!(response(&inv), json!("ok"));
}

#[test]
fn requires_imports_timers_and_globals_work_as_handlers_use_them() {
    let dir = TempDir::new("js");
    let cjs = folder(
        &dir,
        "cjs",
        &[
            (
                "index.js",
                r#"
const { double } = require('./lib/math');
const data = require('./data.json');
const util = require('util');
const { randomUUID } = require('node:crypto');
exports.handler = (event, context, callback) => {
  const order = [];
  setTimeout(() => order.push('timer'), 30);
  Promise.resolve().then(() => order.push('promise'));
  callback(null, {
    doubled: double(event.n), name: data.name, order,
    inspected: util.inspect({ a: [1, { b: 'x' }], s: 'q' }),
    formatted: util.format('%s is %d', 'n', 42),
    uuid: /^[0-9a-f-]{36}$/.test(randomUUID()),
    b64: Buffer.from('hello, world').toString('base64'),
    hex: Buffer.from('68656c6c6f', 'hex').toString('utf8'),
    utf8: new TextDecoder().decode(new TextEncoder().encode('héllo')),
    url: new URL('https://example.com/a/b?x=1&y=two').searchParams.get('y'),
    qs: new URLSearchParams({ a: '1', b: 'x y' }).toString(),
    clone: structuredClone({ d: [1, 2] }),
    json: JSON.parse('{"k": [true]}'),
  });
};"#,
            ),
            ("lib/math.js", "exports.double = (n) => n * 2;"),
            ("data.json", r#"{"name": "from json"}"#),
        ],
    );
    let esm = folder(
        &dir,
        "esm",
        &[
            ("package.json", r#"{"type": "module"}"#),
            (
                "index.js",
                "import { greet } from './greet.js';\nexport const handler = async (event) => ({ message: greet(event.name) });",
            ),
            ("greet.js", "export const greet = (n) => `Hello, ${n}!`;"),
        ],
    );
    let t = runtime();
    deploy(&t, "cjs", &cjs, js_config());
    deploy(&t, "esm", &esm, js_config());
    let r = response(&t.runtime.invoke("cjs", br#"{"n": 21}"#).unwrap());
    assert_eq!(r["doubled"], 42);
    assert_eq!(r["name"], "from json");
    // The callback waits for the event loop to empty: the timer ran first.
    assert_eq!(r["order"], json!(["promise", "timer"]));
    assert_eq!(r["inspected"], "{ a: [ 1, { b: 'x' } ], s: 'q' }");
    assert_eq!(r["formatted"], "n is 42");
    assert_eq!(r["uuid"], true);
    assert_eq!(r["b64"], "aGVsbG8sIHdvcmxk");
    assert_eq!(r["hex"], "hello");
    assert_eq!(r["utf8"], "héllo");
    assert_eq!(r["url"], "two");
    assert_eq!(r["qs"], "a=1&b=x+y");
    assert_eq!(r["clone"], json!({"d": [1, 2]}));
    assert_eq!(r["json"], json!({"k": [true]}));
    let r = response(&t.runtime.invoke("esm", br#"{"name": "Ada"}"#).unwrap());
    assert_eq!(r, json!({"message": "Hello, Ada!"}));
}

#[test]
fn one_file_runs_with_its_own_name_as_the_handler_module() {
    let dir = TempDir::new("js");
    let file = dir.path().join("app.mjs");
    std::fs::write(
        &file,
        "export const main = async (e) => ({ twice: e.n * 2 });",
    )
    .unwrap();
    let t = runtime();
    let mut config = js_config();
    config.handler = "app.main".into();
    deploy(&t, "one-file", &file, config);
    let r = response(&t.runtime.invoke("one-file", br#"{"n": 4}"#).unwrap());
    assert_eq!(r, json!({"twice": 8}));
    // A handler that is not FILE.EXPORT is refused when deployed.
    let mut bad = js_config();
    bad.handler = "handler".into();
    let e = t.runtime.deploy("bad", &file, bad).unwrap_err().to_string();
    assert!(e.contains("FILE.EXPORT"), "{e}");
}

#[test]
fn timeout_and_memory_limits_obeyed_and_violated() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "limits",
        &[(
            "index.js",
            r#"
exports.handler = async (event) => {
  if (event.loop) { for (;;) {} }
  if (event.grow) { const a = []; for (;;) { a.push('x'.repeat(4 * 1024 * 1024) + a.length); } }
  return 'fine';
};"#,
        )],
    );
    let t = runtime();
    let mut config = js_config();
    config.timeout_s = 1;
    deploy(&t, "limits", &code, config);
    assert_eq!(
        response(&t.runtime.invoke("limits", b"{}").unwrap()),
        json!("fine")
    );
    let inv = t.runtime.invoke("limits", br#"{"loop": true}"#).unwrap();
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorMessage"], "Task timed out after 1.00 seconds");
    let mut config = js_config();
    config.timeout_s = 30;
    deploy(&t, "limits", &code, config);
    let inv = t.runtime.invoke("limits", br#"{"grow": true}"#).unwrap();
    let (err, _) = error_object(&inv);
    assert_eq!(err["errorType"], "Runtime.OutOfMemory", "{err}");
    // The next start is cold and works.
    let inv = t.runtime.invoke("limits", b"{}").unwrap();
    assert_eq!(inv.start, StartKind::Cold);
    assert_eq!(response(&inv), json!("fine"));
}

#[test]
fn console_formats_values_as_node_and_keeps_a_message_one_record() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "console",
        &[(
            "index.js",
            r#"
exports.handler = async () => {
  console.log({ id: 1, tags: ['a', 'b'], nested: { deep: { deeper: { deepest: 1 } } } });
  console.warn('careful', 3, true, null, undefined);
  console.error(new Error('shown with its stack'));
  console.log('two\nlines');
  console.debug('%s=%j', 'k', { v: 1 });
  return 1;
};"#,
        )],
    );
    let t = runtime();
    deploy(&t, "console", &code, js_config());
    let (_, logs) = invoke_logged(&t, "console", b"{}");
    let lines: Vec<(String, String)> = logs
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, l)| l.kind == LogKind::Function)
        .map(|(_, l)| {
            let mut p = l.text.splitn(4, '\t');
            let _ = (p.next(), p.next());
            (p.next().unwrap().to_owned(), p.next().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        lines[0],
        (
            "INFO".into(),
            "{ id: 1, tags: [ 'a', 'b' ], nested: { deep: { deeper: [Object] } } }".into()
        )
    );
    assert_eq!(
        lines[1],
        ("WARN".into(), "careful 3 true null undefined".into())
    );
    assert_eq!(lines[2].0, "ERROR");
    assert!(
        lines[2].1.starts_with("Error: shown with its stack"),
        "{:?}",
        lines[2]
    );
    assert_eq!(lines[3], ("INFO".into(), "two\rlines".into()));
    assert_eq!(lines[4], ("DEBUG".into(), "k={\"v\":1}".into()));
}

#[test]
fn environments_started_from_the_runtimes_snapshot_draw_their_own_random_numbers() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "random",
        &[(
            "index.js",
            "const atInit = Math.random();\nexports.handler = async () => ({ atInit, now: Math.random(), uuid: crypto.randomUUID(), env: process.env.MARK });",
        )],
    );
    let cache = dir.path().join("cache");
    let make = || {
        lambdesk::runtime::Runtime::new(lambdesk::runtime::RuntimeOptions {
            cache_dir: Some(cache.clone()),
            scratch_dir: dir.path().join("scratch"),
            ..lambdesk::runtime::RuntimeOptions::default()
        })
        .unwrap()
    };
    let rt = make();
    let mut config = js_config();
    config.environment.insert("MARK".into(), "first".into());
    rt.deploy("random", &code, config.clone()).unwrap();
    // The runtime's snapshot is made once and kept beside the compiled modules.
    let snapshots: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-preinit-"))
        .collect();
    assert_eq!(snapshots.len(), 1, "one snapshot");
    assert_eq!(rt.runtime_snapshots_made(), (1, None));
    let mut seen = Vec::new();
    for _ in 0..3 {
        rt.drop_environments("random");
        let inv = rt.invoke("random", b"{}").unwrap();
        assert_eq!(inv.start, StartKind::Cold);
        seen.push(response(&inv));
    }
    for pair in seen.windows(2) {
        for field in ["atInit", "now", "uuid"] {
            assert_ne!(pair[0][field], pair[1][field], "{field}: {seen:?}");
        }
    }
    // Its environment is the function's, read at INIT (not the snapshot's).
    assert_eq!(seen[0]["env"], "first");
    config.environment.insert("MARK".into(), "second".into());
    let rt2 = make();
    rt2.deploy("random", &code, config).unwrap();
    assert_eq!(
        response(&rt2.invoke("random", b"{}").unwrap())["env"],
        "second"
    );
    let again = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains("-preinit-"))
        .unwrap();
    assert_eq!(
        rt2.runtime_snapshots_made(),
        (0, None),
        "a second runtime reads the kept snapshot"
    );
    // A damaged snapshot on disk is made again, not trusted.
    let bytes = std::fs::read(again.path()).unwrap();
    std::fs::write(again.path(), &bytes[..bytes.len() / 2]).unwrap();
    let rt3 = make();
    rt3.deploy("random", &code, js_config()).unwrap();
    let (made, why) = rt3.runtime_snapshots_made();
    assert_eq!(made, 1);
    assert!(
        why.as_deref()
            .is_some_and(|w| w.contains("does not validate")),
        "{why:?}"
    );
    assert!(rt3.invoke("random", b"{}").unwrap().error().is_none());
    assert_eq!(std::fs::read(again.path()).unwrap().len(), bytes.len());
}

/// A loopback HTTP/1.1 server answering each request with its method, path
/// and body as JSON; its address.
pub fn echo_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name("js-echo-server".into())
        .spawn(move || {
            for stream in listener.incoming().flatten().take(16) {
                let mut stream = stream;
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    data.extend_from_slice(&buf[..n]);
                    if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&data[..i]).into_owned();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                            .unwrap_or(0);
                        while data.len() < i + 4 + len {
                            let n = stream.read(&mut buf).unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            data.extend_from_slice(&buf[..n]);
                        }
                        break (head, data[i + 4..].to_vec());
                    }
                };
                let first = head.lines().next().unwrap_or("").to_owned();
                let reply = json!({"request": first, "body": String::from_utf8_lossy(&body)}).to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nx-echo: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        })
        .unwrap();
    addr
}

#[test]
fn fetch_goes_through_the_roles_outbound_grants() {
    let addr = echo_server();
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "fetcher",
        &[(
            "index.mjs",
            r#"
export const handler = async (event) => {
  try {
    const res = await fetch(event.url, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'héllo' });
    return { status: res.status, ok: res.ok, echo: res.headers.get('X-Echo'), body: await res.json() };
  } catch (e) {
    return { error: e.name, message: e.message, code: e.cause && e.cause.code, cause: e.cause && e.cause.message };
  }
};"#,
        )],
    );
    let t = runtime();
    let url = format!("http://127.0.0.1:{}/path?q=1", addr.port());
    let event = json!({ "url": url }).to_string();
    // No grant: a handled TypeError as Node's fetch throws, the denial logged.
    deploy(&t, "fetcher", &code, js_config());
    let (inv, logs) = invoke_logged(&t, "fetcher", event.as_bytes());
    let r = response(&inv);
    assert_eq!(r["error"], "TypeError");
    assert_eq!(r["message"], "fetch failed");
    assert_eq!(r["code"], "OutboundDenied");
    assert!(logs.any(LogKind::Denied), "a DENIED line");
    // Granted: the request goes, its answer comes back.
    let mut config = js_config();
    config.role.outbound = vec![format!("http://127.0.0.1:{}", addr.port())];
    deploy(&t, "fetcher", &code, config);
    let r = response(&t.runtime.invoke("fetcher", event.as_bytes()).unwrap());
    assert_eq!(r["status"], 201);
    assert_eq!(r["ok"], true);
    assert_eq!(r["echo"], "yes");
    assert_eq!(r["body"]["request"], "POST /path?q=1 HTTP/1.1");
    assert_eq!(r["body"]["body"], "héllo");
}

#[test]
fn events_nest_as_deep_as_nodes_json_parse_takes_them_but_not_without_bound() {
    let dir = TempDir::new("js");
    let code = folder(
        &dir,
        "depth",
        &[(
            "index.js",
            "exports.handler = async (e) => { let d = 0; while (Array.isArray(e) && e.length) { e = e[0]; d++; } return d; };",
        )],
    );
    let t = runtime();
    deploy(&t, "depth", &code, js_config());
    let nested = |n: usize| format!("{}0{}", "[".repeat(n), "]".repeat(n));
    // Deeper than serde_json's own limit (128), as Node takes it.
    let inv = t.runtime.invoke("depth", nested(999).as_bytes()).unwrap();
    assert_eq!(response(&inv), json!(999));
    let inv = t
        .runtime
        .invoke("depth", nested(100_000).as_bytes())
        .unwrap();
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "Runtime.UnmarshalError");
    let inv = t.runtime.invoke("depth", b"[[1]]").unwrap();
    assert_eq!(inv.start, StartKind::Warm, "the environment lived");
    assert_eq!(response(&inv), json!(2));
}
