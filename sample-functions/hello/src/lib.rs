//! `hello`: a handler module that greets `event.name` and echoes the event back.
//! Exports `handler`; its instance stays warm between invocations.

use lambdesk_guest::{Value, json, run};

lambdesk_guest::initialize!({});

/// The handler (`"handler": "handler"`).
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    run(|event, _ctx| {
        let name = event.get("name").and_then(Value::as_str).unwrap_or("world");
        Ok(json!({ "message": format!("Hello, {name}!"), "event": event }))
    });
}
