//! A state machine definition in the Amazon States Language (JSONPath
//! query language), parsed and validated at once: every problem is reported
//! with its location as a JSON pointer and what was expected, as a person
//! fixing a definition needs (`/States/Check/Choices/0/Next: 'Done' is not a
//! state of this machine`), many at once.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::choice::ChoiceRule;
use super::{intrinsics, jsonata, paths};

/// Most characters in a state's name, as AWS allows.
pub const MAX_STATE_NAME: usize = 80;

/// A problem in a definition.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Where: a JSON pointer into the definition (`/States/Check/Next`).
    pub pointer: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// A state machine (or a Parallel branch, or a Map's item processor).
#[derive(Clone, Debug, PartialEq)]
pub struct StateMachine {
    /// `Comment`.
    pub comment: String,
    /// `StartAt`.
    pub start_at: String,
    /// The states, in the order written.
    pub states: Vec<State>,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
    index: BTreeMap<String, usize>,
}

impl StateMachine {
    /// The state called `name`.
    pub fn state(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|&i| &self.states[i])
    }
}

/// One state.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Its name.
    pub name: String,
    /// Its type and type-specific fields.
    pub kind: Kind,
    /// `Next`; `None` with `End` (or for Choice, Succeed and Fail).
    pub next: Option<String>,
    /// `InputPath`: `None` for `null` (an empty object goes on).
    pub input_path: Option<String>,
    /// `OutputPath`: `None` for `null`.
    pub output_path: Option<String>,
    /// `ResultPath`: `None` for `null` (the input goes on unchanged).
    pub result_path: Option<String>,
    /// `Parameters` (`ItemSelector` for Map).
    pub parameters: Option<Value>,
    /// `ResultSelector`.
    pub result_selector: Option<Value>,
    /// `Retry`.
    pub retry: Vec<Retrier>,
    /// `Catch`.
    pub catch: Vec<Catcher>,
    /// Its query language is JSONata (`Arguments`, `Output`, `{% %}`).
    pub jsonata: bool,
    /// JSONata: `Arguments`.
    pub arguments: Option<Value>,
    /// JSONata: `Output`.
    pub output: Option<Value>,
    /// `Assign`: workflow variables set when the state succeeds (a Choice:
    /// when it goes to its `Default`).
    pub assign: Option<Value>,
}

/// The type of a state, with its own fields.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Passes its input (or `Result`) on.
    Pass {
        /// `Result`.
        result: Option<Value>,
    },
    /// Calls a function.
    Task {
        /// `Resource`: a function ARN or `arn:aws:states:::lambda:invoke`.
        resource: String,
        /// `TimeoutSeconds` (default 60 in AWS; here the function's own timeout applies too).
        timeout: Option<Seconds>,
        /// `HeartbeatSeconds`.
        heartbeat: Option<Seconds>,
    },
    /// Branches on the input.
    Choice {
        /// `Choices`.
        choices: Vec<ChoiceRule>,
        /// `Default`.
        default: Option<String>,
    },
    /// Waits.
    Wait(WaitFor),
    /// Ends the execution (or branch) successfully.
    Succeed,
    /// Ends it with an error.
    Fail {
        /// `Error` or `ErrorPath`.
        error: Option<Text>,
        /// `Cause` or `CausePath`.
        cause: Option<Text>,
    },
    /// Runs branches at once.
    Parallel {
        /// `Branches`.
        branches: Vec<StateMachine>,
    },
    /// Runs a processor for each item.
    Map(Box<MapState>),
}

impl Kind {
    /// The `Type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Pass { .. } => "Pass",
            Self::Task { .. } => "Task",
            Self::Choice { .. } => "Choice",
            Self::Wait(_) => "Wait",
            Self::Succeed => "Succeed",
            Self::Fail { .. } => "Fail",
            Self::Parallel { .. } => "Parallel",
            Self::Map(_) => "Map",
        }
    }
}

/// A Map state's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct MapState {
    /// `ItemProcessor` (or the older `Iterator`).
    pub processor: StateMachine,
    /// `ItemsPath` (default `$`).
    pub items_path: String,
    /// JSONata: `Items` (an array, or an expression giving one).
    pub items: Option<Value>,
    /// `MaxConcurrency` (0: as many as there are items).
    pub max_concurrency: u32,
    /// `ToleratedFailurePercentage`.
    pub tolerated_percentage: Option<f64>,
    /// `ToleratedFailureCount`.
    pub tolerated_count: Option<u64>,
    /// Notes about fields accepted but not acted on (`ResultWriter`).
    pub notes: Vec<String>,
}

/// A number of seconds, literal or from a path.
#[derive(Clone, Debug, PartialEq)]
pub enum Seconds {
    /// Written in the definition.
    Literal(u64),
    /// `…SecondsPath`.
    Path(String),
}

/// A text, literal or from a path (Fail's `Error`/`ErrorPath`).
#[derive(Clone, Debug, PartialEq)]
pub enum Text {
    /// Written in the definition.
    Literal(String),
    /// A path or an intrinsic call.
    Path(String),
    /// A JSONata expression (without `{% %}`).
    Jsonata(String),
}

/// What a Wait state waits for.
#[derive(Clone, Debug, PartialEq)]
pub enum WaitFor {
    /// `Seconds`.
    Seconds(u64),
    /// `Timestamp`.
    Timestamp(String),
    /// `SecondsPath`.
    SecondsPath(String),
    /// `TimestampPath`.
    TimestampPath(String),
    /// JSONata: `Seconds` as an expression.
    SecondsExpr(String),
    /// JSONata: `Timestamp` as an expression.
    TimestampExpr(String),
}

/// One `Retry` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Retrier {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `IntervalSeconds` (default 1).
    pub interval_seconds: f64,
    /// `MaxAttempts` (default 3; 0 never retries).
    pub max_attempts: u32,
    /// `BackoffRate` (default 2.0).
    pub backoff_rate: f64,
    /// `MaxDelaySeconds`.
    pub max_delay_seconds: Option<f64>,
    /// `JitterStrategy` `FULL`.
    pub full_jitter: bool,
}

/// One `Catch` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Catcher {
    /// `ErrorEquals`.
    pub error_equals: Vec<String>,
    /// `ResultPath` (default `$`; `None` for `null`).
    pub result_path: Option<String>,
    /// `Next`.
    pub next: String,
    /// JSONata: `Output` (default `$states.errorOutput`).
    pub output: Option<Value>,
    /// `Assign`: variables set from the error output when it catches.
    pub assign: Option<Value>,
}

/// Parses and validates a definition's JSON text.
pub fn parse(text: &str) -> Result<StateMachine, Vec<Problem>> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![Problem {
            pointer: String::new(),
            message: format!("not JSON: {e}"),
        }]
    })?;
    parse_value(&value)
}

/// Parses and validates a definition.
pub fn parse_value(value: &Value) -> Result<StateMachine, Vec<Problem>> {
    let mut p = Parser::default();
    let machine = p.machine(value, "");
    check_scopes(value, "", &BTreeMap::new(), &mut p.problems);
    match machine {
        Some(m) if p.problems.is_empty() => Ok(m),
        _ => {
            if p.problems.is_empty() {
                p.problem("", "not a state machine");
            }
            Err(p.problems)
        }
    }
}

/// The variables the states of one machine (not its branches and
/// iterations) assign, by name, with where: states' `Assign`, their Choice
/// rules' and their catchers'.
fn assigned_in(machine: &Value, at: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return out;
    };
    let mut add = |assign: Option<&Value>, at: String| {
        if let Some(a) = assign.and_then(Value::as_object) {
            for key in a.keys() {
                let name = key.strip_suffix(".$").unwrap_or(key);
                out.push((name.to_owned(), format!("{at}/Assign/{}", esc(key))));
            }
        }
    };
    for (name, state) in states {
        let sat = format!("{at}/States/{}", esc(name));
        add(state.get("Assign"), sat.clone());
        for list in ["Choices", "Catch"] {
            if let Some(items) = state.get(list).and_then(Value::as_array) {
                for (i, item) in items.iter().enumerate() {
                    add(item.get("Assign"), format!("{sat}/{list}/{i}"));
                }
            }
        }
    }
    out
}

/// Step Functions' scopes: a Parallel branch or Map iteration reads the
/// variables of the scopes around it but cannot assign one of their names.
fn check_scopes(
    machine: &Value,
    at: &str,
    outer: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) {
    let mine = assigned_in(machine, at);
    for (name, pointer) in &mine {
        if let Some(first) = outer.get(name) {
            problems.push(Problem {
                pointer: pointer.clone(),
                message: format!(
                    "'{name}' is a variable of an outer scope (assigned at {first}); a Parallel branch or Map iteration cannot assign it"
                ),
            });
        }
    }
    let mut visible = outer.clone();
    for (name, pointer) in mine {
        visible.entry(name).or_insert(pointer);
    }
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let sat = format!("{at}/States/{}", esc(name));
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (i, b) in branches.iter().enumerate() {
                check_scopes(b, &format!("{sat}/Branches/{i}"), &visible, problems);
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = state.get(key) {
                check_scopes(inner, &format!("{sat}/{key}"), &visible, problems);
            }
        }
    }
}

#[derive(Default)]
struct Parser {
    problems: Vec<Problem>,
    /// The machine's query language is JSONata (states inherit it).
    jsonata: bool,
}

/// Fields of the JSONPath query language, refused in JSONata states.
const JSONPATH_FIELDS: &[&str] = &[
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
];
/// Fields of JSONata, refused in JSONPath states.
const JSONATA_FIELDS: &[&str] = &["Arguments", "Output", "Items"];

fn esc(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
        ],
        "Task" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default", "Assign"],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Branches",
            "Assign",
        ],
        "Map" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ItemSelector",
            "ResultSelector",
            "Retry",
            "Catch",
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
            "ResultWriter",
            "ItemReader",
            "ItemBatcher",
            "Label",
            "Assign",
        ],
        _ => &[],
    }
}

impl Parser {
    fn problem(&mut self, pointer: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            pointer: pointer.to_owned(),
            message: message.into(),
        });
    }

    fn machine(&mut self, v: &Value, at: &str) -> Option<StateMachine> {
        let Some(obj) = v.as_object() else {
            self.problem(
                at,
                "a state machine must be an object with StartAt and States",
            );
            return None;
        };
        let outer = self.jsonata;
        match obj.get("QueryLanguage").map(|q| q.as_str()) {
            None => {}
            Some(Some("JSONPath")) => self.jsonata = false,
            Some(Some("JSONata")) => self.jsonata = true,
            Some(_) => self.problem(
                &format!("{at}/QueryLanguage"),
                "QueryLanguage is JSONPath or JSONata",
            ),
        }
        let m = self.machine_body(obj, at);
        self.jsonata = outer;
        m
    }

    fn machine_body(&mut self, obj: &Map<String, Value>, at: &str) -> Option<StateMachine> {
        for k in obj.keys() {
            if ![
                "StartAt",
                "States",
                "Comment",
                "TimeoutSeconds",
                "Version",
                "QueryLanguage",
                "ProcessorConfig",
            ]
            .contains(&k.as_str())
            {
                self.problem(
                    &format!("{at}/{}", esc(k)),
                    format!("'{k}' is not a field of a state machine"),
                );
            }
        }
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.problem(
                    &format!("{at}/StartAt"),
                    "StartAt must be a state name (a string)",
                );
                String::new()
            }
            None => {
                self.problem(at, "StartAt is missing: name the first state");
                String::new()
            }
        };
        let timeout_seconds = self.seconds_field(obj, "TimeoutSeconds", at);
        let Some(states) = obj
            .get("States")
            .and_then(Value::as_object)
            .filter(|s| !s.is_empty())
        else {
            self.problem(
                &format!("{at}/States"),
                "States must be a non-empty object of states by name",
            );
            return None;
        };
        let names: BTreeSet<&str> = states.keys().map(String::as_str).collect();
        let mut list = Vec::new();
        for (name, sv) in states {
            let sat = format!("{at}/States/{}", esc(name));
            if name.chars().count() > MAX_STATE_NAME || name.is_empty() {
                self.problem(
                    &sat,
                    format!("a state name has 1–{MAX_STATE_NAME} characters"),
                );
            }
            if let Some(s) = self.state(name, sv, &sat, &names) {
                list.push(s);
            }
        }
        if !start_at.is_empty() && !names.contains(start_at.as_str()) {
            self.problem(
                &format!("{at}/StartAt"),
                format!("'{start_at}' is not a state of this machine"),
            );
        }
        let index = list
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let m = StateMachine {
            comment: obj
                .get("Comment")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            start_at,
            states: list,
            timeout_seconds,
            index,
        };
        self.reachability(&m, at);
        Some(m)
    }

    fn reachability(&mut self, m: &StateMachine, at: &str) {
        let mut seen = BTreeSet::new();
        let mut todo = vec![m.start_at.as_str()];
        while let Some(n) = todo.pop() {
            if !seen.insert(n) {
                continue;
            }
            let Some(s) = m.state(n) else { continue };
            todo.extend(s.next.as_deref());
            todo.extend(s.catch.iter().map(|c| c.next.as_str()));
            if let Kind::Choice { choices, default } = &s.kind {
                todo.extend(choices.iter().map(|c| c.next.as_str()));
                todo.extend(default.as_deref());
            }
        }
        for s in &m.states {
            if !seen.contains(s.name.as_str()) && m.state(&m.start_at).is_some() {
                self.problem(
                    &format!("{at}/States/{}", esc(&s.name)),
                    format!("'{}' cannot be reached from StartAt", s.name),
                );
            }
        }
    }

    fn seconds_field(&mut self, obj: &Map<String, Value>, key: &str, at: &str) -> Option<u64> {
        let v = obj.get(key)?;
        match v.as_u64().filter(|n| *n > 0 && *n <= 99_999_999) {
            Some(n) => Some(n),
            None => {
                self.problem(
                    &format!("{at}/{key}"),
                    format!("{key} must be a whole number of seconds, 1–99999999"),
                );
                None
            }
        }
    }

    fn path_field(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        at: &str,
        reference_only: bool,
    ) -> Option<String> {
        match obj.get(key) {
            None => Some("$".to_owned()),
            Some(Value::Null) => None,
            Some(Value::String(p)) => {
                let ok = if reference_only {
                    paths::is_reference(p)
                } else {
                    paths::is_path(p)
                };
                if !ok {
                    let what = if reference_only {
                        "a reference path (such as $.result)"
                    } else {
                        "a JSONPath (such as $.detail)"
                    };
                    self.problem(&format!("{at}/{key}"), format!("'{p}' is not {what}"));
                }
                Some(p.clone())
            }
            Some(_) => {
                self.problem(
                    &format!("{at}/{key}"),
                    format!("{key} must be a path or null"),
                );
                Some("$".to_owned())
            }
        }
    }

    /// Checks a payload template (`Parameters`, `ResultSelector`, `ItemSelector`).
    fn template(&mut self, v: &Value, at: &str) {
        match v {
            Value::Object(o) => {
                for (k, val) in o {
                    let kat = format!("{at}/{}", esc(k));
                    if k.ends_with(".$") {
                        match val.as_str() {
                            Some(s) if intrinsics::is_call(s) => {
                                if let Err(e) = intrinsics::parse(s) {
                                    self.problem(&kat, format!("the intrinsic call is not valid: {e}"));
                                }
                            }
                            Some(s) if paths::is_path(s) => {}
                            Some(s) => self.problem(&kat, format!("'{s}' is neither a path nor an intrinsic function (a field ending in .$ takes one)")),
                            None => self.problem(&kat, "a field ending in .$ takes a path or an intrinsic function (a string)"),
                        }
                    } else {
                        self.template(val, &kat);
                    }
                }
            }
            Value::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    self.template(item, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }

    /// A retrier or catcher with `States.ALL` must be the last of its list.
    fn all_last<'a>(
        &mut self,
        lists: impl ExactSizeIterator<Item = &'a Vec<String>>,
        at: &str,
        what: &str,
    ) {
        let len = lists.len();
        let mut lists = lists;
        if let Some(pos) = lists.position(|l| l.iter().any(|e| e == super::error::names::ALL))
            && pos + 1 != len
        {
            self.problem(
                &format!("{at}/{pos}"),
                format!("a {what} with States.ALL must be the last"),
            );
        }
    }

    fn errors_list(&mut self, v: Option<&Value>, at: &str) -> Vec<String> {
        let Some(list) = v.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
            self.problem(
                &format!("{at}/ErrorEquals"),
                "ErrorEquals must be a non-empty array of error names",
            );
            return Vec::new();
        };
        let names: Vec<String> = list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if names.len() != list.len() {
            self.problem(
                &format!("{at}/ErrorEquals"),
                "ErrorEquals holds error names (strings)",
            );
        }
        if names.iter().any(|n| n == super::error::names::ALL) && names.len() > 1 {
            self.problem(
                &format!("{at}/ErrorEquals"),
                "States.ALL must appear alone in its ErrorEquals",
            );
        }
        names
    }

    fn state(&mut self, name: &str, v: &Value, at: &str, names: &BTreeSet<&str>) -> Option<State> {
        let Some(obj) = v.as_object() else {
            self.problem(at, "a state must be an object with a Type");
            return None;
        };
        let Some(type_name) = obj.get("Type").and_then(Value::as_str) else {
            self.problem(
                &format!("{at}/Type"),
                "Type is missing: one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map",
            );
            return None;
        };
        let fields = allowed(type_name);
        if fields.is_empty() {
            self.problem(&format!("{at}/Type"), format!("'{type_name}' is not a state type: one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map"));
            return None;
        }
        for k in obj.keys() {
            if !COMMON.contains(&k.as_str())
                && !fields.contains(&k.as_str())
                && !JSONATA_FIELDS.contains(&k.as_str())
            {
                self.problem(
                    &format!("{at}/{}", esc(k)),
                    format!("'{k}' is not a field of a {type_name} state"),
                );
            }
        }
        let jsonata = match obj.get("QueryLanguage").map(|q| q.as_str()) {
            None => self.jsonata,
            Some(Some("JSONPath")) => false,
            Some(Some("JSONata")) => true,
            Some(_) => {
                self.problem(
                    &format!("{at}/QueryLanguage"),
                    "QueryLanguage is JSONPath or JSONata",
                );
                self.jsonata
            }
        };
        if !jsonata && self.jsonata {
            self.problem(
                &format!("{at}/QueryLanguage"),
                "a JSONPath state cannot be inside a JSONata machine (the other way round is allowed)",
            );
        }
        let (wrong, other) = if jsonata {
            (JSONPATH_FIELDS, "Arguments and Output")
        } else {
            (JSONATA_FIELDS, "QueryLanguage: JSONata")
        };
        for k in wrong {
            if obj.contains_key(*k) {
                let msg = if jsonata {
                    format!("'{k}' is a JSONPath field; a JSONata state uses {other}")
                } else {
                    format!("'{k}' is a JSONata field; set {other} to use it")
                };
                self.problem(&format!("{at}/{k}"), msg);
            }
        }
        let mut jsonata_problems = Vec::new();
        for k in ["Arguments", "Output", "Items"] {
            if let Some(v) = obj.get(k) {
                jsonata::check_template(v, &format!("{at}/{k}"), &mut jsonata_problems);
            }
        }
        for (pointer, message) in jsonata_problems {
            self.problem(&pointer, message);
        }
        if let Some(a) = obj.get("Assign") {
            self.assign_field(a, &format!("{at}/Assign"), jsonata);
        }
        let check_next = |p: &mut Self, field: &str, target: &str| {
            if !names.contains(target) {
                p.problem(
                    &format!("{at}/{field}"),
                    format!("'{target}' is not a state of this machine"),
                );
            }
        };
        let terminal = matches!(type_name, "Choice" | "Succeed" | "Fail");
        let next = obj.get("Next").and_then(Value::as_str).map(str::to_owned);
        let end = obj.get("End") == Some(&Value::Bool(true));
        if !terminal {
            match (&next, end) {
                (Some(n), false) => check_next(self, "Next", n),
                (None, true) => {}
                (Some(_), true) => self.problem(at, "a state has Next or End: true, not both"),
                (None, false) => self.problem(
                    at,
                    format!("'{name}' needs Next (a state name) or End: true"),
                ),
            }
            if obj.get("Next").is_some_and(|n| !n.is_string()) {
                self.problem(
                    &format!("{at}/Next"),
                    "Next must be a state name (a string)",
                );
            }
        }
        let input_path = self.path_field(obj, "InputPath", at, false);
        let output_path = self.path_field(obj, "OutputPath", at, false);
        let result_path = self.path_field(obj, "ResultPath", at, true);
        let parameters = obj
            .get("Parameters")
            .or_else(|| obj.get("ItemSelector"))
            .cloned();
        if let Some(p) = &parameters {
            let key = if obj.contains_key("Parameters") {
                "Parameters"
            } else {
                "ItemSelector"
            };
            self.template(p, &format!("{at}/{key}"));
        }
        let result_selector = obj.get("ResultSelector").cloned();
        if let Some(r) = &result_selector {
            self.template(r, &format!("{at}/ResultSelector"));
        }
        let mut retry = Vec::new();
        if let Some(list) = obj.get("Retry") {
            let Some(list) = list.as_array() else {
                self.problem(&format!("{at}/Retry"), "Retry must be an array of retriers");
                return None;
            };
            for (i, r) in list.iter().enumerate() {
                let rat = format!("{at}/Retry/{i}");
                let error_equals = self.errors_list(r.get("ErrorEquals"), &rat);
                let num = |p: &mut Self, key: &str, default: f64, min: f64| -> f64 {
                    match r.get(key) {
                        None => default,
                        Some(v) => match v.as_f64().filter(|n| *n >= min) {
                            Some(n) => n,
                            None => {
                                p.problem(
                                    &format!("{rat}/{key}"),
                                    format!("{key} must be a number ≥ {min}"),
                                );
                                default
                            }
                        },
                    }
                };
                let interval_seconds = num(self, "IntervalSeconds", 1.0, 1.0);
                let max_attempts = num(self, "MaxAttempts", 3.0, 0.0).min(99_999_999.0) as u32;
                let backoff_rate = num(self, "BackoffRate", 2.0, 1.0);
                let max_delay_seconds = r
                    .get("MaxDelaySeconds")
                    .map(|_| num(self, "MaxDelaySeconds", 1.0, 1.0));
                let full_jitter = match r.get("JitterStrategy").map(|j| j.as_str()) {
                    None | Some(Some("NONE")) => false,
                    Some(Some("FULL")) => true,
                    Some(_) => {
                        self.problem(
                            &format!("{rat}/JitterStrategy"),
                            "JitterStrategy is FULL or NONE",
                        );
                        false
                    }
                };
                retry.push(Retrier {
                    error_equals,
                    interval_seconds,
                    max_attempts,
                    backoff_rate,
                    max_delay_seconds,
                    full_jitter,
                });
            }
            self.all_last(
                retry.iter().map(|r| &r.error_equals),
                &format!("{at}/Retry"),
                "retrier",
            );
        }
        let mut catch = Vec::new();
        if let Some(list) = obj.get("Catch") {
            let Some(list) = list.as_array() else {
                self.problem(&format!("{at}/Catch"), "Catch must be an array of catchers");
                return None;
            };
            for (i, c) in list.iter().enumerate() {
                let cat = format!("{at}/Catch/{i}");
                let error_equals = self.errors_list(c.get("ErrorEquals"), &cat);
                let next = match c.get("Next").and_then(Value::as_str) {
                    Some(n) => {
                        check_next(self, &format!("Catch/{i}/Next"), n);
                        n.to_owned()
                    }
                    None => {
                        self.problem(
                            &format!("{cat}/Next"),
                            "a catcher needs Next (a state name)",
                        );
                        String::new()
                    }
                };
                let result_path = match c.as_object() {
                    Some(co) => self.path_field(co, "ResultPath", &cat, true),
                    None => Some("$".to_owned()),
                };
                if let Some(a) = c.get("Assign") {
                    self.assign_field(a, &format!("{cat}/Assign"), jsonata);
                }
                catch.push(Catcher {
                    error_equals,
                    result_path,
                    next,
                    output: c.get("Output").cloned(),
                    assign: c.get("Assign").cloned(),
                });
            }
            self.all_last(
                catch.iter().map(|c| &c.error_equals),
                &format!("{at}/Catch"),
                "catcher",
            );
        }
        let text = |p: &mut Self, lit: &str, path: &str| -> Option<Text> {
            match (obj.get(lit), obj.get(path)) {
                (Some(_), Some(_)) => {
                    p.problem(at, format!("{lit} and {path} cannot both be given"));
                    None
                }
                (Some(Value::String(s)), None) => Some(Text::Literal(s.clone())),
                (None, Some(Value::String(s))) if paths::is_path(s) || intrinsics::is_call(s) => {
                    Some(Text::Path(s.clone()))
                }
                (None, None) => None,
                _ => {
                    p.problem(
                        &format!("{at}/{lit}"),
                        format!("{lit} is a string, {path} a path"),
                    );
                    None
                }
            }
        };
        let kind = match type_name {
            "Pass" => Kind::Pass {
                result: obj.get("Result").cloned(),
            },
            "Task" => {
                let resource = match obj.get("Resource").and_then(Value::as_str) {
                    Some(r) => {
                        let function_arn =
                            r.starts_with("arn:aws:lambda:") && r.contains(":function:");
                        if !function_arn && !r.starts_with("arn:aws:states:::lambda:invoke") {
                            self.problem(&format!("{at}/Resource"), format!("'{r}': a Task here calls a function: arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] or arn:aws:states:::lambda:invoke"));
                        }
                        if r.starts_with("arn:aws:states:::lambda:invoke")
                            && parameters
                                .as_ref()
                                .and_then(|p| {
                                    p.get("FunctionName").or_else(|| p.get("FunctionName.$"))
                                })
                                .is_none()
                        {
                            self.problem(
                                &format!("{at}/Parameters"),
                                "arn:aws:states:::lambda:invoke needs Parameters.FunctionName",
                            );
                        }
                        r.to_owned()
                    }
                    None => {
                        self.problem(&format!("{at}/Resource"), "a Task needs a Resource");
                        String::new()
                    }
                };
                let secs = |p: &mut Self, lit: &str, path: &str| match (
                    p.seconds_field(obj, lit, at),
                    obj.get(path).and_then(Value::as_str),
                ) {
                    (Some(n), None) => Some(Seconds::Literal(n)),
                    (None, Some(s)) if paths::is_reference(s) => Some(Seconds::Path(s.to_owned())),
                    (None, None) => None,
                    _ => {
                        p.problem(
                            &format!("{at}/{lit}"),
                            format!("give {lit} or {path} (a reference path), not both"),
                        );
                        None
                    }
                };
                let timeout = secs(self, "TimeoutSeconds", "TimeoutSecondsPath");
                let heartbeat = secs(self, "HeartbeatSeconds", "HeartbeatSecondsPath");
                if let (Some(Seconds::Literal(t)), Some(Seconds::Literal(h))) =
                    (&timeout, &heartbeat)
                    && h >= t
                {
                    self.problem(
                        &format!("{at}/HeartbeatSeconds"),
                        format!("HeartbeatSeconds ({h}) must be smaller than TimeoutSeconds ({t})"),
                    );
                }
                Kind::Task {
                    resource,
                    timeout,
                    heartbeat,
                }
            }
            "Choice" => {
                let mut choices = Vec::new();
                match obj
                    .get("Choices")
                    .and_then(Value::as_array)
                    .filter(|c| !c.is_empty())
                {
                    Some(list) => {
                        for (i, c) in list.iter().enumerate() {
                            let cat = format!("{at}/Choices/{i}");
                            let mut raw = Vec::new();
                            let rule = if jsonata {
                                ChoiceRule::parse_jsonata(c, &cat, &mut raw)
                            } else {
                                ChoiceRule::parse(c, &cat, &mut raw)
                            };
                            if let Some(a) = c.get("Assign") {
                                self.assign_field(a, &format!("{cat}/Assign"), jsonata);
                            }
                            if let Some(rule) = rule {
                                if !names.contains(rule.next.as_str()) {
                                    self.problem(
                                        &format!("{cat}/Next"),
                                        format!("'{}' is not a state of this machine", rule.next),
                                    );
                                }
                                choices.push(rule);
                            }
                            for (pointer, message) in raw {
                                self.problem(&pointer, message);
                            }
                        }
                    }
                    None => self.problem(
                        &format!("{at}/Choices"),
                        "Choices must be a non-empty array of rules",
                    ),
                }
                let default = obj
                    .get("Default")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if let Some(d) = &default {
                    check_next(self, "Default", d);
                }
                if obj.contains_key("Next") || obj.contains_key("End") {
                    self.problem(
                        at,
                        "a Choice state goes on by its Choices and Default, not Next or End",
                    );
                }
                Kind::Choice { choices, default }
            }
            "Wait" => {
                let given: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                    .into_iter()
                    .filter(|k| obj.contains_key(*k))
                    .collect();
                if given.len() != 1 {
                    self.problem(at, "a Wait state has exactly one of Seconds, Timestamp, SecondsPath, TimestampPath");
                    return None;
                }
                let v = &obj[given[0]];
                let expr = v.as_str().and_then(jsonata::expression).filter(|_| jsonata);
                match given[0] {
                    "Seconds" if expr.is_some() => {
                        Kind::Wait(WaitFor::SecondsExpr(expr.unwrap_or_default().to_owned()))
                    }
                    "Timestamp" if expr.is_some() => {
                        Kind::Wait(WaitFor::TimestampExpr(expr.unwrap_or_default().to_owned()))
                    }
                    "Seconds" => match v.as_u64().filter(|n| *n <= 99_999_999) {
                        Some(n) => Kind::Wait(WaitFor::Seconds(n)),
                        None => {
                            self.problem(
                                &format!("{at}/Seconds"),
                                "Seconds must be a whole number, 0–99999999",
                            );
                            return None;
                        }
                    },
                    "Timestamp" => {
                        match v
                            .as_str()
                            .filter(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
                        {
                            Some(s) => Kind::Wait(WaitFor::Timestamp(s.to_owned())),
                            None => {
                                self.problem(&format!("{at}/Timestamp"), "Timestamp must be an RFC 3339 time such as 2026-03-14T01:59:00Z");
                                return None;
                            }
                        }
                    }
                    key => match v.as_str().filter(|s| paths::is_reference(s)) {
                        Some(s) if key == "SecondsPath" => {
                            Kind::Wait(WaitFor::SecondsPath(s.to_owned()))
                        }
                        Some(s) => Kind::Wait(WaitFor::TimestampPath(s.to_owned())),
                        None => {
                            self.problem(
                                &format!("{at}/{key}"),
                                format!("{key} must be a reference path"),
                            );
                            return None;
                        }
                    },
                }
            }
            "Succeed" => Kind::Succeed,
            "Fail" => {
                let expr = |t: Option<Text>| match t {
                    Some(Text::Literal(s)) if jsonata => match jsonata::expression(&s) {
                        Some(e) => Some(Text::Jsonata(e.to_owned())),
                        None => Some(Text::Literal(s)),
                    },
                    other => other,
                };
                Kind::Fail {
                    error: expr(text(self, "Error", "ErrorPath")),
                    cause: expr(text(self, "Cause", "CausePath")),
                }
            }
            "Parallel" => {
                let mut branches = Vec::new();
                match obj
                    .get("Branches")
                    .and_then(Value::as_array)
                    .filter(|b| !b.is_empty())
                {
                    Some(list) => {
                        for (i, b) in list.iter().enumerate() {
                            if let Some(m) = self.machine(b, &format!("{at}/Branches/{i}")) {
                                branches.push(m);
                            }
                        }
                    }
                    None => self.problem(
                        &format!("{at}/Branches"),
                        "Branches must be a non-empty array of state machines",
                    ),
                }
                Kind::Parallel { branches }
            }
            "Map" => {
                let mut notes = Vec::new();
                let (key, pv) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
                    (Some(p), None) => ("ItemProcessor", p),
                    (None, Some(i)) => ("Iterator", i),
                    _ => {
                        self.problem(
                            at,
                            "a Map state has ItemProcessor (or the older Iterator), one of them",
                        );
                        return None;
                    }
                };
                if let Some(mode) = pv.pointer("/ProcessorConfig/Mode").and_then(Value::as_str)
                    && mode != "INLINE"
                {
                    self.problem(&format!("{at}/{key}/ProcessorConfig/Mode"), format!("'{mode}': only INLINE Map states run here (a distributed Map reads from S3)"));
                }
                if obj.contains_key("ItemReader") {
                    self.problem(
                        &format!("{at}/ItemReader"),
                        "ItemReader (a distributed Map's S3 source) is not supported here",
                    );
                }
                if obj.contains_key("ResultWriter") {
                    notes.push(
                        "ResultWriter is ignored: results stay in the state's output".to_owned(),
                    );
                }
                let processor = self.machine(pv, &format!("{at}/{key}"))?;
                let items_path = match obj.get("ItemsPath") {
                    None => "$".to_owned(),
                    Some(Value::String(p)) if paths::is_reference(p) || paths::is_path(p) => {
                        p.clone()
                    }
                    Some(_) => {
                        self.problem(
                            &format!("{at}/ItemsPath"),
                            "ItemsPath must be a path to an array",
                        );
                        "$".to_owned()
                    }
                };
                let max_concurrency = match obj.get("MaxConcurrency") {
                    None => 0,
                    Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                        Some(n) => n,
                        None => {
                            self.problem(
                                &format!("{at}/MaxConcurrency"),
                                "MaxConcurrency must be a whole number ≥ 0",
                            );
                            0
                        }
                    },
                };
                let tolerated_percentage = match obj.get("ToleratedFailurePercentage") {
                    None => None,
                    Some(v) => match v.as_f64().filter(|n| (0.0..=100.0).contains(n)) {
                        Some(n) => Some(n),
                        None => {
                            self.problem(
                                &format!("{at}/ToleratedFailurePercentage"),
                                "ToleratedFailurePercentage must be 0–100",
                            );
                            None
                        }
                    },
                };
                let tolerated_count = obj.get("ToleratedFailureCount").and_then(Value::as_u64);
                Kind::Map(Box::new(MapState {
                    processor,
                    items_path,
                    items: obj.get("Items").cloned(),
                    max_concurrency,
                    tolerated_percentage,
                    tolerated_count,
                    notes,
                }))
            }
            _ => return None,
        };
        Some(State {
            name: name.to_owned(),
            kind,
            next: if terminal || end { None } else { next },
            input_path,
            output_path,
            result_path,
            parameters,
            result_selector,
            retry,
            catch,
            jsonata,
            arguments: obj.get("Arguments").cloned(),
            output: obj.get("Output").cloned(),
            assign: obj.get("Assign").cloned(),
        })
    }

    /// Checks an `Assign` field: names, and the paths or expressions of its values.
    fn assign_field(&mut self, a: &Value, at: &str, jsonata: bool) {
        let mut raw = Vec::new();
        super::variables::check(a, at, jsonata, &mut raw);
        for (pointer, message) in raw {
            self.problem(&pointer, message);
        }
        if !jsonata {
            self.template(a, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_inner_scope_cannot_assign_an_outer_variable() {
        let def = json!({
            "StartAt": "Set",
            "States": {
                "Set": {"Type": "Pass", "Assign": {"total": 0, "who.$": "$.name"}, "Next": "P"},
                "P": {"Type": "Parallel", "Next": "M", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"total": 1, "mine": 1}, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"mine": 2}, "End": true}}}
                ]},
                "M": {"Type": "Map", "End": true, "Assign": {"after": 1},
                    "ItemProcessor": {"StartAt": "C", "States": {
                        "C": {"Type": "Pass", "Assign": {"who": "x", "item": 1}, "Next": "D"},
                        "D": {"Type": "Parallel", "End": true, "Branches": [
                            {"StartAt": "E", "States": {"E": {"Type": "Pass", "Assign": {"item": 2, "after": 3}, "End": true}}}
                        ]}
                    }}}
            }
        });
        let problems = parse_value(&def).unwrap_err();
        let mut at: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        at.sort_unstable();
        assert_eq!(
            at,
            [
                "/States/M/ItemProcessor/States/C/Assign/who",
                "/States/M/ItemProcessor/States/D/Branches/0/States/E/Assign/after",
                "/States/M/ItemProcessor/States/D/Branches/0/States/E/Assign/item",
                "/States/P/Branches/0/States/A/Assign/total",
            ],
            "{problems:?}"
        );
        let total = problems
            .iter()
            .find(|p| p.pointer.ends_with("total"))
            .unwrap();
        assert_eq!(
            total.message,
            "'total' is a variable of an outer scope (assigned at /States/Set/Assign/total); a Parallel branch or Map iteration cannot assign it"
        );
        // Sibling branches may use the same name (each its own scope).
        assert!(at.iter().all(|p| !p.contains("mine")));
    }

    #[test]
    fn a_good_machine_parses() {
        let m = parse_value(&json!({
            "Comment": "A Hello World example",
            "StartAt": "Hello",
            "States": {
                "Hello": {"Type": "Pass", "Result": "Hello", "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$", "StringEquals": "Hello", "Next": "Done"}], "Default": "Oops"},
                "Oops": {"Type": "Fail", "Error": "Bad", "Cause": "no"},
                "Done": {"Type": "Succeed"}
            }
        }))
        .unwrap();
        assert_eq!(m.start_at, "Hello");
        assert_eq!(m.states.len(), 4);
        assert_eq!(m.state("Hello").unwrap().next.as_deref(), Some("Check"));
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_pointer() {
        let problems = parse_value(&json!({
            "StartAt": "Nowhere",
            "States": {
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "Done"}]},
                "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123:function:f", "Next": "Check", "Retry": [{"ErrorEquals": []}], "ResultPath": "$.a[*]"},
                "Loose": {"Type": "Pass"},
                "Odd": {"Type": "Sleep", "Next": "Work"},
                "Extra": {"Type": "Pass", "End": true, "Bogus": 1}
            }
        }))
        .unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        for want in [
            "/StartAt: 'Nowhere' is not a state of this machine",
            "/States/Check/Choices/0/Next: 'Done' is not a state of this machine",
            "/States/Work/Retry/0/ErrorEquals: ErrorEquals must be a non-empty array of error names",
            "/States/Work/ResultPath: '$.a[*]' is not a reference path (such as $.result)",
            "/States/Loose: 'Loose' needs Next (a state name) or End: true",
            "/States/Odd/Type: 'Sleep' is not a state type: one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map",
            "/States/Extra/Bogus: 'Bogus' is not a field of a Pass state",
        ] {
            assert!(text.iter().any(|t| t == want), "missing {want}\n{text:#?}");
        }
    }

    #[test]
    fn nested_machines_are_checked_in_their_own_scope() {
        let problems = parse_value(&json!({
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "P"}}}
                ]},
            }
        }))
        .unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "/States/P/Branches/0/States/A/Next: 'P' is not a state of this machine"
        );
    }

    #[test]
    fn unreachable_states_and_misplaced_states_all() {
        let problems = parse_value(&json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true,
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]},
                "B": {"Type": "Succeed"}
            }
        }))
        .unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(
                &"/States/A/Catch/0: a catcher with States.ALL must be the last".to_owned()
            ),
            "{text:#?}"
        );
        assert!(
            text.contains(&"/States/B: 'B' cannot be reached from StartAt".to_owned()),
            "{text:#?}"
        );
    }
}
