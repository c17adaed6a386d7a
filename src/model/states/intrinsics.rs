//! The Amazon States Language's intrinsic functions (`States.Format`,
//! `States.Array`, `States.Hash`…), parsed from a `.$` field's text and
//! evaluated against the input and the context object. Every failure is a
//! `States.IntrinsicFailure` that says which function and why.

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use super::error::{StatesError, names};

/// An argument of an intrinsic call.
#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Literal(Value),
    Path(String),
    Call(Call),
}

/// A parsed intrinsic call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    name: String,
    args: Vec<Arg>,
}

fn fail(cause: impl Into<String>) -> StatesError {
    StatesError::new(names::INTRINSIC_FAILURE, cause)
}

/// Whether `text` looks like an intrinsic call (`States.X(…)`).
pub fn is_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

/// The functions there are.
pub const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn call(&mut self) -> Result<Call, String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.')
        {
            self.i += 1;
        }
        let name = self.text[start..self.i].to_owned();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(format!("'{name}' is not an intrinsic function"));
        }
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
            return Ok(Call { name, args });
        }
        loop {
            args.push(self.arg()?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    return Ok(Call { name, args });
                }
                _ => {
                    return Err(format!(
                        "expected ',' or ')' in {name} at character {}",
                        self.i
                    ));
                }
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let rest = &self.text[self.i..];
                    let mut chars = rest.chars();
                    match chars.next() {
                        None => return Err("a string is not closed with '".to_owned()),
                        Some('\'') => {
                            self.i += 1;
                            return Ok(Arg::Literal(Value::String(out)));
                        }
                        Some('\\') => {
                            let c = chars.next().ok_or("a string ends with \\")?;
                            // `\{` and `\}` stay escaped for States.Format.
                            if matches!(c, '{' | '}') {
                                out.push('\\');
                            }
                            out.push(c);
                            self.i += 1 + c.len_utf8();
                        }
                        Some(c) => {
                            out.push(c);
                            self.i += c.len_utf8();
                        }
                    }
                }
            }
            Some(b'$') => {
                let start = self.i;
                let mut depth = 0i32;
                let mut quote = false;
                while self.i < self.s.len() {
                    let c = self.s[self.i];
                    if quote {
                        quote = c != b'\'';
                    } else if c == b'\'' {
                        quote = true;
                    } else if c == b'[' || c == b'(' {
                        depth += 1;
                    } else if c == b']' || (c == b')' && depth > 0) {
                        depth -= 1;
                    } else if depth == 0 && (c == b',' || c == b')' || c.is_ascii_whitespace()) {
                        break;
                    }
                    self.i += 1;
                }
                Ok(Arg::Path(self.text[start..self.i].to_owned()))
            }
            Some(b'S') => Ok(Arg::Call(self.call()?)),
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b')') {
                    self.i += 1;
                }
                let lit = self.text[start..self.i].trim();
                match serde_json::from_str::<Value>(lit) {
                    Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                        Ok(Arg::Literal(v))
                    }
                    _ => Err(format!(
                        "`{lit}` is not a string, number, boolean, null, path or call"
                    )),
                }
            }
            None => Err("an argument is missing".to_owned()),
        }
    }
}

/// Parses an intrinsic call.
pub fn parse(text: &str) -> Result<Call, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    let call = p.call()?;
    p.ws();
    if p.i != text.len() {
        return Err(format!(
            "unexpected text after the call: `{}`",
            &text[p.i..]
        ));
    }
    Ok(call)
}

/// Evaluates `text` (an intrinsic call) against `input` and the context object.
pub fn evaluate(text: &str, input: &Value, context: &Value) -> Result<Value, StatesError> {
    let call = parse(text).map_err(|e| fail(format!("{text}: {e}")))?;
    eval(&call, input, context)
}

fn eval(call: &Call, input: &Value, context: &Value) -> Result<Value, StatesError> {
    let mut args = Vec::with_capacity(call.args.len());
    for a in &call.args {
        args.push(match a {
            Arg::Literal(v) => v.clone(),
            Arg::Path(p) => super::paths::select(input, context, p).ok_or_else(|| {
                fail(format!(
                    "{}: the path '{p}' names nothing in the input",
                    call.name
                ))
            })?,
            Arg::Call(c) => eval(c, input, context)?,
        });
    }
    let name = call.name.as_str();
    let count = |n: std::ops::RangeInclusive<usize>| {
        if n.contains(&args.len()) {
            Ok(())
        } else {
            Err(fail(format!(
                "{name} takes {} arguments, not {}",
                if n.start() == n.end() {
                    n.start().to_string()
                } else {
                    format!("{}–{}", n.start(), n.end())
                },
                args.len()
            )))
        }
    };
    let string = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| fail(format!("{name}: {what} must be a string, not {v}")))
    };
    let array = |v: &Value, what: &str| {
        v.as_array()
            .cloned()
            .ok_or_else(|| fail(format!("{name}: {what} must be an array, not {v}")))
    };
    let int = |v: &Value, what: &str| {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| fail(format!("{name}: {what} must be an integer, not {v}")))
    };
    Ok(match name {
        "States.Format" => {
            if args.is_empty() {
                return Err(fail("States.Format needs a template"));
            }
            let template = string(&args[0], "the template")?;
            let mut out = String::new();
            let mut values = args[1..].iter();
            let mut chars = template.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                    '{' if chars.peek() == Some(&'}') => {
                        chars.next();
                        let v = values
                            .next()
                            .ok_or_else(|| fail("States.Format: more {} than arguments"))?;
                        match v {
                            Value::String(s) => out.push_str(s),
                            Value::Array(_) | Value::Object(_) => {
                                return Err(fail(
                                    "States.Format: arguments must be strings, numbers, booleans or null",
                                ));
                            }
                            other => out.push_str(&other.to_string()),
                        }
                    }
                    c => out.push(c),
                }
            }
            if values.next().is_some() {
                return Err(fail("States.Format: more arguments than {}"));
            }
            Value::String(out)
        }
        "States.StringToJson" => {
            count(1..=1)?;
            let s = string(&args[0], "the argument")?;
            serde_json::from_str(&s)
                .map_err(|e| fail(format!("States.StringToJson: not JSON: {e}")))?
        }
        "States.JsonToString" => {
            count(1..=1)?;
            Value::String(args[0].to_string())
        }
        "States.Array" => Value::Array(args),
        "States.ArrayPartition" => {
            count(2..=2)?;
            let a = array(&args[0], "the first argument")?;
            let size = int(&args[1], "the chunk size")?;
            if size <= 0 {
                return Err(fail(
                    "States.ArrayPartition: the chunk size must be above 0",
                ));
            }
            Value::Array(
                a.chunks(size as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
        "States.ArrayContains" => {
            count(2..=2)?;
            let a = array(&args[0], "the first argument")?;
            Value::Bool(a.contains(&args[1]))
        }
        "States.ArrayRange" => {
            count(3..=3)?;
            let (start, end, step) = (
                int(&args[0], "start")?,
                int(&args[1], "end")?,
                int(&args[2], "step")?,
            );
            if step == 0 {
                return Err(fail("States.ArrayRange: the step cannot be 0"));
            }
            let mut out = Vec::new();
            let mut v = start;
            while (step > 0 && v <= end) || (step < 0 && v >= end) {
                if out.len() >= 1000 {
                    return Err(fail("States.ArrayRange: at most 1000 items"));
                }
                out.push(json!(v));
                v += step;
            }
            Value::Array(out)
        }
        "States.ArrayGetItem" => {
            count(2..=2)?;
            let a = array(&args[0], "the first argument")?;
            let i = int(&args[1], "the index")?;
            usize::try_from(i)
                .ok()
                .and_then(|i| a.get(i).cloned())
                .ok_or_else(|| fail(format!("States.ArrayGetItem: index {i} is out of bounds")))?
        }
        "States.ArrayLength" => {
            count(1..=1)?;
            json!(array(&args[0], "the argument")?.len())
        }
        "States.ArrayUnique" => {
            count(1..=1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in array(&args[0], "the argument")? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        "States.Base64Encode" => {
            count(1..=1)?;
            let s = string(&args[0], "the argument")?;
            if s.len() > 10_000 {
                return Err(fail("States.Base64Encode: at most 10000 characters"));
            }
            Value::String(base64::engine::general_purpose::STANDARD.encode(s))
        }
        "States.Base64Decode" => {
            count(1..=1)?;
            let s = string(&args[0], "the argument")?;
            if s.len() > 10_000 {
                return Err(fail("States.Base64Decode: at most 10000 characters"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| fail(format!("States.Base64Decode: {e}")))?;
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| fail("States.Base64Decode: not UTF-8 text"))?,
            )
        }
        "States.Hash" => {
            count(2..=2)?;
            let data = match &args[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if data.len() > 10_000 {
                return Err(fail("States.Hash: at most 10000 characters"));
            }
            let algorithm = string(&args[1], "the algorithm")?;
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            Value::String(match algorithm.as_str() {
                "MD5" => hex(&md5::Md5::digest(data.as_bytes())),
                "SHA-1" => hex(&sha1::Sha1::digest(data.as_bytes())),
                "SHA-256" => hex(&sha2::Sha256::digest(data.as_bytes())),
                "SHA-384" => hex(&sha2::Sha384::digest(data.as_bytes())),
                "SHA-512" => hex(&sha2::Sha512::digest(data.as_bytes())),
                other => {
                    return Err(fail(format!(
                        "States.Hash: '{other}' is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"
                    )));
                }
            })
        }
        "States.JsonMerge" => {
            count(3..=3)?;
            if args[2] != Value::Bool(false) {
                return Err(fail(
                    "States.JsonMerge: only a shallow merge (false) is supported, as in AWS",
                ));
            }
            let (Value::Object(mut a), Value::Object(b)) = (args[0].clone(), args[1].clone())
            else {
                return Err(fail("States.JsonMerge: both arguments must be objects"));
            };
            a.extend(b);
            Value::Object(a)
        }
        "States.MathRandom" => {
            count(2..=3)?;
            let (start, end) = (int(&args[0], "start")?, int(&args[1], "end")?);
            if end <= start {
                return Err(fail("States.MathRandom: end must be above start"));
            }
            let span = (end - start) as u64;
            let r = match args.get(2) {
                Some(seed) => {
                    let seed = int(seed, "the seed")? as u64;
                    // splitmix64: the same seed gives the same number.
                    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^ (z >> 31)
                }
                None => uuid::Uuid::new_v4().as_u64_pair().0,
            };
            json!(start + (r % span) as i64)
        }
        "States.MathAdd" => {
            count(2..=2)?;
            let (a, b) = (
                int(&args[0], "the first number")?,
                int(&args[1], "the second number")?,
            );
            json!(
                a.checked_add(b)
                    .ok_or_else(|| fail("States.MathAdd: overflow"))?
            )
        }
        "States.StringSplit" => {
            count(2..=2)?;
            let s = string(&args[0], "the string")?;
            let d = string(&args[1], "the delimiters")?;
            Value::Array(
                s.split(|c| d.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            )
        }
        "States.UUID" => {
            count(0..=0)?;
            Value::String(uuid::Uuid::new_v4().to_string())
        }
        other => return Err(fail(format!("'{other}' is not an intrinsic function"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str, input: Value) -> Result<Value, StatesError> {
        evaluate(text, &input, &json!({}))
    }

    #[test]
    fn aws_documented_examples() {
        assert_eq!(
            ev(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            ev(
                "States.StringToJson($.someString)",
                json!({"someString": "{\"number\": 20}"})
            )
            .unwrap(),
            json!({"number": 20})
        );
        assert_eq!(
            ev("States.JsonToString($.foo)", json!({"foo": {"a": 1}})).unwrap(),
            json!("{\"a\":1}")
        );
        assert_eq!(
            ev(
                "States.Array('Foo', 2020, $.someJson, null)",
                json!({"someJson": {"random": "abcdefg"}})
            )
            .unwrap(),
            json!(["Foo", 2020, {"random": "abcdefg"}, null])
        );
        assert_eq!(
            ev(
                "States.ArrayPartition($.inputArray, 4)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            ev(
                "States.ArrayContains($.inputArray, $.lookingFor)",
                json!({"inputArray": [1, 2, 3], "lookingFor": 5})
            )
            .unwrap(),
            json!(false)
        );
        assert_eq!(
            ev("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            ev(
                "States.ArrayGetItem($.inputArray, $.index)",
                json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5})
            )
            .unwrap(),
            json!(6)
        );
        assert_eq!(
            ev("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            ev(
                "States.ArrayUnique($.a)",
                json!({"a": [1, 2, 3, 3, 3, 3, 3, 3, 4]})
            )
            .unwrap(),
            json!([1, 2, 3, 4])
        );
        assert_eq!(
            ev(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            )
            .unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            ev(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="})
            )
            .unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            ev(
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"})
            )
            .unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            ev("States.JsonMerge($.json1, $.json2, false)", json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}})).unwrap(),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        assert_eq!(
            ev(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
        assert_eq!(
            ev(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        let r = ev("States.MathRandom(1, 999)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..999).contains(&r));
        assert_eq!(
            ev("States.MathRandom(1, 999, 7)", json!({})),
            ev("States.MathRandom(1, 999, 7)", json!({}))
        );
        assert_eq!(
            ev("States.UUID()", json!({}))
                .unwrap()
                .as_str()
                .unwrap()
                .len(),
            36
        );
        // Nested calls and escapes.
        assert_eq!(
            ev(
                "States.Format('{} items \\{literal\\}', States.ArrayLength($.a))",
                json!({"a": [1, 2]})
            )
            .unwrap(),
            json!("2 items {literal}")
        );
    }

    #[test]
    fn failures_are_intrinsic_failures_that_say_why() {
        for (text, says) in [
            ("States.Nope(1)", "not an intrinsic function"),
            ("States.ArrayLength($.missing)", "names nothing"),
            ("States.ArrayLength($.s)", "must be an array"),
            ("States.Format('{} {}', 1)", "more {} than arguments"),
            ("States.ArrayRange(1, 5000, 1)", "at most 1000"),
            ("States.Hash('x', 'CRC')", "is not one of"),
            ("States.ArrayGetItem($.a, 9)", "out of bounds"),
            ("States.Array(1", "expected ',' or ')'"),
            ("States.MathAdd(1)", "takes 2 arguments"),
        ] {
            let e = ev(text, json!({"s": "x", "a": [1]})).unwrap_err();
            assert_eq!(e.error, "States.IntrinsicFailure", "{text}");
            assert!(e.cause.contains(says), "{text}: {}", e.cause);
        }
    }
}
