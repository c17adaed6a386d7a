//! The app's state and the one place that changes it. Views read the state and
//! return [`Command`]s; [`Controller::handle`] applies them after the frame.
//! Slow work (deploys, invocations, saving, file dialogs) runs on named
//! background threads and reports back through a bounded channel, so the UI
//! thread never waits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Local};
use poll_promise::Promise;

use super::log_store::LogStore;
use crate::host::async_queue::AsyncRecord;
use crate::host::{HostOptions, TriggerHost};
use crate::model::workspace::{WORKSPACE_FILE, sanitize_name};
use crate::model::{FunctionConfig, FunctionEntry, TestEvent, Trigger, TriggerSource, Workspace};
use crate::runtime::{
    CancelToken, DeployInfo, Invocation, InvokeError, InvokeOptions, LogKind, LogLine, Runtime,
    RuntimeOptions,
};
use crate::store::WorkspaceError;

/// Wakes the UI (egui's `request_repaint`); the runtime side knows nothing of egui.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Most invocation records kept for the history, chart and timelines.
pub const MAX_RECORDS: usize = 10_000;

/// A request from the UI.
#[must_use = "a command does nothing until it is handled"]
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Select a function.
    Select(String),
    /// Open the native dialog to add functions.
    AddFunctionDialog,
    /// Add functions from files (dialog result or dropped files).
    AddFunctions(Vec<PathBuf>),
    /// Remove a function.
    Remove(String),
    /// Duplicate a function.
    Duplicate(String),
    /// Apply edited settings (redeploys; the next start is cold).
    ApplyConfig(String, FunctionConfig),
    /// Invoke with the selected event, `times` in a row, `parallel` at once.
    Invoke {
        /// Function name.
        function: String,
        /// Sequential invocations.
        times: usize,
        /// Invocations at once.
        parallel: usize,
    },
    /// Cancel the function's running invocations.
    Cancel(String),
    /// Drop the function's environments.
    ForceCold(String),
    /// Select a test event.
    SelectEvent(String, usize),
    /// Replace the body of the selected event.
    EditEvent(String, usize, String),
    /// Add an event (name, body).
    NewEvent(String, String, String),
    /// Rename an event.
    RenameEvent(String, usize, String),
    /// Duplicate an event.
    DuplicateEvent(String, usize),
    /// Delete an event.
    DeleteEvent(String, usize),
    /// Import events from a file (dialog).
    ImportEventDialog(String),
    /// Export the selected event to a file (dialog).
    ExportEventDialog(String, usize),
    /// Pick another workspace folder (dialog).
    OpenWorkspaceDialog,
    /// Dismiss the message at this index.
    DismissNotice(usize),
    /// Pick the host folder of mount `index` of a function's settings form (dialog).
    PickMountFolder(String, usize),
    /// The settings form took the picked folder.
    TakePickedMount,
    /// Add a trigger to a function.
    AddTrigger(String, TriggerSource),
    /// New settings for a function's trigger (same id); enabled stays as it is.
    UpdateTrigger(String, Trigger),
    /// Remove a function's trigger by id.
    RemoveTrigger(String, String),
    /// Enable or disable a function's trigger.
    SetTriggerEnabled(String, String, bool),
    /// Send a message to a local queue (queue, body).
    SendMessage(String, String),
    /// Put a record on a local stream.
    PutRecord {
        /// Stream name.
        stream: String,
        /// Partition key (Kinesis).
        key: String,
        /// The data (DynamoDB: the change as JSON).
        data: String,
    },
    /// Queue the selected test event for asynchronous invocation (`Event`).
    InvokeAsync(String),
    /// Speed of the asynchronous queue's clock (1: real time; 60: a minute a second).
    SetClockSpeed(f64),
    /// Pick the folder for a folder trigger being added (dialog).
    PickTriggerFolder(String),
    /// The trigger form took the picked folder.
    TakePickedTriggerFolder,
}

/// How a function's code is doing.
#[derive(Clone, Debug)]
pub enum DeployState {
    /// Being compiled or loaded.
    Deploying,
    /// Ready to invoke.
    Ready(DeployInfo),
    /// The code or settings are broken.
    Failed(String),
}

/// Live facts about one function that are not saved.
#[derive(Clone, Debug)]
pub struct FunctionStatus {
    /// Deploy state.
    pub deploy: DeployState,
    /// Modification time of the code file when last deployed.
    pub code_mtime: Option<SystemTime>,
}

/// One finished invocation as the app shows it.
#[derive(Clone, Debug)]
pub struct Record {
    /// Sequence number in this session.
    pub id: u64,
    /// Function name.
    pub function: String,
    /// When it was started.
    pub at: DateTime<Local>,
    /// Wall time seen by the app.
    pub wall: Duration,
    /// The result.
    pub result: Result<Invocation, InvokeError>,
    /// What invoked it: `None` for the console, else a trigger id or `async`.
    pub source: Option<String>,
}

/// An invocation batch still running.
#[derive(Clone, Debug)]
pub struct Running {
    /// Function name.
    pub function: String,
    /// When it started.
    pub started: Instant,
    /// Invocations left in this batch, counting the one running.
    pub remaining: usize,
    /// Cancels it.
    pub cancel: CancelToken,
    /// Batch id.
    pub batch: u64,
}

/// A message for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Error or information.
    pub is_error: bool,
    /// The text.
    pub text: String,
}

enum Msg {
    Deployed {
        name: String,
        result: Result<DeployInfo, String>,
        mtime: Option<SystemTime>,
    },
    Invoked {
        batch: u64,
        record: Box<Record>,
    },
    BatchDone(u64),
    SaveFailed(String),
    /// A trigger or the asynchronous queue invoked a function.
    Fired(Box<Record>),
    /// The trigger host of the workspace in `dir` started (or could not).
    HostStarted {
        dir: PathBuf,
        result: Result<Arc<TriggerHost>, String>,
    },
    Notice(Notice),
}

/// Jobs for the thread that starts and stops triggers (a large folder's
/// first look must not hold up a frame).
type TriggerJob = (Arc<TriggerHost>, String, Vec<Trigger>);

type DialogResult = Option<Vec<PathBuf>>;

/// The app's state.
pub struct Controller {
    /// The runtime.
    pub runtime: Runtime,
    /// Functions, settings and events (saved).
    pub workspace: Workspace,
    /// Folder of the workspace file.
    pub workspace_dir: PathBuf,
    /// Per-function live status.
    pub status: BTreeMap<String, FunctionStatus>,
    /// Selected function.
    pub selected: Option<String>,
    /// Finished invocations, oldest first.
    pub records: Vec<Record>,
    /// Running batches.
    pub running: Vec<Running>,
    /// Log lines, owned by the UI thread; guests' lines arrive through
    /// `log_inbox` and are taken in `poll` within its time budget.
    pub logs: LogStore,
    log_inbox: Receiver<LogLine>,
    /// Lines the inbox had no room for (the console fell behind).
    log_dropped: Arc<AtomicU64>,
    /// Messages for the user.
    pub notices: Vec<Notice>,
    /// A folder picked for a mount: (function, mount index, folder).
    pub picked_mount: Option<(String, usize, PathBuf)>,
    /// A folder picked for a folder trigger: (function, folder).
    pub picked_trigger_folder: Option<(String, PathBuf)>,
    /// Runs the triggers, the Lambda API and the asynchronous queue; `None`
    /// when it could not start (the reason is in the notices).
    pub triggers: Option<Arc<TriggerHost>>,
    /// Why the trigger host could not start.
    pub triggers_error: Option<String>,
    /// What happened to asynchronous events, oldest first.
    pub async_history: Vec<AsyncRecord>,
    async_seq: u64,
    last_async_poll: Instant,
    trigger_jobs: Option<SyncSender<TriggerJob>>,
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    wake: Wake,
    next_id: u64,
    dialog: Option<(DialogKind, Promise<DialogResult>)>,
    dirty: bool,
    last_save: Instant,
    last_watch: Instant,
    saver: Option<SyncSender<(Workspace, PathBuf)>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum DialogKind {
    AddFunctions,
    ImportEvent(String),
    ExportEvent(String, usize),
    OpenWorkspace,
    MountFolder(String, usize),
    TriggerFolder(String),
}

/// Where the workspace lives unless the user picks a folder.
pub fn default_workspace_dir() -> PathBuf {
    crate::store::default_data_dir()
}

/// Log lines that may wait for the UI thread before guests' lines are dropped
/// (and counted): a guest never waits for the console.
pub const LOG_INBOX_LINES: usize = 65_536;

impl Controller {
    /// Opens (or creates, with the samples) the workspace in `dir` and starts
    /// deploying its functions in the background.
    pub fn new(dir: PathBuf, wake: Wake) -> anyhow::Result<Self> {
        let (log_tx, log_inbox) = std::sync::mpsc::sync_channel::<LogLine>(LOG_INBOX_LINES);
        let log_dropped = Arc::new(AtomicU64::new(0));
        let dropped = log_dropped.clone();
        let sink_wake = wake.clone();
        let options = RuntimeOptions {
            log_sink: Some(Arc::new(move |line: LogLine| {
                if log_tx.try_send(line).is_ok() {
                    sink_wake();
                } else {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            })),
            pool_slots: 256,
            ..RuntimeOptions::default()
        };
        let runtime = Runtime::new(options)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        let mut c = Self {
            runtime,
            workspace: Workspace::default(),
            workspace_dir: dir.clone(),
            status: BTreeMap::new(),
            selected: None,
            records: Vec::new(),
            running: Vec::new(),
            logs: LogStore::default(),
            log_inbox,
            log_dropped,
            notices: Vec::new(),
            picked_mount: None,
            picked_trigger_folder: None,
            triggers: None,
            triggers_error: None,
            async_history: Vec::new(),
            async_seq: 0,
            last_async_poll: Instant::now(),
            trigger_jobs: None,
            tx,
            rx,
            wake,
            next_id: 1,
            dialog: None,
            dirty: false,
            last_save: Instant::now(),
            last_watch: Instant::now(),
            saver: None,
        };
        c.saver = Some(start_saver(c.tx.clone(), c.wake.clone())?);
        c.trigger_jobs = Some(start_trigger_worker(c.tx.clone(), c.wake.clone())?);
        c.open_workspace(dir);
        Ok(c)
    }

    fn open_workspace(&mut self, dir: PathBuf) {
        // The old workspace's triggers and queue stop with their host.
        self.triggers = None;
        self.triggers_error = None;
        self.async_history.clear();
        self.async_seq = 0;
        for name in self.runtime.function_names() {
            self.runtime.remove(&name);
        }
        self.status.clear();
        self.workspace_dir = dir.clone();
        let path = dir.join(WORKSPACE_FILE);
        let loaded = match Workspace::load(&path) {
            Ok(ws) => ws,
            Err(e @ WorkspaceError::Corrupt { .. }) => {
                self.error(format!("{e}. Starting with the sample functions."));
                None
            }
            Err(e) => {
                self.error(e.to_string());
                None
            }
        };
        self.workspace = match loaded {
            Some(ws) => ws,
            None => {
                let samples_dir = dir.join("samples");
                let mut ws = Workspace::default();
                for s in crate::store::samples::SAMPLES {
                    match s.install(&samples_dir) {
                        Ok(entry) => ws.functions.push(entry),
                        Err(e) => self.error(format!("installing sample {}: {e}", s.name)),
                    }
                }
                self.dirty = true;
                ws
            }
        };
        self.selected = self.workspace.functions.first().map(|f| f.name.clone());
        for name in self.function_names() {
            self.deploy(&name);
        }
        self.start_trigger_host(dir);
    }

    /// Starts the trigger host on a thread (it reads the queues' folders and
    /// binds ports); [`Msg::HostStarted`] brings it back, and then every
    /// function's triggers are applied.
    fn start_trigger_host(&mut self, dir: PathBuf) {
        let options = self.host_options(&dir);
        let (runtime, tx, wake) = (self.runtime.clone(), self.tx.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name("lambdesk-trigger-host".to_owned())
            .spawn(move || {
                let result = crate::api::start_host(runtime, options)
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(Msg::HostStarted { dir, result });
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start the trigger host: {e}"));
        }
    }

    fn on_host_started(&mut self, dir: &Path, result: Result<Arc<TriggerHost>, String>) {
        if dir != self.workspace_dir {
            // Another workspace was opened meanwhile: this host is dropped.
            return;
        }
        match result {
            Ok(host) => self.triggers = Some(host),
            Err(e) => {
                let text =
                    format!("Triggers, the Lambda API and asynchronous invocation are off: {e}");
                self.triggers_error = Some(text.clone());
                self.error(text);
                return;
            }
        }
        for name in self.function_names() {
            self.apply_triggers(&name);
        }
    }

    fn function_names(&self) -> Vec<String> {
        self.workspace
            .functions
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    fn host_options(&self, dir: &Path) -> HostOptions {
        let mut options = HostOptions::new(dir.join("async-queue"));
        // Local queues and streams keep their messages in the workspace.
        options.state_dir = Some(dir.to_owned());
        // Another Lambdesk (or `lambdesk serve`) may have SAM's ports.
        options.port_fallback = true;
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        options.observer = Some(Arc::new(move |function, source, wall, result| {
            let record = Record {
                id: 0,
                function: function.to_owned(),
                at: Local::now() - chrono::Duration::from_std(wall).unwrap_or_default(),
                wall,
                result: result.clone(),
                source: Some(source.to_owned()),
            };
            // A flood of trigger invocations may fill the channel; the
            // history then misses some (their logs are still complete).
            if tx.try_send(Msg::Fired(Box::new(record))).is_ok() {
                wake();
            }
        }));
        options
    }

    /// Hands `name`'s triggers to the trigger thread.
    fn apply_triggers(&mut self, name: &str) {
        let (Some(host), Some(jobs)) = (&self.triggers, &self.trigger_jobs) else {
            return;
        };
        let triggers = self
            .entry(name)
            .map(|f| f.triggers.clone())
            .unwrap_or_default();
        if let Err(e) = jobs.try_send((host.clone(), name.to_owned(), triggers)) {
            let text = match e {
                TrySendError::Full(_) => "the trigger thread is busy; try again",
                TrySendError::Disconnected(_) => "the trigger thread stopped",
            };
            self.error(format!("{name}: triggers not updated: {text}"));
        }
    }

    /// The status of a trigger.
    pub fn trigger_status(&self, id: &str) -> Option<crate::host::TriggerStatus> {
        self.triggers.as_ref()?.status(id)
    }

    fn error(&mut self, text: String) {
        self.notices.push(Notice {
            is_error: true,
            text,
        });
    }

    fn info(&mut self, text: String) {
        self.notices.push(Notice {
            is_error: false,
            text,
        });
    }

    /// The entry of `name`.
    pub fn entry(&self, name: &str) -> Option<&FunctionEntry> {
        self.workspace.function(name)
    }

    fn entry_mut(&mut self, name: &str) -> Option<&mut FunctionEntry> {
        self.workspace.functions.iter_mut().find(|f| f.name == name)
    }

    /// The code path of an entry, resolved against the workspace folder.
    pub fn code_path(&self, entry: &FunctionEntry) -> PathBuf {
        if entry.code.is_absolute() {
            entry.code.clone()
        } else {
            self.workspace_dir.join(&entry.code)
        }
    }

    /// Deploys `name` on a background thread.
    fn deploy(&mut self, name: &str) {
        let Some(entry) = self.entry(name).cloned() else {
            return;
        };
        let path = self.code_path(&entry);
        self.status.insert(
            name.to_owned(),
            FunctionStatus {
                deploy: DeployState::Deploying,
                code_mtime: None,
            },
        );
        let runtime = self.runtime.clone();
        let tx = self.tx.clone();
        let wake = self.wake.clone();
        let name = name.to_owned();
        let spawned = std::thread::Builder::new()
            .name(format!("lambdesk-deploy-{name}"))
            .spawn(move || {
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                let result = runtime
                    .deploy(&name, &path, entry.config)
                    .map_err(|e| e.to_string());
                let _ = tx.send(Msg::Deployed {
                    name,
                    result,
                    mtime,
                });
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start a deploy thread: {e}"));
        }
    }

    /// Moves guests' log lines from the inbox into the store until `until`;
    /// asks for another frame when some are left.
    pub fn take_log_lines(&mut self, until: Instant) {
        let mut left = false;
        let mut taken: u32 = 0;
        while let Ok(line) = self.log_inbox.try_recv() {
            self.logs.push(line);
            taken = taken.wrapping_add(1);
            // Look at the clock once per 256 lines: it costs more than a push.
            if taken.is_multiple_of(256) && Instant::now() >= until {
                left = true;
                break;
            }
        }
        let dropped = self.log_dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            self.logs.push(LogLine {
                time: chrono::Utc::now(),
                function: Arc::from(""),
                log_stream: Arc::from(""),
                request_id: Arc::from(""),
                kind: LogKind::Platform,
                text: format!(
                    "{dropped} log line(s) were dropped: the console fell behind the functions writing them"
                ),
            });
        }
        if left {
            (self.wake)();
        }
    }

    /// Runs every frame: drains background results (within a time budget),
    /// polls dialogs, watches code files and saves the workspace.
    pub fn poll(&mut self) {
        let budget = Instant::now() + Duration::from_millis(8);
        while Instant::now() < budget {
            let Ok(msg) = self.rx.try_recv() else { break };
            self.on_msg(msg);
        }
        self.take_log_lines(Instant::now() + Duration::from_millis(4));
        if let Some((kind, promise)) = self.dialog.take() {
            match promise.try_take() {
                Ok(result) => self.on_dialog(kind, result),
                Err(promise) => self.dialog = Some((kind, promise)),
            }
        }
        if self.last_watch.elapsed() > Duration::from_secs(1) {
            self.last_watch = Instant::now();
            self.watch_code_files();
        }
        if self.dirty && self.last_save.elapsed() > Duration::from_millis(300) {
            self.save();
        }
        if self.last_async_poll.elapsed() > Duration::from_millis(200)
            && let Some(host) = &self.triggers
        {
            self.last_async_poll = Instant::now();
            let new = host.async_queue().history_since(self.async_seq);
            if let Some(last) = new.last() {
                self.async_seq = last.seq;
            }
            self.async_history.extend(new);
            if self.async_history.len() > MAX_RECORDS {
                let excess = self.async_history.len() - MAX_RECORDS;
                self.async_history.drain(..excess);
            }
        }
    }

    /// Whether background work is under way (the UI keeps repainting).
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
            || self.dialog.is_some()
            || self
                .status
                .values()
                .any(|s| matches!(s.deploy, DeployState::Deploying))
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Deployed {
                name,
                result,
                mtime,
            } => {
                let deploy = match result {
                    Ok(info) => DeployState::Ready(info),
                    Err(e) => DeployState::Failed(e),
                };
                if self.entry(&name).is_some() {
                    self.status.insert(
                        name,
                        FunctionStatus {
                            deploy,
                            code_mtime: mtime,
                        },
                    );
                }
            }
            Msg::Invoked { batch, record } => {
                if let Some(r) = self.running.iter_mut().find(|r| r.batch == batch) {
                    r.remaining = r.remaining.saturating_sub(1);
                }
                self.push_record(*record);
            }
            Msg::BatchDone(batch) => self.running.retain(|r| r.batch != batch),
            Msg::Fired(mut record) => {
                record.id = self.next_id;
                self.next_id += 1;
                self.push_record(*record);
            }
            Msg::Notice(n) => self.notices.push(n),
            Msg::HostStarted { dir, result } => self.on_host_started(&dir, result),
            Msg::SaveFailed(e) => {
                self.dirty = true;
                self.error(format!("saving the workspace failed: {e}"));
            }
        }
    }

    fn push_record(&mut self, record: Record) {
        self.records.push(record);
        if self.records.len() > MAX_RECORDS {
            let excess = self.records.len() - MAX_RECORDS;
            self.records.drain(..excess);
        }
    }

    fn watch_code_files(&mut self) {
        let mut changed = Vec::new();
        for f in &self.workspace.functions {
            let Some(status) = self.status.get(&f.name) else {
                continue;
            };
            if matches!(status.deploy, DeployState::Deploying) {
                continue;
            }
            let mtime = std::fs::metadata(self.code_path(f))
                .and_then(|m| m.modified())
                .ok();
            if mtime.is_some() && mtime != status.code_mtime {
                changed.push(f.name.clone());
            }
        }
        for name in changed {
            let line = LogLine {
                time: chrono::Utc::now(),
                function: Arc::from(name.as_str()),
                log_stream: Arc::from(""),
                request_id: Arc::from(""),
                kind: LogKind::Platform,
                text: "Code updated on disk: reloading; the next start is cold".to_owned(),
            };
            self.logs.push(line);
            self.deploy(&name);
        }
    }

    fn save(&mut self) {
        self.last_save = Instant::now();
        let Some(saver) = &self.saver else { return };
        match saver.try_send((
            self.workspace.clone(),
            self.workspace_dir.join(WORKSPACE_FILE),
        )) {
            Ok(()) => self.dirty = false,
            // The saver is busy with the previous version: try again next frame.
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => {
                self.saver = None;
                self.error("the workspace can no longer be saved (the save thread stopped)".into());
            }
        }
    }

    /// Saves synchronously (on exit).
    pub fn save_now(&mut self) -> Result<(), WorkspaceError> {
        self.dirty = false;
        self.workspace
            .save(&self.workspace_dir.join(WORKSPACE_FILE))
    }

    fn open_dialog(&mut self, kind: DialogKind) {
        if self.dialog.is_some() {
            return;
        }
        let wake = self.wake.clone();
        let start = self.workspace_dir.clone();
        let k = kind.clone();
        let promise = Promise::spawn_thread("lambdesk-file-dialog", move || {
            let result = pick(&k, &start);
            wake();
            result
        });
        self.dialog = Some((kind, promise));
    }

    fn on_dialog(&mut self, kind: DialogKind, result: DialogResult) {
        let Some(paths) = result else { return };
        match kind {
            DialogKind::AddFunctions => self.handle(Command::AddFunctions(paths)),
            DialogKind::ImportEvent(name) => {
                for path in paths {
                    match std::fs::read_to_string(&path) {
                        Ok(body) => {
                            let event_name = path.file_stem().map_or_else(
                                || "imported".to_owned(),
                                |s| s.to_string_lossy().into_owned(),
                            );
                            self.handle(Command::NewEvent(name.clone(), event_name, body));
                        }
                        Err(e) => self.error(format!("cannot read {}: {e}", path.display())),
                    }
                }
            }
            DialogKind::ExportEvent(name, index) => {
                let body = self
                    .entry(&name)
                    .and_then(|f| f.events.get(index))
                    .map(|e| e.body.clone());
                if let (Some(body), Some(path)) = (body, paths.first()) {
                    match crate::store::write_atomic(path, body.as_bytes()) {
                        Ok(()) => self.info(format!("Event saved to {}", path.display())),
                        Err(e) => self.error(format!("cannot write {}: {e}", path.display())),
                    }
                }
            }
            DialogKind::MountFolder(name, index) => {
                self.picked_mount = paths.into_iter().next().map(|p| (name, index, p));
            }
            DialogKind::TriggerFolder(name) => {
                self.picked_trigger_folder = paths.into_iter().next().map(|p| (name, p));
            }
            DialogKind::OpenWorkspace => {
                if let Some(dir) = paths.into_iter().next() {
                    if self.dirty {
                        let _ = self.save_now();
                    }
                    self.open_workspace(dir);
                }
            }
        }
    }

    /// Applies a command.
    pub fn handle(&mut self, command: Command) {
        match command {
            Command::Select(name) => self.selected = Some(name),
            Command::AddFunctionDialog => self.open_dialog(DialogKind::AddFunctions),
            Command::AddFunctions(paths) => {
                for path in paths {
                    self.add_function(&path);
                }
            }
            Command::Remove(name) => {
                if let Some(f) = self.entry_mut(&name) {
                    f.triggers.clear();
                }
                self.apply_triggers(&name);
                self.workspace.functions.retain(|f| f.name != name);
                self.runtime.remove(&name);
                self.status.remove(&name);
                if self.selected.as_deref() == Some(&name) {
                    self.selected = self.workspace.functions.first().map(|f| f.name.clone());
                }
                self.dirty = true;
            }
            Command::Duplicate(name) => {
                if let Some(mut copy) = self.entry(&name).cloned() {
                    copy.name = self.workspace.unique_name(&format!("{name}-copy"));
                    // The copy's triggers start disabled: two functions
                    // cannot take the same queue or route.
                    for t in &mut copy.triggers {
                        *t = Trigger {
                            enabled: false,
                            ..Trigger::new(t.source.clone())
                        };
                    }
                    let new = copy.name.clone();
                    self.workspace.functions.push(copy);
                    self.deploy(&new);
                    self.apply_triggers(&new);
                    self.selected = Some(new);
                    self.dirty = true;
                }
            }
            Command::ApplyConfig(name, config) => {
                if let Err(errors) = config.validate() {
                    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    self.error(text.join("; "));
                    return;
                }
                if let Some(f) = self.entry_mut(&name) {
                    f.config = config;
                    self.dirty = true;
                    self.deploy(&name);
                }
            }
            Command::Invoke {
                function,
                times,
                parallel,
            } => self.invoke(&function, times, parallel),
            Command::Cancel(name) => {
                for r in self.running.iter().filter(|r| r.function == name) {
                    r.cancel.cancel();
                }
            }
            Command::ForceCold(name) => {
                let n = self.runtime.drop_environments(&name);
                self.info(format!(
                    "{name}: dropped {n} idle environment(s); the next start is cold"
                ));
            }
            Command::SelectEvent(name, i) => {
                if let Some(f) = self.entry_mut(&name)
                    && i < f.events.len()
                {
                    f.selected_event = i;
                    self.dirty = true;
                }
            }
            Command::EditEvent(name, i, body) => {
                if let Some(e) = self.entry_mut(&name).and_then(|f| f.events.get_mut(i)) {
                    e.body = body;
                    self.dirty = true;
                }
            }
            Command::NewEvent(name, event_name, body) => {
                if let Some(f) = self.entry_mut(&name) {
                    let event_name = unique_event_name(f, &event_name);
                    f.events.push(TestEvent {
                        name: event_name,
                        body,
                    });
                    f.selected_event = f.events.len() - 1;
                    self.dirty = true;
                }
            }
            Command::RenameEvent(name, i, new_name) => {
                if let Some(f) = self.entry_mut(&name) {
                    let new_name = new_name.trim().to_owned();
                    if !new_name.is_empty()
                        && !f
                            .events
                            .iter()
                            .enumerate()
                            .any(|(j, e)| j != i && e.name == new_name)
                        && let Some(e) = f.events.get_mut(i)
                    {
                        e.name = new_name;
                        self.dirty = true;
                    }
                }
            }
            Command::DuplicateEvent(name, i) => {
                if let Some(f) = self.entry_mut(&name)
                    && let Some(e) = f.events.get(i).cloned()
                {
                    let copy_name = unique_event_name(f, &format!("{}-copy", e.name));
                    f.events.insert(
                        i + 1,
                        TestEvent {
                            name: copy_name,
                            body: e.body,
                        },
                    );
                    f.selected_event = i + 1;
                    self.dirty = true;
                }
            }
            Command::DeleteEvent(name, i) => {
                if let Some(f) = self.entry_mut(&name)
                    && i < f.events.len()
                {
                    f.events.remove(i);
                    f.selected_event = f.selected_event.min(f.events.len().saturating_sub(1));
                    self.dirty = true;
                }
            }
            Command::ImportEventDialog(name) => self.open_dialog(DialogKind::ImportEvent(name)),
            Command::ExportEventDialog(name, i) => {
                self.open_dialog(DialogKind::ExportEvent(name, i))
            }
            Command::OpenWorkspaceDialog => self.open_dialog(DialogKind::OpenWorkspace),
            Command::PickMountFolder(name, i) => self.open_dialog(DialogKind::MountFolder(name, i)),
            Command::TakePickedMount => self.picked_mount = None,
            Command::PickTriggerFolder(name) => self.open_dialog(DialogKind::TriggerFolder(name)),
            Command::TakePickedTriggerFolder => self.picked_trigger_folder = None,
            Command::AddTrigger(name, source) => {
                if let Err(errors) = source.validate() {
                    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    self.error(format!("{name}: trigger not added: {}", text.join("; ")));
                    return;
                }
                if let Some(f) = self.entry_mut(&name) {
                    f.triggers.push(Trigger::new(source));
                    self.dirty = true;
                    self.apply_triggers(&name);
                }
            }
            Command::UpdateTrigger(name, trigger) => {
                if let Err(errors) = trigger.source.validate() {
                    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
                    self.error(format!("{name}: trigger not changed: {}", text.join("; ")));
                    return;
                }
                if let Some(t) = self
                    .entry_mut(&name)
                    .and_then(|f| f.triggers.iter_mut().find(|t| t.id == trigger.id))
                {
                    // Editing settings leaves the trigger enabled or disabled.
                    t.source = trigger.source;
                    self.dirty = true;
                    self.apply_triggers(&name);
                }
            }
            Command::RemoveTrigger(name, id) => {
                if let Some(f) = self.entry_mut(&name) {
                    f.triggers.retain(|t| t.id != id);
                    self.dirty = true;
                    self.apply_triggers(&name);
                }
            }
            Command::SetTriggerEnabled(name, id, enabled) => {
                if let Some(t) = self
                    .entry_mut(&name)
                    .and_then(|f| f.triggers.iter_mut().find(|t| t.id == id))
                {
                    t.enabled = enabled;
                    self.dirty = true;
                    self.apply_triggers(&name);
                }
            }
            Command::SendMessage(queue, body) => {
                self.with_host("lambdesk-queue-send", move |host| {
                    match host.send_message(&queue, body) {
                        Ok(id) => Ok(format!("Message {id} sent to queue {queue}")),
                        Err(e) => Err(format!("queue {queue}: {e}")),
                    }
                });
            }
            Command::PutRecord { stream, key, data } => {
                self.with_host("lambdesk-stream-put", move |host| {
                    let key = (!key.trim().is_empty()).then_some(key.trim());
                    match host.put_record(&stream, key, data.into_bytes()) {
                        Ok((shard, seq)) => Ok(format!("Record {seq} put on {stream} ({shard})")),
                        Err(e) => Err(format!("stream {stream}: {e}")),
                    }
                });
            }
            Command::InvokeAsync(name) => self.invoke_async(&name),
            Command::SetClockSpeed(speed) => {
                if let Some(host) = &self.triggers {
                    host.async_queue().set_speed(speed);
                }
            }
            Command::DismissNotice(i) => {
                if i < self.notices.len() {
                    self.notices.remove(i);
                }
            }
        }
    }

    fn add_function(&mut self, path: &Path) {
        let ok = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "wasm" | "wat" | "zip"));
        if !ok {
            self.error(format!(
                "{}: not a .wasm, .wat or .zip file",
                path.display()
            ));
            return;
        }
        let base = path.file_stem().map_or_else(
            || "function".to_owned(),
            |s| sanitize_name(&s.to_string_lossy()),
        );
        let name = self.workspace.unique_name(&base);
        let handler = guess_handler_of(path).unwrap_or_else(|| "_start".to_owned());
        let code = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        self.workspace.functions.push(FunctionEntry {
            name: name.clone(),
            code,
            config: FunctionConfig {
                handler,
                ..FunctionConfig::default()
            },
            events: vec![TestEvent {
                name: "empty".to_owned(),
                body: "{}".to_owned(),
            }],
            selected_event: 0,
            triggers: Vec::new(),
        });
        self.dirty = true;
        self.selected = Some(name.clone());
        self.deploy(&name);
    }

    /// Runs `job` with the trigger host on a named thread (sending and
    /// queueing store to disk and sync, which a frame must not wait for); its
    /// message comes back as a notice.
    fn with_host(
        &mut self,
        thread: &str,
        job: impl FnOnce(&TriggerHost) -> Result<String, String> + Send + 'static,
    ) {
        let Some(host) = self.triggers.clone() else {
            self.error(
                "triggers and asynchronous invocation are off (see the earlier message)".into(),
            );
            return;
        };
        let (tx, wake) = (self.tx.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name(thread.to_owned())
            .spawn(move || {
                let notice = match job(&host) {
                    Ok(text) => Notice {
                        is_error: false,
                        text,
                    },
                    Err(text) => Notice {
                        is_error: true,
                        text,
                    },
                };
                let _ = tx.send(Msg::Notice(notice));
                wake();
            });
        if let Err(e) = spawned {
            self.error(format!("cannot start a thread: {e}"));
        }
    }

    /// Queues the selected event as an `Event` invocation.
    fn invoke_async(&mut self, name: &str) {
        let Some(body) = self
            .entry(name)
            .and_then(|f| f.events.get(f.selected_event))
            .map(|e| e.body.clone())
        else {
            self.error(format!("{name}: no test event to send"));
            return;
        };
        let name = name.to_owned();
        self.with_host("lambdesk-async-accept", move |host| {
            match host
                .async_queue()
                .accept_from(&name, body.as_bytes(), "console")
            {
                Ok(id) => Ok(format!("{name}: event {id} queued (202 Accepted)")),
                Err(e) => Err(format!("{name}: event not queued: {e}")),
            }
        });
    }

    fn invoke(&mut self, name: &str, times: usize, parallel: usize) {
        let Some(entry) = self.entry(name) else {
            return;
        };
        let Some(event) = entry.events.get(entry.selected_event) else {
            self.error(format!("{name}: no test event to invoke with"));
            return;
        };
        let payload = event.body.clone().into_bytes();
        let batch = self.next_id;
        self.next_id += 1;
        let cancel = CancelToken::new();
        self.running.push(Running {
            function: name.to_owned(),
            started: Instant::now(),
            remaining: times * parallel,
            cancel: cancel.clone(),
            batch,
        });
        let workers = parallel.max(1);
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for w in 0..workers {
            let runtime = self.runtime.clone();
            let tx = self.tx.clone();
            let wake = self.wake.clone();
            let name = name.to_owned();
            let payload = payload.clone();
            let cancel = cancel.clone();
            let done = done.clone();
            let first_id = self.next_id;
            self.next_id += times as u64;
            let spawned = std::thread::Builder::new()
                .name(format!("lambdesk-invoke-{batch}-{w}"))
                .spawn(move || {
                    let options = InvokeOptions {
                        cancel: Some(cancel.clone()),
                        ..InvokeOptions::default()
                    };
                    for i in 0..times {
                        if cancel.is_cancelled() {
                            break;
                        }
                        let at = Local::now();
                        let started = Instant::now();
                        let result = runtime.invoke_with(&name, &payload, &options);
                        let record = Record {
                            id: first_id + i as u64,
                            function: name.clone(),
                            at,
                            wall: started.elapsed(),
                            result,
                            source: None,
                        };
                        if tx
                            .send(Msg::Invoked {
                                batch,
                                record: Box::new(record),
                            })
                            .is_err()
                        {
                            return;
                        }
                        wake();
                    }
                    if done.fetch_add(1, std::sync::atomic::Ordering::AcqRel) + 1 == workers {
                        let _ = tx.send(Msg::BatchDone(batch));
                        wake();
                    }
                });
            if let Err(e) = spawned {
                self.error(format!("cannot start an invocation thread: {e}"));
            }
        }
    }

    /// The last record of `name` with the given start kind.
    pub fn last_record(
        &self,
        name: &str,
        start: Option<crate::runtime::StartKind>,
    ) -> Option<&Record> {
        self.records.iter().rev().find(|r| {
            r.function == name
                && match (&r.result, start) {
                    (_, None) => true,
                    (Ok(inv), Some(k)) => inv.start == k,
                    (Err(_), Some(_)) => false,
                }
        })
    }
}

fn unique_event_name(f: &FunctionEntry, base: &str) -> String {
    let base = if base.trim().is_empty() {
        "event"
    } else {
        base.trim()
    };
    if !f.events.iter().any(|e| e.name == base) {
        return base.to_owned();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|c| !f.events.iter().any(|e| &e.name == c))
        .unwrap_or_else(|| base.to_owned())
}

/// Looks at a module's exports to pick its handler.
fn guess_handler_of(path: &Path) -> Option<String> {
    let bundle =
        crate::runtime::load_code(path, &std::env::temp_dir().join("lambdesk-inspect")).ok()?;
    let exports = crate::runtime::code::exported_functions(&bundle.wasm);
    crate::runtime::guess_handler(&exports)
}

fn pick(kind: &DialogKind, start: &Path) -> DialogResult {
    let dialog = rfd::FileDialog::new().set_directory(start);
    match kind {
        DialogKind::AddFunctions => dialog
            .set_title("Add function")
            .add_filter("WebAssembly function", &["wasm", "wat", "zip"])
            .pick_files(),
        DialogKind::ImportEvent(_) => dialog
            .set_title("Import test event")
            .add_filter("JSON", &["json"])
            .pick_files(),
        DialogKind::ExportEvent(..) => dialog
            .set_title("Export test event")
            .add_filter("JSON", &["json"])
            .set_file_name("event.json")
            .save_file()
            .map(|p| vec![p]),
        DialogKind::OpenWorkspace => dialog
            .set_title("Open workspace")
            .pick_folder()
            .map(|p| vec![p]),
        DialogKind::MountFolder(..) => rfd::FileDialog::new()
            .set_title("Folder to mount")
            .pick_folder()
            .map(|p| vec![p]),
        DialogKind::TriggerFolder(..) => rfd::FileDialog::new()
            .set_title("Folder to watch as a bucket")
            .pick_folder()
            .map(|p| vec![p]),
    }
}

/// A thread that writes workspace snapshots; a bounded channel of one keeps
/// only the newest pending snapshot waiting.
fn start_saver(
    report: SyncSender<Msg>,
    wake: Wake,
) -> anyhow::Result<SyncSender<(Workspace, PathBuf)>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Workspace, PathBuf)>(1);
    std::thread::Builder::new()
        .name("lambdesk-save".to_owned())
        .spawn(move || {
            while let Ok((ws, path)) = rx.recv() {
                if let Err(e) = ws.save(&path) {
                    let _ = report.try_send(Msg::SaveFailed(e.to_string()));
                    wake();
                }
            }
        })?;
    Ok(tx)
}

/// The thread that applies triggers; problems come back as notices.
fn start_trigger_worker(
    report: SyncSender<Msg>,
    wake: Wake,
) -> anyhow::Result<SyncSender<TriggerJob>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<TriggerJob>(64);
    std::thread::Builder::new()
        .name("lambdesk-triggers".to_owned())
        .spawn(move || {
            while let Ok((host, function, triggers)) = rx.recv() {
                for problem in host.apply(&function, &triggers) {
                    let _ = report.send(Msg::Notice(Notice {
                        is_error: true,
                        text: format!("trigger {problem}"),
                    }));
                    wake();
                }
                wake();
            }
        })?;
    Ok(tx)
}
