//! Commands that talk to a running `lambdesk serve` or app through its Lambda
//! API: `publish`, `versions`, `alias create|update|delete|list`, and
//! `invoke NAME --qualifier Q`; and the small helpers the queue and stream
//! commands share (the endpoint flag, URL encoding, printing a reply).

use std::io::Read;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::api::client::{Reply, error_message, request, request_with};

/// Where a running `serve` or app listens.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// Lambda API endpoint of the running `serve` or app.
    #[arg(
        long,
        env = "LAMBDESK_ENDPOINT",
        default_value = "http://127.0.0.1:3001"
    )]
    pub endpoint: String,
}

/// `lambdesk alias …`
#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Create an alias pointing to a version (and optionally a second one by weight).
    Create {
        /// The function.
        function: String,
        /// The alias's name.
        alias: String,
        /// `$LATEST` or a version number.
        #[arg(long)]
        version: String,
        /// Send this share of invocations to another version: `VERSION=WEIGHT` (0.0–1.0).
        #[arg(long, value_name = "VERSION=WEIGHT")]
        weight: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Change an alias's version, routing or description.
    Update {
        /// The function.
        function: String,
        /// The alias's name.
        alias: String,
        /// `$LATEST` or a version number.
        #[arg(long)]
        version: Option<String>,
        /// `VERSION=WEIGHT`, or `none` to stop routing.
        #[arg(long, value_name = "VERSION=WEIGHT")]
        weight: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Only if the alias's revision id is still this one.
        #[arg(long)]
        revision_id: Option<String>,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Delete an alias.
    Delete {
        /// The function.
        function: String,
        /// The alias's name.
        alias: String,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List a function's aliases.
    List {
        /// The function.
        function: String,
        /// Only the aliases of this version.
        #[arg(long)]
        version: Option<String>,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// Reads `-` from stdin, anything else as it is.
pub(super) fn text_or_stdin(arg: String) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading stdin")?;
    Ok(text)
}

/// Percent-encodes what is not safe in a path segment or query value.
pub(super) fn url_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints an error reply as `error (STATUS TYPE): message`; returns the exit code.
fn print_error(reply: &Reply) -> i32 {
    eprintln!(
        "error ({}{}): {}",
        reply.status,
        reply
            .header("x-amzn-ErrorType")
            .map(|t| format!(" {t}"))
            .unwrap_or_default(),
        error_message(&reply.body)
    );
    1
}

/// Prints `field` of a 200 reply's JSON, or the error; returns the exit code.
pub(super) fn print_reply(reply: &Reply, field: &str) -> anyhow::Result<i32> {
    if reply.status != 200 {
        return Ok(print_error(reply));
    }
    let v: Value = serde_json::from_slice(&reply.body)?;
    match &v[field] {
        Value::String(s) => println!("{s}"),
        other => println!("{other}"),
    }
    Ok(0)
}

/// Prints a 2xx reply's JSON, pretty, or the error.
fn print_json(reply: &Reply) -> anyhow::Result<i32> {
    if !(200..300).contains(&reply.status) {
        return Ok(print_error(reply));
    }
    if !reply.body.is_empty() {
        let v: Value = serde_json::from_slice(&reply.body)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(0)
}

const FUNCTIONS: &str = "/2015-03-31/functions";

/// `lambdesk publish NAME`.
pub(super) fn publish(
    function: &str,
    description: Option<String>,
    e: &Endpoint,
) -> anyhow::Result<i32> {
    let body = json!({ "Description": description.unwrap_or_default() });
    let reply = request(
        &e.endpoint,
        "POST",
        &format!("{FUNCTIONS}/{}/versions", url_segment(function)),
        body.to_string().as_bytes(),
    )?;
    print_json(&reply)
}

/// `lambdesk versions NAME`: a table of `$LATEST` and the versions.
pub(super) fn versions(function: &str, e: &Endpoint) -> anyhow::Result<i32> {
    let mut marker: Option<String> = None;
    println!(
        "{:<9} {:<14} {:>8} {:>8}  DESCRIPTION",
        "VERSION", "CODESHA256", "MEMORY", "TIMEOUT"
    );
    loop {
        let mut path = format!("{FUNCTIONS}/{}/versions", url_segment(function));
        if let Some(m) = &marker {
            path.push_str(&format!("?Marker={}", url_segment(m)));
        }
        let reply = request(&e.endpoint, "GET", &path, b"")?;
        if reply.status != 200 {
            return Ok(print_error(&reply));
        }
        let v: Value = serde_json::from_slice(&reply.body)?;
        for c in v["Versions"].as_array().into_iter().flatten() {
            let sha: String = c["CodeSha256"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(12)
                .collect();
            println!(
                "{:<9} {:<14} {:>5} MB {:>6} s  {}",
                c["Version"].as_str().unwrap_or(""),
                sha,
                c["MemorySize"],
                c["Timeout"],
                c["Description"].as_str().unwrap_or("")
            );
        }
        match v["NextMarker"].as_str() {
            Some(m) => marker = Some(m.to_owned()),
            None => return Ok(0),
        }
    }
}

/// `VERSION=WEIGHT` as a routing config (`none`: no routing).
fn routing(weight: &str) -> anyhow::Result<Value> {
    if weight == "none" {
        return Ok(json!({ "AdditionalVersionWeights": {} }));
    }
    let (version, w) = weight
        .split_once('=')
        .with_context(|| format!("--weight {weight}: expected VERSION=WEIGHT, e.g. 2=0.1"))?;
    let w: f64 = w
        .parse()
        .with_context(|| format!("--weight {weight}: `{w}` is not a number"))?;
    Ok(json!({ "AdditionalVersionWeights": { version: w } }))
}

/// `lambdesk alias …`.
pub(super) fn alias(command: AliasCommand) -> anyhow::Result<i32> {
    match command {
        AliasCommand::Create {
            function,
            alias,
            version,
            weight,
            description,
            endpoint,
        } => {
            let mut body = json!({ "Name": alias, "FunctionVersion": version });
            if let Some(d) = description {
                body["Description"] = json!(d);
            }
            if let Some(w) = weight {
                body["RoutingConfig"] = routing(&w)?;
            }
            let reply = request(
                &endpoint.endpoint,
                "POST",
                &format!("{FUNCTIONS}/{}/aliases", url_segment(&function)),
                body.to_string().as_bytes(),
            )?;
            print_json(&reply)
        }
        AliasCommand::Update {
            function,
            alias,
            version,
            weight,
            description,
            revision_id,
            endpoint,
        } => {
            let mut body = json!({});
            if let Some(v) = version {
                body["FunctionVersion"] = json!(v);
            }
            if let Some(d) = description {
                body["Description"] = json!(d);
            }
            if let Some(r) = revision_id {
                body["RevisionId"] = json!(r);
            }
            if let Some(w) = weight {
                body["RoutingConfig"] = routing(&w)?;
            }
            let reply = request(
                &endpoint.endpoint,
                "PUT",
                &format!(
                    "{FUNCTIONS}/{}/aliases/{}",
                    url_segment(&function),
                    url_segment(&alias)
                ),
                body.to_string().as_bytes(),
            )?;
            print_json(&reply)
        }
        AliasCommand::Delete {
            function,
            alias,
            endpoint,
        } => {
            let reply = request(
                &endpoint.endpoint,
                "DELETE",
                &format!(
                    "{FUNCTIONS}/{}/aliases/{}",
                    url_segment(&function),
                    url_segment(&alias)
                ),
                b"",
            )?;
            print_json(&reply)
        }
        AliasCommand::List {
            function,
            version,
            endpoint,
        } => {
            let mut path = format!("{FUNCTIONS}/{}/aliases", url_segment(&function));
            if let Some(v) = version {
                path.push_str(&format!("?FunctionVersion={}", url_segment(&v)));
            }
            let reply = request(&endpoint.endpoint, "GET", &path, b"")?;
            if reply.status != 200 {
                return Ok(print_error(&reply));
            }
            let v: Value = serde_json::from_slice(&reply.body)?;
            for a in v["Aliases"].as_array().into_iter().flatten() {
                let split = match a["RoutingConfig"]["AdditionalVersionWeights"].as_object() {
                    Some(w) if !w.is_empty() => w
                        .iter()
                        .map(|(k, v)| format!(" + {k} at {v}"))
                        .collect::<String>(),
                    _ => String::new(),
                };
                println!(
                    "{}\t{}{split}\t{}",
                    a["Name"].as_str().unwrap_or(""),
                    a["FunctionVersion"].as_str().unwrap_or(""),
                    a["Description"].as_str().unwrap_or("")
                );
            }
            Ok(0)
        }
    }
}

/// `lambdesk invoke NAME --qualifier Q`: through a running host's Lambda
/// API; prints the log tail on stderr, the response on stdout and the
/// executed version.
pub(super) fn invoke(
    function: &str,
    qualifier: &str,
    event: &[u8],
    e: &Endpoint,
) -> anyhow::Result<i32> {
    let reply = request_with(
        &e.endpoint,
        "POST",
        &format!(
            "{FUNCTIONS}/{}/invocations?Qualifier={}",
            url_segment(function),
            url_segment(qualifier)
        ),
        &[("X-Amz-Log-Type", "Tail")],
        event,
    )?;
    if reply.status != 200 {
        return Ok(print_error(&reply));
    }
    if let Some(tail) = reply.header("X-Amz-Log-Result") {
        use base64::Engine;
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(tail) {
            eprint!("{}", String::from_utf8_lossy(&bytes));
        }
    }
    println!("{}", String::from_utf8_lossy(&reply.body));
    eprintln!(
        "executed version {}",
        reply.header("X-Amz-Executed-Version").unwrap_or("?")
    );
    Ok(i32::from(reply.header("X-Amz-Function-Error").is_some()))
}
