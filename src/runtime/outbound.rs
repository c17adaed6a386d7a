//! Outbound HTTP for guests: one request per connection, HTTP/1.1 or HTTP/2
//! (by ALPN over TLS), on hyper's client connections with rustls.
//!
//! A request is checked against the role's grants (`model/outbound.rs`)
//! before anything leaves the process, its host is resolved, every address is
//! checked again, and the connection goes to a checked address, so a granted
//! name cannot be pointed at the host's own services. Redirects are returned
//! to the guest, never followed. The connection's future is driven only
//! while the guest waits on it (sending, reading the body) and is owned by the
//! [`Open`] request, so dropping the request (the guest closes it, the
//! invocation ends, or the timeout drops the call) closes the socket at once.
//! The response body is streamed: the host holds one frame at a time.
//!
//! Why hyper's connections and not a pooled client (reqwest, hyper-util's
//! `Client`): a pool spawns connection tasks on the runtime of the thread that
//! made them, and an environment runs its invocations on whichever thread is
//! free; with one connection per request owned by the request, nothing
//! outlives the invocation and the address check is the connection's address.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::model::outbound::{Denial, DestHost, Destination, Grants, Scheme};

/// Most bytes of a request body (the guest hands it over whole).
pub const MAX_REQUEST_BODY_BYTES: usize = 32 << 20;
/// Most bytes of a request's method, URL and headers, as JSON.
pub const MAX_REQUEST_META_BYTES: usize = 64 << 10;
/// Most request or response headers.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of a URL as a denial line shows it.
const MAX_SHOWN_URL: usize = 512;

/// How the runtime makes outbound requests.
#[derive(Clone, Debug, Default)]
pub struct OutboundOptions {
    /// Certificate authorities (PEM) trusted besides the bundled Mozilla roots,
    /// for servers with a private or test CA.
    pub extra_roots_pem: Vec<u8>,
    /// Names answered without asking DNS, as curl's `--resolve` (lower case).
    /// The answers are checked like any other.
    pub resolve: BTreeMap<String, Vec<IpAddr>>,
}

/// The parts of outbound HTTP shared by every environment of a runtime.
pub(crate) struct Client {
    tls: tokio_rustls::TlsConnector,
    resolve: BTreeMap<String, Vec<IpAddr>>,
}

impl Client {
    /// The TLS set-up (Mozilla's roots and `options`' extra ones; ALPN h2 and
    /// http/1.1) and the name overrides.
    pub fn new(options: &OutboundOptions) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if !options.extra_roots_pem.is_empty() {
            let mut added = 0;
            for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&options.extra_roots_pem) {
                let cert: rustls_pki_types::CertificateDer<'static> =
                    cert.map_err(|e| format!("reading the extra CA certificates: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("an extra CA certificate is not usable: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err("the extra CA file holds no PEM certificate".to_owned());
            }
        }
        // ring rather than aws-lc-rs: it builds with any C compiler (no
        // cmake), at the cost of the post-quantum key exchange (rustls 0.23.48
        // deprecates the ring provider for that reason alone).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            resolve: options
                .resolve
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
        })
    }

    async fn resolve(&self, dest: &Destination) -> Result<Vec<IpAddr>, OutboundError> {
        let name = match &dest.host {
            DestHost::Ip(ip) => return Ok(vec![*ip]),
            DestHost::Name(n) => n,
        };
        if let Some(ips) = self.resolve.get(name) {
            return Ok(ips.clone());
        }
        let found: Vec<IpAddr> = tokio::net::lookup_host((name.as_str(), dest.port))
            .await
            .map_err(|e| OutboundError::Dns(format!("cannot resolve {name}: {e}")))?
            .map(|a| a.ip())
            .collect();
        if found.is_empty() {
            return Err(OutboundError::Dns(format!("{name} has no addresses")));
        }
        Ok(found)
    }
}

/// Why a request failed, as the guest and the log see it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The request itself is malformed (bad URL, method, header).
    #[error("{0}")]
    Invalid(String),
    /// The role does not grant the destination.
    #[error("{method} {url} {denial}")]
    Denied {
        /// The request's method.
        method: String,
        /// `scheme://host:port/path` (the query shown as `?…`).
        url: String,
        /// What the grants said.
        denial: Denial,
    },
    /// The name could not be resolved.
    #[error("{0}")]
    Dns(String),
    /// No connection could be made.
    #[error("{0}")]
    Connect(String),
    /// The TLS handshake failed (an unknown authority, a wrong name).
    #[error("{0}")]
    Tls(String),
    /// The server broke HTTP (or the connection dropped).
    #[error("{0}")]
    Http(String),
    /// A limit of the environment (descriptors, request size).
    #[error("{0}")]
    Limit(String),
}

impl OutboundError {
    /// A short name for the kind, as the guest's error type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "InvalidRequest",
            Self::Denied { .. } => "OutboundDenied",
            Self::Dns(_) => "DnsError",
            Self::Connect(_) => "ConnectError",
            Self::Tls(_) => "TlsError",
            Self::Http(_) => "HttpError",
            Self::Limit(_) => "LimitExceeded",
        }
    }

    /// `{"kind": …, "message": …}` for the guest.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::json!({ "kind": self.kind(), "message": self.to_string() })
            .to_string()
            .into_bytes()
    }

    /// The log line a denial writes: `[DENIED] GET https://host:443/path …`.
    pub fn denial_line(&self) -> Option<String> {
        matches!(self, Self::Denied { .. }).then(|| format!("[DENIED] {self}"))
    }
}

/// A request as the guest describes it.
struct Parsed {
    method: hyper::Method,
    uri: hyper::Uri,
    dest: Destination,
    headers: HeaderMap,
    shown: String,
}

#[derive(serde::Deserialize)]
struct Meta {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: HeaderList,
}

fn get() -> String {
    "GET".to_owned()
}

/// Headers as `{"name": "value"}` or `[["name", "value"], …]` (for repeats).
#[derive(serde::Deserialize, Default)]
#[serde(untagged)]
enum HeaderList {
    #[default]
    None,
    Map(BTreeMap<String, String>),
    Pairs(Vec<(String, String)>),
}

/// Headers the connection sets itself.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "content-length",
];

fn parse(meta: &[u8]) -> Result<Parsed, OutboundError> {
    let invalid = |m: String| OutboundError::Invalid(m);
    let meta: Meta = serde_json::from_slice(meta).map_err(|e| {
        invalid(format!(
            "the request is not {{\"method\", \"url\", \"headers\"}} JSON: {e}"
        ))
    })?;
    let method = hyper::Method::from_bytes(meta.method.as_bytes())
        .map_err(|_| invalid(format!("`{}` is not an HTTP method", meta.method)))?;
    let uri: hyper::Uri = meta
        .url
        .parse()
        .map_err(|e| invalid(format!("`{}` is not a URL: {e}", shorten(&meta.url))))?;
    let scheme = uri.scheme_str().and_then(Scheme::parse).ok_or_else(|| {
        invalid(format!(
            "`{}`: only absolute http:// and https:// URLs",
            shorten(&meta.url)
        ))
    })?;
    let authority = uri
        .authority()
        .ok_or_else(|| invalid(format!("`{}` names no host", shorten(&meta.url))))?;
    if authority.as_str().contains('@') {
        return Err(invalid(
            "credentials in the URL are not sent; use an Authorization header".to_owned(),
        ));
    }
    let host = DestHost::parse(authority.host()).map_err(invalid)?;
    let dest = Destination {
        scheme,
        host,
        port: authority.port_u16().unwrap_or(scheme.default_port()),
    };
    let mut headers = HeaderMap::new();
    let pairs: Vec<(String, String)> = match meta.headers {
        HeaderList::None => Vec::new(),
        HeaderList::Map(m) => m.into_iter().collect(),
        HeaderList::Pairs(p) => p,
    };
    if pairs.len() > MAX_HEADERS {
        return Err(invalid(format!(
            "{} headers; a request has at most {MAX_HEADERS}",
            pairs.len()
        )));
    }
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{}` is not a header name", shorten(&name))))?;
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| invalid(format!("the value of `{name}` is not a header value")))?;
        headers.append(name, value);
    }
    let path = uri.path();
    let query = if uri.query().is_some() { "?…" } else { "" };
    let shown = shorten(&format!("{dest}{path}{query}")).into_owned();
    Ok(Parsed {
        method,
        uri,
        dest,
        headers,
        shown,
    })
}

fn shorten(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= MAX_SHOWN_URL {
        return s.into();
    }
    let mut end = MAX_SHOWN_URL;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end]).into()
}

type ConnFuture = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// A request whose response head has arrived: the head for the guest, the
/// body to stream, and the connection that carries it.
pub(crate) struct Open {
    head: Vec<u8>,
    body: Incoming,
    pending: Bytes,
    finished: bool,
    conn: Option<ConnFuture>,
}

impl Open {
    /// `{"status", "version", "headers": [[name, value], …]}`.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Up to `max` bytes of the body; empty at its end.
    pub async fn read(&mut self, max: usize) -> Result<Bytes, OutboundError> {
        loop {
            if !self.pending.is_empty() {
                let n = max.min(self.pending.len());
                return Ok(self.pending.split_to(n));
            }
            if self.finished || max == 0 {
                return Ok(Bytes::new());
            }
            let frame = match self.conn.as_mut() {
                Some(conn) => {
                    tokio::select! {
                        frame = self.body.frame() => frame,
                        done = conn => {
                            self.conn = None;
                            if let Err(e) = done {
                                return Err(OutboundError::Http(format!("the connection failed: {e}")));
                            }
                            continue;
                        }
                    }
                }
                None => self.body.frame().await,
            };
            match frame {
                None => self.finished = true,
                Some(Err(e)) => {
                    self.finished = true;
                    return Err(OutboundError::Http(format!(
                        "reading the response body: {e}"
                    )));
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending = data;
                    }
                }
            }
        }
    }
}

/// Checks, resolves, connects and sends; returns once the response head is in.
pub(crate) async fn send(
    client: &Client,
    grants: &Grants,
    meta: &[u8],
    body: Bytes,
) -> Result<Open, OutboundError> {
    let req = parse(meta)?;
    let denied = |denial: Denial| OutboundError::Denied {
        method: req.method.to_string(),
        url: req.shown.clone(),
        denial,
    };
    grants.check_destination(&req.dest).map_err(denied)?;
    let addresses = client.resolve(&req.dest).await?;
    for ip in &addresses {
        grants.check_address(&req.dest, *ip).map_err(denied)?;
    }
    let stream = connect(&addresses, req.dest.port).await?;
    let (sender, conn) = match req.dest.scheme {
        Scheme::Http => handshake_h1(stream).await?,
        Scheme::Https => {
            let name = match &req.dest.host {
                DestHost::Name(n) => ServerName::try_from(n.clone())
                    .map_err(|e| OutboundError::Invalid(format!("`{n}`: {e}")))?,
                DestHost::Ip(ip) => ServerName::IpAddress((*ip).into()),
            };
            let tls = client
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| OutboundError::Tls(format!("TLS with {}: {e}", req.dest)))?;
            if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                handshake_h2(tls).await?
            } else {
                handshake_h1(tls).await?
            }
        }
    };
    let Parsed {
        method,
        uri,
        dest,
        mut headers,
        ..
    } = req;
    let mut request = hyper::Request::builder().method(method);
    let h2 = matches!(sender, Sender::H2(_));
    request = if h2 {
        request.uri(uri)
    } else {
        let host = match (&dest.host, authority_port(&uri)) {
            (h, Some(p)) => format!("{h}:{p}"),
            (h, None) => h.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&host) {
            headers.insert(hyper::header::HOST, v);
        }
        request.uri(uri.path_and_query().map_or("/", |p| p.as_str()))
    };
    let mut request = request
        .body(Full::new(body))
        .map_err(|e| OutboundError::Invalid(format!("building the request: {e}")))?;
    *request.headers_mut() = headers;
    let mut conn = Some(conn);
    let response = {
        let sending = async {
            match sender {
                Sender::H1(mut s) => s.send_request(request).await,
                Sender::H2(mut s) => s.send_request(request).await,
            }
        };
        tokio::pin!(sending);
        loop {
            let Some(c) = conn.as_mut() else {
                break sending.await;
            };
            tokio::select! {
                r = &mut sending => break r,
                done = c => {
                    conn = None;
                    if let Err(e) = done {
                        return Err(OutboundError::Http(format!("the connection to {dest} failed: {e}")));
                    }
                }
            }
        }
    }
    .map_err(|e| OutboundError::Http(format!("{dest}: {e}")))?;
    let head = serde_json::json!({
        "status": response.status().as_u16(),
        "version": format!("{:?}", response.version()),
        "headers": response
            .headers()
            .iter()
            .map(|(k, v)| [k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()])
            .collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    Ok(Open {
        head,
        body: response.into_body(),
        pending: Bytes::new(),
        finished: false,
        conn,
    })
}

fn authority_port(uri: &hyper::Uri) -> Option<u16> {
    uri.authority().and_then(|a| a.port_u16())
}

async fn connect(addresses: &[IpAddr], port: u16) -> Result<tokio::net::TcpStream, OutboundError> {
    let mut errors = Vec::new();
    for ip in addresses {
        let addr = SocketAddr::new(*ip, port);
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(OutboundError::Connect(format!(
        "cannot connect: {}",
        errors.join("; ")
    )))
}

async fn handshake_h1<S>(io: S) -> Result<(Sender, ConnFuture), OutboundError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_headers(MAX_HEADERS)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| OutboundError::Http(format!("HTTP/1.1 handshake: {e}")))?;
    Ok((Sender::H1(sender), Box::pin(conn)))
}

async fn handshake_h2<S>(io: S) -> Result<(Sender, ConnFuture), OutboundError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .max_header_list_size(64 << 10)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| OutboundError::Http(format!("HTTP/2 handshake: {e}")))?;
    Ok((Sender::H2(sender), Box::pin(conn)))
}

/// An environment's outbound requests: the open ones by handle, and the
/// last failure for the guest to read.
pub(crate) struct Requests {
    pub client: Arc<Client>,
    pub grants: Arc<Grants>,
    open: BTreeMap<i32, Open>,
    next: i32,
    last_error: Option<OutboundError>,
}

impl Requests {
    pub fn new(client: Arc<Client>, grants: Arc<Grants>) -> Self {
        Self {
            client,
            grants,
            open: BTreeMap::new(),
            next: 1,
            last_error: None,
        }
    }

    /// Keeps an open request; returns its handle (positive).
    pub fn insert(&mut self, open: Open) -> i32 {
        while self.open.contains_key(&self.next) {
            self.next = self.next.checked_add(1).unwrap_or(1);
        }
        let handle = self.next;
        self.next = self.next.checked_add(1).unwrap_or(1);
        self.open.insert(handle, open);
        handle
    }

    pub fn get(&self, handle: i32) -> Option<&Open> {
        self.open.get(&handle)
    }

    /// Takes a request out while the guest waits on it (the store is not
    /// borrowed across the wait); [`Self::put_back`] returns it.
    pub fn take(&mut self, handle: i32) -> Option<Open> {
        self.open.remove(&handle)
    }

    pub fn put_back(&mut self, handle: i32, open: Open) {
        self.open.insert(handle, open);
    }

    /// Closes a request; whether it was open.
    pub fn close(&mut self, handle: i32) -> bool {
        self.open.remove(&handle).is_some()
    }

    /// Closes every request (at the end of an invocation); how many were open.
    pub fn close_all(&mut self) -> usize {
        let n = self.open.len();
        self.open.clear();
        n
    }

    pub fn set_error(&mut self, e: OutboundError) {
        self.last_error = Some(e);
    }

    /// The last failure as JSON, or `{}`.
    pub fn error_json(&self) -> Vec<u8> {
        self.last_error
            .as_ref()
            .map_or_else(|| b"{}".to_vec(), OutboundError::to_json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_strictly() {
        let ok = parse(br#"{"url":"https://Api.Example.com/a/b?key=secret","headers":{"x-a":"1","Host":"evil"}}"#)
            .unwrap();
        assert_eq!(ok.method, hyper::Method::GET);
        assert_eq!(ok.dest.to_string(), "https://api.example.com:443");
        assert_eq!(ok.shown, "https://api.example.com:443/a/b?…");
        assert!(ok.headers.get("host").is_none(), "Host comes from the URL");
        let pairs = parse(
            br#"{"method":"POST","url":"http://[::1]:8080/","headers":[["a","1"],["a","2"]]}"#,
        )
        .unwrap();
        assert_eq!(pairs.headers.get_all("a").iter().count(), 2);
        for (bad, says) in [
            (&br#"{"url":"ftp://x/"}"#[..], "only absolute http"),
            (br#"{"url":"/relative"}"#, "only absolute"),
            (br#"{"url":"http://u:p@x/"}"#, "credentials"),
            (
                br#"{"method":"G T","url":"http://x/"}"#,
                "not an HTTP method",
            ),
            (
                br#"{"url":"http://x/","headers":{"bad name":"v"}}"#,
                "not a header name",
            ),
            (
                br#"{"url":"http://x/","headers":{"a":"line\nbreak"}}"#,
                "not a header value",
            ),
            (br#"not json"#, "is not {"),
            (br#"{"url":"http://exa mple.com/"}"#, "not a URL"),
        ] {
            let err = parse(bad).err().unwrap().to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn denials_are_logged_with_the_url_but_not_its_query() {
        let e = OutboundError::Denied {
            method: "GET".to_owned(),
            url: "https://example.com:443/x?…".to_owned(),
            denial: Denial::NotGranted,
        };
        assert_eq!(
            e.denial_line().unwrap(),
            "[DENIED] GET https://example.com:443/x?… not in the role's outbound grants"
        );
        assert_eq!(e.kind(), "OutboundDenied");
        assert!(OutboundError::Dns("x".into()).denial_line().is_none());
    }
}
