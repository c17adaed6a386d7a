//! Outbound HTTP from guests (`runtime/outbound.rs`), on loopback only: test
//! servers started here, the `http-request` sample, and the role's grants.
//! Each limit or denial has its `_obeyed` / `_violated` pair.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambdesk::model::FunctionConfig;
use lambdesk::runtime::{LogKind, OutboundOptions, Runtime, RuntimeOptions};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::common::{Logs, TempDir, TestRuntime, sample};

/// What the test server saw of one request.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the test server answers.
pub enum Reply {
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// `200` with a chunked body of `total` bytes in chunks of `chunk`.
    Chunked { chunk: usize, total: usize },
    /// Nothing: wait for the client to go away.
    Stall,
}

#[derive(Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub closed: AtomicUsize,
    pub requests: Mutex<Vec<Seen>>,
    /// When a stalled connection saw the client close it.
    pub stall_closed: Mutex<Vec<Instant>>,
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A loopback HTTP/1.1 server (over TLS when given an acceptor).
pub struct Server {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

pub fn serve(reply: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
    serve_with(None, Arc::new(reply))
}

fn serve_with(tls: Option<tokio_rustls::TlsAcceptor>, reply: Handler) -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("test-http-server")
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            s.connections.fetch_add(1, Ordering::SeqCst);
            let (s, reply, tls) = (s.clone(), reply.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            connection(stream, &s, &reply).await;
                        }
                    }
                    None => connection(stream, &s, &reply).await,
                }
                s.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Server {
        addr,
        stats,
        _rt: rt,
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, stats: &Stats, reply: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let mut seen = Seen {
        method: first.next().unwrap_or_default().to_owned(),
        path: first.next().unwrap_or_default().to_owned(),
        ..Seen::default()
    };
    for l in lines.filter(|l| !l.is_empty()) {
        if let Some((k, v)) = l.split_once(':') {
            seen.headers
                .push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length: usize = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    seen.body = body;
    let answer = reply(&seen);
    stats.requests.lock().unwrap().push(seen);
    match answer {
        Reply::Raw(bytes) => {
            let _ = io.write_all(&bytes).await;
        }
        Reply::Chunked { chunk: size, total } => {
            let _ = io
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            let data = vec![b'x'; size];
            let mut left = total;
            while left > 0 {
                let n = left.min(size);
                let framed = [format!("{n:x}\r\n").as_bytes(), &data[..n], b"\r\n"].concat();
                if io.write_all(&framed).await.is_err() {
                    return;
                }
                left -= n;
            }
            let _ = io.write_all(b"0\r\n\r\n").await;
        }
        Reply::Stall => {
            while matches!(io.read(&mut chunk).await, Ok(n) if n > 0) {}
            stats.stall_closed.lock().unwrap().push(Instant::now());
            return;
        }
    }
    let _ = io.flush().await;
    // Keep the connection until the client closes it.
    while matches!(io.read(&mut chunk).await, Ok(n) if n > 0) {}
}

pub fn ok(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    Reply::Raw(out.into_bytes())
}

pub fn runtime_with(outbound: OutboundOptions) -> TestRuntime {
    let dir = TempDir::new("outbound");
    let options = RuntimeOptions {
        cache_dir: Some(dir.path().join("cache")),
        scratch_dir: dir.path().join("scratch"),
        pool_slots: 16,
        outbound,
        ..RuntimeOptions::default()
    };
    TestRuntime {
        runtime: Runtime::new(options).unwrap(),
        dir,
    }
}

pub fn deploy(rt: &Runtime, grants: &[String], timeout_s: u32) {
    let config = FunctionConfig {
        handler: "handler".to_owned(),
        timeout_s,
        role: lambdesk::model::Role {
            outbound: grants.to_vec(),
            ..Default::default()
        },
        ..FunctionConfig::default()
    };
    rt.deploy("http", &sample("http-request.wasm"), config)
        .unwrap();
}

/// Invokes `http` with `event`: (payload, error type if any, log lines by kind).
fn call(rt: &Runtime, event: Value) -> (Value, Option<String>, Vec<(LogKind, String)>) {
    let logs = Logs::default();
    let inv = rt
        .invoke_with(
            "http",
            event.to_string().as_bytes(),
            &lambdesk::runtime::InvokeOptions {
                log_sink: Some(logs.sink()),
                ..Default::default()
            },
        )
        .unwrap();
    let payload: Value = serde_json::from_slice(&inv.payload()).unwrap_or(Value::Null);
    let lines = logs
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, l)| (l.kind, l.text.clone()))
        .collect();
    (payload, inv.error().map(|e| e.error_type.clone()), lines)
}

/// `http://127.0.0.1:PORT`, the test server's origin.
fn local(server: &Server) -> String {
    format!("http://127.0.0.1:{}", server.port())
}

/// A GET of `url` through the sample.
fn get(rt: &Runtime, url: String) -> (Value, Option<String>, Vec<(LogKind, String)>) {
    call(rt, json!({ "url": url }))
}

fn denials(lines: &[(LogKind, String)]) -> Vec<&str> {
    lines
        .iter()
        .filter(|(k, _)| *k == LogKind::Denied)
        .map(|(_, t)| t.as_str())
        .collect()
}

#[test]
fn granted_request_obeyed() {
    let server = serve(|seen| {
        let body = format!(
            "{} {} x-test={} body={}",
            seen.method,
            seen.path,
            seen.header("x-test").unwrap_or("-"),
            String::from_utf8_lossy(&seen.body)
        );
        ok(
            "201 Created",
            &[("x-reply", "yes"), ("set-cookie", "a=1")],
            &body,
        )
    });
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 3);
    let (r, err, lines) = call(
        &t.runtime,
        json!({
            "url": format!("http://127.0.0.1:{}/orders?id=7", server.port()),
            "method": "POST",
            "headers": {"x-test": "42", "content-type": "text/plain", "host": "spoofed.example"},
            "body": "hello",
        }),
    );
    assert_eq!(err, None, "{r}");
    assert_eq!(r["status"], 201, "{r}");
    assert_eq!(r["headers"]["x-reply"], "yes", "{r}");
    assert_eq!(r["body"], "POST /orders?id=7 x-test=42 body=hello", "{r}");
    assert!(denials(&lines).is_empty(), "{lines:?}");
    let seen = server.stats.requests.lock().unwrap()[0].clone();
    // The Host header is the URL's, not the guest's.
    assert_eq!(
        seen.header("host"),
        Some(format!("127.0.0.1:{}", server.port()).as_str())
    );
    assert_eq!(seen.header("content-length"), Some("5"));
    // The connection closed with the invocation.
    wait_for(|| server.stats.closed.load(Ordering::SeqCst) == 1);
}

fn wait_for(mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn denied_host_violated() {
    // Nothing is granted by default: the guest gets a handled error naming
    // the denial, the log a [DENIED] line, and nothing leaves the process.
    let server = serve(|_| ok("200 OK", &[], "should not be reached"));
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[], 3);
    let (r, err, lines) = call(
        &t.runtime,
        json!({"url": "https://example.com/prices?key=secret"}),
    );
    assert_eq!(err.as_deref(), Some("OutboundDenied"), "{r}");
    assert_eq!(
        r["errorMessage"],
        "GET https://example.com:443/prices?… not in the role's outbound grants"
    );
    assert_eq!(
        denials(&lines),
        ["[DENIED] GET https://example.com:443/prices?… not in the role's outbound grants"]
    );
    // A grant for another host does not reach this one.
    deploy(&t.runtime, &["https://api.example.com".to_owned()], 3);
    let (r, err, _) = get(&t.runtime, format!("http://127.0.0.1:{}/", server.port()));
    assert_eq!(err.as_deref(), Some("OutboundDenied"), "{r}");
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
}

#[test]
fn loopback_named_by_a_grant_obeyed() {
    let server = serve(|_| ok("200 OK", &[], "local"));
    let t = runtime_with(OutboundOptions::default());
    deploy(
        &t.runtime,
        &[format!("http://localhost:{}", server.port())],
        3,
    );
    let (r, err, _) = get(&t.runtime, format!("http://localhost:{}/", server.port()));
    assert_eq!(err, None, "{r}");
    assert_eq!(r["body"], "local");
}

#[test]
fn loopback_without_a_grant_naming_it_violated() {
    // Every public host and port is granted, the host's own addresses are not.
    let server = serve(|_| ok("200 OK", &[], "should not be reached"));
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &["*://*:*".to_owned()], 3);
    for (url, says) in [
        (
            format!("http://127.0.0.1:{}/", server.port()),
            "127.0.0.1 is a loopback address, which the role's outbound grants do not name",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254 is the cloud metadata address, which the role's outbound grants do not name",
        ),
        (
            "http://mail.example.com:25/".to_owned(),
            "port 25 is blocked for outbound connections, as in Lambda",
        ),
    ] {
        let (r, err, lines) = call(&t.runtime, json!({ "url": url }));
        assert_eq!(err.as_deref(), Some("OutboundDenied"), "{r}");
        let message = r["errorMessage"].as_str().unwrap();
        assert!(message.ends_with(says), "{message}");
        assert_eq!(denials(&lines), [format!("[DENIED] {message}")]);
    }
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
}

#[test]
fn a_name_resolving_to_a_denied_address_violated() {
    // The grant names a host; its DNS answer is the loopback (as a rebinding
    // attack would make it): the answer is checked, not just the name.
    let server = serve(|_| ok("200 OK", &[], "should not be reached"));
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let t = runtime_with(OutboundOptions {
        resolve: [("api.example.test".to_owned(), vec![loopback])].into(),
        ..OutboundOptions::default()
    });
    deploy(
        &t.runtime,
        &[format!("http://api.example.test:{}", server.port())],
        3,
    );
    let url = format!("http://api.example.test:{}/v1", server.port());
    let (r, err, lines) = call(&t.runtime, json!({ "url": url }));
    assert_eq!(err.as_deref(), Some("OutboundDenied"), "{r}");
    let expected = format!(
        "GET http://api.example.test:{}/v1 127.0.0.1 is a loopback address, which the role's outbound grants do not name",
        server.port()
    );
    assert_eq!(r["errorMessage"], expected.as_str());
    assert_eq!(denials(&lines), [format!("[DENIED] {expected}")]);
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
    // Naming the address too lets it through.
    deploy(
        &t.runtime,
        &[
            format!("http://api.example.test:{}", server.port()),
            format!("http://127.0.0.1:{}", server.port()),
        ],
        3,
    );
    let (r, err, _) = call(&t.runtime, json!({ "url": url }));
    assert_eq!(err, None, "{r}");
    let seen = server.stats.requests.lock().unwrap()[0].clone();
    assert_eq!(
        seen.header("host"),
        Some(format!("api.example.test:{}", server.port()).as_str())
    );
}

#[test]
fn redirect_to_a_denied_host_is_not_followed() {
    let elsewhere = serve(|_| ok("200 OK", &[], "should not be reached"));
    let location = format!("http://127.0.0.1:{}/secret", elsewhere.port());
    let loc = location.clone();
    let server = serve(move |_| ok("302 Found", &[("location", &loc)], ""));
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 3);
    let (r, err, lines) = get(&t.runtime, format!("http://127.0.0.1:{}/go", server.port()));
    assert_eq!(err, None, "{r}");
    assert_eq!(r["status"], 302);
    assert_eq!(r["headers"]["location"], location.as_str());
    assert!(denials(&lines).is_empty());
    assert_eq!(elsewhere.stats.connections.load(Ordering::SeqCst), 0);
}

#[test]
fn slow_server_hits_the_function_timeout_and_the_request_is_cancelled() {
    let server = serve(|_| Reply::Stall);
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 1);
    let started = Instant::now();
    let (r, err, _) = get(
        &t.runtime,
        format!("http://127.0.0.1:{}/slow", server.port()),
    );
    let timed_out = Instant::now();
    assert_eq!(err.as_deref(), Some("Sandbox.Timedout"), "{r}");
    assert_eq!(r["errorMessage"], "Task timed out after 1.00 seconds");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The server sees the connection closed: the request was cancelled, not left behind.
    wait_for(|| !server.stats.stall_closed.lock().unwrap().is_empty());
    let closed = server.stats.stall_closed.lock().unwrap()[0];
    assert!(closed.saturating_duration_since(timed_out) < Duration::from_secs(5));
}

#[test]
fn chunked_large_body_streams_obeyed() {
    // 64 MB through a 128 MB function: streamed in chunks, never whole.
    let total = 64 << 20;
    let server = serve(move |_| Reply::Chunked {
        chunk: 256 << 10,
        total,
    });
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 10);
    let (r, err, _) = call(
        &t.runtime,
        json!({"url": format!("http://127.0.0.1:{}/big", server.port()), "discardBody": true}),
    );
    assert_eq!(err, None, "{r}");
    assert_eq!(r["status"], 200);
    assert_eq!(r["headers"]["transfer-encoding"], "chunked");
    assert_eq!(r["bodyBytes"], total);
}

#[test]
fn oversized_response_violated() {
    // A body over the caller's bound is a handled error, and the connection
    // is dropped before the rest arrives; too many headers fail at the head.
    let server = serve(|seen| {
        if seen.path == "/headers" {
            let mut out = String::from("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n");
            for i in 0..500 {
                out.push_str(&format!("x-h{i}: v\r\n"));
            }
            out.push_str("\r\n");
            Reply::Raw(out.into_bytes())
        } else {
            Reply::Chunked {
                chunk: 64 << 10,
                total: 4 << 20,
            }
        }
    });
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 5);
    let (r, err, _) = call(
        &t.runtime,
        json!({"url": format!("http://127.0.0.1:{}/big", server.port()), "maxBodyBytes": 1_000_000}),
    );
    assert_eq!(err.as_deref(), Some("ResponseTooLarge"), "{r}");
    assert_eq!(r["errorMessage"], "the response body is over 1000000 bytes");
    let (r, err, _) = get(
        &t.runtime,
        format!("http://127.0.0.1:{}/headers", server.port()),
    );
    assert_eq!(err.as_deref(), Some("HttpError"), "{r}");
    assert!(
        r["errorMessage"].as_str().unwrap().contains("too large"),
        "{r}"
    );
}

/// A test certificate authority and a server certificate it signed for
/// `localhost` and `api.example.test`.
fn test_ca() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Lambdesk test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "api.example.test".to_owned()])
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), config)
}

fn serve_tls_h1(config: rustls::ServerConfig, reply: Handler) -> Server {
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    serve_with(
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        reply,
    )
}

#[test]
fn tls_with_a_test_authority_obeyed() {
    let (ca_pem, config) = test_ca();
    let server = serve_tls_h1(config, Arc::new(|_| ok("200 OK", &[], "secure")));
    let t = runtime_with(OutboundOptions {
        extra_roots_pem: ca_pem.into_bytes(),
        ..OutboundOptions::default()
    });
    deploy(
        &t.runtime,
        &[format!("https://localhost:{}", server.port())],
        5,
    );
    let (r, err, _) = get(&t.runtime, format!("https://localhost:{}/", server.port()));
    assert_eq!(err, None, "{r}");
    assert_eq!(r["body"], "secure");
}

#[test]
fn tls_with_an_unknown_authority_violated() {
    let (_, config) = test_ca();
    let server = serve_tls_h1(config, Arc::new(|_| ok("200 OK", &[], "secure")));
    let t = runtime_with(OutboundOptions::default());
    deploy(
        &t.runtime,
        &[format!("https://localhost:{}", server.port())],
        5,
    );
    let (r, err, _) = get(&t.runtime, format!("https://localhost:{}/", server.port()));
    assert_eq!(err.as_deref(), Some("TlsError"), "{r}");
    assert!(
        r["errorMessage"]
            .as_str()
            .unwrap()
            .contains("UnknownIssuer"),
        "{r}"
    );
    assert!(server.stats.requests.lock().unwrap().is_empty());
}

#[test]
fn http2_by_alpn_obeyed() {
    use http_body_util::Full;
    use hyper::service::service_fn;
    let (ca_pem, mut config) = test_ca();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = format!("{:?} {}", req.version(), req.uri());
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from(body),
                    )))
                });
                let _ =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
            });
        }
    });
    let t = runtime_with(OutboundOptions {
        extra_roots_pem: ca_pem.into_bytes(),
        ..OutboundOptions::default()
    });
    deploy(&t.runtime, &[format!("https://localhost:{port}")], 5);
    let (r, err, _) = get(&t.runtime, format!("https://localhost:{port}/h2?x=1"));
    assert_eq!(err, None, "{r}");
    assert_eq!(
        r["body"],
        format!("HTTP/2.0 https://localhost:{port}/h2?x=1").as_str()
    );
}

/// A command module that sends requests without closing them until the
/// host refuses, then answers the refusal (`http_error`).
fn hoarder(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let meta = format!(r#"{{"url":"http://127.0.0.1:{port}/"}}"#);
    crate::common::wat(
        dir,
        "hoard",
        &format!(
            r#"(module
  (import "lambdesk" "http_send" (func $send (param i32 i32 i32 i32) (result i32)))
  (import "lambdesk" "http_error" (func $error (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "{meta}")
  (func (export "_start")
    (local $n i32) (local $len i32)
    (block $refused
      (loop $more
        (br_if $refused (i32.lt_s (call $send (i32.const 1024) (i32.const {len}) (i32.const 0) (i32.const 0)) (i32.const 0)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $n) (i32.const 3000)))))
    (local.set $len (call $error (i32.const 4096) (i32.const 4096)))
    (i32.store (i32.const 0) (i32.const 4096))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
            meta = meta.replace('"', "\\\""),
            len = meta.len(),
        ),
    )
}

#[test]
fn connections_count_with_descriptors_violated() {
    // Connections are descriptors: 1,024 in all with the standard streams and
    // the preopened folders; the next send fails inside the guest, and the
    // connections close when the invocation ends.
    let server = serve(|_| ok("200 OK", &[], ""));
    let t = runtime_with(OutboundOptions::default());
    let dir = TempDir::new("hoard");
    let config = FunctionConfig {
        timeout_s: 60,
        role: lambdesk::model::Role {
            outbound: vec![format!("http://127.0.0.1:{}", server.port())],
            ..Default::default()
        },
        ..FunctionConfig::default()
    };
    t.runtime
        .deploy("hoard", &hoarder(dir.path(), server.port()), config)
        .unwrap();
    for round in 1..=2 {
        let inv = t.runtime.invoke("hoard", b"{}").unwrap();
        let r: Value = serde_json::from_slice(&inv.payload()).unwrap();
        assert_eq!(r["kind"], "LimitExceeded", "{r}");
        assert_eq!(
            r["message"],
            "too many open files and connections (1024, Lambda's limit on descriptors)"
        );
        let opened = server.stats.connections.load(Ordering::SeqCst);
        assert!(
            (1000 * round..=1021 * round).contains(&opened),
            "{opened} connections after round {round}"
        );
        wait_for(|| server.stats.closed.load(Ordering::SeqCst) == opened);
    }
}

#[test]
fn malformed_requests_and_pointers_violated() {
    // A request the guest got wrong is an error inside the guest; a pointer
    // outside its memory is a trap that names the call.
    let server = serve(|_| ok("200 OK", &[], ""));
    let t = runtime_with(OutboundOptions::default());
    deploy(&t.runtime, &[local(&server)], 3);
    for (event, kind, says) in [
        (
            json!({"url": "ftp://x/"}),
            "InvalidRequest",
            "only absolute http:// and https://",
        ),
        (
            json!({"url": "http://127.0.0.1:1/", "method": "BAD METHOD"}),
            "InvalidRequest",
            "not an HTTP method",
        ),
        (json!({"url": "not a url"}), "InvalidRequest", "not a URL"),
    ] {
        let (r, err, _) = call(&t.runtime, event);
        assert_eq!(err.as_deref(), Some(kind), "{r}");
        assert!(r["errorMessage"].as_str().unwrap().contains(says), "{r}");
    }
    let dir = TempDir::new("badptr");
    let module = crate::common::wat(
        dir.path(),
        "badptr",
        r#"(module
  (import "lambdesk" "http_send" (func $send (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $send (i32.const 65000) (i32.const 5000) (i32.const 0) (i32.const 0)))))"#,
    );
    t.runtime
        .deploy("badptr", &module, FunctionConfig::default())
        .unwrap();
    let inv = t.runtime.invoke("badptr", b"{}").unwrap();
    let e = inv.error().unwrap();
    assert!(
        e.error_message
            .contains("lambdesk.http_send: the buffer is outside the module's memory"),
        "{e:?}"
    );
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
}

fn lambdesk(args: &[&str]) -> std::process::Output {
    let cache = TempDir::new("outbound-cli");
    std::process::Command::new(env!("CARGO_BIN_EXE_lambdesk"))
        .args(args)
        .env("LAMBDESK_CACHE_DIR", cache.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn cli_allow_outbound_obeyed() {
    let server = serve(|seen| ok("200 OK", &[], &format!("saw {}", seen.path)));
    let dir = TempDir::new("cli-event");
    let event = dir.path().join("event.json");
    let url = format!("http://api.example.test:{}/cli", server.port());
    std::fs::write(&event, json!({ "url": url }).to_string()).unwrap();
    let module = sample("http-request.wasm");
    let grant_name = format!("http://api.example.test:{}", server.port());
    let grant_address = format!("http://127.0.0.1:{}", server.port());
    let out = lambdesk(&[
        "invoke",
        module.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "--allow-outbound",
        &grant_name,
        "--allow-outbound",
        &grant_address,
        "--resolve",
        "api.example.test=127.0.0.1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(r["body"], "saw /cli", "{r}");
}

#[test]
fn cli_allow_outbound_violated() {
    // Without the address grant the DNS answer is refused, and stderr has the
    // [DENIED] line; a malformed pattern fails before anything runs.
    let dir = TempDir::new("cli-event");
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"url":"http://api.example.test:8080/x"}"#).unwrap();
    let module = sample("http-request.wasm");
    let out = lambdesk(&[
        "invoke",
        module.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "--allow-outbound",
        "http://api.example.test:8080",
        "--resolve",
        "api.example.test=127.0.0.1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l
            == "[DENIED] GET http://api.example.test:8080/x 127.0.0.1 is a loopback address, which the role's outbound grants do not name"),
        "{stderr}"
    );
    let out = lambdesk(&[
        "invoke",
        module.to_str().unwrap(),
        "--allow-outbound",
        "ftp://example.com",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("role.outbound: `ftp://example.com`: the scheme must be http, https or *"),
        "{stderr}"
    );
    // A name override without an address, or a CA file with no certificate,
    // fails before anything runs.
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (flag, value, says) in [
        (
            "--resolve",
            "api.example.test",
            "--resolve api.example.test: expected HOST=ADDRESS",
        ),
        (
            "--resolve",
            "api.example.test=not-an-ip",
            "is not an IP address",
        ),
        (
            "--extra-ca-certs",
            not_pem.to_str().unwrap(),
            "holds no PEM certificate",
        ),
    ] {
        let out = lambdesk(&["invoke", module.to_str().unwrap(), flag, value]);
        assert!(!out.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}
