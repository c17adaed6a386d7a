//! `lambdesk serve`: the Lambda Invoke API (`2015-03-31`) on loopback, so the
//! AWS CLI and SDKs can invoke local functions with an endpoint URL.
//!
//! Served: `Invoke` (`RequestResponse` and `DryRun`, `X-Amz-Log-Type: Tail`,
//! `Qualifier` `$LATEST`), `ListFunctions` and `GetFunction`, with AWS's error
//! shapes. `Event` invocations go to the durable asynchronous queue
//! ([`crate::async_queue`]) and are answered 202.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use base64::Engine;
use serde_json::json;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::async_queue::AsyncQueue;
use crate::model::{FunctionConfig, Workspace};
use crate::runtime::{
    InvokeError, InvokeOptions, LogLine, LogSink, MAX_REQUEST_BYTES, Outcome, Runtime, function_arn,
};
use crate::triggers::Endpoints;

/// A running HTTP server: its address, and worker threads that stop when it
/// is dropped.
pub struct Listener {
    server: Arc<Server>,
    addr: SocketAddr,
    workers: usize,
}

impl Listener {
    /// Where it listens (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for _ in 0..self.workers {
            self.server.unblock();
        }
    }
}

/// Binds an HTTP server on `addr` and serves it with `threads` named worker
/// threads calling `handler`.
pub(crate) fn listen(
    addr: SocketAddr,
    threads: usize,
    name: &str,
    handler: impl Fn(Request) + Send + Sync + 'static,
) -> anyhow::Result<Listener> {
    let server = Server::http(addr).map_err(|e| anyhow::anyhow!("listening on {addr}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("the server has no IP address")?;
    let server = Arc::new(server);
    let handler = Arc::new(handler);
    let workers = threads.max(1);
    for i in 0..workers {
        let (server, handler) = (server.clone(), handler.clone());
        std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || {
                while let Ok(request) = server.recv() {
                    handler(request);
                }
            })?;
    }
    Ok(Listener {
        server,
        addr,
        workers,
    })
}

/// What the API serves besides the runtime's functions.
#[derive(Clone, Default)]
pub struct ApiExtras {
    /// Receives every log line.
    pub log: Option<LogSink>,
    /// Takes `Event` invocations.
    pub async_queue: Option<Arc<AsyncQueue>>,
    /// Local queues and streams messages and records can be sent to
    /// (`POST /lambdesk/queues/NAME`, `POST /lambdesk/streams/NAME`).
    pub endpoints: Option<Arc<Endpoints>>,
}

/// `POST /lambdesk/streams/NAME[?partitionKey=K]` puts the body as a record
/// (for a DynamoDB stream, the change as JSON); `GET` counts waiting records.
fn stream_request(
    extras: &ApiExtras,
    name: &str,
    params: &[(String, String)],
    request: &mut Request,
) -> Reply {
    let Some(s) = extras.endpoints.as_ref().and_then(|e| e.stream(name)) else {
        return aws_error(
            404,
            "ResourceNotFoundException",
            &format!("no stream `{name}`"),
        );
    };
    match request.method() {
        Method::Post => {
            let mut body = Vec::new();
            if request
                .as_reader()
                .take(1024 * 1024 + 1)
                .read_to_end(&mut body)
                .is_err()
                || body.len() > 1024 * 1024
            {
                return aws_error(400, "ValidationException", "a record is at most 1 MB");
            }
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
        Method::Get => json_reply(
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
fn queue_request(extras: &ApiExtras, name: &str, request: &mut Request) -> Reply {
    let Some(q) = extras.endpoints.as_ref().and_then(|e| e.queue(name)) else {
        return aws_error(404, "QueueDoesNotExist", &format!("no queue `{name}`"));
    };
    match request.method() {
        Method::Post => {
            let mut body = String::new();
            if request
                .as_reader()
                .take(256 * 1024 + 1)
                .read_to_string(&mut body)
                .is_err()
                || body.len() > 256 * 1024
            {
                return aws_error(
                    400,
                    "InvalidMessageContents",
                    "the message must be UTF-8 text of at most 256 KB",
                );
            }
            match q.send(body) {
                Ok(id) => json_reply(200, &json!({ "MessageId": id })),
                Err(e) => aws_error(500, "InternalError", &e),
            }
        }
        Method::Get => json_reply(200, &json!({ "ApproximateNumberOfMessages": q.len() })),
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

/// Serves the Lambda API on `addr` (port 0 picks a free port) with
/// `threads` worker threads, until the listener is dropped.
pub fn lambda_api(
    runtime: Runtime,
    addr: SocketAddr,
    threads: usize,
    extras: ApiExtras,
) -> anyhow::Result<Listener> {
    listen(addr, threads, "lambdesk-api", move |request| {
        handle(&runtime, &extras, request);
    })
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn request_header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

type Reply = Response<std::io::Cursor<Vec<u8>>>;

fn json_reply(status: u16, body: &serde_json::Value) -> Reply {
    let mut r = Response::from_data(body.to_string().into_bytes()).with_status_code(status);
    if let Some(h) = header("Content-Type", "application/json") {
        r.add_header(h);
    }
    r
}

/// An AWS error: status, `x-amzn-ErrorType`, `{"Type": "User", "message": …}`.
fn aws_error(status: u16, error_type: &str, message: &str) -> Reply {
    let mut r = json_reply(status, &json!({ "Type": "User", "message": message }));
    if let Some(h) = header("x-amzn-ErrorType", error_type) {
        r.add_header(h);
    }
    r
}

fn invoke_error(e: &InvokeError) -> Reply {
    let status = match e {
        InvokeError::ResourceNotFound { .. } => 404,
        InvokeError::TooManyRequests { .. } => 429,
        InvokeError::RequestTooLarge { .. } => 413,
        InvokeError::InvalidRequestContent(_) => 400,
    };
    let text = e.to_string();
    let message = text.split_once(": ").map_or(text.as_str(), |(_, m)| m);
    let mut r = aws_error(status, e.error_type(), message);
    if let InvokeError::TooManyRequests { reason } = e
        && let Some(h) = header("Reason", reason)
    {
        r.add_header(h);
    }
    r
}

/// Splits `/path?query` and decodes `%XX`.
fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    (percent_decode(path), params)
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

/// A function name from a name, a partial ARN or a full ARN, and a qualifier in it.
fn parse_name(raw: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        ["arn", "aws", "lambda", _, _, "function", name] => ((*name).to_owned(), None),
        ["arn", "aws", "lambda", _, _, "function", name, q] => {
            ((*name).to_owned(), Some((*q).to_owned()))
        }
        [_, "function", name] => ((*name).to_owned(), None),
        [name, q] => ((*name).to_owned(), Some((*q).to_owned())),
        _ => (raw.to_owned(), None),
    }
}

fn handle(runtime: &Runtime, extras: &ApiExtras, mut request: Request) {
    let (log, queue) = (extras.log.as_ref(), extras.async_queue.as_deref());
    let (path, params) = split_url(request.url());
    if let Some(name) = path.strip_prefix("/lambdesk/streams/") {
        let reply = stream_request(extras, name, &params, &mut request);
        let _ = request.respond(reply);
        return;
    }
    if let Some(name) = path.strip_prefix("/lambdesk/queues/") {
        let reply = queue_request(extras, name, &mut request);
        let _ = request.respond(reply);
        return;
    }
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let reply = match (request.method(), segments.as_slice()) {
        (Method::Get, []) if path.starts_with(PREFIX) => list_functions(runtime),
        (Method::Get, [name]) => get_function(runtime, name),
        (Method::Post, [name, "invocations"]) => {
            let name = (*name).to_owned();
            invoke(runtime, log, queue, &mut request, &name, &params)
        }
        _ => aws_error(404, "UnknownOperationException", "Unknown operation"),
    };
    let _ = request.respond(reply);
}

fn configuration(runtime: &Runtime, name: &str) -> Option<serde_json::Value> {
    let info = runtime.deploy_info(name)?;
    let config: FunctionConfig = runtime.config(name)?;
    let sha_b64 = (0..info.code_sha256.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(info.code_sha256.get(i..i + 2)?, 16).ok())
        .collect::<Vec<u8>>();
    Some(json!({
        "FunctionName": name,
        "FunctionArn": function_arn(name),
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::{}:role/{}", crate::runtime::ACCOUNT_ID, if config.role.name.is_empty() { "lambdesk" } else { config.role.name.as_str() }),
        "Handler": config.handler,
        "CodeSize": info.code_size,
        "Description": "",
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "CodeSha256": base64::engine::general_purpose::STANDARD.encode(sha_b64),
        "Version": "$LATEST",
        "Environment": { "Variables": config.environment },
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "EphemeralStorage": { "Size": 512 },
    }))
}

fn list_functions(runtime: &Runtime) -> Reply {
    let functions: Vec<serde_json::Value> = runtime
        .function_names()
        .iter()
        .filter_map(|n| configuration(runtime, n))
        .collect();
    json_reply(200, &json!({ "Functions": functions }))
}

fn get_function(runtime: &Runtime, raw: &str) -> Reply {
    let (name, _) = parse_name(raw);
    match configuration(runtime, &name) {
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
    log: Option<&LogSink>,
    queue: Option<&AsyncQueue>,
    request: &mut Request,
    raw_name: &str,
    params: &[(String, String)],
) -> Reply {
    let (name, arn_qualifier) = parse_name(raw_name);
    let qualifier = params
        .iter()
        .find(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v.clone())
        .or(arn_qualifier);
    if let Some(q) = &qualifier
        && q != "$LATEST"
    {
        return aws_error(
            404,
            "ResourceNotFoundException",
            &format!(
                "Function not found: {}:{q} (versions and aliases are not supported yet; use $LATEST)",
                function_arn(&name)
            ),
        );
    }
    if runtime.deploy_info(&name).is_none() {
        return invoke_error(&InvokeError::ResourceNotFound {
            arn: function_arn(&name),
        });
    }
    let invocation_type = request_header(request, "X-Amz-Invocation-Type")
        .unwrap_or("RequestResponse")
        .to_owned();
    let tail =
        request_header(request, "X-Amz-Log-Type").is_some_and(|v| v.eq_ignore_ascii_case("Tail"));
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut body);
    if let Err(e) = read {
        return aws_error(
            400,
            "InvalidRequestContentException",
            &format!("cannot read the request body: {e}"),
        );
    }
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
            let mut r = Response::from_data(Vec::new()).with_status_code(204);
            if let Some(h) = header("X-Amz-Executed-Version", "$LATEST") {
                r.add_header(h);
            }
            return r;
        }
        "Event" => {
            let Some(queue) = queue else {
                return aws_error(
                    400,
                    "InvalidParameterValueException",
                    "this server has no asynchronous queue",
                );
            };
            return match queue.accept(&name, &body) {
                Ok(id) => {
                    let mut r = Response::from_data(Vec::new()).with_status_code(202);
                    for h in [
                        header("x-amzn-RequestId", &id),
                        header("X-Amz-Executed-Version", "$LATEST"),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        r.add_header(h);
                    }
                    r
                }
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
        ..InvokeOptions::default()
    };
    match runtime.invoke_with(&name, &body, &options) {
        Err(e) => invoke_error(&e),
        Ok(inv) => {
            let mut r = Response::from_data(inv.payload().into_owned()).with_status_code(200);
            let mut headers = vec![
                header("Content-Type", "application/json"),
                header("X-Amz-Executed-Version", "$LATEST"),
                header("x-amzn-RequestId", &inv.request_id),
            ];
            if let Outcome::Error(e) = &inv.outcome {
                headers.push(header("X-Amz-Function-Error", e.kind.label()));
            }
            if tail {
                let log = captured.lock().map(|b| b.clone()).unwrap_or_default();
                let start = log.len().saturating_sub(TAIL_BYTES);
                headers.push(header(
                    "X-Amz-Log-Result",
                    &base64::engine::general_purpose::STANDARD.encode(&log[start..]),
                ));
            }
            for h in headers.into_iter().flatten() {
                r.add_header(h);
            }
            r
        }
    }
}

/// What `lambdesk serve` serves.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// A workspace folder whose functions (with their settings) are served.
    pub workspace: Option<PathBuf>,
    /// Extra functions: name and module, with default settings.
    pub functions: Vec<(String, PathBuf)>,
    /// Address of the Lambda API.
    pub lambda_addr: Option<SocketAddr>,
    /// Folder for precompiled modules.
    pub cache_dir: Option<PathBuf>,
}

/// Loads the functions into a runtime. Returns the names deployed, each with
/// its saved triggers.
pub fn load_functions(
    runtime: &Runtime,
    opts: &ServeOptions,
) -> anyhow::Result<Vec<(String, Vec<crate::model::Trigger>)>> {
    let mut names = Vec::new();
    if let Some(dir) = &opts.workspace {
        let path = dir.join(crate::model::workspace::WORKSPACE_FILE);
        let ws = Workspace::load(&path)?
            .with_context(|| format!("no workspace at {}", path.display()))?;
        for f in ws.functions {
            let code = if f.code.is_absolute() {
                f.code.clone()
            } else {
                dir.join(&f.code)
            };
            runtime
                .deploy(&f.name, &code, f.config)
                .map_err(|e| anyhow::anyhow!("{}: {e}", f.name))?;
            names.push((f.name, f.triggers));
        }
    }
    for (name, module) in &opts.functions {
        crate::cli::deploy_guessing_handler(
            runtime,
            name,
            module,
            FunctionConfig::default(),
            false,
        )
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        names.push((name.clone(), Vec::new()));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (path, params) =
            split_url("/2015-03-31/functions/hello/invocations?Qualifier=%24LATEST");
        assert_eq!(path, "/2015-03-31/functions/hello/invocations");
        assert_eq!(params, [("Qualifier".to_owned(), "$LATEST".to_owned())]);
    }
}
