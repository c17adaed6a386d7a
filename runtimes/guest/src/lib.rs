//! What Lambdesk's language runtimes (`runtimes/javascript`,
//! `runtimes/python`) share as guests of the host: the `lambdesk` imports
//! for the invocation's context and remaining time and for outbound HTTP
//! (the role's grants are the host's to check), answering (a response, or
//! an error object marked `Unhandled`), the nesting check their JSON
//! decoders need, and a reactor's start-up.

use std::io::Write;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "lambdesk")]
unsafe extern "C" {
    #[link_name = "context"]
    fn host_context(ptr: *mut u8, len: i32) -> i32;
    #[link_name = "remaining_time_ms"]
    fn host_remaining_time_ms() -> i64;
    #[link_name = "unhandled_error"]
    fn host_unhandled_error();
    #[link_name = "http_send"]
    fn host_http_send(meta: *const u8, meta_len: i32, body: *const u8, body_len: i32) -> i32;
    #[link_name = "http_head"]
    fn host_http_head(handle: i32, ptr: *mut u8, len: i32) -> i32;
    #[link_name = "http_read"]
    fn host_http_read(handle: i32, ptr: *mut u8, len: i32) -> i32;
    #[link_name = "http_close"]
    fn host_http_close(handle: i32);
    #[link_name = "http_error"]
    fn host_http_error(ptr: *mut u8, len: i32) -> i32;
}

/// Calls a host function that writes into a buffer and answers the length
/// it needs, growing the buffer until the answer fits; `None` when it
/// answers -1.
#[cfg(target_arch = "wasm32")]
fn grow_call(f: impl Fn(*mut u8, i32) -> i32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        let n = f(buf.as_mut_ptr(), buf.len() as i32);
        if n < 0 {
            return None;
        }
        let n = n as usize;
        if n <= buf.len() {
            buf.truncate(n);
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        buf.resize(n, 0);
    }
}

/// Sends a request (`meta`: `{"method", "url", "headers": [[name, value], …]}`
/// JSON) with `body`, and waits for the response head: a handle (> 0), or
/// -1 with the reason in [`http_error`].
pub fn http_send(meta: &str, body: &[u8]) -> i32 {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: both buffers are valid for their lengths during the call.
    return unsafe {
        host_http_send(
            meta.as_ptr(),
            meta.len() as i32,
            body.as_ptr(),
            body.len() as i32,
        )
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (meta, body);
        -1
    }
}

/// The response head as JSON (`{"status", "version", "headers"}`).
pub fn http_head(handle: i32) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host writes at most `len` bytes into the buffer.
    return grow_call(|p, l| unsafe { host_http_head(handle, p, l) });
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = handle;
        None
    }
}

/// Up to `buf.len()` bytes of the body into `buf`: how many (0 at its end),
/// or -1 on a failure (the reason in [`http_error`]).
pub fn http_read(handle: i32, buf: &mut [u8]) -> i32 {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host writes at most `len` bytes into the buffer.
    return unsafe { host_http_read(handle, buf.as_mut_ptr(), buf.len() as i32) };
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (handle, buf);
        -1
    }
}

/// Closes a request and its connection.
pub fn http_close(handle: i32) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: no pointers.
    unsafe {
        host_http_close(handle)
    };
    #[cfg(not(target_arch = "wasm32"))]
    let _ = handle;
}

/// The last failure as `{"kind", "message"}` JSON.
pub fn http_error() -> String {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host writes at most `len` bytes into the buffer.
    let e = grow_call(|p, l| unsafe { host_http_error(p, l) });
    #[cfg(not(target_arch = "wasm32"))]
    let e: Option<String> = None;
    e.unwrap_or_else(|| r#"{"kind":"HttpError","message":"unknown"}"#.to_owned())
}

/// The invocation's context (`awsRequestId`, `functionName`, …) as JSON,
/// from the host; `{}` outside an invocation.
pub fn context_json() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let mut buf = vec![0u8; 512];
        loop {
            // SAFETY: the host writes at most `buf.len()` bytes into `buf`.
            let needed = unsafe { host_context(buf.as_mut_ptr(), buf.len() as i32) } as usize;
            if needed <= buf.len() {
                buf.truncate(needed);
                return String::from_utf8_lossy(&buf).into_owned();
            }
            buf.resize(needed, 0);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    "{}".to_owned()
}

/// Milliseconds left before the invocation's timeout.
pub fn remaining_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: no arguments.
    return unsafe { host_remaining_time_ms() };
    #[cfg(not(target_arch = "wasm32"))]
    0
}

/// Writes `text` to stdout as this invocation's answer; marked `Unhandled`
/// (as Lambda reports a runtime's errors) when it is an error object. At
/// INIT, an error object marked so fails the cold start with it.
pub fn respond(text: &str, error: bool) {
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    #[cfg(target_arch = "wasm32")]
    if error {
        // SAFETY: no arguments.
        unsafe { host_unhandled_error() };
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = error;
}

/// Deepest nesting of an event handed to a handler: the decoders recurse on
/// the native stack (RustPython's trapped on a 100,000-deep event), and
/// CPython's and Node's own limits are about this.
pub const MAX_EVENT_DEPTH: usize = 1000;

/// How deeply `text`'s arrays and objects nest (strings skipped).
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A reactor's start-up (wasi-libc's constructors), once, before anything
/// else runs: a runtime's own `_initialize` calls it, as a WASI reactor's
/// start-up would.
pub fn call_ctors() {
    #[cfg(target_arch = "wasm32")]
    {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: called once, before any other export, as wasi-libc's
        // reactor start-up does.
        unsafe { __wasm_call_ctors() };
    }
}

#[cfg(test)]
mod tests {
    use super::json_depth;

    #[test]
    fn nesting_is_counted_outside_strings() {
        assert_eq!(json_depth("{}"), 1);
        assert_eq!(json_depth(r#"{"a": [[1], {"b": []}]}"#), 4);
        assert_eq!(json_depth(r#"["[[[[", "\"[{"]"#), 1);
        assert_eq!(json_depth("7"), 0);
        assert_eq!(json_depth("]]]]"), 0);
    }
}
