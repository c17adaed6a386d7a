//! `lambdesk serve`: the Lambda Invoke API (`2015-03-31`) on loopback, so the
//! AWS CLI and SDKs can invoke local functions with an endpoint URL.
//!
//! Served: `Invoke` (`RequestResponse` and `DryRun`, `X-Amz-Log-Type: Tail`,
//! any `Qualifier`: `$LATEST`, a version, an alias), `ListFunctions` and
//! `GetFunction`, with AWS's error shapes; versions and aliases in
//! [`super::versions`]. `Event` invocations go to the durable asynchronous queue
//! ([`crate::host::async_queue`]) and are answered 202.

use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::json;

use crate::api::aws::{aws_error, configuration, json_reply, name_and_qualifier, version_error};
use crate::api::http::{Face, HttpRequest, HttpResponse, Refusal};
use crate::host::Services;
use crate::host::async_queue::AsyncQueue;
use crate::host::versions::Versions;
use crate::runtime::{
    InvokeError, InvokeOptions, LogLine, LogSink, MAX_REQUEST_BYTES, Outcome, Runtime, function_arn,
};

/// `POST /lambdesk/streams/NAME[?partitionKey=K]` puts the body as a record
/// (for a DynamoDB stream, the change as JSON); `GET` counts waiting records.
fn stream_request(
    extras: &Services,
    name: &str,
    params: &[(String, String)],
    request: &HttpRequest,
) -> HttpResponse {
    let Some(s) = extras.endpoints.as_ref().and_then(|e| e.stream(name)) else {
        return aws_error(
            404,
            "ResourceNotFoundException",
            &format!("no stream `{name}`"),
        );
    };
    match request.method.as_str() {
        "POST" => {
            let body = request.body.clone();
            let key = params
                .iter()
                .find(|(k, _)| k == "partitionKey")
                .map(|(_, v)| v.as_str());
            match s.put(key, body) {
                Ok((shard, seq)) => {
                    json_reply(200, &json!({ "ShardId": shard, "SequenceNumber": seq }))
                }
                Err(e) => aws_error(400, "ValidationException", &e),
            }
        }
        "GET" => json_reply(
            200,
            &json!({ "Records": s.len(), "Shards": s.shard_count() }),
        ),
        _ => aws_error(
            405,
            "UnsupportedOperation",
            "use POST to put or GET to count",
        ),
    }
}

/// `POST /lambdesk/queues/NAME` sends the body as a message;
/// `GET` says how many wait.
fn queue_request(extras: &Services, name: &str, request: &HttpRequest) -> HttpResponse {
    let Some(q) = extras.endpoints.as_ref().and_then(|e| e.queue(name)) else {
        return aws_error(404, "QueueDoesNotExist", &format!("no queue `{name}`"));
    };
    match request.method.as_str() {
        "POST" => {
            let Ok(body) = String::from_utf8(request.body.clone()) else {
                return aws_error(
                    400,
                    "InvalidMessageContents",
                    "the message must be UTF-8 text of at most 256 KB",
                );
            };
            match q.send(body) {
                Ok(id) => json_reply(200, &json!({ "MessageId": id })),
                Err(e) => aws_error(500, "InternalError", &e),
            }
        }
        "GET" => json_reply(200, &json!({ "ApproximateNumberOfMessages": q.len() })),
        _ => aws_error(
            405,
            "UnsupportedOperation",
            "use POST to send or GET to count",
        ),
    }
}

/// Lambda's API version prefix.
const PREFIX: &str = "/2015-03-31/functions";
/// The part of the log returned with `X-Amz-Log-Type: Tail`.
const TAIL_BYTES: usize = 4 * 1024;

/// The Lambda API as a [`Face`] of the HTTP server.
pub struct LambdaApi {
    runtime: Runtime,
    services: Services,
}

impl LambdaApi {
    /// The API over `runtime`'s functions and the host's `services`.
    pub fn new(runtime: Runtime, services: Services) -> Self {
        Self { runtime, services }
    }
}

/// A record put on a local stream: at most 1 MB, as Kinesis.
const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// A message sent to a local queue: at most 256 KB, as SQS.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Room for the JSON framing around the largest payload.
const HEADROOM_BYTES: usize = 64 * 1024;

impl Face for LambdaApi {
    fn body_limit(&self, method: &str, path: &str) -> usize {
        if super::functions::takes_code(method, path) {
            super::functions::MAX_REQUEST_BYTES
        } else if path.starts_with("/lambdesk/streams/") {
            MAX_RECORD_BYTES
        } else if path.starts_with("/lambdesk/queues/") {
            MAX_MESSAGE_BYTES
        } else {
            // Event invocations are checked against 1 MB after reading: the
            // invocation type is a header, and 6 MB bounds both.
            MAX_REQUEST_BYTES + HEADROOM_BYTES
        }
    }

    fn handle(&self, request: HttpRequest) -> HttpResponse {
        handle(&self.runtime, &self.services, &request)
    }

    fn refuse(&self, refusal: Refusal) -> HttpResponse {
        match refusal {
            Refusal::TooLarge { limit, size } if limit == MAX_RECORD_BYTES => aws_error(
                413,
                "ValidationException",
                &format!("a record is at most {MAX_RECORD_BYTES} bytes (this one is {size})"),
            ),
            Refusal::TooLarge { limit, size } if limit == MAX_MESSAGE_BYTES => aws_error(
                413,
                "InvalidMessageContents",
                &format!("a message is at most {MAX_MESSAGE_BYTES} bytes (this one is {size})"),
            ),
            Refusal::TooLarge { size, .. } => invoke_error(&InvokeError::RequestTooLarge {
                size: usize::try_from(size).unwrap_or(usize::MAX),
            }),
            Refusal::SlowBody => aws_error(
                408,
                "RequestTimeoutException",
                "the request body did not arrive in time",
            ),
            Refusal::BadBody => aws_error(
                400,
                "InvalidRequestContentException",
                "the request body could not be read",
            ),
        }
    }
}

fn invoke_error(e: &InvokeError) -> HttpResponse {
    let status = match e {
        InvokeError::ResourceNotFound { .. } => 404,
        InvokeError::TooManyRequests { .. } => 429,
        InvokeError::RequestTooLarge { .. } => 413,
        InvokeError::InvalidRequestContent(_) => 400,
    };
    let text = e.to_string();
    let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m);
    let r = aws_error(status, e.error_type(), message);
    match e {
        InvokeError::TooManyRequests { reason } => r.with_header("Reason", reason),
        _ => r,
    }
}

/// The query's `key=value` pairs, `%XX` decoded.
fn split_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(runtime: &Runtime, extras: &Services, request: &HttpRequest) -> HttpResponse {
    let (log, queue) = (extras.log.as_ref(), extras.async_queue.as_deref());
    let path = percent_decode(&request.path);
    let params = split_query(&request.query);
    if let Some(name) = path.strip_prefix("/lambdesk/streams/") {
        return stream_request(extras, name, &params, request);
    }
    if let Some(name) = path.strip_prefix("/lambdesk/queues/") {
        return queue_request(extras, name, request);
    }
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let versions = extras.versions.as_deref();
    let has_qualifier = params
        .iter()
        .any(|(k, v)| k == "Qualifier" && !v.is_empty());
    if let (Some(f), Some(v), true) = (
        extras.functions.as_deref(),
        versions,
        path.starts_with(PREFIX),
    ) && let Some(r) = super::functions::route(runtime, f, v, request, &segments, has_qualifier)
    {
        return r;
    }
    if let Some(v) = versions
        && let Some(r) = super::versions::route(runtime, v, request, &segments, &params)
    {
        return r;
    }
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", []) if path.starts_with(PREFIX) => list_functions(runtime, versions),
        ("GET", [name]) => get_function(runtime, versions, name, &params),
        ("POST", [name, "invocations"]) => {
            invoke(runtime, versions, log, queue, request, name, &params)
        }
        _ => aws_error(404, "UnknownOperationException", "Unknown operation"),
    }
}

fn list_functions(runtime: &Runtime, versions: Option<&Versions>) -> HttpResponse {
    let functions: Vec<serde_json::Value> = runtime
        .function_names()
        .iter()
        .filter_map(|n| configuration(runtime, versions, n))
        .collect();
    json_reply(200, &json!({ "Functions": functions }))
}

/// `GetFunction`, of `$LATEST` or, with a qualifier, a version or an alias's version.
fn get_function(
    runtime: &Runtime,
    versions: Option<&Versions>,
    raw: &str,
    params: &[(String, String)],
) -> HttpResponse {
    let (name, qualifier) = match name_and_qualifier(raw, params) {
        Ok(nq) => nq,
        Err(r) => return r,
    };
    if qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        let Some(v) = versions else {
            return aws_error(
                404,
                "ResourceNotFoundException",
                &format!(
                    "Function not found: {}:{}",
                    function_arn(&name),
                    qualifier.unwrap_or_default()
                ),
            );
        };
        return match super::versions::qualified_configuration(v, &name, qualifier.as_deref()) {
            Ok(config) => json_reply(
                200,
                &json!({
                    "Configuration": config,
                    "Code": { "RepositoryType": "Local", "Location": "" },
                }),
            ),
            Err(e) => version_error(&e),
        };
    }
    match configuration(runtime, versions, &name) {
        Some(config) => {
            let concurrency = runtime
                .config(&name)
                .and_then(|c| c.reserved_concurrency)
                .map(|n| json!({ "ReservedConcurrentExecutions": n }));
            let mut body = json!({
                "Configuration": config,
                "Code": { "RepositoryType": "Local", "Location": "" },
            });
            if let Some(c) = concurrency {
                body["Concurrency"] = c;
            }
            json_reply(200, &body)
        }
        None => aws_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {}", function_arn(&name)),
        ),
    }
}

fn invoke(
    runtime: &Runtime,
    versions: Option<&Versions>,
    log: Option<&LogSink>,
    queue: Option<&AsyncQueue>,
    request: &HttpRequest,
    raw_name: &str,
    params: &[(String, String)],
) -> HttpResponse {
    let (name, qualifier) = match name_and_qualifier(raw_name, params) {
        Ok(nq) => nq,
        Err(r) => return r,
    };
    if !runtime.has_function(&name) {
        return invoke_error(&InvokeError::ResourceNotFound {
            arn: function_arn(&name),
        });
    }
    // The version that runs: $LATEST, a version, or an alias's (by weight).
    let resolved = match (versions, qualifier.as_deref()) {
        (Some(v), q) => match v.resolve(&name, q) {
            Ok(r) => r,
            Err(e) => return version_error(&e),
        },
        (None, None | Some("$LATEST")) => crate::host::versions::Resolved {
            key: name.clone(),
            executed_version: "$LATEST".into(),
            invoked_arn: function_arn(&name),
        },
        (None, Some(q)) => {
            return aws_error(
                404,
                "ResourceNotFoundException",
                &format!("Function not found: {}:{q}", function_arn(&name)),
            );
        }
    };
    let executed = resolved.executed_version.as_str();
    let invocation_type = request
        .header("X-Amz-Invocation-Type")
        .unwrap_or("RequestResponse")
        .to_owned();
    let tail = request
        .header("X-Amz-Log-Type")
        .is_some_and(|v| v.eq_ignore_ascii_case("Tail"));
    let mut body = request.body.clone();
    if body.len() > MAX_REQUEST_BYTES {
        return invoke_error(&InvokeError::RequestTooLarge { size: body.len() });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        body = b"{}".to_vec();
    }
    match invocation_type.as_str() {
        "RequestResponse" => {}
        "DryRun" => {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                return invoke_error(&InvokeError::InvalidRequestContent(e.to_string()));
            }
            return HttpResponse {
                status: 204,
                ..HttpResponse::default()
            }
            .with_header("X-Amz-Executed-Version", executed);
        }
        "Event" => {
            let Some(queue) = queue else {
                return aws_error(
                    400,
                    "InvalidParameterValueException",
                    "this server has no asynchronous queue",
                );
            };
            // The queue runs what the qualifier resolved to now.
            return match queue.accept(&resolved.key, &body) {
                Ok(id) => HttpResponse {
                    status: 202,
                    ..HttpResponse::default()
                }
                .with_header("x-amzn-RequestId", &id)
                .with_header("X-Amz-Executed-Version", executed),
                Err(e) => invoke_error(&e),
            };
        }
        other => {
            return aws_error(
                400,
                "InvalidParameterValueException",
                &format!(
                    "Invalid X-Amz-Invocation-Type `{other}`: expected RequestResponse, Event or DryRun"
                ),
            );
        }
    }
    // Keep the last 4 KB of this invocation's log for `Tail`, and pass every line on.
    let captured: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
    let sink: LogSink = {
        let captured = captured.clone();
        let log = log.cloned();
        Arc::new(move |line: LogLine| {
            if let Ok(mut buf) = captured.lock() {
                buf.extend_from_slice(line.text.as_bytes());
                buf.push(b'\n');
                if buf.len() > 2 * TAIL_BYTES {
                    let cut = buf.len() - TAIL_BYTES;
                    buf.drain(..cut);
                }
            }
            if let Some(log) = &log {
                log(line);
            }
        })
    };
    let options = InvokeOptions {
        log_sink: Some(sink),
        invoked_arn: Some(Arc::from(resolved.invoked_arn.as_str())),
        ..InvokeOptions::default()
    };
    match runtime.invoke_with(&resolved.key, &body, &options) {
        Err(e) => invoke_error(&e),
        Ok(inv) => {
            let mut r = HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: inv.payload().into_owned(),
            }
            .with_header("Content-Type", "application/json")
            .with_header("X-Amz-Executed-Version", executed)
            .with_header("x-amzn-RequestId", &inv.request_id);
            if let Outcome::Error(e) = &inv.outcome {
                r = r.with_header("X-Amz-Function-Error", e.kind.label());
            }
            if tail {
                let log = captured.lock().map(|b| b.clone()).unwrap_or_default();
                let start = log.len().saturating_sub(TAIL_BYTES);
                r = r.with_header(
                    "X-Amz-Log-Result",
                    &base64::engine::general_purpose::STANDARD.encode(&log[start..]),
                );
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::aws::parse_name;

    #[test]
    fn names_and_urls() {
        assert_eq!(parse_name("hello"), ("hello".into(), None));
        assert_eq!(
            parse_name("hello:$LATEST"),
            ("hello".into(), Some("$LATEST".into()))
        );
        assert_eq!(
            parse_name("arn:aws:lambda:us-east-1:123456789012:function:hello"),
            ("hello".into(), None)
        );
        assert_eq!(
            parse_name("123456789012:function:hello"),
            ("hello".into(), None)
        );
        let params = split_query("Qualifier=%24LATEST");
        assert_eq!(params, [("Qualifier".to_owned(), "$LATEST".to_owned())]);
    }
}
