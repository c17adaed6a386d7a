//! The headless function runtime: Lambda's model (functions, execution
//! environments, cold and warm starts, timeouts, memory limits, concurrency,
//! logs and billing) on wasmtime. No egui here; the app and the command line
//! both drive this.

pub mod code;
mod cpu;
pub mod engine;
pub mod environment;
mod fs_limits;
pub mod host;
pub mod logs;
pub mod outbound;
pub mod report;
mod scratch;
mod snapshot;
mod wasi_limits;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use wasmtime::{Engine, ExternType, Linker, Module, ValType};

pub use code::{CodeBundle, CodeError, code_modified, load_code};
pub use environment::{CancelToken, ModuleKind};
pub use logs::{LogKind, LogLine, LogSink};
pub use outbound::OutboundOptions;
pub use report::{
    CodeSource, ErrorKind, FunctionError, Invocation, Outcome, Phases, Pricing, Report, StartKind,
};

use crate::model::{ConfigError, FunctionConfig};
use environment::{Blueprint, Environment};
use host::{HostState, InvocationContext};

pub use crate::model::{ACCOUNT_ID, REGION};
/// Lambda's limit for a synchronous request payload: 6 MB.
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
/// Lambda's default account-wide concurrency.
pub const ACCOUNT_CONCURRENCY: u32 = 1_000;

/// Where a published version's SnapStart snapshot is kept.
#[derive(Clone, Debug)]
pub struct KeptSnapshot {
    /// The file.
    pub path: PathBuf,
    /// Use a snapshot kept there (a version deployed again at start-up);
    /// `false`: make it anew (publishing).
    pub reuse: bool,
}

/// How a runtime is set up.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Folder for precompiled modules; `None` compiles in every process.
    pub cache_dir: Option<PathBuf>,
    /// Most bytes the compile cache keeps (the least recently used files
    /// are removed at start-up beyond it).
    pub cache_budget_bytes: u64,
    /// Folder in which the runtime makes its own scratch folder (for
    /// environments' `/tmp` and unpacked zip bundles): a new one with an
    /// unpredictable name and owner-only permissions, never one that exists.
    pub scratch_dir: PathBuf,
    /// Receives every log line of every function.
    pub log_sink: Option<LogSink>,
    /// Prices for the cost estimate.
    pub pricing: Pricing,
    /// Most invocations running at once across all functions.
    pub account_concurrency: u32,
    /// Instance slots of the pooling allocator (0: allocate on demand).
    pub pool_slots: u32,
    /// Most memory, in MB, that invocations running at once may be
    /// configured with together; beyond it an invoke is throttled, so
    /// concurrency × memory cannot take the host down. `None`: the machine's
    /// memory less 1 GB (no limit where that cannot be read).
    pub memory_budget_mb: Option<u64>,
    /// CPU in proportion to memory (`Lambda`, the default) or full speed;
    /// [`Runtime::set_cpu_share`] changes it while the runtime runs.
    pub cpu_share: crate::model::CpuShare,
    /// Outbound HTTP: extra trusted authorities and name overrides.
    pub outbound: OutboundOptions,
}

/// The default memory budget: physical memory less 1 GB for everything else.
fn default_memory_budget_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
    });
    match total_kb {
        Some(kb) => (kb / 1024).saturating_sub(1024).max(128),
        None => u64::MAX,
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        let cache_dir = directories::ProjectDirs::from("dev", "lambdesk", "Lambdesk")
            .map(|d| d.cache_dir().join("modules"));
        Self {
            cache_dir,
            cache_budget_bytes: engine::CACHE_BUDGET_BYTES,
            scratch_dir: std::env::temp_dir(),
            log_sink: None,
            pricing: Pricing::default(),
            account_concurrency: ACCOUNT_CONCURRENCY,
            pool_slots: ACCOUNT_CONCURRENCY,
            memory_budget_mb: None,
            cpu_share: crate::model::CpuShare::Lambda,
            outbound: OutboundOptions::default(),
        }
    }
}

/// Per-invocation options.
#[derive(Clone, Default)]
pub struct InvokeOptions {
    /// Receives this invocation's log lines instead of the runtime's sink.
    pub log_sink: Option<LogSink>,
    /// Discard the environment afterwards, so the next start is cold.
    pub discard_environment: bool,
    /// Cancels the invocation from another thread.
    pub cancel: Option<CancelToken>,
    /// The request id to use (an asynchronous event keeps its id across
    /// retries, as in Lambda); `None` makes a new one.
    pub request_id: Option<Arc<str>>,
    /// The ARN as the caller invoked it (with an alias or version), for the
    /// context's `invokedFunctionArn`; `None`: the function's own ARN.
    pub invoked_arn: Option<Arc<str>>,
}

/// What deploying a function found.
#[derive(Clone, Debug)]
pub struct DeployInfo {
    /// Command or handler module.
    pub kind: ModuleKind,
    /// SHA-256 of the module, hex.
    pub code_sha256: String,
    /// Where the compiled code came from and how long it took.
    pub load: (CodeSource, Duration),
    /// Size of the module binary.
    pub code_size: usize,
    /// The file the code was read from.
    pub origin: PathBuf,
    /// The module's exports, as `name (kind)`.
    pub exports: Vec<String>,
    /// The module's imports, as `module.name (kind)`.
    pub imports: Vec<String>,
}

impl DeployInfo {
    /// The SHA-256 as Lambda's `CodeSha256` gives it: base64 of the digest.
    pub fn code_sha256_base64(&self) -> String {
        use base64::Engine;
        let digest: Vec<u8> = (0..self.code_sha256.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(self.code_sha256.get(i..i + 2)?, 16).ok())
            .collect();
        base64::engine::general_purpose::STANDARD.encode(digest)
    }
}

/// What kind of thing an import or export is, in a word.
fn extern_kind(ty: &wasmtime::ExternType) -> &'static str {
    match ty {
        wasmtime::ExternType::Func(_) => "func",
        wasmtime::ExternType::Global(_) => "global",
        wasmtime::ExternType::Table(_) => "table",
        wasmtime::ExternType::Memory(_) => "memory",
        wasmtime::ExternType::Tag(_) => "tag",
    }
}

/// Deploying a function failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Settings out of range.
    #[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
    /// The code cannot run.
    #[error(transparent)]
    Code(#[from] CodeError),
}

/// An invocation refused before the function ran (Lambda's service errors).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// No such function.
    #[error("ResourceNotFoundException: Function not found: {arn}")]
    ResourceNotFound {
        /// The function's ARN.
        arn: String,
    },
    /// Concurrency limit reached.
    #[error("TooManyRequestsException: Rate Exceeded. (Reason: {reason})")]
    TooManyRequests {
        /// `ReservedFunctionConcurrentInvocationLimitExceeded`, `ConcurrentInvocationLimitExceeded`
        /// or `HostMemoryBudgetExceeded` (the host's memory budget).
        reason: &'static str,
    },
    /// Payload over 6 MB.
    #[error(
        "RequestTooLargeException: Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation (it is {size} bytes)"
    )]
    RequestTooLarge {
        /// The payload's size.
        size: usize,
    },
    /// Payload is not JSON.
    #[error("InvalidRequestContentException: Could not parse request body into json: {0}")]
    InvalidRequestContent(String),
}

impl InvokeError {
    /// The AWS error type (`x-amzn-ErrorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::TooManyRequests { .. } => "TooManyRequestsException",
            Self::RequestTooLarge { .. } => "RequestTooLargeException",
            Self::InvalidRequestContent(_) => "InvalidRequestContentException",
        }
    }
}

/// A snapshot of one environment, for display.
#[derive(Clone, Debug)]
pub struct EnvironmentInfo {
    /// Unique in this runtime.
    pub id: u64,
    /// Its log stream.
    pub log_stream: Arc<str>,
    /// Running an invocation now.
    pub busy: bool,
    /// When it was created.
    pub created: SystemTime,
    /// When it last finished an invocation (None while its first runs).
    pub last_used: Option<Instant>,
    /// Invocations it has served.
    pub invocations: u64,
    /// Peak linear memory.
    pub peak_memory_bytes: usize,
}

/// The ARN of a function.
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}")
}

/// The runtime's key of a published version (`name:3`): what
/// [`Runtime::invoke_with`] and the other per-function calls take for it.
pub fn version_key(name: &str, version: &str) -> String {
    if version == "$LATEST" {
        name.to_owned()
    } else {
        format!("{name}:{version}")
    }
}

struct Function {
    blueprint: Blueprint,
    info: DeployInfo,
    /// Reported by the first cold start after the deploy.
    first_load: Mutex<Option<(CodeSource, Duration)>>,
    pool: Mutex<Pool>,
    in_flight: AtomicU32,
    /// Bumped by `drop_environments`; environments of older generations are not reused.
    generation: AtomicU64,
}

#[derive(Default)]
struct Pool {
    /// Idle environments, most recently used last.
    idle: Vec<Environment>,
    /// Environments running an invocation.
    busy: BTreeMap<u64, EnvironmentInfo>,
}

impl Function {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn env_info(env: &Environment, busy: bool) -> EnvironmentInfo {
    EnvironmentInfo {
        id: env.id,
        log_stream: env.log_stream().clone(),
        busy,
        created: env.created,
        last_used: (env.invocations > 0).then_some(env.last_used),
        invocations: env.invocations,
        peak_memory_bytes: env.peak_memory_bytes,
    }
}

/// A language runtime's snapshot and its SHA-256.
type Snapshot = (Arc<[u8]>, [u8; 32]);

struct Inner {
    engine: Engine,
    pooling: bool,
    linker: Linker<HostState>,
    modules: engine::ModuleCache,
    /// Language runtimes' snapshots (`snapshot.rs`), by the SHA-256 of the
    /// runtime's module: the snapshot and its own SHA-256. The mutex also
    /// makes deploys that need the same snapshot wait for one making of it.
    snapshots: Mutex<BTreeMap<[u8; 32], Snapshot>>,
    /// Language runtime snapshots this runtime made (not read from disk).
    snapshots_made: AtomicU64,
    /// Why the last kept snapshot on disk was not used, if one was not.
    snapshot_note: Mutex<Option<String>>,
    functions: RwLock<BTreeMap<String, Arc<Function>>>,
    options: RuntimeOptions,
    /// This runtime's own scratch folder, inside `options.scratch_dir`.
    scratch: PathBuf,
    next_env_id: AtomicU64,
    in_flight: AtomicU32,
    /// Memory (MB) of the invocations running now, against `memory_budget_mb`.
    memory_in_use_mb: AtomicU64,
    memory_budget_mb: u64,
    defined_imports: HashSet<(String, String)>,
    /// Environments to shut down off the invoke path (removing /tmp takes time).
    shutdown: Mutex<Option<std::sync::mpsc::SyncSender<Environment>>>,
    shutdown_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    tmp_stock: Arc<environment::TmpStock>,
    /// The outbound HTTP client every environment shares.
    outbound: Arc<outbound::Client>,
    /// Set while guests get CPU in proportion to memory.
    cpu_share_on: Arc<std::sync::atomic::AtomicBool>,
}

impl Inner {
    /// Shuts an environment down: its instance (and pool slot) goes now, so
    /// the next cold start finds the slot free; its `/tmp` is removed on the
    /// reaper thread (inline if that is busy).
    fn shut_down(&self, mut env: Environment) {
        env.release_instance();
        let guard = self.shutdown.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = guard.as_ref()
            && let Err(std::sync::mpsc::TrySendError::Full(env)) = tx.try_send(env)
        {
            drop(guard);
            drop(env);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let the reaper thread finish the environments it was handed.
        self.shutdown.get_mut().map(Option::take).ok();
        let handle = self.shutdown_thread.get_mut().ok().and_then(Option::take);
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        // Environments removed their own /tmp folders when they were dropped
        // (the functions map is dropped after this body); unpacked bundles and
        // the scratch folder itself go once nothing is left in them.
        self.functions.get_mut().map(BTreeMap::clear).ok();
        let scratch = &self.scratch;
        self.tmp_stock.clear();
        let _ = std::fs::remove_dir_all(scratch.join("bundles"));
        let _ = std::fs::remove_dir(scratch);
    }
}

/// The function runtime. Cheap to clone; every clone is the same runtime.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

/// Releases concurrency and memory on drop.
struct Slot<'a> {
    function: &'a AtomicU32,
    account: &'a AtomicU32,
    memory: &'a AtomicU64,
    memory_mb: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.function.fetch_sub(1, Ordering::AcqRel);
        self.account.fetch_sub(1, Ordering::AcqRel);
        self.memory.fetch_sub(self.memory_mb, Ordering::AcqRel);
    }
}

impl Runtime {
    /// Creates a runtime: the engine, its epoch ticker and the idle reaper.
    pub fn new(options: RuntimeOptions) -> anyhow::Result<Self> {
        let (engine, pooling) = engine::build_engine(options.pool_slots)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut HostState| &mut s.wasi)
            .map_err(|e| anyhow::anyhow!("adding WASI to the linker: {e}"))?;
        // WASI's proc_exit refuses statuses of 126 and up without saying
        // which (AssemblyScript's abort exits with 134): keep the status.
        linker.allow_shadowing(true);
        linker
            .func_wrap(
                "wasi_snapshot_preview1",
                "proc_exit",
                |status: i32| -> wasmtime::Result<()> {
                    Err(wasmtime_wasi::I32Exit(status).into())
                },
            )
            .map_err(|e| anyhow::anyhow!("adding proc_exit: {e}"))?;
        wasi_limits::add_to_linker(&mut linker)
            .map_err(|e| anyhow::anyhow!("adding the descriptor and /tmp limits: {e}"))?;
        linker.allow_shadowing(false);
        host::add_host_functions(&mut linker)
            .map_err(|e| anyhow::anyhow!("adding host functions: {e}"))?;
        let scratch = scratch::create(&options.scratch_dir)?;
        let memory_budget_mb = options
            .memory_budget_mb
            .unwrap_or_else(default_memory_budget_mb);
        if let Some(dir) = &options.cache_dir {
            // Without a writable cache every process compiles; that is slower, not wrong.
            let _ = std::fs::create_dir_all(dir);
            // The cache is kept within its budget, off the caller's thread.
            let (dir, budget) = (dir.clone(), options.cache_budget_bytes);
            let _ = std::thread::Builder::new()
                .name("lambdesk-cache-trim".into())
                .spawn(move || engine::trim_cache(&dir, budget));
        }
        let outbound = Arc::new(
            outbound::Client::new(&options.outbound)
                .map_err(|e| anyhow::anyhow!("outbound HTTP: {e}"))?,
        );
        engine::start_ticker(&engine)?;
        let defined_imports = {
            let facts = Arc::new(host::EnvironmentFacts {
                function: Arc::from(""),
                memory_mb: 0,
                log_group: Arc::from(""),
                log_stream: Arc::from(""),
                arn: Arc::from(""),
                version: Arc::from(""),
            });
            let mut store = wasmtime::Store::new(
                &engine,
                HostState {
                    wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
                    limiter: host::MemoryLimiter::new(0),
                    io: host::Io::new(facts),
                    fs: fs_limits::FsLimits::none(),
                    cpu: cpu::CpuThrottle::new(1.0, Arc::default()),
                    outbound: outbound::Requests::new(outbound.clone(), Arc::default()),
                },
            );
            linker
                .iter(&mut store)
                .map(|(m, n, _)| (m.to_owned(), n.to_owned()))
                .collect()
        };
        let cpu_share_on = options.cpu_share == crate::model::CpuShare::Lambda;
        let inner = Arc::new(Inner {
            modules: engine::ModuleCache::new(engine.clone(), options.cache_dir.clone()),
            snapshots: Mutex::new(BTreeMap::new()),
            snapshots_made: AtomicU64::new(0),
            snapshot_note: Mutex::new(None),
            engine,
            pooling,
            linker,
            functions: RwLock::new(BTreeMap::new()),
            options,
            scratch: scratch.clone(),
            next_env_id: AtomicU64::new(1),
            in_flight: AtomicU32::new(0),
            memory_in_use_mb: AtomicU64::new(0),
            memory_budget_mb,
            cpu_share_on: Arc::new(std::sync::atomic::AtomicBool::new(cpu_share_on)),
            defined_imports,
            shutdown: Mutex::new(None),
            shutdown_thread: Mutex::new(None),
            tmp_stock: Arc::new(environment::TmpStock::new(scratch)),
            outbound,
        });
        let (tx, handle) = start_reaper(Arc::downgrade(&inner))?;
        *inner.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        *inner
            .shutdown_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(Self { inner })
    }

    /// Whether the pooling allocator is in use.
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// How many language runtime snapshots this runtime made itself (once
    /// per machine; a kept one is read instead), and why a kept one was not
    /// used, if one was not.
    pub fn runtime_snapshots_made(&self) -> (u64, Option<String>) {
        (
            self.inner.snapshots_made.load(Ordering::Relaxed),
            self.inner
                .snapshot_note
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// This runtime's scratch folder (environments' `/tmp`, unpacked bundles).
    pub fn scratch_dir(&self) -> &Path {
        &self.inner.scratch
    }

    /// Turns the CPU share on or off, for running environments too.
    pub fn set_cpu_share(&self, share: crate::model::CpuShare) {
        self.inner
            .cpu_share_on
            .store(share == crate::model::CpuShare::Lambda, Ordering::Relaxed);
    }

    /// Whether guests get CPU in proportion to memory now.
    pub fn cpu_share(&self) -> crate::model::CpuShare {
        if self.inner.cpu_share_on.load(Ordering::Relaxed) {
            crate::model::CpuShare::Lambda
        } else {
            crate::model::CpuShare::Off
        }
    }

    /// The options the runtime was created with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.inner.options
    }

    /// Loads code from a `.wasm`, `.wat` or `.zip` file and deploys it as
    /// `name`, replacing any earlier version (whose environments are dropped,
    /// so the next start is cold).
    pub fn deploy(
        &self,
        name: &str,
        code_path: &Path,
        config: FunctionConfig,
    ) -> Result<DeployInfo, DeployError> {
        self.deploy_noted(name, code_path, config, None)
    }

    /// [`Runtime::deploy`], with a note written to the log (a platform line)
    /// at every cold start, for example how the handler was chosen.
    pub fn deploy_noted(
        &self,
        name: &str,
        code_path: &Path,
        config: FunctionConfig,
        init_note: Option<String>,
    ) -> Result<DeployInfo, DeployError> {
        config.validate().map_err(DeployError::Config)?;
        let mut bundle = code::load_for(
            config.runtime,
            code_path,
            &self.inner.scratch.join("bundles"),
        )?;
        if config.runtime.is_source() {
            self.use_snapshot(&mut bundle)?;
        }
        self.deploy_bundle_noted(name, &bundle, config, init_note)
    }

    /// Reads code for `language` as [`Runtime::deploy`] does (a language
    /// runtime's code from its snapshot), for a deploy of a bundle later.
    pub fn load_code_for(
        &self,
        language: crate::model::Language,
        path: &Path,
    ) -> Result<CodeBundle, DeployError> {
        let mut bundle = code::load_for(language, path, &self.inner.scratch.join("bundles"))?;
        if language.is_source() {
            self.use_snapshot(&mut bundle)?;
        }
        Ok(bundle)
    }

    /// Runs a language runtime from its snapshot (made once per machine: see
    /// `snapshot.rs`), so a cold start does not build its realm again.
    fn use_snapshot(&self, bundle: &mut CodeBundle) -> Result<(), DeployError> {
        let key = bundle.sha256;
        let mut snapshots = self
            .inner
            .snapshots
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((wasm, sha)) = snapshots.get(&key) {
            bundle.wasm = wasm.to_vec();
            bundle.sha256 = *sha;
            return Ok(());
        }
        let path = snapshot::cache_path(self.inner.options.cache_dir.as_ref(), &key);
        // A kept snapshot that does not validate (a damaged file) is made
        // again; one that cannot be read is tried once more first (another
        // process may be replacing it), and why it was not used is kept.
        let read_kept = |p: &Path| -> Result<Vec<u8>, String> {
            let w = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            wasmtime::Module::validate(&self.inner.engine, &w)
                .map_err(|e| format!("{} does not validate: {e}", p.display()))?;
            Ok(w)
        };
        let kept = match path.as_deref() {
            Some(p) if p.exists() => match read_kept(p) {
                Ok(w) => Some(w),
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    read_kept(p)
                        .map_err(|why| {
                            *self
                                .inner
                                .snapshot_note
                                .lock()
                                .unwrap_or_else(|e| e.into_inner()) = Some(why);
                        })
                        .ok()
                }
            },
            _ => None,
        };
        if kept.is_some()
            && let Some(p) = &path
        {
            engine::touch(p);
        }
        let wasm = match kept {
            Some(w) => w,
            None => {
                self.inner.snapshots_made.fetch_add(1, Ordering::Relaxed);
                let w = snapshot::preinitialize(&self.inner.engine, &bundle.wasm)
                    .map_err(|e| CodeError::Invalid(format!("{e:#}")))?;
                if let Some(p) = &path {
                    // A cache that cannot be written costs the next process one making.
                    let _ = crate::store::write_atomic(p, &w);
                }
                w
            }
        };
        let sha = code::sha256(&wasm);
        snapshots.insert(key, (Arc::from(wasm.as_slice()), sha));
        bundle.wasm = wasm;
        bundle.sha256 = sha;
        Ok(())
    }

    /// Deploys code that is already loaded.
    pub fn deploy_bundle(
        &self,
        name: &str,
        bundle: &CodeBundle,
        config: FunctionConfig,
    ) -> Result<DeployInfo, DeployError> {
        self.deploy_bundle_noted(name, bundle, config, None)
    }

    /// Deploys a published version of `name` (immutable code and settings)
    /// as `name:version`: its own environments, `Version: N` on its START
    /// lines, `functionVersion` in its context. Invoke it by that key.
    pub fn deploy_version(
        &self,
        name: &str,
        version: u64,
        bundle: &CodeBundle,
        config: FunctionConfig,
    ) -> Result<DeployInfo, DeployError> {
        self.deploy_version_kept(name, version, bundle, config, None)
    }

    /// [`Runtime::deploy_version`], with its SnapStart snapshot kept in a
    /// file: made there when the version is published, and read from there
    /// when it is deployed again (a restart), as Lambda runs a version's
    /// INIT once, when it is published. A kept file that does not validate
    /// is made again.
    pub fn deploy_version_kept(
        &self,
        name: &str,
        version: u64,
        bundle: &CodeBundle,
        config: FunctionConfig,
        kept: Option<&KeptSnapshot>,
    ) -> Result<DeployInfo, DeployError> {
        self.deploy_keyed(
            &version_key(name, &version.to_string()),
            name,
            &version.to_string(),
            bundle,
            config,
            None,
            kept,
        )
    }

    fn deploy_bundle_noted(
        &self,
        name: &str,
        bundle: &CodeBundle,
        config: FunctionConfig,
        init_note: Option<String>,
    ) -> Result<DeployInfo, DeployError> {
        self.deploy_keyed(name, name, "$LATEST", bundle, config, init_note, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn deploy_keyed(
        &self,
        key: &str,
        name: &str,
        version: &str,
        bundle: &CodeBundle,
        config: FunctionConfig,
        init_note: Option<String>,
        kept: Option<&KeptSnapshot>,
    ) -> Result<DeployInfo, DeployError> {
        config.validate().map_err(DeployError::Config)?;
        let (module, source, load_time) = self.inner.modules.load(&bundle.wasm, &bundle.sha256)?;
        let kind = self.check_module(&module, config.export())?;
        // SnapStart applies to published versions of modules with an INIT.
        let snap_start = config.snap_start
            && version != "$LATEST"
            && matches!(
                kind,
                ModuleKind::Handler {
                    has_initialize: true,
                    ..
                }
            );
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| CodeError::Invalid(format!("{e:#}")))?;
        let info = DeployInfo {
            kind,
            code_sha256: bundle.sha256_hex(),
            load: (source, load_time),
            code_size: bundle.code_size() as usize,
            origin: bundle.origin.clone(),
            exports: module
                .exports()
                .map(|e| format!("{} ({})", e.name(), extern_kind(&e.ty())))
                .collect(),
            imports: module
                .imports()
                .map(|i| format!("{}.{} ({})", i.module(), i.name(), extern_kind(&i.ty())))
                .collect(),
        };
        let mut blueprint = Blueprint {
            engine: self.inner.engine.clone(),
            instance_pre,
            kind,
            function: Arc::from(name),
            version: Arc::from(version),
            arn: Arc::from(function_arn(name)),
            log_group: Arc::from(logs::log_group_name(name)),
            task_root: bundle.task_root.clone(),
            scratch_dir: self.inner.scratch.clone(),
            tmp_stock: self.inner.tmp_stock.clone(),
            cpu_share_on: self.inner.cpu_share_on.clone(),
            outbound: self.inner.outbound.clone(),
            grants: Arc::new(
                crate::model::outbound::Grants::parse(&config.role.outbound).unwrap_or_default(),
            ),
            init_note,
            config,
            snap_start,
        };
        if snap_start {
            let reused = kept
                .filter(|k| k.reuse)
                .and_then(|k| std::fs::read(&k.path).ok())
                .filter(|w| wasmtime::Module::validate(&self.inner.engine, w).is_ok());
            match reused {
                Some(snapshot) => self.start_from_snapshot(&mut blueprint, &snapshot)?,
                None => {
                    let snapshot = self.snap_start(&mut blueprint, &bundle.wasm)?;
                    if let Some(k) = kept {
                        // Not kept: the next start-up runs INIT again.
                        let _ = crate::store::write_atomic(&k.path, &snapshot);
                    }
                }
            }
        }
        let function = Arc::new(Function {
            blueprint,
            info: info.clone(),
            first_load: Mutex::new(Some((source, load_time))),
            pool: Mutex::new(Pool::default()),
            in_flight: AtomicU32::new(0),
            generation: AtomicU64::new(0),
        });
        let old = self.functions_mut().insert(key.to_owned(), function);
        drop(old);
        Ok(info)
    }

    /// SnapStart, when a version is published: runs the version's INIT once
    /// and snapshots the environment (`Environment::snapshot`); the
    /// version's environments are then created from the snapshot. INIT's
    /// output goes to the log with an `INIT_REPORT` line, as Lambda's; an
    /// INIT that fails fails the publishing.
    fn snap_start(&self, bp: &mut Blueprint, wasm: &[u8]) -> Result<Vec<u8>, DeployError> {
        let request_id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
        let first = context_until(&request_id, Instant::now() + environment::INIT_TIMEOUT);
        let sink = self.inner.options.log_sink.clone();
        let result = Environment::snapshot(bp, wasm, &self.inner.linker, &first, sink.clone());
        let report = |status: &str, init: Option<Duration>, error: Option<&str>| {
            let Some(sink) = &sink else { return };
            let mut text = format!(
                "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: {status}",
                init.map_or(0.0, report::as_ms)
            );
            if let Some(e) = error {
                text.push_str(&format!("\tError Type: {e}"));
            }
            sink(LogLine {
                time: chrono::Utc::now(),
                function: bp.function.clone(),
                log_stream: Arc::from(logs::new_log_stream_name(&bp.version)),
                request_id: Arc::from(""),
                kind: LogKind::Platform,
                text,
            });
        };
        let (snapshot, init) = match result {
            Ok(done) => done,
            Err(e) => {
                report("error", None, Some(&e.error_type));
                return Err(CodeError::Invalid(format!(
                    "SnapStart: INIT failed while publishing version {}: {}: {}",
                    bp.version, e.error_type, e.error_message
                ))
                .into());
            }
        };
        report("success", Some(init), None);
        self.start_from_snapshot(bp, &snapshot)?;
        Ok(snapshot)
    }

    /// Environments of `bp` start from `snapshot` (a SnapStart snapshot).
    fn start_from_snapshot(&self, bp: &mut Blueprint, snapshot: &[u8]) -> Result<(), DeployError> {
        let sha = code::sha256(snapshot);
        let (module, _, _) = self.inner.modules.load(snapshot, &sha)?;
        bp.kind = self.check_module(&module, bp.config.export())?;
        bp.instance_pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| CodeError::Invalid(format!("{e:#}")))?;
        Ok(())
    }

    /// Checks imports and the entry point; says how the module runs.
    fn check_module(&self, module: &Module, handler: &str) -> Result<ModuleKind, CodeError> {
        let missing: Vec<String> = module
            .imports()
            .filter(|i| {
                !self
                    .inner
                    .defined_imports
                    .contains(&(i.module().to_owned(), i.name().to_owned()))
            })
            .map(|i| format!("{}::{}", i.module(), i.name()))
            .collect();
        if !missing.is_empty() {
            return Err(CodeError::UnresolvedImports(missing));
        }
        let exports: Vec<String> = module
            .exports()
            .filter(|e| matches!(e.ty(), ExternType::Func(_)))
            .map(|e| e.name().to_owned())
            .collect();
        let Some(ExternType::Func(ty)) = module.get_export(handler) else {
            return Err(CodeError::NoEntryPoint {
                handler: handler.to_owned(),
                exports,
            });
        };
        let params: Vec<ValType> = ty.params().collect();
        let results: Vec<ValType> = ty.results().collect();
        let returns_status = match results.as_slice() {
            [] => false,
            [ValType::I32] => true,
            _ => {
                return Err(CodeError::BadHandlerSignature {
                    handler: handler.to_owned(),
                    signature: format!("{ty}"),
                });
            }
        };
        if !params.is_empty() || (handler == "_start" && returns_status) {
            return Err(CodeError::BadHandlerSignature {
                handler: handler.to_owned(),
                signature: format!("{ty}"),
            });
        }
        if handler == "_start" {
            Ok(ModuleKind::Command)
        } else {
            Ok(ModuleKind::Handler {
                has_initialize: matches!(
                    module.get_export("_initialize"),
                    Some(ExternType::Func(_))
                ),
                returns_status,
            })
        }
    }

    fn functions(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Function>>> {
        self.inner
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn functions_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Function>>> {
        self.inner
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.functions().get(name).cloned()
    }

    /// Removes a function, its published versions and their environments;
    /// given a version's key (`name:3`), that version alone.
    pub fn remove(&self, name: &str) -> bool {
        let mut functions = self.functions_mut();
        let removed = functions.remove(name);
        if !name.contains(':') {
            let prefix = format!("{name}:");
            functions.retain(|k, _| !k.starts_with(&prefix));
        }
        removed.is_some()
    }

    /// Names of the deployed functions (`$LATEST`; not their versions), sorted.
    pub fn function_names(&self) -> Vec<String> {
        self.functions()
            .keys()
            .filter(|k| !k.contains(':'))
            .cloned()
            .collect()
    }

    /// The published versions of `name` deployed, in order.
    pub fn versions_deployed(&self, name: &str) -> Vec<u64> {
        let prefix = format!("{name}:");
        let mut v: Vec<u64> = self
            .functions()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix)?.parse().ok())
            .collect();
        v.sort_unstable();
        v
    }

    /// Whether `name` (or a version's key, `name:3`) is deployed; cheaper
    /// than [`Runtime::deploy_info`] on the invoke path (no copy).
    pub fn has_function(&self, name: &str) -> bool {
        self.functions().contains_key(name)
    }

    /// What the last deploy of `name` found.
    pub fn deploy_info(&self, name: &str) -> Option<DeployInfo> {
        self.function(name).map(|f| f.info.clone())
    }

    /// The configuration `name` runs with.
    pub fn config(&self, name: &str) -> Option<FunctionConfig> {
        self.function(name).map(|f| f.blueprint.config.clone())
    }

    /// Snapshots of a function's environments, oldest first.
    pub fn environments(&self, name: &str) -> Vec<EnvironmentInfo> {
        let Some(f) = self.function(name) else {
            return Vec::new();
        };
        let pool = f.pool();
        let mut all: Vec<EnvironmentInfo> = pool
            .idle
            .iter()
            .map(|e| env_info(e, false))
            .chain(pool.busy.values().cloned())
            .collect();
        all.sort_by_key(|e| e.id);
        all
    }

    /// Drops a function's environments so the next start is cold: idle ones
    /// now, busy ones when their invocation ends. Returns how many were idle.
    pub fn drop_environments(&self, name: &str) -> usize {
        let Some(f) = self.function(name) else {
            return 0;
        };
        let idle = {
            let mut pool = f.pool();
            // Environments created before this point are not reused.
            f.generation.fetch_add(1, Ordering::AcqRel);
            std::mem::take(&mut pool.idle)
        };
        let n = idle.len();
        for env in idle {
            self.inner.shut_down(env);
        }
        n
    }

    /// Shuts down environments idle for longer than their function's idle time.
    /// Returns how many were reaped. The runtime's reaper thread calls this every second.
    pub fn reap_idle(&self) -> usize {
        reap(&self.inner)
    }

    /// Invokes `name` synchronously with a JSON `payload`.
    pub fn invoke(&self, name: &str, payload: &[u8]) -> Result<Invocation, InvokeError> {
        self.invoke_with(name, payload, &InvokeOptions::default())
    }

    /// Invokes `name` synchronously with options.
    pub fn invoke_with(
        &self,
        name: &str,
        payload: &[u8],
        options: &InvokeOptions,
    ) -> Result<Invocation, InvokeError> {
        if payload.len() > MAX_REQUEST_BYTES {
            return Err(InvokeError::RequestTooLarge {
                size: payload.len(),
            });
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(payload)
            .map_err(|e| InvokeError::InvalidRequestContent(e.to_string()))?;
        let f = self
            .function(name)
            .ok_or_else(|| InvokeError::ResourceNotFound {
                arn: function_arn(name),
            })?;
        let _slot = self.acquire(&f)?;
        let bp = &f.blueprint;
        let request_id = options
            .request_id
            .clone()
            .unwrap_or_else(logs::new_request_id);
        let sink = options
            .log_sink
            .clone()
            .or_else(|| self.inner.options.log_sink.clone());
        let event = Bytes::copy_from_slice(payload);
        let timeout = Duration::from_secs(u64::from(bp.config.timeout_s));

        let idle = {
            let mut pool = f.pool();
            let env = pool.idle.pop();
            if let Some(env) = &env {
                pool.busy.insert(env.id, env_info(env, true));
            }
            env
        };
        let mut phases = Phases::default();
        let (mut env, start) = match idle {
            Some(env) => (env, StartKind::Warm),
            None => {
                let id = self.inner.next_env_id.fetch_add(1, Ordering::Relaxed);
                let load = f
                    .first_load
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .unwrap_or((CodeSource::Memory, Duration::ZERO));
                phases.load = Some(load);
                let provisional = context(&request_id, environment::INIT_TIMEOUT);
                let mut created =
                    Environment::create(bp, id, &provisional, event.clone(), sink.clone());
                // Every instance slot taken: as Lambda reclaims idle
                // environments, shut the least recently used idle one down
                // and try again (once per environment so reclaimed).
                while let Err((e, _, _)) = &created
                    && environment::pool_exhausted(e)
                    && self.evict_least_recently_used()
                {
                    created =
                        Environment::create(bp, id, &provisional, event.clone(), sink.clone());
                }
                match created {
                    Ok((mut env, instantiate, init)) => {
                        env.generation = f.generation.load(Ordering::Acquire);
                        phases.instantiate = instantiate;
                        phases.init = init;
                        f.pool().busy.insert(env.id, env_info(&env, true));
                        (env, StartKind::Cold)
                    }
                    Err((error, instantiate, init)) => {
                        phases.instantiate = instantiate;
                        phases.init = init;
                        return Ok(self.init_failed(&f, request_id, id, phases, error, sink));
                    }
                }
            }
        };
        let deadline = Instant::now() + timeout;
        let mut ctx = context_until(&request_id, deadline);
        ctx.invoked_arn = options.invoked_arn.clone();
        env.io().begin(event, ctx, sink);
        let logging = env.io().has_sink();
        if logging
            && start == StartKind::Cold
            && let Some(note) = &bp.init_note
        {
            env.io().platform_line(LogKind::Notice, note.clone());
        }
        if logging {
            env.io().platform_line(
                LogKind::Start,
                format!("START RequestId: {request_id} Version: {}", bp.version),
            );
        }
        let run = env.run(bp, deadline, options.cancel.as_ref());
        if start == StartKind::Cold {
            phases.instantiate += run.instantiate;
        } else {
            phases.instantiate = run.instantiate;
        }
        phases.handler = run.handler;
        let mut report = Report::new(
            &phases,
            start,
            bp.config.memory_mb,
            env.peak_memory_bytes,
            &self.inner.options.pricing,
        );
        if bp.snap_start && start == StartKind::Cold {
            report = report.restored(&phases, phases.init, &self.inner.options.pricing);
        }
        let outcome = match run.outcome {
            Ok(bytes) => Outcome::Response(bytes),
            Err(e) => Outcome::Error(e),
        };
        if logging {
            if let Outcome::Error(e) = &outcome
                && e.kind == ErrorKind::Unhandled
            {
                let text = if e.is_timeout() {
                    e.error_message.clone()
                } else {
                    format!("{}: {}", e.error_type, e.error_message)
                };
                env.io().platform_line(LogKind::Platform, text);
            }
            env.io()
                .platform_line(LogKind::End, format!("END RequestId: {request_id}"));
            env.io()
                .platform_line(LogKind::Report, report.line(&request_id));
        }
        let invocation = Invocation {
            request_id: request_id.to_string(),
            function: bp.function.to_string(),
            version: bp.version.to_string(),
            log_stream: env.log_stream().to_string(),
            environment_id: env.id,
            start,
            outcome,
            phases,
            report,
        };
        let dropped = {
            let mut pool = f.pool();
            let keep = !run.discard
                && !options.discard_environment
                && env.generation == f.generation.load(Ordering::Acquire);
            pool.busy.remove(&env.id);
            if keep {
                pool.idle.push(env);
                None
            } else {
                Some(env)
            }
        };
        if let Some(env) = dropped {
            self.inner.shut_down(env);
        }
        Ok(invocation)
    }

    /// Shuts down the idle environment (of any function) used longest ago.
    /// Returns whether there was one.
    fn evict_least_recently_used(&self) -> bool {
        let functions: Vec<Arc<Function>> = self.functions().values().cloned().collect();
        let oldest = functions
            .iter()
            .filter_map(|f| {
                let pool = f.pool();
                let (i, e) = pool
                    .idle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.last_used)?;
                Some((f.clone(), i, e.last_used))
            })
            .min_by_key(|(_, _, used)| *used);
        let Some((f, i, used)) = oldest else {
            return false;
        };
        let env = {
            let mut pool = f.pool();
            // It may have been taken meanwhile: evict only if it is still there.
            match pool.idle.get(i) {
                Some(e) if e.last_used == used => pool.idle.remove(i),
                _ => return true,
            }
        };
        self.inner.shut_down(env);
        true
    }

    fn acquire<'a>(&'a self, f: &'a Function) -> Result<Slot<'a>, InvokeError> {
        let account = &self.inner.in_flight;
        let limit = f.blueprint.config.reserved_concurrency.unwrap_or(u32::MAX);
        if f.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_err()
        {
            return Err(InvokeError::TooManyRequests {
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
            });
        }
        let account_limit = self.inner.options.account_concurrency;
        if account
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < account_limit).then_some(n + 1)
            })
            .is_err()
        {
            f.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(InvokeError::TooManyRequests {
                reason: "ConcurrentInvocationLimitExceeded",
            });
        }
        let memory_mb = u64::from(f.blueprint.config.memory_mb);
        let budget = self.inner.memory_budget_mb;
        if self
            .inner
            .memory_in_use_mb
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used.saturating_add(memory_mb) <= budget).then_some(used + memory_mb)
            })
            .is_err()
        {
            f.in_flight.fetch_sub(1, Ordering::AcqRel);
            account.fetch_sub(1, Ordering::AcqRel);
            return Err(InvokeError::TooManyRequests {
                reason: "HostMemoryBudgetExceeded",
            });
        }
        Ok(Slot {
            function: &f.in_flight,
            account,
            memory: &self.inner.memory_in_use_mb,
            memory_mb,
        })
    }

    fn init_failed(
        &self,
        f: &Function,
        request_id: Arc<str>,
        env_id: u64,
        phases: Phases,
        error: FunctionError,
        sink: Option<LogSink>,
    ) -> Invocation {
        let bp = &f.blueprint;
        let report = Report::new(
            &phases,
            StartKind::Cold,
            bp.config.memory_mb,
            0,
            &self.inner.options.pricing,
        );
        let log_stream = logs::new_log_stream_name(&bp.version);
        if let Some(sink) = sink {
            let line = |kind, text: String| LogLine {
                time: chrono::Utc::now(),
                function: bp.function.clone(),
                log_stream: Arc::from(log_stream.as_str()),
                request_id: request_id.clone(),
                kind,
                text,
            };
            sink(line(
                LogKind::Start,
                format!("START RequestId: {request_id} Version: {}", bp.version),
            ));
            sink(line(
                LogKind::Platform,
                format!("{}: {}", error.error_type, error.error_message),
            ));
            sink(line(LogKind::End, format!("END RequestId: {request_id}")));
            sink(line(LogKind::Report, report.line(&request_id)));
        }
        Invocation {
            request_id: request_id.to_string(),
            function: bp.function.to_string(),
            version: bp.version.to_string(),
            log_stream,
            environment_id: env_id,
            start: StartKind::Cold,
            outcome: Outcome::Error(error),
            phases,
            report,
        }
    }
}

fn context(request_id: &Arc<str>, timeout: Duration) -> InvocationContext {
    context_until(request_id, Instant::now() + timeout)
}

fn context_until(request_id: &Arc<str>, deadline: Instant) -> InvocationContext {
    let remaining = deadline.saturating_duration_since(Instant::now());
    let unix_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        + remaining;
    InvocationContext {
        request_id: request_id.clone(),
        deadline,
        deadline_unix_ms: unix_ms.as_millis() as u64,
        invoked_arn: None,
    }
}

fn reap(inner: &Inner) -> usize {
    let functions: Vec<Arc<Function>> = inner
        .functions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    let mut reaped = Vec::new();
    for f in functions {
        let idle_for = Duration::from_secs(f.blueprint.config.idle_timeout_s);
        let mut pool = f.pool();
        let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut pool.idle)
            .into_iter()
            .partition(|e| e.last_used.elapsed() >= idle_for);
        pool.idle = keep;
        reaped.extend(old);
    }
    let n = reaped.len();
    drop(reaped);
    n
}

/// Starts the thread that shuts environments down: those handed to it, and
/// those idle for longer than their function allows (checked every 500 ms).
fn start_reaper(
    inner: Weak<Inner>,
) -> anyhow::Result<(
    std::sync::mpsc::SyncSender<Environment>,
    std::thread::JoinHandle<()>,
)> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Environment>(256);
    let handle = std::thread::Builder::new()
        .name("lambdesk-reaper".to_owned())
        .spawn(move || {
            let mut next_reap = Instant::now() + Duration::from_millis(500);
            loop {
                let wait = next_reap.saturating_duration_since(Instant::now());
                match rx.recv_timeout(wait) {
                    Ok(env) => drop(env),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        next_reap = Instant::now() + Duration::from_millis(500);
                        let Some(inner) = inner.upgrade() else {
                            return;
                        };
                        reap(&inner);
                        inner.tmp_stock.top_up();
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        })?;
    Ok((tx, handle))
}

/// Picks a handler from a module's exported functions when none was given:
/// `_start` for a command, else `handler`, else the only export that is not
/// `_initialize` or an internal (`__…`) one.
pub fn guess_handler(exports: &[String]) -> Option<String> {
    for preferred in ["_start", "handler"] {
        if exports.iter().any(|e| e == preferred) {
            return Some(preferred.to_owned());
        }
    }
    let candidates: Vec<&String> = exports
        .iter()
        .filter(|e| *e != "_initialize" && !e.starts_with("__"))
        .collect();
    match candidates.as_slice() {
        [only] => Some((*only).clone()),
        _ => None,
    }
}
