//! The wasmtime engine as Lambdesk uses it: epoch interruption for timeouts,
//! the pooling allocator with copy-on-write memory images for fast
//! instantiation, and modules compiled once per code version and cached on
//! disk, keyed by the module's hash and the engine's compatibility hash.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Module, PoolingAllocationConfig};

use super::code::{CodeError, hex};
use super::report::CodeSource;

/// One epoch tick. Timeouts are accurate to about this.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Largest linear memory a wasm32 module can have: 4 GiB.
pub const WASM32_MAX_MEMORY: usize = 4 << 30;

/// Builds the engine. With `pool_slots > 0` the pooling allocator is tried
/// first; if the host refuses its address-space reservation, instances are
/// allocated on demand (still with copy-on-write images).
pub(crate) fn build_engine(pool_slots: u32) -> anyhow::Result<(Engine, bool)> {
    if pool_slots > 0 {
        let mut config = base_config();
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(pool_slots)
            .total_memories(pool_slots)
            .total_tables(pool_slots)
            .total_stacks(pool_slots)
            .total_component_instances(0)
            .max_memory_size(WASM32_MAX_MEMORY)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if let Ok(engine) = Engine::new(&config) {
            return Ok((engine, true));
        }
    }
    let engine = Engine::new(&base_config())
        .map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e}"))?;
    Ok((engine, false))
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .parallel_compilation(true)
        .memory_init_cow(true)
        // Interpreters recurse on the native stack: RustPython needs up to
        // 2 MiB for Python's default recursion limit (1000 frames) to end in
        // `RecursionError` rather than a trap (measured); 8 MiB is Linux's,
        // and Lambda's, default.
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(MAX_WASM_STACK + (1 << 20));
    config
}

/// The native stack guest code may use.
pub const MAX_WASM_STACK: usize = 8 << 20;

/// Guest code running in this process: the epoch tickers tick only while
/// some does, so an idle app or `serve` does not wake a thousand times a second.
static GUESTS_RUNNING: Mutex<usize> = Mutex::new(0);
static GUESTS_WAKE: std::sync::Condvar = std::sync::Condvar::new();

/// Held while guest code may run (instantiation, INIT, an invocation).
pub(crate) struct GuestRunning(());

impl GuestRunning {
    pub(crate) fn enter() -> Self {
        let mut n = GUESTS_RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        if *n == 1 {
            GUESTS_WAKE.notify_all();
        }
        Self(())
    }
}

impl Drop for GuestRunning {
    fn drop(&mut self) {
        let mut n = GUESTS_RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
    }
}

/// How long an idle ticker sleeps before it checks that its engine lives.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Starts the thread that advances the engine's epoch: one tick per
/// [`EPOCH_TICK`] of real time while guest code runs (it catches up when
/// the thread sleeps longer, so a deadline of N ticks is N milliseconds), and
/// none while no guest runs. It holds only a weak handle and ends when the
/// engine is dropped.
pub(crate) fn start_ticker(engine: &Engine) -> anyhow::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("lambdesk-epoch".to_owned())
        .spawn(move || {
            let mut last = Instant::now();
            while let Some(engine) = weak.upgrade() {
                {
                    let n = GUESTS_RUNNING.lock().unwrap_or_else(|e| e.into_inner());
                    if *n == 0 {
                        drop(engine);
                        let _ = GUESTS_WAKE.wait_timeout(n, IDLE_CHECK);
                        // Time spent idle is not owed as ticks.
                        last = Instant::now();
                        continue;
                    }
                }
                while last.elapsed() >= EPOCH_TICK {
                    engine.increment_epoch();
                    last += EPOCH_TICK;
                }
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(())
}

/// Compiled modules: in memory for this process, and precompiled on disk for
/// the next one.
pub(crate) struct ModuleCache {
    engine: Engine,
    dir: Option<PathBuf>,
    engine_key: String,
    loaded: Mutex<HashMap<[u8; 32], Module>>,
    /// One lock per module being read or compiled: deploys of the same code
    /// at once (the JavaScript samples on a first run) compile it once.
    in_flight: Mutex<HashMap<[u8; 32], std::sync::Arc<Mutex<()>>>>,
}

impl ModuleCache {
    pub fn new(engine: Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        Self {
            engine,
            dir,
            engine_key,
            loaded: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Where the precompiled module for `sha256` lives on disk.
    pub fn path_for(&self, sha256: &[u8; 32]) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", hex(sha256), self.engine_key)))
    }

    /// Returns the module for `wasm`, from memory, from disk, or by compiling it
    /// (and then storing it on disk). Says where it came from and how long it took.
    pub fn load(
        &self,
        wasm: &[u8],
        sha256: &[u8; 32],
    ) -> Result<(Module, CodeSource, Duration), CodeError> {
        let start = Instant::now();
        if let Some(m) = self.lock().get(sha256) {
            return Ok((m.clone(), CodeSource::Memory, start.elapsed()));
        }
        let flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(*sha256)
            .or_default()
            .clone();
        let _one_at_a_time = flight.lock().unwrap_or_else(|e| e.into_inner());
        // Another deploy may have loaded it while this one waited.
        if let Some(m) = self.lock().get(sha256) {
            return Ok((m.clone(), CodeSource::Memory, start.elapsed()));
        }
        let path = self.path_for(sha256);
        if let Some(path) = path.as_deref()
            && path.exists()
        {
            // Read, not mapped: a mapping of a file that someone truncates
            // later would crash the process with SIGBUS.
            let loaded = std::fs::read(path)
                .map_err(wasmtime::Error::from)
                .and_then(|bytes| {
                    // SAFETY: the bytes come from a file this cache wrote
                    // atomically from `Module::serialize` of this engine
                    // configuration (its name carries the engine's
                    // compatibility hash), in a folder only Lambdesk writes;
                    // wasmtime still checks the header and version.
                    unsafe { Module::deserialize(&self.engine, bytes) }
                });
            match loaded {
                Ok(module) => {
                    touch(path);
                    prepare_image(&module);
                    self.lock().insert(*sha256, module.clone());
                    return Ok((module, CodeSource::DiskCache, start.elapsed()));
                }
                Err(_) => {
                    // Damaged or stale: compile again and overwrite it below.
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let module = Module::from_binary(&self.engine, wasm)
            .map_err(|e| CodeError::Invalid(format!("{e:#}")))?;
        let elapsed = start.elapsed();
        if let Some(path) = path.as_deref() {
            // A cache that cannot be written only costs the next process a compile.
            let _ = store_precompiled(&module, path);
        }
        prepare_image(&module);
        self.lock().insert(*sha256, module.clone());
        Ok((module, CodeSource::Compiled, elapsed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Module>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The most the compile cache keeps on disk (about forty compiled Python
/// runtimes); the files used least recently go first.
pub const CACHE_BUDGET_BYTES: u64 = 2 << 30;

/// Marks a cache file as just used (its modification time), so trimming
/// keeps it; a file that cannot be touched is only trimmed sooner.
pub(crate) fn touch(path: &Path) {
    let _ = std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
}

/// Whether a file name is one the compile cache writes: a compiled module
/// (`<sha>-<engine>.cwasm`) or a runtime's snapshot (`<sha>-preinit-….wasm`).
fn is_cache_file(name: &str) -> bool {
    name.ends_with(".cwasm") || (name.contains("-preinit-") && name.ends_with(".wasm"))
}

/// Removes the least recently used files of the compile cache in `dir`
/// until the rest fit in `budget` bytes; other files are left alone.
/// Returns how many files and bytes went. Files are read whole (never
/// mapped), so one another process is reading is not harmed: it is read or
/// compiled again.
pub fn trim_cache(dir: &Path, budget: u64) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_cache_file))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(std::fs::Metadata::is_file)?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    // Newest first: kept while they fit.
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let (mut kept, mut removed, mut freed) = (0u64, 0usize, 0u64);
    for (_, size, path) in files {
        if kept + size <= budget {
            kept += size;
        } else if std::fs::remove_file(&path).is_ok() {
            removed += 1;
            freed += size;
        }
    }
    (removed, freed)
}

/// Builds the module's copy-on-write memory image (on Linux a sealed memfd)
/// now, at load, instead of at its first cold start. Sealing the memfd fails
/// with `EBUSY` while the kernel still holds transient references to its
/// pages, which CI saw once under load (a cold start then failed with "Device
/// or resource busy"), so a busy image is tried again after a short pause. A
/// failure here is not final: wasmtime builds a missing image at the next
/// instantiation.
fn prepare_image(module: &Module) {
    for attempt in 0..6u32 {
        match module.initialize_copy_on_write_image() {
            Ok(()) => return,
            Err(e) if is_busy(&e) => std::thread::sleep(Duration::from_millis(5 << attempt)),
            Err(_) => return,
        }
    }
}

/// Whether an error's root cause is the OS's "resource busy" (`EBUSY`).
pub(crate) fn is_busy(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ResourceBusy)
    })
}

fn store_precompiled(module: &Module, path: &Path) -> anyhow::Result<()> {
    let bytes = module.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::store::write_atomic(path, &bytes)?;
    Ok(())
}

/// Runs a future to completion on this thread's runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // Every guest call goes through here: the epoch ticker runs meanwhile.
    let _running = GuestRunning::enter();
    thread_local! {
        // Time for timeouts, I/O for outbound HTTP; a few named threads for
        // the DNS lookups of outbound requests.
        static RUNTIME: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .thread_name("lambdesk-dns")
            .build()
            .ok();
    }
    RUNTIME.with(|rt| match rt {
        Some(rt) => rt.block_on(future),
        None => {
            // Creating a runtime failed once (no timer?): try a fresh one.
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(4)
                .thread_name("lambdesk-dns")
                .build()
                .map(|rt| rt.block_on(future))
                .unwrap_or_else(|e| panic!("cannot create a tokio runtime: {e}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_its_newest_files_within_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::now();
        let file = |name: &str, size: usize, age_s: u64| {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![0u8; size]).unwrap();
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(now - Duration::from_secs(age_s)).unwrap();
            p
        };
        let old = file("a-1.cwasm", 400, 300);
        let used = file("b-1.cwasm", 400, 200);
        let new = file("c-preinit-v2.wasm", 400, 100);
        let other = file("notes.txt", 4_000, 1_000);
        // Used just now: the oldest by time becomes the newest.
        touch(&used);
        assert_eq!(trim_cache(dir.path(), 1_000), (1, 400));
        assert!(!old.exists() && used.exists() && new.exists());
        assert!(other.exists(), "files the cache did not write stay");
        assert_eq!(trim_cache(dir.path(), 1_000), (0, 0));
        assert_eq!(trim_cache(&dir.path().join("missing"), 0), (0, 0));
    }
}
