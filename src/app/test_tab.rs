//! The Test tab: the test events (templates, import, export), the invoke bar
//! (once, ×N, N at once, as Event), the result with its summary, response or
//! error, and the phase timeline.

use std::time::Duration;

use egui::{Color32, RichText, Ui};

use super::controller::{Command, Controller, DeployState, Record};
use super::json;
use super::state::{InvocationType, UiState};
use super::theme::{self, COLD, ERROR, WARM};
use crate::model::events::TEMPLATES;
use crate::runtime::{
    CodeSource, ErrorKind, Invocation, Outcome, Phases, StartKind, report::as_ms,
};

/// Most invocations "N at once" starts.
pub const MAX_PARALLEL: usize = 64;

/// Why Invoke is disabled, if it is.
pub fn invoke_blocker(c: &Controller, name: &str) -> Option<String> {
    let entry = c.entry(name)?;
    match c.status.get(name).map(|s| &s.deploy) {
        Some(DeployState::Ready(_)) => {}
        // The editor's changes are deployed first (they may be the fix).
        Some(DeployState::Failed(_)) if c.code_unsaved(name) => {}
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

pub(super) fn test_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut UiState,
    cmds: &mut Vec<Command>,
) {
    // The result column keeps at least 340 px; the editor at least 260.
    let width = ui.available_width();
    egui::Panel::left("events")
        .resizable(true)
        .default_size(width * 0.45)
        .min_size(260.0_f32.min(width * 0.4))
        .max_size((width - 340.0).max(260.0_f32.min(width * 0.4)))
        .show(ui, |ui| {
            events_ui(ui, c, name, state, cmds);
        });
    egui::CentralPanel::default().show(ui, |ui| {
        invoke_bar_ui(ui, c, name, state, cmds);
        ui.separator();
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                // Only what was invoked here: triggers' invocations go to
                // Monitor and the logs.
                let (last, by_others) = c.last_console_record(name, None);
                if by_others > 0 {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(format!(
                                "{by_others} invocation(s) by triggers or the API since"
                            ))
                            .weak(),
                        );
                        if ui.link("See Monitor").clicked() {
                            state.tab = super::state::Tab::Monitor;
                        }
                    });
                }
                // An Event or DryRun from here, newer than the last result.
                if let Some(note) = c.test_notes.get(name)
                    && last.is_none_or(|r| r.id < note.after)
                {
                    let dark = ui.visuals().dark_mode;
                    let color = if note.ok {
                        theme::ok(dark)
                    } else {
                        theme::error(dark)
                    };
                    egui::Frame::group(ui.style())
                        .stroke(egui::Stroke::new(1.0, color))
                        .show(ui, |ui| {
                            ui.add(egui::Label::new(RichText::new(&note.text).color(color)).wrap());
                        });
                    ui.add_space(6.0);
                }
                // A failure picked in the run summary, else the last result.
                let picked = state
                    .live
                    .shown_record
                    .and_then(|id| c.records.iter().find(|r| r.id == id && r.function == name));
                if let Some(summary) = last.and_then(|r| c.run_summary(r)) {
                    run_summary_ui(ui, &summary, &mut state.live.shown_record);
                    ui.separator();
                }
                match picked.or(last) {
                    Some(record) => {
                        result_ui(ui, record);
                        if let Ok(inv) = &record.result {
                            log_output_ui(ui, c, &inv.request_id, state);
                        }
                    }
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
                            .last_console_record(name, Some(kind))
                            .0
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
        Ok(_) => {
            ui.label(RichText::new("Event JSON: valid").color(theme::ok(ui.visuals().dark_mode)))
        }
        Err(p) => ui.label(
            RichText::new(format!(
                "Invalid JSON at line {}, column {}: {}",
                p.line, p.column, p.message
            ))
            .color(theme::error(ui.visuals().dark_mode)),
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
    let kind = state.invocation_type;
    ui.horizontal_wrapped(|ui| {
        let type_label = ui.label("Type");
        egui::ComboBox::from_id_salt("invocation-type")
            .selected_text(kind.label())
            .show_ui(ui, |ui| {
                for t in InvocationType::ALL {
                    ui.selectable_value(&mut state.invocation_type, t, t.label())
                        .on_hover_text(t.description());
                }
            })
            .response
            .labelled_by(type_label.id)
            .on_hover_text(kind.description());
        // DryRun checks even a request that would be refused: that is its point.
        let enabled = blocker.is_none() || kind == InvocationType::DryRun;
        let invoke = ui
            .add_enabled(enabled, egui::Button::new(RichText::new("Invoke").strong()))
            .on_hover_text(format!("{} with the selected test event (Ctrl+Enter)", kind.label()));
        let invoke = match &blocker {
            Some(reason) => invoke.on_disabled_hover_text(reason),
            None => invoke,
        };
        if invoke.clicked() {
            cmds.push(match kind {
                InvocationType::RequestResponse => {
                    Command::Invoke { function: name.to_owned(), times: 1, parallel: 1 }
                }
                InvocationType::Event => Command::InvokeAsync(name.to_owned()),
                InvocationType::DryRun => Command::DryRun(name.to_owned()),
            });
        }
        if kind != InvocationType::RequestResponse {
            return;
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
    // Reserved: the line is there, empty, when Invoke is enabled, so the
    // result below does not move when it appears.
    let text = blocker.map_or(String::new(), |reason| {
        format!("Invoke is disabled: {reason}")
    });
    ui.add(
        egui::Label::new(RichText::new(text).color(theme::error(ui.visuals().dark_mode)))
            .truncate(),
    );
}

/// The log output of the invocation shown, as the Lambda console shows it
/// under a result; *Open in window* keeps it open beside other work.
fn log_output_ui(ui: &mut Ui, c: &Controller, request_id: &str, state: &mut UiState) {
    ui.add_space(6.0);
    egui::CollapsingHeader::new(RichText::new("Log output").strong())
        .id_salt("log-output")
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .small_button("Copy")
                    .on_hover_text("The lines exactly as written")
                    .clicked()
                {
                    ui.ctx()
                        .copy_text(super::log_view::request_text(&c.logs, request_id));
                }
                if ui.small_button("Open in window").clicked() {
                    state.live.request_view = Some(request_id.to_owned());
                }
            });
            egui::Frame::group(ui.style()).show(ui, |ui| {
                super::log_view::request_lines_ui(ui, &c.logs, request_id);
            });
        });
}

/// A run of several invocations: counts, percentiles and a histogram of the
/// durations; *Show first failure* puts that one's result below.
fn run_summary_ui(ui: &mut Ui, s: &crate::app::controller::RunSummary, shown: &mut Option<u64>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("Run of {}", s.total)).strong());
        if s.finished < s.total {
            ui.label(format!("({} finished)", s.finished));
        }
        ui.label(
            RichText::new(format!("{} succeeded", s.succeeded))
                .color(theme::ok(ui.visuals().dark_mode)),
        );
        let failed = RichText::new(format!("{} failed", s.failed));
        ui.label(if s.failed > 0 {
            failed.color(theme::error(ui.visuals().dark_mode))
        } else {
            failed
        });
        ui.label(format!("{} throttled", s.throttled));
        ui.label(format!("{} cold, {} warm", s.cold, s.warm));
    });
    if !s.durations_ms.is_empty() {
        ui.label(format!(
            "Duration p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms",
            s.percentile(50.0),
            s.percentile(90.0),
            s.percentile(99.0),
            s.durations_ms.last().copied().unwrap_or(0.0)
        ));
        // Ten bins between the fastest and the slowest.
        let (lo, hi) = (s.durations_ms[0], s.durations_ms[s.durations_ms.len() - 1]);
        let width = ((hi - lo) / 10.0).max(f64::EPSILON);
        let mut counts = [0u32; 10];
        for d in &s.durations_ms {
            let i = (((d - lo) / width) as usize).min(9);
            counts[i] += 1;
        }
        let bars: Vec<egui_plot::Bar> = counts
            .iter()
            .enumerate()
            .map(|(i, n)| {
                egui_plot::Bar::new(lo + width * (i as f64 + 0.5), f64::from(*n)).width(width * 0.9)
            })
            .collect();
        egui_plot::Plot::new("run-histogram")
            .height(90.0)
            .x_axis_label("duration (ms)")
            .y_axis_label("invocations")
            .include_y(0.0)
            .allow_scroll(false)
            .allow_drag(false)
            .show(ui, |plot| {
                plot.bar_chart(egui_plot::BarChart::new("durations", bars).color(WARM));
            });
    }
    if let Some(id) = s.first_failure
        && ui.button("Show first failure").clicked()
    {
        *shown = Some(id);
    }
    if shown.is_some() && ui.button("Show last result").clicked() {
        *shown = None;
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
            ui.label(
                RichText::new(e.error_type())
                    .strong()
                    .color(theme::error(ui.visuals().dark_mode)),
            );
            ui.label(RichText::new(e.to_string()).color(theme::error(ui.visuals().dark_mode)));
        }
        Ok(inv) => {
            let (title, color) = match &inv.outcome {
                Outcome::Response(_) => ("Succeeded".to_owned(), theme::ok(ui.visuals().dark_mode)),
                Outcome::Error(e) => (
                    format!("Failed ({} error)", e.kind.label().to_lowercase()),
                    theme::error(ui.visuals().dark_mode),
                ),
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(title).strong().color(color));
                let kind_color = if inv.start == StartKind::Cold {
                    theme::cold(ui.visuals().dark_mode)
                } else {
                    theme::warm(ui.visuals().dark_mode)
                };
                ui.label(RichText::new(inv.start.label()).strong().color(kind_color));
                ui.label(summary(inv));
            });
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(format!("Request {}", inv.request_id)).weak());
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
                                    .color(theme::error(ui.visuals().dark_mode)),
                            );
                            ui.label(
                                RichText::new(format!("errorMessage: {}", e.error_message))
                                    .monospace(),
                            );
                            if e.kind == ErrorKind::Unhandled {
                                ui.label(
                                    RichText::new("Unhandled: the environment was discarded")
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
        theme::cold(ui.visuals().dark_mode)
    } else {
        theme::warm(ui.visuals().dark_mode)
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
            ui.label(RichText::new(format!("{label} {ms:.3} ms")));
        });
    }
}
