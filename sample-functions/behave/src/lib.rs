//! `behave`: a handler module whose event picks a behaviour, to exercise the
//! runtime's limits:
//! `{"action": "echo"}`, `{"action": "sleep", "ms": N}`, `{"action": "spin", "ms": N}`,
//! `{"action": "alloc", "mb": N}`, `{"action": "panic"}`, `{"action": "exit", "code": N}`,
//! `{"action": "log", "lines": N}`, `{"action": "error"}`, `{"action": "output", "bytes": N}`,
//! `{"action": "tmp"}` (writes then reads a file in /tmp), `{"action": "env"}`,
//! `{"action": "context"}`, `{"action": "read", "path": P}`, `{"action": "write", "path": P}`,
//! `{"action": "open", "files": N}` (holds N files in /tmp open at once),
//! `{"action": "fill", "mb": N, "path": P}` (writes N MB in 1 MB pieces),
//! `{"action": "sparse", "mb": N}` (sets /tmp/sparse's length to N MB),
//! `{"action": "rm", "path": P}`, `{"action": "work", "units": N}` (a fixed amount
//! of computing, N million steps: for CPU share and power tuning). The file actions report the errno they stopped on.
//! An SQS event (`Records` from `aws:sqs`) gets a partial batch response that
//! fails the messages whose body is `fail`. A Kinesis or DynamoDB stream batch
//! is logged record by record and fails as a whole if a record's data is `fail`.

use std::time::{Duration, Instant};

use lambdesk_guest::{Error, Value, json, run};

static mut KEEP: Vec<Vec<u8>> = Vec::new();

lambdesk_guest::initialize!({});

/// The handler (`"handler": "handler"`).
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    run(|event, ctx| {
        if let Some(records) = event.get("Records").and_then(Value::as_array)
            && records.iter().all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
        {
            let failures: Vec<Value> = records
                .iter()
                .filter(|r| r.get("body").and_then(Value::as_str) == Some("fail"))
                .map(|r| json!({ "itemIdentifier": r.get("messageId").cloned().unwrap_or(Value::Null) }))
                .collect();
            eprintln!("batch of {} message(s), {} failed", records.len(), failures.len());
            return Ok(json!({ "batchItemFailures": failures }));
        }
        if let Some(records) = event.get("Records").and_then(Value::as_array)
            && let Some(source @ ("aws:kinesis" | "aws:dynamodb")) =
                records.first().and_then(|r| r.get("eventSource")).and_then(Value::as_str)
        {
            let mut failed = false;
            for r in records {
                let line = if source == "aws:kinesis" {
                    let pk = r.pointer("/kinesis/partitionKey").and_then(Value::as_str).unwrap_or("");
                    let data = r.pointer("/kinesis/data").and_then(Value::as_str).unwrap_or("");
                    let text = base64_decode(data);
                    failed |= text == "fail";
                    format!("kinesis {pk} {text}")
                } else {
                    let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
                    let keys = r.pointer("/dynamodb/Keys").cloned().unwrap_or(Value::Null);
                    format!("dynamodb {name} {keys}")
                };
                eprintln!("{line}");
            }
            if failed {
                return Err(Error::new("StreamRecordFailed", "a record's data is `fail`"));
            }
            return Ok(json!({ "processed": records.len() }));
        }
        let num = |k: &str| event.get(k).and_then(Value::as_u64).unwrap_or(0);
        let action = event.get("action").and_then(Value::as_str).unwrap_or("echo");
        match action {
            "echo" => Ok(event.clone()),
            "sleep" => {
                eprintln!("sleeping {} ms", num("ms"));
                std::thread::sleep(Duration::from_millis(num("ms")));
                Ok(json!({ "slept_ms": num("ms") }))
            }
            "spin" => {
                let until = Instant::now() + Duration::from_millis(num("ms"));
                let mut n: u64 = 0;
                while Instant::now() < until {
                    n = n.wrapping_add(1);
                }
                Ok(json!({ "spins": n }))
            }
            "work" => {
                // A fixed amount of work, not a fixed time: N million xorshift steps.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                for _ in 0..num("units").saturating_mul(1_000_000) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                }
                Ok(json!({ "units": num("units"), "checksum": x }))
            }
            "alloc" => {
                let mb = num("mb") as usize;
                let block = vec![1u8; mb * 1024 * 1024];
                let sum: u64 = block.iter().step_by(4096).map(|&b| u64::from(b)).sum();
                // Keep it, so the memory stays in use as in a leaky function.
                // SAFETY: the module is single-threaded.
                unsafe { (*std::ptr::addr_of_mut!(KEEP)).push(block) };
                Ok(json!({ "allocated_mb": mb, "pages_touched": sum }))
            }
            "panic" => panic!("behave was asked to panic"),
            "exit" => std::process::exit(num("code") as i32),
            "log" => {
                let lines = num("lines");
                for i in 0..lines {
                    eprintln!("log line {i} of {lines}");
                }
                Ok(json!({ "logged": lines }))
            }
            "output" => Ok(Value::String("x".repeat(num("bytes") as usize))),
            "error" => Err(Error::new("BehaveError", "behave was asked to fail")),
            "tmp" => {
                let previous = std::fs::read_to_string("/tmp/behave.txt").ok();
                std::fs::write("/tmp/behave.txt", ctx.aws_request_id.as_bytes())
                    .map_err(|e| Error::new("IOError", e.to_string()))?;
                Ok(json!({ "previous": previous, "written": ctx.aws_request_id }))
            }
            "read" => {
                let path = event.get("path").and_then(Value::as_str).unwrap_or("/");
                std::fs::read_to_string(path)
                    .map(|s| json!({ "content": s }))
                    .map_err(|e| Error::new("IOError", format!("{path}: {e}")))
            }
            "write" => {
                let path = event.get("path").and_then(Value::as_str).unwrap_or("/");
                std::fs::write(path, b"written by behave")
                    .map(|()| json!({ "written": path }))
                    .map_err(|e| Error::new("IOError", format!("{path}: {e}")))
            }
            "open" => {
                let mut files = Vec::new();
                let mut stopped = None;
                for i in 0..num("files") {
                    match std::fs::File::create(format!("/tmp/open-{i}")) {
                        Ok(f) => files.push(f),
                        Err(e) => {
                            stopped = Some(e);
                            break;
                        }
                    }
                }
                let opened = files.len();
                drop(files);
                Ok(json!({ "opened": opened, "stopped": stopped.map(|e| io_error(&e)) }))
            }
            "fill" => {
                use std::io::Write as _;
                let path = event.get("path").and_then(Value::as_str).unwrap_or("/tmp/fill");
                let mut f = std::fs::File::create(path).map_err(|e| Error::new("IOError", format!("{path}: {e}")))?;
                let piece = vec![7u8; 1024 * 1024];
                let mut written = 0;
                let mut stopped = None;
                while written < num("mb") {
                    if let Err(e) = f.write_all(&piece) {
                        stopped = Some(e);
                        break;
                    }
                    written += 1;
                }
                Ok(json!({ "written_mb": written, "stopped": stopped.map(|e| io_error(&e)) }))
            }
            "sparse" => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open("/tmp/sparse")
                    .map_err(|e| Error::new("IOError", e.to_string()))?;
                let result = f.set_len(num("mb") * 1024 * 1024);
                Ok(json!({ "stopped": result.err().map(|e| io_error(&e)) }))
            }
            "rm" => {
                let path = event.get("path").and_then(Value::as_str).unwrap_or("/tmp/fill");
                std::fs::remove_file(path)
                    .map(|()| json!({ "removed": path }))
                    .map_err(|e| Error::new("IOError", format!("{path}: {e}")))
            }
            "env" => Ok(json!(std::env::vars().collect::<std::collections::BTreeMap<_, _>>())),
            "context" => Ok(json!({
                "awsRequestId": ctx.aws_request_id,
                "invokedFunctionArn": ctx.invoked_function_arn,
                "functionName": ctx.function_name,
                "functionVersion": ctx.function_version,
                "memoryLimitInMB": ctx.memory_limit_in_mb,
                "logGroupName": ctx.log_group_name,
                "logStreamName": ctx.log_stream_name,
                "remainingTimeMs": ctx.remaining_time_ms(),
            })),
            other => Err(Error::new("UnknownAction", format!("unknown action `{other}`"))),
        }
    });
}

/// An I/O error as the guest saw it: WASI's errno and its text.
fn io_error(e: &std::io::Error) -> Value {
    json!({ "errno": e.raw_os_error(), "message": e.to_string() })
}

/// Standard base64 (the Kinesis record data), lossy on bad input.
fn base64_decode(s: &str) -> String {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
