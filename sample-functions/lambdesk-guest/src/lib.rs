//! Write a Lambdesk function as one Rust function.
//!
//! ```ignore
//! fn main() {
//!     lambdesk_guest::run(|event, ctx| Ok(serde_json::json!({"hello": ctx.function_name})));
//! }
//! ```
//!
//! `run` reads the event from stdin, calls the handler, and writes the response
//! (or, for `Err`, the error object after calling `lambdesk::error_response`)
//! to stdout. It works in a command module (`fn main`) and in a handler module
//! (called from an exported `extern "C" fn`).

use std::io::{Read, Write};

pub mod http;

pub use serde_json::{Value, json};

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "lambdesk")]
unsafe extern "C" {
    #[link_name = "context"]
    fn host_context(ptr: *mut u8, len: i32) -> i32;
    #[link_name = "remaining_time_ms"]
    fn host_remaining_time_ms() -> i64;
    #[link_name = "error_response"]
    fn host_error_response();
}

/// The invocation context, as Lambda's `context` object.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The request id.
    pub aws_request_id: String,
    /// The ARN used to invoke the function.
    pub invoked_function_arn: String,
    /// The function's name.
    pub function_name: String,
    /// `$LATEST` or a version number.
    pub function_version: String,
    /// Configured memory in MB.
    pub memory_limit_in_mb: u64,
    /// CloudWatch-style log group.
    pub log_group_name: String,
    /// This environment's log stream.
    pub log_stream_name: String,
    /// Deadline, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
}

impl Context {
    /// Fetches the current invocation's context from the host.
    pub fn current() -> Self {
        let json = context_json();
        let v: Value = serde_json::from_slice(&json).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or_default();
        Self {
            aws_request_id: s("awsRequestId"),
            invoked_function_arn: s("invokedFunctionArn"),
            function_name: s("functionName"),
            function_version: s("functionVersion"),
            memory_limit_in_mb: n("memoryLimitInMB"),
            log_group_name: s("logGroupName"),
            log_stream_name: s("logStreamName"),
            deadline_ms: n("deadlineMs"),
        }
    }

    /// Milliseconds left before the invocation times out.
    pub fn remaining_time_ms(&self) -> i64 {
        #[cfg(target_arch = "wasm32")]
        // SAFETY: a host function without arguments.
        unsafe {
            host_remaining_time_ms()
        }
        #[cfg(not(target_arch = "wasm32"))]
        0
    }
}

fn context_json() -> Vec<u8> {
    #[cfg(target_arch = "wasm32")]
    {
        let mut buf = vec![0u8; 512];
        loop {
            // SAFETY: the host writes at most `buf.len()` bytes into `buf`.
            let needed = unsafe { host_context(buf.as_mut_ptr(), buf.len() as i32) } as usize;
            if needed <= buf.len() {
                buf.truncate(needed);
                return buf;
            }
            buf.resize(needed, 0);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    b"{}".to_vec()
}

/// A handled error: becomes `{"errorType", "errorMessage", "stackTrace"}`.
#[derive(Clone, Debug)]
pub struct Error {
    /// For example `ValidationError`.
    pub error_type: String,
    /// What went wrong.
    pub message: String,
}

impl Error {
    /// A new error.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

/// Reads the event, calls `handler`, writes the response or the error.
pub fn run(handler: impl FnOnce(Value, &Context) -> Result<Value, Error>) {
    let mut input = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut input);
    let event: Value = serde_json::from_slice(&input).unwrap_or(Value::Null);
    let ctx = Context::current();
    let out = match handler(event, &ctx) {
        Ok(v) => serde_json::to_vec(&v).unwrap_or_default(),
        Err(e) => {
            #[cfg(target_arch = "wasm32")]
            // SAFETY: a host function without arguments.
            unsafe {
                host_error_response()
            };
            serde_json::to_vec(&json!({
                "errorType": e.error_type,
                "errorMessage": e.message,
                "stackTrace": [],
            }))
            .unwrap_or_default()
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&out);
    let _ = stdout.flush();
}

/// Defines `_initialize`, the export Lambdesk runs once in INIT for a handler
/// module (a WASI "reactor"): it runs the module's constructors, then `$body`.
/// Code here is what Lambda users put outside the handler.
#[macro_export]
macro_rules! initialize {
    ($body:block) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn _initialize() {
            #[cfg(target_arch = "wasm32")]
            {
                unsafe extern "C" {
                    fn __wasm_call_ctors();
                }
                // SAFETY: called once, before any other export, as wasi-libc's
                // reactor start-up does.
                unsafe { __wasm_call_ctors() };
            }
            $body
        }
    };
}
