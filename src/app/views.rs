//! The app's panels. Each `…_ui` function reads the state and pushes
//! [`Command`]s; none of them changes the runtime or the workspace directly.

use std::time::Duration;

use egui::{Color32, RichText, Ui};

use super::controller::{Command, Controller, DeployState, Record};
use super::json;
use super::state::{Tab, UiState};
use super::theme::{COLD, ERROR, OK, WARM};
use crate::model::events::TEMPLATES;
use crate::runtime::{
    CodeSource, ErrorKind, Invocation, ModuleKind, Outcome, Phases, StartKind, report::as_ms,
};

/// Most invocations "N at once" starts.
pub const MAX_PARALLEL: usize = 64;

/// The function list with status badges.
pub fn functions_ui(ui: &mut Ui, c: &Controller, cmds: &mut Vec<Command>) {
    ui.heading("Functions");
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for f in &c.workspace.functions {
                let selected = c.selected.as_deref() == Some(f.name.as_str());
                let (badge, color) = badge(c, &f.name);
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
                        ui.label(RichText::new(badge).small().color(color));
                    });
                });
            }
        });
}

fn badge(c: &Controller, name: &str) -> (String, Color32) {
    let weak = Color32::GRAY;
    match c.status.get(name).map(|s| &s.deploy) {
        Some(DeployState::Deploying) | None => return ("loading".into(), weak),
        Some(DeployState::Failed(_)) => return ("error".into(), ERROR),
        Some(DeployState::Ready(_)) => {}
    }
    if c.running.iter().any(|r| r.function == name) {
        return ("running".into(), OK);
    }
    match c.runtime.environments(name).len() {
        0 => ("no environment".into(), weak),
        n => (format!("{n} warm"), WARM),
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
        match c.status.get(&name).map(|s| &s.deploy) {
            Some(DeployState::Ready(info)) => {
                let kind = match info.kind {
                    ModuleKind::Command => {
                        "command module (fresh instance per invocation)".to_owned()
                    }
                    ModuleKind::Handler { has_initialize, .. } => format!(
                        "handler module `{}`{}",
                        entry.config.handler,
                        if has_initialize {
                            ", INIT runs _initialize"
                        } else {
                            ""
                        }
                    ),
                };
                ui.label(RichText::new(kind).weak()).on_hover_text(format!(
                    "{}\nSHA-256 {}\n{} KB, {}",
                    c.code_path(entry).display(),
                    info.code_sha256,
                    info.code_size / 1024,
                    source_label(info.load.0, info.load.1)
                ));
            }
            Some(DeployState::Deploying) | None => {
                ui.add(egui::Spinner::new());
                ui.label("Loading code…");
            }
            Some(DeployState::Failed(e)) => {
                ui.label(RichText::new(format!("Cannot run: {e}")).color(ERROR));
            }
        }
    });
    ui.horizontal(|ui| {
        for (tab, label, tip) in [
            (Tab::Test, "Test", "Test events, invoke and the result"),
            (
                Tab::Configuration,
                "Configuration",
                "Handler, memory, timeout, environment, role",
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
        Tab::Configuration => config_tab_ui(ui, c, &name, state, cmds),
        Tab::Monitor => monitor_tab_ui(ui, c, &name, state, cmds),
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

/// Why Invoke is disabled, if it is.
pub fn invoke_blocker(c: &Controller, name: &str) -> Option<String> {
    let entry = c.entry(name)?;
    match c.status.get(name).map(|s| &s.deploy) {
        Some(DeployState::Ready(_)) => {}
        Some(DeployState::Failed(e)) => return Some(format!("The code cannot run: {e}")),
        _ => return Some("The code is still loading".into()),
    }
    let Some(event) = entry.events.get(entry.selected_event) else {
        return Some("Create a test event first".into());
    };
    json::check(&event.body)
        .err()
        .map(|p| format!("The event is not valid JSON ({p})"))
}

fn test_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    egui::Panel::left("events")
        .resizable(true)
        .default_size(ui.available_width() * 0.5)
        .show(ui, |ui| {
            events_ui(ui, c, name, state, cmds);
        });
    egui::CentralPanel::default().show(ui, |ui| {
        invoke_bar_ui(ui, c, name, state, cmds);
        ui.separator();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                match c.last_record(name, None) {
                    Some(record) => result_ui(ui, record),
                    None => {
                        ui.label(
                            RichText::new("No invocations yet. Press Invoke (Ctrl+Enter).").weak(),
                        );
                    }
                }
                ui.add_space(8.0);
                ui.label(RichText::new("Last cold and last warm start").strong());
                ui.columns(2, |cols| {
                    for (col, kind) in cols.iter_mut().zip([StartKind::Cold, StartKind::Warm]) {
                        match c
                            .last_record(name, Some(kind))
                            .and_then(|r| r.result.as_ref().ok())
                        {
                            Some(inv) => timeline_ui(col, inv),
                            None => {
                                col.label(
                                    RichText::new(format!(
                                        "No {} start yet",
                                        kind.label().to_lowercase()
                                    ))
                                    .weak(),
                                );
                            }
                        }
                    }
                });
            });
    });
}

fn events_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(RichText::new("Test event").strong());
        let selected_name = entry
            .events
            .get(entry.selected_event)
            .map_or("none", |e| e.name.as_str());
        egui::ComboBox::from_id_salt("event-select")
            .selected_text(selected_name)
            .show_ui(ui, |ui| {
                for (i, e) in entry.events.iter().enumerate() {
                    if ui.selectable_label(i == entry.selected_event, &e.name).clicked() {
                        cmds.push(Command::SelectEvent(name.to_owned(), i));
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.menu_button("New from template…", |ui| {
            if ui.button("Empty event").clicked() {
                cmds.push(Command::NewEvent(name.to_owned(), "event".into(), "{}".into()));
                ui.close();
            }
            ui.separator();
            for t in TEMPLATES {
                if ui.button(t.name).on_hover_text(t.description).clicked() {
                    cmds.push(Command::NewEvent(name.to_owned(), t.name.to_owned(), t.body.trim().to_owned()));
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text("Lambda-shaped sample events: API Gateway, S3, SQS, SNS, EventBridge, DynamoDB, Kinesis…");
    });
    let i = entry.selected_event;
    let Some(event) = entry.events.get(i) else {
        ui.label(RichText::new("No test event. Create one from a template.").weak());
        return;
    };
    ui.horizontal_wrapped(|ui| {
        let rename = state.live.rename.get_or_insert_with(|| event.name.clone());
        if state.live.rename_for.as_deref() != Some(&format!("{name}/{i}")) {
            *rename = event.name.clone();
            state.live.rename_for = Some(format!("{name}/{i}"));
        }
        let r = ui.add(
            egui::TextEdit::singleline(rename)
                .desired_width(140.0)
                .hint_text("Event name"),
        );
        if r.lost_focus() && *rename != event.name {
            cmds.push(Command::RenameEvent(name.to_owned(), i, rename.clone()));
        }
        r.on_hover_text("Rename: type and press Enter");
        if ui
            .button("Format")
            .on_hover_text("Pretty-print the JSON (Ctrl+Shift+F)")
            .clicked()
            && let Some(pretty) = json::format(&event.body)
        {
            cmds.push(Command::EditEvent(name.to_owned(), i, pretty));
        }
        if ui.button("Duplicate").clicked() {
            cmds.push(Command::DuplicateEvent(name.to_owned(), i));
        }
        if ui.button("Delete").clicked() {
            cmds.push(Command::DeleteEvent(name.to_owned(), i));
        }
        if ui
            .button("Import…")
            .on_hover_text("Add events from JSON files")
            .clicked()
        {
            cmds.push(Command::ImportEventDialog(name.to_owned()));
        }
        if ui
            .button("Export…")
            .on_hover_text("Save this event to a JSON file")
            .clicked()
        {
            cmds.push(Command::ExportEventDialog(name.to_owned(), i));
        }
    });
    let status = match json::check(&event.body) {
        Ok(_) => ui.label(RichText::new("Event JSON: valid").small().color(OK)),
        Err(p) => ui.label(
            RichText::new(format!(
                "Invalid JSON at line {}, column {}: {}",
                p.line, p.column, p.message
            ))
            .color(ERROR),
        ),
    };
    let mut body = event.body.clone();
    let dark = ui.visuals().dark_mode;
    let mut layouter = |ui: &Ui, text: &dyn egui::TextBuffer, wrap_width: f32| {
        let mut job = json::highlight(
            text.as_str(),
            egui::TextStyle::Monospace.resolve(ui.style()),
            dark,
        );
        job.wrap.max_width = wrap_width;
        ui.fonts_mut(|f| f.layout_job(job))
    };
    egui::ScrollArea::vertical()
        .id_salt("event-editor")
        .show(ui, |ui| {
            let r = ui
                .add(
                    egui::TextEdit::multiline(&mut body)
                        .id_salt("event-body")
                        .code_editor()
                        .desired_width(f32::INFINITY)
                        .desired_rows(18)
                        .layouter(&mut layouter),
                )
                .labelled_by(status.id);
            if r.changed() {
                cmds.push(Command::EditEvent(name.to_owned(), i, body.clone()));
            }
        });
}

fn invoke_bar_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let blocker = invoke_blocker(c, name);
    let running: Vec<_> = c.running.iter().filter(|r| r.function == name).collect();
    ui.horizontal_wrapped(|ui| {
        let invoke = ui
            .add_enabled(blocker.is_none(), egui::Button::new(RichText::new("Invoke").strong()))
            .on_hover_text("Invoke with the selected test event (Ctrl+Enter)");
        let invoke = match &blocker {
            Some(reason) => invoke.on_disabled_hover_text(reason),
            None => invoke,
        };
        if invoke.clicked() {
            cmds.push(Command::Invoke { function: name.to_owned(), times: 1, parallel: 1 });
        }
        ui.separator();
        let n_label = ui.label("N");
        ui.add(egui::DragValue::new(&mut state.invoke_times).range(1..=1_000))
            .labelled_by(n_label.id)
            .on_hover_text("How many invocations for the two buttons on the right");
        let n = state.invoke_times;
        if ui
            .add_enabled(blocker.is_none(), egui::Button::new(format!("Invoke ×{n}")))
            .on_hover_text("One after the other: the first may be cold, the rest are warm (Ctrl+Shift+Enter)")
            .clicked()
        {
            cmds.push(Command::Invoke { function: name.to_owned(), times: n, parallel: 1 });
        }
        let parallel = n.min(MAX_PARALLEL);
        if ui
            .add_enabled(blocker.is_none(), egui::Button::new(format!("{parallel} at once")))
            .on_hover_text(format!(
                "Concurrent invocations (at most {MAX_PARALLEL}) run in separate environments; beyond reserved concurrency they are throttled"
            ))
            .clicked()
        {
            cmds.push(Command::Invoke { function: name.to_owned(), times: 1, parallel });
        }
        if !running.is_empty() {
            ui.separator();
            ui.add(egui::Spinner::new());
            let elapsed = running.iter().map(|r| r.started.elapsed()).max().unwrap_or_default();
            let left: usize = running.iter().map(|r| r.remaining).sum();
            ui.label(format!("Running {:.1} s ({left} left)", elapsed.as_secs_f64()));
            if ui.button("Cancel").on_hover_text("Stop the running invocations (Ctrl+.)").clicked() {
                cmds.push(Command::Cancel(name.to_owned()));
            }
        }
    });
    if let Some(reason) = blocker {
        ui.label(
            RichText::new(format!("Invoke is disabled: {reason}"))
                .small()
                .color(ERROR),
        );
    }
}

/// The summary line of an invocation.
pub fn summary(inv: &Invocation) -> String {
    let r = &inv.report;
    let mut s = format!(
        "{} start · Duration {:.2} ms · Billed {} ms",
        inv.start.label(),
        r.duration_ms,
        r.billed_duration_ms
    );
    if let Some(init) = r.init_duration_ms {
        s.push_str(&format!(" · Init {init:.2} ms"));
    }
    s.push_str(&format!(
        " · Memory {} MB, max used {} MB · Cost ${:.10}",
        r.memory_size_mb, r.max_memory_used_mb, r.cost_usd
    ));
    s
}

fn result_ui(ui: &mut Ui, record: &Record) {
    match &record.result {
        Err(e) => {
            ui.label(RichText::new(e.error_type()).strong().color(ERROR));
            ui.label(RichText::new(e.to_string()).color(ERROR));
        }
        Ok(inv) => {
            let (title, color) = match &inv.outcome {
                Outcome::Response(_) => ("Succeeded".to_owned(), OK),
                Outcome::Error(e) => (
                    format!("Failed ({} error)", e.kind.label().to_lowercase()),
                    ERROR,
                ),
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(title).strong().color(color));
                let kind_color = if inv.start == StartKind::Cold {
                    COLD
                } else {
                    WARM
                };
                ui.label(RichText::new(inv.start.label()).strong().color(kind_color));
                ui.label(summary(inv));
            });
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Request {}", inv.request_id))
                        .small()
                        .weak(),
                );
                if ui.small_button("Copy request id").clicked() {
                    ui.ctx().copy_text(inv.request_id.clone());
                }
                if ui.small_button("Copy response").clicked() {
                    ui.ctx()
                        .copy_text(String::from_utf8_lossy(&inv.payload()).into_owned());
                }
                if ui.small_button("Copy report").clicked() {
                    ui.ctx().copy_text(inv.report.line(&inv.request_id));
                }
            });
            match &inv.outcome {
                Outcome::Response(bytes) => response_ui(ui, bytes),
                Outcome::Error(e) => {
                    egui::Frame::group(ui.style())
                        .stroke(egui::Stroke::new(1.0, ERROR))
                        .show(ui, |ui| {
                            ui.label(
                                RichText::new(format!("errorType: {}", e.error_type))
                                    .monospace()
                                    .color(ERROR),
                            );
                            ui.label(
                                RichText::new(format!("errorMessage: {}", e.error_message))
                                    .monospace(),
                            );
                            if e.kind == ErrorKind::Unhandled {
                                ui.label(
                                    RichText::new("Unhandled: the environment was discarded")
                                        .small()
                                        .weak(),
                                );
                            }
                            if !e.stack_trace.is_empty() {
                                egui::CollapsingHeader::new(format!(
                                    "stackTrace ({} frames)",
                                    e.stack_trace.len()
                                ))
                                .id_salt("stack")
                                .show(ui, |ui| {
                                    for f in &e.stack_trace {
                                        ui.monospace(f);
                                    }
                                });
                            }
                        });
                }
            }
        }
    }
}

fn response_ui(ui: &mut Ui, bytes: &[u8]) {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) if bytes.len() > 2_000 => {
            ui.label(RichText::new(format!("Response ({} bytes)", bytes.len())).weak());
            json::tree_ui(ui, ui.scope_id().with("response-tree"), "response", &v, 0);
        }
        Ok(v) => {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            let job = json::highlight(
                &pretty,
                egui::TextStyle::Monospace.resolve(ui.style()),
                ui.visuals().dark_mode,
            );
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.label(job);
            });
        }
        Err(_) => {
            ui.label(RichText::new("Response (not JSON)").weak());
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
            ui.monospace(text);
        }
    }
}

/// Phase bars of one invocation.
pub fn timeline_ui(ui: &mut Ui, inv: &Invocation) {
    let p: &Phases = &inv.phases;
    let mut phases: Vec<(String, Duration, Color32)> = Vec::new();
    if let Some((source, d)) = p.load {
        let label = match source {
            CodeSource::Compiled => "compile",
            CodeSource::DiskCache => "cache load",
            CodeSource::Memory => "load",
        };
        phases.push((label.to_owned(), d, Color32::from_rgb(0x9b, 0x59, 0xb6)));
    }
    if !p.instantiate.is_zero() {
        phases.push(("instantiate".into(), p.instantiate, COLD));
    }
    if !p.init.is_zero() {
        phases.push(("init".into(), p.init, Color32::from_rgb(0x1a, 0xbc, 0x9c)));
    }
    phases.push(("handler".into(), p.handler, WARM));
    let total: f64 = phases
        .iter()
        .map(|(_, d, _)| as_ms(*d))
        .sum::<f64>()
        .max(1e-6);
    let color = if inv.start == StartKind::Cold {
        COLD
    } else {
        WARM
    };
    ui.label(RichText::new(format!("{} · {:.3} ms in all", inv.start.label(), total)).color(color));
    let width = ui.available_width().max(50.0);
    for (label, d, color) in phases {
        let ms = as_ms(d);
        ui.horizontal(|ui| {
            let (rect, _) =
                ui.allocate_exact_size(egui::vec2(width * 0.55, 12.0), egui::Sense::hover());
            let w = (rect.width() * (ms / total) as f32).max(2.0);
            ui.painter().rect_filled(
                egui::Rect::from_min_size(rect.min, egui::vec2(w, rect.height())),
                2.0,
                color,
            );
            ui.label(RichText::new(format!("{label} {ms:.3} ms")).small());
        });
    }
}

fn config_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    let draft = state
        .live
        .drafts
        .entry(name.to_owned())
        .or_insert_with(|| super::config_form::ConfigDraft::from_config(&entry.config));
    if let Some((for_name, i, path)) = &c.picked_mount
        && for_name == name
    {
        if let Some(m) = draft.mounts.get_mut(*i) {
            m.host = path.display().to_string();
        }
        cmds.push(Command::TakePickedMount);
    }
    let result = draft.to_config();
    let errors = result.as_ref().err().cloned().unwrap_or_default();
    let field_error = |ui: &mut Ui, field: &str| {
        if let Some(m) = super::config_form::message_for(&errors, field) {
            ui.label(RichText::new(m).small().color(ERROR));
        }
    };
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("config").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            let l = ui.label("Handler").on_hover_text("The export to call: `_start` for a WASI command, or a function a handler module exports");
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.handler).desired_width(200.0)).labelled_by(l.id);
                field_error(ui, "handler");
            });
            ui.end_row();

            let l = ui.label("Memory (MB)").on_hover_text("128–10,240 MB in 1 MB steps; caps the module's linear memory (wasm32 modules can use at most 4,096 MB)");
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    let mut mb: u32 = draft.memory.trim().parse().unwrap_or(128).clamp(128, 10_240);
                    if ui.add(egui::Slider::new(&mut mb, 128..=10_240).logarithmic(true).show_value(false)).changed() {
                        draft.memory = mb.to_string();
                    }
                    ui.add(egui::TextEdit::singleline(&mut draft.memory).desired_width(70.0)).labelled_by(l.id);
                });
                field_error(ui, "memory_mb");
            });
            ui.end_row();

            number_row_ui(ui, "Timeout (s)", "1–900 seconds; Lambda's default is 3", &mut draft.timeout, "", &errors, "timeout_s");
            number_row_ui(
                ui,
                "Ephemeral storage (MB)",
                "Size of /tmp, 512–10,240 MB; writes beyond it fail with ENOSPC inside the function",
                &mut draft.ephemeral,
                "",
                &errors,
                "ephemeral_storage_mb",
            );

            ui.label("Environment variables").on_hover_text("Keys plus values may total 4 KB; names reserved by Lambda are refused");
            ui.vertical(|ui| {
                let mut remove = None;
                for (i, (k, v)) in draft.env.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(k).desired_width(140.0).hint_text("KEY"));
                        ui.add(egui::TextEdit::singleline(v).desired_width(220.0).hint_text("value"));
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    draft.env.remove(i);
                }
                ui.horizontal(|ui| {
                    if ui.small_button("Add variable").clicked() {
                        draft.env.push((String::new(), String::new()));
                    }
                    let used = draft.env_bytes();
                    let color = if used > super::config_form::ENVIRONMENT_LIMIT { ERROR } else { Color32::GRAY };
                    ui.label(RichText::new(format!("{used} of {} bytes", super::config_form::ENVIRONMENT_LIMIT)).small().color(color));
                });
                field_error(ui, "environment");
            });
            ui.end_row();

            ui.label("Role").on_hover_text("What the function may touch: host folders mounted at guest paths. Nothing else of the host is reachable. /tmp is private to each environment.");
            ui.vertical(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.role).desired_width(200.0).hint_text("role name"));
                let mut remove = None;
                for (i, m) in draft.mounts.iter_mut().enumerate() {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(&mut m.host).desired_width(220.0).hint_text("host folder"));
                        if ui.small_button("Browse…").on_hover_text("Pick the host folder").clicked() {
                            cmds.push(Command::PickMountFolder(name.to_owned(), i));
                        }
                        ui.label("at");
                        ui.add(egui::TextEdit::singleline(&mut m.guest).desired_width(100.0).hint_text("/data"));
                        ui.checkbox(&mut m.read_only, "read-only");
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                    });
                }
                if let Some(i) = remove {
                    draft.mounts.remove(i);
                }
                if ui.small_button("Add folder").clicked() {
                    draft.mounts.push(super::config_form::MountDraft { read_only: true, ..Default::default() });
                }
                field_error(ui, "role.mounts");
            });
            ui.end_row();

            number_row_ui(
                ui,
                "Reserved concurrency",
                "Most environments running at once; empty for unreserved, 0 throttles every invocation",
                &mut draft.reserved,
                "unreserved",
                &errors,
                "reserved_concurrency",
            );
            number_row_ui(
                ui,
                "Idle time (s)",
                "An environment idle this long is shut down; the next start is cold",
                &mut draft.idle,
                "",
                &errors,
                "idle_timeout_s",
            );

            ui.label("Arguments").on_hover_text("argv for command modules, one per line");
            ui.add(egui::TextEdit::multiline(&mut draft.args).desired_rows(2).desired_width(300.0));
            ui.end_row();
        });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let changed = result.as_ref().is_ok_and(|cfg| *cfg != entry.config);
            let apply = ui.add_enabled(result.is_ok() && changed, egui::Button::new("Apply"));
            let apply = if result.is_err() {
                apply.on_disabled_hover_text("Fix the fields marked in red first")
            } else {
                apply.on_hover_text("Save and redeploy; the next start is cold")
            };
            if apply.clicked()
                && let Ok(cfg) = &result
            {
                cmds.push(Command::ApplyConfig(name.to_owned(), cfg.clone()));
            }
            if ui.button("Revert").clicked() {
                *draft = super::config_form::ConfigDraft::from_config(&entry.config);
            }
            if changed {
                ui.label(RichText::new("Unapplied changes: applying makes the next start cold").color(WARM));
            }
        });
    });
}

/// One grid row: a label, a short number field and its inline error.
fn number_row_ui(
    ui: &mut Ui,
    label: &str,
    tip: &str,
    text: &mut String,
    hint: &str,
    errors: &[crate::model::ConfigError],
    field: &str,
) {
    let l = ui.label(label).on_hover_text(tip);
    ui.vertical(|ui| {
        ui.add(
            egui::TextEdit::singleline(text)
                .desired_width(70.0)
                .hint_text(hint),
        )
        .labelled_by(l.id);
        if let Some(m) = super::config_form::message_for(errors, field) {
            ui.label(RichText::new(m).small().color(ERROR));
        }
    });
    ui.end_row();
}

fn monitor_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    let records: Vec<&Record> = c.records.iter().filter(|r| r.function == name).collect();
    ui.label(RichText::new("Durations this session").strong());
    let (cold, warm): (Vec<[f64; 2]>, Vec<[f64; 2]>) = {
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Ok(inv) = &r.result {
                let total = inv.report.duration_ms + inv.report.init_duration_ms.unwrap_or(0.0);
                let p = [i as f64 + 1.0, total];
                if inv.start == StartKind::Cold {
                    cold.push(p)
                } else {
                    warm.push(p)
                }
            }
        }
        (cold, warm)
    };
    egui_plot::Plot::new("durations")
        .height(180.0)
        .legend(egui_plot::Legend::default())
        .x_axis_label("invocation")
        .x_axis_formatter(|mark, _| {
            // Invocations are counted: label whole numbers only.
            if mark.value.fract() == 0.0 {
                format!("{}", mark.value)
            } else {
                String::new()
            }
        })
        .y_axis_label("ms (init + handler)")
        // From zero, with headroom, so the axis always has labelled steps.
        .include_y(0.0)
        .set_margin_fraction(egui::vec2(0.05, 0.25))
        .show(ui, |plot| {
            plot.points(egui_plot::Points::new("cold", cold).color(COLD).radius(3.0));
            plot.points(egui_plot::Points::new("warm", warm).color(WARM).radius(2.5));
        });
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Environments").strong());
        if ui
            .button("Force cold start")
            .on_hover_text("Drop this function's environments; the next invocation starts cold")
            .clicked()
        {
            cmds.push(Command::ForceCold(name.to_owned()));
        }
    });
    let envs = c.runtime.environments(name);
    if envs.is_empty() {
        ui.label(RichText::new("No environment: the next start is cold").weak());
    } else {
        egui::Grid::new("envs")
            .striped(true)
            .num_columns(6)
            .show(ui, |ui| {
                for h in [
                    "Id",
                    "State",
                    "Age",
                    "Invocations",
                    "Peak memory",
                    "Log stream",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for e in envs {
                    ui.label(e.id.to_string());
                    ui.label(if e.busy {
                        RichText::new("busy").color(OK)
                    } else {
                        RichText::new("idle").color(WARM)
                    });
                    let age = e.created.elapsed().unwrap_or_default();
                    ui.label(format!("{:.0} s", age.as_secs_f64()));
                    ui.label(e.invocations.to_string());
                    ui.label(format!(
                        "{:.1} MB",
                        e.peak_memory_bytes as f64 / 1_048_576.0
                    ));
                    if ui
                        .link(&*e.log_stream)
                        .on_hover_text("Show only this stream's log lines")
                        .clicked()
                    {
                        state.log_filter.log_stream = Some(e.log_stream.to_string());
                    }
                    ui.end_row();
                }
            });
    }
    ui.add_space(6.0);
    ui.label(RichText::new("History (newest first; click to see its log lines)").strong());
    egui::ScrollArea::vertical()
        .id_salt("history")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for r in records.iter().rev().take(200) {
                let source = r
                    .source
                    .as_ref()
                    .map(|s| format!(" · by {s}"))
                    .unwrap_or_default();
                let text = match &r.result {
                    Ok(inv) => {
                        let status = match &inv.outcome {
                            Outcome::Response(_) => "ok".to_owned(),
                            Outcome::Error(e) => e.error_type.clone(),
                        };
                        format!(
                            "{} · {} · {:.2} ms · {status}{source}",
                            r.at.format("%H:%M:%S%.3f"),
                            inv.start.label(),
                            inv.report.duration_ms
                        )
                    }
                    Err(e) => format!(
                        "{} · {}{source}",
                        r.at.format("%H:%M:%S%.3f"),
                        e.error_type()
                    ),
                };
                if ui.selectable_label(false, text).clicked()
                    && let Ok(inv) = &r.result
                {
                    state.log_filter.request_id = Some(inv.request_id.clone());
                }
            }
        });
}
