//! The HTTP API: an API Gateway stand-in on loopback. Routes requests to
//! functions by the host's [`RouteTable`], builds payload format 2.0 (HTTP
//! API) or 1.0 (REST API) events from real requests, and maps responses as
//! API Gateway does (2.0's inference included). A response header API Gateway
//! would refuse (a CR or LF in it, a name that is not a token) makes the
//! response malformed (502); the framing headers a function sets
//! (`Content-Length`, `Transfer-Encoding`, …) are passed on remapped as
//! `x-amzn-Remapped-…`, as API Gateway does, never as framing.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::api::http::{Face, HttpRequest, HttpResponse, Refusal};
use crate::host::{Invoker, Route, RouteTable};
use crate::model::trigger::PayloadFormat;
use crate::runtime::{InvokeError, Outcome};

/// API Gateway's payload limit: 10 MB.
pub const MAX_HTTP_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What the events need of a request beyond its fields.
trait EventParts {
    fn query_pairs(&self) -> Vec<(String, String)>;
    fn body_field(&self) -> (Value, bool);
}

impl EventParts for HttpRequest {
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
    crate::api::lambda::percent_decode(&s.replace('+', " "))
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

fn message(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({ "message": message }))
}

/// API Gateway's answer to a malformed response or a function error.
pub fn internal_error() -> HttpResponse {
    message(502, "Internal server error")
}

/// Whether API Gateway takes `name: value` as a response header: a token
/// for a name, and no control character (CR, LF, NUL…) in the value.
fn valid_header(name: &str, value: &str) -> bool {
    let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    !name.is_empty()
        && name.bytes().all(token)
        && value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// Headers a function may not set as such: API Gateway passes them on as
/// `x-amzn-Remapped-<name>`.
const REMAPPED: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "date",
    "server",
    "transfer-encoding",
    "www-authenticate",
];

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
    if headers.iter().any(|(k, v)| !valid_header(k, v)) {
        return None;
    }
    for (k, _) in &mut headers {
        if REMAPPED.contains(&k.to_ascii_lowercase().as_str()) {
            *k = format!("x-amzn-Remapped-{k}");
        }
    }
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
        return message(404, "Not Found");
    };
    let request_id = crate::runtime::logs::new_request_id();
    let event = match route.format {
        PayloadFormat::V2 => event_v2(req, route, &params, &request_id),
        PayloadFormat::V1 => event_v1(req, route, &params, &request_id),
    };
    match invoker.invoke(&route.function, event.to_string().as_bytes()) {
        Err(InvokeError::TooManyRequests { .. }) => message(429, "Too Many Requests"),
        Err(InvokeError::RequestTooLarge { .. }) => message(413, "Request Entity Too Large"),
        Err(_) => internal_error(),
        Ok(inv) => match &inv.outcome {
            Outcome::Error(_) => internal_error(),
            Outcome::Response(bytes) => {
                map_response(route.format, bytes).unwrap_or_else(internal_error)
            }
        },
    }
}

/// The HTTP API as a [`Face`] of the HTTP server.
pub struct HttpApi {
    routes: RouteTable,
}

impl HttpApi {
    /// Serves `routes` (which may change while it runs).
    pub fn new(routes: RouteTable) -> Self {
        Self { routes }
    }
}

impl Face for HttpApi {
    fn body_limit(&self, _method: &str, _path: &str) -> usize {
        MAX_HTTP_BODY_BYTES
    }

    fn handle(&self, request: HttpRequest) -> HttpResponse {
        // A snapshot: a slow function never holds up changes to the routes.
        let table = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        dispatch(&table, &request)
    }

    fn refuse(&self, refusal: Refusal) -> HttpResponse {
        match refusal {
            Refusal::TooLarge { .. } => message(413, "Request Entity Too Large"),
            Refusal::SlowBody => message(408, "Request Timeout"),
            Refusal::BadBody => message(400, "Bad Request"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn headers_api_gateway_refuses_make_the_response_malformed() {
        let split = br#"{"statusCode":200,"headers":{"x-a":"1\r\nSet-Cookie: evil=1"}}"#;
        assert!(map_response(PayloadFormat::V2, split).is_none());
        let bad_name = br#"{"statusCode":200,"headers":{"x a":"1"}}"#;
        assert!(map_response(PayloadFormat::V1, bad_name).is_none());
        let framing = map_response(
            PayloadFormat::V2,
            br#"{"statusCode":200,"headers":{"Content-Length":"999","Transfer-Encoding":"chunked"},"body":"hi"}"#,
        )
        .unwrap();
        let names: Vec<&str> = framing.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.contains(&"x-amzn-Remapped-Content-Length"),
            "{names:?}"
        );
        assert!(
            names.contains(&"x-amzn-Remapped-Transfer-Encoding"),
            "{names:?}"
        );
        assert!(
            !names
                .iter()
                .any(|n| n.eq_ignore_ascii_case("content-length"))
        );
    }
}
