//! Lambdesk's JavaScript runtime: a handler module (WASI reactor) that runs
//! Lambda's Node.js handler contract on the Boa engine. INIT (`_initialize`)
//! builds the realm, installs the globals (`prelude.js`) and loads the
//! function's module from `/var/task` by `_HANDLER`; each invocation
//! (`handler`) reads the event from stdin, calls the handler with Lambda's
//! `context` and callback, runs the event loop (promises, then timers,
//! sleeping until the next one is due) and writes the response to stdout,
//! or the error object Lambda's Node runtime reports.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use boa_engine::builtins::promise::PromiseState;
use boa_engine::context::time::JsInstant;
use boa_engine::job::{
    GenericJob, IntervalJob, Job, JobExecutor, NativeAsyncJob, PromiseJob, TimeoutJob,
};
use boa_engine::module::{Module, ModuleLoader, ModuleRequest, Referrer};
use boa_engine::object::builtins::JsArray;
use boa_engine::{
    Context, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, Source,
    js_string,
};
use lambdesk_runtime_guest::{
    MAX_EVENT_DEPTH, call_ctors, context_json, http_close, http_error, http_head, http_read,
    http_send, json_depth, remaining_ms, respond,
};

/// Bytes as a JavaScript string of code units 0–255 (how `fetch` moves
/// bodies across: the prelude turns them into a `Uint8Array` or text).
fn latin1(bytes: &[u8]) -> JsString {
    let units: Vec<u16> = bytes.iter().map(|&b| u16::from(b)).collect();
    JsString::from(units.as_slice())
}

/// A string of code units 0–255 as bytes.
fn bytes_of(s: &JsString) -> Vec<u8> {
    s.iter().map(|u| u as u8).collect()
}

const PRELUDE: &str = include_str!("prelude.js");
const TASK_ROOT: &str = "/var/task";

/// A `setTimeout` or `setInterval` job.
enum Timer {
    Once(TimeoutJob),
    Every(IntervalJob),
}

impl Timer {
    fn cancelled(&self) -> bool {
        match self {
            Self::Once(t) => t.cancelled(),
            Self::Every(i) => i.cancelled(),
        }
    }
}

/// The event loop: promise jobs first, then timers in the order they are
/// due, sleeping (a WASI clock wait, which the host's timeout ends) until
/// the next one instead of spinning.
#[derive(Default)]
struct EventLoop {
    promise_jobs: RefCell<VecDeque<PromiseJob>>,
    generic_jobs: RefCell<VecDeque<GenericJob>>,
    async_jobs: RefCell<VecDeque<NativeAsyncJob>>,
    timers: RefCell<BTreeMap<(JsInstant, u64), Timer>>,
    sequence: RefCell<u64>,
}

impl JobExecutor for EventLoop {
    fn enqueue_job(self: Rc<Self>, job: Job, context: &mut Context) {
        match job {
            Job::PromiseJob(p) => self.promise_jobs.borrow_mut().push_back(p),
            Job::GenericJob(g) => self.generic_jobs.borrow_mut().push_back(g),
            Job::AsyncJob(a) => self.async_jobs.borrow_mut().push_back(a),
            Job::TimeoutJob(t) => {
                let due = context.clock().now() + t.timeout();
                self.add_timer(due, Timer::Once(t));
            }
            Job::IntervalJob(i) => {
                let due = context.clock().now() + i.interval();
                self.add_timer(due, Timer::Every(i));
            }
            // Finalization callbacks never run.
            _ => {}
        }
    }

    fn run_jobs(self: Rc<Self>, context: &mut Context) -> JsResult<()> {
        while self.run_ready(context)? || self.run_next_timer(context)? {}
        Ok(())
    }
}

impl EventLoop {
    fn add_timer(&self, due: JsInstant, timer: Timer) {
        let mut seq = self.sequence.borrow_mut();
        *seq += 1;
        self.timers.borrow_mut().insert((due, *seq), timer);
    }

    /// Runs every job that is ready (not timers); whether any ran.
    fn run_ready(&self, context: &mut Context) -> JsResult<bool> {
        let mut ran = false;
        loop {
            let job = self.promise_jobs.borrow_mut().pop_front();
            if let Some(job) = job {
                ran = true;
                job.call(context)?;
                continue;
            }
            let job = self.generic_jobs.borrow_mut().pop_front();
            if let Some(job) = job {
                ran = true;
                job.call(context)?;
                continue;
            }
            let job = self.async_jobs.borrow_mut().pop_front();
            if let Some(job) = job {
                ran = true;
                let cell = RefCell::new(&mut *context);
                futures_lite::future::block_on(job.call(&cell))?;
                continue;
            }
            return Ok(ran);
        }
    }

    /// Waits for the next timer and runs it; whether there was one.
    fn run_next_timer(&self, context: &mut Context) -> JsResult<bool> {
        let next = {
            let mut timers = self.timers.borrow_mut();
            timers.retain(|_, t| !t.cancelled());
            timers.pop_first()
        };
        let Some(((due, _), job)) = next else {
            return Ok(false);
        };
        let now = context.clock().now();
        if due > now {
            std::thread::sleep(Duration::from_millis((due - now).as_millis()));
        }
        match job {
            Timer::Once(t) => {
                t.call(context)?;
            }
            Timer::Every(i) => {
                i.call(context)?;
                let due = context.clock().now() + i.interval();
                self.add_timer(due, Timer::Every(i));
            }
        }
        Ok(true)
    }

    fn has_timers(&self) -> bool {
        self.timers.borrow().values().any(|t| !t.cancelled())
    }
}

/// Loads ES modules from `/var/task`: `import` of a relative or absolute
/// path (`./util.mjs`), each file once. (Boa's own loader canonicalises
/// paths, which WASI cannot.)
#[derive(Default)]
struct TaskLoader {
    modules: RefCell<BTreeMap<String, Module>>,
}

/// `path` with `.` and `..` worked out (lexically).
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    format!("/{}", out.join("/"))
}

impl TaskLoader {
    fn resolve(specifier: &str, referrer: Option<&Path>) -> JsResult<String> {
        let base = referrer.and_then(|p| p.parent()).map_or_else(
            || TASK_ROOT.to_owned(),
            |p| p.to_string_lossy().into_owned(),
        );
        let path = if specifier.starts_with('/') {
            normalize(specifier)
        } else if specifier.starts_with("./") || specifier.starts_with("../") {
            normalize(&format!("{base}/{specifier}"))
        } else {
            return Err(JsNativeError::typ()
                .with_message(format!(
                    "Cannot find package '{specifier}' imported from {base}: Lambdesk's JavaScript runtime imports the function's own files (./file.mjs), not packages"
                ))
                .into());
        };
        for candidate in [path.clone(), format!("{path}.mjs"), format!("{path}.js")] {
            if Path::new(&candidate).is_file() {
                return Ok(candidate);
            }
        }
        Err(JsNativeError::typ()
            .with_message(format!("Cannot find module '{path}' imported from {base}"))
            .into())
    }

    fn load(&self, path: &str, context: &mut Context) -> JsResult<Module> {
        if let Some(m) = self.modules.borrow().get(path) {
            return Ok(m.clone());
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| native_error(format!("cannot read {path}: {e}")))?;
        let module = if path.ends_with(".json") {
            Module::parse_json(JsString::from(text), context)?
        } else {
            let source = Source::from_bytes(text.as_bytes()).with_path(Path::new(path));
            Module::parse(source, None, context).map_err(|e| in_file(e, path, context))?
        };
        self.modules
            .borrow_mut()
            .insert(path.to_owned(), module.clone());
        Ok(module)
    }
}

impl ModuleLoader for TaskLoader {
    async fn load_imported_module(
        self: Rc<Self>,
        referrer: Referrer,
        request: ModuleRequest,
        context: &RefCell<&mut Context>,
    ) -> JsResult<Module> {
        let specifier = request.specifier().to_std_string_escaped();
        let path = Self::resolve(&specifier, referrer.path())?;
        self.load(&path, &mut context.borrow_mut())
    }
}

/// The runtime's state, kept across invocations (warm starts).
struct Runtime {
    context: Context,
    event_loop: Rc<EventLoop>,
    #[allow(dead_code)]
    loader: Rc<TaskLoader>,
    api: JsObject,
    handler: JsValue,
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = const { RefCell::new(None) };
    static LOADER: RefCell<Option<Rc<TaskLoader>>> = const { RefCell::new(None) };
}

fn native_error(message: impl Into<String>) -> JsError {
    JsNativeError::typ().with_message(message.into()).into()
}

/// A parse error as thrown, with the file it is in as its `fileName` (as
/// SpiderMonkey's errors carry it): Boa's message says the line and column,
/// not the file, and a syntax error in a required file must point there.
fn in_file(e: JsError, file: &str, context: &mut Context) -> JsError {
    let value = opaque(e, context);
    if let Some(object) = value.as_object() {
        let _ = object.set(js_string!("fileName"), JsString::from(file), false, context);
    }
    JsError::from_opaque(value)
}

/// The thrown value of an error (a native error becomes its Error object).
fn opaque(e: JsError, context: &mut Context) -> JsValue {
    let text = e.to_string();
    e.into_opaque(context)
        .unwrap_or_else(|_| JsValue::from(JsString::from(text)))
}

fn arg_string(args: &[JsValue], i: usize, context: &mut Context) -> JsResult<String> {
    Ok(args
        .get(i)
        .cloned()
        .unwrap_or_default()
        .to_string(context)?
        .to_std_string_escaped())
}

/// Writes `text` to stdout as this invocation's error object, reported
/// `Unhandled` (as Lambda reports errors from its Node.js runtime).
fn respond_error(text: &str) {
    respond(text, true);
}

/// Bytes from WASI's `random_get`.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let _ = getrandom::fill(&mut buf);
    buf
}

thread_local! {
    /// When INIT began (set at `_initialize`, never in a snapshot).
    static START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

fn started() -> Instant {
    START.with(|s| match s.get() {
        Some(t) => t,
        None => {
            let now = Instant::now();
            s.set(Some(now));
            now
        }
    })
}

/// The functions `prelude.js` gets as `native`.
fn natives(context: &mut Context) -> JsResult<JsObject> {
    let obj = JsObject::with_object_proto(context.intrinsics());
    let add = |name: &str, f: NativeFunction, context: &mut Context| -> JsResult<()> {
        let func = boa_engine::object::FunctionObjectBuilder::new(context.realm(), f)
            .name(JsString::from(name))
            .build();
        obj.set(JsString::from(name), func, false, context)?;
        Ok(())
    };
    add(
        "stderr",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let text = arg_string(args, 0, context)?;
            let mut err = std::io::stderr();
            let _ = err.write_all(text.as_bytes());
            Ok(JsValue::undefined())
        }),
        context,
    )?;
    add(
        "isFile",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let path = arg_string(args, 0, context)?;
            Ok(JsValue::from(Path::new(&path).is_file()))
        }),
        context,
    )?;
    add(
        "readFile",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let path = arg_string(args, 0, context)?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| native_error(format!("cannot read {path}: {e}")))?;
            Ok(JsValue::from(JsString::from(text)))
        }),
        context,
    )?;
    add(
        "compileCommonJs",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let text = arg_string(args, 0, context)?;
            let file = arg_string(args, 1, context)?;
            // A first line `#!…` is not JavaScript; the wrapper stays on the
            // first line so line numbers are the file's.
            let body = match text.strip_prefix("#!") {
                Some(rest) => format!("//{rest}"),
                None => text,
            };
            let wrapped = format!(
                "(function (exports, require, module, __filename, __dirname) {{ {body}\n}})"
            );
            context
                .eval(Source::from_bytes(wrapped.as_bytes()).with_path(Path::new(&file)))
                .map_err(|e| in_file(e, &file, context))
        }),
        context,
    )?;
    add(
        "loadEsm",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let file = arg_string(args, 0, context)?;
            load_esm(&file, context).map(JsValue::from)
        }),
        context,
    )?;
    add(
        "httpSend",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let meta = arg_string(args, 0, context)?;
            let body = match args.get(1) {
                Some(v) if !v.is_undefined() && !v.is_null() => bytes_of(&v.to_string(context)?),
                _ => Vec::new(),
            };
            Ok(JsValue::from(http_send(&meta, &body)))
        }),
        context,
    )?;
    add(
        "httpHead",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let handle = args.first().cloned().unwrap_or_default().to_i32(context)?;
            Ok(http_head(handle).map_or(JsValue::null(), |h| JsValue::from(JsString::from(h))))
        }),
        context,
    )?;
    add(
        "httpRead",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let handle = args.first().cloned().unwrap_or_default().to_i32(context)?;
            let mut buf = vec![0u8; 256 * 1024];
            let n = http_read(handle, &mut buf);
            if n < 0 {
                return Ok(JsValue::null());
            }
            buf.truncate(n as usize);
            Ok(JsValue::from(latin1(&buf)))
        }),
        context,
    )?;
    add(
        "httpClose",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let handle = args.first().cloned().unwrap_or_default().to_i32(context)?;
            http_close(handle);
            Ok(JsValue::undefined())
        }),
        context,
    )?;
    add(
        "httpError",
        NativeFunction::from_fn_ptr(|_, _, _| Ok(JsValue::from(JsString::from(http_error())))),
        context,
    )?;
    add(
        "remainingMs",
        NativeFunction::from_fn_ptr(|_, _, _| Ok(JsValue::from(remaining_ms() as f64))),
        context,
    )?;
    add(
        "randomUUID",
        NativeFunction::from_fn_ptr(|_, _, _| {
            let mut b = random_bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            let id = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            Ok(JsValue::from(JsString::from(id)))
        }),
        context,
    )?;
    add(
        "randomBytes",
        NativeFunction::from_fn_ptr(|_, args, context| {
            let n = args
                .first()
                .cloned()
                .unwrap_or_default()
                .to_length(context)?
                .min(65_536) as usize;
            let bytes = random_bytes(n);
            let arr = JsArray::from_iter(bytes.into_iter().map(JsValue::from), context);
            Ok(arr.into())
        }),
        context,
    )?;
    add(
        "uptime",
        NativeFunction::from_fn_ptr(|_, _, _| Ok(JsValue::from(started().elapsed().as_secs_f64()))),
        context,
    )?;
    add(
        "monotonicNs",
        NativeFunction::from_fn_ptr(|_, _, _| {
            Ok(JsValue::from(started().elapsed().as_nanos() as f64))
        }),
        context,
    )?;
    add(
        "memoryBytes",
        NativeFunction::from_fn_ptr(|_, _, _| {
            #[cfg(target_arch = "wasm32")]
            let bytes = core::arch::wasm32::memory_size(0) * 65_536;
            #[cfg(not(target_arch = "wasm32"))]
            let bytes = 0usize;
            Ok(JsValue::from(bytes as f64))
        }),
        context,
    )?;
    Ok(obj)
}

/// Loads an ES module (and what it imports, from `/var/task`), evaluates
/// it and returns its namespace.
fn load_esm(file: &str, context: &mut Context) -> JsResult<JsObject> {
    let loader = LOADER
        .with(|l| l.borrow().clone())
        .ok_or_else(|| native_error("no module loader"))?;
    let module = loader.load(&normalize(file), context)?;
    let promise = module.load_link_evaluate(context);
    context.run_jobs()?;
    match promise.state() {
        PromiseState::Fulfilled(_) => Ok(module.namespace(context)),
        PromiseState::Rejected(e) => Err(JsError::from_opaque(e)),
        PromiseState::Pending => Err(native_error(format!(
            "the module {file} did not finish evaluating (a top-level await that never settles)"
        ))),
    }
}

fn call(api: &JsObject, name: &str, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let f = api.get(JsString::from(name), context)?;
    let f = f
        .as_callable()
        .ok_or_else(|| native_error(format!("runtime function {name} is missing")))?;
    f.call(&JsValue::undefined(), args, context)
}

/// The realm and the globals: everything that does not depend on the
/// function (its code, its environment), so the host can snapshot it once.
fn prepare() -> Result<Runtime, String> {
    let event_loop = Rc::new(EventLoop::default());
    let loader = Rc::new(TaskLoader::default());
    LOADER.with(|l| *l.borrow_mut() = Some(loader.clone()));
    let mut context = Context::builder()
        .job_executor(event_loop.clone())
        .module_loader(loader.clone())
        .build()
        .map_err(|e| format!("cannot create the JavaScript realm: {e}"))?;
    {
        use boa_runtime::extensions::{
            Base64Extension, EncodingExtension, MicrotaskExtension, StructuredCloneExtension,
            TimeoutExtension, UrlExtension,
        };
        boa_runtime::register_extensions(
            (
                Base64Extension,
                TimeoutExtension,
                EncodingExtension,
                MicrotaskExtension,
                StructuredCloneExtension,
                UrlExtension,
            ),
            None,
            &mut context,
        )
    }
    .map_err(|e| format!("cannot install the web APIs: {e}"))?;
    let native = natives(&mut context).map_err(|e| e.to_string())?;
    let script = boa_engine::Script::parse(
        Source::from_bytes(PRELUDE.as_bytes()).with_path(Path::new("/var/runtime/index.mjs")),
        None,
        &mut context,
    )
    .map_err(|e| format!("the runtime's prelude failed: {e}"))?;
    let factory = script
        .evaluate(&mut context)
        .map_err(|e| format!("the runtime's prelude failed: {e}"))?;
    let api = factory
        .as_callable()
        .ok_or("the runtime's prelude is not a function")?
        .call(&JsValue::undefined(), &[native.into()], &mut context)
        .map_err(|e| format!("the runtime's prelude failed: {e}"))?
        .as_object()
        .ok_or("the runtime's prelude returned no API")?
        .clone();
    Ok(Runtime {
        context,
        event_loop,
        loader,
        api,
        handler: JsValue::undefined(),
    })
}

/// INIT proper: the function's environment, then its module by `_HANDLER`.
fn load(rt: &mut Runtime) -> Result<(), String> {
    let Runtime {
        context,
        api,
        handler,
        ..
    } = rt;
    let env: serde_json::Map<String, serde_json::Value> = std::env::vars()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let env = JsString::from(serde_json::Value::Object(env).to_string());
    call(api, "setEnv", &[env.into()], context).map_err(|e| e.to_string())?;
    let setting = std::env::var("_HANDLER").unwrap_or_default();
    match call(api, "load", &[JsString::from(setting).into()], context).and_then(|h| {
        context.run_jobs()?;
        Ok(h)
    }) {
        Ok(h) => {
            *handler = h;
            Ok(())
        }
        Err(e) => {
            let message = e.to_string();
            let value = opaque(e, context);
            let text = call(api, "initError", &[value], context)
                .ok()
                .and_then(|v| v.as_string().map(|s| s.to_std_string_escaped()))
                .unwrap_or_else(|| {
                    serde_json::json!({"errorType": "Runtime.Unknown", "errorMessage": message, "trace": []})
                        .to_string()
                });
            Err(text)
        }
    }
}

/// Whether the realm was prepared (by `lambdesk_preinit`, before a snapshot).
static PREPARED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prepares the realm and the globals (no function code, no environment,
/// no clock or randomness kept): the host runs this once per machine and
/// snapshots the result, so a cold start begins here instead of parsing
/// the runtime again.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_preinit() {
    call_ctors();
    if let Ok(rt) = prepare() {
        RUNTIME.with(|r| *r.borrow_mut() = Some(rt));
        PREPARED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `_initialize`: the runtime's constructors, then INIT. A failure to load
/// the function's code is written as Lambda's error object and marked, so
/// the host fails INIT with it.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    lambdesk_init();
}

/// INIT, under a name that survives a snapshot: wizer drops `_initialize`
/// from the module it writes, and the host renames this one to it.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_init() {
    if !PREPARED.load(std::sync::atomic::Ordering::Relaxed) {
        call_ctors();
    }
    START.with(|s| s.set(Some(Instant::now())));
    let result = RUNTIME.with(|r| {
        let mut slot = r.borrow_mut();
        if slot.is_none() {
            *slot = Some(prepare()?);
        }
        match slot.as_mut() {
            Some(rt) => load(rt),
            None => Err("the runtime did not initialise".to_owned()),
        }
    });
    match result {
        Ok(()) => {}
        Err(text) if text.starts_with('{') => respond_error(&text),
        Err(message) => respond_error(
            &serde_json::json!({"errorType": "Runtime.Unknown", "errorMessage": message, "trace": []})
                .to_string(),
        ),
    }
}

/// After a SnapStart restore (the host calls this instead of INIT): the
/// snapshot holds `Math.random`'s generator as INIT left it, and every
/// environment restored from it would draw the same numbers; it is seeded
/// afresh, and the start time (`process.uptime()`) restarts.
#[unsafe(no_mangle)]
pub extern "C" fn lambdesk_restore() {
    let _ = rand::rng().reseed();
    START.with(|s| s.set(Some(Instant::now())));
}

/// One invocation.
fn invoke(rt: &mut Runtime) -> Result<String, String> {
    let mut event = String::new();
    std::io::stdin()
        .read_to_string(&mut event)
        .map_err(|e| format!("cannot read the event: {e}"))?;
    if event.trim().is_empty() {
        event = "{}".to_owned();
    }
    let Runtime {
        context,
        event_loop,
        api,
        handler,
        ..
    } = rt;
    // Parsed here (serde_json), not by Boa's JSON.parse, which costs tens of
    // µs even for a small object.
    let parse = |text: &str, what: &str, context: &mut Context| -> Result<JsValue, String> {
        if json_depth(text) > MAX_EVENT_DEPTH {
            return Err(serde_json::json!({
                "errorType": "Runtime.UnmarshalError",
                "errorMessage": format!("Unable to unmarshal input: the {what} nests deeper than {MAX_EVENT_DEPTH} levels"),
                "trace": [],
            })
            .to_string());
        }
        use serde::Deserialize;
        let mut de = serde_json::Deserializer::from_str(text);
        de.disable_recursion_limit();
        let v = serde_json::Value::deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| format!("the {what} is not JSON: {e}"))?;
        JsValue::from_json(&v, context).map_err(|e| e.to_string())
    };
    let args = [
        handler.clone(),
        parse(&event, "event", context)?,
        parse(&context_json(), "context", context)?,
    ];
    let state = call(api, "invoke", &args, context).map_err(|e| e.to_string())?;
    loop {
        let ran = event_loop.run_ready(context);
        if let Err(e) = ran {
            // An exception in a callback or timer the handler did not catch
            // fails the invocation, as an uncaught exception in Node.
            let value = opaque(e, context);
            let obj = state.as_object().ok_or("no invocation state")?;
            let err = JsObject::with_object_proto(context.intrinsics());
            let _ = err.set(js_string!("value"), value, false, context);
            let _ = obj.set(js_string!("error"), err, false, context);
            let _ = obj.set(js_string!("settled"), true, false, context);
            break;
        }
        let status = call(api, "status", std::slice::from_ref(&state), context)
            .map_err(|e| e.to_string())?
            .to_i32(context)
            .unwrap_or(0);
        if status == 1 {
            break;
        }
        if !event_loop.has_timers() {
            // Nothing left to wait for: a handler that never answered
            // answers null, as Node's runtime does when the loop empties.
            break;
        }
        if let Err(e) = event_loop.run_next_timer(context) {
            let value = opaque(e, context);
            let obj = state.as_object().ok_or("no invocation state")?;
            let err = JsObject::with_object_proto(context.intrinsics());
            let _ = err.set(js_string!("value"), value, false, context);
            let _ = obj.set(js_string!("error"), err, false, context);
            let _ = obj.set(js_string!("settled"), true, false, context);
            break;
        }
    }
    let out =
        call(api, "outcome", std::slice::from_ref(&state), context).map_err(|e| e.to_string())?;
    let out = out.as_object().ok_or("no outcome")?;
    let ok = out.get(0, context).map_err(|e| e.to_string())?.to_boolean();
    let text = out
        .get(1, context)
        .map_err(|e| e.to_string())?
        .to_string(context)
        .map_err(|e| e.to_string())?
        .to_std_string_escaped();
    context.clear_kept_objects();
    if ok { Ok(text) } else { Err(text) }
}

/// The handler the host calls for every invocation.
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    let result = RUNTIME.with(|r| match r.borrow_mut().as_mut() {
        Some(rt) => invoke(rt),
        None => Err(serde_json::json!({"errorType": "Runtime.Unknown", "errorMessage": "the runtime did not initialise", "trace": []}).to_string()),
    });
    match result {
        Ok(text) => {
            let mut out = std::io::stdout();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Err(text) if text.starts_with('{') => respond_error(&text),
        Err(message) => respond_error(
            &serde_json::json!({"errorType": "Runtime.Unknown", "errorMessage": message, "trace": []})
                .to_string(),
        ),
    }
}
