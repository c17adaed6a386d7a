//! The app's state and the one place that changes it. Views read the state and
//! return [`Command`]s; [`Controller::handle`] applies them after the frame.
//! Slow work (deploys, invocations, saving, file dialogs) runs on named
//! background threads and reports back through a bounded channel, so the UI
//! thread never waits.
//!
//! `handle` only dispatches; each concern's methods live in a file of their
//! own: `functions` (code, deploys, settings), `events` (test events),
//! `invocations` (batches, async invokes, records), `triggers` (the trigger
//! host, queues, streams) and `jobs` (saving, dialogs, the log inbox).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Local};
use poll_promise::Promise;

use super::log_store::LogStore;
use crate::host::TriggerHost;
use crate::host::async_queue::AsyncRecord;
use crate::model::workspace::WORKSPACE_FILE;
use crate::model::{FunctionConfig, FunctionEntry, Trigger, TriggerSource, Workspace};
use crate::runtime::{
    CancelToken, DeployInfo, Invocation, InvokeError, LogLine, Runtime, RuntimeOptions,
};
use crate::store::WorkspaceError;

pub mod code;
mod events;
mod functions;
mod invocations;
mod jobs;
pub mod states;
mod triggers;
mod tuning;
mod versions;

/// A tuning run in progress.
#[derive(Clone, Debug)]
pub struct TuningRun {
    /// The function being tuned.
    pub function: String,
    /// Invocations done.
    pub done: Arc<std::sync::atomic::AtomicUsize>,
    /// Invocations in all.
    pub total: usize,
    /// Set to stop it.
    pub cancel: Arc<AtomicBool>,
}

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
    /// Open the folder of the function's code in the desktop's file manager.
    RevealCode(String),
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
    AddTrigger(String, TriggerSource, Option<String>),
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
    /// Check an invocation with the selected event without running it
    /// (`InvocationType: DryRun`).
    DryRun(String),
    /// View and invoke a function through a version or alias (`None`: `$LATEST`).
    SetQualifier(String, Option<String>),
    /// Publish `$LATEST` as a new version, with a description.
    PublishVersion(String, String),
    /// Delete a published version.
    DeleteVersion(String, u64),
    /// Create or update an alias.
    SaveAlias(AliasEdit),
    /// Delete an alias.
    DeleteAlias(String, String),
    /// Speed of the asynchronous queue's clock (1: real time; 60: a minute a second).
    SetClockSpeed(f64),
    /// Pick the folder for a folder trigger being added (dialog).
    PickTriggerFolder(String),
    /// The trigger form took the picked folder.
    TakePickedTriggerFolder,
    /// CPU in proportion to memory, or full speed (a workspace setting).
    SetCpuShare(crate::model::CpuShare),
    /// Power-tune a function.
    StartTuning(String, crate::host::tuning::TuneOptions),
    /// Stop the tuning run.
    CancelTuning,
    /// Set a function's memory to a tuned size.
    ApplyTunedMemory(String, u32),
    /// Remove every log line.
    ClearLogs,
    /// The in-app file browser's answer (`None`: cancelled).
    DialogPicked(DialogKind, Option<Vec<PathBuf>>),
    /// Show a state machine (the function list's selection stays).
    SelectMachine(String),
    /// Show the selected function again.
    CloseMachine,
    /// A new state machine from a blueprint (by index).
    NewMachine(usize),
    /// A state machine's definition as edited.
    EditDefinition(String, String),
    /// A state machine's selected input as edited.
    EditMachineInput(String, String),
    /// Select a state machine's saved input: (machine, index).
    SelectMachineInput(String, usize),
    /// Save the selected input again as a new one: (machine, name).
    NewMachineInput(String, String),
    /// Rename a saved input: (machine, index, name).
    RenameMachineInput(String, usize, String),
    /// Delete a saved input: (machine, index).
    DeleteMachineInput(String, usize),
    /// Remove a state machine.
    DeleteMachine(String),
    /// A new function from a blueprint, as the Lambda console's *Create
    /// function*: its folder under the workspace's `functions/`, its test
    /// event.
    CreateFunction {
        /// Index in `FUNCTION_BLUEPRINTS`.
        blueprint: usize,
        /// The function's name (`None`: the blueprint's, numbered when taken).
        name: Option<String>,
        /// Lambda's runtime identifier (`None`: the language's newest).
        runtime_id: Option<String>,
    },
    /// Start an execution of a state machine with its selected input.
    StartExecution(String),
    /// Show an execution of a state machine: (machine, execution ARN).
    ShowExecution(String, String),
    /// Stop an execution (by ARN).
    StopExecution(String),
    /// Read a JavaScript or Python function's files into the Code tab
    /// (once; [`Command::ReloadCode`] reads them again).
    OpenCode(String),
    /// Read the files again, discarding the editor's changes.
    ReloadCode(String),
    /// A file's text as edited: (function, file index, text).
    EditCode(String, usize, String),
    /// Show a file: (function, file index).
    SelectCodeFile(String, usize),
    /// A new, empty file: (function, path under the code's folder).
    NewCodeFile(String, String),
    /// Rename a file: (function, file index, new path).
    RenameCodeFile(String, usize, String),
    /// Delete a file (from disk at the next Deploy): (function, file index).
    DeleteCodeFile(String, usize),
    /// Write the editor's changes and deploy; the next start is cold.
    DeployCode(String),
    /// The log store keeps `cap` lines and indexes those passing `filter`.
    SetLogView {
        /// Most lines kept.
        cap: usize,
        /// The filter the view shows.
        filter: super::log_store::Filter,
    },
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
    /// The console run it belongs to, and how many invocations that run has.
    pub batch: Option<(u64, usize)>,
}

/// An alias as the editor saves it.
#[derive(Clone, Debug, PartialEq)]
pub struct AliasEdit {
    /// The function.
    pub function: String,
    /// The alias's name.
    pub name: String,
    /// `$LATEST` or a version number.
    pub version: String,
    /// Free text.
    pub description: String,
    /// An additional version and its weight (0.0–1.0).
    pub routing: Option<(String, f64)>,
    /// A new alias (else an update of an existing one).
    pub create: bool,
}

/// What a console run of several invocations (*Invoke ×N*, *N at once*) came to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Invocations in the run.
    pub total: usize,
    /// Of which finished so far.
    pub finished: usize,
    /// Succeeded.
    pub succeeded: usize,
    /// Failed (a function error or a runtime error).
    pub failed: usize,
    /// Refused with `TooManyRequestsException`.
    pub throttled: usize,
    /// Cold starts.
    pub cold: usize,
    /// Warm starts.
    pub warm: usize,
    /// Durations of the successful invocations, ms, sorted.
    pub durations_ms: Vec<f64>,
    /// The first failed invocation's record id.
    pub first_failure: Option<u64>,
}

impl RunSummary {
    /// The nearest-rank percentile `p` of the durations (0 when none).
    pub fn percentile(&self, p: f64) -> f64 {
        crate::runtime::report::percentile(&self.durations_ms, p)
    }
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

/// What an `Event` or `DryRun` invocation from the Test tab came to (the
/// tab shows it until the next console invocation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestNote {
    /// The record id the next console invocation will get: newer records hide it.
    pub after: u64,
    /// Accepted (or would be), or refused.
    pub ok: bool,
    /// What to tell the user.
    pub text: String,
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
    /// The Lambda API created, changed or deleted a function.
    FunctionChanged(crate::host::functions::FunctionChange),
    /// The Code tab's files were read.
    CodeLoaded(String, Box<code::Loaded>),
    /// The Code tab's changes were written (or not).
    CodeSaved(String, Result<(), String>),
    /// A tuning run ended.
    Tuned {
        function: String,
        result: Result<crate::host::tuning::TuneReport, String>,
    },
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
    /// The state machine shown instead of the function, if any.
    pub selected_machine: Option<String>,
    /// The execution shown per state machine (its ARN).
    pub shown_execution: BTreeMap<String, String>,
    /// The registry's change count last taken into the workspace.
    machines_seen: u64,
    /// Each state machine's problems and running executions, for the list.
    pub machine_status: BTreeMap<String, states::MachineStatus>,
    /// Finished invocations, oldest first.
    pub records: Vec<Record>,
    /// CloudWatch-like metrics of every invocation this session (bounded).
    pub metrics: super::metrics::Metrics,
    /// The last `Event` or `DryRun` from the Test tab, per function.
    pub test_notes: BTreeMap<String, TestNote>,
    /// The published versions and aliases, as last read from the host.
    pub versions: crate::model::versions::VersionsFile,
    /// Set when the version store changed and has not been read since.
    versions_stale: bool,
    /// The qualifier each function is viewed and invoked through.
    qualifiers: BTreeMap<String, String>,
    /// Running batches.
    pub running: Vec<Running>,
    /// Log lines, owned by the UI thread; guests' lines arrive through
    /// `log_inbox` and are taken in `poll` within its time budget.
    pub logs: LogStore,
    log_inbox: Receiver<LogLine>,
    /// Lines the inbox had no room for (the console fell behind).
    log_dropped: Arc<AtomicU64>,
    /// Set by the first line after the UI took the inbox: later lines do not
    /// wake the UI again (a wake takes egui's lock, which a frame may hold).
    log_wake_sent: Arc<AtomicBool>,
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
    /// The power-tuning run in progress.
    pub tuning: Option<TuningRun>,
    /// The last tuning report per function (this session).
    pub tuning_results: BTreeMap<String, crate::host::tuning::TuneReport>,
    /// The Code tab's files of JavaScript and Python functions, read when
    /// the tab first shows them.
    pub code: BTreeMap<String, code::CodeBuffer>,
    async_seq: u64,
    /// Set (with one wake) when the trigger host reports a change; the
    /// next frame takes the asynchronous timeline's new records.
    host_changed: Arc<AtomicBool>,
    trigger_jobs: Option<SyncSender<TriggerJob>>,
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    wake: Wake,
    next_id: u64,
    dialog: Option<(DialogKind, Instant, Promise<DialogResult>)>,
    /// Whether native dialogs work here.
    pub native_dialogs: NativeDialogs,
    /// A dialog the app shows in its own window (the in-app file browser),
    /// with the folder it starts in; its answer comes back as
    /// [`Command::DialogPicked`].
    pub in_app_dialog: Option<(DialogKind, PathBuf)>,
    dirty: bool,
    last_save: Instant,
    last_watch: Instant,
    saver: Option<SyncSender<(Workspace, PathBuf)>>,
}

/// What a file dialog is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// Modules to add (several at once).
    AddFunctions,
    /// Event files to import into a function.
    ImportEvent(String),
    /// Where to save a function's event (by index).
    ExportEvent(String, usize),
    /// A workspace folder.
    OpenWorkspace,
    /// A host folder for a function's mount (by index).
    MountFolder(String, usize),
    /// A folder to watch as a bucket.
    TriggerFolder(String),
}

impl DialogKind {
    /// The dialog's title.
    pub fn title(&self) -> &'static str {
        match self {
            Self::AddFunctions => "Add function",
            Self::ImportEvent(_) => "Import test event",
            Self::ExportEvent(..) => "Export test event",
            Self::OpenWorkspace => "Open workspace",
            Self::MountFolder(..) => "Folder to mount",
            Self::TriggerFolder(_) => "Folder to watch as a bucket",
        }
    }

    /// Whether it picks a folder.
    pub fn picks_folder(&self) -> bool {
        matches!(
            self,
            Self::OpenWorkspace | Self::MountFolder(..) | Self::TriggerFolder(_)
        )
    }

    /// Whether it names a file to write.
    pub fn saves(&self) -> bool {
        matches!(self, Self::ExportEvent(..))
    }

    /// Whether several files may be picked.
    pub fn picks_many(&self) -> bool {
        matches!(self, Self::AddFunctions | Self::ImportEvent(_))
    }

    /// The file extensions shown (empty: folders).
    pub fn extensions(&self) -> &'static [&'static str] {
        match self {
            Self::AddFunctions => &["wasm", "wat", "zip", "js", "mjs", "cjs", "py"],
            Self::ImportEvent(_) | Self::ExportEvent(..) => &["json"],
            _ => &[],
        }
    }
}

/// Whether the desktop's native file dialogs (through its XDG portal) work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeDialogs {
    /// Not known yet: the native one is tried first.
    Untried,
    /// There is none (no session bus, or the portal answered at once with
    /// nothing): the in-app file browser is used.
    Missing,
}

/// A native dialog that answers nothing sooner than this never opened.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(300);

/// Whether native dialogs can work in this session: not without a session
/// bus for the portal, nor when `LAMBDESK_FILE_DIALOG=in-app` asks for the
/// app's own.
fn native_dialogs_at_start() -> NativeDialogs {
    let forced = std::env::var("LAMBDESK_FILE_DIALOG").is_ok_and(|v| v == "in-app");
    let no_bus =
        cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none();
    if forced || no_bus {
        NativeDialogs::Missing
    } else {
        NativeDialogs::Untried
    }
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
        let log_wake_sent = Arc::new(AtomicBool::new(false));
        let wake_sent = log_wake_sent.clone();
        let sink_wake = wake.clone();
        let options = RuntimeOptions {
            log_sink: Some(Arc::new(move |line: LogLine| {
                if log_tx.try_send(line).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                if !wake_sent.swap(true, Ordering::AcqRel) {
                    sink_wake();
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
            selected_machine: None,
            shown_execution: BTreeMap::new(),
            machines_seen: 0,
            machine_status: BTreeMap::new(),
            records: Vec::new(),
            metrics: super::metrics::Metrics::default(),
            test_notes: BTreeMap::new(),
            versions: Default::default(),
            versions_stale: false,
            qualifiers: BTreeMap::new(),
            running: Vec::new(),
            logs: LogStore::default(),
            log_inbox,
            log_dropped,
            log_wake_sent,
            notices: Vec::new(),
            picked_mount: None,
            picked_trigger_folder: None,
            triggers: None,
            triggers_error: None,
            async_history: Vec::new(),
            tuning: None,
            tuning_results: BTreeMap::new(),
            code: BTreeMap::new(),
            async_seq: 0,
            host_changed: Arc::new(AtomicBool::new(false)),
            trigger_jobs: None,
            tx,
            rx,
            wake,
            next_id: 1,
            dialog: None,
            native_dialogs: native_dialogs_at_start(),
            in_app_dialog: None,
            dirty: false,
            last_save: Instant::now(),
            last_watch: Instant::now(),
            saver: None,
        };
        c.start_saver()?;
        c.start_trigger_worker()?;
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
        self.runtime.set_cpu_share(self.workspace.cpu_share);
        self.selected = self.workspace.functions.first().map(|f| f.name.clone());
        self.selected_machine = None;
        self.shown_execution.clear();
        self.machines_seen = 0;
        self.refresh_machine_status();
        for name in self.function_names() {
            self.deploy(&name);
        }
        self.start_trigger_host(dir);
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

    /// Whether the Code tab holds changes not deployed.
    pub fn code_unsaved(&self, name: &str) -> bool {
        self.code.get(name).is_some_and(code::CodeBuffer::unsaved)
    }

    /// The code path of an entry, resolved against the workspace folder.
    pub fn code_path(&self, entry: &FunctionEntry) -> PathBuf {
        if entry.code.is_absolute() {
            entry.code.clone()
        } else {
            self.workspace_dir.join(&entry.code)
        }
    }

    fn function_names(&self) -> Vec<String> {
        self.workspace
            .functions
            .iter()
            .map(|f| f.name.clone())
            .collect()
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
        if let Some((kind, opened, promise)) = self.dialog.take() {
            match promise.try_take() {
                // Nothing, sooner than a person can cancel: there is no
                // native dialog here. Use the app's own, now and from now on.
                Ok(None) if opened.elapsed() < NO_DIALOG_WITHIN => {
                    self.native_dialogs = NativeDialogs::Missing;
                    self.open_dialog(kind);
                }
                Ok(result) => self.on_dialog(kind, result),
                Err(promise) => self.dialog = Some((kind, opened, promise)),
            }
        }
        if self.last_watch.elapsed() > Duration::from_secs(1) {
            self.last_watch = Instant::now();
            self.watch_code_files();
        }
        if self.dirty && self.last_save.elapsed() > Duration::from_millis(300) {
            self.save();
        }
        if let Some(host) = &self.triggers
            && self.host_changed.swap(false, Ordering::AcqRel)
        {
            self.versions_stale = true;
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
        self.refresh_versions();
        self.sync_machines();
    }

    /// Whether background work is under way (the UI keeps repainting).
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
            || self.tuning.is_some()
            || self.dialog.is_some()
            || self.in_app_dialog.is_some()
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
                        name.clone(),
                        FunctionStatus {
                            deploy,
                            code_mtime: mtime,
                        },
                    );
                    self.after_deploy(&name);
                }
            }
            Msg::Invoked { batch, record } => {
                if let Some(r) = self.running.iter_mut().find(|r| r.batch == batch) {
                    r.remaining = r.remaining.saturating_sub(1);
                }
                self.push_record(*record);
            }
            Msg::CodeLoaded(name, loaded) => self.on_code_loaded(&name, *loaded),
            Msg::CodeSaved(name, result) => self.on_code_saved(&name, result),
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
            Msg::Tuned { function, result } => self.on_tuned(function, result),
            Msg::FunctionChanged(change) => self.on_function_changed(change),
        }
    }

    /// Applies one command from a view: the only place the state changes.
    pub fn handle(&mut self, command: Command) {
        match command {
            // Functions.
            Command::Select(name) => {
                self.selected = Some(name);
                self.selected_machine = None;
            }
            Command::SelectMachine(name) => self.selected_machine = Some(name),
            Command::CloseMachine => self.selected_machine = None,
            Command::NewMachine(i) => self.new_machine(i),
            Command::EditDefinition(name, text) => self.edit_definition(&name, text),
            Command::EditMachineInput(name, text) => self.edit_machine_input(&name, text),
            Command::SelectMachineInput(name, i) => self.select_machine_input(&name, i),
            Command::NewMachineInput(name, input) => self.new_machine_input(&name, &input),
            Command::RenameMachineInput(name, i, input) => {
                self.rename_machine_input(&name, i, &input);
            }
            Command::DeleteMachineInput(name, i) => self.delete_machine_input(&name, i),
            Command::DeleteMachine(name) => self.delete_machine(&name),
            Command::CreateFunction {
                blueprint,
                name,
                runtime_id,
            } => self.create_function(blueprint, name, runtime_id),
            // The Code tab.
            Command::OpenCode(name) => self.open_code(&name),
            Command::ReloadCode(name) => self.load_code(&name),
            Command::EditCode(name, i, text) => self.edit_code(&name, i, text),
            Command::SelectCodeFile(name, i) => self.select_code_file(&name, i),
            Command::NewCodeFile(name, path) => self.new_code_file(&name, &path),
            Command::RenameCodeFile(name, i, path) => self.rename_code_file(&name, i, &path),
            Command::DeleteCodeFile(name, i) => self.delete_code_file(&name, i),
            Command::DeployCode(name) => self.deploy_code(&name, None),
            Command::StartExecution(name) => self.start_execution(&name),
            Command::ShowExecution(name, arn) => {
                self.shown_execution.insert(name, arn);
            }
            Command::StopExecution(arn) => self.stop_execution(&arn),
            Command::AddFunctionDialog => self.open_dialog(DialogKind::AddFunctions),
            Command::AddFunctions(paths) => {
                for path in paths {
                    self.add_function(&path);
                }
            }
            Command::Remove(name) => self.remove_function(&name),
            Command::Duplicate(name) => self.duplicate_function(&name),
            Command::ApplyConfig(name, config) => self.apply_config(&name, config),
            Command::ForceCold(name) => self.force_cold(&name),
            Command::RevealCode(name) => self.reveal_code(&name),
            Command::PickMountFolder(name, i) => self.open_dialog(DialogKind::MountFolder(name, i)),
            Command::TakePickedMount => self.picked_mount = None,
            Command::OpenWorkspaceDialog => self.open_dialog(DialogKind::OpenWorkspace),
            // Invocations.
            Command::Invoke {
                function,
                times,
                parallel,
            } => {
                // Test deploys the editor's changes first, as the Lambda console's.
                if self.code_unsaved(&function) {
                    self.deploy_code(&function, Some((times, parallel)));
                } else {
                    self.invoke(&function, times, parallel);
                }
            }
            Command::InvokeAsync(name) => self.invoke_async(&name),
            Command::DryRun(name) => self.dry_run(&name),
            // Versions and aliases.
            Command::SetQualifier(name, q) => self.set_qualifier(&name, q),
            Command::PublishVersion(name, description) => self.publish_version(&name, description),
            Command::DeleteVersion(name, v) => self.delete_version(&name, v),
            Command::SaveAlias(edit) => self.save_alias(edit),
            Command::DeleteAlias(name, alias) => self.delete_alias(&name, &alias),
            Command::Cancel(name) => self.cancel(&name),
            // Test events.
            Command::SelectEvent(name, i) => self.select_event(&name, i),
            Command::EditEvent(name, i, body) => self.edit_event(&name, i, body),
            Command::NewEvent(name, event_name, body) => self.new_event(&name, &event_name, body),
            Command::RenameEvent(name, i, new_name) => self.rename_event(&name, i, &new_name),
            Command::DuplicateEvent(name, i) => self.duplicate_event(&name, i),
            Command::DeleteEvent(name, i) => self.delete_event(&name, i),
            Command::ImportEventDialog(name) => self.open_dialog(DialogKind::ImportEvent(name)),
            Command::ExportEventDialog(name, i) => {
                self.open_dialog(DialogKind::ExportEvent(name, i));
            }
            // Triggers.
            Command::AddTrigger(name, source, qualifier) => {
                self.add_trigger(&name, source, qualifier);
            }
            Command::UpdateTrigger(name, trigger) => self.update_trigger(&name, trigger),
            Command::RemoveTrigger(name, id) => self.remove_trigger(&name, &id),
            Command::SetTriggerEnabled(name, id, enabled) => {
                self.set_trigger_enabled(&name, &id, enabled);
            }
            Command::PickTriggerFolder(name) => self.open_dialog(DialogKind::TriggerFolder(name)),
            Command::TakePickedTriggerFolder => self.picked_trigger_folder = None,
            Command::SendMessage(queue, body) => self.send_message(queue, body),
            Command::PutRecord { stream, key, data } => self.put_record(stream, key, data),
            Command::SetClockSpeed(speed) => self.set_clock_speed(speed),
            Command::SetCpuShare(share) => self.set_cpu_share(share),
            // Power tuning.
            Command::StartTuning(name, options) => self.start_tuning(&name, options),
            Command::CancelTuning => self.cancel_tuning(),
            Command::ApplyTunedMemory(name, mb) => self.apply_tuned_memory(&name, mb),
            Command::DialogPicked(kind, result) => {
                if self.in_app_dialog.as_ref().is_some_and(|(k, _)| *k == kind) {
                    self.in_app_dialog = None;
                    self.on_dialog(kind, result);
                }
            }
            // Logs.
            Command::ClearLogs => self.logs.clear(),
            Command::SetLogView { cap, filter } => {
                self.logs.set_cap(cap);
                self.logs.set_filter(filter);
            }
            // Notices.
            Command::DismissNotice(i) => {
                if i < self.notices.len() {
                    self.notices.remove(i);
                }
            }
        }
    }
}
