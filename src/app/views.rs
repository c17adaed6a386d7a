//! The app's panels: the function list and the selected function with its
//! tabs (each in a file of its own: `test_tab`, `config_tab`, `monitor_tab`,
//! `triggers_tab`). Each `…_ui` function reads the state and pushes
//! [`Command`]s; none of them changes the runtime or the workspace directly.

use std::time::Duration;

use egui::{Color32, RichText, Ui};

use super::config_tab::config_tab_ui;
use super::controller::{Command, Controller, DeployState};
use super::monitor_tab::monitor_tab_ui;
use super::state::{Tab, UiState};
pub use super::test_tab::invoke_blocker;
use super::test_tab::test_tab_ui;
use super::theme;
use crate::runtime::{CodeSource, report::as_ms};

/// The function list with status badges.
pub fn functions_ui(ui: &mut Ui, c: &Controller, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("Functions");
        ui.menu_button("Create…", |ui| {
            for language in crate::model::Language::ALL.into_iter().filter(|l| l.is_source()) {
                ui.label(RichText::new(format!("{}, from a blueprint", language.title())).weak());
                for (i, b) in crate::model::function_blueprints::FUNCTION_BLUEPRINTS
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.language == language)
                {
                    if ui
                        .button(format!("{} ({})", b.name, language.title()))
                        .on_hover_text(b.description)
                        .clicked()
                    {
                        cmds.push(Command::CreateFunction(i));
                        ui.close();
                    }
                }
            }
        })
        .response
        .on_hover_text("A new function written here, from a blueprint (as the Lambda console's Author from scratch)");
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
