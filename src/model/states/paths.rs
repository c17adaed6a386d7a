//! Paths in the Amazon States Language: reference paths (`$.a.b[0]`,
//! `$['x y']`), read and written by [`get`] and [`set`], and full JSONPath
//! (`$..x`, `$.items[*].id`, `$.items[?(@.price > 10)]`) read by [`select`]
//! through `serde_json_path` (RFC 9535). A path naming one place gives that
//! value; a path with wildcards, filters, unions or slices gives the array
//! of its matches, as Step Functions does.

use serde_json::{Map, Value};

use super::error::StatesError;

/// One step of a reference path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]`.
    Index(usize),
}

/// Parses a reference path (`$` followed by `.name`, `['name']` or `[n]`);
/// `None` for anything else (wildcards, filters, `..`).
pub fn reference(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && b[end] != b'.' && b[end] != b'[' {
                    end += 1;
                }
                let name = &rest[start..end];
                if name.is_empty() || name.contains(['*', '@', '?', '(', ')', ',', ' ']) {
                    return None;
                }
                out.push(Segment::Field(name.to_owned()));
                i = end;
            }
            b'[' => {
                let close = rest[i..].find(']')? + i;
                let inner = &rest[i + 1..close];
                if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    if q.contains(['\'', '"']) {
                        return None;
                    }
                    out.push(Segment::Field(q.to_owned()));
                } else {
                    out.push(Segment::Index(inner.parse().ok()?));
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Whether `path` is a valid reference path.
pub fn is_reference(path: &str) -> bool {
    reference(path).is_some()
}

/// Whether `path` is a valid JSONPath (a reference path or more).
pub fn is_path(path: &str) -> bool {
    // `$$…` reads the context object with the same syntax.
    let path = path
        .strip_prefix('$')
        .filter(|p| p.starts_with('$'))
        .unwrap_or(path);
    // `$name…` reads a workflow variable, with the same syntax after it.
    if let Some((_, rest)) = super::variables::split(path) {
        return is_reference(&rest) || serde_json_path::JsonPath::parse(&rest).is_ok();
    }
    path.starts_with('$') && (is_reference(path) || serde_json_path::JsonPath::parse(path).is_ok())
}

/// The value at a reference path, if there is one.
pub fn get<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, s| match s {
        Segment::Field(f) => v.as_object()?.get(f),
        Segment::Index(i) => v.as_array()?.get(*i),
    })
}

/// Reads `path` from `value` (the state input), the context object (a `$$`
/// path) or a workflow variable (`$name…`); `None` when it names nothing.
pub fn select(value: &Value, context: &Value, path: &str) -> Option<Value> {
    let visible;
    let (root, path) = match path.strip_prefix("$$") {
        Some(rest) => {
            let path = format!("${rest}");
            match reference(&path) {
                Some(segments) if !segments.is_empty() => {
                    return get(context, &segments).cloned();
                }
                _ => {
                    // The variables kept in the context are not part of it.
                    visible = super::variables::visible(context);
                    (&visible, path)
                }
            }
        }
        None => match super::variables::split(path) {
            Some((name, rest)) => (super::variables::get(context, name)?, rest),
            None => (value, path.to_owned()),
        },
    };
    if let Some(segments) = reference(&path) {
        return get(root, &segments).cloned();
    }
    let parsed = serde_json_path::JsonPath::parse(&path).ok()?;
    let nodes = parsed.query(root).all();
    Some(Value::Array(nodes.into_iter().cloned().collect()))
}

/// Reads a path for a state field (`InputPath`, `OutputPath`, `ItemsPath`…):
/// a path naming nothing is a `States.Runtime` error, worded as AWS words it.
pub fn select_field(
    value: &Value,
    context: &Value,
    path: &str,
    field: &str,
) -> Result<Value, StatesError> {
    select(value, context, path).ok_or_else(|| {
        StatesError::runtime(format!(
            "Invalid path '{path}' : No results for path: {} (the field '{field}')",
            bracketed(path)
        ))
    })
}

/// `$.a.b` as `$['a']['b']`, as AWS quotes paths in errors.
pub fn bracketed(path: &str) -> String {
    match reference(path) {
        Some(segments) => {
            let mut out = String::from("$");
            for s in segments {
                match s {
                    Segment::Field(f) => out.push_str(&format!("['{f}']")),
                    Segment::Index(i) => out.push_str(&format!("[{i}]")),
                }
            }
            out
        }
        None => path.to_owned(),
    }
}

/// Writes `result` into `input` at the reference path `path` (`ResultPath`):
/// missing objects on the way are made; a value on the way that is not an
/// object (or an index past an array's end) is `States.ResultPathMatchFailure`.
pub fn set(input: Value, path: &str, result: Value) -> Result<Value, StatesError> {
    let fail = |why: &str| {
        StatesError::new(
            super::error::names::RESULT_PATH_MATCH_FAILURE,
            format!("Unable to apply ResultPath \"{path}\" to input: {why}"),
        )
    };
    let segments = reference(path).ok_or_else(|| fail("not a reference path"))?;
    if segments.is_empty() {
        return Ok(result);
    }
    let mut root = input;
    {
        let mut at = &mut root;
        for (n, seg) in segments.iter().enumerate() {
            let last = n + 1 == segments.len();
            match seg {
                Segment::Field(f) => {
                    let obj = at.as_object_mut().ok_or_else(|| {
                        fail(&format!("the value at '{f}' is not inside an object"))
                    })?;
                    if last {
                        obj.insert(f.clone(), result);
                        break;
                    }
                    at = obj
                        .entry(f.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(i) => {
                    let arr = at
                        .as_array_mut()
                        .ok_or_else(|| fail(&format!("[{i}] is not inside an array")))?;
                    let slot = arr
                        .get_mut(*i)
                        .ok_or_else(|| fail(&format!("index {i} is past the array's end")))?;
                    if last {
                        *slot = result;
                        break;
                    }
                    at = slot;
                }
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_paths_parse_and_read() {
        assert_eq!(
            reference("$.a['b c'][2].d"),
            Some(vec![
                Segment::Field("a".into()),
                Segment::Field("b c".into()),
                Segment::Index(2),
                Segment::Field("d".into())
            ])
        );
        assert_eq!(reference("$"), Some(vec![]));
        for bad in ["$.a[*]", "$..a", "a.b", "$.a[?(@.x)]", "$.", "$[x]"] {
            assert!(reference(bad).is_none(), "{bad}");
        }
        let v = json!({"a": {"b c": [0, 1, {"d": 7}]}});
        assert_eq!(select(&v, &json!({}), "$.a['b c'][2].d"), Some(json!(7)));
        assert_eq!(select(&v, &json!({}), "$.missing"), None);
        assert_eq!(
            select(
                &json!({}),
                &json!({"Execution": {"Id": "x"}}),
                "$$.Execution.Id"
            ),
            Some(json!("x"))
        );
    }

    #[test]
    fn jsonpath_with_wildcards_and_filters_gives_arrays() {
        // AWS's documented example.
        let v = json!({"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}});
        assert_eq!(
            select(&v, &json!({}), "$.bar[*]"),
            Some(json!(["a", "b", "c"]))
        );
        let items = json!({"items": [{"p": 5, "id": 1}, {"p": 20, "id": 2}, {"p": 30, "id": 3}]});
        assert_eq!(
            select(&items, &json!({}), "$.items[?(@.p > 10)].id"),
            Some(json!([2, 3]))
        );
        assert_eq!(select(&items, &json!({}), "$..id"), Some(json!([1, 2, 3])));
        assert_eq!(
            select(&items, &json!({}), "$.items[0:2].id"),
            Some(json!([1, 2]))
        );
    }

    #[test]
    fn result_path_writes_and_fails_as_aws() {
        let input = json!({"master": {"detail": [1, 2, 3]}});
        assert_eq!(
            set(input.clone(), "$.master.detail", json!("x")).unwrap(),
            json!({"master": {"detail": "x"}})
        );
        assert_eq!(
            set(input.clone(), "$.a.b", json!(1)).unwrap(),
            json!({"master": {"detail": [1, 2, 3]}, "a": {"b": 1}})
        );
        assert_eq!(set(input.clone(), "$", json!(1)).unwrap(), json!(1));
        let e = set(json!({"a": 1}), "$.a.b", json!(1)).unwrap_err();
        assert_eq!(e.error, "States.ResultPathMatchFailure");
        let e = set(json!("text"), "$.a", json!(1)).unwrap_err();
        assert_eq!(e.error, "States.ResultPathMatchFailure");
    }
}
