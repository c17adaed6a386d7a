//! The host side of a guest: its store data, the standard streams wired to the
//! current invocation (event on stdin, response on stdout, log lines on
//! stderr), the memory limiter, and the `lambdesk` import module that gives a
//! handler its invocation context.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use wasmtime::{Caller, Linker, ResourceLimiter};
use wasmtime_wasi::cli::{IsTerminal, StdinStream, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

use super::logs::{LineSplitter, LogKind, LogLine, LogSink};
use super::outbound::{self, OutboundError, Requests};
use super::report::ErrorKind;

/// Lambda's limit for a synchronous response: 6 MB.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// What a store carries.
pub(crate) struct HostState {
    pub wasi: WasiP1Ctx,
    pub limiter: MemoryLimiter,
    pub io: Io,
    /// Open descriptors and `/tmp` bytes, against Lambda's limits.
    pub fs: super::fs_limits::FsLimits,
    /// CPU in proportion to memory.
    pub cpu: super::cpu::CpuThrottle,
    /// Outbound HTTP requests open now, and the role's grants.
    pub outbound: Requests,
}

impl HostState {
    /// Ends an invocation's outbound requests: their connections close now,
    /// as nothing drives them between invocations.
    pub fn end_invocation(&mut self) {
        let closed = self.outbound.close_all();
        self.fs.connections_closed(closed);
    }
}

/// Caps linear memory at the configured size and records the high-water mark.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub limit_bytes: usize,
    pub peak_bytes: usize,
    /// Set when the guest asked for more than the limit.
    pub exceeded: bool,
}

impl MemoryLimiter {
    pub fn new(limit_bytes: usize) -> Self {
        Self {
            limit_bytes,
            peak_bytes: 0,
            exceeded: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            // The function reached its memory size: Max Memory Used says so.
            self.exceeded = true;
            self.peak_bytes = self.limit_bytes;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The per-invocation facts a handler can ask for.
#[derive(Clone, Debug)]
pub(crate) struct InvocationContext {
    pub request_id: Arc<str>,
    pub deadline: Instant,
    pub deadline_unix_ms: u64,
    /// The ARN as invoked (with its alias or version), when not the function's own.
    pub invoked_arn: Option<Arc<str>>,
}

/// Facts about the environment that do not change between invocations.
#[derive(Clone, Debug)]
pub(crate) struct EnvironmentFacts {
    pub function: Arc<str>,
    pub memory_mb: u32,
    pub log_group: Arc<str>,
    pub log_stream: Arc<str>,
    pub arn: Arc<str>,
    /// `$LATEST` or a published version's number.
    pub version: Arc<str>,
}

/// The streams' shared state for the invocation in progress.
pub(crate) struct IoState {
    stdin: Bytes,
    stdout: Vec<u8>,
    stdout_overflow: bool,
    stderr: LineSplitter,
    /// How the guest marked this invocation's stdout as an error object.
    error_response: Option<ErrorKind>,
    context: Option<InvocationContext>,
    facts: Arc<EnvironmentFacts>,
    sink: Option<LogSink>,
}

/// A handle to the streams' state, shared by stdin, stdout, stderr and the
/// host functions of one environment.
#[derive(Clone)]
pub(crate) struct Io(Arc<Mutex<IoState>>);

impl Io {
    pub fn new(facts: Arc<EnvironmentFacts>) -> Self {
        Self(Arc::new(Mutex::new(IoState {
            stdin: Bytes::new(),
            stdout: Vec::new(),
            stdout_overflow: false,
            stderr: LineSplitter::default(),
            error_response: None,
            context: None,
            facts,
            sink: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, IoState> {
        // A panic while holding this lock cannot leave it inconsistent in a way
        // that matters: every field is reset at the next `begin`.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prepares the streams for an invocation.
    pub fn begin(&self, event: Bytes, context: InvocationContext, sink: Option<LogSink>) {
        let mut s = self.lock();
        s.sink = sink;
        s.stdin = event;
        s.stdout.clear();
        s.stdout_overflow = false;
        s.error_response = None;
        s.context = Some(context);
    }

    /// Ends an invocation: flushes a last unfinished log line and returns what
    /// was written to stdout, whether it overflowed, and whether (and how)
    /// the guest marked it as an error.
    pub fn finish(&self) -> (Vec<u8>, bool, Option<ErrorKind>) {
        let mut s = self.lock();
        let IoState {
            stderr,
            sink,
            context,
            facts,
            ..
        } = &mut *s;
        if let (Some(sink), Some(ctx)) = (sink.as_ref(), context.as_ref()) {
            stderr.finish(&mut |text| emit(sink, facts, ctx, LogKind::Function, text));
        } else {
            stderr.finish(&mut |_| {});
        }
        s.stdin = Bytes::new();
        let out = std::mem::take(&mut s.stdout);
        (out, s.stdout_overflow, s.error_response)
    }

    /// Writes a platform line (START, END, REPORT, runtime errors) for the
    /// current invocation.
    pub fn platform_line(&self, kind: LogKind, text: String) {
        let s = self.lock();
        if let (Some(sink), Some(ctx)) = (s.sink.as_ref(), s.context.as_ref()) {
            emit(sink, &s.facts, ctx, kind, text);
        }
    }

    /// Whether anyone listens to log lines (so callers can skip formatting).
    pub fn has_sink(&self) -> bool {
        self.lock().sink.is_some()
    }

    fn read_stdin(&self, size: usize) -> StreamResult<Bytes> {
        let mut s = self.lock();
        if s.stdin.is_empty() {
            return Err(StreamError::Closed);
        }
        let n = size.min(s.stdin.len());
        Ok(s.stdin.split_to(n))
    }

    fn write_stdout(&self, bytes: &[u8]) {
        let mut s = self.lock();
        let room = (MAX_RESPONSE_BYTES + 1).saturating_sub(s.stdout.len());
        if bytes.len() > room {
            s.stdout_overflow = true;
        }
        let n = bytes.len().min(room);
        s.stdout.extend_from_slice(&bytes[..n]);
    }

    fn write_stderr(&self, bytes: &[u8]) {
        let mut s = self.lock();
        let IoState {
            stderr,
            sink,
            context,
            facts,
            ..
        } = &mut *s;
        match (sink.as_ref(), context.as_ref()) {
            (Some(sink), Some(ctx)) => {
                stderr.push(bytes, &mut |text| {
                    emit(sink, facts, ctx, LogKind::Function, text);
                });
            }
            // Nobody listens: still split, so memory stays bounded.
            _ => stderr.push(bytes, &mut |_| {}),
        }
    }

    fn context_json(&self) -> Vec<u8> {
        let s = self.lock();
        let Some(ctx) = s.context.as_ref() else {
            return b"{}".to_vec();
        };
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        serde_json::json!({
            "awsRequestId": &*ctx.request_id,
            "invokedFunctionArn": &**ctx.invoked_arn.as_ref().unwrap_or(&s.facts.arn),
            "functionName": &*s.facts.function,
            "functionVersion": &*s.facts.version,
            "memoryLimitInMB": s.facts.memory_mb,
            "logGroupName": &*s.facts.log_group,
            "logStreamName": &*s.facts.log_stream,
            "deadlineMs": ctx.deadline_unix_ms,
            "remainingTimeMs": remaining.as_millis() as u64,
        })
        .to_string()
        .into_bytes()
    }

    fn remaining_ms(&self) -> i64 {
        let s = self.lock();
        s.context.as_ref().map_or(0, |ctx| {
            ctx.deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as i64
        })
    }

    fn mark_error(&self, kind: ErrorKind) {
        self.lock().error_response = Some(kind);
    }

    /// After INIT: an error object the guest wrote and marked while
    /// initialising (a runtime failing to load the function's code), taken
    /// from stdout. `None` when INIT marked nothing.
    pub fn take_init_error(&self) -> Option<Vec<u8>> {
        let mut s = self.lock();
        s.error_response.take()?;
        Some(std::mem::take(&mut s.stdout))
    }

    /// The guest's stdin.
    pub fn stdin(&self) -> GuestStream {
        GuestStream {
            io: self.clone(),
            which: Which::Stdin,
        }
    }

    /// The guest's stdout.
    pub fn stdout(&self) -> GuestStream {
        GuestStream {
            io: self.clone(),
            which: Which::Stdout,
        }
    }

    /// The guest's stderr.
    pub fn stderr(&self) -> GuestStream {
        GuestStream {
            io: self.clone(),
            which: Which::Stderr,
        }
    }
}

fn emit(
    sink: &LogSink,
    facts: &EnvironmentFacts,
    ctx: &InvocationContext,
    kind: LogKind,
    text: String,
) {
    sink(LogLine {
        time: chrono::Utc::now(),
        function: facts.function.clone(),
        log_stream: facts.log_stream.clone(),
        request_id: ctx.request_id.clone(),
        kind,
        text,
    });
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Stdin,
    Stdout,
    Stderr,
}

/// One of the guest's standard streams.
#[derive(Clone)]
pub(crate) struct GuestStream {
    io: Io,
    which: Which,
}

impl GuestStream {
    fn write(&self, bytes: &[u8]) {
        match self.which {
            Which::Stdout => self.io.write_stdout(bytes),
            Which::Stderr => self.io.write_stderr(bytes),
            Which::Stdin => {}
        }
    }
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdinStream for GuestStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(self.clone())
    }
    fn p2_stream(&self) -> Box<dyn InputStream> {
        Box::new(self.clone())
    }
}

impl StdoutStream for GuestStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestStream {
    async fn ready(&mut self) {}
}

impl InputStream for GuestStream {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.io.read_stdin(size)
    }
}

impl OutputStream for GuestStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        GuestStream::write(self, &bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1024 * 1024)
    }
}

impl tokio::io::AsyncRead for GuestStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Ok(bytes) = self.io.read_stdin(buf.remaining()) {
            buf.put_slice(&bytes);
        }
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for GuestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        GuestStream::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Name of the import module with Lambdesk's host functions.
pub const HOST_MODULE: &str = "lambdesk";

/// Adds the `lambdesk` import module:
/// - `context(ptr: i32, len: i32) -> i32`: writes the invocation context as
///   JSON into the guest buffer if it fits; returns its length either way.
/// - `remaining_time_ms() -> i64`: milliseconds until the timeout.
/// - `error_response()`: what the guest writes to stdout in this invocation is
///   an error object (a handled error), not a response.
/// - `unhandled_error()`: the same, reported as `Unhandled` (what a language
///   runtime reports for an exception the handler did not catch); the
///   environment is kept. Called in `_initialize`, either fails INIT with
///   that error object.
///
/// And outbound HTTP (`runtime/outbound.rs`), for the role's granted destinations:
/// - `http_send(meta_ptr, meta_len, body_ptr, body_len) -> i32`: `meta` is
///   `{"method", "url", "headers"}` JSON, `body` the request body; waits for
///   the response head and returns a handle (> 0), or -1 with the reason in
///   `http_error`. A denied request also writes a `[DENIED]` log line.
/// - `http_head(handle, ptr, len) -> i32`: the response head as JSON
///   (`{"status", "version", "headers": [[name, value], …]}`), written if it
///   fits; returns its length, or -1 for an unknown handle.
/// - `http_read(handle, ptr, len) -> i32`: up to `len` bytes of the body;
///   0 at its end, -1 on failure (reason in `http_error`).
/// - `http_close(handle)`: closes the request and its connection.
/// - `http_error(ptr, len) -> i32`: the last failure as
///   `{"kind", "message"}` JSON, written if it fits; returns its length.
pub(crate) fn add_host_functions(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        HOST_MODULE,
        "context",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let json = caller.data().io.context_json();
            write_if_fits(&mut caller, "context", ptr, len, &json)
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "remaining_time_ms",
        |caller: Caller<'_, HostState>| -> i64 { caller.data().io.remaining_ms() },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "error_response",
        |caller: Caller<'_, HostState>| {
            caller.data().io.mark_error(ErrorKind::Handled);
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "unhandled_error",
        |caller: Caller<'_, HostState>| {
            caller.data().io.mark_error(ErrorKind::Unhandled);
        },
    )?;
    add_http_functions(linker)
}

fn guest_memory(
    caller: &mut Caller<'_, HostState>,
    function: &str,
) -> wasmtime::Result<wasmtime::Memory> {
    caller
        .get_export("memory")
        .and_then(|e| e.into_memory())
        .ok_or_else(|| wasmtime::format_err!("lambdesk.{function}: the module exports no memory"))
}

/// Writes `bytes` at `ptr` when they fit in `len`; returns their length either way.
fn write_if_fits(
    caller: &mut Caller<'_, HostState>,
    function: &str,
    ptr: i32,
    len: i32,
    bytes: &[u8],
) -> wasmtime::Result<i32> {
    let needed = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    if needed <= len {
        let memory = guest_memory(caller, function)?;
        memory
            .write(&mut *caller, ptr as u32 as usize, bytes)
            .map_err(|_| {
                wasmtime::format_err!(
                    "lambdesk.{function}: the buffer is outside the module's memory"
                )
            })?;
    }
    Ok(needed)
}

/// Copies `len` bytes at `ptr` out of the guest, refusing more than `max`.
fn read_guest(
    caller: &mut Caller<'_, HostState>,
    function: &str,
    ptr: i32,
    len: i32,
    max: usize,
) -> wasmtime::Result<Result<Vec<u8>, OutboundError>> {
    let len = len as u32 as usize;
    if len > max {
        return Ok(Err(OutboundError::Limit(format!(
            "{len} bytes; {function} takes at most {max}"
        ))));
    }
    let memory = guest_memory(caller, function)?;
    let mut buf = vec![0; len];
    memory
        .read(&*caller, ptr as u32 as usize, &mut buf)
        .map_err(|_| {
            wasmtime::format_err!("lambdesk.{function}: the buffer is outside the module's memory")
        })?;
    Ok(Ok(buf))
}

/// Records a failed request for `http_error` (and logs a denial); returns -1.
fn failed(caller: &mut Caller<'_, HostState>, e: OutboundError) -> i32 {
    if let Some(line) = e.denial_line() {
        caller.data().io.platform_line(LogKind::Denied, line);
    }
    caller.data_mut().outbound.set_error(e);
    -1
}

fn add_http_functions(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        HOST_MODULE,
        "http_send",
        |mut caller: Caller<'_, HostState>,
         (meta_ptr, meta_len, body_ptr, body_len): (i32, i32, i32, i32)| {
            Box::new(async move {
                let meta = match read_guest(
                    &mut caller,
                    "http_send",
                    meta_ptr,
                    meta_len,
                    outbound::MAX_REQUEST_META_BYTES,
                )? {
                    Ok(m) => m,
                    Err(e) => return Ok(failed(&mut caller, e)),
                };
                let body = match read_guest(
                    &mut caller,
                    "http_send",
                    body_ptr,
                    body_len,
                    outbound::MAX_REQUEST_BODY_BYTES,
                )? {
                    Ok(b) => Bytes::from(b),
                    Err(e) => return Ok(failed(&mut caller, e)),
                };
                if caller.data().fs.descriptors_exhausted() {
                    let e = OutboundError::Limit(format!(
                        "too many open files and connections ({}, Lambda's limit on descriptors)",
                        super::fs_limits::MAX_OPEN_DESCRIPTORS
                    ));
                    return Ok(failed(&mut caller, e));
                }
                let client = caller.data().outbound.client.clone();
                let grants = caller.data().outbound.grants.clone();
                match outbound::send(&client, &grants, &meta, body).await {
                    Ok(open) => {
                        let state = caller.data_mut();
                        state.fs.connections_opened(1);
                        Ok(state.outbound.insert(open))
                    }
                    Err(e) => Ok(failed(&mut caller, e)),
                }
            })
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "http_head",
        |mut caller: Caller<'_, HostState>,
         handle: i32,
         ptr: i32,
         len: i32|
         -> wasmtime::Result<i32> {
            let Some(head) = caller
                .data()
                .outbound
                .get(handle)
                .map(|o| o.head().to_vec())
            else {
                return Ok(-1);
            };
            write_if_fits(&mut caller, "http_head", ptr, len, &head)
        },
    )?;
    linker.func_wrap_async(
        HOST_MODULE,
        "http_read",
        |mut caller: Caller<'_, HostState>, (handle, ptr, len): (i32, i32, i32)| {
            Box::new(async move {
                let Some(mut open) = caller.data_mut().outbound.take(handle) else {
                    return Ok(-1);
                };
                // At most 1 MB a call: the host holds no more than that of the body.
                let max = (len.max(0) as usize).min(1 << 20);
                let read = open.read(max).await;
                caller.data_mut().outbound.put_back(handle, open);
                match read {
                    Ok(bytes) => {
                        let memory = guest_memory(&mut caller, "http_read")?;
                        memory
                            .write(&mut caller, ptr as u32 as usize, &bytes)
                            .map_err(|_| {
                                wasmtime::format_err!(
                                    "lambdesk.http_read: the buffer is outside the module's memory"
                                )
                            })?;
                        Ok(i32::try_from(bytes.len()).unwrap_or(i32::MAX))
                    }
                    Err(e) => Ok(failed(&mut caller, e)),
                }
            })
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "http_close",
        |mut caller: Caller<'_, HostState>, handle: i32| {
            let state = caller.data_mut();
            if state.outbound.close(handle) {
                state.fs.connections_closed(1);
            }
        },
    )?;
    linker.func_wrap(
        HOST_MODULE,
        "http_error",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let json = caller.data().outbound.error_json();
            write_if_fits(&mut caller, "http_error", ptr, len, &json)
        },
    )?;
    Ok(())
}
