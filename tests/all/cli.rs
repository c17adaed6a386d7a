//! The `lambdesk` command line, run as a real process.

use std::process::{Command, Output, Stdio};

use crate::common::{TempDir, sample};

fn lambdesk(cache: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args(args)
        .env("LAMBDESK_CACHE_DIR", cache.path())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn invoke_prints_response_and_lambda_log_lines() {
    let cache = TempDir::new("cli");
    let event = cache.path().join("event.json");
    std::fs::write(&event, r#"{"name":"CLI"}"#).unwrap();
    let hello = sample("hello.wasm");
    let out = lambdesk(
        &cache,
        &[
            "invoke",
            hello.to_str().unwrap(),
            "--event",
            event.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"event\":{\"name\":\"CLI\"},\"message\":\"Hello, CLI!\"}\n"
    );
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("START RequestId: ") && lines[0].ends_with(" Version: $LATEST"),
        "{err}"
    );
    assert!(lines[1].starts_with("END RequestId: "), "{err}");
    assert!(
        lines[2].starts_with("REPORT RequestId: ") && lines[2].contains("\tInit Duration: "),
        "{err}"
    );
    // The compiled module is now in the cache for the next process.
    assert!(
        std::fs::read_dir(cache.path()).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "cwasm"))
    );
}

#[test]
fn times_summarises_cold_and_warm_starts() {
    let cache = TempDir::new("cli");
    let hello = sample("hello.wasm");
    let out = lambdesk(
        &cache,
        &[
            "invoke",
            hello.to_str().unwrap(),
            "--times",
            "50",
            "--quiet",
        ],
    );
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "--quiet prints no responses");
    let err = text(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    let shape = |line: &str, kind: &str, n: usize| {
        let parts: Vec<&str> = line.split(' ').collect();
        assert_eq!(parts[0], kind);
        assert_eq!(parts[1], format!("n={n}"));
        for (part, key) in parts[2..].iter().zip(["p50_us=", "p99_us="]) {
            let value = part.strip_prefix(key).unwrap_or_else(|| panic!("{line}"));
            assert!(value.parse::<f64>().unwrap() > 0.0);
            assert_eq!(value.split('.').nth(1).map(str::len), Some(1), "{line}");
        }
    };
    shape(lines[0], "cold", 1);
    shape(lines[1], "warm", 49);
}

#[test]
fn cold_flag_and_concurrency() {
    let cache = TempDir::new("cli");
    let counter = sample("counter.wasm");
    let out = lambdesk(
        &cache,
        &[
            "invoke",
            counter.to_str().unwrap(),
            "--times",
            "3",
            "--cold",
        ],
    );
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout)
            .lines()
            .filter(|l| l.contains("\"count\":1"))
            .count(),
        3
    );
    assert!(text(&out.stderr).contains("cold n=3 "));
    let out = lambdesk(
        &cache,
        &[
            "invoke",
            counter.to_str().unwrap(),
            "--times",
            "20",
            "--concurrency",
            "4",
        ],
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).lines().count(), 20);
}

#[test]
fn failures_exit_non_zero_with_the_error_object() {
    let cache = TempDir::new("cli");
    let sum = sample("sum.wasm");
    let out = lambdesk(&cache, &["invoke", sum.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errorType"], "InvalidInput");
    let out = lambdesk(
        &cache,
        &[
            "invoke",
            sum.to_str().unwrap(),
            "--reserved-concurrency",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("TooManyRequestsException"));
}

#[test]
fn bad_settings_and_modules_are_explained() {
    let cache = TempDir::new("cli");
    let sum = sample("sum.wasm");
    let out = lambdesk(&cache, &["invoke", sum.to_str().unwrap(), "--memory", "64"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("memory_mb: 64 is out of range; allowed 128–10240 MB"));
    let junk = cache.path().join("junk.wasm");
    std::fs::write(&junk, "junk").unwrap();
    let out = lambdesk(&cache, &["invoke", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a WebAssembly module"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn events_list_and_show() {
    let cache = TempDir::new("cli");
    let out = lambdesk(&cache, &["events", "list"]);
    let list = text(&out.stdout);
    for name in [
        "apigateway-http",
        "apigateway-rest",
        "s3-put",
        "s3-delete",
        "sqs",
        "sns",
        "eventbridge-scheduled",
        "dynamodb-stream",
        "kinesis",
        "cloudwatch-logs",
        "alb",
    ] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} missing");
    }
    let out = lambdesk(&cache, &["events", "show", "sqs"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Records"][0]["eventSource"], "aws:sqs");
    let out = lambdesk(&cache, &["events", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_guessed_handler_is_logged_at_each_cold_start() {
    // No `_start` and no `handler`: the only export is taken, and the log says so.
    let cache = TempDir::new("cli");
    let module = cache.path().join("only-run.wat");
    std::fs::write(
        &module,
        r#"(module (memory (export "memory") 1) (func (export "run")))"#,
    )
    .unwrap();
    let out = lambdesk(
        &cache,
        &["invoke", module.to_str().unwrap(), "--times", "2", "--cold"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let note = "Handler `run` was taken from the module's exports (there is no `_start`); set the handler to choose another";
    assert_eq!(err.matches(note).count(), 2, "{err}");
    // With the handler given, nothing is guessed.
    let out = lambdesk(
        &cache,
        &["invoke", module.to_str().unwrap(), "--handler", "run"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("was taken from"));
}

#[test]
fn init_writes_a_python_function_that_invoke_runs() {
    let cache = TempDir::new("cli-init-py");
    let dir = cache.path().join("uploads");
    let d = dir.to_str().unwrap();
    let out = lambdesk(
        &cache,
        &[
            "init",
            "--runtime",
            "python3.13",
            "--blueprint",
            "s3-event",
            d,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("lambda_function.py").is_file());
    // The runtime is inferred from the folder, the handler is Lambda's default.
    let event = dir.join("event.json");
    let out = lambdesk(&cache, &["invoke", d, "--event", event.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["objects"][0]["bucket"], "example-bucket");
    assert!(
        text(&out.stderr).contains("ObjectCreated:Put: s3://example-bucket/"),
        "{}",
        text(&out.stderr)
    );
    // One file, named on the command line with its handler.
    let file = cache.path().join("job.py");
    std::fs::write(
        &file,
        "def main(event, context):\n    return event.get('n', 0) + 1\n",
    )
    .unwrap();
    let out = lambdesk(
        &cache,
        &["invoke", file.to_str().unwrap(), "--handler", "job.main"],
    );
    assert_eq!(text(&out.stdout).trim(), "1", "{}", text(&out.stderr));
    // An unknown version is refused with the names that work.
    let out = lambdesk(&cache, &["init", "--runtime", "python2.7", d]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("python3.9"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn init_writes_a_javascript_function_that_invoke_runs() {
    let cache = TempDir::new("cli-init");
    let dir = cache.path().join("greeter");
    let d = dir.to_str().unwrap();
    let out = lambdesk(
        &cache,
        &[
            "init",
            "--runtime",
            "nodejs22.x",
            "--blueprint",
            "api-gateway",
            d,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("index.js").is_file() && dir.join("event.json").is_file());
    // The runtime is inferred from the folder, the handler is Lambda's default.
    let event = dir.join("event.json");
    let out = lambdesk(
        &cache,
        &["invoke", d, "--event", event.to_str().unwrap(), "--quiet"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lambdesk(&cache, &["invoke", d, "--event", event.to_str().unwrap()]);
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["statusCode"], 200);
    // Again over it: refused, nothing overwritten.
    std::fs::write(
        dir.join("index.js"),
        "exports.handler = async () => 'mine';",
    )
    .unwrap();
    let out = lambdesk(&cache, &["init", d]);
    assert_eq!(out.status.code(), Some(2));
    let out = lambdesk(&cache, &["init", "--blueprint", "api-gateway", d]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("index.js")).unwrap(),
        "exports.handler = async () => 'mine';"
    );
    // One file: its name is the handler's module.
    let file = cache.path().join("job.js");
    std::fs::write(&file, "exports.handler = async (e) => e.n + 1;").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args(["invoke", file.to_str().unwrap(), "--event", "-"])
        .env("LAMBDESK_CACHE_DIR", cache.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(br#"{"n": 41}"#)?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
    let out = lambdesk(
        &cache,
        &[
            "init",
            "--blueprint",
            "nope",
            cache.path().join("new").to_str().unwrap(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("one of hello-world, api-gateway, s3-event, sqs-batch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
