//! The desktop console (eframe/egui) on top of the runtime. `ui()` only lays
//! out panels; views return commands that the controller applies after the
//! frame; background results are drained in `logic()`.

pub mod code_editor;
pub mod code_tab;
pub mod config_form;
mod config_tab;
pub mod controller;
pub mod json;
pub mod log_store;
pub mod log_view;
pub mod metrics;
mod monitor_tab;
pub mod state;
pub mod states_graph;
pub mod states_view;
pub mod test_tab;
pub mod theme;
pub mod triggers_tab;
pub mod tuning_tab;
pub mod versions_tab;
pub mod views;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers, RichText};

use controller::{Command, Controller};
pub use state::{Drafts, Tab, UiState};

/// Key under which eframe stores [`UiState`].
const UI_STATE_KEY: &str = "lambdesk-ui";

/// What `--smoke-test` does: invoke a sample, screenshot the window, quit.
#[derive(Clone, Debug)]
pub struct SmokeTest {
    /// Where to write the PNG.
    pub screenshot: PathBuf,
    /// Set when finished: Ok or what went wrong.
    pub outcome: Arc<Mutex<Option<Result<(), String>>>>,
}

static PROCESS_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Records when the process started, so the smoke test can report the time to
/// the first frame. Call first thing in `main`.
pub fn mark_process_start() {
    let _ = PROCESS_START.set(Instant::now());
}

/// The eframe app.
pub struct LambdeskApp {
    /// State and commands.
    pub controller: Controller,
    /// View state.
    pub ui: UiState,
    smoke: Option<(SmokeTest, SmokeStage, Instant)>,
    first_frame_done: bool,
    /// The in-app file browser while it is open, for the dialog it answers.
    pub file_dialog: Option<(controller::DialogKind, egui_file::FileDialog)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SmokeStage {
    WaitDeploy,
    WaitResult,
    Screenshot,
    Done,
}

/// The keyboard shortcuts, for the handler and the help window.
pub const SHORTCUTS: &[(&str, &str)] = &[
    (
        "Ctrl+Enter",
        "Invoke the selected function with its test event",
    ),
    ("Ctrl+Shift+Enter", "Invoke ×N"),
    ("Ctrl+.", "Cancel running invocations"),
    ("Ctrl+Shift+F", "Format the test event's JSON"),
    ("Ctrl+O", "Add function…"),
    ("Ctrl+S", "Code tab: deploy the edited files"),
    ("Ctrl+F", "Code tab: find in the open file"),
    ("F1", "Show or hide this list"),
];

impl LambdeskApp {
    /// Creates the app on the workspace in `dir`.
    pub fn new(
        cc: &eframe::CreationContext<'_>,
        dir: PathBuf,
        smoke: Option<SmokeTest>,
    ) -> anyhow::Result<Self> {
        let ctx = cc.egui_ctx.clone();
        let wake: controller::Wake = Arc::new(move || ctx.request_repaint());
        let controller = Controller::new(dir, wake)?;
        let ui: UiState = cc
            .storage
            .and_then(|s| eframe::get_value(s, UI_STATE_KEY))
            .unwrap_or_default();
        // The symbols the in-app file browser draws, which egui's fonts lack.
        cc.egui_ctx.add_font(egui::epaint::text::FontInsert::new(
            "dialog-symbols",
            egui::FontData::from_static(include_bytes!("../../assets/fonts/dialog-symbols.ttf")),
            [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
                .into_iter()
                .map(|family| egui::epaint::text::InsertFontFamily {
                    family,
                    priority: egui::epaint::text::FontPriority::Lowest,
                })
                .collect(),
        ));
        cc.egui_ctx.set_theme(if ui.dark {
            egui::Theme::Dark
        } else {
            egui::Theme::Light
        });
        Ok(Self {
            controller,
            ui,
            smoke: smoke.map(|s| (s, SmokeStage::WaitDeploy, Instant::now())),
            first_frame_done: false,
            file_dialog: None,
        })
    }

    fn shortcuts(&mut self, ctx: &egui::Context, cmds: &mut Vec<Command>) {
        let selected = self.controller.selected.clone();
        let pressed =
            |mods, key| ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(mods, key)));
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::Enter) {
            if let Some(f) = &selected
                && views::invoke_blocker(&self.controller, f).is_none()
            {
                cmds.push(Command::Invoke {
                    function: f.clone(),
                    times: self.ui.invoke_times,
                    parallel: 1,
                });
            }
        } else if pressed(Modifiers::COMMAND, Key::Enter)
            && let Some(f) = &selected
            && views::invoke_blocker(&self.controller, f).is_none()
        {
            cmds.push(Command::Invoke {
                function: f.clone(),
                times: 1,
                parallel: 1,
            });
        }
        if pressed(Modifiers::COMMAND, Key::Period)
            && let Some(f) = &selected
        {
            cmds.push(Command::Cancel(f.clone()));
        }
        if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::F)
            && let Some(f) = selected.as_deref().and_then(|f| self.controller.entry(f))
            && let Some(e) = f.events.get(f.selected_event)
            && let Some(pretty) = json::format(&e.body)
        {
            cmds.push(Command::EditEvent(f.name.clone(), f.selected_event, pretty));
        }
        if pressed(Modifiers::COMMAND, Key::O) {
            cmds.push(Command::AddFunctionDialog);
        }
        if pressed(Modifiers::NONE, Key::F1) {
            self.ui.show_help = !self.ui.show_help;
        }
    }

    /// The in-app file browser (egui_file), where the desktop offers no
    /// native dialog: opened when the controller asks, its answer returned
    /// as a command.
    fn file_dialog_ui(&mut self, ctx: &egui::Context, cmds: &mut Vec<Command>) {
        let wanted = self.controller.in_app_dialog.clone();
        match (&wanted, &self.file_dialog) {
            (Some((kind, start)), open) if open.as_ref().map(|(k, _)| k) != Some(kind) => {
                let mut d = if kind.picks_folder() {
                    egui_file::FileDialog::select_folder()
                } else if kind.saves() {
                    egui_file::FileDialog::save_file().default_filename("event.json")
                } else {
                    egui_file::FileDialog::open_file()
                }
                .title(kind.title())
                .initial_path(start.clone())
                .multi_select(kind.picks_many());
                let extensions = kind.extensions();
                if !extensions.is_empty() && !kind.saves() {
                    d = d.show_files_filter(Box::new(move |p: &std::path::Path| {
                        p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| extensions.contains(&e))
                    }));
                }
                d.open();
                self.file_dialog = Some((kind.clone(), d));
            }
            (None, Some(_)) => self.file_dialog = None,
            _ => {}
        }
        let Some((kind, d)) = &mut self.file_dialog else {
            return;
        };
        match d.show(ctx).state() {
            egui_file::State::Open => {}
            egui_file::State::Selected => {
                let mut paths: Vec<std::path::PathBuf> =
                    d.selection().iter().map(|p| p.to_path_buf()).collect();
                if paths.is_empty()
                    && let Some(p) = d.path()
                {
                    paths.push(p.to_path_buf());
                }
                cmds.push(Command::DialogPicked(kind.clone(), Some(paths)));
                self.file_dialog = None;
            }
            egui_file::State::Cancelled | egui_file::State::Closed => {
                cmds.push(Command::DialogPicked(kind.clone(), None));
                self.file_dialog = None;
            }
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("λ Lambdesk").strong().size(16.0));
            ui.separator();
            if ui
                .button("Add function…")
                .on_hover_text("Load a .wasm, .wat, .zip or .js file (Ctrl+O), or drop files or a folder on the window")
                .clicked()
            {
                cmds.push(Command::AddFunctionDialog);
            }
            if ui
                .button("Open workspace…")
                .on_hover_text(format!(
                    "Workspace folder now: {}",
                    self.controller.workspace_dir.display()
                ))
                .clicked()
            {
                cmds.push(Command::OpenWorkspaceDialog);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("Shortcuts")
                    .on_hover_text("Keyboard shortcuts (F1)")
                    .clicked()
                {
                    self.ui.show_help = !self.ui.show_help;
                }
                let label = if self.ui.dark {
                    "Light theme"
                } else {
                    "Dark theme"
                };
                if ui.button(label).clicked() {
                    self.ui.dark = !self.ui.dark;
                    ui.ctx().set_theme(if self.ui.dark {
                        egui::Theme::Dark
                    } else {
                        egui::Theme::Light
                    });
                }
                let mut share = self.controller.workspace.cpu_share == crate::model::CpuShare::Lambda;
                if ui
                    .checkbox(&mut share, "CPU by memory")
                    .on_hover_text(
                        "As in Lambda, a function gets memory / 1,769 MB of one CPU (128 MB: 7 %), \
                         so durations and costs match the cloud. Off: every function runs at full speed.",
                    )
                    .changed()
                {
                    cmds.push(Command::SetCpuShare(if share {
                        crate::model::CpuShare::Lambda
                    } else {
                        crate::model::CpuShare::Off
                    }));
                }
                let running: usize = self.controller.running.iter().map(|r| r.remaining).sum();
                if running > 0 {
                    ui.label(format!("{running} invocation(s) running"));
                }
            });
        });
    }

    /// Messages for the user, over the log panel at the bottom right (the
    /// newest three), so that no control moves, or hides, when one appears.
    fn notices_ui(&mut self, ctx: &egui::Context, cmds: &mut Vec<Command>) {
        let notices = &self.controller.notices;
        if notices.is_empty() {
            return;
        }
        let dark = ctx.global_style().visuals.dark_mode;
        egui::Area::new(egui::Id::unique("notices"))
            .order(egui::Order::Foreground)
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
            .show(ctx, |ui| {
                ui.set_max_width(460.0);
                let skip = notices.len().saturating_sub(3);
                for (i, n) in notices.iter().enumerate().skip(skip) {
                    let color = if n.is_error {
                        theme::error(dark)
                    } else {
                        theme::ok(dark)
                    };
                    egui::Frame::popup(ui.style())
                        .stroke(egui::Stroke::new(1.0, color))
                        .show(ui, |ui| {
                            ui.horizontal(|ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(&n.text).color(color)).wrap(),
                                );
                                if ui.small_button("Dismiss").clicked() {
                                    cmds.push(Command::DismissNotice(i));
                                }
                            });
                        });
                }
                if skip > 0 {
                    ui.label(RichText::new(format!("and {skip} earlier message(s)")).weak());
                }
            });
    }

    /// The log output of one request in a window of its own, as the Lambda
    /// console's Test tab shows it under a result.
    fn request_view_ui(&mut self, ctx: &egui::Context) {
        let Some(id) = self.ui.live.request_view.clone() else {
            return;
        };
        let mut open = true;
        egui::Window::new("Log output")
            .id(egui::Id::unique("request-view"))
            .open(&mut open)
            .default_size([760.0, 360.0])
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format!("Request {id}")).monospace());
                    if ui
                        .button("Copy")
                        .on_hover_text("The lines exactly as written")
                        .clicked()
                    {
                        ui.ctx()
                            .copy_text(log_view::request_text(&self.controller.logs, &id));
                    }
                    if ui
                        .button("Show in log panel")
                        .on_hover_text("Filter the log panel to this request")
                        .clicked()
                    {
                        self.ui.log_filter.request_id = Some(id.clone());
                    }
                });
                ui.separator();
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        log_view::request_lines_ui(ui, &self.controller.logs, &id)
                    });
            });
        if !open {
            self.ui.live.request_view = None;
        }
    }

    fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.ui.show_help;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("shortcuts").num_columns(2).show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.monospace(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
                ui.separator();
                ui.label("Drop .wasm, .wat, .zip, .js or .py files, or a folder of JavaScript or Python, on the window to add them.");
                ui.label("Click a log line to show only its invocation.");
            });
        self.ui.show_help = open;
    }

    fn smoke_step(&mut self, ctx: &egui::Context) {
        let Some((smoke, stage, started)) = &mut self.smoke else {
            return;
        };
        if started.elapsed() > Duration::from_secs(120) && *stage != SmokeStage::Done {
            *smoke.outcome.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(Err(format!("smoke test timed out at {stage:?}")));
            *stage = SmokeStage::Done;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        match *stage {
            SmokeStage::WaitDeploy => {
                // The function to show (hello by default) runs twice in a
                // row: a cold start, then a warm one.
                let function =
                    std::env::var("LAMBDESK_SMOKE_FUNCTION").unwrap_or_else(|_| "hello".into());
                if views::invoke_blocker(&self.controller, &function).is_none() {
                    self.controller.handle(Command::Select(function.clone()));
                    self.controller.handle(Command::Invoke {
                        function,
                        times: 2,
                        parallel: 1,
                    });
                    *stage = SmokeStage::WaitResult;
                }
            }
            SmokeStage::WaitResult => {
                let logs = &self.controller.logs;
                let reports = (0..logs.matching_len())
                    .filter(|&i| {
                        logs.matching_entry(i)
                            .is_some_and(|e| e.text.starts_with("REPORT RequestId:"))
                    })
                    .count();
                if reports >= 2 && self.controller.running.is_empty() {
                    *stage = SmokeStage::Screenshot;
                    // Which tab to photograph (for README screenshots): test,
                    // configuration, monitor, triggers, tuning (which runs one).
                    self.ui.tab = match std::env::var("LAMBDESK_SMOKE_TAB").as_deref() {
                        Ok("configuration") => Tab::Configuration,
                        Ok("code") => Tab::Code,
                        Ok("create") => {
                            // The Create function window, a name typed.
                            self.ui.live.create = Some(state::CreateForm {
                                name: "orders-api".into(),
                                blueprint: "api-gateway".into(),
                                ..Default::default()
                            });
                            Tab::Code
                        }
                        Ok("versions") => {
                            // Publishes $LATEST, so there is a version to show.
                            if let Some(name) = self.controller.selected.clone() {
                                self.controller
                                    .handle(Command::PublishVersion(name, "first release".into()));
                            }
                            Tab::Versions
                        }
                        Ok("monitor") => Tab::Monitor,
                        Ok("triggers") => Tab::Triggers,
                        Ok("tuning") => {
                            // The selected event, or LAMBDESK_SMOKE_TUNE_EVENT's JSON.
                            if let Some(name) = self.controller.selected.clone() {
                                let body =
                                    std::env::var("LAMBDESK_SMOKE_TUNE_EVENT").ok().or_else(|| {
                                        let e = self.controller.entry(&name)?;
                                        e.events.get(e.selected_event).map(|e| e.body.clone())
                                    });
                                self.controller.handle(Command::StartTuning(
                                    name,
                                    crate::host::tuning::TuneOptions {
                                        invocations: 5,
                                        events: vec![(body.unwrap_or_default().into_bytes(), 1)],
                                        ..Default::default()
                                    },
                                ));
                            }
                            Tab::Tuning
                        }
                        _ => Tab::Test,
                    };
                    // LAMBDESK_SMOKE_RUN=N photographs a run's summary.
                    if let Some(n) = std::env::var("LAMBDESK_SMOKE_RUN")
                        .ok()
                        .and_then(|n| n.parse::<usize>().ok())
                        && let Some(name) = self.controller.selected.clone()
                    {
                        self.controller.handle(Command::Invoke {
                            function: name,
                            times: n,
                            parallel: 1,
                        });
                    }
                    // LAMBDESK_SMOKE_MACHINE=BLUEPRINT photographs a state machine
                    // made from that blueprint (an execution of it with
                    // LAMBDESK_SMOKE_TAB=executions).
                    if let Ok(b) = std::env::var("LAMBDESK_SMOKE_MACHINE")
                        && let Some(i) = crate::model::states::blueprints::BLUEPRINTS
                            .iter()
                            .position(|x| x.name == b)
                    {
                        self.controller.handle(Command::NewMachine(i));
                        if std::env::var("LAMBDESK_SMOKE_TAB").as_deref() == Ok("executions")
                            && let Some(name) = self.controller.selected_machine.clone()
                        {
                            self.controller.handle(Command::StartExecution(name));
                            self.ui.live.states.tab = states_view::MachineTab::Executions;
                        }
                    }
                    // LAMBDESK_SMOKE_DIALOG=1 photographs the Add function dialog.
                    if std::env::var("LAMBDESK_SMOKE_DIALOG").as_deref() == Ok("1") {
                        self.controller.handle(Command::AddFunctionDialog);
                    }
                    if std::env::var("LAMBDESK_SMOKE_THEME").as_deref() == Ok("light") {
                        self.ui.dark = false;
                        ctx.set_theme(egui::Theme::Light);
                    }
                    let smoke = smoke.clone();
                    let ctx2 = ctx.clone();
                    // A few frames later, so the result is on screen; README
                    // screenshots wait longer while a script makes triggers fire.
                    let delay = std::env::var("LAMBDESK_SMOKE_DELAY_MS")
                        .ok()
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(500);
                    ctx.request_repaint_after(Duration::from_millis(300));
                    let _ = std::thread::Builder::new()
                        .name("lambdesk-smoke".into())
                        .spawn(move || {
                            std::thread::sleep(Duration::from_millis(delay));
                            ctx2.request_screenshot(move |image| {
                                let result = save_screenshot(&image, &smoke.screenshot);
                                *smoke.outcome.lock().unwrap_or_else(|e| e.into_inner()) =
                                    Some(result);
                            });
                            ctx2.request_repaint();
                        });
                }
            }
            SmokeStage::Screenshot => {
                if smoke.outcome.lock().map(|o| o.is_some()).unwrap_or(true) {
                    *stage = SmokeStage::Done;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            SmokeStage::Done => {}
        }
        ctx.request_repaint_after(Duration::from_millis(50));
    }
}

fn save_screenshot(image: &egui::ColorImage, path: &std::path::Path) -> Result<(), String> {
    use eframe::icon_data::IconDataExt;
    let [w, h] = image.size;
    let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let distinct = image
        .pixels
        .iter()
        .take(w * h)
        .collect::<std::collections::HashSet<_>>()
        .len();
    if distinct < 16 {
        return Err(format!(
            "the window looks blank ({distinct} distinct colours)"
        ));
    }
    let icon = egui::IconData {
        rgba,
        width: w as u32,
        height: h as u32,
    };
    let png = icon.to_png_bytes()?;
    crate::store::write_atomic(path, &png).map_err(|e| format!("writing {}: {e}", path.display()))
}

impl eframe::App for LambdeskApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.controller.poll();
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if !dropped.is_empty() {
            self.controller.handle(Command::AddFunctions(dropped));
        }
        self.smoke_step(ctx);
        if self.controller.busy() {
            // Elapsed time and spinners move while work is under way.
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut cmds = Vec::new();
        self.shortcuts(ui.ctx(), &mut cmds);
        egui::Panel::top("top").show(ui, |ui| {
            self.top_bar_ui(ui, &mut cmds);
        });
        egui::Panel::left("functions")
            .resizable(true)
            .default_size(230.0)
            .show(ui, |ui| {
                // Functions above, state machines below, each scrolling.
                let half = (ui.available_height() * 0.6).max(160.0);
                ui.allocate_ui(egui::vec2(ui.available_width(), half), |ui| {
                    views::functions_ui(ui, &self.controller, &mut self.ui.live.create, &mut cmds);
                });
                ui.add_space(8.0);
                egui::ScrollArea::vertical()
                    .id_salt("machines")
                    .show(ui, |ui| {
                        states_view::machines_list_ui(ui, &self.controller, &mut cmds);
                    });
            });
        let logs_height = (ui.available_height() * 0.3).clamp(140.0, 320.0);
        egui::Panel::bottom("logs")
            .resizable(true)
            .default_size(logs_height)
            .show(ui, |ui| {
                let names: Vec<String> = self
                    .controller
                    .workspace
                    .functions
                    .iter()
                    .map(|f| f.name.clone())
                    .collect();
                log_view::log_view_ui(
                    ui,
                    &self.controller.logs,
                    &mut self.ui.log_filter,
                    &mut self.ui.log_view,
                    &names,
                    &mut self.ui.live.request_view,
                    &mut cmds,
                );
            });
        egui::CentralPanel::default().show(ui, |ui| {
            match self.controller.selected_machine.clone() {
                Some(name) => states_view::machine_ui(
                    ui,
                    &self.controller,
                    &name,
                    &mut self.ui.live.states,
                    &mut self.ui.live.request_view,
                    &mut cmds,
                ),
                None => views::function_ui(ui, &self.controller, &mut self.ui, &mut cmds),
            }
        });
        views::create_window_ui(
            ui.ctx(),
            &self.controller,
            &mut self.ui.live.create,
            &mut cmds,
        );
        self.help_ui(ui.ctx());
        self.notices_ui(ui.ctx(), &mut cmds);
        self.request_view_ui(ui.ctx());
        self.file_dialog_ui(ui.ctx(), &mut cmds);
        if !self.first_frame_done {
            self.first_frame_done = true;
            if self.smoke.is_some()
                && let Some(start) = PROCESS_START.get()
            {
                eprintln!(
                    "lambdesk: first frame laid out {:.0} ms after start",
                    start.elapsed().as_secs_f64() * 1000.0
                );
            }
        }
        // Invoking from the console shows its own logs: a request filter
        // set earlier would hide them.
        if cmds.iter().any(|c| matches!(c, Command::Invoke { .. })) {
            self.ui.log_filter.request_id = None;
            self.ui.live.shown_record = None;
        }
        for c in cmds {
            self.controller.handle(c);
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, UI_STATE_KEY, &self.ui);
    }

    fn on_exit(&mut self) {
        if let Err(e) = self.controller.save_now() {
            eprintln!("lambdesk: saving the workspace on exit failed: {e}");
        }
    }
}

/// Opens the window. `workspace` overrides the default data folder.
pub fn run_with(workspace: Option<PathBuf>, smoke: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = workspace.unwrap_or_else(controller::default_workspace_dir);
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png"))
        .map_err(|e| anyhow::anyhow!("decoding the app icon: {e}"))?;
    // LAMBDESK_WINDOW_SIZE=WxH opens the window at that size (screenshots
    // and checks of small and large windows).
    let size = std::env::var("LAMBDESK_WINDOW_SIZE")
        .ok()
        .and_then(|v| {
            let (w, h) = v.split_once('x')?;
            Some([w.parse::<f32>().ok()?, h.parse::<f32>().ok()?])
        })
        .filter(|[w, h]| (800.0..=8192.0).contains(w) && (500.0..=8192.0).contains(h))
        .unwrap_or([1280.0, 820.0]);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Lambdesk")
            .with_app_id("dev.lambdesk.Lambdesk")
            .with_icon(Arc::new(icon))
            .with_inner_size(size)
            .with_min_inner_size([800.0, 500.0])
            .with_drag_and_drop(true),
        persist_window: smoke.is_none(),
        ..Default::default()
    };
    let smoke = smoke.map(|screenshot| SmokeTest {
        screenshot,
        outcome: Arc::new(Mutex::new(None)),
    });
    let outcome = smoke.as_ref().map(|s| s.outcome.clone());
    eframe::run_native(
        "Lambdesk",
        options,
        Box::new(move |cc| {
            let app = LambdeskApp::new(cc, dir, smoke)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("running the window: {e}"))?;
    if let Some(outcome) = outcome {
        match outcome.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(Ok(())) => {}
            Some(Err(e)) => anyhow::bail!("smoke test failed: {e}"),
            None => anyhow::bail!("smoke test failed: the window closed before the screenshot"),
        }
    }
    Ok(())
}

/// Opens the window on the default workspace.
pub fn run() -> anyhow::Result<()> {
    run_with(None, None)
}
