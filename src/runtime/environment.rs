//! Execution environments: creating one (a cold start: instantiate and run the
//! module's initialisation), running one invocation in it, and classifying
//! what went wrong into Lambda's error types.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use wasmtime::{Engine, InstancePre, Store, Trap, TypedFunc, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use super::cpu::CpuThrottle;
use super::engine::block_on;
use super::fs_limits::{FsLimits, TMP_FD};
use super::host::{EnvironmentFacts, HostState, InvocationContext, Io, MemoryLimiter};
use super::report::{ErrorKind, FunctionError, TIMEOUT_ERROR_TYPE};
use crate::model::{CpuShare, FunctionConfig};

/// Whether creating an instance failed only because every slot of the
/// pooling allocator is taken (wasmtime's "maximum concurrent limit of N
/// for core instances reached").
pub(crate) fn pool_exhausted(e: &FunctionError) -> bool {
    e.error_message.contains("maximum concurrent limit")
}

/// Lambda's limit on INIT.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a module is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// A WASI program (`_start`): a fresh instance for every invocation.
    Command,
    /// A library with a handler export: one instance per environment, kept warm.
    Handler {
        /// Whether the module exports `_initialize`.
        has_initialize: bool,
        /// Whether the handler returns an i32 status.
        returns_status: bool,
    },
}

/// Everything needed to create environments for one code version and configuration.
pub(crate) struct Blueprint {
    pub engine: Engine,
    pub instance_pre: InstancePre<HostState>,
    pub kind: ModuleKind,
    pub config: FunctionConfig,
    pub function: Arc<str>,
    /// `$LATEST` or a published version's number.
    pub version: Arc<str>,
    pub arn: Arc<str>,
    pub log_group: Arc<str>,
    pub task_root: Option<PathBuf>,
    pub scratch_dir: PathBuf,
    pub tmp_stock: Arc<TmpStock>,
    /// A platform line for every cold start (how the handler was chosen).
    pub init_note: Option<String>,
    /// The runtime's CPU-share switch.
    pub cpu_share_on: Arc<std::sync::atomic::AtomicBool>,
    /// The runtime's outbound HTTP client.
    pub outbound: Arc<super::outbound::Client>,
    /// SnapStart: environments are restored from the version's snapshot
    /// (INIT ran once, when it was published); the module's restore hook
    /// runs instead of `_initialize`.
    pub snap_start: bool,
    /// The role's outbound grants, parsed (the configuration was validated).
    pub grants: Arc<crate::model::outbound::Grants>,
}

/// Empty folders ready to become an environment's `/tmp`. Creating and
/// removing a folder costs tens of microseconds on a disk file system, so cold
/// starts take one from here; a folder left empty by its environment comes
/// back, and the reaper thread keeps a few in stock.
#[derive(Debug)]
pub(crate) struct TmpStock {
    dir: PathBuf,
    ready: std::sync::Mutex<Vec<PathBuf>>,
}

impl TmpStock {
    /// Folders kept ready at most.
    const MAX: usize = 64;
    /// Folders the reaper keeps ready at least.
    const MIN: usize = 8;

    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            ready: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new folder: an unpredictable name, owner-only, never one that exists.
    fn create(&self) -> std::io::Result<PathBuf> {
        Ok(tempfile::Builder::new()
            .prefix("tmp-")
            .tempdir_in(&self.dir)?
            .keep())
    }

    /// An empty folder, from the stock or new.
    fn take(&self) -> std::io::Result<PathBuf> {
        match self.lock().pop() {
            Some(p) => Ok(p),
            None => self.create(),
        }
    }

    /// Takes a folder back: kept if empty and there is room, else removed.
    fn give_back(&self, path: PathBuf) {
        let empty = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
        if empty {
            let mut ready = self.lock();
            if ready.len() < Self::MAX {
                ready.push(path);
                return;
            }
        }
        let _ = std::fs::remove_dir_all(&path);
    }

    /// Creates folders until the stock has its minimum (reaper thread).
    pub fn top_up(&self) {
        while self.lock().len() < Self::MIN {
            match self.create() {
                Ok(p) => self.lock().push(p),
                Err(_) => return,
            }
        }
    }

    /// Removes every folder in stock.
    pub fn clear(&self) {
        for p in std::mem::take(&mut *self.lock()) {
            let _ = std::fs::remove_dir(&p);
        }
    }
}

/// The environment's private `/tmp`, handed back to the stock with it.
struct TmpDir {
    path: PathBuf,
    stock: Arc<TmpStock>,
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        self.stock.give_back(std::mem::take(&mut self.path));
    }
}

enum HandlerFn {
    Unit(TypedFunc<(), ()>),
    Status(TypedFunc<(), i32>),
}

/// A live handler instance.
struct Live {
    store: Store<HostState>,
    handler: HandlerFn,
}

/// One execution environment.
pub(crate) struct Environment {
    pub id: u64,
    pub facts: Arc<EnvironmentFacts>,
    pub created: SystemTime,
    pub last_used: Instant,
    pub invocations: u64,
    pub peak_memory_bytes: usize,
    /// The function's generation when this environment was created.
    pub generation: u64,
    io: Io,
    tmp: TmpDir,
    live: Option<Live>,
}

/// What running the guest produced, before it becomes an [`super::Invocation`].
pub(crate) struct RunResult {
    pub outcome: Result<Vec<u8>, FunctionError>,
    pub instantiate: Duration,
    pub handler: Duration,
    /// The environment must not be reused.
    pub discard: bool,
}

enum CallError {
    TimedOut,
    Cancelled,
    Wasm(wasmtime::Error),
}

impl Environment {
    /// Creates an environment. For handler modules this instantiates the
    /// module and runs `_initialize` (INIT); the returned durations are
    /// (instantiate, init). `first` is the invocation that caused the cold start,
    /// so lines logged during INIT carry its request id.
    // The error is an error object and INIT's phases, once per cold start.
    #[allow(clippy::result_large_err)]
    pub fn create(
        bp: &Blueprint,
        id: u64,
        first: &InvocationContext,
        event: Bytes,
        sink: Option<super::logs::LogSink>,
    ) -> Result<(Self, Duration, Duration), (FunctionError, Duration, Duration)> {
        let mut env = Self::prepare(bp, id, first, event, sink)
            .map_err(|e| (e, Duration::ZERO, Duration::ZERO))?;
        let init_error = |msg: String| {
            (
                FunctionError::unhandled("Runtime.InitError", msg),
                Duration::ZERO,
                Duration::ZERO,
            )
        };
        let ModuleKind::Handler {
            has_initialize,
            returns_status,
        } = bp.kind
        else {
            return Ok((env, Duration::ZERO, Duration::ZERO));
        };
        let started = Instant::now();
        let mut store = env.new_store(bp).map_err(|e| init_error(e.to_string()))?;
        let instantiated = block_on(async {
            tokio::time::timeout(INIT_TIMEOUT, bp.instance_pre.instantiate_async(&mut store)).await
        });
        let instance = match instantiated {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                let err = classify(&e, &store, bp, true);
                return Err((err, started.elapsed(), Duration::ZERO));
            }
            Err(_) => return Err((init_timeout(), started.elapsed(), Duration::ZERO)),
        };
        let instantiate = started.elapsed();
        let init_started = Instant::now();
        // INIT, or (restored from a SnapStart snapshot) the module's restore
        // hook, if it has one.
        let init_export = if bp.snap_start {
            instance
                .get_typed_func::<(), ()>(&mut store, super::snapshot::RESTORE_EXPORT)
                .ok()
        } else if has_initialize {
            Some(
                instance
                    .get_typed_func::<(), ()>(&mut store, "_initialize")
                    .map_err(|e| init_error(format!("_initialize: {e}")))?,
            )
        } else {
            None
        };
        if let Some(init) = init_export {
            let result = block_on(async {
                tokio::time::timeout(INIT_TIMEOUT, init.call_async(&mut store, ())).await
            });
            let failed = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(classify(&e, &store, bp, true)),
                Err(_) => Some(init_timeout()),
            };
            if let Some(mut err) = failed {
                if err.error_type == TIMEOUT_ERROR_TYPE {
                    err = init_timeout();
                }
                return Err((err, instantiate, init_started.elapsed()));
            }
            // A runtime that could not load the function's code says why.
            if let Some(payload) = env.io.take_init_error() {
                let mut err = FunctionError::handled_from_payload(&payload);
                err.kind = ErrorKind::Unhandled;
                return Err((err, instantiate, init_started.elapsed()));
            }
        }
        let init = init_started.elapsed();
        let handler_name = bp.config.export();
        let handler = if returns_status {
            instance
                .get_typed_func::<(), i32>(&mut store, handler_name)
                .map(HandlerFn::Status)
        } else {
            instance
                .get_typed_func::<(), ()>(&mut store, handler_name)
                .map(HandlerFn::Unit)
        }
        .map_err(|e| init_error(format!("handler `{handler_name}`: {e}")))?;
        env.peak_memory_bytes = store.data().limiter.peak_bytes;
        env.live = Some(Live { store, handler });
        Ok((env, instantiate, init))
    }

    /// SnapStart: runs INIT of `wasm` (the module `bp` was made from) once,
    /// in an environment of the function (its WASI context, `/var/task`,
    /// the host's imports: what INIT sees at a cold start), and snapshots
    /// the environment. The snapshot (a module whose memory holds INIT's
    /// state and which has no `_initialize`) and INIT's duration.
    pub fn snapshot(
        bp: &Blueprint,
        wasm: &[u8],
        linker: &wasmtime::Linker<HostState>,
        first: &InvocationContext,
        sink: Option<super::logs::LogSink>,
    ) -> Result<(Vec<u8>, Duration), FunctionError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            FunctionError::unhandled("Runtime.SnapshotError", format!("{what}: {e}"))
        };
        let env = Self::prepare(bp, 0, first, Bytes::new(), sink)?;
        let (snapshot, instrumented) = super::snapshot::FunctionSnapshot::instrument(wasm)
            .map_err(|e| failed("the module cannot be snapshotted", &format!("{e:#}")))?;
        let module = wasmtime::Module::new(&bp.engine, &instrumented)
            .map_err(|e| failed("compiling the module to snapshot it", &e))?;
        let mut store = env
            .new_store(bp)
            .map_err(|e| failed("creating the environment", &e))?;
        block_on(async {
            let started = Instant::now();
            let instance =
                tokio::time::timeout(INIT_TIMEOUT, linker.instantiate_async(&mut store, &module))
                    .await
                    .map_err(|_| init_timeout())?
                    .map_err(|e| classify(&e, &store, bp, true))?;
            let init = instance
                .get_typed_func::<(), ()>(&mut store, "_initialize")
                .map_err(|e| failed("_initialize", &e))?;
            match tokio::time::timeout(INIT_TIMEOUT, init.call_async(&mut store, ())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let err = classify(&e, &store, bp, true);
                    return Err(if err.error_type == TIMEOUT_ERROR_TYPE {
                        init_timeout()
                    } else {
                        err
                    });
                }
                Err(_) => return Err(init_timeout()),
            }
            if let Some(payload) = env.io.take_init_error() {
                let mut err = FunctionError::handled_from_payload(&payload);
                err.kind = ErrorKind::Unhandled;
                return Err(err);
            }
            let init = started.elapsed();
            let bytes = snapshot
                .finish(&mut store, instance)
                .await
                .map_err(|e| failed("snapshotting", &format!("{e:#}")))?;
            Ok((bytes, init))
        })
    }

    /// An environment's state before its instance exists: its facts, its
    /// I/O (the first invocation's context, so lines logged during INIT
    /// carry its request id) and its `/tmp`.
    fn prepare(
        bp: &Blueprint,
        id: u64,
        first: &InvocationContext,
        event: Bytes,
        sink: Option<super::logs::LogSink>,
    ) -> Result<Self, FunctionError> {
        let facts = Arc::new(EnvironmentFacts {
            function: bp.function.clone(),
            memory_mb: bp.config.memory_mb,
            log_group: bp.log_group.clone(),
            log_stream: Arc::from(super::logs::new_log_stream_name(&bp.version)),
            arn: bp.arn.clone(),
            version: bp.version.clone(),
        });
        let io = Io::new(facts.clone());
        io.begin(event, first.clone(), sink);
        let tmp_path = bp.tmp_stock.take().map_err(|e| {
            FunctionError::unhandled(
                "Runtime.InitError",
                format!(
                    "cannot create /tmp for the environment in {}: {e}",
                    bp.scratch_dir.display()
                ),
            )
        })?;
        Ok(Self {
            id,
            facts,
            created: SystemTime::now(),
            last_used: Instant::now(),
            invocations: 0,
            peak_memory_bytes: 0,
            generation: 0,
            io,
            tmp: TmpDir {
                path: tmp_path,
                stock: bp.tmp_stock.clone(),
            },
            live: None,
        })
    }

    fn new_store(&self, bp: &Blueprint) -> anyhow::Result<Store<HostState>> {
        let wasi = self.build_wasi(bp)?;
        let limit = (bp.config.memory_mb as usize)
            .saturating_mul(1024 * 1024)
            .min(super::engine::WASM32_MAX_MEMORY);
        let mut store = Store::new(
            &bp.engine,
            HostState {
                wasi,
                limiter: MemoryLimiter::new(limit),
                io: self.io.clone(),
                fs: FsLimits::new(
                    TMP_FD,
                    Self::preopens(bp),
                    self.tmp.path.clone(),
                    u64::from(bp.config.ephemeral_storage_mb) * 1024 * 1024,
                ),
                cpu: CpuThrottle::new(
                    CpuShare::Lambda.fraction(bp.config.memory_mb),
                    bp.cpu_share_on.clone(),
                ),
                outbound: super::outbound::Requests::new(bp.outbound.clone(), bp.grants.clone()),
            },
        );
        store.limiter(|s| &mut s.limiter);
        // Yield to the executor every epoch tick, so the timeout and the cancel
        // watch are polled even while the guest computes without host calls;
        // below 1,769 MB, pause there for the CPU share (runtime/cpu.rs).
        store.set_epoch_deadline(1);
        if store.data().cpu.applies() {
            store.epoch_deadline_callback(|mut ctx| {
                Ok(match ctx.data_mut().cpu.tick() {
                    Some(pause) => {
                        UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(pause)))
                    }
                    None => UpdateDeadline::Yield(1),
                })
            });
        } else {
            store.epoch_deadline_async_yield_and_update(1);
        }
        Ok(store)
    }

    /// The folders `build_wasi` preopens: `/tmp` first (descriptor
    /// [`TMP_FD`]), then `/var/task`, then the role's mounts.
    fn preopens(bp: &Blueprint) -> u32 {
        let n = 1 + usize::from(bp.task_root.is_some()) + bp.config.role.mounts.len();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn build_wasi(&self, bp: &Blueprint) -> anyhow::Result<WasiP1Ctx> {
        let c = &bp.config;
        let mut b = WasiCtxBuilder::new();
        b.stdin(self.io.stdin())
            .stdout(self.io.stdout())
            .stderr(self.io.stderr())
            // Blocking on this thread would let a WASI sleep outlive the timeout.
            .allow_blocking_current_thread(false)
            .arg(&*bp.function)
            .args(&c.args);
        for (k, v) in &c.environment {
            b.env(k, v);
        }
        let memory = c.memory_mb.to_string();
        let reserved = [
            ("AWS_LAMBDA_FUNCTION_NAME", &*bp.function),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory.as_str()),
            ("AWS_LAMBDA_FUNCTION_VERSION", &*bp.version),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &*bp.log_group),
            ("AWS_LAMBDA_LOG_STREAM_NAME", &*self.facts.log_stream),
            (
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                if bp.snap_start {
                    "snap-start"
                } else {
                    "on-demand"
                },
            ),
            ("AWS_REGION", crate::model::REGION),
            ("AWS_DEFAULT_REGION", crate::model::REGION),
            ("AWS_EXECUTION_ENV", "lambdesk"),
            ("_HANDLER", c.handler.as_str()),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("TZ", ":UTC"),
        ];
        for (k, v) in reserved {
            b.env(k, v);
        }
        b.preopened_dir(&self.tmp.path, "/tmp", FsPerms::ReadWrite)
            .map_err(|e| anyhow::anyhow!("mounting /tmp: {e}"))?;
        if let Some(root) = &bp.task_root {
            b.preopened_dir(root, "/var/task", FsPerms::ReadOnly)
                .map_err(|e| anyhow::anyhow!("mounting /var/task from {}: {e}", root.display()))?;
        }
        for m in &c.role.mounts {
            let perms = if m.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            let guest = crate::model::config::normalize_guest_path(&m.guest_path)
                .map_err(anyhow::Error::msg)?;
            b.preopened_dir(&m.host_path, &guest, perms).map_err(|e| {
                anyhow::anyhow!(
                    "mounting {} at {}: {e}",
                    m.host_path.display(),
                    m.guest_path
                )
            })?;
        }
        Ok(b.build_p1())
    }

    /// Drops the instance, giving its pool slot back at once.
    pub fn release_instance(&mut self) {
        self.live = None;
    }

    /// The environment's log stream.
    pub fn log_stream(&self) -> &Arc<str> {
        &self.facts.log_stream
    }

    /// The streams, for START/END/REPORT lines.
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// Runs one invocation. `begin` must have been called on the io (the
    /// cold-start path does it in `create`).
    pub fn run(
        &mut self,
        bp: &Blueprint,
        deadline: Instant,
        cancel: Option<&CancelToken>,
    ) -> RunResult {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let started = Instant::now();
        let mut instantiate = Duration::ZERO;
        let call = match &mut self.live {
            Some(live) => {
                live.store.set_epoch_deadline(1);
                live.store.data_mut().cpu.restart();
                let store = &mut live.store;
                let result = match &live.handler {
                    HandlerFn::Unit(f) => {
                        call_with_timeout(f.call_async(&mut *store, ()), timeout, cancel)
                    }
                    HandlerFn::Status(f) => {
                        call_with_timeout(f.call_async(&mut *store, ()), timeout, cancel)
                    }
                };
                let handler = started.elapsed();
                live.store.data_mut().end_invocation();
                self.peak_memory_bytes = live.store.data().limiter.peak_bytes;
                (result, handler, None)
            }
            None => {
                // Command module: a fresh instance for every invocation.
                let mut store = match self.new_store(bp) {
                    Ok(s) => s,
                    Err(e) => {
                        return RunResult {
                            outcome: Err(FunctionError::unhandled(
                                "Runtime.Unknown",
                                e.to_string(),
                            )),
                            instantiate: Duration::ZERO,
                            handler: Duration::ZERO,
                            discard: true,
                        };
                    }
                };
                let result = block_on(async {
                    let call = tokio::time::timeout(timeout, async {
                        let instance = bp.instance_pre.instantiate_async(&mut store).await;
                        let instantiated = Instant::now();
                        let instance = match instance {
                            Ok(i) => i,
                            Err(e) => return (Err(e), instantiated),
                        };
                        let start = match instance.get_typed_func::<(), ()>(&mut store, "_start") {
                            Ok(f) => f,
                            Err(e) => return (Err(e), instantiated),
                        };
                        (
                            start.call_async(&mut store, ()).await.map(|()| 0),
                            instantiated,
                        )
                    });
                    tokio::select! {
                        r = call => Some(r),
                        () = watch(cancel) => None,
                    }
                });
                let result = match result {
                    Some(Ok((r, instantiated))) => {
                        instantiate = instantiated - started;
                        r.map_err(CallError::Wasm)
                    }
                    Some(Err(_)) => Err(CallError::TimedOut),
                    None => Err(CallError::Cancelled),
                };
                let handler = started.elapsed() - instantiate;
                self.peak_memory_bytes =
                    self.peak_memory_bytes.max(store.data().limiter.peak_bytes);
                (result, handler, Some(store))
            }
        };
        let (result, handler, command_store) = call;
        let (stdout, overflow, marked_error) = self.io.finish();
        let (outcome, discard) = match result {
            Ok(status) => {
                if overflow {
                    (
                        Err(FunctionError::unhandled(
                            "Function.ResponseSizeTooLarge",
                            format!(
                                "Response payload size exceeded maximum allowed payload size ({} bytes).",
                                super::host::MAX_RESPONSE_BYTES
                            ),
                        )),
                        false,
                    )
                } else if marked_error.is_some() || status != 0 {
                    let mut err = FunctionError::handled_from_payload(&stdout);
                    err.kind = marked_error.unwrap_or(ErrorKind::Handled);
                    if err.error_message.is_empty() {
                        err.error_message = format!(
                            "the handler `{}` returned status {status} without writing an error object",
                            bp.config.handler
                        );
                    }
                    (Err(err), false)
                } else {
                    (Ok(stdout), false)
                }
            }
            Err(CallError::TimedOut) => (Err(timeout_error(bp)), true),
            Err(CallError::Cancelled) => (
                Err(FunctionError::unhandled(
                    "Runtime.Cancelled",
                    "Invocation cancelled by the user",
                )),
                true,
            ),
            Err(CallError::Wasm(e)) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    if exit.0 == 0 && self.live.is_none() {
                        // A command that called exit(0) succeeded.
                        if overflow {
                            (
                                Err(FunctionError::unhandled(
                                    "Function.ResponseSizeTooLarge",
                                    "Response payload size exceeded maximum allowed payload size (6291456 bytes).",
                                )),
                                false,
                            )
                        } else if let Some(kind) = marked_error {
                            let mut err = FunctionError::handled_from_payload(&stdout);
                            err.kind = kind;
                            (Err(err), false)
                        } else {
                            (Ok(stdout), false)
                        }
                    } else {
                        (
                            Err(FunctionError::unhandled(
                                "Runtime.ExitError",
                                format!("Runtime exited with error: exit status {}", exit.0),
                            )),
                            true,
                        )
                    }
                } else {
                    let err = match (&self.live, &command_store) {
                        (Some(live), _) => classify(&e, &live.store, bp, false),
                        (None, Some(store)) => classify(&e, store, bp, false),
                        (None, None) => {
                            FunctionError::unhandled("Runtime.Unknown", format!("{e:#}"))
                        }
                    };
                    (Err(err), true)
                }
            }
        };
        self.invocations += 1;
        self.last_used = Instant::now();
        RunResult {
            outcome,
            instantiate,
            handler,
            discard,
        }
    }
}

fn call_with_timeout<F, R>(
    future: F,
    timeout: Duration,
    cancel: Option<&CancelToken>,
) -> Result<i32, CallError>
where
    F: std::future::Future<Output = wasmtime::Result<R>>,
    R: StatusCode,
{
    let result = block_on(async {
        tokio::select! {
            r = tokio::time::timeout(timeout, future) => Some(r),
            () = watch(cancel) => None,
        }
    });
    match result {
        Some(Ok(Ok(r))) => Ok(r.status()),
        Some(Ok(Err(e))) => Err(CallError::Wasm(e)),
        Some(Err(_)) => Err(CallError::TimedOut),
        None => Err(CallError::Cancelled),
    }
}

/// Resolves when `cancel` is set; never without one.
async fn watch(cancel: Option<&CancelToken>) {
    match cancel {
        None => std::future::pending().await,
        Some(token) => {
            while !token.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Lets another thread cancel a running invocation; the environment is then discarded.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<std::sync::atomic::AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels the invocation using this token.
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }
}

trait StatusCode {
    fn status(&self) -> i32;
}
impl StatusCode for () {
    fn status(&self) -> i32 {
        0
    }
}
impl StatusCode for i32 {
    fn status(&self) -> i32 {
        *self
    }
}

fn timeout_error(bp: &Blueprint) -> FunctionError {
    FunctionError::unhandled(
        TIMEOUT_ERROR_TYPE,
        format!(
            "Task timed out after {:.2} seconds",
            f64::from(bp.config.timeout_s)
        ),
    )
}

fn init_timeout() -> FunctionError {
    FunctionError::unhandled(
        "Runtime.InitError",
        format!(
            "INIT timed out after {:.2} seconds",
            INIT_TIMEOUT.as_secs_f64()
        ),
    )
}

/// Maps a wasmtime error to Lambda's error types.
fn classify(
    e: &wasmtime::Error,
    store: &Store<HostState>,
    bp: &Blueprint,
    in_init: bool,
) -> FunctionError {
    let limiter = &store.data().limiter;
    let stack_trace = e
        .downcast_ref::<WasmBacktrace>()
        .map(backtrace_frames)
        .unwrap_or_default();
    let trap = e.downcast_ref::<Trap>().copied();
    let mut err = if limiter.exceeded {
        FunctionError::unhandled(
            "Runtime.OutOfMemory",
            format!(
                "Runtime exited with error: memory limit of {} MB exceeded",
                bp.config.memory_mb
            ),
        )
    } else if trap == Some(Trap::Interrupt) {
        if in_init {
            init_timeout()
        } else {
            timeout_error(bp)
        }
    } else if let Some(exit) = e.downcast_ref::<I32Exit>() {
        FunctionError::unhandled(
            "Runtime.ExitError",
            format!("Runtime exited with error: exit status {}", exit.0),
        )
    } else if let Some(trap) = trap {
        let message = match trap {
            Trap::UnreachableCodeReached => {
                "wasm trap: unreachable executed (a panic or abort)".to_owned()
            }
            other => other.to_string(),
        };
        FunctionError::unhandled("Runtime.Trap", message)
    } else {
        // A host call refused the guest's arguments or failed: the root
        // cause says what, not wasmtime's "error while executing".
        FunctionError::unhandled(
            "Runtime.HostCallError",
            format!("a host call failed: {}", e.root_cause()),
        )
    };
    if in_init && err.error_type == "Runtime.Trap" {
        err.error_type = "Runtime.InitError".to_owned();
    }
    err.kind = ErrorKind::Unhandled;
    err.stack_trace = stack_trace;
    err
}

fn backtrace_frames(bt: &WasmBacktrace) -> Vec<String> {
    // wasmtime's rendering demangles names and adds file:line where the module
    // has DWARF; frames look like `0: 0x87ca - behave!handler`.
    bt.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let frame = l.split_once(':').map_or(l, |(_, rest)| rest.trim());
            format!("at {frame}")
        })
        .collect()
}
