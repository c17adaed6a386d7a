//! Hostile clients on loopback against the Lambda API and the HTTP API, next
//! to the normal request each time: lying and oversized lengths, slow and
//! idle clients, header floods, response splitting through a function's
//! headers, bodies that are not JSON. Every loop is bounded in count and
//! time, and every socket has a read timeout, so a regression fails instead
//! of hanging.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use lambdesk::api::HyperFaces;
use lambdesk::api::http::ServerLimits;
use lambdesk::host::{HostOptions, TriggerHost};
use lambdesk::model::{Trigger, TriggerSource};

use crate::common::{TempDir, TestRuntime, config, runtime_in, sample};

/// A command module that writes `response` to stdout: a fixed API Gateway response.
fn responder(dir: &TempDir, name: &str, response: &str) -> std::path::PathBuf {
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    let len = u32::try_from(response.len()).unwrap().to_le_bytes();
    // The iovec at 0 points at the text at 256; the count written goes to 16.
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\00\01\00\00{len}")
  (data (i32.const 256) "{text}")
  (func (export "_start")
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#,
        len = hex(&len),
        text = hex(response.as_bytes()),
    );
    let path = dir.path().join(format!("{name}.wat"));
    std::fs::write(&path, wat).unwrap();
    path
}

struct Host {
    host: TriggerHost,
    _rt_dir: TempDir,
    _dir: TempDir,
}

fn host(limits: ServerLimits) -> Host {
    let dir = TempDir::new("hostile");
    let rt = runtime_in(TempDir::new("hostile-rt"));
    rt.runtime
        .deploy("hello", &sample("hello.wasm"), config("handler"))
        .unwrap();
    rt.runtime
        .deploy("behave", &sample("behave.wasm"), config("handler"))
        .unwrap();
    let split = responder(
        &dir,
        "split",
        "{\"statusCode\":200,\"headers\":{\"x-a\":\"1\\r\\nSet-Cookie: evil=1\"},\"body\":\"hi\"}",
    );
    let framing = responder(
        &dir,
        "framing",
        "{\"statusCode\":200,\"headers\":{\"Content-Length\":\"999\"},\"body\":\"hi\"}",
    );
    rt.runtime
        .deploy("split", &split, config("_start"))
        .unwrap();
    rt.runtime
        .deploy("framing", &framing, config("_start"))
        .unwrap();
    let mut options = HostOptions::new(dir.path().join("queue"));
    options.lambda_port = 0;
    options.sfn_port = 0;
    options.http_port = 0;
    let TestRuntime {
        runtime,
        dir: rt_dir,
    } = rt;
    let host = TriggerHost::start(runtime, options, Arc::new(HyperFaces { limits })).unwrap();
    for (function, path) in [
        ("split", "/split"),
        ("framing", "/framing"),
        ("hello", "/hello"),
    ] {
        let problems = host.apply(
            function,
            &[Trigger::new(TriggerSource::Http {
                method: "GET".into(),
                path: path.into(),
                payload_format: lambdesk::model::trigger::PayloadFormat::V2,
            })],
        );
        assert!(problems.is_empty(), "{problems:?}");
    }
    Host {
        host,
        _rt_dir: rt_dir,
        _dir: dir,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends raw bytes, reads until the server closes (or 20 s): status and text.
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    read_reply(&mut s)
}

fn read_reply(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn invoke(addr: SocketAddr, body: &str) -> (u16, String) {
    raw(
        addr,
        format!(
            "POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn a_huge_content_length_is_refused_unread_and_the_server_lives() {
    let h = host(ServerLimits::default());
    let api = h.host.lambda_addr();
    let (status, text) = raw(
        api,
        b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}",
    );
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("RequestTooLargeException"), "{text}");
    assert!(
        text.contains("Request must be smaller than 6291456 bytes"),
        "{text}"
    );
    // The normal request next to it.
    let (status, text) = invoke(api, r#"{"name":"after"}"#);
    assert_eq!(status, 200, "{text}");
    // A length that is not a number is a bad request.
    let (status, _) = raw(
        api,
        b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n{}",
    );
    assert_eq!(status, 400);
}

#[test]
fn a_chunked_body_that_grows_past_the_limit_is_cut_off() {
    let h = host(ServerLimits::default());
    let api = h.host.lambda_addr();
    let mut s = connect(api);
    s.write_all(b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    // 8 MB in 1 MB chunks, past the 6 MB (+ headroom) limit; the server may
    // stop reading before we stop writing.
    for _ in 0..8 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let (status, text) = read_reply(&mut s);
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
}

#[test]
fn a_body_shorter_than_its_length_times_out_with_408() {
    let limits = ServerLimits {
        body_read_timeout: Duration::from_millis(300),
        ..ServerLimits::default()
    };
    let h = host(limits);
    let mut s = connect(h.host.lambda_addr());
    s.write_all(b"POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        .unwrap();
    let (status, text) = read_reply(&mut s);
    assert_eq!(status, 408, "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
}

#[test]
fn slow_and_idle_clients_do_not_delay_others_and_idle_ones_are_closed() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ServerLimits::default()
    };
    let h = host(limits);
    let api = h.host.lambda_addr();
    // 64 clients that send half a request line and stop (more than the old
    // server's 8 worker threads).
    let mut slow: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut s = connect(api);
            s.write_all(b"POST /2015-03-31/functions/hel").unwrap();
            s
        })
        .collect();
    for i in 0..5 {
        let (status, text) = invoke(api, &format!(r#"{{"name":"n{i}"}}"#));
        assert_eq!(status, 200, "{text}");
    }
    // The slow ones are dropped once their header time is up: reading ends
    // (EOF or a 408) rather than waiting for our 20 s read timeout.
    for s in &mut slow {
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(
            r.is_ok() || matches!(r, Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset),
            "a slow client was kept open: {r:?}"
        );
    }
    // An idle keep-alive connection is closed too.
    let mut idle = connect(api);
    idle.write_all(b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut rest = Vec::new();
    assert!(
        idle.read_to_end(&mut rest).is_ok(),
        "an idle connection stayed open"
    );
}

#[test]
fn header_floods_are_refused_with_431() {
    let h = host(ServerLimits::default());
    let api = h.host.lambda_addr();
    let mut many =
        String::from("GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..200 {
        many.push_str(&format!("x-h{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    let (status, _) = raw(api, many.as_bytes());
    assert_eq!(status, 431);
    let big = format!(
        "GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nx-big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, _) = raw(api, big.as_bytes());
    assert_eq!(status, 431);
    let (status, _) = raw(
        api,
        b"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
}

#[test]
fn a_body_that_is_not_json_is_invalid_request_content() {
    let h = host(ServerLimits::default());
    let (status, text) = invoke(h.host.lambda_addr(), "not json");
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("InvalidRequestContentException"), "{text}");
    assert!(
        text.contains("Could not parse request body into json"),
        "{text}"
    );
}

#[test]
fn an_event_over_1_mb_is_refused_and_one_under_is_accepted() {
    let h = host(ServerLimits::default());
    let api = h.host.lambda_addr();
    let event = |size: usize| {
        let body = format!("\"{}\"", "a".repeat(size - 2));
        raw(
            api,
            format!(
                "POST /2015-03-31/functions/hello/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Invocation-Type: Event\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    let (status, text) = event(1024 * 1024 + 10);
    assert_eq!(status, 413, "{}", &text[..text.len().min(300)]);
    let (status, text) = event(1000);
    assert_eq!(status, 202, "{text}");
}

#[test]
fn a_function_cannot_split_the_http_response() {
    let h = host(ServerLimits::default());
    let http = h.host.http_addr().unwrap();
    let get = |path: &str| {
        raw(
            http,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    let (status, text) = get("/split");
    assert_eq!(status, 502, "{text}");
    assert!(!text.to_ascii_lowercase().contains("evil"), "{text}");
    let (status, text) = get("/framing");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("x-amzn-remapped-content-length: 999"),
        "{text}"
    );
    assert!(text.contains("content-length: 2\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhi"), "{text}");
    let (status, _) = get("/hello");
    assert_eq!(status, 200);
}
