//! The trigger host: runs the triggers saved with functions (schedules, HTTP
//! routes, folders, queues, streams), the Lambda Invoke API and the durable
//! asynchronous queue, for both `lambdesk serve` and the desktop app.
//!
//! Triggers are applied per function and may change while everything runs:
//! [`TriggerHost::apply`] stops what was removed, disabled or changed and
//! starts what is new. Each trigger keeps a [`TriggerStatus`] (last and next
//! firing, counts, endpoint, error). As in Lambda, schedules and folders
//! (EventBridge and S3) invoke asynchronously, through the queue with its
//! retries and destinations; HTTP routes invoke synchronously; queues and
//! streams are polled by event source mappings. A disabled queue or stream
//! mapping keeps its messages until it is enabled again; with a state folder
//! they are stored and survive a restart, and go only when no trigger names
//! their queue or stream any more.

pub mod async_queue;
pub mod folder;
pub mod functions;
pub mod invoker;
pub mod load;
pub mod notify;
pub mod queue;
pub mod routes;
pub mod state_machines;
pub mod states;
pub mod stream;
pub mod tuning;
pub mod versions;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;

use crate::model::schedule::{Schedule, Timetable, scheduled_event};
use crate::model::{Trigger, TriggerSource};
use crate::runtime::{LogSink, Runtime};
use async_queue::{AsyncQueue, Clock};
use folder::FolderWatch;
pub use invoker::{Firing, Invoker, Observer, StopFlag, TriggerStatus};
use invoker::{SharedStatus, lock};
use queue::LocalQueue;
pub use routes::{Route, RouteTable};
use stream::LocalStream;

/// What the Lambda API serves besides the runtime's functions: the host's
/// log, asynchronous queue, and local queues and streams.
#[derive(Clone, Default)]
pub struct Services {
    /// Receives every log line.
    pub log: Option<LogSink>,
    /// Takes `Event` invocations.
    pub async_queue: Option<Arc<AsyncQueue>>,
    /// Local queues and streams messages and records can be sent to
    /// (`POST /lambdesk/queues/NAME`, `POST /lambdesk/streams/NAME`).
    pub endpoints: Option<Arc<Endpoints>>,
    /// Published versions and aliases.
    pub versions: Option<Arc<versions::Versions>>,
    /// Functions created, changed and deleted through the API.
    pub functions: Option<Arc<functions::Functions>>,
}

/// A listening HTTP face, kept alive by the host; dropping it stops it.
pub trait Listening: Send + Sync {
    /// Where it listens.
    fn addr(&self) -> SocketAddr;
}

/// Starts the host's HTTP faces. The faces live in [`crate::api`], above
/// the host, which hands an implementation to [`TriggerHost::start`].
pub trait Faces: Send + Sync {
    /// The Lambda API (and the local queue and stream endpoints) on `addr`.
    fn lambda_api(
        &self,
        addr: SocketAddr,
        runtime: Runtime,
        services: Services,
    ) -> anyhow::Result<Box<dyn Listening>>;
    /// The HTTP API serving `routes` on `addr`.
    fn http_api(&self, addr: SocketAddr, routes: RouteTable) -> anyhow::Result<Box<dyn Listening>>;
    /// The Step Functions API serving `machines` on `addr` (`TestState` runs on `env`).
    fn states_api(
        &self,
        addr: SocketAddr,
        machines: Arc<state_machines::StateMachines>,
        env: states::Env,
    ) -> anyhow::Result<Box<dyn Listening>>;
}

/// The local queues and streams messages and records can be sent to.
#[derive(Default)]
pub struct Endpoints {
    queues: RwLock<BTreeMap<String, Arc<LocalQueue>>>,
    streams: RwLock<BTreeMap<String, Arc<LocalStream>>>,
}

impl Endpoints {
    /// The queue called `name`.
    pub fn queue(&self, name: &str) -> Option<Arc<LocalQueue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The stream called `name`.
    pub fn stream(&self, name: &str) -> Option<Arc<LocalStream>> {
        self.streams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// Longest `stop_all` waits for trigger threads to end.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// SAM's port for the Lambda API.
pub const LAMBDA_PORT: u16 = 3001;
/// SAM's port for the HTTP API.
pub const HTTP_PORT: u16 = 3000;
/// The Step Functions API's port: Step Functions Local's.
pub const SFN_PORT: u16 = 8083;

/// Where and how the host listens.
#[derive(Clone)]
pub struct HostOptions {
    /// Address to listen on (loopback unless the user says otherwise).
    pub host: IpAddr,
    /// Port of the Lambda API (0: any free port).
    pub lambda_port: u16,
    /// Port of the HTTP API for routes (0: any free port).
    pub http_port: u16,
    /// Port of the Step Functions API (0: any free port; Step Functions Local's 8083 by default).
    pub sfn_port: u16,
    /// Take any free port when the asked one is in use (the app does; `serve` fails).
    pub port_fallback: bool,
    /// Folder of the durable asynchronous queue.
    pub queue_dir: PathBuf,
    /// Folder keeping local queues' messages and streams' records across
    /// restarts (`queues/NAME/`, `streams/NAME/`); `None` keeps them in memory.
    pub state_dir: Option<PathBuf>,
    /// Speed of the asynchronous queue's clock.
    pub time_scale: f64,
    /// Receives log lines of the Lambda API's invocations.
    pub log: Option<LogSink>,
    /// Hears of every invocation made by triggers and the queue.
    pub observer: Option<Observer>,
    /// Told when a trigger's status, a queue's or stream's contents, the
    /// asynchronous timeline, or the versions and aliases change.
    pub on_change: Option<invoker::Notify>,
    /// Folder of the published versions and aliases (beside the queue's, in
    /// the workspace).
    pub versions_dir: PathBuf,
    /// Folder of the code of functions created through the API.
    pub functions_dir: PathBuf,
    /// Folder of the state machines' executions (one file each).
    pub executions_dir: PathBuf,
    /// Told of every function created, changed or deleted through the API
    /// (the workspace's owner saves it).
    pub on_function_change: Option<functions::FunctionsSink>,
}

impl HostOptions {
    /// Loopback, SAM's ports (3001 for the Lambda API, 3000 for HTTP).
    pub fn new(queue_dir: PathBuf) -> Self {
        Self {
            versions_dir: queue_dir.with_file_name("versions"),
            functions_dir: queue_dir.with_file_name("functions"),
            executions_dir: queue_dir.with_file_name("executions"),
            on_function_change: None,
            host: IpAddr::from([127, 0, 0, 1]),
            lambda_port: LAMBDA_PORT,
            http_port: HTTP_PORT,
            sfn_port: SFN_PORT,
            port_fallback: false,
            queue_dir,
            state_dir: None,
            time_scale: 1.0,
            log: None,
            observer: None,
            on_change: None,
        }
    }
}

struct Known {
    function: String,
    trigger: Trigger,
    status: SharedStatus,
    /// Set while its threads or route run.
    stop: Option<StopFlag>,
    /// Its threads (pollers, the schedule or folder loop), joined when stopped.
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Runs triggers, the Lambda API and the asynchronous queue.
pub struct TriggerHost {
    invoker: Invoker,
    options: HostOptions,
    async_queue: Arc<AsyncQueue>,
    faces: Arc<dyn Faces>,
    api: Box<dyn Listening>,
    http: Mutex<Option<Box<dyn Listening>>>,
    routes: RouteTable,
    endpoints: Arc<Endpoints>,
    /// Every trigger applied, in the order they came: the first to claim a
    /// queue, stream or route keeps it.
    known: Mutex<Vec<Known>>,
    /// Statuses by trigger id, for readers that must not wait while `apply`
    /// looks at a large folder (the app's frame).
    index: RwLock<BTreeMap<String, (SharedStatus, Trigger)>>,
    /// Threads of stopped triggers still finishing (an invocation in progress);
    /// finished ones are joined at each `apply`, the rest by `stop_all`.
    stopping: Mutex<Vec<std::thread::JoinHandle<()>>>,
    versions: Arc<versions::Versions>,
    version_problems: Vec<String>,
    state_machines: Arc<state_machines::StateMachines>,
    /// The Step Functions API, or why it could not listen (its port taken):
    /// the rest of the host runs without it.
    sfn: Result<Box<dyn Listening>, String>,
}

/// Binds with `start`, falling back to any free port when asked to.
fn bind<T>(
    addr: SocketAddr,
    fallback: bool,
    start: impl Fn(SocketAddr) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match start(addr) {
        Err(_) if fallback && addr.port() != 0 => start(SocketAddr::new(addr.ip(), 0)),
        other => other,
    }
}

impl TriggerHost {
    /// Opens the asynchronous queue and starts the Lambda API with `faces`.
    pub fn start(
        runtime: Runtime,
        options: HostOptions,
        faces: Arc<dyn Faces>,
    ) -> anyhow::Result<Self> {
        let (versions, version_problems) = versions::Versions::open(
            runtime.clone(),
            options.versions_dir.clone(),
            options.on_change.clone(),
        );
        let invoker = Invoker::new(runtime.clone())
            .with_observer(options.observer.clone())
            .with_notify(options.on_change.clone())
            .with_versions(versions.clone());
        let async_queue = AsyncQueue::start(
            invoker.for_source("async", None),
            options.queue_dir.clone(),
            Clock::new(options.time_scale),
        )?;
        if let Some(n) = &options.on_change {
            async_queue.set_notify(n.clone());
        }
        let endpoints = Arc::new(Endpoints::default());
        let services = Services {
            log: options.log.clone(),
            async_queue: Some(async_queue.clone()),
            endpoints: Some(endpoints.clone()),
            versions: Some(versions.clone()),
            functions: Some(Arc::new(functions::Functions::new(
                runtime.clone(),
                versions.clone(),
                options.functions_dir.clone(),
                options.on_function_change.clone(),
            ))),
        };
        let api = bind(
            SocketAddr::new(options.host, options.lambda_port),
            options.port_fallback,
            |addr| faces.lambda_api(addr, runtime.clone(), services.clone()),
        )?;
        // Task states invoke through an invoker of their own (source
        // `states`): aliases resolve, and the app's history shows them.
        let tasks = invoker.for_source("states", None);
        let sfn_env = states::Env {
            invoke: Arc::new(move |target, payload, cancel| {
                tasks.invoke_with(
                    target,
                    payload,
                    &crate::runtime::InvokeOptions {
                        cancel: Some(cancel.clone()),
                        ..Default::default()
                    },
                )
            }),
            clock: async_queue.clock().clone(),
        };
        let (state_machines, execution_problems) =
            state_machines::StateMachines::new(sfn_env.clone(), options.on_change.clone())
                .with_store(options.executions_dir.clone());
        for p in execution_problems {
            eprintln!("lambdesk: {p}");
        }
        let state_machines = Arc::new(state_machines);
        let sfn_addr = SocketAddr::new(options.host, options.sfn_port);
        let sfn = bind(sfn_addr, options.port_fallback, |addr| {
            faces.states_api(addr, state_machines.clone(), sfn_env.clone())
        })
        .map_err(|e| format!("the Step Functions API cannot listen on {sfn_addr}: {e:#}"));
        Ok(Self {
            invoker,
            options,
            async_queue,
            faces,
            api,
            http: Mutex::new(None),
            routes: Arc::default(),
            endpoints,
            known: Mutex::new(Vec::new()),
            index: RwLock::default(),
            stopping: Mutex::default(),
            versions,
            version_problems,
            state_machines,
            sfn,
        })
    }

    /// The state machines and their executions.
    pub fn state_machines(&self) -> &Arc<state_machines::StateMachines> {
        &self.state_machines
    }

    /// The Step Functions API's address, or why it is not listening.
    pub fn sfn_addr(&self) -> Result<SocketAddr, &str> {
        self.sfn.as_ref().map(|l| l.addr()).map_err(String::as_str)
    }

    /// The runtime it invokes.
    pub fn runtime(&self) -> &Runtime {
        &self.invoker.runtime
    }

    /// Published versions and aliases.
    pub fn versions(&self) -> &Arc<versions::Versions> {
        &self.versions
    }

    /// Versions that could not be loaded at start, and why.
    pub fn version_problems(&self) -> &[String] {
        &self.version_problems
    }

    /// The Lambda API's address.
    pub fn lambda_addr(&self) -> SocketAddr {
        self.api.addr()
    }

    /// The HTTP API's address, once a route needed it.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        lock(&self.http).as_ref().map(|h| h.addr())
    }

    /// The asynchronous queue.
    pub fn async_queue(&self) -> &Arc<AsyncQueue> {
        &self.async_queue
    }

    /// The queues and streams.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Makes `function`'s triggers these: stops the ones removed, disabled or
    /// changed, starts the new ones. Returns the problems, one per trigger
    /// that cannot run (also in its status).
    pub fn apply(&self, function: &str, triggers: &[Trigger]) -> Vec<String> {
        let mut known = lock(&self.known);
        // Queues and streams this function's triggers stop naming: deleted,
        // with their stored messages, unless another trigger still names them.
        // (Names are checked first: they become folder names.)
        let named = |source: &TriggerSource| match source {
            _ if source.validate().is_err() => None,
            TriggerSource::Queue { queue, .. } => Some(format!("queues/{queue}")),
            TriggerSource::Stream { stream, .. } => Some(format!("streams/{stream}")),
            _ => None,
        };
        let mut dropped: Vec<String> = known
            .iter()
            .filter(|k| k.function == function)
            .filter_map(|k| named(&k.trigger.source))
            .collect();
        dropped.retain(|n| {
            !triggers
                .iter()
                .any(|t| named(&t.source).as_ref() == Some(n))
        });
        // Stop and forget what is gone or changed; keep what is the same.
        let mut kept = Vec::new();
        // A trigger changed or toggled keeps its counts and last firing.
        let mut replaced: BTreeMap<String, SharedStatus> = BTreeMap::new();
        for k in known.drain(..) {
            let same = k.function != function
                || triggers
                    .iter()
                    .any(|t| t.id == k.trigger.id && *t == k.trigger);
            if same {
                kept.push(k);
            } else {
                replaced.insert(k.trigger.id.clone(), k.status.clone());
                self.stop_one(k);
            }
        }
        *known = kept;
        // Threads of earlier stops that have ended are joined now.
        lock(&self.stopping).retain(|t| !t.is_finished());
        for t in triggers {
            if known.iter().any(|k| k.trigger.id == t.id) {
                continue;
            }
            let status = replaced.remove(&t.id).unwrap_or_default();
            {
                let mut s = lock(&status);
                s.error = None;
                s.next.clear();
            }
            known.push(Known {
                function: function.to_owned(),
                trigger: t.clone(),
                status,
                stop: None,
                threads: Vec::new(),
            });
        }
        self.sync_endpoints(&known);
        if let Some(dir) = &self.options.state_dir {
            for name in dropped {
                let still = known
                    .iter()
                    .any(|k| named(&k.trigger.source).as_ref() == Some(&name));
                if !still {
                    let _ = std::fs::remove_dir_all(dir.join(&name));
                }
            }
        }
        let mut problems = Vec::new();
        for i in 0..known.len() {
            if known[i].function != function || !known[i].trigger.enabled || known[i].stop.is_some()
            {
                continue;
            }
            match self.start_one(&known, i) {
                Ok((stop, threads)) => {
                    known[i].stop = Some(stop);
                    known[i].threads = threads;
                    let mut s = lock(&known[i].status);
                    s.running = true;
                    s.error = None;
                }
                Err(e) => {
                    let text = format!("{} ({}): {e}", known[i].trigger.id, function);
                    let mut s = lock(&known[i].status);
                    s.running = false;
                    s.error = Some(e);
                    problems.push(text);
                }
            }
        }
        self.reindex(&known);
        problems
    }

    fn reindex(&self, known: &[Known]) {
        let index = known
            .iter()
            .map(|k| (k.trigger.id.clone(), (k.status.clone(), k.trigger.clone())))
            .collect();
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
    }

    /// Stops and forgets every trigger of `function`.
    pub fn remove_function(&self, function: &str) {
        self.apply(function, &[]);
    }

    /// Stops every trigger and joins its threads: they end within a quarter
    /// second, or when the invocation they are in returns (waited for up to
    /// [`STOP_WAIT`]; a longer one finishes on its own).
    pub fn stop_all(&self) {
        {
            let mut known = lock(&self.known);
            for k in known.drain(..) {
                self.stop_one(k);
            }
            self.sync_endpoints(&known);
            self.reindex(&known);
        }
        let threads = std::mem::take(&mut *lock(&self.stopping));
        let until = std::time::Instant::now() + STOP_WAIT;
        for t in threads {
            while !t.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }

    fn stop_one(&self, mut k: Known) {
        if let Some(stop) = &k.stop {
            stop.set();
        }
        lock(&self.stopping).append(&mut k.threads);
        if matches!(k.trigger.source, TriggerSource::Http { .. }) {
            let mut table = self.routes.write().unwrap_or_else(|e| e.into_inner());
            let routes: Vec<(Route, Invoker)> = table
                .iter()
                .filter(|(_, i)| i.source() != k.trigger.id)
                .cloned()
                .collect();
            *table = Arc::new(routes);
        }
        lock(&k.status).running = false;
    }

    /// Creates the queues and streams the triggers name (enabled or not, so
    /// messages can wait for a disabled mapping), replaces those whose
    /// settings changed (keeping their messages) and drops the rest.
    fn sync_endpoints(&self, known: &[Known]) {
        let mut queues = self
            .endpoints
            .queues
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut streams = self
            .endpoints
            .streams
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut new_queues = BTreeMap::new();
        let mut new_streams = BTreeMap::new();
        // A trigger with bad settings (a hand-edited workspace) makes no queue:
        // its name could not be trusted as a folder name.
        for k in known.iter().filter(|k| k.trigger.source.validate().is_ok()) {
            match &k.trigger.source {
                TriggerSource::Queue { queue, .. } if !new_queues.contains_key(queue) => {
                    let Ok(mut fresh) =
                        LocalQueue::new(&k.trigger.target(&k.function), &k.trigger.source)
                    else {
                        continue;
                    };
                    if let Some(dir) = &self.options.state_dir {
                        fresh = fresh.with_store(dir.join("queues").join(queue));
                    }
                    fresh = fresh.with_notify(self.options.on_change.clone());
                    let old = queues.remove(queue);
                    if old.is_none() {
                        fresh.load();
                    }
                    let q = keep_or_adopt(old, fresh, same_queue, LocalQueue::adopt);
                    new_queues.insert(queue.clone(), q);
                }
                TriggerSource::Stream { stream, .. } if !new_streams.contains_key(stream) => {
                    let Ok(mut fresh) =
                        LocalStream::new(&k.trigger.target(&k.function), &k.trigger.source)
                    else {
                        continue;
                    };
                    if let Some(dir) = &self.options.state_dir {
                        fresh = fresh.with_store(dir.join("streams").join(stream));
                    }
                    fresh = fresh.with_notify(self.options.on_change.clone());
                    let old = streams.remove(stream);
                    if old.is_none() {
                        fresh.load();
                    }
                    let s = keep_or_adopt(old, fresh, same_stream, LocalStream::adopt);
                    new_streams.insert(stream.clone(), s);
                }
                _ => {}
            }
        }
        *queues = new_queues;
        *streams = new_streams;
    }

    /// The first trigger (other than `i`) that claims the same queue,
    /// stream or route.
    fn claimed_by(known: &[Known], i: usize) -> Option<&Known> {
        let key = |t: &TriggerSource| match t {
            TriggerSource::Queue { queue, .. } => Some(format!("queue {queue}")),
            TriggerSource::Stream { stream, .. } => Some(format!("stream {stream}")),
            TriggerSource::Http { method, path, .. } => Some(format!(
                "route {} {}",
                method.to_ascii_uppercase(),
                path.trim_end_matches('/')
            )),
            _ => None,
        };
        let mine = key(&known[i].trigger.source)?;
        known[..i]
            .iter()
            .find(|k| key(&k.trigger.source).as_ref() == Some(&mine))
    }

    fn start_one(
        &self,
        known: &[Known],
        i: usize,
    ) -> Result<(StopFlag, Vec<std::thread::JoinHandle<()>>), String> {
        let k = &known[i];
        k.trigger.source.validate().map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        if let Some(other) = Self::claimed_by(known, i) {
            return Err(format!(
                "{} is already used by trigger {} of {}",
                k.trigger.source.summary(),
                other.trigger.id,
                other.function
            ));
        }
        let stop = StopFlag::new();
        let invoker = self
            .invoker
            .for_source(&k.trigger.id, Some(k.status.clone()));
        if let Some(q) = &k.trigger.qualifier {
            crate::model::versions::Qualifier::parse(Some(q))
                .map_err(|e| format!("qualifier `{q}`: {e}"))?;
        }
        // `name`, or `name:alias` / `name:N` when the trigger targets one.
        let function = k.trigger.target(&k.function);
        let status = k.status.clone();
        let spawn_error = |e: std::io::Error| format!("cannot start a thread: {e}");
        let mut threads = Vec::new();
        match &k.trigger.source {
            TriggerSource::Schedule { expression } => {
                let schedule = Schedule::parse(expression)?;
                let queue = self.async_queue.clone();
                let rule = format!("lambdesk-{function}-{}", k.trigger.id);
                let (stop2, id) = (stop.clone(), k.trigger.id.clone());
                lock(&status).next = schedule.next_firings(Utc::now(), 5);
                let thread = std::thread::Builder::new()
                    .name(format!("lambdesk-{id}"))
                    .spawn(move || {
                        run_schedule(&schedule, &rule, &function, &queue, &invoker, &stop2);
                    })
                    .map_err(spawn_error)?;
                threads.push(thread);
            }
            TriggerSource::Folder { dir, .. } => {
                // The first look at the folder happens here, so a file
                // written once `apply` returns is an event.
                let mut watch =
                    FolderWatch::new(&function, &k.trigger.source).map_err(|e| e.to_string())?;
                lock(&status).endpoint = Some(dir.display().to_string());
                let queue = self.async_queue.clone();
                let stop2 = stop.clone();
                let thread = std::thread::Builder::new()
                    .name(format!("lambdesk-{}", k.trigger.id))
                    .spawn(move || {
                        while !stop2.is_set() {
                            for event in watch.scan() {
                                let payload = event.to_string();
                                match queue.accept_from(
                                    &watch.function,
                                    payload.as_bytes(),
                                    invoker.source(),
                                ) {
                                    Ok(id) => invoker.note(true, format!("queued as {id}")),
                                    Err(e) => invoker.note(false, e.to_string()),
                                }
                            }
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    })
                    .map_err(spawn_error)?;
                threads.push(thread);
            }
            TriggerSource::Http { path, .. } => {
                let route = Route::new(&function, &k.trigger.source).map_err(|e| e.to_string())?;
                let addr = self.ensure_http()?;
                lock(&status).endpoint = Some(format!("http://{addr}{path}"));
                let mut table = self.routes.write().unwrap_or_else(|e| e.into_inner());
                let mut routes: Vec<(Route, Invoker)> = table.as_ref().clone();
                routes.push((route, invoker));
                *table = Arc::new(routes);
            }
            TriggerSource::Queue { queue, .. } => {
                let q = self
                    .endpoints
                    .queue(queue)
                    .ok_or_else(|| format!("queue `{queue}` was not created"))?;
                lock(&status).endpoint = Some(format!(
                    "http://{}/lambdesk/queues/{queue}",
                    self.lambda_addr()
                ));
                threads.push(queue::start_poller(q, invoker, stop.clone()).map_err(spawn_error)?);
            }
            TriggerSource::Stream { stream, .. } => {
                let s = self
                    .endpoints
                    .stream(stream)
                    .ok_or_else(|| format!("stream `{stream}` was not created"))?;
                lock(&status).endpoint = Some(format!(
                    "http://{}/lambdesk/streams/{stream}?partitionKey=KEY",
                    self.lambda_addr()
                ));
                threads = stream::start_pollers(&s, &invoker, &stop).map_err(spawn_error)?;
            }
        }
        Ok((stop, threads))
    }

    /// Starts the HTTP API if no route has yet.
    fn ensure_http(&self) -> Result<SocketAddr, String> {
        let mut http = lock(&self.http);
        if let Some(h) = http.as_ref() {
            return Ok(h.addr());
        }
        let addr = SocketAddr::new(self.options.host, self.options.http_port);
        let api = bind(addr, self.options.port_fallback, |addr| {
            self.faces.http_api(addr, self.routes.clone())
        })
        .map_err(|e| format!("the HTTP API cannot listen: {e}"))?;
        let addr = api.addr();
        *http = Some(api);
        Ok(addr)
    }

    /// A trigger's status, with the messages waiting counted now.
    pub fn status(&self, id: &str) -> Option<TriggerStatus> {
        let index = self.index.read().unwrap_or_else(|e| e.into_inner());
        let (status, trigger) = index.get(id)?;
        let mut s = lock(status).clone();
        s.waiting = match &trigger.source {
            TriggerSource::Queue { queue, .. } => self.endpoints.queue(queue).map(|q| q.len()),
            TriggerSource::Stream { stream, .. } => self.endpoints.stream(stream).map(|s| s.len()),
            _ => None,
        };
        if !trigger.enabled {
            s.next.clear();
        }
        Some(s)
    }

    /// Sends a message to a local queue; returns its id.
    pub fn send_message(&self, queue: &str, body: String) -> Result<String, String> {
        let q = self
            .endpoints
            .queue(queue)
            .ok_or_else(|| format!("no queue `{queue}`"))?;
        q.send(body)
    }

    /// Puts a record on a local stream; returns (shard id, sequence number).
    pub fn put_record(
        &self,
        stream: &str,
        partition_key: Option<&str>,
        data: Vec<u8>,
    ) -> Result<(String, String), String> {
        let s = self
            .endpoints
            .stream(stream)
            .ok_or_else(|| format!("no stream `{stream}`"))?;
        s.put(partition_key, data)
    }
}

impl Drop for TriggerHost {
    fn drop(&mut self) {
        // The listeners stop when they are dropped, after this.
        self.stop_all();
    }
}

/// The old queue or stream if its settings are the same; else the fresh one,
/// holding the old one's messages.
fn keep_or_adopt<T>(
    old: Option<Arc<T>>,
    fresh: T,
    same: fn(&T, &T) -> bool,
    adopt: fn(&Arc<T>, &T),
) -> Arc<T> {
    match old {
        Some(old) if same(&old, &fresh) => old,
        Some(old) => {
            let fresh = Arc::new(fresh);
            adopt(&fresh, &old);
            fresh
        }
        None => Arc::new(fresh),
    }
}

fn same_queue(a: &LocalQueue, b: &LocalQueue) -> bool {
    (
        &a.function,
        a.batch_size,
        a.window,
        a.visibility,
        a.max_receive,
    ) == (
        &b.function,
        b.batch_size,
        b.window,
        b.visibility,
        b.max_receive,
    )
}

fn same_stream(a: &LocalStream, b: &LocalStream) -> bool {
    (
        &a.function,
        a.kind,
        a.batch_size,
        a.max_retries,
        a.shard_count(),
    ) == (
        &b.function,
        b.kind,
        b.batch_size,
        b.max_retries,
        b.shard_count(),
    )
}

/// Fires a schedule into the asynchronous queue until stopped; missed
/// firings (while the machine slept) are not replayed, as in EventBridge.
fn run_schedule(
    schedule: &Schedule,
    rule: &str,
    function: &str,
    queue: &AsyncQueue,
    invoker: &Invoker,
    stop: &StopFlag,
) {
    let mut timetable = Timetable::new(
        vec![(rule.to_owned(), schedule.clone(), function.to_owned())],
        Utc::now(),
    );
    while !stop.is_set() {
        let Some(next) = timetable.next_due() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        std::thread::sleep(wait.min(Duration::from_millis(250)));
        let due = timetable.due(Utc::now());
        if due.is_empty() || stop.is_set() {
            continue;
        }
        for (rule, function, time) in due {
            let event = scheduled_event(&rule, time, &crate::runtime::logs::new_request_id());
            match queue.accept_from(&function, event.to_string().as_bytes(), invoker.source()) {
                Ok(id) => invoker.note(true, format!("queued as {id}")),
                Err(e) => invoker.note(false, e.to_string()),
            }
        }
        if let Some(status) = &invoker.status {
            lock(status).next = schedule.next_firings(Utc::now(), 5);
        }
    }
}
