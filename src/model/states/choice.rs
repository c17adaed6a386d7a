//! Choice rules: comparison operators (each with its `…Path` form), `And`,
//! `Or`, `Not` and the `Is*` tests, parsed with every problem located by a
//! JSON pointer and evaluated as Step Functions does: a value of the wrong
//! type makes a comparison false, not an error; a `Variable` naming nothing
//! is a `States.Runtime` error (except for `IsPresent`).

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::error::StatesError;
use super::paths;

/// A comparison operator, named as the States Language names it (each
/// also has a `…Path` form but the `Is*` tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

/// What a comparison compares with.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A literal.
    Value(Value),
    /// The value at a path of the input (the `…Path` form).
    Path(String),
}

/// A condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// All hold.
    And(Vec<Condition>),
    /// One holds.
    Or(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// JSONata: a `Condition` expression (without `{% %}`) that must give `true`.
    Jsonata(String),
    /// `Variable` `op` operand.
    Test {
        /// The path of the value tested.
        variable: String,
        /// The operator.
        op: Op,
        /// The operand.
        operand: Operand,
    },
}

/// A top-level rule: a condition and the state to go to.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceRule {
    /// The condition.
    pub condition: Condition,
    /// The next state.
    pub next: String,
    /// The rule as written (for the graph's labels).
    pub text: String,
    /// `Assign`: variables set when this rule is the one taken.
    pub assign: Option<Value>,
}

impl Condition {
    /// Reads a condition at `pointer`; problems are `(pointer, message)`.
    pub fn parse(v: &Value, pointer: &str, problems: &mut Vec<(String, String)>) -> Option<Self> {
        let Some(obj) = v.as_object() else {
            problems.push((
                pointer.to_owned(),
                "a choice rule must be an object".to_owned(),
            ));
            return None;
        };
        let list = |key: &str, problems: &mut Vec<(String, String)>| -> Option<Vec<Condition>> {
            let Some(items) = obj.get(key)?.as_array().filter(|a| !a.is_empty()) else {
                problems.push((
                    format!("{pointer}/{key}"),
                    format!("{key} must be a non-empty array of rules"),
                ));
                return Some(Vec::new());
            };
            Some(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, r)| {
                        Condition::parse(r, &format!("{pointer}/{key}/{i}"), problems)
                    })
                    .collect(),
            )
        };
        if let Some(all) = list("And", problems) {
            return Some(Self::And(all));
        }
        if let Some(any) = list("Or", problems) {
            return Some(Self::Or(any));
        }
        if let Some(inner) = obj.get("Not") {
            return Self::parse(inner, &format!("{pointer}/Not"), problems)
                .map(|c| Self::Not(Box::new(c)));
        }
        let variable = match obj.get("Variable").and_then(Value::as_str) {
            Some(v) if paths::is_path(v) => v.to_owned(),
            Some(v) => {
                problems.push((
                    format!("{pointer}/Variable"),
                    format!("'{v}' is not a JSONPath"),
                ));
                return None;
            }
            None => {
                problems.push((
                    pointer.to_owned(),
                    "a rule needs And, Or, Not, or a Variable with a comparison".to_owned(),
                ));
                return None;
            }
        };
        let mut found = None;
        for (key, value) in obj {
            if matches!(key.as_str(), "Variable" | "Next" | "Comment" | "Assign") {
                continue;
            }
            let (name, is_path) = match key.strip_suffix("Path") {
                Some(n) if OPS.iter().any(|(o, _)| *o == n) && !n.starts_with("Is") => (n, true),
                _ => (key.as_str(), false),
            };
            let Some(op) = OPS.iter().find(|(o, _)| *o == name).map(|(_, op)| *op) else {
                problems.push((
                    format!("{pointer}/{key}"),
                    format!("'{key}' is not a comparison operator"),
                ));
                continue;
            };
            if found.is_some() {
                problems.push((
                    format!("{pointer}/{key}"),
                    "a rule has exactly one comparison".to_owned(),
                ));
                continue;
            }
            let operand = if is_path {
                match value.as_str() {
                    Some(p) if paths::is_path(p) => Operand::Path(p.to_owned()),
                    _ => {
                        problems.push((
                            format!("{pointer}/{key}"),
                            format!("{key} takes a JSONPath"),
                        ));
                        continue;
                    }
                }
            } else {
                let ok = match op {
                    Op::StringEquals
                    | Op::StringLessThan
                    | Op::StringGreaterThan
                    | Op::StringLessThanEquals
                    | Op::StringGreaterThanEquals
                    | Op::StringMatches => value.is_string(),
                    Op::NumericEquals
                    | Op::NumericLessThan
                    | Op::NumericGreaterThan
                    | Op::NumericLessThanEquals
                    | Op::NumericGreaterThanEquals => value.is_number(),
                    Op::TimestampEquals
                    | Op::TimestampLessThan
                    | Op::TimestampGreaterThan
                    | Op::TimestampLessThanEquals
                    | Op::TimestampGreaterThanEquals => {
                        value.as_str().and_then(timestamp).is_some()
                    }
                    _ => value.is_boolean(),
                };
                if !ok {
                    problems.push((
                        format!("{pointer}/{key}"),
                        format!("{value} is not a valid operand for {key}"),
                    ));
                    continue;
                }
                Operand::Value(value.clone())
            };
            found = Some(Self::Test {
                variable: variable.clone(),
                op,
                operand,
            });
        }
        if found.is_none() && !problems.iter().any(|(p, _)| p.starts_with(pointer)) {
            problems.push((
                pointer.to_owned(),
                "the rule has a Variable but no comparison".to_owned(),
            ));
        }
        found
    }

    /// The condition for a person: `$.sum > 100`, `$.x is present`, `a and b`.
    pub fn describe(&self) -> String {
        let join = |list: &[Condition], word: &str| {
            list.iter()
                .map(|c| match c {
                    Self::And(_) | Self::Or(_) => format!("({})", c.describe()),
                    _ => c.describe(),
                })
                .collect::<Vec<_>>()
                .join(word)
        };
        match self {
            Self::And(all) => join(all, " and "),
            Self::Or(any) => join(any, " or "),
            Self::Not(c) => format!("not ({})", c.describe()),
            Self::Jsonata(e) => e.clone(),
            Self::Test {
                variable,
                op,
                operand,
            } => {
                let o = match operand {
                    Operand::Value(v) => v.to_string(),
                    Operand::Path(p) => p.clone(),
                };
                let yes = operand == &Operand::Value(Value::Bool(true));
                let is =
                    |what: &str| format!("{variable} is {}{what}", if yes { "" } else { "not " });
                match op {
                    Op::StringEquals
                    | Op::NumericEquals
                    | Op::BooleanEquals
                    | Op::TimestampEquals => format!("{variable} == {o}"),
                    Op::StringLessThan | Op::NumericLessThan | Op::TimestampLessThan => {
                        format!("{variable} < {o}")
                    }
                    Op::StringGreaterThan | Op::NumericGreaterThan | Op::TimestampGreaterThan => {
                        format!("{variable} > {o}")
                    }
                    Op::StringLessThanEquals
                    | Op::NumericLessThanEquals
                    | Op::TimestampLessThanEquals => format!("{variable} <= {o}"),
                    Op::StringGreaterThanEquals
                    | Op::NumericGreaterThanEquals
                    | Op::TimestampGreaterThanEquals => format!("{variable} >= {o}"),
                    Op::StringMatches => format!("{variable} matches {o}"),
                    Op::IsNull => is("null"),
                    Op::IsPresent => is("present"),
                    Op::IsNumeric => is("numeric"),
                    Op::IsString => is("a string"),
                    Op::IsBoolean => is("a boolean"),
                    Op::IsTimestamp => is("a timestamp"),
                }
            }
        }
    }

    /// Whether the condition holds for `input`.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<bool, StatesError> {
        match self {
            Self::And(all) => {
                for c in all {
                    if !c.eval(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Self::Or(any) => {
                for c in any {
                    if c.eval(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Self::Not(c) => Ok(!c.eval(input, context)?),
            Self::Jsonata(e) => {
                let states = serde_json::json!({ "input": input, "context": context });
                Ok(super::jsonata::evaluate(e, &states)? == Some(Value::Bool(true)))
            }
            Self::Test {
                variable,
                op,
                operand,
            } => {
                let value = paths::select(input, context, variable);
                if *op == Op::IsPresent {
                    return Ok(value.is_some() == (operand == &Operand::Value(Value::Bool(true))));
                }
                let value = value.ok_or_else(|| {
                    StatesError::runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ))
                })?;
                let operand = match operand {
                    Operand::Value(v) => v.clone(),
                    Operand::Path(p) => paths::select(input, context, p).ok_or_else(|| {
                        StatesError::runtime(format!(
                            "Invalid path '{p}': The choice state's condition path references an invalid value."
                        ))
                    })?,
                };
                Ok(compare(*op, &value, &operand))
            }
        }
    }
}

fn timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .filter(|_| s.contains('T'))
}

fn compare(op: Op, v: &Value, o: &Value) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let ord = |want: &[std::cmp::Ordering], got: Option<std::cmp::Ordering>| {
        got.is_some_and(|g| want.contains(&g))
    };
    let strings = || Some(v.as_str()?.cmp(o.as_str()?));
    let numbers = || v.as_f64()?.partial_cmp(&o.as_f64()?);
    let times = || Some(timestamp(v.as_str()?)?.cmp(&timestamp(o.as_str()?)?));
    match op {
        Op::StringEquals => ord(&[Equal], strings()),
        Op::StringLessThan => ord(&[Less], strings()),
        Op::StringGreaterThan => ord(&[Greater], strings()),
        Op::StringLessThanEquals => ord(&[Less, Equal], strings()),
        Op::StringGreaterThanEquals => ord(&[Greater, Equal], strings()),
        Op::StringMatches => match (v.as_str(), o.as_str()) {
            (Some(s), Some(p)) => wildcard(s, p),
            _ => false,
        },
        Op::NumericEquals => ord(&[Equal], numbers()),
        Op::NumericLessThan => ord(&[Less], numbers()),
        Op::NumericGreaterThan => ord(&[Greater], numbers()),
        Op::NumericLessThanEquals => ord(&[Less, Equal], numbers()),
        Op::NumericGreaterThanEquals => ord(&[Greater, Equal], numbers()),
        Op::BooleanEquals => v.is_boolean() && v == o,
        Op::TimestampEquals => ord(&[Equal], times()),
        Op::TimestampLessThan => ord(&[Less], times()),
        Op::TimestampGreaterThan => ord(&[Greater], times()),
        Op::TimestampLessThanEquals => ord(&[Less, Equal], times()),
        Op::TimestampGreaterThanEquals => ord(&[Greater, Equal], times()),
        Op::IsNull => v.is_null() == (o == &Value::Bool(true)),
        Op::IsNumeric => v.is_number() == (o == &Value::Bool(true)),
        Op::IsString => v.is_string() == (o == &Value::Bool(true)),
        Op::IsBoolean => v.is_boolean() == (o == &Value::Bool(true)),
        Op::IsTimestamp => v.as_str().and_then(timestamp).is_some() == (o == &Value::Bool(true)),
        Op::IsPresent => true,
    }
}

/// `StringMatches`: `*` matches any run of characters, `\*` a star, `\\` a backslash.
fn wildcard(s: &str, pattern: &str) -> bool {
    enum Tok {
        Lit(char),
        Star,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Greedy matching with backtracking to the last star: linear in practice.
    let (mut i, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        match toks.get(t) {
            Some(Tok::Lit(c)) if *c == s[i] => {
                i += 1;
                t += 1;
            }
            Some(Tok::Star) => {
                star = Some(t);
                mark = i;
                t += 1;
            }
            _ => match star {
                Some(st) => {
                    t = st + 1;
                    mark += 1;
                    i = mark;
                }
                None => return false,
            },
        }
    }
    toks[t..].iter().all(|k| matches!(k, Tok::Star))
}

impl ChoiceRule {
    /// Reads a JSONata rule: `Condition` (a `{% %}` expression) and `Next`.
    pub fn parse_jsonata(
        v: &Value,
        pointer: &str,
        problems: &mut Vec<(String, String)>,
    ) -> Option<Self> {
        let next = v.get("Next").and_then(Value::as_str).map(str::to_owned);
        if next.is_none() {
            problems.push((
                format!("{pointer}/Next"),
                "a choice rule needs Next (a state name)".to_owned(),
            ));
        }
        let condition = match v
            .get("Condition")
            .and_then(Value::as_str)
            .map(|c| (c, super::jsonata::expression(c)))
        {
            Some((_, Some(e))) => {
                if let Err(m) = super::jsonata::check(e) {
                    problems.push((
                        format!("{pointer}/Condition"),
                        format!("the JSONata expression is not valid: {m}"),
                    ));
                }
                e.to_owned()
            }
            Some((c, None)) => {
                problems.push((
                    format!("{pointer}/Condition"),
                    format!("'{c}' is not a JSONata expression ({{% … %}})"),
                ));
                return None;
            }
            None => {
                problems.push((
                    pointer.to_owned(),
                    "a JSONata choice rule has a Condition ({% … %}) and Next".to_owned(),
                ));
                return None;
            }
        };
        Some(Self {
            text: condition.clone(),
            condition: Condition::Jsonata(condition),
            next: next?,
            assign: v.get("Assign").cloned(),
        })
    }

    /// Reads a top-level rule (with `Next`).
    pub fn parse(v: &Value, pointer: &str, problems: &mut Vec<(String, String)>) -> Option<Self> {
        let next = v.get("Next").and_then(Value::as_str).map(str::to_owned);
        if next.is_none() {
            problems.push((
                format!("{pointer}/Next"),
                "a choice rule needs Next (a state name)".to_owned(),
            ));
        }
        let condition = Condition::parse(v, pointer, problems)?;
        let mut shown = v.clone();
        if let Some(o) = shown.as_object_mut() {
            o.remove("Next");
            o.remove("Comment");
            o.remove("Assign");
        }
        Some(Self {
            condition,
            next: next?,
            text: shown.to_string(),
            assign: v.get("Assign").cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(rule: Value, input: Value) -> Result<bool, StatesError> {
        let mut p = Vec::new();
        let c = Condition::parse(&rule, "", &mut p).unwrap_or_else(|| panic!("{p:?}"));
        assert!(p.is_empty(), "{p:?}");
        c.eval(&input, &json!({}))
    }

    #[test]
    fn every_operator_and_its_path_form() {
        let input = json!({"s": "b", "n": 5, "t": "2024-01-02T00:00:00Z", "b": true, "z": null,
                           "s2": "b", "n2": 4, "t2": "2024-01-01T00:00:00Z"});
        for (rule, want) in [
            (json!({"Variable": "$.s", "StringEquals": "b"}), true),
            (json!({"Variable": "$.s", "StringEqualsPath": "$.s2"}), true),
            (json!({"Variable": "$.s", "StringLessThan": "c"}), true),
            (json!({"Variable": "$.s", "StringGreaterThan": "a"}), true),
            (
                json!({"Variable": "$.s", "StringLessThanEquals": "b"}),
                true,
            ),
            (
                json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.s2"}),
                true,
            ),
            (json!({"Variable": "$.s", "StringMatches": "*b"}), true),
            (json!({"Variable": "$.n", "NumericEquals": 5}), true),
            (json!({"Variable": "$.n", "NumericLessThan": 5}), false),
            (
                json!({"Variable": "$.n", "NumericGreaterThanPath": "$.n2"}),
                true,
            ),
            (
                json!({"Variable": "$.n", "NumericLessThanEquals": 5.0}),
                true,
            ),
            (
                json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}),
                false,
            ),
            (json!({"Variable": "$.b", "BooleanEquals": true}), true),
            (json!({"Variable": "$.b", "BooleanEqualsPath": "$.b"}), true),
            (
                json!({"Variable": "$.t", "TimestampGreaterThanPath": "$.t2"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampEquals": "2024-01-02T00:00:00Z"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThan": "2024-01-01T00:00:00Z"}),
                false,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-01-02T00:00:00Z"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2025-01-02T00:00:00Z"}),
                false,
            ),
            (json!({"Variable": "$.z", "IsNull": true}), true),
            (json!({"Variable": "$.missing", "IsPresent": false}), true),
            (json!({"Variable": "$.n", "IsNumeric": true}), true),
            (json!({"Variable": "$.s", "IsString": false}), false),
            (json!({"Variable": "$.b", "IsBoolean": true}), true),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (
                json!({"And": [{"Variable": "$.n", "NumericEquals": 5}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}]}),
                true,
            ),
            (
                json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.b", "BooleanEquals": false}]}),
                false,
            ),
        ] {
            assert_eq!(holds(rule.clone(), input.clone()).unwrap(), want, "{rule}");
        }
    }

    #[test]
    fn a_type_mismatch_is_false_and_a_missing_variable_an_error() {
        let input = json!({"s": "5", "n": 5});
        assert!(
            !holds(
                json!({"Variable": "$.s", "NumericEquals": 5}),
                input.clone()
            )
            .unwrap()
        );
        assert!(
            !holds(
                json!({"Variable": "$.n", "StringEquals": "5"}),
                input.clone()
            )
            .unwrap()
        );
        let e = holds(json!({"Variable": "$.nope", "NumericEquals": 5}), input).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
    }

    #[test]
    fn string_matches_wildcards() {
        assert!(wildcard("log-2024.txt", "log-*.txt"));
        assert!(wildcard("a*b", "a\\*b"));
        assert!(!wildcard("axb", "a\\*b"));
        assert!(wildcard("anything", "*"));
        assert!(!wildcard("abc", "a*d"));
    }

    #[test]
    fn bad_rules_are_located() {
        let mut p = Vec::new();
        Condition::parse(
            &json!({"Variable": "$.x", "NumberEquals": 1}),
            "/States/C/Choices/0",
            &mut p,
        );
        Condition::parse(
            &json!({"Variable": "$.x", "NumericEquals": "1"}),
            "/States/C/Choices/1",
            &mut p,
        );
        Condition::parse(&json!({"And": []}), "/States/C/Choices/2", &mut p);
        assert_eq!(p[0].0, "/States/C/Choices/0/NumberEquals");
        assert!(
            p[1].1.contains("not a valid operand for NumericEquals"),
            "{p:?}"
        );
        assert_eq!(p[2].0, "/States/C/Choices/2/And");
    }
}
