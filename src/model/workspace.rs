//! The workspace: the functions a user has loaded, their settings, their
//! saved test events and triggers. Types only: reading and writing the file
//! is [`crate::store::workspace`]'s job.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::FunctionConfig;

/// File name of the workspace inside its folder.
pub const WORKSPACE_FILE: &str = "workspace.json";

/// Everything a user keeps between launches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Workspace {
    /// Format version of this file.
    pub version: u32,
    /// Functions in the order the user sees them.
    pub functions: Vec<FunctionEntry>,
    /// CPU in proportion to memory (`lambda`, the default) or full speed (`off`).
    pub cpu_share: super::config::CpuShare,
    /// State machines (Amazon States Language), in the order the user sees them.
    pub state_machines: Vec<StateMachineEntry>,
}

/// One state machine: its definition as written (kept even while invalid,
/// as an editor's draft), its type and its saved execution inputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateMachineEntry {
    /// Its name.
    pub name: String,
    /// The definition's JSON text.
    pub definition: String,
    /// `STANDARD` (the default) or `EXPRESS`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Saved execution inputs.
    pub inputs: Vec<TestEvent>,
    /// The input selected.
    pub selected_input: usize,
}

/// One function: where its code lives, its settings and its test events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionEntry {
    /// Unique name (Lambda's FunctionName).
    pub name: String,
    /// The `.wasm`, `.wat` or `.zip` file; relative paths are relative to the workspace folder.
    pub code: PathBuf,
    /// Settings.
    pub config: FunctionConfig,
    /// Saved test events.
    pub events: Vec<TestEvent>,
    /// Index of the test event selected for Invoke.
    pub selected_event: usize,
    /// What invokes it besides Invoke: schedules, routes, folders, queues, streams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<super::trigger::Trigger>,
}

/// A saved test event. The body is kept as text, so a draft that is not valid
/// JSON yet is not lost.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TestEvent {
    /// Name shown in the event list.
    pub name: String,
    /// The JSON text.
    pub body: String,
}

impl Workspace {
    /// Current format version.
    pub const VERSION: u32 = 1;

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionEntry> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// A name based on `base` that no function has yet (`base`, `base-2`, …).
    pub fn unique_name(&self, base: &str) -> String {
        let base = sanitize_name(base);
        if self.function(&base).is_none() {
            return base;
        }
        (2..)
            .map(|n| format!("{base}-{n}"))
            .find(|candidate| self.function(candidate).is_none())
            .unwrap_or(base)
    }
}

/// Checks a function name as the Lambda console does: 1 to 64 letters,
/// digits, hyphens and underscores.
pub fn check_function_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("Function name must be 1 to 64 characters, must be unique to the Region, and can't include spaces. Valid characters are a-z, A-Z, 0-9, hyphens (-), and underscores (_).".to_owned())
    }
}

/// Lambda function names: letters, digits, `-` and `_`, at most 64 characters.
pub fn sanitize_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "function".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_lambdas() {
        for ok in ["a", "orders-api", "My_Function_2", &"x".repeat(64)] {
            assert!(check_function_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "dot.name",
            "slash/name",
            "é",
            &"x".repeat(65),
        ] {
            let e = check_function_name(bad).unwrap_err();
            assert!(
                e.starts_with("Function name must be 1 to 64 characters"),
                "{bad}: {e}"
            );
        }
    }
}
