//! What the Lambda API's operations share: AWS's error shape, JSON replies,
//! function names and ARNs with their qualifiers, and the
//! `FunctionConfiguration` of `$LATEST` or a published version.

use serde_json::{Value, json};

use crate::api::http::{HttpRequest, HttpResponse};
use crate::host::versions::{VersionError, Versions};
use crate::model::FunctionConfig;
use crate::model::versions::PublishedVersion;
use crate::runtime::{Runtime, function_arn};

pub(crate) fn json_reply(status: u16, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::json(status, body)
}

/// An AWS error: status, `x-amzn-ErrorType`, `{"Type": "User", "message": …}`.
pub(crate) fn aws_error(status: u16, error_type: &str, message: &str) -> HttpResponse {
    json_reply(status, &json!({ "Type": "User", "message": message }))
        .with_header("x-amzn-ErrorType", error_type)
}

/// A refused version or alias request, as AWS answers it.
pub(crate) fn version_error(e: &VersionError) -> HttpResponse {
    aws_error(e.status(), e.error_type(), e.message())
}

/// A function name from a name, a partial ARN or a full ARN, and a qualifier in it.
pub(crate) fn parse_name(raw: &str) -> (String, Option<String>) {
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

/// The function name and qualifier of a request: from the name (or ARN) in
/// the path and the `Qualifier` parameter, which must agree when both are
/// given (AWS's message otherwise).
pub(crate) fn name_and_qualifier(
    raw: &str,
    params: &[(String, String)],
) -> Result<(String, Option<String>), HttpResponse> {
    let (name, from_name) = parse_name(raw);
    let param = params
        .iter()
        .find(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    match (from_name, param) {
        (Some(a), Some(b)) if a != b => Err(aws_error(
            400,
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => Ok((name, a.or(b))),
    }
}

fn role_arn(config: &FunctionConfig) -> String {
    format!(
        "arn:aws:iam::{}:role/{}",
        crate::runtime::ACCOUNT_ID,
        if config.role.name.is_empty() {
            "lambdesk"
        } else {
            config.role.name.as_str()
        }
    )
}

/// A `FunctionConfiguration` from its parts (`$LATEST`'s or a version's).
fn config_json(
    name: &str,
    arn: String,
    config: &FunctionConfig,
    code_size: u64,
    code_sha256: String,
    version: &str,
) -> Value {
    json!({
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": if config.runtime_id.is_empty() { lambda_runtime(config.runtime) } else { config.runtime_id.as_str() },
        "Role": role_arn(config),
        "Handler": config.handler,
        "CodeSize": code_size,
        "Description": config.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "CodeSha256": code_sha256,
        "Version": version,
        "Environment": { "Variables": config.environment },
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "EphemeralStorage": { "Size": config.ephemeral_storage_mb },
        "SnapStart": {
            "ApplyOn": if config.snap_start { "PublishedVersions" } else { "None" },
            "OptimizationStatus": if config.snap_start && version != "$LATEST" { "On" } else { "Off" },
        },
    })
}

/// Lambda's runtime identifier for a language: the newest its engine
/// implements (RustPython 0.5 is Python 3.14; Boa is read as Node.js 22's
/// handler contract).
fn lambda_runtime(language: crate::model::Language) -> &'static str {
    match language {
        crate::model::Language::Wasm => "provided.al2023",
        crate::model::Language::Javascript => "nodejs22.x",
        crate::model::Language::Python => "python3.14",
    }
}

/// `$LATEST`'s `FunctionConfiguration`.
pub(crate) fn configuration(
    runtime: &Runtime,
    versions: Option<&Versions>,
    name: &str,
) -> Option<Value> {
    let info = runtime.deploy_info(name)?;
    let config: FunctionConfig = runtime.config(name)?;
    let mut c = config_json(
        name,
        function_arn(name),
        &config,
        info.code_size as u64,
        info.code_sha256_base64(),
        "$LATEST",
    );
    if let Some(r) = versions.and_then(|v| v.latest_revision(name)) {
        c["RevisionId"] = json!(r);
    }
    Some(c)
}

/// A published version's `FunctionConfiguration` (its ARN qualified; its
/// own description).
pub(crate) fn version_configuration(name: &str, v: &PublishedVersion) -> Value {
    let mut c = config_json(
        name,
        format!("{}:{}", function_arn(name), v.version),
        &v.config,
        v.code_size,
        v.code_sha256_base64(),
        &v.version.to_string(),
    );
    c["Description"] = json!(v.description);
    c["LastModified"] = json!(v.created.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string());
    c["RevisionId"] = json!(v.revision_id);
    c
}

/// The request's JSON object (an empty body is `{}`).
pub(crate) fn body(request: &HttpRequest) -> Result<serde_json::Map<String, Value>, HttpResponse> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(aws_error(
            400,
            "SerializationException",
            "the request body must be a JSON object",
        )),
        Err(e) => Err(aws_error(400, "SerializationException", &e.to_string())),
    }
}

/// A string field, absent or a string (anything else is refused).
pub(crate) fn string_field<'a>(
    m: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, HttpResponse> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(aws_error(
            400,
            "SerializationException",
            &format!("{key} must be a string"),
        )),
    }
}
