//! Outbound HTTP benchmark: a guest's request (the `http-request` sample
//! through the `lambdesk.http_*` imports: grant check, address check, a new
//! connection, the head as JSON, the body streamed) against the same request
//! made directly by the host with hyper, to the same loopback server, in the
//! same process. Both open one connection per request, as the guest does.
//! The figure is the overhead per request, as a median over runs.
//!
//! `cargo bench --bench outbound` (release build).

use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambdesk::model::{FunctionConfig, Role};
use lambdesk::runtime::{Runtime, RuntimeOptions};

mod support;
use support::{measure, median};

/// Requests per guest invocation: the invocation's own cost is spread thin.
const REPEAT: u64 = 200;

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A loopback HTTP/1.1 server answering `ok` on its own threads.
fn server() -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-http-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, rt)
}

/// The baseline: the host connects, sends and reads the body with hyper.
fn direct(addr: std::net::SocketAddr) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    measure(200, 2_000, || {
        rt.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            let conn = tokio::spawn(conn);
            let req = hyper::Request::get("/")
                .header("host", addr.to_string())
                .body(Empty::<Bytes>::new())
                .expect("request");
            let res = sender.send_request(req).await.expect("response");
            let body = res.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], b"ok");
            drop(sender);
            let _ = conn.await;
        });
    })
}

fn main() {
    let (addr, _server) = server();
    let dir = std::env::temp_dir().join(format!("lambdesk-bench-outbound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let rt = Runtime::new(RuntimeOptions {
        cache_dir: Some(dir.join("cache")),
        scratch_dir: dir.join("scratch"),
        cpu_share: lambdesk::model::CpuShare::Off,
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    let module =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-functions/dist/http-request.wasm");
    let config = FunctionConfig {
        handler: "handler".to_owned(),
        timeout_s: 60,
        role: Role {
            outbound: vec![format!("http://127.0.0.1:{}", addr.port())],
            ..Role::default()
        },
        ..FunctionConfig::default()
    };
    rt.deploy("http", &module, config).expect("deploy");
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let invoke = |repeat: u64| {
        let event = serde_json::json!({ "url": url, "repeat": repeat }).to_string();
        let started = Instant::now();
        let inv = rt.invoke("http", event.as_bytes()).expect("invoke");
        assert!(inv.error().is_none(), "{:?}", inv.error());
        started.elapsed()
    };
    for _ in 0..3 {
        invoke(REPEAT);
    }
    let direct_each = direct(addr);
    // Per request in the guest: (R requests - 1 request) / (R - 1), so the
    // invocation's fixed cost cancels out.
    let guest_each = median(
        (0..15)
            .map(|_| {
                let many = invoke(REPEAT);
                let one = invoke(1);
                many.saturating_sub(one) / u32::try_from(REPEAT - 1).unwrap_or(1)
            })
            .collect(),
    );
    let overhead = guest_each.saturating_sub(direct_each);
    println!("outbound HTTP/1.1 request to a loopback server (new connection each), medians:");
    println!(
        "  host, directly with hyper (baseline)   {:>8.1} µs",
        us(direct_each)
    );
    println!(
        "  guest, through lambdesk.http_*          {:>8.1} µs",
        us(guest_each)
    );
    println!(
        "  overhead per request                    {:>8.1} µs ({:.2}× the baseline; target ≤ 50 µs)",
        us(overhead),
        guest_each.as_secs_f64() / direct_each.as_secs_f64().max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
