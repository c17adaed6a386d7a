//! The app's panels: the function list and the selected function with its
//! tabs (each in a file of its own: `test_tab`, `config_tab`, `monitor_tab`,
//! `triggers_tab`). Each `…_ui` function reads the state and pushes
//! [`Command`]s; none of them changes the runtime or the workspace directly.

use std::time::Duration;

use egui::{Color32, RichText, Ui};

use super::config_tab::config_tab_ui;
use super::controller::{Command, Controller, DeployState};
use super::monitor_tab::monitor_tab_ui;
use super::state::{CreateForm, Tab, UiState};
pub use super::test_tab::invoke_blocker;
use super::test_tab::test_tab_ui;
use super::theme;
use crate::runtime::{CodeSource, report::as_ms};

/// The function list with status badges.
pub fn functions_ui(
    ui: &mut Ui,
    c: &Controller,
    create: &mut Option<CreateForm>,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.heading("Functions");
        if ui
            .button("Create…")
            .on_hover_text("A new JavaScript or Python function written here: author from scratch, or from a blueprint (as the Lambda console's Create function)")
            .clicked()
        {
            *create = Some(CreateForm::default());
        }
    });
    ui.separator();
    if c.workspace.functions.is_empty() {
        ui.label(
            RichText::new(
                "No functions yet. Add function… (Ctrl+O), or drop .wasm, .wat, .zip, .js or .py files (or a folder of JavaScript or Python) on the window.",
            )
            .weak(),
        );
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for f in &c.workspace.functions {
                let selected = c.selected.as_deref() == Some(f.name.as_str());
                let (badge, color) = badge(c, &f.name, ui);
                ui.horizontal(|ui| {
                    let r = ui.selectable_label(selected, RichText::new(&f.name).strong());
                    if r.clicked() {
                        cmds.push(Command::Select(f.name.clone()));
                    }
                    r.context_menu(|ui| {
                        if ui.button("Duplicate").clicked() {
                            cmds.push(Command::Duplicate(f.name.clone()));
                            ui.close();
                        }
                        if ui.button("Remove").clicked() {
                            cmds.push(Command::Remove(f.name.clone()));
                            ui.close();
                        }
                    });
                    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                        if badge == "running" || badge == "loading" {
                            ui.add(egui::Spinner::new().size(12.0));
                        }
                        ui.label(RichText::new(badge).color(color));
                    });
                });
            }
        });
}

/// The function list's badge and its colour (readable in both themes).
pub fn badge(c: &Controller, name: &str, ui: &Ui) -> (String, Color32) {
    let dark = ui.visuals().dark_mode;
    let weak = ui.visuals().weak_text_color();
    match c.status.get(name).map(|s| &s.deploy) {
        Some(DeployState::Deploying) | None => return ("loading".into(), weak),
        Some(DeployState::Failed(_)) => return ("error".into(), theme::error(dark)),
        Some(DeployState::Ready(_)) => {}
    }
    if c.running.iter().any(|r| r.function == name) {
        return ("running".into(), theme::ok(dark));
    }
    match c.runtime.environments(name).len() {
        0 => ("no environment".into(), weak),
        n => (format!("{n} warm"), theme::warm(dark)),
    }
}

/// The header of the selected function and its tabs.
pub fn function_ui(ui: &mut Ui, c: &Controller, state: &mut UiState, cmds: &mut Vec<Command>) {
    let Some(name) = c.selected.clone() else {
        ui.centered_and_justified(|ui| ui.label("Add a function to begin"));
        return;
    };
    let Some(entry) = c.entry(&name) else { return };
    ui.horizontal(|ui| {
        ui.heading(&name);
        super::versions_tab::qualifier_ui(ui, c, &name, cmds);
        match c.status.get(&name).map(|s| &s.deploy) {
            Some(DeployState::Ready(info)) => {
                let kind = super::code_tab::module_kind_text(info.kind, &entry.config.handler, entry.config.runtime);
                ui.add(egui::Label::new(RichText::new(kind).weak()).truncate())
                    .on_hover_text(format!(
                        "{}\nCodeSha256 {}\n{} KB, {}\nMore in the Code tab",
                        c.code_path(entry).display(),
                        info.code_sha256_base64(),
                        info.code_size / 1024,
                        source_label(info.load.0, info.load.1)
                    ));
            }
            Some(DeployState::Deploying) | None => {
                ui.add(egui::Spinner::new());
                if entry.config.runtime.is_source() {
                    // The runtime's module compiles once per machine (then
                    // it is read from the cache).
                    let language = entry.config.runtime.title();
                    ui.label(format!("Loading code and the {language} runtime…")).on_hover_text(
                        format!("The {language} runtime (a WebAssembly module) is prepared, snapshotted and compiled once on this machine (seconds), then loaded from the cache"),
                    );
                } else {
                    ui.label("Loading code…");
                }
            }
            Some(DeployState::Failed(e)) => {
                ui.add(
                    egui::Label::new(
                        RichText::new(format!("Cannot run: {e}"))
                            .color(theme::error(ui.visuals().dark_mode)),
                    )
                    .truncate(),
                );
            }
        }
    });
    ui.horizontal(|ui| {
        for (tab, label, tip) in [
            (Tab::Test, "Test", "Test events, invoke and the result"),
            (
                Tab::Code,
                "Code",
                "The code: its files in an editor (JavaScript, Python), size, CodeSha256, kind",
            ),
            (
                Tab::Configuration,
                "Configuration",
                "Handler, memory, timeout, environment, role",
            ),
            (
                Tab::Versions,
                "Versions",
                "Publish versions; aliases with weighted routing",
            ),
            (
                Tab::Monitor,
                "Monitor",
                "Durations over time, environments and history",
            ),
            (
                Tab::Triggers,
                "Triggers",
                "Schedules, HTTP routes, folders, queues, streams and asynchronous invocation",
            ),
            (
                Tab::Tuning,
                "Power tuning",
                "Run at several memory sizes and find the cheapest or fastest",
            ),
        ] {
            if ui
                .selectable_label(state.tab == tab, label)
                .on_hover_text(tip)
                .clicked()
            {
                state.tab = tab;
            }
        }
    });
    ui.separator();
    match state.tab {
        Tab::Test => test_tab_ui(ui, c, &name, state, cmds),
        Tab::Code => super::code_tab::code_tab_ui(ui, c, &name, &mut state.live.code, cmds),
        Tab::Configuration => config_tab_ui(ui, c, &name, state, cmds),
        Tab::Versions => {
            super::versions_tab::versions_tab_ui(ui, c, &name, &mut state.live.versions, cmds);
        }
        Tab::Monitor => monitor_tab_ui(ui, c, &name, state, cmds),
        Tab::Tuning => {
            super::tuning_tab::tuning_tab_ui(ui, c, &name, &mut state.live.tuning, cmds);
        }
        Tab::Triggers => {
            super::triggers_tab::triggers_tab_ui(ui, c, &name, &mut state.live.triggers_tab, cmds);
            if let Some(id) = state.live.triggers_tab.show_request.take() {
                state.log_filter.request_id = Some(id);
            }
        }
    }
}

fn source_label(source: CodeSource, d: Duration) -> String {
    let what = match source {
        CodeSource::Compiled => "compiled",
        CodeSource::DiskCache => "loaded from the compile cache",
        CodeSource::Memory => "already in memory",
    };
    format!("{what} in {:.1} ms", as_ms(d))
}

/// Lambda's runtime identifiers the *Create function* window offers, newest
/// first.
const CREATE_RUNTIMES: [&str; 10] = [
    "nodejs24.x",
    "nodejs22.x",
    "nodejs20.x",
    "nodejs18.x",
    "python3.14",
    "python3.13",
    "python3.12",
    "python3.11",
    "python3.10",
    "python3.9",
];

/// A runtime identifier as the Lambda console names it (`Node.js 22.x`,
/// `Python 3.13`).
fn runtime_label(id: &str) -> String {
    if let Some(v) = id.strip_prefix("nodejs") {
        format!("Node.js {v}")
    } else if let Some(v) = id.strip_prefix("python") {
        format!("Python {v}")
    } else {
        id.to_owned()
    }
}

/// The *Create function* window, as the Lambda console's: a name, a
/// runtime, and author from scratch (the hello-world blueprint) or another
/// blueprint of that language.
pub fn create_window_ui(
    ctx: &egui::Context,
    c: &Controller,
    create: &mut Option<CreateForm>,
    cmds: &mut Vec<Command>,
) {
    let Some(form) = create else { return };
    let mut open = true;
    let mut done = false;
    egui::Window::new("Create function")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_TOP, [0.0, 80.0])
        .default_width(460.0)
        .show(ctx, |ui| {
            let dark = ui.visuals().dark_mode;
            egui::Grid::new("create-function")
                .num_columns(2)
                .spacing([12.0, 8.0])
                .show(ui, |ui| {
                    let name_label = ui.label("Function name");
                    ui.add(
                        egui::TextEdit::singleline(&mut form.name)
                            .hint_text("myFunctionName")
                            .desired_width(260.0),
                    )
                    .labelled_by(name_label.id);
                    ui.end_row();
                    let runtime = ui.label("Runtime");
                    egui::ComboBox::from_id_salt("create-runtime")
                        .selected_text(runtime_label(&form.runtime_id))
                        .show_ui(ui, |ui| {
                            for id in CREATE_RUNTIMES {
                                ui.selectable_value(
                                    &mut form.runtime_id,
                                    id.to_owned(),
                                    runtime_label(id),
                                );
                            }
                        })
                        .response
                        .labelled_by(runtime.id);
                    ui.end_row();
                });
            let language = crate::model::config::language_of_runtime_id(&form.runtime_id)
                .unwrap_or(crate::model::Language::Javascript);
            ui.add_space(4.0);
            ui.label(RichText::new("Start from").strong());
            let blueprints = crate::model::function_blueprints::FUNCTION_BLUEPRINTS;
            for b in blueprints.iter().filter(|b| b.language == language) {
                let title = if b.name == "hello-world" {
                    "Author from scratch (hello-world)".to_owned()
                } else {
                    format!("Blueprint: {}", b.name)
                };
                ui.radio_value(&mut form.blueprint, b.name.to_owned(), title)
                    .on_hover_text(b.description);
            }
            let chosen = blueprints
                .iter()
                .position(|b| b.language == language && b.name == form.blueprint);
            if let Some(b) = chosen.and_then(|i| blueprints.get(i)) {
                ui.label(RichText::new(b.description).weak());
            }
            let name = form.name.trim();
            let problem = match crate::model::workspace::check_function_name(name) {
                Err(_) if name.is_empty() => Some("Enter a name for the function".to_owned()),
                Err(e) => Some(e),
                Ok(()) if c.entry(name).is_some() => {
                    Some(format!("Function already exist: {name}"))
                }
                Ok(()) if chosen.is_none() => Some("Choose how to start".to_owned()),
                Ok(()) => None,
            };
            if let Some(p) = &problem {
                ui.add(egui::Label::new(RichText::new(p).color(theme::error(dark))).wrap());
            }
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(problem.is_none(), egui::Button::new("Create function"))
                    .on_hover_text("Its files go to functions/<name> in the workspace")
                    .clicked()
                    && let Some(i) = chosen
                {
                    cmds.push(Command::CreateFunction {
                        blueprint: i,
                        name: Some(name.to_owned()),
                        runtime_id: Some(form.runtime_id.clone()),
                    });
                    done = true;
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
        });
    if !open || done {
        *create = None;
    }
}
