//! Workflow variables: `Assign` in Pass, Task, Choice (and its rules), Wait,
//! Parallel, Map and Catch; read as `$name` (JSONPath: `"x.$": "$name.a"`,
//! a Choice `Variable`, an intrinsic's argument; JSONata: `$name`).
//!
//! As in Step Functions, every value a state assigns is worked out from the
//! variables as they were when the state was entered, and the new values
//! are seen from the next state on. A Parallel branch or Map iteration
//! starts with a copy of the variables outside it: it reads them, and what
//! it assigns stays inside it. Variables live in the run's context object
//! under a key no path can spell ([`KEY`]), so they follow the context into
//! branches and iterations; `$$` and `$states.context` never show them.

use serde_json::{Map, Value, json};

use super::error::StatesError;
use super::{dataflow, jsonata};

/// Where a run's variables sit in its context object.
pub const KEY: &str = "\u{1}variables";
/// Most bytes of one variable's value, as AWS allows (256 KiB).
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Most bytes one state's `Assign` may write in all, as AWS allows.
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;
/// Most bytes all of an execution's variables may hold (10 MiB).
pub const MAX_TOTAL_BYTES: usize = 10 * 1024 * 1024;
/// Most characters in a variable's name.
pub const MAX_NAME: usize = 80;

/// Whether `name` can be a variable's name: a letter or `_`, then letters,
/// digits or `_`; not `states` (reserved).
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= MAX_NAME
        && name != "states"
}

/// Splits a variable path (`$order.items[0]`) into the variable's name and
/// a path into its value (`$.items[0]`); `None` when `path` reads the input
/// (`$.x`) or the context object (`$$.x`).
pub fn split(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix('$')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if !is_name(name) {
        return None;
    }
    Some((name, format!("${}", &rest[end..])))
}

/// The value of variable `name` in a run's context object.
pub fn get<'a>(context: &'a Value, name: &str) -> Option<&'a Value> {
    context.get(KEY)?.get(name)
}

/// Every variable set in a run (an empty object when none).
pub fn all(context: &Value) -> Value {
    context
        .get(KEY)
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// The context object as a state reads it (`$$`, `$states.context`): without
/// the variables.
pub fn visible(context: &Value) -> Value {
    let mut c = context.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove(KEY);
    }
    c
}

/// Sets variables from outside (TestState's `variables`).
pub fn preset(context: &mut Value, values: Map<String, Value>) {
    if !values.is_empty() {
        context[KEY] = Value::Object(values);
    }
}

/// What an `Assign` reads besides the variables.
pub enum Source<'a> {
    /// JSONPath: `$` (the state's result, the effective input of a Choice
    /// or Wait, a catcher's error output).
    Path(&'a Value),
    /// JSONata: `$states` (`input`, `result`, `errorOutput`; `context` is
    /// added here).
    Jsonata(Value),
}

/// Works out every value of `assign` from the variables as they are, then
/// sets them all.
pub fn assign(assign: &Value, source: Source<'_>, context: &mut Value) -> Result<(), StatesError> {
    let values = match source {
        Source::Path(dollar) => {
            dataflow::payload(assign, dollar, context, super::error::names::RUNTIME)?
        }
        Source::Jsonata(mut states) => {
            states["context"] = context.clone();
            jsonata::template(assign, &states)?
        }
    };
    let Value::Object(values) = values else {
        return Err(StatesError::runtime("Assign must be an object"));
    };
    let mut written = 0;
    for (name, v) in &values {
        let size = v.to_string().len();
        if size > MAX_VALUE_BYTES {
            return Err(StatesError::runtime(format!(
                "The variable '{name}' is {size} bytes, over the limit of {MAX_VALUE_BYTES} bytes"
            )));
        }
        written += size;
    }
    if written > MAX_ASSIGN_BYTES {
        return Err(StatesError::runtime(format!(
            "The variables assigned by this state are {written} bytes, over the limit of {MAX_ASSIGN_BYTES} bytes"
        )));
    }
    if !context.get(KEY).is_some_and(Value::is_object) {
        context[KEY] = json!({});
    }
    let store = &mut context[KEY];
    if let Some(o) = store.as_object_mut() {
        o.extend(values);
    }
    let total = store.to_string().len();
    if total > MAX_TOTAL_BYTES {
        return Err(StatesError::runtime(format!(
            "The execution's variables are {total} bytes, over the limit of {MAX_TOTAL_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks an `Assign` field: an object of valid names; problems are
/// `(pointer, message)`.
pub fn check(assign: &Value, at: &str, jsonata_lang: bool, problems: &mut Vec<(String, String)>) {
    let Some(o) = assign.as_object() else {
        problems.push((
            at.to_owned(),
            "Assign must be an object of variable names and values".to_owned(),
        ));
        return;
    };
    for (k, v) in o {
        let name = if jsonata_lang {
            k.as_str()
        } else {
            k.strip_suffix(".$").unwrap_or(k)
        };
        let kat = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
        if !is_name(name) {
            let why = if name == "states" {
                "'states' is reserved".to_owned()
            } else {
                format!(
                    "'{name}' is not a variable name (a letter or _, then letters, digits or _; at most {MAX_NAME})"
                )
            };
            problems.push((kat.clone(), why));
        }
        if jsonata_lang {
            jsonata::check_template(v, &kat, problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        for ok in ["x", "_a1", "orderTotal", "A_b_C"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "1x", "a-b", "states", "a.b", &"x".repeat(81)] {
            assert!(!is_name(bad), "{bad}");
        }
        assert_eq!(
            split("$order.items[0]"),
            Some(("order", "$.items[0]".into()))
        );
        assert_eq!(split("$x"), Some(("x", "$".into())));
        assert_eq!(split("$x['a b']"), Some(("x", "$['a b']".into())));
        assert_eq!(split("$.x"), None);
        assert_eq!(split("$$.Execution"), None);
        assert_eq!(split("$[0]"), None);
    }

    #[test]
    fn values_come_from_the_variables_before_the_state() {
        let mut ctx = json!({"Execution": {"Name": "e"}});
        assign(
            &json!({"a": 1, "b": "two"}),
            Source::Path(&json!({})),
            &mut ctx,
        )
        .unwrap();
        // `a.$` reads the old `b`, `b.$` the old `a`: a swap.
        assign(
            &json!({"a.$": "$b", "b.$": "$a", "c.$": "$.n", "d.$": "States.MathAdd($a, 10)"}),
            Source::Path(&json!({"n": 5})),
            &mut ctx,
        )
        .unwrap();
        assert_eq!(all(&ctx), json!({"a": "two", "b": 1, "c": 5, "d": 11}));
        assert_eq!(visible(&ctx), json!({"Execution": {"Name": "e"}}));
        assign(
            &json!({"e": "{% $a & '!' %}", "f": "{% $states.result.v + $b %}"}),
            Source::Jsonata(json!({"input": {}, "result": {"v": 2}})),
            &mut ctx,
        )
        .unwrap();
        assert_eq!(get(&ctx, "e"), Some(&json!("two!")));
        assert_eq!(get(&ctx, "f"), Some(&json!(3)));
    }

    #[test]
    fn limits_and_missing_paths_are_errors() {
        let mut ctx = json!({});
        let big = "x".repeat(MAX_VALUE_BYTES);
        let e = assign(&json!({"big": big}), Source::Path(&json!({})), &mut ctx).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.contains("'big'"), "{}", e.cause);
        let e = assign(
            &json!({"m.$": "$.missing"}),
            Source::Path(&json!({})),
            &mut ctx,
        )
        .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        let e = assign(&json!({"m.$": "$nope"}), Source::Path(&json!({})), &mut ctx).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        let mut problems = Vec::new();
        check(
            &json!({"states": 1, "9x": 2, "ok": 3}),
            "/A",
            false,
            &mut problems,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        check(&json!([1]), "/B", false, &mut problems);
        assert_eq!(problems[2].0, "/B");
    }
}
