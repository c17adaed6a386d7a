//! `http-request`: a handler module that makes the HTTP request its event
//! describes, `{"url", "method", "headers": {…}, "body": "…"}`, and answers
//! `{"status", "headers", "body"}`, or a handled error naming the denial or
//! the failure. Only the destinations the role's outbound grants name are
//! reachable. Options: `"maxBodyBytes"` (default 1 MiB; a larger body is a
//! `ResponseTooLarge` error), `"discardBody": true` (read the body to its
//! end and answer its length as `bodyBytes` instead), `"repeat": N` (send it
//! N times, answer the last: for the benchmark).

use lambdesk_guest::http::Request;
use lambdesk_guest::{Error, Value, json, run};

lambdesk_guest::initialize!({});

/// The handler (`"handler": "handler"`).
#[unsafe(no_mangle)]
pub extern "C" fn handler() {
    run(|event, _ctx| {
        let url = event
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new("InvalidEvent", "the event names no \"url\""))?;
        let method = event.get("method").and_then(Value::as_str).unwrap_or("GET");
        let mut request = Request::new(method, url);
        if let Some(headers) = event.get("headers").and_then(Value::as_object) {
            for (k, v) in headers {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                request = request.header(k.as_str(), v);
            }
        }
        if let Some(body) = event.get("body").and_then(Value::as_str) {
            request = request.body(body.as_bytes());
        }
        let max = event
            .get("maxBodyBytes")
            .and_then(Value::as_u64)
            .unwrap_or(1 << 20) as usize;
        let discard = event.get("discardBody").and_then(Value::as_bool) == Some(true);
        let repeat = event.get("repeat").and_then(Value::as_u64).unwrap_or(1).clamp(1, 100_000);
        for _ in 1..repeat {
            request.send()?.discard()?;
        }
        let mut response = request.send()?;
        let headers: serde_json::Map<String, Value> = response
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut out = json!({ "status": response.status, "headers": headers });
        if discard {
            out["bodyBytes"] = json!(response.discard()?);
        } else {
            out["body"] = json!(response.text(max)?);
        }
        Ok(out)
    });
}
