//! State machines in the app: the workspace's definitions (kept even while
//! invalid, as drafts), registered with the trigger host's Step Functions
//! registry once valid, so the API and the app see the same machines;
//! machines created or changed through the API come into the workspace;
//! executions started with the selected input.

use crate::model::TestEvent;
use crate::model::states::blueprints::BLUEPRINTS;
use crate::model::workspace::StateMachineEntry;

use super::Controller;

/// What the state machine list shows of one machine, worked out when
/// something changes (never in a frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MachineStatus {
    /// Problems in its definition (0: valid).
    pub problems: usize,
    /// Its executions running now.
    pub running: usize,
}

impl Controller {
    /// Recounts every machine's problems and running executions.
    pub(super) fn refresh_machine_status(&mut self) {
        let running = self
            .triggers
            .as_ref()
            .map(|h| h.state_machines().running())
            .unwrap_or_default();
        self.machine_status = self
            .workspace
            .state_machines
            .iter()
            .map(|m| {
                let problems = crate::model::states::definition::parse(&m.definition)
                    .err()
                    .map_or(0, |p| p.len());
                let running = running.get(&m.name).copied().unwrap_or(0);
                (m.name.clone(), MachineStatus { problems, running })
            })
            .collect();
    }

    /// The state machine entry called `name`.
    pub fn machine(&self, name: &str) -> Option<&StateMachineEntry> {
        self.workspace
            .state_machines
            .iter()
            .find(|m| m.name == name)
    }

    fn machine_mut(&mut self, name: &str) -> Option<&mut StateMachineEntry> {
        self.workspace
            .state_machines
            .iter_mut()
            .find(|m| m.name == name)
    }

    /// A machine from blueprint `i`, named after it (and numbered when taken).
    pub(super) fn new_machine(&mut self, i: usize) {
        let Some(b) = BLUEPRINTS.get(i) else { return };
        let mut name = b.name.to_owned();
        let mut n = 2;
        while self.machine(&name).is_some() {
            name = format!("{}-{n}", b.name);
            n += 1;
        }
        self.workspace.state_machines.push(StateMachineEntry {
            name: name.clone(),
            definition: b.definition.to_owned(),
            kind: "STANDARD".to_owned(),
            inputs: vec![TestEvent {
                name: "input".to_owned(),
                body: b.input.to_owned(),
            }],
            selected_input: 0,
        });
        self.dirty = true;
        self.register_machine(&name);
        self.selected_machine = Some(name);
        self.refresh_machine_status();
    }

    /// Hands a valid definition to the host's registry (created or updated).
    pub(super) fn register_machine(&mut self, name: &str) {
        let (Some(host), Some(entry)) = (self.triggers.clone(), self.machine(name).cloned()) else {
            return;
        };
        if crate::model::states::definition::parse(&entry.definition).is_err() {
            return;
        }
        let machines = host.state_machines();
        let kind = if entry.kind.is_empty() {
            "STANDARD"
        } else {
            &entry.kind
        };
        let result = match machines.describe(name) {
            Ok(m) if m.definition == entry.definition => Ok(()),
            Ok(m) => machines
                .update(&m.arn, Some(&entry.definition), None)
                .map(|_| ()),
            Err(_) => machines
                .create(name, &entry.definition, kind, "")
                .map(|_| ()),
        };
        if let Err(e) = result {
            self.error(format!("state machine {name}: {e}"));
        }
        self.machines_seen = machines.generation();
    }

    /// The editor's text: kept as it is; a valid one takes effect at once.
    pub(super) fn edit_definition(&mut self, name: &str, text: String) {
        if let Some(m) = self.machine_mut(name) {
            m.definition = text;
            self.dirty = true;
        }
        self.register_machine(name);
        self.refresh_machine_status();
    }

    pub(super) fn edit_machine_input(&mut self, name: &str, text: String) {
        if let Some(m) = self.machine_mut(name) {
            if m.inputs.is_empty() {
                m.inputs.push(TestEvent {
                    name: "input".to_owned(),
                    body: String::new(),
                });
                m.selected_input = 0;
            }
            let i = m.selected_input.min(m.inputs.len() - 1);
            m.inputs[i].body = text;
            self.dirty = true;
        }
    }

    pub(super) fn select_machine_input(&mut self, name: &str, i: usize) {
        if let Some(m) = self.machine_mut(name)
            && i < m.inputs.len()
        {
            m.selected_input = i;
            self.dirty = true;
        }
    }

    /// The selected input saved again under a new name (unique), and selected.
    pub(super) fn new_machine_input(&mut self, name: &str, input: &str) {
        if let Some(m) = self.machine_mut(name) {
            let body = m
                .inputs
                .get(m.selected_input)
                .map_or_else(|| "{}".to_owned(), |i| i.body.clone());
            let base = match input.trim() {
                "" => "input",
                n => n,
            };
            let taken = |n: &str| m.inputs.iter().any(|i| i.name == n);
            let input_name = if taken(base) {
                (2..)
                    .map(|n| format!("{base}-{n}"))
                    .find(|c| !taken(c))
                    .unwrap_or_default()
            } else {
                base.to_owned()
            };
            m.inputs.push(TestEvent {
                name: input_name,
                body,
            });
            m.selected_input = m.inputs.len() - 1;
            self.dirty = true;
        }
    }

    pub(super) fn rename_machine_input(&mut self, name: &str, i: usize, input: &str) {
        let input = input.trim().to_owned();
        if let Some(m) = self.machine_mut(name)
            && !input.is_empty()
            && !m
                .inputs
                .iter()
                .enumerate()
                .any(|(j, e)| j != i && e.name == input)
            && let Some(e) = m.inputs.get_mut(i)
        {
            e.name = input;
            self.dirty = true;
        }
    }

    pub(super) fn delete_machine_input(&mut self, name: &str, i: usize) {
        if let Some(m) = self.machine_mut(name)
            && i < m.inputs.len()
        {
            m.inputs.remove(i);
            m.selected_input = m.selected_input.min(m.inputs.len().saturating_sub(1));
            self.dirty = true;
        }
    }

    pub(super) fn delete_machine(&mut self, name: &str) {
        self.workspace.state_machines.retain(|m| m.name != name);
        if let Some(host) = &self.triggers {
            let _ = host.state_machines().delete(name);
            self.machines_seen = host.state_machines().generation();
        }
        if self.selected_machine.as_deref() == Some(name) {
            self.selected_machine = None;
        }
        self.dirty = true;
        self.refresh_machine_status();
    }

    /// Starts an execution with the selected input; it becomes the one shown.
    pub(super) fn start_execution(&mut self, name: &str) {
        let Some(entry) = self.machine(name).cloned() else {
            return;
        };
        let Some(host) = self.triggers.clone() else {
            self.error("the trigger host is not running: executions cannot start".to_owned());
            return;
        };
        if let Err(problems) = crate::model::states::definition::parse(&entry.definition) {
            self.error(format!(
                "{name} has {} problem(s) in its definition: fix them first",
                problems.len()
            ));
            return;
        }
        self.register_machine(name);
        let input = entry
            .inputs
            .get(entry.selected_input)
            .map_or("{}", |i| i.body.as_str())
            .to_owned();
        let input = if input.trim().is_empty() {
            "{}".to_owned()
        } else {
            input
        };
        match host.state_machines().start(name, None, Some(&input)) {
            Ok(e) => {
                self.shown_execution.insert(name.to_owned(), e.arn());
            }
            Err(e) => self.error(format!("{name}: {e}")),
        }
    }

    pub(super) fn stop_execution(&mut self, arn: &str) {
        if let Some(host) = &self.triggers
            && let Ok(e) = host.state_machines().execution(arn)
        {
            e.stop(
                Some("States.Aborted".to_owned()),
                Some("Stopped in Lambdesk".to_owned()),
            );
        }
    }

    /// Machines created or changed through the API come into the workspace
    /// (and are saved with it). Called from `poll`.
    pub(super) fn sync_machines(&mut self) {
        let Some(host) = self.triggers.clone() else {
            return;
        };
        let machines = host.state_machines();
        let generation = machines.generation();
        if generation == self.machines_seen {
            return;
        }
        self.machines_seen = generation;
        for m in machines.list() {
            match self.machine_mut(&m.name) {
                Some(entry) if entry.definition != m.definition => {
                    entry.definition = m.definition.clone();
                    self.dirty = true;
                }
                Some(_) => {}
                None => {
                    self.workspace.state_machines.push(StateMachineEntry {
                        name: m.name.clone(),
                        definition: m.definition.clone(),
                        kind: m.kind.clone(),
                        inputs: vec![TestEvent {
                            name: "input".to_owned(),
                            body: "{}".to_owned(),
                        }],
                        selected_input: 0,
                    });
                    self.dirty = true;
                }
            }
        }
        // Executions started or ended, machines made or changed: recounted
        // here, once, not in every frame.
        self.refresh_machine_status();
    }

    /// Registers every valid machine of the workspace (when the host starts).
    pub(super) fn register_machines(&mut self) {
        let names: Vec<String> = self
            .workspace
            .state_machines
            .iter()
            .map(|m| m.name.clone())
            .collect();
        for name in names {
            self.register_machine(&name);
        }
        self.refresh_machine_status();
    }
}
