//! The Triggers tab: a function's triggers (add, edit, remove, enable,
//! disable), each with its last and next firing and the endpoint to copy;
//! sending messages and records to its queues and streams; and asynchronous
//! invocation: its settings, the events waiting and, on a timeline, each
//! event's attempts and where its record went.

use std::collections::BTreeMap;

use chrono::{DateTime, Local, Utc};
use egui::{Color32, RichText, Ui};

use super::controller::{Command, Controller};
use super::theme::{ERROR, OK, WARM};
use crate::host::LAMBDA_PORT;
use crate::host::async_queue::{AsyncRecord, AsyncStep};
use crate::model::schedule::Schedule;
use crate::model::trigger::{KINDS, METHODS, PayloadFormat, StreamKind};
use crate::model::{AsyncInvokeConfig, Trigger, TriggerSource};

/// A trigger being added or edited.
#[derive(Clone, Debug, PartialEq)]
pub struct TriggerForm {
    /// The function it belongs to.
    pub function: String,
    /// The id of the trigger being edited; `None` adds a new one.
    pub editing: Option<String>,
    /// The settings as edited.
    pub source: TriggerSource,
    /// The version or alias it invokes (empty: `$LATEST`).
    pub qualifier: String,
}

/// The asynchronous-invocation settings being edited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AsyncForm {
    function: String,
    retries: u32,
    max_age_s: u32,
    on_success: String,
    on_failure: String,
    dead_letter: String,
}

impl AsyncForm {
    fn new(function: &str, a: &AsyncInvokeConfig) -> Self {
        Self {
            function: function.to_owned(),
            retries: a.max_retry_attempts,
            max_age_s: a.max_event_age_s,
            on_success: a.on_success.clone().unwrap_or_default(),
            on_failure: a.on_failure.clone().unwrap_or_default(),
            dead_letter: a
                .dead_letter_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    fn to_config(&self) -> AsyncInvokeConfig {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        AsyncInvokeConfig {
            max_retry_attempts: self.retries,
            max_event_age_s: self.max_age_s,
            on_success: text(&self.on_success),
            on_failure: text(&self.on_failure),
            dead_letter_file: text(&self.dead_letter).map(Into::into),
        }
    }
}

/// What the tab keeps between frames (not saved).
#[derive(Clone, Debug, Default)]
pub struct TriggersTabState {
    /// The add or edit form, when open.
    pub form: Option<TriggerForm>,
    /// Message drafts per trigger id: (partition key, body).
    pub drafts: BTreeMap<String, (String, String)>,
    /// The asynchronous settings form, when open.
    pub async_form: Option<AsyncForm>,
    /// A timeline row was clicked: show this request's log lines.
    pub show_request: Option<String>,
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "schedule" => "Schedule (EventBridge)",
        "http" => "HTTP route (API Gateway)",
        "folder" => "Folder as a bucket (S3)",
        "queue" => "Queue (SQS)",
        _ => "Stream (Kinesis, DynamoDB)",
    }
}

fn local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%H:%M:%S").to_string()
}

fn local_day(t: DateTime<Utc>) -> String {
    t.with_timezone(&Local).format("%a %d %b %H:%M").to_string()
}

/// The Triggers tab of `name`.
pub fn triggers_tab_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    state: &mut TriggersTabState,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.entry(name) else { return };
    if let Some((for_name, path)) = &c.picked_trigger_folder
        && for_name == name
    {
        if let Some(TriggerForm {
            source: TriggerSource::Folder { dir, .. },
            ..
        }) = state.form.as_mut()
        {
            dir.clone_from(path);
        }
        cmds.push(Command::TakePickedTriggerFolder);
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Triggers").strong());
                ui.menu_button("Add trigger", |ui| {
                    for kind in KINDS {
                        if ui.button(kind_label(kind)).clicked()
                            && let Some(source) = TriggerSource::template(kind)
                        {
                            state.form = Some(TriggerForm {
                                function: name.to_owned(),
                                editing: None,
                                source,
                                qualifier: String::new(),
                            });
                            ui.close();
                        }
                    }
                });
                match &c.triggers {
                    Some(host) => {
                        let url = format!("http://{}", host.lambda_addr());
                        ui.separator();
                        ui.label("Lambda API");
                        copyable(ui, &url, "Invoke API endpoint: aws lambda invoke --endpoint-url …");
                        if host.lambda_addr().port() != LAMBDA_PORT {
                            ui.label(
                                RichText::new(format!(
                                    "(port {LAMBDA_PORT} is in use, by another Lambdesk or `lambdesk serve`?)"
                                ))
                                .weak(),
                            );
                        }
                    }
                    None => match &c.triggers_error {
                        Some(e) => {
                            ui.label(RichText::new(e).color(ERROR));
                        }
                        None => {
                            ui.spinner();
                            ui.label("Starting the trigger host…");
                        }
                    },
                }
            });
            if let Some(form) = state.form.as_mut().filter(|f| f.function == name) {
                let mut close = false;
                form_ui(ui, form, cmds, &mut close);
                if close {
                    state.form = None;
                }
            }
            if entry.triggers.is_empty() {
                ui.label(
                    RichText::new(
                        "No trigger yet. Schedules, HTTP routes, folders, queues and streams invoke this function as AWS services would.",
                    )
                    .weak(),
                );
            }
            for t in &entry.triggers {
                trigger_ui(ui, c, name, t, state, cmds);
            }
            ui.add_space(10.0);
            async_ui(ui, c, name, &entry.config.async_invoke, state, cmds);
        });
}

/// A monospace value with a copy button.
fn copyable(ui: &mut Ui, text: &str, tip: &str) {
    ui.label(RichText::new(text).monospace()).on_hover_text(tip);
    if ui
        .small_button("Copy")
        .on_hover_text(format!("Copy {text}"))
        .clicked()
    {
        ui.ctx().copy_text(text.to_owned());
    }
}

fn trigger_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    t: &Trigger,
    state: &mut TriggersTabState,
    cmds: &mut Vec<Command>,
) {
    let status = c.trigger_status(&t.id).unwrap_or_default();
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            let mut enabled = t.enabled;
            if ui
                .checkbox(&mut enabled, "Enabled")
                .on_hover_text(if t.enabled {
                    "Enabled: click to disable (queues and streams keep their messages)"
                } else {
                    "Disabled: click to enable"
                })
                .changed()
            {
                cmds.push(Command::SetTriggerEnabled(
                    name.to_owned(),
                    t.id.clone(),
                    enabled,
                ));
            }
            ui.label(RichText::new(t.source.service()).strong());
            ui.label(RichText::new(t.source.summary()).monospace());
            if let Some(q) = &t.qualifier {
                ui.label(RichText::new(format!("→ {q}")).monospace())
                    .on_hover_text("Invokes this version or alias");
            }
            if let Some(e) = &status.error {
                ui.label(RichText::new(format!("cannot run: {e}")).color(ERROR));
            } else if t.enabled && !status.running {
                ui.label(RichText::new("starting…").color(WARM));
            }
            if ui.small_button("Edit").clicked() {
                state.form = Some(TriggerForm {
                    function: name.to_owned(),
                    editing: Some(t.id.clone()),
                    source: t.source.clone(),
                    qualifier: t.qualifier.clone().unwrap_or_default(),
                });
            }
            if ui
                .small_button("Remove")
                .on_hover_text(
                    "Delete this trigger (a queue's or stream's waiting messages go with it)",
                )
                .clicked()
            {
                cmds.push(Command::RemoveTrigger(name.to_owned(), t.id.clone()));
            }
        });
        if let Some(endpoint) = &status.endpoint {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Endpoint").weak());
                copyable(ui, endpoint, "Where to send it events");
            });
        }
        ui.horizontal_wrapped(|ui| {
            match &status.last {
                Some(last) => {
                    ui.label(RichText::new("Last").weak());
                    ui.label(local(last.at));
                    ui.label(RichText::new(&last.text).color(if last.ok { OK } else { ERROR }));
                }
                None => {
                    ui.label(RichText::new("Not fired yet").weak());
                }
            }
            if status.fired > 0 {
                ui.label(
                    RichText::new(format!(
                        "· {} fired, {} failed",
                        status.fired, status.failed
                    ))
                    .weak(),
                );
            }
            if let Some(n) = status.waiting {
                ui.label(RichText::new(format!("· {n} waiting")).weak());
            }
        });
        if t.enabled && !status.next.is_empty() {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Next").weak());
                let next: Vec<String> = status.next.iter().map(|t| local_day(*t)).collect();
                ui.label(next.join(" · "));
            });
        }
        match &t.source {
            TriggerSource::Queue { queue, .. } => {
                send_ui(ui, state, &t.id, None, |_, body| {
                    cmds.push(Command::SendMessage(queue.clone(), body));
                });
            }
            TriggerSource::Stream { stream, kind, .. } => {
                let key = (*kind == StreamKind::Kinesis).then_some("partition key");
                send_ui(ui, state, &t.id, key, |key, data| {
                    cmds.push(Command::PutRecord {
                        stream: stream.clone(),
                        key,
                        data,
                    });
                });
            }
            _ => {}
        }
    });
}

/// A field to send a queue message or a stream record.
fn send_ui(
    ui: &mut Ui,
    state: &mut TriggersTabState,
    id: &str,
    key_hint: Option<&str>,
    send: impl FnOnce(String, String),
) {
    let (key, body) = state.drafts.entry(id.to_owned()).or_default();
    ui.horizontal(|ui| {
        let title = ui.label(
            RichText::new(if key_hint.is_some() {
                "Record"
            } else {
                "Message"
            })
            .weak(),
        );
        if let Some(hint) = key_hint {
            ui.add(
                egui::TextEdit::singleline(key)
                    .hint_text(hint)
                    .desired_width(110.0),
            );
        }
        let hint = if key_hint.is_some() {
            "record data"
        } else if id.starts_with("stream") {
            r#"{"eventName":"INSERT","Keys":{…},"NewImage":{…}}"#
        } else {
            "message body"
        };
        let field = ui
            .add(
                egui::TextEdit::singleline(body)
                    .hint_text(hint)
                    .desired_width(280.0),
            )
            .labelled_by(title.id);
        let label = if id.starts_with("queue") {
            "Send message"
        } else {
            "Put record"
        };
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (ui.button(label).clicked() || enter) && !body.is_empty() {
            send(key.clone(), std::mem::take(body));
        }
    });
}

fn form_ui(ui: &mut Ui, form: &mut TriggerForm, cmds: &mut Vec<Command>, close: &mut bool) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let title = if form.editing.is_some() {
            "Edit trigger"
        } else {
            "New trigger"
        };
        ui.label(RichText::new(format!("{title}: {}", kind_label(form.source.kind()))).strong());
        let errors = form.source.validate().err().unwrap_or_default();
        let error_of = |field: &str| {
            errors
                .iter()
                .filter(|e| e.field == field)
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let show_error = |ui: &mut Ui, field: &str| {
            let e = error_of(field);
            if !e.is_empty() {
                ui.label(RichText::new(e).color(super::theme::error(ui.visuals().dark_mode)));
            }
        };
        egui::Grid::new("trigger-form")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| match &mut form.source {
                TriggerSource::Schedule { expression } => {
                    let l = ui.label("Expression").on_hover_text(
                        "rate(5 minutes), or cron(minutes hours day-of-month month day-of-week year) in UTC, with ? L W #",
                    );
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(expression).desired_width(260.0))
                            .labelled_by(l.id);
                        show_error(ui, "expression");
                        if let Ok(s) = Schedule::parse(expression) {
                            let next: Vec<String> = s
                                .next_firings(Utc::now(), 5)
                                .iter()
                                .map(|t| local_day(*t))
                                .collect();
                            ui.label(RichText::new(format!("Next: {}", next.join(" · "))));
                        }
                    });
                    ui.end_row();
                }
                TriggerSource::Http {
                    method,
                    path,
                    payload_format,
                } => {
                    let l = ui.label("Method");
                    egui::ComboBox::from_id_salt("trigger-method")
                        .selected_text(method.as_str())
                        .show_ui(ui, |ui| {
                            for m in METHODS {
                                ui.selectable_value(method, m.to_owned(), m);
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui
                        .label("Path")
                        .on_hover_text("/items/{id} for a parameter, /files/{proxy+} for the rest of the path");
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(path).desired_width(260.0))
                            .labelled_by(l.id);
                        show_error(ui, "path");
                    });
                    ui.end_row();
                    ui.label("Payload format");
                    ui.horizontal(|ui| {
                        ui.radio_value(payload_format, PayloadFormat::V2, "2.0 (HTTP API)");
                        ui.radio_value(payload_format, PayloadFormat::V1, "1.0 (REST API)");
                    });
                    ui.end_row();
                }
                TriggerSource::Folder {
                    dir,
                    prefix,
                    suffix,
                } => {
                    let l = ui.label("Folder");
                    ui.vertical(|ui| {
                        ui.horizontal(|ui| {
                            let mut text = dir.display().to_string();
                            if ui
                                .add(egui::TextEdit::singleline(&mut text).desired_width(260.0))
                                .labelled_by(l.id)
                                .changed()
                            {
                                *dir = text.into();
                            }
                            if ui.button("Browse…").clicked() {
                                cmds.push(Command::PickTriggerFolder(form.function.clone()));
                            }
                        });
                        show_error(ui, "dir");
                    });
                    ui.end_row();
                    let l = ui.label("Key prefix");
                    ui.add(egui::TextEdit::singleline(prefix).desired_width(160.0))
                        .labelled_by(l.id);
                    ui.end_row();
                    let l = ui.label("Key suffix");
                    ui.add(egui::TextEdit::singleline(suffix).desired_width(160.0))
                        .labelled_by(l.id);
                    ui.end_row();
                }
                TriggerSource::Queue {
                    queue,
                    batch_size,
                    window_s,
                    visibility_timeout_s,
                    max_receive,
                } => {
                    let l = ui.label("Queue name");
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(queue).desired_width(200.0))
                            .labelled_by(l.id);
                        show_error(ui, "queue");
                    });
                    ui.end_row();
                    number(ui, "Batch size", batch_size, 1..=10_000, "");
                    number(ui, "Batching window", window_s, 0..=300, " s");
                    number(ui, "Visibility timeout", visibility_timeout_s, 0..=43_200, " s");
                    number(ui, "Receives before dropping", max_receive, 1..=1_000, "");
                }
                TriggerSource::Stream {
                    stream,
                    kind,
                    shards,
                    batch_size,
                    max_retries,
                } => {
                    let l = ui.label("Stream name");
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(stream).desired_width(200.0))
                            .labelled_by(l.id);
                        show_error(ui, "stream");
                    });
                    ui.end_row();
                    ui.label("Shape");
                    ui.horizontal(|ui| {
                        ui.radio_value(kind, StreamKind::Kinesis, "Kinesis");
                        ui.radio_value(kind, StreamKind::DynamoDb, "DynamoDB Streams");
                    });
                    ui.end_row();
                    number(ui, "Shards", shards, 1..=64, "");
                    number(ui, "Batch size", batch_size, 1..=10_000, "");
                    number(ui, "Retries", max_retries, 0..=10_000, "");
                }
            });
        // What it invokes: $LATEST, a version or an alias (`name:alias`).
        let qualifier_error = (!form.qualifier.trim().is_empty())
            .then(|| crate::model::versions::Qualifier::parse(Some(form.qualifier.trim())).err())
            .flatten();
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Invokes");
            ui.add(
                egui::TextEdit::singleline(&mut form.qualifier)
                    .hint_text("$LATEST, a version or an alias")
                    .desired_width(180.0),
            )
            .labelled_by(l.id)
            .on_hover_text("As an event source mapping or a route can target `function:alias` in Lambda");
            if let Some(e) = &qualifier_error {
                ui.label(
                    RichText::new(e.rsplit(": ").next().unwrap_or(e))
                        .color(super::theme::error(ui.visuals().dark_mode)),
                );
            }
        });
        let errors_ok = errors.is_empty() && qualifier_error.is_none();
        let qualifier = Some(form.qualifier.trim().to_owned())
            .filter(|q| !q.is_empty() && q != "$LATEST");
        ui.horizontal(|ui| {
            let label = if form.editing.is_some() { "Save" } else { "Add" };
            let add = ui.add_enabled(errors_ok, egui::Button::new(label));
            let add = if errors_ok {
                add
            } else {
                add.on_disabled_hover_text("Fix the fields marked in red first")
            };
            if add.clicked() {
                match &form.editing {
                    Some(id) => cmds.push(Command::UpdateTrigger(
                        form.function.clone(),
                        Trigger {
                            id: id.clone(),
                            enabled: true,
                            source: form.source.clone(),
                            qualifier: qualifier.clone(),
                        },
                    )),
                    None => cmds.push(Command::AddTrigger(
                        form.function.clone(),
                        form.source.clone(),
                        qualifier.clone(),
                    )),
                }
                *close = true;
            }
            if ui.button("Cancel").clicked() {
                *close = true;
            }
        });
    });
}

fn number(
    ui: &mut Ui,
    label: &str,
    value: &mut u32,
    range: std::ops::RangeInclusive<u32>,
    unit: &str,
) {
    let l = ui.label(label);
    ui.add(egui::DragValue::new(value).range(range).suffix(unit))
        .labelled_by(l.id);
    ui.end_row();
}

fn async_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    config: &AsyncInvokeConfig,
    state: &mut TriggersTabState,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Asynchronous invocation").strong());
        let event = c
            .entry(name)
            .and_then(|f| f.events.get(f.selected_event))
            .map(|e| e.name.clone());
        let send = ui
            .add_enabled(
                event.is_some() && c.triggers.is_some(),
                egui::Button::new("Send test event as Event"),
            )
            .on_hover_text(format!(
                "Queue the selected test event ({}) as InvocationType Event: 202 at once, then attempts with retries",
                event.as_deref().unwrap_or("none")
            ));
        if send.clicked() {
            cmds.push(Command::InvokeAsync(name.to_owned()));
        }
        if state.async_form.as_ref().is_none_or(|f| f.function != name)
            && ui.button("Edit settings").clicked()
        {
            state.async_form = Some(AsyncForm::new(name, config));
        }
        if let Some(host) = &c.triggers {
            ui.separator();
            let speed = host.async_queue().clock().speed();
            let label = |s: f64| match s {
                s if s <= 1.0 => "real time".to_owned(),
                s => format!("{s:.0}× fast-forward"),
            };
            let l = ui.label("Clock").on_hover_text(
                "Speed of the queue's clock: at 60× the retry schedule's 1 + 2 minutes play in 3 seconds",
            );
            egui::ComboBox::from_id_salt("async-clock")
                .selected_text(label(speed))
                .show_ui(ui, |ui| {
                    for s in [1.0, 10.0, 60.0, 600.0] {
                        if ui.selectable_label(speed == s, label(s)).clicked() {
                            cmds.push(Command::SetClockSpeed(s));
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            if speed > 1.0 {
                let ahead = host.async_queue().clock().offset();
                ui.label(
                    RichText::new(format!(
                        "simulated time {} ahead; timestamps stay real",
                        human_span(ahead)
                    ))
                    .color(super::theme::warm(ui.visuals().dark_mode)),
                )
                .on_hover_text(
                    "Retries and maximum event age run on the fast clock; the timeline, \
                     history and logs keep real times",
                );
            }
        }
    });
    let destination = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".to_owned());
    ui.label(
        RichText::new(format!(
            "Retries {} · maximum event age {} s · on success: {} · on failure: {} · dead-letter file: {}",
            config.max_retry_attempts,
            config.max_event_age_s,
            destination(&config.on_success),
            destination(&config.on_failure),
            config
                .dead_letter_file
                .as_ref()
                .map_or_else(|| "none".to_owned(), |p| p.display().to_string()),
        ))
        .weak(),
    );
    if let Some(form) = state.async_form.as_mut().filter(|f| f.function == name) {
        let mut close = false;
        async_form_ui(ui, c, form, cmds, &mut close);
        if close {
            state.async_form = None;
        }
    }
    if let Some(host) = &c.triggers {
        let pending = host.async_queue().pending_of(name);
        let clock = host.async_queue().clock();
        let now = chrono::Utc::now();
        if pending.is_empty() {
            ui.label(RichText::new("No event waiting").weak());
        } else {
            egui::Grid::new("async-pending")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for h in ["Waiting event", "Accepted", "Attempts", "Next attempt"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for p in pending.iter().take(50) {
                        ui.label(RichText::new(&p.id).monospace());
                        ui.label(local(clock.to_real(p.accepted_at)));
                        ui.label(p.attempts.to_string());
                        let wait = (clock.to_real(p.next_attempt_at) - now).num_milliseconds();
                        ui.label(if wait > 0 {
                            format!("in {:.1} s", wait as f64 / 1000.0)
                        } else {
                            "now".to_owned()
                        });
                        ui.end_row();
                    }
                });
        }
        if let Some(id) = timeline_ui(ui, c, name, now) {
            state.show_request = Some(id);
        }
        // Repaint while the clock moves something on screen.
        if !pending.is_empty() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
    }
}

fn async_form_ui(
    ui: &mut Ui,
    c: &Controller,
    form: &mut AsyncForm,
    cmds: &mut Vec<Command>,
    close: &mut bool,
) {
    let Some(entry) = c.entry(&form.function) else {
        return;
    };
    let mut config = entry.config.clone();
    config.async_invoke = form.to_config();
    let errors = config.validate().err().unwrap_or_default();
    egui::Frame::group(ui.style()).show(ui, |ui| {
        egui::Grid::new("async-form")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                number(ui, "Retry attempts", &mut form.retries, 0..=2, "");
                number(ui, "Maximum event age", &mut form.max_age_s, 60..=21_600, " s");
                for (label, field, value) in [
                    ("On success", "async_invoke.on_success", &mut form.on_success),
                    ("On failure", "async_invoke.on_failure", &mut form.on_failure),
                    ("Dead-letter file", "async_invoke.dead_letter_file", &mut form.dead_letter),
                ] {
                    let l = ui.label(label).on_hover_text(
                        "function:NAME or file:PATH (JSON lines) for destinations; a path for the dead-letter file",
                    );
                    ui.vertical(|ui| {
                        ui.add(egui::TextEdit::singleline(value).desired_width(300.0))
                            .labelled_by(l.id);
                        for e in errors.iter().filter(|e| e.field == field) {
                            ui.label(RichText::new(&e.message).color(super::theme::error(ui.visuals().dark_mode)));
                        }
                    });
                    ui.end_row();
                }
            });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(errors.is_empty(), egui::Button::new("Apply"))
                .on_hover_text("Saves the settings; the next start is cold")
                .clicked()
            {
                cmds.push(Command::ApplyConfig(form.function.clone(), config.clone()));
                *close = true;
            }
            if ui.button("Cancel").clicked() {
                *close = true;
            }
        });
    });
}

/// Rows of the timeline.
const TIMELINE_ROWS: usize = 12;

/// One row per recent event: accepted, attempts, retries due and the end.
/// Returns the event clicked, if any.
fn timeline_ui(ui: &mut Ui, c: &Controller, name: &str, now: DateTime<Utc>) -> Option<String> {
    // The 12 events that moved last, then their steps: two passes over the
    // history with a 12-entry lookup, however long the history is.
    let mut recent: Vec<&str> = Vec::with_capacity(TIMELINE_ROWS);
    for r in c.async_history.iter().rev().filter(|r| r.function == name) {
        if recent.len() == TIMELINE_ROWS {
            break;
        }
        if !recent.contains(&r.id.as_str()) {
            recent.push(&r.id);
        }
    }
    let mut shown: Vec<(&str, Vec<&AsyncRecord>)> = Vec::with_capacity(recent.len());
    for r in c.async_history.iter().filter(|r| r.function == name) {
        if !recent.contains(&r.id.as_str()) {
            continue;
        }
        match shown.iter_mut().find(|(id, _)| *id == r.id) {
            Some((_, steps)) => steps.push(r),
            None => shown.push((&r.id, vec![r])),
        }
    }
    if shown.is_empty() {
        return None;
    }
    let mut clicked = None;
    let start = shown
        .iter()
        .filter_map(|(_, s)| s.first().map(|r| r.at))
        .min()
        .unwrap_or(now);
    let end = shown
        .iter()
        .flat_map(|(_, s)| s.iter())
        .map(|r| match r.step {
            AsyncStep::RetryAt(t) => t,
            _ => r.at,
        })
        .max()
        .unwrap_or(now)
        .max(now);
    let span = ((end - start).num_milliseconds().max(1)) as f32;
    ui.add_space(6.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!(
            "Timeline of the last {} event(s), {} to {}:",
            shown.len(),
            local(start),
            local(end)
        )));
        for (marker, text) in [
            (Marker::Dot(OK), "attempt ok"),
            (Marker::Dot(ERROR), "attempt failed"),
            (Marker::Dot(WARM), "throttled"),
            (Marker::Ring(WARM), "retry due"),
            (Marker::Diamond(OK), "record sent"),
        ] {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            marker.paint(ui.painter(), rect.center());
            ui.label(RichText::new(text));
        }
    });
    for (id, steps) in &shown {
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), 18.0), egui::Sense::click());
        let painter = ui.painter_at(rect);
        let label_w = 90.0;
        painter.text(
            rect.left_center(),
            egui::Align2::LEFT_CENTER,
            &id[..id.len().min(8)],
            egui::FontId::monospace(11.0),
            ui.visuals().text_color(),
        );
        let x0 = rect.left() + label_w;
        let w = (rect.width() - label_w - 8.0).max(10.0);
        let x_of = |t: DateTime<Utc>| x0 + w * ((t - start).num_milliseconds() as f32 / span);
        let y = rect.center().y;
        let first = steps.first().map_or(start, |r| r.at);
        let finished = steps.iter().rev().find_map(|r| match r.step {
            AsyncStep::Finished { .. } => Some(r.at),
            _ => None,
        });
        painter.line_segment(
            [
                egui::pos2(x_of(first), y),
                egui::pos2(x_of(finished.unwrap_or(now)), y),
            ],
            egui::Stroke::new(1.0, Color32::GRAY),
        );
        let mut lines = Vec::new();
        // The record goes out right after the last attempt: set it beside it.
        let mut last_attempt_x = f32::MIN;
        for r in steps {
            let mut p = egui::pos2(x_of(r.at), y);
            let text = match &r.step {
                AsyncStep::Accepted(source) => {
                    painter.circle_filled(p, 3.0, Color32::GRAY);
                    format!("accepted from {source}")
                }
                AsyncStep::Attempt { n, ok, detail } => {
                    last_attempt_x = p.x;
                    Marker::Dot(if *ok { OK } else { ERROR }).paint(&painter, p);
                    format!(
                        "attempt {n}: {}",
                        if *ok {
                            format!("ok, {detail}")
                        } else {
                            detail.clone()
                        }
                    )
                }
                AsyncStep::Throttled => {
                    Marker::Dot(WARM).paint(&painter, p);
                    "throttled".to_owned()
                }
                AsyncStep::RetryAt(t) => {
                    Marker::Ring(WARM).paint(&painter, egui::pos2(x_of(*t), y));
                    format!("next attempt due {}", local(*t))
                }
                AsyncStep::Finished { condition, sent_to } => {
                    let color = if condition == "Success" { OK } else { ERROR };
                    p.x = p.x.max(last_attempt_x + 12.0);
                    Marker::Diamond(color).paint(&painter, p);
                    if sent_to.is_empty() {
                        format!("{condition}; no destination")
                    } else {
                        format!("{condition}; record sent to {}", sent_to.join(", "))
                    }
                }
            };
            lines.push(format!("{} {text}", local(r.at)));
        }
        let full_id = id.to_string();
        let response = response.on_hover_ui(|ui| {
            ui.label(RichText::new(&full_id).monospace());
            for l in &lines {
                ui.label(l);
            }
            ui.label(
                RichText::new("Click to see its log lines (every attempt has this request id)")
                    .weak(),
            );
        });
        if response.clicked() {
            clicked = Some(full_id);
        }
    }
    // The records sent to destinations, newest first.
    let finished: Vec<&AsyncRecord> = c
        .async_history
        .iter()
        .rev()
        .filter(|r| r.function == name && matches!(r.step, AsyncStep::Finished { .. }))
        .take(5)
        .collect();
    if !finished.is_empty() {
        ui.add_space(4.0);
        ui.label(RichText::new("Outcomes (newest first)").strong());
        for r in finished {
            if let AsyncStep::Finished { condition, sent_to } = &r.step {
                let color = if condition == "Success" { OK } else { ERROR };
                ui.horizontal_wrapped(|ui| {
                    ui.label(local(r.at));
                    if ui.link(RichText::new(&r.id).monospace()).clicked() {
                        clicked = Some(r.id.clone());
                    }
                    ui.label(RichText::new(condition).color(color));
                    ui.label(if sent_to.is_empty() {
                        "no destination configured".to_owned()
                    } else {
                        format!("invocation record sent to {}", sent_to.join(", "))
                    });
                });
            }
        }
    }
    clicked
}

/// The shapes of the timeline.
#[derive(Clone, Copy)]
enum Marker {
    Dot(Color32),
    Ring(Color32),
    Diamond(Color32),
}

impl Marker {
    fn paint(self, painter: &egui::Painter, p: egui::Pos2) {
        match self {
            Self::Dot(color) => {
                painter.circle_filled(p, 5.0, color);
            }
            Self::Ring(color) => {
                painter.circle_stroke(p, 4.5, egui::Stroke::new(1.5, color));
            }
            Self::Diamond(color) => {
                let d = 5.0;
                painter.add(egui::Shape::convex_polygon(
                    vec![
                        p + egui::vec2(0.0, -d),
                        p + egui::vec2(d, 0.0),
                        p + egui::vec2(0.0, d),
                        p + egui::vec2(-d, 0.0),
                    ],
                    color,
                    egui::Stroke::NONE,
                ));
            }
        }
    }
}

/// A span for people: seconds, minutes, hours or days.
fn human_span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7_199 => format!("{} min", s / 60),
        7_200..=172_799 => format!("{:.1} h", s as f64 / 3600.0),
        _ => format!("{:.1} days", s as f64 / 86_400.0),
    }
}
