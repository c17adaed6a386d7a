//! `sum`: a command module (a plain WASI program) that returns
//! `event.value1 + event.value2`, or a handled error when either is missing.

use lambdesk_guest::{Error, Value, json, run};

fn main() {
    run(|event, _ctx| {
        let get = |k: &str| {
            event
                .get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| Error::new("InvalidInput", format!("`{k}` must be a number")))
        };
        let sum = get("value1")? + get("value2")?;
        if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
            Ok(json!(sum as i64))
        } else {
            Ok(json!(sum))
        }
    });
}
