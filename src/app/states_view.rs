//! State machines in the app: the list under the functions (with *New state
//! machine* from a blueprint), and the selected machine's view, as the Step
//! Functions console shows it: the definition editor with its problems
//! marked at their lines beside the graph, and the executions: start one with
//! an input, follow it live on the graph, a table of its states, the data
//! flow of the state selected, and the event history.

use std::collections::BTreeMap;
use std::sync::Arc;

use egui::{Color32, RichText, Ui};

use super::controller::{Command, Controller};
use super::json;
use super::states_graph::{self, Graph, Look, Progress};
use super::theme;
use crate::host::states::{Record, Status};
use crate::model::states::blueprints::BLUEPRINTS;
use crate::model::states::definition::{self, Problem, State, StateMachine};

/// Which part of a machine is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MachineTab {
    /// The editor and the graph.
    #[default]
    Definition,
    /// Executions.
    Executions,
}

/// The machine view's own state (never saved).
#[derive(Clone, Debug)]
pub struct StatesForm {
    /// The part shown.
    pub tab: MachineTab,
    /// The state selected on the graph.
    pub selected_state: Option<String>,
    /// The graph's view (pan and zoom) on the Definition tab.
    pub scene: egui::Rect,
    /// The graph's view on the Executions tab.
    pub exec_scene: egui::Rect,
    /// The parsed definition, kept while its text is unchanged.
    cache: Option<Parsed>,
    /// The selected input's name as being edited, and which input it is
    /// (`machine/index`).
    input_rename: Option<(String, String)>,
}

#[derive(Clone, Debug)]
struct Parsed {
    text: String,
    result: Result<Arc<StateMachine>, Vec<Problem>>,
    graph: Option<Arc<Graph>>,
}

impl Default for StatesForm {
    fn default() -> Self {
        Self {
            tab: MachineTab::default(),
            selected_state: None,
            scene: egui::Rect::ZERO,
            exec_scene: egui::Rect::ZERO,
            cache: None,
            input_rename: None,
        }
    }
}

impl StatesForm {
    fn parsed(&mut self, text: &str) -> &Parsed {
        if self.cache.as_ref().is_none_or(|c| c.text != text) {
            let result = definition::parse(text).map(Arc::new);
            let graph = result
                .as_ref()
                .ok()
                .map(|m| Arc::new(states_graph::layout(m)));
            // A new definition: its graph is fitted to the view again.
            self.scene = egui::Rect::ZERO;
            self.exec_scene = egui::Rect::ZERO;
            self.cache = Some(Parsed {
                text: text.to_owned(),
                result,
                graph,
            });
        }
        self.cache.as_ref().expect("set above")
    }
}

/// The list of state machines, under the functions.
pub fn machines_list_ui(ui: &mut Ui, c: &Controller, cmds: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("State machines");
        ui.menu_button("New…", |ui| {
            for (i, b) in BLUEPRINTS.iter().enumerate() {
                if ui.button(b.name).on_hover_text(b.description).clicked() {
                    cmds.push(Command::NewMachine(i));
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text("A new state machine from a blueprint");
    });
    ui.separator();
    if c.workspace.state_machines.is_empty() {
        ui.label(RichText::new("None yet: New… starts from a blueprint.").weak());
    }
    let dark = ui.visuals().dark_mode;
    for m in &c.workspace.state_machines {
        let selected = c.selected_machine.as_deref() == Some(m.name.as_str());
        ui.horizontal(|ui| {
            let r = ui.selectable_label(selected, RichText::new(&m.name).strong());
            if r.clicked() {
                cmds.push(Command::SelectMachine(m.name.clone()));
            }
            r.context_menu(|ui| {
                if ui.button("Delete").clicked() {
                    cmds.push(Command::DeleteMachine(m.name.clone()));
                    ui.close();
                }
            });
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let status = c.machine_status.get(&m.name).copied().unwrap_or_default();
                if status.running > 0 {
                    ui.label(
                        RichText::new(format!("{} running", status.running)).color(theme::ok(dark)),
                    );
                } else if status.problems > 0 {
                    ui.label(RichText::new("invalid").color(theme::error(dark)));
                } else {
                    ui.label(RichText::new(m.kind.to_lowercase()).weak());
                }
            });
        });
    }
}

/// The selected state machine.
pub fn machine_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    form: &mut StatesForm,
    request_view: &mut Option<String>,
    cmds: &mut Vec<Command>,
) {
    let Some(entry) = c.machine(name) else {
        cmds.push(Command::CloseMachine);
        return;
    };
    ui.horizontal(|ui| {
        ui.heading(name);
        ui.label(RichText::new(format!("State machine · {}", entry.kind)).weak());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Delete")
                .on_hover_text("Remove this state machine")
                .clicked()
            {
                cmds.push(Command::DeleteMachine(name.to_owned()));
            }
            if ui
                .button("Start execution")
                .on_hover_text("Run it with the input on the Executions tab")
                .clicked()
            {
                cmds.push(Command::StartExecution(name.to_owned()));
                form.tab = MachineTab::Executions;
            }
        });
    });
    ui.horizontal(|ui| {
        for (tab, label, tip) in [
            (
                MachineTab::Definition,
                "Definition",
                "The Amazon States Language definition and its graph",
            ),
            (
                MachineTab::Executions,
                "Executions",
                "Start executions and follow them state by state",
            ),
        ] {
            if ui
                .selectable_label(form.tab == tab, label)
                .on_hover_text(tip)
                .clicked()
            {
                form.tab = tab;
            }
        }
    });
    ui.separator();
    let parsed = form.parsed(&entry.definition).clone();
    match form.tab {
        MachineTab::Definition => definition_ui(ui, name, &entry.definition, &parsed, form, cmds),
        MachineTab::Executions => executions_ui(ui, c, name, &parsed, form, request_view, cmds),
    }
}

fn definition_ui(
    ui: &mut Ui,
    name: &str,
    text: &str,
    parsed: &Parsed,
    form: &mut StatesForm,
    cmds: &mut Vec<Command>,
) {
    let dark = ui.visuals().dark_mode;
    let problems: Vec<(Option<usize>, &Problem)> = match &parsed.result {
        Ok(_) => Vec::new(),
        Err(p) => p
            .iter()
            .map(|p| (crate::model::states::locate::line_of(text, &p.pointer), p))
            .collect(),
    };
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        let status = if problems.is_empty() {
            ui.label(RichText::new("Definition: valid").color(theme::ok(dark)))
        } else {
            ui.label(
                RichText::new(format!(
                    "{} problem(s); the last valid definition stays in effect",
                    problems.len()
                ))
                .color(theme::error(dark)),
            )
        };
        let bad_lines: Vec<usize> = problems.iter().filter_map(|(l, _)| *l).collect();
        let mut body = text.to_owned();
        let mut layouter = |ui: &Ui, t: &dyn egui::TextBuffer, wrap_width: f32| {
            let mut job = json::highlight(
                t.as_str(),
                egui::TextStyle::Monospace.resolve(ui.style()),
                dark,
            );
            super::code_editor::mark_lines(
                &mut job,
                t.as_str(),
                &bad_lines,
                theme::error(dark).gamma_multiply(0.25),
            );
            job.wrap.max_width = wrap_width;
            ui.fonts_mut(|f| f.layout_job(job))
        };
        let editor_height = (ui.available_height() - 110.0).max(160.0);
        egui::ScrollArea::vertical()
            .id_salt("definition-editor")
            .max_height(editor_height)
            .show(ui, |ui| {
                let r = ui
                    .add(
                        egui::TextEdit::multiline(&mut body)
                            .id_salt("definition-body")
                            .code_editor()
                            .desired_width(f32::INFINITY)
                            .desired_rows(20)
                            .layouter(&mut layouter),
                    )
                    .labelled_by(status.id);
                if r.changed() {
                    cmds.push(Command::EditDefinition(name.to_owned(), body.clone()));
                }
            });
        egui::ScrollArea::vertical()
            .id_salt("definition-problems")
            .max_height(100.0)
            .show(ui, |ui| {
                for (line, p) in &problems {
                    let at = line.map_or(String::new(), |l| format!("line {l} · "));
                    ui.label(RichText::new(format!("{at}{p}")).color(theme::error(dark)));
                }
            });
        let ui = &mut cols[1];
        match &parsed.graph {
            Some(graph) => {
                ui.label(
                    RichText::new("Graph (drag to pan, Ctrl + wheel to zoom; click a state)")
                        .weak(),
                );
                let height = if form.selected_state.is_some() {
                    ui.available_height() * 0.6
                } else {
                    ui.available_height()
                };
                let clicked = scene_ui(
                    ui,
                    "definition-graph",
                    graph,
                    &mut form.scene,
                    height,
                    &Look {
                        progress: &BTreeMap::new(),
                        selected: form.selected_state.as_deref(),
                        dark,
                    },
                );
                if let Some(s) = clicked {
                    form.selected_state = Some(s);
                }
                if let (Some(sel), Ok(m)) = (&form.selected_state, &parsed.result) {
                    state_definition_ui(ui, text, m, sel);
                }
            }
            None => {
                ui.label(RichText::new("The graph shows once the definition is valid.").weak());
            }
        }
    });
}

/// The selected state's own definition, from the text.
fn state_definition_ui(ui: &mut Ui, text: &str, m: &StateMachine, name: &str) {
    let Some(state) = find_state(m, name) else {
        return;
    };
    ui.label(RichText::new(format!("{} ({})", state.name, state.kind.type_name())).strong());
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    if let Some(v) = find_state_json(&value, name) {
        let pretty = serde_json::to_string_pretty(v).unwrap_or_default();
        egui::ScrollArea::vertical()
            .id_salt("state-definition")
            .show(ui, |ui| {
                ui.add(egui::Label::new(json::highlight(
                    &pretty,
                    egui::TextStyle::Monospace.resolve(ui.style()),
                    ui.visuals().dark_mode,
                )));
            });
    }
}

fn find_state<'a>(m: &'a StateMachine, name: &str) -> Option<&'a State> {
    use crate::model::states::definition::Kind;
    m.state(name).or_else(|| {
        m.states.iter().find_map(|s| match &s.kind {
            Kind::Parallel { branches } => branches.iter().find_map(|b| find_state(b, name)),
            Kind::Map(map) => find_state(&map.processor, name),
            _ => None,
        })
    })
}

fn find_state_json<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let states = v.get("States")?;
    if let Some(s) = states.get(name) {
        return Some(s);
    }
    states.as_object()?.values().find_map(|s| {
        s.get("Branches")
            .and_then(|b| b.as_array())
            .and_then(|b| b.iter().find_map(|m| find_state_json(m, name)))
            .or_else(|| {
                s.get("ItemProcessor")
                    .or_else(|| s.get("Iterator"))
                    .and_then(|p| find_state_json(p, name))
            })
    })
}

/// Gives the lines in `lines` (1-based) a background.
fn scene_ui(
    ui: &mut Ui,
    id: &str,
    graph: &Graph,
    rect: &mut egui::Rect,
    height: f32,
    look: &Look<'_>,
) -> Option<String> {
    let mut clicked = None;
    let frame = egui::Frame::canvas(ui.style()).inner_margin(4.0);
    frame.show(ui, |ui| {
        ui.set_height(height.max(120.0));
        ui.push_id(id, |ui| {
            egui::Scene::new()
                .zoom_range(0.2..=2.0)
                .show(ui, rect, |ui| {
                    let area = egui::Rect::from_min_size(egui::Pos2::ZERO, graph.size());
                    ui.allocate_rect(area.expand(8.0), egui::Sense::hover());
                    clicked = graph.draw(ui, egui::Pos2::ZERO, look);
                });
        });
    });
    clicked
}

/// The saved inputs: pick one, save the current one under a new name,
/// rename or delete it (as test events are for functions).
fn inputs_ui(
    ui: &mut Ui,
    entry: &crate::model::workspace::StateMachineEntry,
    name: &str,
    form: &mut StatesForm,
    cmds: &mut Vec<Command>,
) {
    let i = entry.selected_input;
    let current = entry.inputs.get(i);
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(RichText::new("Input").strong());
        egui::ComboBox::from_id_salt("machine-input-select")
            .selected_text(current.map_or("none", |e| e.name.as_str()))
            .show_ui(ui, |ui| {
                for (j, e) in entry.inputs.iter().enumerate() {
                    if ui.selectable_label(j == i, &e.name).clicked() {
                        cmds.push(Command::SelectMachineInput(name.to_owned(), j));
                    }
                }
            })
            .response
            .labelled_by(label.id);
        if let Some(e) = current {
            let key = format!("{name}/{i}");
            if form.input_rename.as_ref().is_none_or(|(k, _)| *k != key) {
                form.input_rename = Some((key.clone(), e.name.clone()));
            }
            if let Some((_, text)) = &mut form.input_rename {
                let r = ui
                    .add(
                        egui::TextEdit::singleline(text)
                            .desired_width(110.0)
                            .hint_text("Input name"),
                    )
                    .on_hover_text("Rename: type and press Enter");
                if r.lost_focus() && *text != e.name {
                    cmds.push(Command::RenameMachineInput(
                        name.to_owned(),
                        i,
                        text.clone(),
                    ));
                }
            }
        }
        if ui
            .button("Save as new")
            .on_hover_text("Keep this input as a new saved input")
            .clicked()
        {
            cmds.push(Command::NewMachineInput(name.to_owned(), "input".into()));
        }
        if current.is_some() && entry.inputs.len() > 1 && ui.button("Delete input").clicked() {
            cmds.push(Command::DeleteMachineInput(name.to_owned(), i));
        }
    });
}

fn executions_ui(
    ui: &mut Ui,
    c: &Controller,
    name: &str,
    parsed: &Parsed,
    form: &mut StatesForm,
    request_view: &mut Option<String>,
    cmds: &mut Vec<Command>,
) {
    let dark = ui.visuals().dark_mode;
    let Some(entry) = c.machine(name) else { return };
    let Some(host) = &c.triggers else {
        ui.label(
            RichText::new("Executions need the trigger host, which is not running.")
                .color(theme::error(dark)),
        );
        return;
    };
    let executions = host.state_machines().executions_of(name);
    let shown = c
        .shown_execution
        .get(name)
        .and_then(|arn| executions.iter().find(|e| &e.arn() == arn))
        .or(executions.first())
        .map(|e| e.record());
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        inputs_ui(ui, entry, name, form, cmds);
        let input = entry
            .inputs
            .get(entry.selected_input)
            .map_or("", |i| i.body.as_str());
        let status = match json::check(input) {
            Ok(_) => ui.label(RichText::new("Input (JSON): valid").color(theme::ok(dark))),
            Err(p) => ui.label(
                RichText::new(format!(
                    "Input: invalid JSON at line {}, column {}: {}",
                    p.line, p.column, p.message
                ))
                .color(theme::error(dark)),
            ),
        };
        let mut body = input.to_owned();
        let mut layouter = |ui: &Ui, t: &dyn egui::TextBuffer, wrap_width: f32| {
            let mut job = json::highlight(
                t.as_str(),
                egui::TextStyle::Monospace.resolve(ui.style()),
                dark,
            );
            job.wrap.max_width = wrap_width;
            ui.fonts_mut(|f| f.layout_job(job))
        };
        egui::ScrollArea::vertical()
            .id_salt("execution-input")
            .max_height(110.0)
            .show(ui, |ui| {
                let r = ui
                    .add(
                        egui::TextEdit::multiline(&mut body)
                            .id_salt("input-body")
                            .code_editor()
                            .desired_width(f32::INFINITY)
                            .desired_rows(4)
                            .layouter(&mut layouter),
                    )
                    .labelled_by(status.id);
                if r.changed() {
                    cmds.push(Command::EditMachineInput(name.to_owned(), body.clone()));
                }
            });
        ui.horizontal(|ui| {
            let ok = json::check(input).is_ok() && parsed.result.is_ok();
            if ui
                .add_enabled(ok, egui::Button::new("Start execution"))
                .clicked()
            {
                cmds.push(Command::StartExecution(name.to_owned()));
            }
            ui.label(RichText::new(format!("{} execution(s)", executions.len())).weak());
        });
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("executions-list")
            .show(ui, |ui| {
                // Summaries: a list row needs no history.
                for e in executions.iter().take(200) {
                    let r = e.summary();
                    let color = status_color(r.status, dark);
                    let is_shown = shown.as_ref().is_some_and(|s| s.arn == r.arn);
                    let duration = r
                        .stop
                        .map(|s| format!(" · {}", ms(&r, s)))
                        .unwrap_or_default();
                    let text = RichText::new(format!(
                        "{} · {}{}",
                        r.start.with_timezone(&chrono::Local).format("%H:%M:%S"),
                        status_label(r.status),
                        duration
                    ))
                    .color(color);
                    if ui
                        .selectable_label(is_shown, text)
                        .on_hover_text(&r.name)
                        .clicked()
                    {
                        cmds.push(Command::ShowExecution(name.to_owned(), r.arn.clone()));
                    }
                }
            });
        let ui = &mut cols[1];
        let Some(record) = &shown else {
            ui.label(
                RichText::new(
                    "No execution yet: Start execution runs one with the input on the left.",
                )
                .weak(),
            );
            return;
        };
        execution_ui(ui, name, record, parsed, form, request_view, cmds);
    });
    if shown.as_ref().is_some_and(|r| r.status == Status::Running) {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Running => "RUNNING",
        Status::Succeeded => "SUCCEEDED",
        Status::Failed => "FAILED",
        Status::TimedOut => "TIMED_OUT",
        Status::Aborted => "ABORTED",
    }
}

fn status_color(s: Status, dark: bool) -> Color32 {
    match s {
        Status::Running => theme::cold(dark),
        Status::Succeeded => theme::ok(dark),
        Status::Failed | Status::TimedOut => theme::error(dark),
        Status::Aborted => theme::warm(dark),
    }
}

fn ms(r: &Record, end: chrono::DateTime<chrono::Utc>) -> String {
    let d = (end - r.start).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    fmt_ms(d)
}

fn execution_ui(
    ui: &mut Ui,
    name: &str,
    r: &Record,
    parsed: &Parsed,
    form: &mut StatesForm,
    request_view: &mut Option<String>,
    cmds: &mut Vec<Command>,
) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(status_label(r.status))
                .strong()
                .color(status_color(r.status, dark)),
        );
        let end = r.stop.unwrap_or_else(chrono::Utc::now);
        ui.label(format!("{} transitions · {}", r.transitions, ms(r, end)));
        if r.status == Status::Running && ui.button("Stop").clicked() {
            cmds.push(Command::StopExecution(r.arn.clone()));
        }
        if ui
            .button("New execution")
            .on_hover_text("Start again with the input on the left")
            .clicked()
        {
            cmds.push(Command::StartExecution(name.to_owned()));
        }
        if ui
            .button("Copy history JSON")
            .on_hover_text("The event history as GetExecutionHistory returns it")
            .clicked()
        {
            let events: Vec<serde_json::Value> = r.events.iter().map(|e| e.to_json()).collect();
            ui.ctx().copy_text(
                serde_json::to_string_pretty(&serde_json::json!({ "events": events }))
                    .unwrap_or_default(),
            );
        }
    });
    // Not justified (a column's layout is): a long JSON line wraps as text.
    ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
        if let Some(e) = &r.error {
            ui.add(
                egui::Label::new(
                    RichText::new(format!("{}: {}", e.error, e.cause)).color(theme::error(dark)),
                )
                .wrap(),
            );
        }
        if let Some(out) = &r.output {
            ui.add(
                egui::Label::new(RichText::new(format!("Output: {}", elide(out, 300))).monospace())
                    .wrap(),
            );
        }
    });
    let progress = states_graph::progress(&r.events);
    if let Some(graph) = &parsed.graph {
        let legend = [
            Progress::InProgress,
            Progress::Succeeded,
            Progress::Failed,
            Progress::Caught,
        ];
        ui.horizontal(|ui| {
            for p in legend {
                ui.label(RichText::new(p.label()).color(p.color(dark)));
            }
        });
        let height = (ui.available_height() * 0.42).max(140.0);
        if let Some(s) = scene_ui(
            ui,
            "execution-graph",
            graph,
            &mut form.exec_scene,
            height,
            &Look {
                progress: &progress,
                selected: form.selected_state.as_deref(),
                dark,
            },
        ) {
            form.selected_state = Some(s);
        }
    }
    egui::ScrollArea::both()
        .id_salt("execution-details")
        .show(ui, |ui| {
            states_table_ui(ui, r, &progress, form, request_view);
            if let (Some(sel), Ok(m)) = (&form.selected_state, &parsed.result) {
                data_flow_ui(ui, r, m, sel);
            }
            egui::CollapsingHeader::new(format!("Event history ({} events)", r.events.len()))
                .id_salt("history")
                .show(ui, |ui| {
                    egui::Grid::new("events")
                        .striped(true)
                        .num_columns(4)
                        .show(ui, |ui| {
                            for e in r.events.iter().take(2000) {
                                ui.label(e.id.to_string());
                                ui.label(e.kind.as_str());
                                ui.label(
                                    e.timestamp
                                        .with_timezone(&chrono::Local)
                                        .format("%H:%M:%S%.3f")
                                        .to_string(),
                                );
                                let details = e
                                    .details
                                    .as_ref()
                                    .map(|(_, d)| elide(&d.to_string(), 90))
                                    .unwrap_or_default();
                                ui.label(RichText::new(details).monospace().weak());
                                ui.end_row();
                            }
                        });
                });
        });
}

/// The states an execution went through: state, type, status, start, duration, and the logs of its invocation.
fn states_table_ui(
    ui: &mut Ui,
    r: &Record,
    progress: &BTreeMap<String, Progress>,
    form: &mut StatesForm,
    request_view: &mut Option<String>,
) {
    let dark = ui.visuals().dark_mode;
    egui::Grid::new("states-table")
        .striped(true)
        .num_columns(6)
        .show(ui, |ui| {
            for h in ["State", "Type", "Status", "Started", "Duration", "Logs"] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            let mut seen = std::collections::BTreeSet::new();
            for (i, e) in r.events.iter().enumerate() {
                if !e.kind.ends_with("StateEntered") {
                    continue;
                }
                let Some(name) = e.details.as_ref().and_then(|(_, d)| d["name"].as_str()) else {
                    continue;
                };
                if !seen.insert(name.to_owned()) || seen.len() > 500 {
                    continue;
                }
                let type_name = e.kind.trim_end_matches("StateEntered");
                let exit = r.events[i..].iter().find(|x| {
                    x.kind.ends_with("StateExited")
                        && x.details.as_ref().and_then(|(_, d)| d["name"].as_str()) == Some(name)
                });
                let request = r.events[i..]
                    .iter()
                    .take_while(|x| !(x.kind.ends_with("StateEntered") && x.id != e.id))
                    .find_map(|x| x.request_id.clone());
                if ui
                    .selectable_label(form.selected_state.as_deref() == Some(name), name)
                    .clicked()
                {
                    form.selected_state = Some(name.to_owned());
                }
                ui.label(type_name);
                match progress.get(name) {
                    Some(p) => ui.label(RichText::new(p.label()).color(p.color(dark))),
                    None => ui.label(""),
                };
                ui.label(
                    e.timestamp
                        .with_timezone(&chrono::Local)
                        .format("%H:%M:%S%.3f")
                        .to_string(),
                );
                ui.label(
                    exit.map(|x| {
                        fmt_ms(
                            (x.timestamp - e.timestamp).num_microseconds().unwrap_or(0) as f64
                                / 1000.0,
                        )
                    })
                    .unwrap_or_default(),
                );
                match request {
                    Some(id) => {
                        if ui
                            .small_button("Log output")
                            .on_hover_text("This task's invocation's log lines")
                            .clicked()
                        {
                            *request_view = Some(id);
                        }
                    }
                    None => {
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
}

/// The selected state's input and output, and the data-flow steps between
/// them, worked out again from its definition, its recorded input and result.
fn data_flow_ui(ui: &mut Ui, r: &Record, m: &StateMachine, name: &str) {
    use crate::model::states::dataflow::{self, Inspection};
    let detail = |kind_end: &str, field: &str| {
        r.events
            .iter()
            .rev()
            .find(|e| {
                e.kind.ends_with(kind_end)
                    && e.details.as_ref().and_then(|(_, d)| d["name"].as_str()) == Some(name)
            })
            .and_then(|e| {
                e.details
                    .as_ref()
                    .and_then(|(_, d)| d[field].as_str())
                    .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            })
    };
    let Some(input) = detail("StateEntered", "input") else {
        return;
    };
    let output = detail("StateExited", "output");
    ui.add_space(6.0);
    ui.label(RichText::new(format!("Data flow of {name}")).strong());
    let mut steps: Vec<(&str, serde_json::Value)> = vec![("Input", input.clone())];
    if let Some(state) = find_state(m, name) {
        let entered = r.events.iter().rposition(|e| {
            e.kind.ends_with("StateEntered")
                && e.details.as_ref().and_then(|(_, d)| d["name"].as_str()) == Some(name)
        });
        let result = entered.and_then(|i| {
            r.events[i..].iter().find_map(|e| match &e.details {
                Some((k, d))
                    if k.ends_with("SucceededEventDetails")
                        && (k.starts_with("lambda") || k.starts_with("task")) =>
                {
                    d["output"]
                        .as_str()
                        .and_then(|s| serde_json::from_str(s).ok())
                }
                _ => None,
            })
        });
        let mut ins = Inspection::default();
        let context = serde_json::json!({});
        if let Ok(effective) = dataflow::effective_input(state, &input, &context, &mut ins) {
            steps.push(("After InputPath", ins.after_input_path.clone()));
            steps.push(("After Parameters", effective.clone()));
            let result = result.or_else(|| match &state.kind {
                crate::model::states::definition::Kind::Pass { result } => {
                    Some(result.clone().unwrap_or(effective))
                }
                _ => None,
            });
            if let Some(res) = result
                && dataflow::output(state, &input, res, &context, &mut ins).is_ok()
            {
                steps.push(("Result", ins.result.clone()));
                steps.push(("After ResultSelector", ins.after_result_selector.clone()));
                steps.push(("After ResultPath", ins.after_result_path.clone()));
            }
        }
    }
    if let Some(out) = output {
        steps.push(("Output", out));
    }
    // The workflow variables it assigned (`assignedVariables`: JSON texts).
    let assigned = r.events.iter().rev().find_map(|e| match &e.details {
        Some((_, d)) if e.kind.ends_with("StateExited") && d["name"].as_str() == Some(name) => d
            .get("assignedVariables")
            .and_then(|a| a.as_object())
            .cloned(),
        _ => None,
    });
    if let Some(a) = assigned {
        let values: serde_json::Map<String, serde_json::Value> = a
            .into_iter()
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(v);
                (k, v)
            })
            .collect();
        steps.push(("Assigned variables", serde_json::Value::Object(values)));
    }
    egui::Grid::new("data-flow")
        .striped(true)
        .num_columns(2)
        .show(ui, |ui| {
            for (label, v) in steps {
                ui.label(label);
                ui.add(
                    egui::Label::new(RichText::new(elide(&v.to_string(), 400)).monospace()).wrap(),
                );
                ui.end_row();
            }
        });
}

/// Milliseconds as the console shows durations.
fn fmt_ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.2} ms")
    } else {
        format!("{:.0} µs", v * 1000.0)
    }
}

fn elide(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
