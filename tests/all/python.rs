//! Python functions (`runtimes/python`, RustPython): Lambda's Python handler
//! contract over the Python samples and small functions written here:
//! `context`, `print` and the `logging` module's format, INIT errors with
//! Lambda's types and messages, raised exceptions with their traceback,
//! the standard modules handlers import, their own modules and packages,
//! warm state, randomness after a snapshot, and the limits every function
//! has (timeout, memory, recursion).

use std::path::{Path, PathBuf};

use lambdesk::model::{FunctionConfig, Language};
use lambdesk::runtime::{ErrorKind, LogKind, StartKind};
use serde_json::{Value, json};

use crate::common::TempDir;
use crate::javascript::{deploy, error_object, folder, invoke_logged, response, runtime};

fn py_sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions/python")
        .join(name)
}

fn py_config() -> FunctionConfig {
    FunctionConfig {
        runtime: Language::Python,
        handler: "lambda_function.lambda_handler".to_owned(),
        ..FunctionConfig::default()
    }
}

/// A function folder holding one `lambda_function.py`.
fn function(dir: &TempDir, name: &str, code: &str) -> PathBuf {
    folder(dir, name, &[("lambda_function.py", code)])
}

/// The function's own log lines (not START/END/REPORT).
fn function_lines(logs: &crate::common::Logs) -> Vec<String> {
    logs.0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, l)| l.kind == LogKind::Function)
        .map(|(_, l)| l.text.clone())
        .collect()
}

#[test]
fn the_first_handler_a_lambda_user_reads_prints_and_returns_the_bucket() {
    let t = runtime();
    deploy(&t, "py-hello", &py_sample("py-hello"), py_config());
    let sample = lambdesk::store::samples::sample("py-hello").unwrap();
    let (inv, logs) = invoke_logged(&t, "py-hello", sample.event.1.as_bytes());
    assert_eq!(response(&inv), json!("example-bucket"));
    let lines = function_lines(&logs);
    // `print` writes plain lines (no time or level), one per line printed.
    assert_eq!(lines[0], "Received event: {", "{lines:?}");
    let remaining = lines
        .iter()
        .find_map(|l| l.strip_prefix("Remaining time (ms): "))
        .expect("the remaining time");
    let remaining: u64 = remaining.parse().unwrap();
    assert!(remaining > 2000 && remaining <= 3000, "{remaining}");
    assert!(
        lines.contains(&"Memory limit (MB): 128".to_owned()),
        "{lines:?}"
    );
    // A missing key is Python's KeyError, as Lambda reports it.
    let inv = t.runtime.invoke("py-hello", b"{}").unwrap();
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "KeyError");
    assert_eq!(err["errorMessage"], "'Records'");
    assert_eq!(err["requestId"], inv.request_id);
}

#[test]
fn context_has_lambdas_attributes_and_the_remaining_time_counts_down() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "ctx",
        r#"
import os, time

def lambda_handler(event, context):
    before = context.get_remaining_time_in_millis()
    time.sleep(0.12)
    after = context.get_remaining_time_in_millis()
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "before": before, "after": after,
        "env": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "handler": os.environ.get("_HANDLER"),
        "mine": os.getenv("GREETING"),
        "cwd": os.getcwd(),
        "repr": repr(context).startswith("LambdaContext([aws_request_id="),
    }
"#,
    );
    let t = runtime();
    let mut config = py_config();
    config.timeout_s = 5;
    config.environment.insert("GREETING".into(), "hi".into());
    deploy(&t, "ctx", &code, config);
    let inv = t.runtime.invoke("ctx", b"{}").unwrap();
    let r = response(&inv);
    assert_eq!(r["aws_request_id"], inv.request_id);
    assert_eq!(r["function_name"], "ctx");
    assert_eq!(r["function_version"], "$LATEST");
    assert_eq!(
        r["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:ctx"
    );
    assert_eq!(r["memory_limit_in_mb"], "128", "a string, as Lambda's");
    assert_eq!(r["log_group_name"], "/aws/lambda/ctx");
    assert_eq!(r["log_stream_name"], inv.log_stream);
    assert_eq!(r["env"], "ctx");
    assert_eq!(r["handler"], "lambda_function.lambda_handler");
    assert_eq!(r["mine"], "hi");
    assert_eq!(r["cwd"], "/var/task");
    assert_eq!(r["repr"], true);
    let (before, after) = (r["before"].as_f64().unwrap(), r["after"].as_f64().unwrap());
    assert!(before <= 5000.0 && before > 4000.0, "{before}");
    assert!(
        before - after >= 100.0,
        "counts down: {before} then {after}"
    );
}

#[test]
fn init_errors_have_lambdas_types_and_messages() {
    let dir = TempDir::new("py");
    let t = runtime();
    // (function, its files, errorType, errorMessage)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            "syntax",
            vec![(
                "lambda_function.py",
                "def lambda_handler(event, context):\n    return 1 +\n",
            )],
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lambda_function': ",
        ),
        (
            "missing-module",
            vec![("app.py", "def lambda_handler(e, c): return 1\n")],
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'lambda_function'",
        ),
        (
            "bad-import",
            vec![(
                "lambda_function.py",
                "import requests_that_are_not_here\ndef lambda_handler(e, c): return 1\n",
            )],
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'requests_that_are_not_here'",
        ),
        (
            "raises-at-init",
            vec![("lambda_function.py", "raise ValueError('no config')\n")],
            "ValueError",
            "no config",
        ),
    ];
    for (name, files, want_type, want_message) in cases {
        let code = folder(&dir, name, &files);
        deploy(&t, name, &code, py_config());
        for _ in 0..2 {
            // Every start after a failed INIT is cold again.
            let (inv, logs) = invoke_logged(&t, name, b"{}");
            let (err, kind) = error_object(&inv);
            assert_eq!(kind, ErrorKind::Unhandled, "{name}");
            assert_eq!(err["errorType"], want_type, "{name}: {err}");
            let message = err["errorMessage"].as_str().unwrap();
            assert!(
                message.starts_with(want_message),
                "{name}: {message:?} should start with {want_message:?}"
            );
            assert!(err["stackTrace"].is_array(), "{name}: {err}");
            assert_eq!(err["requestId"], "", "{name}: INIT has no request");
            assert_eq!(inv.start, StartKind::Cold, "{name}");
            // Lambda logs the error as `[ERROR] Type: message`.
            let head = format!("[ERROR] {want_type}: {want_message}");
            assert!(
                function_lines(&logs).iter().any(|l| l.starts_with(&head)),
                "{name}: {:?}",
                function_lines(&logs)
            );
        }
    }
    // The syntax error says where, as Lambda's does.
    let inv = t.runtime.invoke("syntax", b"{}").unwrap();
    let (err, _) = error_object(&inv);
    let trace = err["stackTrace"][0].as_str().unwrap();
    assert!(
        trace.contains("lambda_function.py") && trace.contains("Line 2"),
        "{err}"
    );
    // A missing handler function: INIT succeeds, every invocation fails.
    let code = function(&dir, "no-handler", "def other(e, c): return 1\n");
    deploy(&t, "no-handler", &code, py_config());
    for start in [StartKind::Cold, StartKind::Warm] {
        let inv = t.runtime.invoke("no-handler", b"{}").unwrap();
        assert_eq!(inv.start, start);
        let (err, _) = error_object(&inv);
        assert_eq!(err["errorType"], "Runtime.HandlerNotFound");
        assert_eq!(
            err["errorMessage"],
            "Handler 'lambda_handler' missing on module 'lambda_function'"
        );
    }
    // A handler that is not MODULE.FUNCTION is refused when deployed.
    let mut bad = py_config();
    bad.handler = "lambda_handler".into();
    let e = t.runtime.deploy("bad", &code, bad).unwrap_err().to_string();
    assert!(e.contains("MODULE.FUNCTION"), "{e}");
}

#[test]
fn raised_exceptions_and_unserialisable_results_are_reported_as_lambda_does() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "errors",
        r#"
import decimal

class ValidationError(Exception):
    pass

def check(kind):
    if kind == "custom":
        raise ValidationError("bad input")
    raise Exception("boom")

def lambda_handler(event, context):
    kind = event.get("kind")
    if kind in ("custom", "plain"):
        check(kind)
    if kind == "set":
        return {1, 2}
    if kind == "decimal":
        return {"price": decimal.Decimal("9.5")}
    if kind == "none":
        return None
    if kind == "exit":
        import sys
        sys.exit(3)
    return "ok"
"#,
    );
    let t = runtime();
    deploy(&t, "errors", &code, py_config());
    let call =
        |kind: &str| invoke_logged(&t, "errors", json!({"kind": kind}).to_string().as_bytes());
    let (inv, logs) = call("custom");
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "ValidationError");
    assert_eq!(err["errorMessage"], "bad input");
    assert_eq!(err["requestId"], inv.request_id);
    // Lambda's traceback: the function's frames only, as `traceback.format_list`.
    let trace: Vec<&str> = err["stackTrace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(trace.len(), 2, "{err}");
    assert!(
        trace[0]
            .starts_with("  File \"/var/task/lambda_function.py\", line 15, in lambda_handler\n"),
        "{trace:?}"
    );
    assert!(
        trace[1].contains("line 9, in check\n    raise ValidationError(\"bad input\")"),
        "{trace:?}"
    );
    // And the log's `[ERROR]` record, one event with its lines joined by \r.
    let record = function_lines(&logs)
        .into_iter()
        .find(|l| l.starts_with("[ERROR]"))
        .expect("an [ERROR] record");
    assert!(
        record.starts_with(
            "[ERROR] ValidationError: bad input\rTraceback (most recent call last):\r  File \"/var/task/lambda_function.py\", line 15, in lambda_handler\r"
        ),
        "{record:?}"
    );
    let (err, _) = error_object(&call("plain").0);
    assert_eq!(err["errorType"], "Exception");
    assert_eq!(err["errorMessage"], "boom");
    let (err, _) = error_object(&call("set").0);
    assert_eq!(
        err,
        json!({
            "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
            "errorType": "Runtime.MarshalError",
            "requestId": err["requestId"],
            "stackTrace": [],
        })
    );
    assert_eq!(response(&call("decimal").0), json!({"price": 9.5}));
    assert_eq!(response(&call("none").0), Value::Null);
    // The environment is kept after a raised exception.
    let (inv, _) = call("other");
    assert_eq!(inv.start, StartKind::Warm);
    assert_eq!(response(&inv), json!("ok"));
    // `sys.exit()` ends it, as a runtime process exiting in Lambda.
    let (err, _) = error_object(&call("exit").0);
    assert_eq!(err["errorType"], "Runtime.ExitError");
    assert_eq!(
        err["errorMessage"],
        "Runtime exited with error: exit status 3"
    );
    assert_eq!(call("other").0.start, StartKind::Cold);
}

#[test]
fn logging_writes_lambdas_records_at_the_configured_level() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "logs",
        r#"
import logging
logger = logging.getLogger()

def lambda_handler(event, context):
    logger.debug("debugging %s", "details")
    logger.info("an info")
    logger.warning("a warning:\nwith two lines")
    print("printed", 42)
    context.log("from context.log\n")
    return 1
"#,
    );
    let t = runtime();
    deploy(&t, "logs", &code, py_config());
    let (inv, logs) = invoke_logged(&t, "logs", b"{}");
    let lines = function_lines(&logs);
    // The root logger is at WARNING unless AWS_LAMBDA_LOG_LEVEL says otherwise.
    assert_eq!(lines.len(), 3, "{lines:?}");
    let parts: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(parts.len(), 4, "{lines:?}");
    assert_eq!(parts[0], "[WARNING]");
    let time = parts[1];
    assert!(
        time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "{time}"
    );
    assert_eq!(time.len(), "2024-01-01T00:00:00.000Z".len(), "{time}");
    assert_eq!(parts[2], inv.request_id);
    assert_eq!(parts[3], "a warning:\rwith two lines");
    assert_eq!(lines[1], "printed 42");
    assert_eq!(lines[2], "from context.log");
    let mut config = py_config();
    config
        .environment
        .insert("AWS_LAMBDA_LOG_LEVEL".into(), "DEBUG".into());
    deploy(&t, "logs", &code, config);
    let (_, logs) = invoke_logged(&t, "logs", b"{}");
    let lines = function_lines(&logs);
    assert!(lines[0].starts_with("[DEBUG]\t"), "{lines:?}");
    assert!(lines[0].ends_with("\tdebugging details"), "{lines:?}");
    assert!(lines[1].starts_with("[INFO]\t"), "{lines:?}");
}

#[test]
fn the_standard_modules_handlers_import_work() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "stdlib",
        r#"
import json, os, sys, time, datetime, re, base64, hashlib, hmac, uuid, math, random
import decimal, urllib.parse, collections, itertools, functools, dataclasses, typing, logging

@dataclasses.dataclass
class Order:
    id: int
    items: typing.List[str]

@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def lambda_handler(event, context):
    return {
        "sha256": hashlib.sha256(b"hello").hexdigest(),
        "md5": hashlib.md5(b"hello").hexdigest(),
        "hmac": hmac.new(b"key", b"message", hashlib.sha256).hexdigest(),
        "b64": base64.b64encode(b"hello, world").decode(),
        "unb64": base64.b64decode("aGVsbG8=").decode(),
        "re": re.findall(r"\d+", "a1b22c333"),
        "date": datetime.date(2024, 2, 29).isoformat(),
        "delta": (datetime.datetime(2024, 3, 1) - datetime.datetime(2024, 2, 28)).days,
        "uuid": len(str(uuid.uuid4())),
        "math": math.isqrt(1 << 40),
        "decimal": str(decimal.Decimal("1.10") + decimal.Decimal("2.20")),
        "qs": urllib.parse.parse_qs("a=1&b=x+y"),
        "quoted": urllib.parse.quote("a b/c"),
        "counter": collections.Counter("banana").most_common(1),
        "chain": list(itertools.chain([1], [2, 3])),
        "fib": fib(60),
        "order": dataclasses.asdict(Order(7, ["a"])),
        "version": sys.version_info[:2] >= (3, 12),
        "random": 0 <= random.random() < 1,
        "now": time.time() > 1.7e9,
        "path": os.path.join("/var/task", "x.json"),
        "json": json.loads('{"k": [true, null]}'),
        "sorted": sorted({"b": 1, "a": 2}.items()),
    }
"#,
    );
    let t = runtime();
    deploy(&t, "stdlib", &code, py_config());
    let r = response(&t.runtime.invoke("stdlib", b"{}").unwrap());
    assert_eq!(
        r["sha256"],
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(r["md5"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        r["hmac"],
        "6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a"
    );
    assert_eq!(r["b64"], "aGVsbG8sIHdvcmxk");
    assert_eq!(r["unb64"], "hello");
    assert_eq!(r["re"], json!(["1", "22", "333"]));
    assert_eq!(r["date"], "2024-02-29");
    assert_eq!(r["delta"], 2);
    assert_eq!(r["uuid"], 36);
    assert_eq!(r["math"], 1 << 20);
    assert_eq!(r["decimal"], "3.30");
    assert_eq!(r["qs"], json!({"a": ["1"], "b": ["x y"]}));
    assert_eq!(r["quoted"], "a%20b/c");
    assert_eq!(r["counter"], json!([["a", 3]]));
    assert_eq!(r["chain"], json!([1, 2, 3]));
    assert_eq!(r["fib"], 1_548_008_755_920_u64);
    assert_eq!(r["order"], json!({"id": 7, "items": ["a"]}));
    assert_eq!(r["version"], true);
    assert_eq!(r["random"], true);
    assert_eq!(r["now"], true);
    assert_eq!(r["path"], "/var/task/x.json");
    assert_eq!(r["json"], json!({"k": [true, null]}));
    assert_eq!(r["sorted"], json!([["a", 2], ["b", 1]]));
}

#[test]
fn own_modules_packages_and_one_file_handlers_import() {
    let dir = TempDir::new("py");
    let code = folder(
        &dir,
        "package",
        &[
            (
                "lambda_function.py",
                "from helpers.maths import double\nimport settings\n\ndef lambda_handler(event, context):\n    return {'doubled': double(event['n']), 'name': settings.NAME}\n",
            ),
            ("helpers/__init__.py", ""),
            ("helpers/maths.py", "def double(n):\n    return n * 2\n"),
            ("settings.py", "NAME = 'from a module'\n"),
            (
                "api/routes.py",
                "def handle(event, context):\n    return 'routed'\n",
            ),
        ],
    );
    let t = runtime();
    deploy(&t, "package", &code, py_config());
    let r = response(&t.runtime.invoke("package", br#"{"n": 21}"#).unwrap());
    assert_eq!(r, json!({"doubled": 42, "name": "from a module"}));
    // A handler in a subfolder, as Lambda's `api/routes.handle`.
    let mut config = py_config();
    config.handler = "api/routes.handle".into();
    deploy(&t, "routed", &code, config);
    let r = response(&t.runtime.invoke("routed", b"{}").unwrap());
    assert_eq!(r, json!("routed"));
    // One file: its own name is the module.
    let file = dir.path().join("app.py");
    std::fs::write(
        &file,
        "def main(event, context):\n    return event['n'] * 3\n",
    )
    .unwrap();
    let mut config = py_config();
    config.handler = "app.main".into();
    deploy(&t, "one-file", &file, config);
    let r = response(&t.runtime.invoke("one-file", br#"{"n": 4}"#).unwrap());
    assert_eq!(r, json!(12));
}

#[test]
fn module_state_survives_warm_starts_and_the_samples_answer_as_integrations_expect() {
    let t = runtime();
    deploy(&t, "py-counter", &py_sample("py-counter"), py_config());
    let (cold, logs) = invoke_logged(&t, "py-counter", b"{}");
    assert_eq!(cold.start, StartKind::Cold);
    assert_eq!(response(&cold)["count"], 1);
    assert!(cold.report.init_duration_ms.is_some());
    assert!(
        function_lines(&logs).contains(&"INIT: a new environment".to_owned()),
        "{:?}",
        function_lines(&logs)
    );
    let warm = t.runtime.invoke("py-counter", b"{}").unwrap();
    assert_eq!(warm.start, StartKind::Warm);
    assert_eq!(response(&warm)["count"], 2);
    assert_eq!(response(&warm)["startedAt"], response(&cold)["startedAt"]);

    deploy(&t, "py-api", &py_sample("py-api"), py_config());
    deploy(&t, "py-sqs", &py_sample("py-sqs"), py_config());
    let sample = lambdesk::store::samples::sample("py-api").unwrap();
    let (inv, logs) = invoke_logged(&t, "py-api", sample.event.1.as_bytes());
    let r = response(&inv);
    assert_eq!(r["statusCode"], 200);
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["message"], "Hello, you!");
    assert_eq!(body["method"], "GET");
    assert_eq!(body["requestId"], inv.request_id);
    assert!(
        function_lines(&logs)
            .iter()
            .any(|l| l.starts_with("[INFO]\t") && l.ends_with("\trequest GET /py-api name=you")),
        "{:?}",
        function_lines(&logs)
    );
    let sample = lambdesk::store::samples::sample("py-sqs").unwrap();
    let inv = t
        .runtime
        .invoke("py-sqs", sample.event.1.as_bytes())
        .unwrap();
    assert_eq!(
        response(&inv),
        json!({"batchItemFailures": [{"itemIdentifier": "m2"}]})
    );
}

#[test]
fn timeout_memory_and_recursion_limits_obeyed_and_violated() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "limits",
        r#"
def down(n):
    return down(n + 1)

def lambda_handler(event, context):
    if event.get("loop"):
        while True:
            pass
    if event.get("grow"):
        a = []
        while True:
            a.append("x" * (4 * 1024 * 1024) + str(len(a)))
    if event.get("recurse"):
        try:
            down(0)
        except RecursionError as e:
            return "RecursionError: " + str(e)
    return "fine"
"#,
    );
    let t = runtime();
    let mut config = py_config();
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
    let mut config = py_config();
    config.timeout_s = 30;
    deploy(&t, "limits", &code, config);
    let inv = t.runtime.invoke("limits", br#"{"recurse": true}"#).unwrap();
    let r = response(&inv);
    assert!(
        r.as_str()
            .unwrap()
            .starts_with("RecursionError: maximum recursion depth exceeded"),
        "{r}"
    );
    let inv = t.runtime.invoke("limits", br#"{"grow": true}"#).unwrap();
    let (err, _) = error_object(&inv);
    assert_eq!(err["errorType"], "Runtime.OutOfMemory", "{err}");
    // The next start is cold and works.
    let inv = t.runtime.invoke("limits", b"{}").unwrap();
    assert_eq!(inv.start, StartKind::Cold);
    assert_eq!(response(&inv), json!("fine"));
}

#[test]
fn environments_started_from_the_runtimes_snapshot_draw_their_own_random_numbers() {
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "random",
        "import os, random, uuid\nAT_INIT = random.random()\n\ndef lambda_handler(event, context):\n    return {'atInit': AT_INIT, 'now': random.random(), 'uuid': str(uuid.uuid4()), 'env': os.environ.get('MARK')}\n",
    );
    let t = runtime();
    let mut config = py_config();
    config.environment.insert("MARK".into(), "first".into());
    deploy(&t, "random", &code, config);
    let mut seen = Vec::new();
    for _ in 0..3 {
        t.runtime.drop_environments("random");
        let inv = t.runtime.invoke("random", b"{}").unwrap();
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
}

#[test]
fn many_objects_of_one_type_and_many_json_dumps_stay_within_bounds() {
    // RustPython 0.5 on wasm32 counted references in 15 bits (a list of
    // 40,000 dicts aborted it) and never collected a recursive inner
    // function (each json.dumps leaked its encoder): both patched
    // (runtimes/vendor/PATCHES.md).
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "objects",
        r#"
import gc, json

def lambda_handler(event, context):
    rows = [{"id": i} for i in range(event["rows"])]
    gc.collect()
    before = len(gc.get_objects())
    for i in range(event["dumps"]):
        json.dumps({"i": i, "tags": ["a", "b"]})
    gc.collect()
    return {"rows": len(rows), "grew": len(gc.get_objects()) - before}
"#,
    );
    let t = runtime();
    let mut config = py_config();
    config.memory_mb = 512;
    config.timeout_s = 60;
    deploy(&t, "objects", &code, config);
    let r = response(
        &t.runtime
            .invoke("objects", br#"{"rows": 100000, "dumps": 2000}"#)
            .unwrap(),
    );
    assert_eq!(r["rows"], 100_000);
    let grew = r["grew"].as_i64().unwrap();
    assert!(grew < 100, "2,000 json.dumps calls left {grew} objects");
}

#[test]
fn a_hostile_event_nesting_too_deep_is_refused_and_the_environment_lives() {
    // RustPython's JSON decoder recurses on the native stack: a 100,000-deep
    // event exhausted it (a trap). Beyond CPython's limit it is Lambda's
    // Runtime.UnmarshalError; at the limit it decodes.
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "depth",
        "def lambda_handler(event, context):\n    depth = 0\n    while isinstance(event, list) and event:\n        event, depth = event[0], depth + 1\n    return depth\n",
    );
    let t = runtime();
    deploy(&t, "depth", &code, py_config());
    let nested = |n: usize| format!("{}0{}", "[".repeat(n), "]".repeat(n));
    let inv = t.runtime.invoke("depth", nested(999).as_bytes()).unwrap();
    assert_eq!(response(&inv), json!(999));
    let inv = t
        .runtime
        .invoke("depth", nested(100_000).as_bytes())
        .unwrap();
    let (err, kind) = error_object(&inv);
    assert_eq!(kind, ErrorKind::Unhandled);
    assert_eq!(err["errorType"], "Runtime.UnmarshalError");
    assert_eq!(
        err["errorMessage"],
        "Unable to unmarshal input: the event nests deeper than 1000 levels"
    );
    // Brackets inside strings do not count.
    let inv = t
        .runtime
        .invoke("depth", json!(["[".repeat(5000)]).to_string().as_bytes())
        .unwrap();
    assert_eq!(response(&inv), json!(1));
    assert_eq!(inv.start, StartKind::Warm, "the environment lived");
}

#[test]
fn urllib_goes_through_the_roles_outbound_grants() {
    let addr = crate::javascript::echo_server();
    let dir = TempDir::new("py");
    let code = function(
        &dir,
        "fetcher",
        r#"
import json, socket, urllib.error, urllib.request

def lambda_handler(event, context):
    req = urllib.request.Request(event["url"], data="héllo".encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return {"status": res.status, "echo": res.headers["X-Echo"],
                    "body": json.loads(res.read()), "url": res.geturl()}
    except urllib.error.URLError as e:
        try:
            socket.create_connection(("example.com", 80))
        except OSError as s:
            raw = str(s)
        return {"error": type(e).__name__, "reason": str(e.reason), "socket": raw}
"#,
    );
    let t = runtime();
    let url = format!("http://127.0.0.1:{}/path?q=1", addr.port());
    let event = json!({ "url": url }).to_string();
    // No grant: urllib's URLError, the denial logged; raw sockets say why not.
    deploy(&t, "fetcher", &code, py_config());
    let (inv, logs) = invoke_logged(&t, "fetcher", event.as_bytes());
    let r = response(&inv);
    assert_eq!(r["error"], "URLError", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with("OutboundDenied: "),
        "{r}"
    );
    assert!(
        r["socket"].as_str().unwrap().contains("use urllib.request"),
        "{r}"
    );
    assert!(logs.any(LogKind::Denied), "a DENIED line");
    // Granted: the request goes, its answer comes back.
    let mut config = py_config();
    config.role.outbound = vec![format!("http://127.0.0.1:{}", addr.port())];
    deploy(&t, "fetcher", &code, config);
    let r = response(&t.runtime.invoke("fetcher", event.as_bytes()).unwrap());
    assert_eq!(r["status"], 201, "{r}");
    assert_eq!(r["echo"], "yes");
    assert_eq!(r["url"], url);
    assert_eq!(r["body"]["request"], "POST /path?q=1 HTTP/1.1");
    assert_eq!(r["body"]["body"], "héllo");
}
