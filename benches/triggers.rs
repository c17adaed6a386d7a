//! Trigger benchmarks: what a request costs on each path into a function,
//! against a direct warm invoke measured in the same process (the baseline).
//! An HTTP route and the Lambda API over loopback (a new connection each, as
//! curl makes), an `Event` accepted into the durable queue (written and
//! synced), an event from acceptance to its finished record, and a queue
//! message from sending to its batch's invocation, in memory and stored.
//! The CPU share is off: these measure the paths' own overhead.
//!
//! `cargo bench --bench triggers` (release build).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambdesk::host::HostOptions;
use lambdesk::host::async_queue::AsyncStep;
use lambdesk::model::{FunctionConfig, Trigger, TriggerSource};
use lambdesk::runtime::{Runtime, RuntimeOptions};

mod support;
use support::{measure, median};

fn sample(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-functions/dist")
        .join(file)
}

/// One request on a new connection; returns the status code.
fn request(port: u16, method: &str, path: &str, headers: &str, body: &[u8]) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn wait_until(mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out");
        std::thread::yield_now();
    }
}

fn main() {
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-triggers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.join("cache")),
        scratch_dir: dir.join("scratch"),
        cpu_share: lambdesk::model::CpuShare::Off,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let config = |handler: &str| FunctionConfig {
        handler: handler.to_owned(),
        ..FunctionConfig::default()
    };
    runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .expect("deploy hello");
    runtime
        .deploy("behave", &sample("behave.wasm"), config("handler"))
        .expect("deploy behave");
    let mut options = HostOptions::new(dir.join("queue"));
    options.lambda_port = 0;
    options.http_port = 0;
    let host = lambdesk::api::start_host(runtime.clone(), options).expect("host");
    let route = Trigger::new(TriggerSource::Http {
        method: "POST".into(),
        path: "/hello".into(),
        payload_format: Default::default(),
    });
    let (_, queue) = TriggerSource::parse_spec("queue", "jobs=behave").expect("queue");
    let queue = Trigger::new(queue);
    // The same queue with its messages stored, as in the app or `serve --workspace`.
    let mut stored_options = HostOptions::new(dir.join("queue-stored"));
    stored_options.lambda_port = 0;
    stored_options.state_dir = Some(dir.join("state"));
    let stored_host = lambdesk::api::start_host(runtime.clone(), stored_options).expect("host");
    assert!(
        stored_host
            .apply("behave", std::slice::from_ref(&queue))
            .is_empty()
    );
    assert!(host.apply("hello", std::slice::from_ref(&route)).is_empty());
    assert!(
        host.apply("behave", std::slice::from_ref(&queue))
            .is_empty()
    );
    let http_port = host.http_addr().expect("http").port();
    let api_port = host.lambda_addr().port();
    let event = br#"{"name":"bench"}"#;

    let (mut direct, mut http, mut api, mut accept, mut done, mut queued) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut stored = vec![];
    for _ in 0..5 {
        direct.push(measure(200, 2_000, || {
            runtime.invoke("hello", event).expect("invoke");
        }));
        http.push(measure(20, 300, || {
            assert_eq!(request(http_port, "POST", "/hello", "", event), 200);
        }));
        api.push(measure(20, 300, || {
            let path = "/2015-03-31/functions/hello/invocations";
            assert_eq!(request(api_port, "POST", path, "", event), 200);
        }));
        accept.push(measure(5, 50, || {
            host.async_queue().accept("hello", event).expect("accept");
        }));
        done.push(measure(5, 50, || {
            let after = host
                .async_queue()
                .history_since(0)
                .last()
                .map_or(0, |r| r.seq);
            let id = host.async_queue().accept("hello", event).expect("accept");
            wait_until(|| {
                host.async_queue()
                    .history_since(after)
                    .iter()
                    .any(|r| r.id == id && matches!(r.step, AsyncStep::Finished { .. }))
            });
        }));
        for (host, times) in [(&host, &mut queued), (&stored_host, &mut stored)] {
            times.push(measure(5, 100, || {
                let before = host.status(&queue.id).map_or(0, |s| s.fired);
                host.send_message("jobs", "bench".into()).expect("send");
                wait_until(|| host.status(&queue.id).is_some_and(|s| s.fired > before));
            }));
        }
    }
    let baseline = median(direct);
    println!("lambdesk trigger benchmarks (medians of 5 rounds' medians)");
    println!("{:<62} {:>12} {:>12}", "measure", "median", "x baseline");
    let row = |name: &str, d: Duration| {
        println!(
            "{name:<62} {:>9.1} us {:>12.1}",
            d.as_secs_f64() * 1e6,
            d.as_secs_f64() / baseline.as_secs_f64()
        );
    };
    row("baseline: direct warm invoke of hello", baseline);
    row(
        "HTTP route POST /hello, new connection (API Gateway)",
        median(http),
    );
    row(
        "Lambda API Invoke, new connection (RequestResponse)",
        median(api),
    );
    row(
        "Event accepted: stored and synced to disk (202)",
        median(accept),
    );
    row("Event from acceptance to its finished record", median(done));
    row(
        "queue message from sending to its batch's invocation",
        median(queued),
    );
    row(
        "the same, the message stored until processed (app, --workspace)",
        median(stored),
    );
    drop(host);
    drop(stored_host);
    let _ = std::fs::remove_dir_all(&dir);
}
