//! The HTTP server every face runs on: hyper's HTTP/1.1 connections on a
//! small tokio runtime of its own, so a thousand connections cost tasks, not
//! threads. The limits are declared once here ([`ServerLimits`]) and hold
//! for the Lambda API, the HTTP routes and the local queue and stream
//! endpoints alike:
//!
//! - a body is read against its face's limit ([`Face::body_limit`]) while it
//!   arrives: a `Content-Length` over the limit is answered at once, before
//!   any byte of the body is read, and a body that grows past it is cut off;
//! - header bytes and header count are capped (431 from hyper);
//! - a client that does not send its headers, or its body, in time is
//!   dropped (headers) or answered 408 (body), and an idle keep-alive
//!   connection is closed, so slow clients hold a task each, never a worker;
//! - at most [`ServerLimits::max_connections`] connections are served at
//!   once; more wait in the kernel's backlog until one closes;
//! - handlers (which invoke functions, and so block) run on a bounded pool
//!   of named threads; excess requests wait for a free one;
//! - a handler's header that is not a valid HTTP header (CR or LF in it, a
//!   bad name) never reaches the wire, and `Content-Length` and
//!   `Transfer-Encoding` are always hyper's own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

/// An HTTP request, read whole (within its face's limit).
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, not decoded.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Headers in order, names lower-case as HTTP/2 and hyper give them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The client's address.
    pub source_ip: String,
}

impl HttpRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (repeated names allowed, as for `Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Why the server answered a request itself, before its face saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The body is (or says it is) larger than the face's limit.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
        /// The size the client declared or had sent when it was cut off.
        size: u64,
    },
    /// The body did not arrive within [`ServerLimits::body_read_timeout`].
    SlowBody,
    /// The body could not be read (the client went away or broke framing).
    BadBody,
}

/// What a server serves: a limit for each request's body, the answer to a
/// request, and the answer to a request refused by the server.
pub trait Face: Send + Sync + 'static {
    /// The largest body `method path` may carry.
    fn body_limit(&self, method: &str, path: &str) -> usize;
    /// Answers a request (on a pool thread: it may block).
    fn handle(&self, request: HttpRequest) -> HttpResponse;
    /// Answers a request the server refused, in the face's error shape.
    fn refuse(&self, refusal: Refusal) -> HttpResponse;
}

/// Connection-level limits.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Threads answering requests at once; more requests wait.
    pub handler_threads: usize,
    /// Time to send a request's headers, and the longest a keep-alive
    /// connection may sit idle between requests.
    pub header_read_timeout: Duration,
    /// Time to send a request's body once its headers arrived.
    pub body_read_timeout: Duration,
    /// Request line and headers, in bytes.
    pub max_header_bytes: usize,
    /// Headers per request.
    pub max_headers: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            handler_threads: 16,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// A running server. Dropping it stops accepting, closes its connections
/// and ends its threads.
pub struct Listener {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Listener {
    /// Where it listens (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            // Handlers blocked in an invocation finish on their own; the
            // connections and the accept loop end now.
            rt.shutdown_background();
        }
    }
}

/// Binds `addr` (port 0: any free port) and serves `face` there with
/// `limits`, on threads named `name`, until the listener is dropped.
pub fn listen(
    addr: SocketAddr,
    name: &str,
    limits: ServerLimits,
    face: Arc<dyn Face>,
) -> anyhow::Result<Listener> {
    let std_listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    std_listener
        .set_nonblocking(true)
        .context("making the listener non-blocking")?;
    let addr = std_listener
        .local_addr()
        .context("reading the bound address")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(limits.handler_threads.max(1))
        .thread_name(name)
        .enable_io()
        .enable_time()
        .build()
        .with_context(|| format!("starting the {name} server"))?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).context("registering the listener")?
    };
    let (tx, rx) = oneshot::channel();
    runtime.spawn(accept_loop(listener, limits, face, rx));
    Ok(Listener {
        addr,
        shutdown: Some(tx),
        runtime: Some(runtime),
    })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    limits: ServerLimits,
    face: Arc<dyn Face>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let limits = Arc::new(limits);
    loop {
        // Take a slot before accepting: past the limit, connections wait in
        // the kernel's backlog instead of costing memory here.
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors, or the peer reset before we took it:
                // back off a little and keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (face, limits) = (face.clone(), limits.clone());
        tokio::spawn(async move {
            let per_request = limits.clone();
            let service = hyper::service::service_fn(move |req| {
                let (face, limits) = (face.clone(), per_request.clone());
                async move { Ok::<_, std::convert::Infallible>(serve(req, peer, face, &limits).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_header_size(limits.max_header_bytes)
                .max_buf_size(limits.max_header_bytes.max(8192) * 2)
                .max_headers(limits.max_headers)
                .keep_alive(true);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

async fn serve(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    face: Arc<dyn Face>,
    limits: &ServerLimits,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_ascii_uppercase();
    let path = parts.uri.path().to_owned();
    let limit = face.body_limit(&method, &path);
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = declared
        && size > limit as u64
    {
        return to_hyper(face.refuse(Refusal::TooLarge { limit, size }), true);
    }
    let read = tokio::time::timeout(
        limits.body_read_timeout,
        Limited::new(body, limit).collect(),
    );
    let body = match read.await {
        Err(_) => return to_hyper(face.refuse(Refusal::SlowBody), true),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let size = limit as u64 + 1;
            return to_hyper(face.refuse(Refusal::TooLarge { limit, size }), true);
        }
        Ok(Err(_)) => return to_hyper(face.refuse(Refusal::BadBody), true),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let request = HttpRequest {
        method,
        path,
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        source_ip: peer.ip().to_string(),
    };
    let response = tokio::task::spawn_blocking(move || face.handle(request)).await;
    match response {
        Ok(r) => to_hyper(r, false),
        Err(_) => to_hyper(
            HttpResponse::json(
                500,
                &serde_json::json!({ "message": "the request handler failed" }),
            ),
            true,
        ),
    }
}

/// The hyper response; headers hyper would refuse (CR, LF, bad names) are
/// left out, and the framing headers are hyper's own.
fn to_hyper(r: HttpResponse, close: bool) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::from(r.body)));
    *out.status_mut() =
        hyper::StatusCode::from_u16(r.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    for (k, v) in &r.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v.as_bytes()),
        ) else {
            continue;
        };
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        headers.append(name, value);
    }
    if close {
        // The body may not have been read: the connection cannot be reused.
        headers.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_that_would_split_a_response_are_left_out() {
        let r = HttpResponse {
            status: 200,
            headers: vec![
                ("x-ok".into(), "1".into()),
                ("x-bad".into(), "a\r\nSet-Cookie: evil=1".into()),
                ("bad name".into(), "1".into()),
                ("Content-Length".into(), "999".into()),
            ],
            body: b"hi".to_vec(),
        };
        let h = to_hyper(r, false);
        assert_eq!(h.headers().len(), 1);
        assert_eq!(h.headers()["x-ok"], "1");
    }
}
