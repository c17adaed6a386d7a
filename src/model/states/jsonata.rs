//! JSONata in state machines (`QueryLanguage: JSONata`): `{% … %}`
//! expressions in `Arguments`, `Output`, `Condition`, `Items`, a Wait's
//! `Seconds`/`Timestamp` and a Fail's `Error`/`Cause`, evaluated by
//! `jsonata-rs` with `$states` (`input`, `result`, `errorOutput`,
//! `context`) bound, and Step Functions' own functions added: `$partition`,
//! `$range`, `$hash`, `$uuid`, `$parse` (`$random()` is JSONata's own; its
//! seeded form `$random(seed)` is not there). A failure is
//! `States.QueryEvaluationError`, as in AWS.

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Value};

use super::error::StatesError;

/// The error a JSONata expression raises when it fails.
pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// Deepest evaluation (function calls within calls) an expression may reach:
/// a runaway recursion in a definition fails, it does not take the process down.
pub const MAX_DEPTH: usize = 200;
/// Longest one expression may evaluate, in milliseconds.
pub const TIME_LIMIT_MS: usize = 5_000;
/// Deepest bracket nesting in an expression's text (the parser recurses on it).
pub const MAX_NESTING: usize = 100;

/// Refuses text nested deeper than [`MAX_NESTING`] before the parser sees it.
fn nesting_ok(expr: &str) -> Result<(), String> {
    let mut depth = 0usize;
    for c in expr.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("nested deeper than {MAX_NESTING} brackets"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The expression inside `{% … %}`, when `s` is one.
pub fn expression(s: &str) -> Option<&str> {
    let t = s.trim();
    t.strip_prefix("{%")
        .and_then(|r| r.strip_suffix("%}"))
        .map(str::trim)
}

/// Whether `expr` parses (for validation); the parser's message otherwise.
pub fn check(expr: &str) -> Result<(), String> {
    nesting_ok(expr)?;
    let arena = Bump::new();
    JsonAta::new(expr, &arena)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks every `{% %}` string of a template; problems as (pointer, message).
pub fn check_template(v: &Value, at: &str, problems: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            if let Some(e) = expression(s)
                && let Err(m) = check(e)
            {
                problems.push((
                    at.to_owned(),
                    format!("the JSONata expression is not valid: {m}"),
                ));
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_template(x, &format!("{at}/{i}"), problems);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                check_template(
                    x,
                    &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    problems,
                );
            }
        }
        _ => {}
    }
}

fn to_json<'a>(v: &'a JValue<'a>) -> Option<Value> {
    if v.is_undefined() {
        return None;
    }
    let text = v.serialize(false);
    serde_json::from_str(&text).ok()
}

fn from_json<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(a) => {
            let out = JValue::array_with_capacity(arena, a.len(), ArrayFlags::empty());
            for x in a {
                out.push(from_json(arena, x));
            }
            out
        }
        Value::Object(o) => {
            let out = JValue::object_with_capacity(arena, o.len());
            for (k, x) in o {
                out.insert(k, from_json(arena, x));
            }
            out
        }
    }
}

type Native = for<'a, 'e> fn(
    FunctionContext<'a, 'e>,
    &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>>;

/// Runs one of the `States.*` intrinsics with JSONata arguments.
fn intrinsic<'a>(
    ctx: &FunctionContext<'a, '_>,
    name: &str,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let json: Vec<Value> = args
        .iter()
        .map(|a| to_json(a).unwrap_or(Value::Null))
        .collect();
    let input = Value::Array(json);
    let call = format!(
        "{name}({})",
        (0..args.len())
            .map(|i| format!("$[{i}]"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match super::intrinsics::evaluate(&call, &input, &Value::Null) {
        Ok(v) => Ok(from_json(ctx.arena, &v)),
        Err(e) => Err(jsonata_rs::Error::D3137Error(format!(
            "${}: {}",
            ctx.name, e.cause
        ))),
    }
}

fn fn_partition<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    intrinsic(&ctx, "States.ArrayPartition", args)
}

fn fn_range<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    intrinsic(&ctx, "States.ArrayRange", args)
}

fn fn_hash<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    intrinsic(&ctx, "States.Hash", args)
}

fn fn_uuid<'a>(
    ctx: FunctionContext<'a, '_>,
    _args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    Ok(JValue::string(ctx.arena, &uuid::Uuid::new_v4().to_string()))
}

fn fn_parse<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let text = args
        .first()
        .and_then(|a| to_json(a))
        .and_then(|v| v.as_str().map(str::to_owned));
    let Some(text) = text else {
        return Err(jsonata_rs::Error::D3137Error(
            "$parse takes a string of JSON".to_owned(),
        ));
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| jsonata_rs::Error::D3137Error(format!("$parse: not JSON: {e}")))?;
    Ok(from_json(ctx.arena, &v))
}

/// `$random([seed])`: jsonata-rs's own `$random` takes no seed and cannot be
/// replaced, so calls are renamed to this one (see [`seeded_random`]).
const RANDOM: &str = "sfn__random";

fn fn_random<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let n = match args.first().and_then(|a| to_json(a)) {
        None => rand_unit(uuid::Uuid::new_v4().as_u128() as u64),
        Some(Value::Number(n)) if args.len() == 1 => {
            let seed = n.as_f64().unwrap_or(0.0);
            if seed.fract() != 0.0 {
                return Err(jsonata_rs::Error::D3137Error(
                    "$random: the seed must be an integer".to_owned(),
                ));
            }
            rand_unit(seed as i64 as u64)
        }
        Some(_) => {
            return Err(jsonata_rs::Error::D3137Error(
                "$random takes at most one argument, an integer seed".to_owned(),
            ));
        }
    };
    Ok(JValue::number(ctx.arena, n))
}

/// A number in [0, 1) from a seed (SplitMix64): the same seed, the same number.
fn rand_unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// `expr` with every call of `$random(` outside string literals renamed to
/// the Step Functions version, which takes a seed.
fn seeded_random(expr: &str) -> std::borrow::Cow<'_, str> {
    if !expr.contains("$random") {
        return std::borrow::Cow::Borrowed(expr);
    }
    let mut out = String::with_capacity(expr.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && expr[i..].starts_with("$random") => {
                let after = expr[i + 7..].trim_start();
                let word_ends =
                    !expr[i + 7..].starts_with(|n: char| n.is_alphanumeric() || n == '_');
                if word_ends && after.starts_with('(') {
                    out.push('$');
                    out.push_str(RANDOM);
                    for _ in 0..6 {
                        chars.next();
                    }
                } else {
                    out.push(c);
                }
            }
            None => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

const FUNCTIONS: &[(&str, usize, Native)] = &[
    (RANDOM, 1, fn_random),
    ("partition", 2, fn_partition),
    ("range", 3, fn_range),
    ("hash", 2, fn_hash),
    ("uuid", 0, fn_uuid),
    ("parse", 1, fn_parse),
];

/// Evaluates `expr` with `$states` bound to `states`; `None` for JSONata's
/// "undefined" (no value).
pub fn evaluate(expr: &str, states: &Value) -> Result<Option<Value>, StatesError> {
    let fail =
        |m: String| StatesError::new(QUERY_EVALUATION_ERROR, format!("{m} (in {{% {expr} %}})"));
    nesting_ok(expr).map_err(fail)?;
    let arena = Bump::new();
    let text = seeded_random(expr);
    let j = JsonAta::new(&text, &arena).map_err(|e| fail(e.to_string()))?;
    for (name, arity, f) in FUNCTIONS {
        j.register_function(name, *arity, *f);
    }
    // `$states`, its context without the workflow variables, which are
    // bound by their own names.
    let bound = match states.as_object() {
        Some(o) => {
            let out = JValue::object_with_capacity(&arena, o.len());
            for (k, v) in o {
                match (k.as_str(), v.as_object()) {
                    ("context", Some(c)) => {
                        let ctx = JValue::object_with_capacity(&arena, c.len());
                        for (ck, cv) in c {
                            if ck == super::variables::KEY {
                                for (name, value) in cv.as_object().into_iter().flatten() {
                                    j.assign_var(name, from_json(&arena, value));
                                }
                            } else {
                                ctx.insert(ck, from_json(&arena, cv));
                            }
                        }
                        out.insert(k, ctx);
                    }
                    _ => out.insert(k, from_json(&arena, v)),
                }
            }
            out
        }
        None => from_json(&arena, states),
    };
    j.assign_var("states", bound);
    // Bounded: a definition's expression may recurse or loop forever.
    let result = j
        .evaluate_timeboxed(None, Some(MAX_DEPTH), Some(TIME_LIMIT_MS))
        .map_err(|e| fail(e.to_string()))?;
    Ok(to_json(result))
}

/// Fills a template: every `{% %}` string becomes its value (a field whose
/// expression has no value is left out); everything else stays.
pub fn template(v: &Value, states: &Value) -> Result<Value, StatesError> {
    Ok(fill(v, states)?.unwrap_or(Value::Null))
}

fn fill(v: &Value, states: &Value) -> Result<Option<Value>, StatesError> {
    Ok(match v {
        Value::String(s) => match expression(s) {
            Some(e) => evaluate(e, states)?,
            None => Some(v.clone()),
        },
        Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len());
            for x in a {
                if let Some(x) = fill(x, states)? {
                    out.push(x);
                }
            }
            Some(Value::Array(out))
        }
        Value::Object(o) => {
            let mut out = Map::with_capacity(o.len());
            for (k, x) in o {
                if let Some(x) = fill(x, states)? {
                    out.insert(k.clone(), x);
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_see_states_and_step_functions_functions() {
        let states = json!({"input": {"order": {"items": [{"price": 5, "qty": 2}, {"price": 1, "qty": 10}]}, "name": "Ada"}, "context": {"Execution": {"Name": "run-1"}}});
        assert_eq!(
            evaluate("$sum($states.input.order.items.(price * qty))", &states).unwrap(),
            Some(json!(20))
        );
        assert_eq!(
            template(&json!({"greeting": "{% 'Hello ' & $states.input.name %}", "run": "{% $states.context.Execution.Name %}", "fixed": 1, "gone": "{% $states.input.nothing %}"}), &states).unwrap(),
            json!({"greeting": "Hello Ada", "run": "run-1", "fixed": 1})
        );
        assert_eq!(
            evaluate("$partition([1,2,3,4,5], 2)", &states).unwrap(),
            Some(json!([[1, 2], [3, 4], [5]]))
        );
        assert_eq!(
            evaluate("$range(0, 10, 5)", &states).unwrap(),
            Some(json!([0, 5, 10]))
        );
        assert_eq!(
            evaluate("$hash('input data', 'SHA-1')", &states).unwrap(),
            Some(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(
            evaluate("$parse('{\"a\": [1]}').a[0]", &states).unwrap(),
            Some(json!(1))
        );
        assert_eq!(
            evaluate("$length($uuid())", &states).unwrap(),
            Some(json!(36))
        );
        let r = evaluate("$random()", &states)
            .unwrap()
            .unwrap()
            .as_f64()
            .unwrap();
        assert!((0.0..1.0).contains(&r));
    }

    #[test]
    fn failures_are_query_evaluation_errors() {
        let e = evaluate("$states.input.(", &json!({})).unwrap_err();
        assert_eq!(e.error, "States.QueryEvaluationError");
        let e = evaluate("$partition([1], 0)", &json!({})).unwrap_err();
        assert!(e.cause.contains("chunk size"), "{}", e.cause);
        assert!(check("1 +").is_err());
        assert!(check("$states.input.x").is_ok());
        assert_eq!(expression(" {% $x %} "), Some("$x"));
        // Hostile expressions end in an error, not a crash or a hang.
        let e = evaluate("($f := function($n){ $f($n + 1) }; $f(0))", &json!({})).unwrap_err();
        assert_eq!(e.error, "States.QueryEvaluationError");
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(
            evaluate(&deep, &json!({}))
                .unwrap_err()
                .cause
                .contains("nested deeper")
        );
        assert!(check(&deep).is_err());
        assert_eq!(expression("plain"), None);
    }
}
