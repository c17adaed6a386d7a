//! The Lambda API's function management over [`crate::host::functions`]:
//! `CreateFunction` (`POST /2015-03-31/functions`), `UpdateFunctionCode`
//! (`PUT …/code`), `UpdateFunctionConfiguration` (`PUT …/configuration`) and
//! `DeleteFunction` of a whole function, with AWS's shapes and errors.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use crate::api::aws::{
    aws_error, body, configuration, json_reply, parse_name, string_field, version_configuration,
    version_error,
};
use crate::api::http::{HttpRequest, HttpResponse};
use crate::host::functions::{CodeInput, ConfigChanges, Functions};
use crate::host::versions::{VersionError, Versions};
use crate::runtime::Runtime;

/// The largest request these take: AWS's limit for a `CreateFunction` with
/// a 50 MB zip in base64.
pub const MAX_REQUEST_BYTES: usize = 70_167_211;

/// Whether `method path` is one of these operations (for the body limit).
pub fn takes_code(method: &str, path: &str) -> bool {
    let p = path.trim_end_matches('/');
    (method == "POST" && p == "/2015-03-31/functions") || (method == "PUT" && p.ends_with("/code"))
}

/// Answers the request if it is one of these operations.
pub(crate) fn route(
    runtime: &Runtime,
    f: &Functions,
    v: &Versions,
    request: &HttpRequest,
    segments: &[&str],
    has_qualifier: bool,
) -> Option<HttpResponse> {
    let r = match (request.method.as_str(), segments) {
        ("POST", []) => create(runtime, f, v, request),
        ("PUT", [name, "code"]) => update_code(runtime, f, v, name, request),
        ("PUT", [name, "configuration"]) => update_configuration(runtime, f, v, name, request),
        ("DELETE", [name]) if !has_qualifier && !name.contains(':') => {
            let (name, _) = parse_name(name);
            match f.delete(&name) {
                Ok(()) => HttpResponse {
                    status: 204,
                    ..HttpResponse::default()
                },
                Err(e) => version_error(&e),
            }
        }
        _ => return None,
    };
    Some(r)
}

type Fields = serde_json::Map<String, Value>;

fn bad(field: &str, what: &str) -> HttpResponse {
    aws_error(
        400,
        "SerializationException",
        &format!("{field} must be {what}"),
    )
}

fn string(m: &Fields, key: &str) -> Result<Option<String>, HttpResponse> {
    string_field(m, key).map(|s| s.map(str::to_owned))
}

fn number(m: &Fields, key: &str) -> Result<Option<u32>, HttpResponse> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| bad(key, "a whole number")),
    }
}

/// The settings fields of a create or update request.
fn changes(m: &Fields) -> Result<ConfigChanges, HttpResponse> {
    let environment = match m.get("Environment") {
        None | Some(Value::Null) => None,
        Some(e) => match e.get("Variables") {
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(vars)) => Some(
                vars.iter()
                    .map(|(k, v)| {
                        v.as_str()
                            .map(|s| (k.clone(), s.to_owned()))
                            .ok_or_else(|| bad("Environment.Variables", "a map of strings"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err(bad("Environment.Variables", "a map of strings")),
        },
    };
    let ephemeral = match m.get("EphemeralStorage") {
        None | Some(Value::Null) => None,
        Some(e) => Some(
            e.get("Size")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("EphemeralStorage.Size", "a whole number"))?,
        ),
    };
    Ok(ConfigChanges {
        runtime: string(m, "Runtime")?,
        handler: string(m, "Handler")?,
        memory_mb: number(m, "MemorySize")?,
        timeout_s: number(m, "Timeout")?,
        ephemeral_storage_mb: ephemeral,
        environment,
        role: string(m, "Role")?,
        description: string(m, "Description")?,
        snap_start: match m.get("SnapStart") {
            None | Some(Value::Null) => None,
            Some(s) => match s.get("ApplyOn").and_then(Value::as_str) {
                Some("PublishedVersions") => Some(true),
                Some("None") => Some(false),
                _ => {
                    return Err(bad("SnapStart.ApplyOn", "one of PublishedVersions, None"));
                }
            },
        },
    })
}

/// `Code.ZipFile` (base64) or `S3Bucket: hot-reload` with a local `S3Key`.
fn code(m: &Fields) -> Result<CodeInput, HttpResponse> {
    if let Some(zip) = string(m, "ZipFile")? {
        return base64::engine::general_purpose::STANDARD
            .decode(zip.as_bytes())
            .map(CodeInput::Bytes)
            .map_err(|e| bad("ZipFile", &format!("base64 ({e})")));
    }
    match (string(m, "S3Bucket")?, string(m, "S3Key")?) {
        (Some(b), Some(key)) if b == "hot-reload" => Ok(CodeInput::Path(key.into())),
        (Some(_), _) => Err(aws_error(
            400,
            "InvalidParameterValueException",
            "There is no S3 here: give Code.ZipFile, or S3Bucket \"hot-reload\" with the local path of the code as S3Key",
        )),
        _ => Err(aws_error(
            400,
            "InvalidParameterValueException",
            "Please provide a source for function code.",
        )),
    }
}

/// The reply: `$LATEST`'s configuration, or the version published with `Publish`.
fn answer(runtime: &Runtime, v: &Versions, name: &str, publish: bool, status: u16) -> HttpResponse {
    if publish {
        return match v.publish(name, None, None, None) {
            Ok(p) => json_reply(status, &version_configuration(name, &p)),
            Err(e) => version_error(&e),
        };
    }
    match configuration(runtime, Some(v), name) {
        Some(c) => json_reply(status, &c),
        None => version_error(&VersionError::Service(format!("{name} was not deployed"))),
    }
}

fn publish_flag(m: &Fields) -> bool {
    m.get("Publish").and_then(Value::as_bool).unwrap_or(false)
}

fn create(runtime: &Runtime, f: &Functions, v: &Versions, request: &HttpRequest) -> HttpResponse {
    let parsed = body(request).and_then(|m| {
        let name = string(&m, "FunctionName")?;
        let rt = string(&m, "Runtime")?;
        let code = m
            .get("Code")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("Code", "an object"))
            .and_then(code)?;
        Ok((m.clone(), name, rt, code, changes(&m)?))
    });
    let (m, name, rt, code, changes) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(name) = name else {
        return aws_error(
            400,
            "ValidationException",
            "1 validation error detected: FunctionName is required",
        );
    };
    let (name, _) = parse_name(&name);
    match f.create(&name, rt.as_deref(), &code, &changes) {
        Ok(()) => answer(runtime, v, &name, publish_flag(&m), 201),
        Err(e) => version_error(&e),
    }
}

fn update_code(
    runtime: &Runtime,
    f: &Functions,
    v: &Versions,
    raw: &str,
    request: &HttpRequest,
) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let parsed = body(request).and_then(|m| Ok((code(&m)?, string(&m, "RevisionId")?, m)));
    let (code, revision, m) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    match f.update_code(&name, &code, revision.as_deref()) {
        Ok(()) => answer(runtime, v, &name, publish_flag(&m), 200),
        Err(e) => version_error(&e),
    }
}

fn update_configuration(
    runtime: &Runtime,
    f: &Functions,
    v: &Versions,
    raw: &str,
    request: &HttpRequest,
) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let parsed = body(request).and_then(|m| Ok((changes(&m)?, string(&m, "RevisionId")?)));
    let (changes, revision) = match parsed {
        Ok(p) => p,
        Err(r) => return r,
    };
    match f.update_configuration(&name, &changes, revision.as_deref()) {
        Ok(()) => answer(runtime, v, &name, false, 200),
        Err(e) => version_error(&e),
    }
}
