//! The Lambda API's version and alias operations over
//! [`crate::host::versions`]: `PublishVersion`, `ListVersionsByFunction`,
//! `CreateAlias`, `GetAlias`, `UpdateAlias`, `DeleteAlias`, `ListAliases`,
//! `GetFunctionConfiguration` and `DeleteFunction` with a qualifier, with
//! AWS's paths, status codes, JSON shapes and errors.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api::aws::{
    aws_error, body, configuration, json_reply, name_and_qualifier, parse_name, string_field,
    version_configuration, version_error,
};
use crate::api::http::{HttpRequest, HttpResponse};
use crate::host::versions::{VersionError, Versions};
use crate::model::versions::{Alias, Qualifier};
use crate::runtime::{Runtime, function_arn};

/// Answers the request if it is one of these operations.
pub(crate) fn route(
    runtime: &Runtime,
    v: &Versions,
    request: &HttpRequest,
    segments: &[&str],
    params: &[(String, String)],
) -> Option<HttpResponse> {
    let r = match (request.method.as_str(), segments) {
        ("POST", [name, "versions"]) => publish(v, name, request),
        ("GET", [name, "versions"]) => list_versions(runtime, v, name, params),
        ("POST", [name, "aliases"]) => create_alias(v, name, request),
        ("GET", [name, "aliases"]) => list_aliases(v, name, params),
        ("GET", [name, "aliases", alias]) => {
            let (name, _) = parse_name(name);
            result(v.alias(&name, alias).map(|a| alias_json(&name, &a)), 200)
        }
        ("PUT", [name, "aliases", alias]) => update_alias(v, name, alias, request),
        ("DELETE", [name, "aliases", alias]) => {
            let (name, _) = parse_name(name);
            match v.delete_alias(&name, alias) {
                Ok(()) => no_content(),
                Err(e) => version_error(&e),
            }
        }
        ("GET", [name, "configuration"]) => match name_and_qualifier(name, params) {
            Err(r) => r,
            Ok((name, None)) => latest(runtime, v, &name),
            Ok((name, Some(q))) if q == "$LATEST" => latest(runtime, v, &name),
            Ok((name, Some(q))) => result(qualified_configuration(v, &name, Some(&q)), 200),
        },
        ("DELETE", [name]) => delete_function(runtime, v, name, params),
        _ => return None,
    };
    Some(r)
}

fn no_content() -> HttpResponse {
    HttpResponse {
        status: 204,
        ..HttpResponse::default()
    }
}

fn result(r: Result<Value, VersionError>, status: u16) -> HttpResponse {
    match r {
        Ok(body) => json_reply(status, &body),
        Err(e) => version_error(&e),
    }
}

fn latest(runtime: &Runtime, v: &Versions, name: &str) -> HttpResponse {
    match configuration(runtime, Some(v), name) {
        Some(c) => json_reply(200, &c),
        None => aws_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {}", function_arn(name)),
        ),
    }
}

/// The configuration a version or an alias runs (an alias's ARN carries it).
pub(crate) fn qualified_configuration(
    v: &Versions,
    name: &str,
    qualifier: Option<&str>,
) -> Result<Value, VersionError> {
    let nf = || {
        VersionError::NotFound(format!(
            "Function not found: {}:{}",
            function_arn(name),
            qualifier.unwrap_or_default()
        ))
    };
    match Qualifier::parse(qualifier).map_err(|_| nf())? {
        Qualifier::Latest => Err(nf()),
        Qualifier::Version(n) => v
            .version(name, n)
            .map(|p| version_configuration(name, &p))
            .ok_or_else(nf),
        Qualifier::Alias(alias) => {
            let a = v.alias(name, &alias).map_err(|_| nf())?;
            let n: u64 = a.function_version.parse().map_err(|_| nf())?;
            let p = v.version(name, n).ok_or_else(nf)?;
            let mut c = version_configuration(name, &p);
            c["FunctionArn"] = json!(format!("{}:{alias}", function_arn(name)));
            Ok(c)
        }
    }
}

/// `RoutingConfig.AdditionalVersionWeights`, if given.
fn weights(
    m: &serde_json::Map<String, Value>,
) -> Result<Option<BTreeMap<String, f64>>, HttpResponse> {
    let Some(routing) = m.get("RoutingConfig").filter(|r| !r.is_null()) else {
        return Ok(None);
    };
    let bad = || {
        aws_error(
            400,
            "SerializationException",
            "RoutingConfig.AdditionalVersionWeights must map version numbers to weights",
        )
    };
    let Some(w) = routing.get("AdditionalVersionWeights") else {
        return Ok(Some(BTreeMap::new()));
    };
    match w {
        Value::Null => Ok(Some(BTreeMap::new())),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)).ok_or_else(bad))
            .collect::<Result<_, _>>()
            .map(Some),
        _ => Err(bad()),
    }
}

fn publish(v: &Versions, raw: &str, request: &HttpRequest) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let m = match body(request) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fields = (|| {
        Ok((
            string_field(&m, "Description")?,
            string_field(&m, "CodeSha256")?,
            string_field(&m, "RevisionId")?,
        ))
    })();
    let (description, sha, revision) = match fields {
        Ok(f) => f,
        Err(r) => return r,
    };
    result(
        v.publish(&name, description, sha, revision)
            .map(|p| version_configuration(&name, &p)),
        201,
    )
}

/// `Marker` and `MaxItems` (1–10,000; 50 when not given), as AWS pages lists.
fn page(params: &[(String, String)]) -> Result<(usize, usize), HttpResponse> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let start = match get("Marker") {
        None | Some("") => 0,
        Some(m) => m
            .parse()
            .map_err(|_| aws_error(400, "InvalidParameterValueException", "Invalid Marker"))?,
    };
    let max = match get("MaxItems") {
        None | Some("") => 50,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(aws_error(
                    400,
                    "ValidationException",
                    &format!(
                        "1 validation error detected: Value '{m}' at 'maxItems' failed to satisfy \
                         constraint: Member must have value less than or equal to 10000"
                    ),
                ));
            }
        },
    };
    Ok((start, max))
}

fn paged(key: &str, all: Vec<Value>, start: usize, max: usize) -> HttpResponse {
    let end = start.saturating_add(max).min(all.len());
    let items: Vec<Value> = all
        .get(start..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({ key: items });
    if end < all.len() {
        body["NextMarker"] = json!(end.to_string());
    }
    json_reply(200, &body)
}

fn list_versions(
    runtime: &Runtime,
    v: &Versions,
    raw: &str,
    params: &[(String, String)],
) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let Some(latest) = configuration(runtime, Some(v), &name) else {
        return aws_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {}", function_arn(&name)),
        );
    };
    let (start, max) = match page(params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all: Vec<Value> = std::iter::once(latest)
        .chain(
            v.versions(&name)
                .iter()
                .map(|p| version_configuration(&name, p)),
        )
        .collect();
    paged("Versions", all, start, max)
}

/// An alias as AWS's `AliasConfiguration`.
pub(crate) fn alias_json(name: &str, a: &Alias) -> Value {
    let mut j = json!({
        "AliasArn": format!("{}:{}", function_arn(name), a.name),
        "Name": a.name,
        "FunctionVersion": a.function_version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if let Some(r) = &a.routing {
        j["RoutingConfig"] = json!({ "AdditionalVersionWeights": { r.version.clone(): r.weight } });
    }
    j
}

fn create_alias(v: &Versions, raw: &str, request: &HttpRequest) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let m = match body(request) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fields = (|| {
        Ok((
            string_field(&m, "Name")?,
            string_field(&m, "FunctionVersion")?,
            string_field(&m, "Description")?,
            weights(&m)?,
        ))
    })();
    let (alias, version, description, w) = match fields {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (Some(alias), Some(version)) = (alias, version) else {
        return aws_error(
            400,
            "ValidationException",
            "1 validation error detected: Name and FunctionVersion are required",
        );
    };
    result(
        v.create_alias(&name, alias, version, description, &w.unwrap_or_default())
            .map(|a| alias_json(&name, &a)),
        201,
    )
}

fn update_alias(v: &Versions, raw: &str, alias: &str, request: &HttpRequest) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let m = match body(request) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fields = (|| {
        Ok((
            string_field(&m, "FunctionVersion")?,
            string_field(&m, "Description")?,
            weights(&m)?,
            string_field(&m, "RevisionId")?,
        ))
    })();
    let (version, description, w, revision) = match fields {
        Ok(f) => f,
        Err(r) => return r,
    };
    result(
        v.update_alias(&name, alias, version, description, w.as_ref(), revision)
            .map(|a| alias_json(&name, &a)),
        200,
    )
}

fn list_aliases(v: &Versions, raw: &str, params: &[(String, String)]) -> HttpResponse {
    let (name, _) = parse_name(raw);
    let version = params
        .iter()
        .find(|(k, _)| k == "FunctionVersion")
        .map(|(_, v)| v.as_str());
    let (start, max) = match page(params) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all: Vec<Value> = v
        .aliases(&name, version)
        .iter()
        .map(|a| alias_json(&name, a))
        .collect();
    paged("Aliases", all, start, max)
}

/// `DeleteFunction` with a version qualifier deletes that version (204).
fn delete_function(
    runtime: &Runtime,
    v: &Versions,
    raw: &str,
    params: &[(String, String)],
) -> HttpResponse {
    let (name, qualifier) = match name_and_qualifier(raw, params) {
        Ok(nq) => nq,
        Err(r) => return r,
    };
    if !runtime.has_function(&name) {
        return aws_error(
            404,
            "ResourceNotFoundException",
            &format!("Function not found: {}", function_arn(&name)),
        );
    }
    match Qualifier::parse(qualifier.as_deref()) {
        Ok(Qualifier::Version(n)) => match v.delete_version(&name, n) {
            Ok(()) => no_content(),
            Err(e) => version_error(&e),
        },
        Ok(Qualifier::Latest) if qualifier.is_some() => aws_error(
            400,
            "InvalidParameterValueException",
            "$LATEST version cannot be deleted without deleting the function.",
        ),
        Ok(Qualifier::Alias(_)) | Err(_) => aws_error(
            400,
            "InvalidParameterValueException",
            "Deletion of aliases is not supported.",
        ),
        Ok(Qualifier::Latest) => aws_error(
            400,
            "InvalidParameterValueException",
            "This server deletes published versions (give a Qualifier); remove a whole function \
             in the app or from the workspace",
        ),
    }
}
