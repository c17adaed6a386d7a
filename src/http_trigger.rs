//! The HTTP trigger: an API Gateway stand-in on loopback. Routes `METHOD
//! /path` (with `{param}` and a greedy `{proxy+}`) to functions, builds
//! payload format 2.0 (HTTP API) or 1.0 (REST API) events from real requests,
//! and maps responses as API Gateway does (2.0's inference included).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;

use anyhow::bail;
use base64::Engine;
use serde_json::{Map, Value, json};
use tiny_http::{Header, Request, Response};

use crate::model::TriggerSource;
use crate::runtime::{InvokeError, MAX_REQUEST_BYTES, Outcome};
use crate::triggers::{Invoker, RouteTable};

pub use crate::model::trigger::PayloadFormat;

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, … or `None` for any method.
    pub method: Option<String>,
    /// The path pattern, such as `/items/{id}` or `/files/{proxy+}`.
    pub path: String,
    /// The function invoked.
    pub function: String,
    /// Event and response format.
    pub format: PayloadFormat,
}

impl Route {
    /// Parses `METHOD /path=FUNCTION`, with an optional `@1.0` or `@2.0`
    /// suffix (default 2.0) and `ANY` for every method.
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (function, source) =
            TriggerSource::parse_spec("route", spec).map_err(anyhow::Error::msg)?;
        Self::new(&function, &source)
    }

    /// The route of an HTTP trigger.
    pub fn new(function: &str, source: &TriggerSource) -> anyhow::Result<Self> {
        let TriggerSource::Http {
            method,
            path,
            payload_format,
        } = source
        else {
            bail!("not an HTTP trigger");
        };
        let method = method.to_ascii_uppercase();
        Ok(Self {
            method: (method != "ANY").then_some(method),
            path: path.clone(),
            function: function.to_owned(),
            format: *payload_format,
        })
    }

    /// API Gateway's route key (`GET /items/{id}`).
    pub fn key(&self) -> String {
        format!("{} {}", self.method.as_deref().unwrap_or("ANY"), self.path)
    }

    /// Path parameters when `path` matches.
    pub fn matches(&self, method: &str, path: &str) -> Option<BTreeMap<String, String>> {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return None;
        }
        let pattern: Vec<&str> = self.path.split('/').filter(|s| !s.is_empty()).collect();
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut params = BTreeMap::new();
        for (i, p) in pattern.iter().enumerate() {
            if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
                if i >= parts.len() {
                    return None;
                }
                params.insert(name.to_owned(), parts[i..].join("/"));
                return Some(params);
            }
            let part = parts.get(i)?;
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => {
                    params.insert(name.to_owned(), (*part).to_owned());
                }
                None if p == part => {}
                None => return None,
            }
        }
        (pattern.len() == parts.len()).then_some(params)
    }
}

/// An HTTP request, reduced to what the events need.
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, not decoded.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The client's address.
    pub source_ip: String,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k), form_decode(v))
            })
            .collect()
    }

    /// The body as API Gateway passes it: text, or base64 when it is not UTF-8.
    fn body_field(&self) -> (Value, bool) {
        if self.body.is_empty() {
            return (Value::Null, false);
        }
        match std::str::from_utf8(&self.body) {
            Ok(text) => (Value::String(text.to_owned()), false),
            Err(_) => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(&self.body)),
                true,
            ),
        }
    }
}

fn form_decode(s: &str) -> String {
    crate::serve::percent_decode(&s.replace('+', " "))
}

fn request_time() -> (String, i64) {
    let now = chrono::Utc::now();
    (
        now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        now.timestamp_millis(),
    )
}

/// The payload format 2.0 event.
pub fn event_v2(
    req: &HttpRequest,
    route: &Route,
    params: &BTreeMap<String, String>,
    request_id: &str,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (k, v) in &req.headers {
        let k = k.to_ascii_lowercase();
        if k == "cookie" {
            cookies.extend(
                v.split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        match headers.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(v);
            }
            _ => {
                headers.insert(k, Value::String(v.clone()));
            }
        }
    }
    let mut query = Map::new();
    for (k, v) in req.query_pairs() {
        match query.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let host = req.header("host").unwrap_or("127.0.0.1").to_owned();
    let (time, epoch) = request_time();
    let (body, is_base64) = req.body_field();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": {
            "accountId": crate::runtime::ACCOUNT_ID,
            "apiId": "lambdesk",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(""),
            "http": {
                "method": req.method,
                "path": req.path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip,
                "userAgent": req.header("user-agent").unwrap_or(""),
            },
            "requestId": request_id,
            "routeKey": route.key(),
            "stage": "$default",
            "time": time,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": is_base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The payload format 1.0 (REST API proxy) event.
pub fn event_v1(
    req: &HttpRequest,
    route: &Route,
    params: &BTreeMap<String, String>,
    request_id: &str,
) -> Value {
    let mut headers = Map::new();
    let mut multi_headers: Map<String, Value> = Map::new();
    for (k, v) in &req.headers {
        headers.insert(k.clone(), Value::String(v.clone()));
        if let Some(a) = multi_headers
            .entry(k.clone())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            a.push(Value::String(v.clone()));
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in req.query_pairs() {
        query.insert(k.clone(), Value::String(v.clone()));
        if let Some(a) = multi_query
            .entry(k)
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            a.push(Value::String(v));
        }
    }
    let (time, epoch) = request_time();
    let (body, is_base64) = req.body_field();
    let or_null = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    json!({
        "resource": route.path,
        "path": req.path,
        "httpMethod": req.method,
        "headers": or_null(headers),
        "multiValueHeaders": or_null(multi_headers),
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": crate::runtime::ACCOUNT_ID,
            "apiId": "lambdesk",
            "domainName": req.header("host").unwrap_or("127.0.0.1"),
            "httpMethod": req.method,
            "identity": {
                "sourceIp": req.source_ip,
                "userAgent": req.header("user-agent"),
            },
            "path": req.path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time,
            "requestTimeEpoch": epoch,
            "resourceId": "lambdesk",
            "resourcePath": route.path,
            "stage": "local",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// An HTTP response to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (repeated names allowed, as for `Set-Cookie`).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    fn message(status: u16, message: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({ "message": message }).to_string().into_bytes(),
        }
    }

    /// API Gateway's answer to a malformed response or a function error.
    pub fn internal_error() -> Self {
        Self::message(502, "Internal server error")
    }
}

/// Maps a function's response as API Gateway does. `None` means malformed (502).
pub fn map_response(format: PayloadFormat, payload: &[u8]) -> Option<HttpResponse> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(obj) = structured else {
        return match format {
            // 2.0 infers a 200 JSON response from any valid JSON.
            PayloadFormat::V2 => Some(HttpResponse {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: payload.to_vec(),
            }),
            PayloadFormat::V1 => None,
        };
    };
    let status = u16::try_from(obj.get("statusCode")?.as_u64()?)
        .ok()
        .filter(|s| (100..600).contains(s))?;
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        for (k, v) in h.as_object()? {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            headers.push((k.clone(), v));
        }
    }
    if let Some(Value::Object(m)) = obj.get("multiValueHeaders") {
        for (k, vs) in m {
            for v in vs.as_array()? {
                headers.push((
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                ));
            }
        }
    }
    if format == PayloadFormat::V2
        && let Some(Value::Array(cookies)) = obj.get("cookies")
    {
        for c in cookies {
            headers.push(("Set-Cookie".into(), c.as_str()?.to_owned()));
        }
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            if obj
                .get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                base64::engine::general_purpose::STANDARD.decode(s).ok()?
            } else {
                s.clone().into_bytes()
            }
        }
        Some(other) if format == PayloadFormat::V2 => other.to_string().into_bytes(),
        Some(_) => return None,
    };
    if format == PayloadFormat::V2
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Routes one request: invoke and map, or 404 / 429 / 502.
pub fn dispatch(routes: &[(Route, Invoker)], req: &HttpRequest) -> HttpResponse {
    let Some((route, invoker, params)) = routes
        .iter()
        .find_map(|(r, i)| r.matches(&req.method, &req.path).map(|p| (r, i, p)))
    else {
        return HttpResponse::message(404, "Not Found");
    };
    if req.body.len() > MAX_REQUEST_BYTES {
        return HttpResponse::message(413, "Request Entity Too Large");
    }
    let request_id = crate::runtime::logs::new_request_id();
    let event = match route.format {
        PayloadFormat::V2 => event_v2(req, route, &params, &request_id),
        PayloadFormat::V1 => event_v1(req, route, &params, &request_id),
    };
    match invoker.invoke(&route.function, event.to_string().as_bytes()) {
        Err(InvokeError::TooManyRequests { .. }) => HttpResponse::message(429, "Too Many Requests"),
        Err(InvokeError::RequestTooLarge { .. }) => {
            HttpResponse::message(413, "Request Entity Too Large")
        }
        Err(_) => HttpResponse::internal_error(),
        Ok(inv) => match &inv.outcome {
            Outcome::Error(_) => HttpResponse::internal_error(),
            Outcome::Response(bytes) => {
                map_response(route.format, bytes).unwrap_or_else(HttpResponse::internal_error)
            }
        },
    }
}

/// Serves the HTTP API on `addr`, routing requests with `threads` workers
/// through `routes` (which may change while it runs), until the listener is
/// dropped.
pub fn http_api(
    addr: SocketAddr,
    routes: RouteTable,
    threads: usize,
) -> anyhow::Result<crate::serve::Listener> {
    crate::serve::listen(addr, threads, "lambdesk-http", move |request| {
        serve_one(&routes, request);
    })
}

fn serve_one(routes: &RouteTable, mut request: Request) {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    let _ = request
        .as_reader()
        .take(MAX_REQUEST_BYTES as u64 + 1)
        .read_to_end(&mut body);
    let req = HttpRequest {
        method: request.method().as_str().to_ascii_uppercase(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body,
        source_ip: request
            .remote_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
    };
    // A snapshot: a slow function never holds up changes to the routes.
    let table = routes.read().unwrap_or_else(|e| e.into_inner()).clone();
    let out = dispatch(&table, &req);
    let mut response = Response::from_data(out.body).with_status_code(out.status);
    for (k, v) in &out.headers {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_params_and_greedy_proxy() {
        let r = Route::parse("GET /items/{id}=items").unwrap();
        assert_eq!(r.matches("GET", "/items/42").unwrap()["id"], "42");
        assert!(r.matches("POST", "/items/42").is_none());
        assert!(r.matches("GET", "/items/42/x").is_none());
        let p = Route::parse("ANY /files/{proxy+}=files@1.0").unwrap();
        assert_eq!(p.format, PayloadFormat::V1);
        assert_eq!(
            p.matches("DELETE", "/files/a/b/c.txt").unwrap()["proxy"],
            "a/b/c.txt"
        );
        assert!(p.matches("GET", "/files").is_none());
        assert!(Route::parse("GET items=x").is_err());
    }

    #[test]
    fn responses_are_mapped_as_api_gateway_does() {
        let inferred = map_response(PayloadFormat::V2, br#"{"hello":"world"}"#).unwrap();
        assert_eq!(
            (inferred.status, inferred.body.as_slice()),
            (200, br#"{"hello":"world"}"#.as_slice())
        );
        assert!(map_response(PayloadFormat::V1, br#"{"hello":"world"}"#).is_none());
        assert!(map_response(PayloadFormat::V2, b"not json").is_none());
        let structured = map_response(
            PayloadFormat::V2,
            br#"{"statusCode":201,"headers":{"x-a":"1"},"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(structured.status, 201);
        assert_eq!(structured.body, b"hi");
        let cookies: Vec<&str> = structured
            .headers
            .iter()
            .filter(|(k, _)| k == "Set-Cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }
}
