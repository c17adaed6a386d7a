//! Outbound HTTP over the host's `lambdesk.http_*` imports: only to the
//! destinations the function's role grants (`role.outbound`), and the request
//! counts against the function's timeout.
//!
//! ```ignore
//! let mut response = lambdesk_guest::http::Request::get("https://api.example.com/price").send()?;
//! let body = response.text(1 << 20)?;
//! ```

use serde_json::{Value, json};

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "lambdesk")]
unsafe extern "C" {
    fn http_send(meta: *const u8, meta_len: i32, body: *const u8, body_len: i32) -> i32;
    fn http_head(handle: i32, ptr: *mut u8, len: i32) -> i32;
    fn http_read(handle: i32, ptr: *mut u8, len: i32) -> i32;
    fn http_close(handle: i32);
    fn http_error(ptr: *mut u8, len: i32) -> i32;
}

/// Why a request failed: `kind` is `OutboundDenied`, `DnsError`,
/// `ConnectError`, `TlsError`, `HttpError`, `InvalidRequest`,
/// `LimitExceeded` or, from this module, `ResponseTooLarge`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The kind of failure.
    pub kind: String,
    /// What happened, for a person.
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl From<Error> for crate::Error {
    fn from(e: Error) -> Self {
        crate::Error::new(e.kind, e.message)
    }
}

/// A request to send.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Headers in order (a name may repeat).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A request with `method` to `url`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the request and waits for the response's status and headers.
    pub fn send(&self) -> Result<Response, Error> {
        let meta = json!({ "method": self.method, "url": self.url, "headers": self.headers })
            .to_string();
        #[cfg(target_arch = "wasm32")]
        {
            // SAFETY: both buffers are valid for their lengths during the call.
            let handle = unsafe {
                http_send(
                    meta.as_ptr(),
                    meta.len() as i32,
                    self.body.as_ptr(),
                    self.body.len() as i32,
                )
            };
            if handle < 0 {
                return Err(last_error());
            }
            let head: Value = serde_json::from_slice(&fetch(|p, l| unsafe { http_head(handle, p, l) }))
                .unwrap_or(Value::Null);
            Ok(Response::from_head(handle, &head))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = meta;
            Err(Error {
                kind: "Unsupported".to_owned(),
                message: "outbound HTTP needs the Lambdesk host".to_owned(),
            })
        }
    }
}

/// Calls a host function that writes JSON if it fits and returns its length.
#[cfg(target_arch = "wasm32")]
fn fetch(mut call: impl FnMut(*mut u8, i32) -> i32) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    loop {
        let needed = call(buf.as_mut_ptr(), buf.len() as i32);
        if needed < 0 {
            return Vec::new();
        }
        let needed = needed as usize;
        if needed <= buf.len() {
            buf.truncate(needed);
            return buf;
        }
        buf.resize(needed, 0);
    }
}

#[cfg(target_arch = "wasm32")]
fn last_error() -> Error {
    // SAFETY: the host writes at most `len` bytes at `ptr`.
    let v: Value = serde_json::from_slice(&fetch(|p, l| unsafe { http_error(p, l) }))
        .unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Error {
        kind: s("kind"),
        message: s("message"),
    }
}

/// A response whose status and headers arrived; the body is read in chunks.
/// Dropping it closes the connection.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub version: String,
    /// Headers in order, names in lower case.
    pub headers: Vec<(String, String)>,
    handle: i32,
}

impl Response {
    #[allow(dead_code)]
    fn from_head(handle: i32, head: &Value) -> Self {
        let headers = head
            .get("headers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((p.get(0)?.as_str()?.to_owned(), p.get(1)?.as_str()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            status: head.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
            version: head
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            headers,
            handle,
        }
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the next part of the body into `buf`; 0 at its end.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        #[cfg(target_arch = "wasm32")]
        {
            // SAFETY: the host writes at most `buf.len()` bytes into `buf`.
            let n = unsafe { http_read(self.handle, buf.as_mut_ptr(), buf.len() as i32) };
            if n < 0 {
                return Err(last_error());
            }
            Ok(n as usize)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = buf;
            Ok(0)
        }
    }

    /// The whole body, refusing more than `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            if out.len() + n > max {
                return Err(Error {
                    kind: "ResponseTooLarge".to_owned(),
                    message: format!("the response body is over {max} bytes"),
                });
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// The whole body as text (invalid UTF-8 replaced), refusing more than `max` bytes.
    pub fn text(&mut self, max: usize) -> Result<String, Error> {
        self.bytes(max)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads the body to its end without keeping it; returns its length.
    pub fn discard(&mut self) -> Result<u64, Error> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        #[cfg(target_arch = "wasm32")]
        // SAFETY: closing a handle the host gave; unknown handles are ignored.
        unsafe {
            http_close(self.handle)
        };
    }
}
