//! The state machines a host knows and their executions, as the Step
//! Functions API sees them: create, update, describe, list and delete
//! machines; start (and start synchronously), describe, stop and list
//! executions, read their histories; test one state. Errors carry AWS's
//! error type and message. Executions run on `host/states.rs`; at most
//! [`MAX_EXECUTIONS`] are kept, the oldest finished ones dropped first.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::states::{self, Env, Execution, Status};
use crate::model::states::dataflow::{self, Inspection};
use crate::model::states::definition::{self, Kind, StateMachine};
use crate::model::states::variables as vars;
use crate::model::{ACCOUNT_ID, REGION};

/// Executions kept (running ones are never dropped).
pub const MAX_EXECUTIONS: usize = 1_000;

/// A Step Functions API error: AWS's type, message and HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct SfnError {
    /// `StateMachineDoesNotExist`, `InvalidDefinition`, …
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
}

impl SfnError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// A state machine as the API describes it.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The definition as given.
    pub definition: String,
    /// The definition, parsed.
    pub parsed: Arc<StateMachine>,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    /// The role ARN given (not enforced: functions run with their own roles).
    pub role_arn: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// When it was last updated.
    pub updated: DateTime<Utc>,
    /// A new one at every update.
    pub revision_id: String,
}

/// The machines and executions of one host.
pub struct StateMachines {
    env: Env,
    machines: RwLock<BTreeMap<String, Machine>>,
    executions: Mutex<Vec<Execution>>,
    /// Counts changes to the machines (and executions started), so a viewer
    /// can tell when to look again.
    generation: Arc<AtomicU64>,
    on_change: Option<super::invoker::Notify>,
    /// Where executions are saved (one file each), if anywhere.
    dir: Option<std::path::PathBuf>,
}

/// What was last written of one execution.
#[derive(Default)]
struct SaveState {
    /// The final record is written.
    ended: bool,
    /// Something was written.
    any: bool,
    /// Events in the last record written.
    events: usize,
}

/// The error of an execution that was running when the process ended.
pub const HOST_STOPPED: &str = "Lambdesk.HostStopped";

fn execution_file(dir: &std::path::Path, arn: &str) -> std::path::PathBuf {
    // `…:execution:MACHINE:NAME` or `…:express:MACHINE:NAME:ID`; the parts
    // are names without `/` or `:`.
    let rest = arn
        .split_once(":execution:")
        .or_else(|| arn.split_once(":express:"))
        .map_or(arn, |(_, r)| r);
    dir.join(format!("{}.json", rest.replace([':', '/', '\\'], "--")))
}

fn save_record(dir: &std::path::Path, r: &states::Record) {
    let path = execution_file(dir, &r.arn);
    let bytes = serde_json::to_vec(&r.to_json()).unwrap_or_default();
    if let Err(e) = crate::store::atomic::write_atomic(&path, &bytes) {
        eprintln!("lambdesk: saving execution {}: {e}", r.arn);
    }
}

/// `arn:aws:states:REGION:ACCOUNT:stateMachine:NAME`.
pub fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}")
}

/// The machine name in a state machine ARN (any region and account), or a bare name.
pub fn machine_name(arn: &str) -> Result<&str, SfnError> {
    match arn.strip_prefix("arn:") {
        None => Ok(arn),
        Some(_) => {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() == 7 && parts[2] == "states" && parts[5] == "stateMachine" {
                Ok(parts[6])
            } else {
                Err(SfnError::new(
                    "InvalidArn",
                    format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"),
                ))
            }
        }
    }
}

fn check_name(name: &str) -> Result<(), SfnError> {
    let ok = (1..=80).contains(&name.chars().count())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SfnError::new(
            "InvalidName",
            format!("Invalid Name: '{name}'"),
        ))
    }
}

fn parse_definition(text: &str) -> Result<Arc<StateMachine>, SfnError> {
    definition::parse(text).map(Arc::new).map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        SfnError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: '{}'", list.join("; ")),
        )
    })
}

impl StateMachines {
    /// An empty registry whose executions use `env`.
    pub fn new(env: Env, on_change: Option<super::invoker::Notify>) -> Self {
        Self {
            env,
            machines: RwLock::new(BTreeMap::new()),
            executions: Mutex::new(Vec::new()),
            generation: Arc::default(),
            on_change,
            dir: None,
        }
    }

    /// Keeps executions in `dir` (one file each, at most [`MAX_EXECUTIONS`],
    /// oldest dropped first) and reads back the ones saved there. One that was
    /// running when the process ended is reported as failed with
    /// [`HOST_STOPPED`] (never silently lost). Returns files that could not
    /// be read, and why.
    pub fn with_store(mut self, dir: std::path::PathBuf) -> (Self, Vec<String>) {
        let mut problems = Vec::new();
        let mut loaded = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let record = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .and_then(|v| states::Record::from_json(&v));
                match record {
                    Some(mut r) => {
                        if r.status == Status::Running {
                            let cause = "Lambdesk stopped (it was closed or killed) while this execution ran; it was not resumed";
                            let previous = r.events.last().map_or(0, |e| e.id);
                            r.events.push(states::Event {
                                id: previous + 1,
                                previous_event_id: previous,
                                timestamp: Utc::now(),
                                kind: "ExecutionFailed".to_owned(),
                                details: Some((
                                    "executionFailedEventDetails",
                                    serde_json::json!({"error": HOST_STOPPED, "cause": cause}),
                                )),
                                request_id: None,
                            });
                            r.status = Status::Failed;
                            r.stop = Some(Utc::now());
                            r.error = Some(crate::model::states::error::StatesError::new(
                                HOST_STOPPED,
                                cause,
                            ));
                            save_record(&dir, &r);
                        }
                        loaded.push(r);
                    }
                    None => problems.push(format!("{}: not a saved execution", path.display())),
                }
            }
        }
        loaded.sort_by_key(|r| r.start);
        let excess = loaded.len().saturating_sub(MAX_EXECUTIONS);
        for r in loaded.drain(..excess) {
            let _ = std::fs::remove_file(execution_file(&dir, &r.arn));
        }
        *self.executions.get_mut().unwrap_or_else(|e| e.into_inner()) =
            loaded.into_iter().map(Execution::ended).collect();
        self.dir = Some(dir);
        (self, problems)
    }

    /// Changes so far to the machines, and executions started and ended.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(n) = &self.on_change {
            n();
        }
    }

    /// Running executions per machine name (one pass over the executions).
    pub fn running(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self
            .executions()
            .iter()
            .filter(|e| e.status() == Status::Running)
        {
            let arn = e.machine_arn();
            let name = arn.rsplit(':').next().unwrap_or_default().to_owned();
            *out.entry(name).or_default() += 1;
        }
        out
    }

    /// The executions of `machine` (a name or ARN), newest first, any status.
    pub fn executions_of(&self, machine: &str) -> Vec<Execution> {
        let arn = machine_arn(machine_name(machine).unwrap_or(machine));
        self.executions()
            .iter()
            .rev()
            .filter(|e| e.machine_arn() == arn)
            .cloned()
            .collect()
    }

    fn machines(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Machine>> {
        self.machines.read().unwrap_or_else(|e| e.into_inner())
    }

    fn executions(&self) -> std::sync::MutexGuard<'_, Vec<Execution>> {
        self.executions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `CreateStateMachine`. The same name and definition again returns the
    /// existing machine, as AWS does; a different one is `StateMachineAlreadyExists`.
    pub fn create(
        &self,
        name: &str,
        definition: &str,
        kind: &str,
        role_arn: &str,
    ) -> Result<Machine, SfnError> {
        check_name(name)?;
        if !matches!(kind, "STANDARD" | "EXPRESS") {
            return Err(SfnError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
                ),
            ));
        }
        let parsed = parse_definition(definition)?;
        let mut machines = self.machines.write().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = machines.get(name) {
            if m.definition == definition && m.kind == kind {
                return Ok(m.clone());
            }
            return Err(SfnError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{}'", m.arn),
            ));
        }
        let now = Utc::now();
        let m = Machine {
            name: name.to_owned(),
            arn: machine_arn(name),
            definition: definition.to_owned(),
            parsed,
            kind: kind.to_owned(),
            role_arn: role_arn.to_owned(),
            created: now,
            updated: now,
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        machines.insert(name.to_owned(), m.clone());
        drop(machines);
        self.changed();
        Ok(m)
    }

    /// `UpdateStateMachine`: a new definition or role; running executions keep theirs.
    pub fn update(
        &self,
        arn: &str,
        definition: Option<&str>,
        role_arn: Option<&str>,
    ) -> Result<Machine, SfnError> {
        let name = machine_name(arn)?;
        let parsed = definition.map(parse_definition).transpose()?;
        let mut machines = self.machines.write().unwrap_or_else(|e| e.into_inner());
        let m = machines.get_mut(name).ok_or_else(|| does_not_exist(arn))?;
        if let (Some(p), Some(d)) = (parsed, definition) {
            m.parsed = p;
            m.definition = d.to_owned();
        }
        if let Some(r) = role_arn {
            m.role_arn = r.to_owned();
        }
        m.updated = Utc::now();
        m.revision_id = uuid::Uuid::new_v4().to_string();
        let m = m.clone();
        drop(machines);
        self.changed();
        Ok(m)
    }

    /// `DescribeStateMachine`.
    pub fn describe(&self, arn: &str) -> Result<Machine, SfnError> {
        let name = machine_name(arn)?;
        self.machines()
            .get(name)
            .cloned()
            .ok_or_else(|| does_not_exist(arn))
    }

    /// `ListStateMachines`, by name.
    pub fn list(&self) -> Vec<Machine> {
        self.machines().values().cloned().collect()
    }

    /// `DeleteStateMachine` (its executions are stopped).
    pub fn delete(&self, arn: &str) -> Result<(), SfnError> {
        let name = machine_name(arn)?;
        let removed = self
            .machines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(m) = removed {
            for e in self.executions().iter() {
                if e.machine_arn() == m.arn {
                    e.stop(
                        Some("States.Aborted".into()),
                        Some("the state machine was deleted".into()),
                    );
                }
            }
            self.changed();
        }
        Ok(())
    }

    /// `StartExecution`: the execution runs in the background.
    pub fn start(
        &self,
        arn: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<Execution, SfnError> {
        let machine = self.describe(arn)?;
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.to_owned()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let input: Value = match input {
            None => Value::Object(Default::default()),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                SfnError::new(
                    "InvalidExecutionInput",
                    format!("Invalid execution input: {e}"),
                )
            })?,
        };
        let mut executions = self.executions();
        let wanted = format!(
            "{}:{name}",
            machine.arn.replace(":stateMachine:", ":execution:")
        );
        // Express executions' names need not be unique (AWS adds an id).
        if machine.kind != "EXPRESS" && executions.iter().any(|e| e.arn() == wanted) {
            return Err(SfnError::new(
                "ExecutionAlreadyExists",
                format!("Execution Already Exists: '{wanted}'"),
            ));
        }
        // Saved when it ends, and (below) as running now, so a kill leaves
        // a record that says so.
        // Every save of this execution happens under one lock and writes
        // only a newer record than the last written (more events), so a slow
        // writer never puts an older one back; the final one always wins.
        let saved: Arc<Mutex<SaveState>> = Arc::default();
        // At the end: saved, and viewers told (an execution ended).
        let on_end: Option<states::OnEnd> = {
            let (dir, saved) = (self.dir.clone(), saved.clone());
            let (generation, notify) = (self.generation.clone(), self.on_change.clone());
            Some(Box::new(move |r: &states::Record| {
                if let Some(dir) = &dir {
                    let mut s = saved.lock().unwrap_or_else(|e| e.into_inner());
                    save_record(dir, r);
                    s.ended = true;
                }
                generation.fetch_add(1, Ordering::AcqRel);
                if let Some(n) = &notify {
                    n();
                }
            }))
        };
        let on_progress: Option<states::OnProgress> = self.dir.clone().map(|dir| {
            let saved = saved.clone();
            let f: states::OnProgress = Arc::new(move |r: &states::Record| {
                let mut s = saved.lock().unwrap_or_else(|e| e.into_inner());
                if !s.ended && (r.events.len() > s.events || !s.any) {
                    save_record(&dir, r);
                    s.events = r.events.len();
                    s.any = true;
                }
            });
            f
        });
        let exec = states::start_with_end(
            machine.parsed.clone(),
            &machine.arn,
            &name,
            input,
            self.env.clone(),
            states::Hooks {
                on_end,
                on_progress: on_progress.clone(),
                express: machine.kind == "EXPRESS",
            },
        )
        .map_err(|e| {
            SfnError::new(
                "ServiceException",
                format!("cannot start the execution: {e}"),
            )
        })?;
        // Saved as running now (unless it got further already).
        if let Some(f) = &on_progress {
            f(&exec.record());
        }
        executions.push(exec.clone());
        if executions.len() > MAX_EXECUTIONS
            && let Some(i) = executions
                .iter()
                .position(|e| e.status() != Status::Running)
        {
            let gone = executions.remove(i);
            if let Some(dir) = &self.dir {
                let _ = std::fs::remove_file(execution_file(dir, &gone.arn()));
            }
        }
        drop(executions);
        self.changed();
        Ok(exec)
    }

    /// `StartSyncExecution`: waits for the end (at most 5 minutes, as Express).
    pub fn start_sync(
        &self,
        arn: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<Execution, SfnError> {
        let exec = self.start(arn, name, input)?;
        if !exec.wait(Duration::from_secs(300)) {
            exec.stop(
                Some("States.Timeout".into()),
                Some("a synchronous execution runs at most 5 minutes".into()),
            );
            exec.wait(Duration::from_secs(5));
        }
        Ok(exec)
    }

    /// The execution with this ARN, as `DescribeExecution`,
    /// `GetExecutionHistory` and `StopExecution` find it: Express
    /// executions are not theirs (AWS keeps no record of them; the app's
    /// own view reads them with [`StateMachines::execution`]).
    pub fn api_execution(&self, arn: &str) -> Result<Execution, SfnError> {
        if arn.starts_with("arn:aws:states:") && arn.contains(":express:") {
            return Err(SfnError::new(
                "InvalidArn",
                "Invalid Arn: 'Resource type not valid in this context: express'",
            ));
        }
        self.execution(arn)
    }

    /// The execution with this ARN (Standard or Express).
    pub fn execution(&self, arn: &str) -> Result<Execution, SfnError> {
        if !arn.starts_with("arn:aws:states:")
            || !(arn.contains(":execution:") || arn.contains(":express:"))
        {
            return Err(SfnError::new(
                "InvalidArn",
                format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"),
            ));
        }
        self.executions()
            .iter()
            .find(|e| e.arn() == arn)
            .cloned()
            .ok_or_else(|| {
                SfnError::new(
                    "ExecutionDoesNotExist",
                    format!("Execution Does Not Exist: '{arn}'"),
                )
            })
    }

    /// `ListExecutions`: newest first, optionally by status.
    pub fn list_executions(
        &self,
        machine: &str,
        status: Option<Status>,
    ) -> Result<Vec<Execution>, SfnError> {
        let m = self.describe(machine)?;
        if m.kind == "EXPRESS" {
            return Err(SfnError::new(
                "StateMachineTypeNotSupported",
                "This operation is not supported by this type of state machine",
            ));
        }
        Ok(self
            .executions()
            .iter()
            .rev()
            .filter(|e| {
                let r = e.record();
                r.machine_arn == m.arn && status.is_none_or(|s| s == r.status)
            })
            .cloned()
            .collect())
    }
}

fn does_not_exist(arn: &str) -> SfnError {
    let arn = if arn.starts_with("arn:") {
        arn.to_owned()
    } else {
        machine_arn(arn)
    };
    SfnError::new(
        "StateMachineDoesNotExist",
        format!("State Machine Does Not Exist: '{arn}'"),
    )
}

/// What `TestState` answers.
#[derive(Clone, Debug, PartialEq)]
pub struct TestStateResult {
    /// `SUCCEEDED`, `FAILED` or `CAUGHT_ERROR`.
    pub status: &'static str,
    /// The state's output.
    pub output: Option<Value>,
    /// The next state.
    pub next_state: Option<String>,
    /// The error and cause.
    pub error: Option<(String, String)>,
    /// Each data-flow step.
    pub inspection: Inspection,
    /// The workflow variables after the state (those given, and its `Assign`).
    pub variables: Value,
}

/// `TestState`: runs one state (its definition alone) on `input`, calling
/// functions for a Task, and reports every data-flow step.
pub fn test_state(
    state_definition: &str,
    input: &Value,
    variables: serde_json::Map<String, Value>,
    env: &Env,
) -> Result<TestStateResult, SfnError> {
    let state: Value = serde_json::from_str(state_definition).map_err(|e| {
        SfnError::new(
            "InvalidDefinition",
            format!("Invalid State Definition: not JSON: {e}"),
        )
    })?;
    // Validated as the only state of a machine whose Next targets exist.
    let mut states = serde_json::Map::new();
    states.insert("Test".into(), state.clone());
    for field in ["Next", "Default"] {
        if let Some(n) = state.get(field).and_then(Value::as_str) {
            states.insert(n.to_owned(), serde_json::json!({"Type": "Succeed"}));
        }
    }
    for list in ["Choices", "Catch"] {
        for c in state
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = c.get("Next").and_then(Value::as_str) {
                states.insert(n.to_owned(), serde_json::json!({"Type": "Succeed"}));
            }
        }
    }
    let machine = definition::parse_value(
        &serde_json::json!({"StartAt": "Test", "States": states}),
    )
    .map_err(|problems| {
        let list: Vec<String> = problems
            .iter()
            .filter(|p| !p.message.contains("cannot be reached"))
            .map(ToString::to_string)
            .collect();
        SfnError::new(
            "InvalidDefinition",
            format!("Invalid State Definition: '{}'", list.join("; ")),
        )
    });
    let machine = match machine {
        Ok(m) => m,
        Err(e) if e.message.ends_with("''") => {
            return Err(SfnError::new(
                "InvalidDefinition",
                "Invalid State Definition",
            ));
        }
        Err(e) => return Err(e),
    };
    let Some(s) = machine.state("Test").cloned() else {
        return Err(SfnError::new(
            "InvalidDefinition",
            "Invalid State Definition",
        ));
    };
    if matches!(s.kind, Kind::Map(_) | Kind::Parallel { .. }) {
        return Err(SfnError::new(
            "ValidationException",
            format!(
                "TestState does not support {} states (as in AWS): Task, Pass, Wait, Choice, Succeed and Fail",
                s.kind.type_name()
            ),
        ));
    }
    let mut ins = Inspection::default();
    let mut context = serde_json::json!({"Execution": {"Id": "test-state", "Input": input}, "State": {"Name": "Test"}});
    vars::preset(&mut context, variables);
    let done = |ins: Inspection,
                out: Result<(Value, Option<String>), crate::model::states::error::StatesError>,
                variables: Value| {
        match out {
            Ok((output, next)) => TestStateResult {
                status: "SUCCEEDED",
                output: Some(output),
                next_state: next,
                error: None,
                inspection: ins,
                variables,
            },
            Err(e) => TestStateResult {
                status: "FAILED",
                output: None,
                next_state: None,
                error: Some((e.error, e.cause)),
                inspection: ins,
                variables,
            },
        }
    };
    let result = (|| {
        match &s.kind {
            Kind::Choice { choices, default } => {
                let effective = dataflow::effective_input(&s, input, &context, &mut ins)?;
                let mut taken = None;
                for rule in choices {
                    if rule.condition.eval(&effective, &context)? {
                        taken = Some((rule.next.clone(), rule.assign.as_ref()));
                        break;
                    }
                }
                let (next, assign) = match taken {
                    Some(t) => t,
                    None => (
                        default.clone().ok_or_else(|| {
                            crate::model::states::error::StatesError::new(
                                "States.NoChoiceMatched",
                                "No Matches!",
                            )
                        })?,
                        s.assign.as_ref(),
                    ),
                };
                let out = dataflow::filter_output(&s, &effective, &context)?;
                run_assign(
                    &s,
                    assign,
                    &effective,
                    json!({"input": input}),
                    &mut context,
                )?;
                Ok((out, Some(next)))
            }
            _ => {
                // Run it as a one-state machine and read the data flow from its history.
                let effective = dataflow::effective_input(&s, input, &context, &mut ins)?;
                let single = definition::parse_value(
                    &serde_json::json!({"StartAt": "Test", "States": {"Test": strip(&state)}}),
                )
                .map_err(|_| {
                    crate::model::states::error::StatesError::runtime("the state cannot run alone")
                })?;
                let exec = states::start(
                    Arc::new(single),
                    &machine_arn("TestState"),
                    "test-state",
                    effective,
                    env.clone(),
                )
                .map_err(|e| crate::model::states::error::StatesError::runtime(e.to_string()))?;
                exec.wait(Duration::from_secs(900));
                let r = exec.record();
                let result: Value = match (r.status, r.output, r.error) {
                    (Status::Succeeded, Some(out), _) => {
                        serde_json::from_str(&out).unwrap_or(Value::Null)
                    }
                    (_, _, Some(e)) => return Err(e),
                    _ => Value::Null,
                };
                let out = dataflow::output(&s, input, result, &context, &mut ins)?;
                run_assign(
                    &s,
                    s.assign.as_ref(),
                    &ins.after_result_selector,
                    json!({"input": input, "result": ins.result}),
                    &mut context,
                )?;
                Ok((out, s.next.clone()))
            }
        }
    })();
    let mut r = done(ins, result, vars::all(&context));
    // A Catch that matches turns a failure into CAUGHT_ERROR with its Next.
    if let Some((error, cause)) = r.error.clone() {
        let e = crate::model::states::error::StatesError::new(error, cause);
        if let Some(c) = s.catch.iter().find(|c| e.matches(&c.error_equals)) {
            r.status = "CAUGHT_ERROR";
            r.next_state = Some(c.next.clone());
            r.output = match &c.result_path {
                None => Some(input.clone()),
                Some(p) => crate::model::states::paths::set(input.clone(), p, e.to_value()).ok(),
            };
            let error_output = e.to_value();
            let states = json!({"input": input, "errorOutput": error_output});
            if let Err(e) = run_assign(&s, c.assign.as_ref(), &error_output, states, &mut context) {
                r.status = "FAILED";
                r.output = None;
                r.next_state = None;
                r.error = Some((e.error, e.cause));
            }
            r.variables = vars::all(&context);
        }
    }
    Ok(r)
}

/// Runs an `Assign` (if any) of a state tested alone.
fn run_assign(
    s: &definition::State,
    assign: Option<&Value>,
    dollar: &Value,
    states: Value,
    context: &mut Value,
) -> Result<(), crate::model::states::error::StatesError> {
    let Some(a) = assign else { return Ok(()) };
    let source = if s.jsonata {
        vars::Source::Jsonata(states)
    } else {
        vars::Source::Path(dollar)
    };
    vars::assign(a, source, context)
}

/// A state's work alone: its data-flow fields, Next, Retry and Catch removed
/// (TestState applies the data flow itself), ending the one-state machine.
fn strip(state: &Value) -> Value {
    let mut s = state.clone();
    if let Some(o) = s.as_object_mut() {
        for k in [
            "Next",
            "InputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "OutputPath",
            "Retry",
            "Catch",
            "ItemSelector",
            "Assign",
        ] {
            o.remove(k);
        }
        if !matches!(
            o.get("Type").and_then(Value::as_str),
            Some("Succeed" | "Fail" | "Choice")
        ) {
            o.insert("End".into(), Value::Bool(true));
        }
    }
    s
}
