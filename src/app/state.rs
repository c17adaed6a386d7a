//! The app's UI state: what eframe saves between launches ([`UiState`]:
//! theme, tab, log filter and view, the N of "Invoke ×N"), and beside it the
//! live drafts ([`Drafts`]) that are never saved.

use std::collections::HashMap;

use super::config_form::ConfigDraft;
use super::log_store::Filter;
use super::log_view::LogViewState;
use super::triggers_tab::TriggersTabState;
use super::tuning_tab::TuningForm;

/// Which tab of a function is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    /// Events, invoke, result.
    #[default]
    Test,
    /// Code properties: file, size, CodeSha256, kind, exports and imports.
    Code,
    /// Settings.
    Configuration,
    /// Published versions and aliases.
    Versions,
    /// Chart, environments, history.
    Monitor,
    /// Schedules, routes, folders, queues, streams; asynchronous invocation.
    Triggers,
    /// Power tuning: memory sizes against duration and cost.
    Tuning,
}

/// UI state that persists through eframe (panel sizes are egui's own).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct UiState {
    /// Dark theme.
    pub dark: bool,
    /// Open tab.
    pub tab: Tab,
    /// Log filter.
    pub log_filter: Filter,
    /// Log viewer settings.
    pub log_view: LogViewState,
    /// N of "Invoke ×N" and "N at once".
    pub invoke_times: usize,
    /// The shortcuts window is open.
    pub show_help: bool,
    /// The Monitor tab's window and scale.
    pub monitor: MonitorView,
    /// How the Test tab invokes.
    pub invocation_type: InvocationType,
    /// What is being edited now: never saved.
    #[serde(skip)]
    pub live: Drafts,
}

/// Forms being edited: live, never saved (a restart starts from the saved
/// configuration).
#[derive(Clone, Debug, Default)]
pub struct Drafts {
    /// Settings forms being edited, per function.
    pub drafts: HashMap<String, ConfigDraft>,
    /// The event-name field's text.
    pub rename: Option<String>,
    /// Which event the rename field belongs to.
    pub rename_for: Option<String>,
    /// The Triggers tab's forms and drafts.
    pub triggers_tab: TriggersTabState,
    /// The Power tuning tab's form.
    pub tuning: TuningForm,
    /// A record the Test tab shows instead of the last (a failure picked
    /// from a run's summary).
    pub shown_record: Option<u64>,
    /// The request whose log output is shown in a window of its own.
    pub request_view: Option<String>,
    /// The Versions tab's forms.
    pub versions: super::versions_tab::VersionsForm,
    /// The state machine view's selections and cached graph.
    pub states: super::states_view::StatesForm,
    /// The Code tab's fields (file name, find).
    pub code: CodeForm,
    /// The *Create function* window, while it is open.
    pub create: Option<CreateForm>,
}

/// The *Create function* window's fields, as the Lambda console's.
#[derive(Clone, Debug)]
pub struct CreateForm {
    /// The function's name.
    pub name: String,
    /// Lambda's runtime identifier (`nodejs22.x`, `python3.13`).
    pub runtime_id: String,
    /// The blueprint's name (`hello-world` is "Author from scratch").
    pub blueprint: String,
}

impl Default for CreateForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            runtime_id: "nodejs22.x".to_owned(),
            blueprint: "hello-world".to_owned(),
        }
    }
}

/// The Code tab's own fields (never saved).
#[derive(Clone, Debug, Default)]
pub struct CodeForm {
    /// The file-name field: (function, file being renamed or `None` for a
    /// new file, the text).
    pub naming: Option<(String, Option<usize>, String)>,
    /// The find bar is open.
    pub find_open: bool,
    /// Its text.
    pub find: String,
    /// Match case.
    pub match_case: bool,
    /// The match selected (index into the matches).
    pub find_index: usize,
    /// Select this in the editor next frame (find, go to line).
    pub select: Option<super::code_editor::Selection>,
    /// Give the find field the focus next frame.
    pub focus_find: bool,
}

/// The Monitor tab's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MonitorView {
    /// The window the numbers and charts cover.
    pub window: super::metrics::Window,
    /// Durations on a logarithmic axis.
    pub log_scale: bool,
}

/// The Lambda API's `InvocationType`, as the Test tab offers it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum InvocationType {
    /// Run and wait for the response.
    #[default]
    RequestResponse,
    /// Queue for asynchronous invocation (retries, destinations).
    Event,
    /// Check the request (function, payload) without running it.
    DryRun,
}

impl InvocationType {
    /// Every type, for the picker.
    pub const ALL: [InvocationType; 3] = [Self::RequestResponse, Self::Event, Self::DryRun];

    /// The API's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
        }
    }

    /// What it does, for a tooltip.
    pub fn description(self) -> &'static str {
        match self {
            Self::RequestResponse => "Run now and wait for the response (synchronous)",
            Self::Event => {
                "Queue the event for asynchronous invocation: 202 at once, retries and destinations as configured"
            }
            Self::DryRun => {
                "Check that the function and payload would be accepted (204), without running it"
            }
        }
    }
}

impl Default for UiState {
    fn default() -> Self {
        Self {
            dark: true,
            tab: Tab::Test,
            log_filter: Filter::default(),
            log_view: LogViewState::default(),
            invoke_times: 10,
            show_help: false,
            monitor: MonitorView::default(),
            invocation_type: InvocationType::default(),
            live: Drafts::default(),
        }
    }
}
