//! Pre-initialised language runtimes: the JavaScript runtime's module is run
//! once per machine up to the point where it would read the function's code
//! (its realm built, its prelude parsed and run: `lambdesk_preinit`), and
//! snapshotted by `wasmtime-wizer` into a new module whose memory already
//! holds that state. Every cold start then begins there, so INIT only loads
//! the function. The snapshot is kept beside the compiled modules (keyed by
//! the runtime module's SHA-256), so later processes skip even this.
//!
//! Nothing of the machine is kept in it: the export it runs reads no
//! environment, clock or randomness (the runtime reads them at INIT), and it
//! runs with no preopened folder and no arguments.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Engine, Instance, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wizer::{InstanceState, SnapshotVal, Wizer};

/// The export that prepares a runtime for its snapshot.
pub const PREINIT_EXPORT: &str = "lambdesk_preinit";

/// The runtime's INIT, which becomes the snapshot's `_initialize`.
pub const INIT_EXPORT: &str = "lambdesk_init";

/// Most time preparing may take.
const PREINIT_TIMEOUT: Duration = Duration::from_secs(60);

/// Bumped when the way snapshots are made changes (so old ones are not read).
const SNAPSHOT_FORMAT: u32 = 2;

/// Where the snapshot of the module with this SHA-256 is kept.
pub(crate) fn cache_path(cache_dir: Option<&PathBuf>, sha256: &[u8; 32]) -> Option<PathBuf> {
    let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.map(|d| d.join(format!("{hex}-preinit-v{SNAPSHOT_FORMAT}.wasm")))
}

/// Runs `wasm`'s [`PREINIT_EXPORT`] and returns the snapshot module.
pub(crate) fn preinitialize(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut wizer = Wizer::new();
    wizer.init_func(PREINIT_EXPORT);
    wizer.keep_init_func(false);
    // Wizer drops `_initialize` (a reactor's start-up, done already); the
    // runtime's INIT is exported again under that name, for the host to run.
    wizer.func_rename("_initialize", INIT_EXPORT);
    let (cx, instrumented) = wizer
        .instrument(wasm)
        .map_err(|e| anyhow::anyhow!("instrumenting the runtime: {e}"))?;
    let module = Module::new(engine, &instrumented)
        .map_err(|e| anyhow::anyhow!("compiling the runtime to prepare it: {e}"))?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |c| c)
        .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
    // Its own imports (`lambdesk.*`) must not be called while preparing.
    linker
        .define_unknown_imports_as_traps(&module)
        .map_err(|e| anyhow::anyhow!("linking: {e}"))?;
    let mut store = Store::new(engine, WasiCtxBuilder::new().build_p1());
    store.epoch_deadline_async_yield_and_update(1);
    super::engine::block_on(async {
        tokio::time::timeout(PREINIT_TIMEOUT, async {
            let instance = linker
                .instantiate_async(&mut store, &module)
                .await
                .map_err(|e| anyhow::anyhow!("instantiating the runtime: {e}"))?;
            let f = instance
                .get_typed_func::<(), ()>(&mut store, PREINIT_EXPORT)
                .map_err(|e| anyhow::anyhow!("{PREINIT_EXPORT}: {e}"))?;
            f.call_async(&mut store, ())
                .await
                .map_err(|e| anyhow::anyhow!("preparing the runtime trapped: {e}"))?;
            let mut state = State {
                store: &mut store,
                instance,
            };
            wizer
                .snapshot(&cx, &mut state)
                .await
                .map_err(|e| anyhow::anyhow!("snapshotting the runtime: {e}"))
        })
        .await
        .map_err(|_| anyhow::anyhow!("preparing the runtime took over {PREINIT_TIMEOUT:?}"))?
    })
}

/// A function's own snapshot (SnapStart): `wasm` instrumented so its state
/// can be read after its `_initialize` (INIT) ran; `finish` writes the new
/// module. The caller instantiates the instrumented module in an environment
/// of the function (its WASI context, its `/var/task`, the host's imports)
/// and runs INIT there, so INIT sees what it sees at a cold start.
pub(crate) struct FunctionSnapshot<'a> {
    wizer: Wizer,
    cx: wasmtime_wizer::ModuleContext<'a>,
}

/// The export a snapshotted module may have to be called after each
/// restore, before its first invocation (the language runtimes re-seed
/// their randomness there).
pub const RESTORE_EXPORT: &str = "lambdesk_restore";

impl<'a> FunctionSnapshot<'a> {
    /// Instruments `wasm`; the instrumented module to run.
    pub fn instrument(wasm: &'a [u8]) -> anyhow::Result<(Self, Vec<u8>)> {
        let mut wizer = Wizer::new();
        wizer.init_func("_initialize");
        wizer.keep_init_func(false);
        let (cx, instrumented) = wizer
            .instrument(wasm)
            .map_err(|e| anyhow::anyhow!("instrumenting the module for its snapshot: {e}"))?;
        Ok((Self { wizer, cx }, instrumented))
    }

    /// The snapshot of `instance` (of the instrumented module, INIT done).
    pub async fn finish<T: Send>(
        &self,
        store: &mut Store<T>,
        instance: Instance,
    ) -> anyhow::Result<Vec<u8>> {
        let mut state = State { store, instance };
        self.wizer
            .snapshot(&self.cx, &mut state)
            .await
            .map_err(|e| anyhow::anyhow!("snapshotting the environment: {e}"))
    }
}

/// The instance's state, as wizer reads it.
struct State<'a, T: 'static> {
    store: &'a mut Store<T>,
    instance: Instance,
}

impl<T: Send> InstanceState for State<'_, T> {
    async fn global_get(&mut self, name: &str, _: wasmtime_wizer::ValType) -> SnapshotVal {
        let Some(global) = self.instance.get_global(&mut *self.store, name) else {
            return SnapshotVal::I32(0);
        };
        match global.get(&mut *self.store) {
            wasmtime::Val::I32(x) => SnapshotVal::I32(x),
            wasmtime::Val::I64(x) => SnapshotVal::I64(x),
            wasmtime::Val::F32(x) => SnapshotVal::F32(x),
            wasmtime::Val::F64(x) => SnapshotVal::F64(x),
            wasmtime::Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            _ => SnapshotVal::I32(0),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.instance.get_memory(&mut *self.store, name) {
            Some(memory) => contents(memory.data(&self.store)),
            None => contents(&[]),
        }
    }
}
