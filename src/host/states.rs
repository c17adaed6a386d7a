//! Runs state machine executions (`model/states/` is the language): each
//! state's data flow, Task states invoking the workspace's functions (the
//! legacy function ARN and the optimised `arn:aws:states:::lambda:invoke`),
//! Choice, Wait and Retry on the fast-forward [`Clock`], Parallel branches
//! and Map iterations on named threads (at most 40 at once per Map, as an
//! inline Map), Catch, and an event history with AWS's event types and
//! details, written as it happens so a viewer can follow it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::async_queue::Clock;
use crate::model::states::dataflow::{self, Inspection};
use crate::model::states::definition::{
    Kind, MapState, Seconds, State, StateMachine, Text, WaitFor,
};
use crate::model::states::error::{StatesError, names};
use crate::model::states::{intrinsics, jsonata, paths, variables};
use crate::runtime::{CancelToken, Invocation, InvokeError, Outcome};

/// Most Map iterations running at once (an inline Map's limit in AWS).
pub const MAP_MAX_THREADS: usize = 40;
/// Most events an execution's history keeps (AWS's limit is 25,000).
pub const MAX_EVENTS: usize = 25_000;

/// Invokes a function (`name` or `name:qualifier`) with a payload; the
/// token cancels it (a Task timeout, a stopped execution).
pub type InvokeFn =
    Arc<dyn Fn(&str, &[u8], &CancelToken) -> Result<Invocation, InvokeError> + Send + Sync>;

/// An execution's status, as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Still running.
    Running,
    /// Ended at a Succeed state or an End.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ran past the machine's `TimeoutSeconds`.
    TimedOut,
    /// Stopped (`StopExecution`).
    Aborted,
}

/// One history event, as `GetExecutionHistory` returns it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Event {
    /// 1, 2, 3… in order.
    pub id: u64,
    /// The event before it in its branch of the run (0 for the first).
    #[serde(rename = "previousEventId")]
    pub previous_event_id: u64,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// `ExecutionStarted`, `TaskStateEntered`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The details object's key (`stateEnteredEventDetails`…) and value.
    #[serde(skip)]
    pub details: Option<(&'static str, Value)>,
    /// The invocation's request id, on a task's succeeded or failed event
    /// (not in AWS's shape: the app links to the invocation's logs).
    #[serde(skip)]
    pub request_id: Option<String>,
}

impl Event {
    /// The event as AWS's JSON (`{"id", "previousEventId", "timestamp", "type", "<details>": …}`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp.timestamp_millis() as f64 / 1000.0,
            "type": self.kind,
        });
        if let Some((k, d)) = &self.details {
            v[*k] = d.clone();
        }
        v
    }
}

/// An execution's record: what `DescribeExecution` and `GetExecutionHistory` read.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The state machine's ARN.
    pub machine_arn: String,
    /// The status.
    pub status: Status,
    /// The input, as JSON text.
    pub input: String,
    /// The output, when it succeeded.
    pub output: Option<String>,
    /// The error and cause, when it failed.
    pub error: Option<StatesError>,
    /// When it started.
    pub start: DateTime<Utc>,
    /// When it stopped.
    pub stop: Option<DateTime<Utc>>,
    /// The history.
    pub events: Vec<Event>,
    /// State transitions made.
    pub transitions: u64,
    /// Events beyond [`MAX_EVENTS`] not kept.
    pub events_dropped: u64,
}

/// A running (or finished) execution, shared with whoever watches it.
#[derive(Clone)]
pub struct Execution {
    record: Arc<Mutex<Record>>,
    done: Arc<(Mutex<bool>, Condvar)>,
    stop: Arc<AtomicBool>,
    /// The tokens of the tasks running now, by a number of their own.
    cancels: Arc<Mutex<Vec<(u64, CancelToken)>>>,
    next_id: Arc<AtomicU64>,
}

impl Execution {
    /// A snapshot of the record.
    pub fn record(&self) -> Record {
        self.lock().clone()
    }

    /// Its state machine's ARN (without copying the history).
    pub fn machine_arn(&self) -> String {
        self.lock().machine_arn.clone()
    }

    /// Its ARN.
    pub fn arn(&self) -> String {
        self.lock().arn.clone()
    }

    /// Its status now.
    pub fn status(&self) -> Status {
        self.lock().status
    }

    /// The record without its history (cheap: for lists).
    pub fn summary(&self) -> Record {
        let r = self.lock();
        Record {
            name: r.name.clone(),
            arn: r.arn.clone(),
            machine_arn: r.machine_arn.clone(),
            status: r.status,
            input: String::new(),
            output: None,
            error: r.error.clone(),
            start: r.start,
            stop: r.stop,
            events: Vec::new(),
            transitions: r.transitions,
            events_dropped: r.events_dropped,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until it ends, at most `timeout`; whether it ended.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (lock, cv) = &*self.done;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }

    /// Stops it (`StopExecution`): running tasks are cancelled, waits end,
    /// and the status becomes `ABORTED` with this error and cause.
    pub fn stop(&self, error: Option<String>, cause: Option<String>) {
        {
            let mut r = self.lock();
            if r.status != Status::Running {
                return;
            }
            r.error = Some(StatesError::new(
                error.unwrap_or_default(),
                cause.unwrap_or_default(),
            ));
        }
        self.stop.store(true, Ordering::Release);
        for (_, c) in self
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            c.cancel();
        }
        self.done.1.notify_all();
    }

    fn push(&self, previous: u64, kind: &str, details: Option<(&'static str, Value)>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::AcqRel) + 1;
        let mut r = self.lock();
        // The execution's own last event always has room.
        if r.events.len() >= MAX_EVENTS && !kind.starts_with("Execution") {
            r.events_dropped += 1;
        } else {
            r.events.push(Event {
                id,
                previous_event_id: previous,
                timestamp: Utc::now(),
                kind: kind.to_owned(),
                details,
                request_id: None,
            });
        }
        id
    }

    /// Notes the invocation behind the last event pushed as `id`.
    fn note_request(&self, id: u64, request_id: &str) {
        let mut r = self.lock();
        if let Some(e) = r.events.iter_mut().rev().find(|e| e.id == id) {
            e.request_id = Some(request_id.to_owned());
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// What an execution needs from outside.
#[derive(Clone)]
pub struct Env {
    /// Invokes functions.
    pub invoke: InvokeFn,
    /// Waits and retries run on it.
    pub clock: Clock,
}

/// Starts an execution on a named thread; returns at once.
pub fn start(
    machine: Arc<StateMachine>,
    machine_arn: &str,
    name: &str,
    input: Value,
    env: Env,
) -> std::io::Result<Execution> {
    start_with_end(machine, machine_arn, name, input, env, Hooks::default())
}

/// Called with the final record when an execution ends (to save it).
pub type OnEnd = Box<dyn FnOnce(&Record) + Send>;

/// Called with the record as it stands now and then while it runs (before a
/// wait, at most once a second otherwise), so a kill loses little.
pub type OnProgress = Arc<dyn Fn(&Record) + Send + Sync>;

/// What a registry adds to an execution it starts.
#[derive(Default)]
pub struct Hooks {
    /// Called with the final record (before waiters wake).
    pub on_end: Option<OnEnd>,
    /// Called as it goes.
    pub on_progress: Option<OnProgress>,
    /// An Express execution: its ARN is `…:express:<machine>:<name>:<id>`
    /// and it runs at most five minutes, as AWS's.
    pub express: bool,
}

/// Most time an Express execution runs (AWS's limit: five minutes).
pub const EXPRESS_LIMIT_SECONDS: u64 = 300;

/// [`start`], with a registry's [`Hooks`].
pub fn start_with_end(
    machine: Arc<StateMachine>,
    machine_arn: &str,
    name: &str,
    input: Value,
    env: Env,
    hooks: Hooks,
) -> std::io::Result<Execution> {
    let Hooks {
        on_end,
        on_progress,
        express,
    } = hooks;
    let machine_name = machine_arn
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let arn = if express {
        format!(
            "arn:aws:states:{}:{}:express:{machine_name}:{name}:{}",
            crate::model::REGION,
            crate::model::ACCOUNT_ID,
            uuid::Uuid::new_v4()
        )
    } else {
        format!(
            "arn:aws:states:{}:{}:execution:{machine_name}:{name}",
            crate::model::REGION,
            crate::model::ACCOUNT_ID
        )
    };
    let start = Utc::now();
    let exec = Execution {
        record: Arc::new(Mutex::new(Record {
            name: name.to_owned(),
            arn: arn.clone(),
            machine_arn: machine_arn.to_owned(),
            status: Status::Running,
            input: input.to_string(),
            output: None,
            error: None,
            start,
            stop: None,
            events: Vec::new(),
            transitions: 0,
            events_dropped: 0,
        })),
        done: Arc::new((Mutex::new(false), Condvar::new())),
        stop: Arc::new(AtomicBool::new(false)),
        cancels: Arc::default(),
        next_id: Arc::new(AtomicU64::new(0)),
    };
    let context = json!({
        "Execution": {"Id": arn, "Input": input, "Name": name, "RoleArn": format!("arn:aws:iam::{}:role/lambdesk", crate::model::ACCOUNT_ID), "StartTime": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "StateMachine": {"Id": machine_arn, "Name": machine_name},
    });
    let e = exec.clone();
    std::thread::Builder::new()
        .name("lambdesk-execution".into())
        .spawn(move || {
            run_execution(&machine, input, context, &env, &e, on_progress, express);
            if let Some(f) = on_end {
                f(&e.record());
            }
            let (lock, cv) = &*e.done;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cv.notify_all();
        })?;
    Ok(exec)
}

impl Execution {
    /// An execution that already ended (read back from disk).
    pub fn ended(record: Record) -> Self {
        let next = record.events.last().map_or(0, |e| e.id);
        Self {
            record: Arc::new(Mutex::new(record)),
            done: Arc::new((Mutex::new(true), Condvar::new())),
            stop: Arc::new(AtomicBool::new(false)),
            cancels: Arc::default(),
            next_id: Arc::new(AtomicU64::new(next)),
        }
    }
}

/// The details keys an event can have.
const DETAIL_KEYS: &[&str] = &[
    "executionStartedEventDetails",
    "executionSucceededEventDetails",
    "executionFailedEventDetails",
    "executionAbortedEventDetails",
    "executionTimedOutEventDetails",
    "stateEnteredEventDetails",
    "stateExitedEventDetails",
    "lambdaFunctionScheduledEventDetails",
    "lambdaFunctionSucceededEventDetails",
    "lambdaFunctionFailedEventDetails",
    "taskScheduledEventDetails",
    "taskStartedEventDetails",
    "taskSucceededEventDetails",
    "taskFailedEventDetails",
    "mapStateStartedEventDetails",
    "mapIterationStartedEventDetails",
    "mapIterationSucceededEventDetails",
    "mapIterationFailedEventDetails",
    "details",
];

impl Event {
    /// Reads back what [`Event::to_json`] wrote (with the request id, if any).
    pub fn from_json(v: &Value) -> Option<Self> {
        let details = DETAIL_KEYS
            .iter()
            .find_map(|k| v.get(*k).map(|d| (*k, d.clone())));
        Some(Self {
            id: v.get("id")?.as_u64()?,
            previous_event_id: v.get("previousEventId")?.as_u64()?,
            timestamp: DateTime::from_timestamp_millis(
                (v.get("timestamp")?.as_f64()? * 1000.0) as i64,
            )?,
            kind: v.get("type")?.as_str()?.to_owned(),
            details,
            request_id: v
                .get("lambdeskRequestId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

impl Record {
    /// The record as saved on disk: its fields and its history in AWS's shape.
    pub fn to_json(&self) -> Value {
        let events: Vec<Value> = self
            .events
            .iter()
            .map(|e| {
                let mut v = e.to_json();
                if let Some(r) = &e.request_id {
                    v["lambdeskRequestId"] = json!(r);
                }
                v
            })
            .collect();
        json!({
            "name": self.name, "arn": self.arn, "machineArn": self.machine_arn,
            "status": self.status, "input": self.input, "output": self.output,
            "error": self.error.as_ref().map(|e| &e.error), "cause": self.error.as_ref().map(|e| &e.cause),
            "start": self.start, "stop": self.stop, "transitions": self.transitions,
            "eventsDropped": self.events_dropped, "events": events,
        })
    }

    /// Reads a saved record; `None` when it is not one.
    pub fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let error = match (s("error"), s("cause")) {
            (None, None) => None,
            (e, c) => Some(StatesError::new(
                e.unwrap_or_default(),
                c.unwrap_or_default(),
            )),
        };
        Some(Self {
            name: s("name")?,
            arn: s("arn")?,
            machine_arn: s("machineArn")?,
            status: serde_json::from_value(v.get("status")?.clone()).ok()?,
            input: s("input").unwrap_or_default(),
            output: s("output"),
            error,
            start: serde_json::from_value(v.get("start")?.clone()).ok()?,
            stop: v
                .get("stop")
                .and_then(|t| serde_json::from_value(t.clone()).ok()),
            transitions: v.get("transitions").and_then(Value::as_u64).unwrap_or(0),
            events_dropped: v.get("eventsDropped").and_then(Value::as_u64).unwrap_or(0),
            events: v
                .get("events")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Event::from_json).collect())
                .unwrap_or_default(),
        })
    }
}

fn run_execution(
    machine: &StateMachine,
    input: Value,
    context: Value,
    env: &Env,
    exec: &Execution,
    on_progress: Option<OnProgress>,
    express: bool,
) {
    let first = exec.push(
        0,
        "ExecutionStarted",
        Some((
            "executionStartedEventDetails",
            json!({"input": input.to_string(), "inputDetails": {"truncated": false}, "roleArn": context["Execution"]["RoleArn"]}),
        )),
    );
    // An Express execution's five minutes are real time, not the clock's.
    let limit = machine
        .timeout_seconds
        .map(|s| env.clock.real(chrono::Duration::seconds(s as i64)));
    let limit = match (limit, express) {
        (l, false) => l,
        (None, true) => Some(Duration::from_secs(EXPRESS_LIMIT_SECONDS)),
        (Some(l), true) => Some(l.min(Duration::from_secs(EXPRESS_LIMIT_SECONDS))),
    };
    let deadline = limit.map(|l| Instant::now() + l);
    let runner = Runner {
        env,
        exec,
        deadline,
        on_progress,
        checkpoint: Mutex::new(Instant::now()),
    };
    let mut last = first;
    let result = runner.run_machine(machine, input, &context, &mut last);
    let (status, kind, details) = if exec.stopped() {
        let err = exec
            .lock()
            .error
            .clone()
            .unwrap_or_else(|| StatesError::new("", ""));
        (
            Status::Aborted,
            "ExecutionAborted",
            json!({"error": err.error, "cause": err.cause}),
        )
    } else {
        match &result {
            Ok(out) => (
                Status::Succeeded,
                "ExecutionSucceeded",
                json!({"output": out.to_string(), "outputDetails": {"truncated": false}}),
            ),
            Err(e) if e.error == names::TIMEOUT && runner.timed_out() => (
                Status::TimedOut,
                "ExecutionTimedOut",
                json!({"error": e.error, "cause": e.cause}),
            ),
            Err(e) => (
                Status::Failed,
                "ExecutionFailed",
                json!({"error": e.error, "cause": e.cause}),
            ),
        }
    };
    let key = match status {
        Status::Succeeded => "executionSucceededEventDetails",
        Status::Aborted => "executionAbortedEventDetails",
        Status::TimedOut => "executionTimedOutEventDetails",
        _ => "executionFailedEventDetails",
    };
    exec.push(last, kind, Some((key, details)));
    {
        let mut r = exec.lock();
        r.status = status;
        r.stop = Some(Utc::now());
        match result {
            Ok(out) if status == Status::Succeeded => r.output = Some(out.to_string()),
            Err(e) if status != Status::Aborted => r.error = Some(e),
            _ => {}
        }
    }
}

struct Runner<'a> {
    env: &'a Env,
    exec: &'a Execution,
    deadline: Option<Instant>,
    on_progress: Option<OnProgress>,
    /// When progress was last reported.
    checkpoint: Mutex<Instant>,
}

/// Where a state goes after it ran.
enum Flow {
    Next(String, Value),
    End(Value),
}

impl Runner<'_> {
    /// Reports progress: now when `now`, else at most once a second.
    fn progress(&self, now: bool) {
        let Some(f) = &self.on_progress else { return };
        {
            let mut last = self.checkpoint.lock().unwrap_or_else(|e| e.into_inner());
            if !now && last.elapsed() < Duration::from_secs(1) {
                return;
            }
            *last = Instant::now();
        }
        f(&self.exec.record());
    }

    fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn check(&self) -> Result<(), StatesError> {
        if self.exec.stopped() {
            return Err(StatesError::new(
                "States.Aborted",
                "the execution was stopped",
            ));
        }
        if self.timed_out() {
            return Err(StatesError::new(
                names::TIMEOUT,
                "the execution ran past the state machine's TimeoutSeconds",
            ));
        }
        // A loop with no end fails at AWS's history limit instead of
        // running (and burning a CPU) forever.
        if self.exec.lock().events_dropped > 0 {
            return Err(StatesError::runtime(format!(
                "The execution reached the maximum number of history events ({MAX_EVENTS})."
            )));
        }
        Ok(())
    }

    /// Sleeps `d` of clock time; ends early when stopped or timed out.
    fn sleep(&self, d: chrono::Duration) -> Result<(), StatesError> {
        let until = Instant::now() + self.env.clock.real(d);
        loop {
            self.check()?;
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            let (lock, cv) = &*self.exec.done;
            let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            let _ = cv.wait_timeout(guard, (until - now).min(Duration::from_millis(50)));
        }
    }

    fn run_machine(
        &self,
        m: &StateMachine,
        input: Value,
        context: &Value,
        last: &mut u64,
    ) -> Result<Value, StatesError> {
        let mut name = m.start_at.clone();
        let mut data = input;
        // One copy of the context per run of a machine (branch, iteration);
        // each state only rewrites its `State` part.
        let mut ctx = context.clone();
        loop {
            self.check()?;
            let state = m.state(&name).ok_or_else(|| {
                StatesError::runtime(format!("'{name}' is not a state of this machine"))
            })?;
            self.exec.lock().transitions += 1;
            self.progress(false);
            Self::set_state(&mut ctx, state, 0);
            match self.run_state(state, data, &mut ctx, last)? {
                Flow::Next(n, out) => {
                    name = n;
                    data = out;
                }
                Flow::End(out) => return Ok(out),
            }
        }
    }

    fn entered(&self, state: &State, input: &Value, last: &mut u64) {
        *last = self.exec.push(
            *last,
            &format!("{}StateEntered", state.kind.type_name()),
            Some(("stateEnteredEventDetails", json!({"name": state.name, "input": input.to_string(), "inputDetails": {"truncated": false}}))),
        );
    }

    fn exited(&self, state: &State, output: &Value, last: &mut u64) {
        self.exited_assigning(state, output, None, last);
    }

    /// The exit event, with the variables the state assigned (as AWS's
    /// `assignedVariables`: names and JSON text).
    fn exited_assigning(
        &self,
        state: &State,
        output: &Value,
        assigned: Option<&Value>,
        last: &mut u64,
    ) {
        let mut details = json!({"name": state.name, "output": output.to_string(), "outputDetails": {"truncated": false}});
        if let Some(Value::Object(a)) = assigned {
            let shown: serde_json::Map<String, Value> = a
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
                .collect();
            details["assignedVariables"] = Value::Object(shown);
            details["assignedVariablesDetails"] = json!({"truncated": false});
        }
        *last = self.exec.push(
            *last,
            &format!("{}StateExited", state.kind.type_name()),
            Some(("stateExitedEventDetails", details)),
        );
    }

    /// Runs an `Assign` (if any) and exits the state: the variables change
    /// after everything else the state worked out.
    #[allow(clippy::too_many_arguments)]
    fn assign_and_exit(
        &self,
        state: &State,
        assign: Option<&Value>,
        dollar: &Value,
        states: impl FnOnce() -> Value,
        ctx: &mut Value,
        output: &Value,
        last: &mut u64,
    ) -> Result<(), StatesError> {
        let assigned = match assign {
            Some(a) => {
                let source = if state.jsonata {
                    variables::Source::Jsonata(states())
                } else {
                    variables::Source::Path(dollar)
                };
                variables::assign(a, source, ctx)?;
                // What changed, for the history.
                // What it assigned, for the history (not every variable).
                let mut shown = serde_json::Map::new();
                for k in a.as_object().into_iter().flat_map(|o| o.keys()) {
                    let name = k.strip_suffix(".$").unwrap_or(k);
                    if let Some(v) = variables::get(ctx, name) {
                        shown.insert(name.to_owned(), v.clone());
                    }
                }
                Some(Value::Object(shown))
            }
            None => None,
        };
        self.exited_assigning(state, output, assigned.as_ref(), last);
        Ok(())
    }

    fn go(state: &State, out: Value) -> Flow {
        match &state.next {
            Some(n) => Flow::Next(n.clone(), out),
            None => Flow::End(out),
        }
    }

    /// The context object's `State`: this state's name, when it was
    /// entered and its retries so far.
    fn set_state(ctx: &mut Value, state: &State, retry: u32) {
        if retry > 0 {
            ctx["State"]["RetryCount"] = json!(retry);
            return;
        }
        ctx["State"] = json!({"Name": state.name, "EnteredTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "RetryCount": 0});
    }

    fn run_state(
        &self,
        state: &State,
        input: Value,
        ctx: &mut Value,
        last: &mut u64,
    ) -> Result<Flow, StatesError> {
        self.entered(state, &input, last);
        match &state.kind {
            Kind::Succeed => {
                let out = dataflow::filter_output(state, &input, ctx)?;
                self.exited(state, &out, last);
                Ok(Flow::End(out))
            }
            Kind::Fail { error, cause } => {
                let text = |t: &Option<Text>| -> Result<String, StatesError> {
                    Ok(match t {
                        None => String::new(),
                        Some(Text::Literal(s)) => s.clone(),
                        Some(Text::Path(p)) if intrinsics::is_call(p) => {
                            match intrinsics::evaluate(p, &input, ctx)? {
                                Value::String(s) => s,
                                other => other.to_string(),
                            }
                        }
                        Some(Text::Path(p)) => {
                            match paths::select_field(&input, ctx, p, "ErrorPath")? {
                                Value::String(s) => s,
                                other => other.to_string(),
                            }
                        }
                        Some(Text::Jsonata(e)) => {
                            let states = json!({"input": input, "context": ctx});
                            match jsonata::evaluate(e, &states)? {
                                Some(Value::String(s)) => s,
                                Some(other) => other.to_string(),
                                None => String::new(),
                            }
                        }
                    })
                };
                Err(StatesError::new(text(error)?, text(cause)?))
            }
            Kind::Choice { choices, default } => {
                let effective = match &state.input_path {
                    None => json!({}),
                    Some(p) => paths::select_field(&input, ctx, p, "InputPath")?,
                };
                let mut next = None;
                for rule in choices {
                    if rule.condition.eval(&effective, ctx)? {
                        next = Some((rule.next.clone(), rule.assign.as_ref()));
                        break;
                    }
                }
                let (next, assign) = next
                    .or_else(|| default.clone().map(|d| (d, state.assign.as_ref())))
                    .ok_or_else(|| {
                        StatesError::new(
                            names::NO_CHOICE_MATCHED,
                            format!("No Matches! (state '{}')", state.name),
                        )
                    })?;
                let out = dataflow::filter_output(state, &effective, ctx)?;
                self.assign_and_exit(
                    state,
                    assign,
                    &effective,
                    || json!({"input": input}),
                    ctx,
                    &out,
                    last,
                )?;
                Ok(Flow::Next(next, out))
            }
            Kind::Wait(w) => {
                let effective = match &state.input_path {
                    None => json!({}),
                    Some(p) => paths::select_field(&input, ctx, p, "InputPath")?,
                };
                let until = |t: &str| -> Result<chrono::Duration, StatesError> {
                    let at = DateTime::parse_from_rfc3339(t).map_err(|_| {
                        StatesError::runtime(format!("'{t}' is not an RFC 3339 timestamp"))
                    })?;
                    Ok((at.with_timezone(&Utc) - self.env.clock.now())
                        .max(chrono::Duration::zero()))
                };
                let d = match w {
                    WaitFor::Seconds(s) => chrono::Duration::seconds(*s as i64),
                    WaitFor::Timestamp(t) => until(t)?,
                    WaitFor::SecondsPath(p) => {
                        let v = paths::select_field(&effective, ctx, p, "SecondsPath")?;
                        let s = v.as_f64().filter(|s| *s >= 0.0).ok_or_else(|| {
                            StatesError::runtime(format!(
                                "SecondsPath '{p}' gives {v}, not a number of seconds ≥ 0"
                            ))
                        })?;
                        chrono::Duration::milliseconds((s * 1000.0) as i64)
                    }
                    WaitFor::TimestampPath(p) => {
                        let v = paths::select_field(&effective, ctx, p, "TimestampPath")?;
                        until(v.as_str().unwrap_or_default())?
                    }
                    WaitFor::SecondsExpr(e) => {
                        let v = jsonata::evaluate(e, &json!({"input": input, "context": ctx}))?;
                        let s = v
                            .as_ref()
                            .and_then(Value::as_f64)
                            .filter(|s| *s >= 0.0)
                            .ok_or_else(|| {
                                StatesError::runtime(format!(
                                    "Seconds {{% {e} %}} gives {v:?}, not a number of seconds ≥ 0"
                                ))
                            })?;
                        chrono::Duration::milliseconds((s * 1000.0) as i64)
                    }
                    WaitFor::TimestampExpr(e) => {
                        let v = jsonata::evaluate(e, &json!({"input": input, "context": ctx}))?;
                        until(v.as_ref().and_then(Value::as_str).unwrap_or_default())?
                    }
                };
                self.progress(true);
                self.sleep(d)?;
                let out = dataflow::filter_output(state, &effective, ctx)?;
                self.assign_and_exit(
                    state,
                    state.assign.as_ref(),
                    &effective,
                    || json!({"input": input}),
                    ctx,
                    &out,
                    last,
                )?;
                Ok(Self::go(state, out))
            }
            Kind::Pass { result } => {
                let mut ins = Inspection::default();
                let effective = dataflow::effective_input(state, &input, ctx, &mut ins)?;
                let res = result.clone().unwrap_or(effective);
                let out = dataflow::output(state, &input, res, ctx, &mut ins)?;
                self.assign_and_exit(
                    state,
                    state.assign.as_ref(),
                    &ins.after_result_selector,
                    || json!({"input": input}),
                    ctx,
                    &out,
                    last,
                )?;
                Ok(Self::go(state, out))
            }
            Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map(_) => {
                self.run_with_retries(state, input, ctx, last)
            }
        }
    }

    /// Task, Parallel and Map: the work, its Retry and Catch.
    fn run_with_retries(
        &self,
        state: &State,
        input: Value,
        ctx: &mut Value,
        last: &mut u64,
    ) -> Result<Flow, StatesError> {
        let mut attempts = vec![0u32; state.retry.len()];
        let mut retry_count = 0;
        loop {
            Self::set_state(ctx, state, retry_count);
            let ctx_now = &*ctx;
            let attempt = (|| -> Result<(Value, Inspection), StatesError> {
                let ctx = ctx_now;
                let mut ins = Inspection::default();
                let result = match &state.kind {
                    // A Map's ItemSelector applies to each item, not here.
                    Kind::Map(map) => self.map(state, map, &input, ctx, last)?,
                    kind => {
                        let effective = dataflow::effective_input(state, &input, ctx, &mut ins)?;
                        match kind {
                            Kind::Task {
                                resource,
                                timeout,
                                heartbeat,
                            } => self.task(
                                state,
                                resource,
                                [timeout.as_ref(), heartbeat.as_ref()],
                                effective,
                                &input,
                                ctx,
                                last,
                            )?,
                            Kind::Parallel { branches } => {
                                self.parallel(branches, effective, ctx, last)?
                            }
                            _ => effective,
                        }
                    }
                };
                let out = dataflow::output(state, &input, result, ctx, &mut ins)?;
                Ok((out, ins))
            })();
            match attempt {
                Ok((out, ins)) => {
                    self.assign_and_exit(
                        state,
                        state.assign.as_ref(),
                        &ins.after_result_selector,
                        || json!({"input": input, "result": ins.result}),
                        ctx,
                        &out,
                        last,
                    )?;
                    return Ok(Self::go(state, out));
                }
                Err(e) => {
                    self.check()?;
                    if let Some(i) = state.retry.iter().position(|r| e.matches(&r.error_equals)) {
                        let r = &state.retry[i];
                        if attempts[i] < r.max_attempts {
                            let mut delay =
                                r.interval_seconds * r.backoff_rate.powi(attempts[i] as i32);
                            if let Some(max) = r.max_delay_seconds {
                                delay = delay.min(max);
                            }
                            if r.full_jitter {
                                let unit = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64
                                    / 1_000_000.0;
                                delay *= unit;
                            }
                            attempts[i] += 1;
                            retry_count += 1;
                            self.sleep(chrono::Duration::milliseconds((delay * 1000.0) as i64))?;
                            continue;
                        }
                    }
                    if let Some(c) = state.catch.iter().find(|c| e.matches(&c.error_equals)) {
                        let out = if state.jsonata {
                            // JSONata: Output (default: the error output).
                            let states = json!({"input": input, "errorOutput": e.to_value(), "context": ctx});
                            match &c.output {
                                Some(t) => jsonata::template(t, &states)?,
                                None => e.to_value(),
                            }
                        } else {
                            match &c.result_path {
                                None => input.clone(),
                                Some(p) => paths::set(input.clone(), p, e.to_value())?,
                            }
                        };
                        // The catcher's variables, from those before the state (the
                        // output above was worked out from them too).
                        if let Some(a) = &c.assign {
                            let error_output = e.to_value();
                            let source = if state.jsonata {
                                variables::Source::Jsonata(
                                    json!({"input": input, "errorOutput": error_output}),
                                )
                            } else {
                                variables::Source::Path(&error_output)
                            };
                            variables::assign(a, source, ctx)?;
                        }
                        return Ok(Flow::Next(c.next.clone(), out));
                    }
                    return Err(e);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn task(
        &self,
        state: &State,
        resource: &str,
        [timeout, heartbeat]: [Option<&Seconds>; 2],
        effective: Value,
        input: &Value,
        ctx: &Value,
        last: &mut u64,
    ) -> Result<Value, StatesError> {
        let seconds = |s: Option<&Seconds>, field: &str| -> Result<Option<u64>, StatesError> {
            Ok(match s {
                None => None,
                Some(Seconds::Literal(s)) => Some(*s),
                Some(Seconds::Path(p)) => Some(
                    paths::select_field(input, ctx, p, field)?
                        .as_u64()
                        .filter(|s| *s > 0)
                        .ok_or_else(|| {
                            StatesError::runtime(format!(
                                "{field} '{p}' is not a whole number of seconds above 0"
                            ))
                        })?,
                ),
            })
        };
        let timeout_s = seconds(timeout, "TimeoutSecondsPath")?;
        // A function sends no heartbeats: HeartbeatSeconds ends a Task that
        // runs longer, with its own error.
        let heartbeat_s = seconds(heartbeat, "HeartbeatSecondsPath")?;
        let (limit_s, by_heartbeat) = match (timeout_s, heartbeat_s) {
            (Some(t), Some(h)) if h < t => (Some(h), true),
            (None, Some(h)) => (Some(h), true),
            (t, _) => (t, false),
        };
        let optimised = resource.starts_with("arn:aws:states:::lambda:invoke");
        let (target, payload) = if optimised {
            let f = effective
                .get("FunctionName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    StatesError::runtime("lambda:invoke needs Parameters.FunctionName (a string)")
                })?;
            (
                function_target(f),
                effective.get("Payload").cloned().unwrap_or(json!({})),
            )
        } else {
            (function_target(resource), effective)
        };
        let payload_text = payload.to_string();
        let (scheduled, started, succeeded, failed) = if optimised {
            (
                "TaskScheduled",
                "TaskStarted",
                "TaskSucceeded",
                "TaskFailed",
            )
        } else {
            (
                "LambdaFunctionScheduled",
                "LambdaFunctionStarted",
                "LambdaFunctionSucceeded",
                "LambdaFunctionFailed",
            )
        };
        let base = if optimised {
            json!({"resourceType": "lambda", "resource": "invoke"})
        } else {
            json!({})
        };
        let with = |extra: Value| {
            let mut d = base.clone();
            if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            d
        };
        let scheduled_details = if optimised {
            let mut d = with(
                json!({"region": crate::model::REGION, "parameters": json!({"FunctionName": target, "Payload": payload}).to_string(), "timeoutInSeconds": timeout_s}),
            );
            if let Some(h) = heartbeat_s {
                d["heartbeatInSeconds"] = json!(h);
            }
            d
        } else {
            json!({"resource": resource, "input": payload_text, "inputDetails": {"truncated": false}, "timeoutInSeconds": timeout_s})
        };
        *last = self.exec.push(
            *last,
            scheduled,
            Some((detail_key(scheduled), scheduled_details)),
        );
        *last = self.exec.push(
            *last,
            started,
            if optimised {
                Some((detail_key(started), base.clone()))
            } else {
                None
            },
        );
        let cancel = CancelToken::new();
        let token_id =
            self.exec.next_id.load(Ordering::Acquire) ^ (uuid::Uuid::new_v4().as_u64_pair().0);
        self.exec
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((token_id, cancel.clone()));
        // TimeoutSeconds: a named thread cancels the invocation when it passes
        // (real time: a Task's timeout is the function's, not the clock's).
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        if let Some(s) = limit_s {
            let (c, d, f) = (cancel.clone(), done.clone(), fired.clone());
            let until = Instant::now() + Duration::from_secs(s);
            let _ = std::thread::Builder::new()
                .name("lambdesk-task-timeout".into())
                .spawn(move || {
                    while Instant::now() < until {
                        if d.load(Ordering::Acquire) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    if !d.load(Ordering::Acquire) {
                        f.store(true, Ordering::Release);
                        c.cancel();
                    }
                });
        }
        let result = (self.env.invoke)(&target, payload_text.as_bytes(), &cancel);
        done.store(true, Ordering::Release);
        let timed_out = fired.load(Ordering::Acquire);
        self.exec
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(id, _)| *id != token_id);
        let fail = |last: &mut u64, err: StatesError| {
            *last = self.exec.push(
                *last,
                failed,
                Some((
                    detail_key(failed),
                    with(json!({"error": err.error, "cause": err.cause})),
                )),
            );
            err
        };
        if timed_out {
            let (error, field) = if by_heartbeat {
                (names::HEARTBEAT_TIMEOUT, "HeartbeatSeconds")
            } else {
                (names::TIMEOUT, "TimeoutSeconds")
            };
            return Err(fail(
                last,
                StatesError::new(
                    error,
                    format!(
                        "Task timed out after {} seconds ({field} of '{}')",
                        limit_s.unwrap_or(0),
                        state.name
                    ),
                ),
            ));
        }
        let inv = match result {
            Ok(inv) => inv,
            Err(e) => {
                return Err(fail(
                    last,
                    StatesError::new(format!("Lambda.{}", e.error_type()), e.to_string()),
                ));
            }
        };
        match &inv.outcome {
            Outcome::Response(bytes) => {
                let value: Value = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(bytes).map_err(|e| {
                        fail(
                            last,
                            StatesError::new(
                                names::TASK_FAILED,
                                format!("the function's response is not JSON: {e}"),
                            ),
                        )
                    })?
                };
                let result = if optimised {
                    json!({
                        "ExecutedVersion": inv.version,
                        "Payload": value,
                        "SdkHttpMetadata": {"HttpStatusCode": 200, "HttpHeaders": {"X-Amz-Executed-Version": inv.version, "x-amzn-RequestId": inv.request_id}},
                        "SdkResponseMetadata": {"RequestId": inv.request_id},
                        "StatusCode": 200,
                    })
                } else {
                    value
                };
                *last = self.exec.push(*last, succeeded, Some((detail_key(succeeded), with(json!({"output": result.to_string(), "outputDetails": {"truncated": false}})))));
                self.exec.note_request(*last, &inv.request_id);
                Ok(result)
            }
            Outcome::Error(fe) => {
                if self.exec.stopped() {
                    return Err(StatesError::new(
                        "States.Aborted",
                        "the execution was stopped",
                    ));
                }
                let err = StatesError::new(
                    fe.error_type.clone(),
                    String::from_utf8_lossy(&fe.to_json()).into_owned(),
                );
                let err = fail(last, err);
                self.exec.note_request(*last, &inv.request_id);
                Err(err)
            }
        }
    }

    fn parallel(
        &self,
        branches: &[StateMachine],
        input: Value,
        ctx: &Value,
        last: &mut u64,
    ) -> Result<Value, StatesError> {
        *last = self.exec.push(*last, "ParallelStateStarted", None);
        let start = *last;
        let results: Vec<Result<Value, StatesError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = branches
                .iter()
                .map(|b| {
                    let input = input.clone();
                    std::thread::Builder::new()
                        .name("lambdesk-branch".into())
                        .spawn_scoped(scope, move || {
                            let mut l = start;
                            self.run_machine(b, input, ctx, &mut l)
                        })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h
                        .join()
                        .unwrap_or_else(|_| Err(StatesError::runtime("a branch panicked"))),
                    Err(e) => Err(StatesError::runtime(format!(
                        "cannot start a branch thread: {e}"
                    ))),
                })
                .collect()
        });
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(v) => out.push(v),
                Err(e) => {
                    *last = self.exec.push(*last, "ParallelStateFailed", None);
                    return Err(e);
                }
            }
        }
        *last = self.exec.push(*last, "ParallelStateSucceeded", None);
        Ok(Value::Array(out))
    }

    fn map(
        &self,
        state: &State,
        map: &MapState,
        input: &Value,
        ctx: &Value,
        last: &mut u64,
    ) -> Result<Value, StatesError> {
        // ItemsPath reads the input after InputPath; ItemSelector (kept as
        // `parameters`) was not applied yet: it applies per item.
        let after_input = match &state.input_path {
            None => json!({}),
            Some(p) => paths::select_field(input, ctx, p, "InputPath")?,
        };
        let items = if state.jsonata {
            let states = json!({"input": input, "context": ctx});
            match &map.items {
                Some(t) => jsonata::template(t, &states)?,
                None => input.clone(),
            }
        } else {
            paths::select_field(&after_input, ctx, &map.items_path, "ItemsPath")?
        };
        let Value::Array(items) = items else {
            return Err(StatesError::runtime(format!(
                "Item list at ItemsPath '{}' is not an array: {items}",
                map.items_path
            )));
        };
        *last = self.exec.push(
            *last,
            "MapStateStarted",
            Some((
                "mapStateStartedEventDetails",
                json!({"length": items.len()}),
            )),
        );
        let start = *last;
        let workers = match map.max_concurrency {
            0 => MAP_MAX_THREADS,
            n => (n as usize).min(MAP_MAX_THREADS),
        }
        .min(items.len().max(1));
        let next = AtomicU64::new(0);
        let failed = AtomicU64::new(0);
        let threshold = |failures: u64| -> bool {
            match (map.tolerated_count, map.tolerated_percentage) {
                (None, None) => failures > 0,
                (c, p) => {
                    let over_count = c.is_none_or(|c| failures > c);
                    let over_pct =
                        p.is_none_or(|p| failures as f64 * 100.0 / items.len().max(1) as f64 > p);
                    over_count && over_pct
                }
            }
        };
        let results: Vec<Mutex<Option<Result<Value, StatesError>>>> =
            items.iter().map(|_| Mutex::new(None)).collect();
        let stop_early = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let _ = std::thread::Builder::new()
                    .name("lambdesk-map".into())
                    .spawn_scoped(scope, || {
                        loop {
                            if stop_early.load(Ordering::Acquire) || self.exec.stopped() {
                                return;
                            }
                            let i = next.fetch_add(1, Ordering::AcqRel) as usize;
                            let Some(item) = items.get(i) else { return };
                            let mut ictx = ctx.clone();
                            ictx["Map"] = json!({"Item": {"Index": i, "Value": item}});
                            let mut l = self.exec.push(
                                start,
                                "MapIterationStarted",
                                Some((
                                    "mapIterationStartedEventDetails",
                                    json!({"name": state.name, "index": i}),
                                )),
                            );
                            let r = match &state.parameters {
                                Some(t) if state.jsonata => jsonata::template(
                                    t,
                                    &json!({"input": after_input, "context": ictx}),
                                ),
                                Some(t) => dataflow::payload(
                                    t,
                                    &after_input,
                                    &ictx,
                                    names::PARAMETER_PATH_FAILURE,
                                ),
                                None => Ok(item.clone()),
                            }
                            .and_then(|item_input| {
                                self.run_machine(&map.processor, item_input, &ictx, &mut l)
                            });
                            let kind = if r.is_ok() {
                                "MapIterationSucceeded"
                            } else {
                                "MapIterationFailed"
                            };
                            let key = if r.is_ok() {
                                "mapIterationSucceededEventDetails"
                            } else {
                                "mapIterationFailedEventDetails"
                            };
                            self.exec.push(
                                l,
                                kind,
                                Some((key, json!({"name": state.name, "index": i}))),
                            );
                            if r.is_err() {
                                let f = failed.fetch_add(1, Ordering::AcqRel) + 1;
                                if threshold(f) {
                                    stop_early.store(true, Ordering::Release);
                                }
                            }
                            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                        }
                    });
            }
        });
        let failures = failed.load(Ordering::Acquire);
        if threshold(failures) {
            *last = self.exec.push(*last, "MapStateFailed", None);
            let tolerated = map.tolerated_count.is_some() || map.tolerated_percentage.is_some();
            if !tolerated
                && let Some(Err(e)) = results.iter().find_map(|r| {
                    r.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone()
                        .filter(Result::is_err)
                })
            {
                return Err(e);
            }
            return Err(StatesError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                format!(
                    "The specified tolerated failure threshold was exceeded: {failures} of {} iterations failed",
                    items.len()
                ),
            ));
        }
        self.check()?;
        let out: Vec<Value> = results
            .into_iter()
            .map(
                |r| match r.into_inner().unwrap_or_else(|e| e.into_inner()) {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => e.to_value(),
                    None => Value::Null,
                },
            )
            .collect();
        *last = self.exec.push(*last, "MapStateSucceeded", None);
        Ok(Value::Array(out))
    }
}

fn detail_key(kind: &str) -> &'static str {
    match kind {
        "TaskScheduled" => "taskScheduledEventDetails",
        "TaskStarted" => "taskStartedEventDetails",
        "TaskSucceeded" => "taskSucceededEventDetails",
        "TaskFailed" => "taskFailedEventDetails",
        "LambdaFunctionScheduled" => "lambdaFunctionScheduledEventDetails",
        "LambdaFunctionSucceeded" => "lambdaFunctionSucceededEventDetails",
        "LambdaFunctionFailed" => "lambdaFunctionFailedEventDetails",
        _ => "details",
    }
}

/// The function a Task names: `name`, `name:qualifier`, or an ARN in any
/// region and account (`arn:aws:lambda:R:A:function:NAME[:QUALIFIER]`),
/// which resolves to the local function by name.
pub fn function_target(resource: &str) -> String {
    match resource.split_once(":function:") {
        Some((_, rest)) => rest.to_owned(),
        None => resource.to_owned(),
    }
}
