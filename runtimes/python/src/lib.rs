//! Lambdesk's Python runtime: a handler module (WASI reactor) that runs
//! Lambda's Python handler contract on RustPython (Python 3.14, its frozen
//! standard library). `lambdesk_preinit` starts the interpreter and runs the
//! bootstrap (`bootstrap.py`, which imports the modules handlers commonly
//! use) so the host can snapshot it once per machine; INIT (`_initialize`)
//! refreshes the environment, re-seeds `random` and imports the function's
//! module from `/var/task` by `_HANDLER`; each invocation (`handler`) reads
//! the event from stdin and writes the response, or Lambda's error object, to
//! stdout.

use std::cell::RefCell;
use std::io::{Read, Write};

use lambdesk_runtime_guest::{
    MAX_EVENT_DEPTH, call_ctors, context_json, http_close, http_error, http_head, http_read,
    http_send, json_depth, remaining_ms, respond,
};
use rustpython::InterpreterBuilderExt;
use rustpython_vm::builtins::{PyBytesRef, PyStrRef};
use rustpython_vm::scope::Scope;
use rustpython_vm::{Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine};

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    fn environ_sizes_get(count: *mut usize, size: *mut usize) -> u16;
    fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> u16;
}

const BOOTSTRAP: &str = include_str!("bootstrap.py");
const BOOTSTRAP_PATH: &str = "/var/runtime/bootstrap.py";

/// The process environment as WASI gives it now, as a JSON object. Read
/// from WASI itself: wasi-libc keeps the copy it made when the interpreter
/// first asked (before a snapshot, with another environment).
fn environ_json() -> String {
    let mut map = serde_json::Map::new();
    #[cfg(target_arch = "wasm32")]
    {
        let (mut count, mut size) = (0usize, 0usize);
        // SAFETY: WASI writes two sizes.
        if unsafe { environ_sizes_get(&raw mut count, &raw mut size) } == 0 {
            let mut pointers = vec![std::ptr::null_mut::<u8>(); count];
            let mut buf = vec![0u8; size];
            // SAFETY: the buffers have the sizes WASI asked for.
            if unsafe { environ_get(pointers.as_mut_ptr(), buf.as_mut_ptr()) } == 0 {
                for entry in buf.split(|&b| b == 0).filter(|e| !e.is_empty()) {
                    let entry = String::from_utf8_lossy(entry);
                    if let Some((k, v)) = entry.split_once('=') {
                        map.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
                    }
                }
            }
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    for (k, v) in std::env::vars() {
        map.insert(k, serde_json::Value::String(v));
    }
    serde_json::Value::Object(map).to_string()
}

/// Lambda's error object for a failure of the runtime itself.
fn runtime_error(message: &str) -> String {
    serde_json::json!({
        "errorMessage": message,
        "errorType": "Runtime.Unknown",
        "requestId": "",
        "stackTrace": [],
    })
    .to_string()
}

struct Runtime {
    interpreter: Interpreter,
    /// The bootstrap's globals (`load`, `invoke`).
    scope: Scope,
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
}

/// A Python exception as its traceback text.
fn exception_text(vm: &VirtualMachine, e: &rustpython_vm::builtins::PyBaseExceptionRef) -> String {
    let mut text = String::new();
    if vm.write_exception(&mut text, e).is_err() || text.is_empty() {
        text = "an exception the runtime could not format".to_owned();
    }
    text
}

/// The host's functions, by name (the bootstrap's `_native`).
fn natives(vm: &VirtualMachine) -> PyResult<PyObjectRef> {
    let ns = vm.ctx.new_dict();
    ns.set_item(
        "log",
        vm.new_function("log", |text: PyStrRef| {
            let mut err = std::io::stderr();
            let _ = err.write_all(text.to_string_lossy().as_bytes());
        })
        .into(),
        vm,
    )?;
    ns.set_item(
        "remaining_ms",
        vm.new_function("remaining_ms", remaining_ms).into(),
        vm,
    )?;
    ns.set_item(
        "environ",
        vm.new_function("environ", environ_json).into(),
        vm,
    )?;
    ns.set_item(
        "exit",
        vm.new_function("exit", |code: i32| -> () { std::process::exit(code) })
            .into(),
        vm,
    )?;
    // Outbound HTTP through the host (the role's grants): the bootstrap's
    // urllib handler.
    ns.set_item(
        "http_send",
        vm.new_function("http_send", |meta: PyStrRef, body: PyBytesRef| -> i32 {
            http_send(&meta.to_string_lossy(), body.as_bytes())
        })
        .into(),
        vm,
    )?;
    ns.set_item(
        "http_head",
        vm.new_function("http_head", |handle: i32| -> Option<String> {
            http_head(handle)
        })
        .into(),
        vm,
    )?;
    ns.set_item(
        "http_read",
        vm.new_function(
            "http_read",
            |handle: i32, vm: &VirtualMachine| -> Option<PyBytesRef> {
                let mut buf = vec![0u8; 256 * 1024];
                let n = http_read(handle, &mut buf);
                let n = usize::try_from(n).ok()?;
                buf.truncate(n);
                Some(vm.ctx.new_bytes(buf))
            },
        )
        .into(),
        vm,
    )?;
    ns.set_item(
        "http_close",
        vm.new_function("http_close", |handle: i32| http_close(handle))
            .into(),
        vm,
    )?;
    ns.set_item(
        "http_error",
        vm.new_function("http_error", || -> String { http_error() })
            .into(),
        vm,
    )?;
    Ok(ns.into())
}

/// Starts the interpreter and runs the bootstrap.
fn prepare() -> Result<Runtime, String> {
    let mut settings = Settings::default();
    settings.import_site = false;
    settings.write_bytecode = false;
    settings.install_signal_handlers = false;
    settings.ignore_environment = true;
    settings.buffered_stdio = false;
    settings.safe_path = true;
    settings.argv = vec![String::new()];
    let interpreter = Interpreter::builder(settings).init_stdlib().build();
    let scope = interpreter.enter(|vm| -> Result<Scope, String> {
        let scope = vm.new_scope_with_builtins();
        let set = |name: &str, value: PyObjectRef| {
            scope
                .globals
                .set_item(name, value, vm)
                .map_err(|e| exception_text(vm, &e))
        };
        set(
            "_native_functions",
            natives(vm).map_err(|e| exception_text(vm, &e))?,
        )?;
        set("__file__", vm.ctx.new_str(BOOTSTRAP_PATH).into())?;
        set("__name__", vm.ctx.new_str("bootstrap").into())?;
        vm.run_string(scope.clone(), BOOTSTRAP, BOOTSTRAP_PATH.to_owned())
            .map_err(|e| exception_text(vm, &e))?;
        Ok(scope)
    })?;
    Ok(Runtime { interpreter, scope })
}

/// Calls the bootstrap's `name` with string arguments.
fn call(rt: &Runtime, name: &str, args: Vec<String>) -> Result<PyObjectRef, String> {
    rt.interpreter.enter(|vm| {
        let f = rt
            .scope
            .globals
            .get_item(name, vm)
            .map_err(|e| exception_text(vm, &e))?;
        let args: Vec<PyObjectRef> = args.into_iter().map(|a| vm.ctx.new_str(a).into()).collect();
        f.call(args, vm).map_err(|e| exception_text(vm, &e))
    })
}

/// Whether the interpreter was started (by `lambdesk_preinit`, before a snapshot).
static PREPARED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// After a restore: wasi-libc read its table of preopened folders and the
/// environment while the interpreter started (before the snapshot, with
/// none of the function's); it reads them again on next use.
fn forget_snapshot_state() {
    #[cfg(target_arch = "wasm32")]
    {
        unsafe extern "C" {
            fn __wasilibc_reset_preopens();
            fn __wasilibc_deinitialize_environ();
        }
        // SAFETY: wasi-libc's own hooks for a snapshotted module (Wizer's
        // case); nothing holds a preopen or an environ pointer across them.
        unsafe {
            __wasilibc_reset_preopens();
            __wasilibc_deinitialize_environ();
        }
    }
}

/// Starts the interpreter and imports the common modules (no function code,
/// no environment): the host runs this once per machine and snapshots the
/// result, so a cold start begins here.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_preinit() {
    call_ctors();
    if let Ok(rt) = prepare() {
        RUNTIME.with(|r| *r.borrow_mut() = Some(rt));
        PREPARED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `_initialize`: the runtime's constructors, then INIT.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    lambdesk_init();
}

/// INIT, under a name that survives a snapshot (wizer drops `_initialize`;
/// the host renames this one to it). A function that fails to load is
/// answered with Lambda's error object, marked, so the host fails INIT.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_init() {
    if PREPARED.load(std::sync::atomic::Ordering::Relaxed) {
        forget_snapshot_state();
    } else {
        call_ctors();
    }
    let result = RUNTIME.with(|r| {
        let mut slot = r.borrow_mut();
        if slot.is_none() {
            *slot = Some(prepare()?);
        }
        let rt = slot.as_ref().ok_or("the runtime did not initialise")?;
        let out = call(rt, "load", Vec::new())?;
        Ok::<_, String>(rt.interpreter.enter(|vm| {
            if vm.is_none(&out) {
                None
            } else {
                out.str(vm).ok().map(|s| s.to_string_lossy().into_owned())
            }
        }))
    });
    match result {
        Ok(None) => {}
        Ok(Some(error)) => respond(&error, true),
        Err(message) => respond(&runtime_error(&message), true),
    }
}

/// After a SnapStart restore (the host calls this instead of INIT): the
/// snapshot holds what INIT left, `random`'s state and the environment
/// among it; wasi-libc reads its preopens and environment again, the
/// bootstrap re-reads the environment and re-seeds `random`.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_restore() {
    forget_snapshot_state();
    let result = RUNTIME.with(|r| match r.borrow().as_ref() {
        Some(rt) => call(rt, "restore", Vec::new()).map(|_| ()),
        None => Err("the runtime did not initialise".to_owned()),
    });
    if let Err(message) = result {
        respond(&runtime_error(&message), true);
    }
}

/// One invocation: the bootstrap's `(ok, text)`.
fn invoke(rt: &Runtime) -> Result<(bool, String), String> {
    let mut event = String::new();
    std::io::stdin()
        .read_to_string(&mut event)
        .map_err(|e| format!("cannot read the event: {e}"))?;
    let too_deep = if json_depth(&event) > MAX_EVENT_DEPTH {
        format!("the event nests deeper than {MAX_EVENT_DEPTH} levels")
    } else {
        String::new()
    };
    let out = call(rt, "invoke", vec![event, context_json(), too_deep])?;
    rt.interpreter.enter(|vm| {
        let ok = out
            .get_item(&0, vm)
            .and_then(|v| v.try_to_bool(vm))
            .map_err(|e| exception_text(vm, &e))?;
        let text = out
            .get_item(&1, vm)
            .and_then(|v| v.str(vm))
            .map_err(|e| exception_text(vm, &e))?;
        Ok((ok, text.to_string_lossy().into_owned()))
    })
}

/// The handler the host calls for every invocation.
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    let result = RUNTIME.with(|r| match r.borrow().as_ref() {
        Some(rt) => invoke(rt),
        None => Err("the runtime did not initialise".to_owned()),
    });
    match result {
        Ok((ok, text)) => respond(&text, !ok),
        Err(message) => respond(&runtime_error(&message), true),
    }
}
