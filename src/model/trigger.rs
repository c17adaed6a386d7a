//! Triggers: what invokes a function besides a person pressing Invoke. A
//! schedule (EventBridge), an HTTP route (API Gateway), a folder watched as a
//! bucket (S3), a local queue (SQS event source mapping) or a local stream
//! (Kinesis, DynamoDB Streams). Saved with the function in the workspace, each
//! with an id and an enabled flag, and validated here with Lambda's ranges;
//! the command line's `--schedule`, `--route`, `--bucket`, `--queue` and
//! `--stream` specs parse into the same types.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::config::ConfigError;
use super::schedule::Schedule;

/// One trigger of a function.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Stable id, unique within the workspace (`schedule-1a2b3c4d`, …).
    pub id: String,
    /// A disabled trigger is kept but does not fire.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// What fires it.
    #[serde(flatten)]
    pub source: TriggerSource,
    /// The version or alias it invokes (`None`: `$LATEST`), as an event
    /// source mapping or a route can target `name:alias` in Lambda.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
}

fn enabled_default() -> bool {
    true
}

/// API Gateway's payload format versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadFormat {
    /// REST API proxy integration.
    #[serde(rename = "1.0")]
    V1,
    /// HTTP API.
    #[default]
    #[serde(rename = "2.0")]
    V2,
}

/// The event shapes a local stream delivers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    /// Kinesis Data Streams.
    #[default]
    Kinesis,
    /// DynamoDB Streams.
    #[serde(rename = "dynamodb")]
    DynamoDb,
}

/// The kinds of trigger and their settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerSource {
    /// EventBridge schedule: `rate(…)` or `cron(…)`, UTC.
    Schedule {
        /// The expression.
        expression: String,
    },
    /// API Gateway route on the local HTTP endpoint.
    Http {
        /// `GET`, `POST`, … or `ANY`.
        method: String,
        /// `/items/{id}`, `/files/{proxy+}`, …
        path: String,
        /// Event and response format.
        #[serde(default)]
        payload_format: PayloadFormat,
    },
    /// A local folder watched as an S3 bucket (named after the folder).
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Only keys starting with this.
        #[serde(default)]
        prefix: String,
        /// Only keys ending with this.
        #[serde(default)]
        suffix: String,
    },
    /// A local queue with an SQS event source mapping.
    Queue {
        /// Queue name.
        queue: String,
        /// Most messages per batch (1–10,000).
        #[serde(default = "queue_batch_default")]
        batch_size: u32,
        /// How long to gather a batch, in seconds (0–300).
        #[serde(default)]
        window_s: u32,
        /// How long a failed message stays invisible, in seconds (0–43,200).
        #[serde(default = "visibility_default")]
        visibility_timeout_s: u32,
        /// Receives after which a message is dropped (1–1,000).
        #[serde(default = "max_receive_default")]
        max_receive: u32,
    },
    /// A local stream with shards.
    Stream {
        /// Stream (or table) name.
        stream: String,
        /// Kinesis or DynamoDB shapes.
        #[serde(default)]
        kind: StreamKind,
        /// Shards (1–64).
        #[serde(default = "shards_default")]
        shards: u32,
        /// Most records per batch (1–10,000).
        #[serde(default = "stream_batch_default")]
        batch_size: u32,
        /// Retries of a failed batch before it is skipped (0–10,000).
        #[serde(default = "retries_default")]
        max_retries: u32,
    },
}

fn queue_batch_default() -> u32 {
    10
}
fn visibility_default() -> u32 {
    30
}
fn max_receive_default() -> u32 {
    5
}
fn shards_default() -> u32 {
    1
}
fn stream_batch_default() -> u32 {
    100
}
fn retries_default() -> u32 {
    3
}

/// The kinds, in the order the app offers them.
pub const KINDS: [&str; 5] = ["schedule", "http", "folder", "queue", "stream"];

/// HTTP methods a route may name.
pub const METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

impl TriggerSource {
    /// A new trigger of `kind` (one of [`KINDS`]) with default settings.
    pub fn template(kind: &str) -> Option<Self> {
        Some(match kind {
            "schedule" => Self::Schedule {
                expression: "rate(5 minutes)".into(),
            },
            "http" => Self::Http {
                method: "ANY".into(),
                path: "/".into(),
                payload_format: PayloadFormat::V2,
            },
            "folder" => Self::Folder {
                dir: PathBuf::new(),
                prefix: String::new(),
                suffix: String::new(),
            },
            "queue" => Self::Queue {
                queue: String::new(),
                batch_size: queue_batch_default(),
                window_s: 0,
                visibility_timeout_s: visibility_default(),
                max_receive: max_receive_default(),
            },
            "stream" => Self::Stream {
                stream: String::new(),
                kind: StreamKind::Kinesis,
                shards: shards_default(),
                batch_size: stream_batch_default(),
                max_retries: retries_default(),
            },
            _ => return None,
        })
    }

    /// The kind, as in [`KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Schedule { .. } => "schedule",
            Self::Http { .. } => "http",
            Self::Folder { .. } => "folder",
            Self::Queue { .. } => "queue",
            Self::Stream { .. } => "stream",
        }
    }

    /// The AWS service it stands in for.
    pub fn service(&self) -> &'static str {
        match self {
            Self::Schedule { .. } => "EventBridge (schedule)",
            Self::Http { .. } => "API Gateway",
            Self::Folder { .. } => "S3 (folder)",
            Self::Queue { .. } => "SQS",
            Self::Stream {
                kind: StreamKind::Kinesis,
                ..
            } => "Kinesis",
            Self::Stream {
                kind: StreamKind::DynamoDb,
                ..
            } => "DynamoDB Streams",
        }
    }

    /// One line saying what it is: `rate(5 minutes)`, `GET /items/{id}`, …
    pub fn summary(&self) -> String {
        match self {
            Self::Schedule { expression } => expression.clone(),
            Self::Http {
                method,
                path,
                payload_format,
            } => {
                let v = match payload_format {
                    PayloadFormat::V1 => " (payload 1.0)",
                    PayloadFormat::V2 => "",
                };
                format!("{} {path}{v}", method.to_ascii_uppercase())
            }
            Self::Folder {
                dir,
                prefix,
                suffix,
            } => {
                let mut s = dir.display().to_string();
                if !prefix.is_empty() {
                    s.push_str(&format!(" prefix {prefix}"));
                }
                if !suffix.is_empty() {
                    s.push_str(&format!(" suffix {suffix}"));
                }
                s
            }
            Self::Queue {
                queue,
                batch_size,
                window_s,
                ..
            } => format!("{queue} (batch {batch_size}, window {window_s} s)"),
            Self::Stream {
                stream,
                shards,
                batch_size,
                ..
            } => format!("{stream} ({shards} shard(s), batch {batch_size})"),
        }
    }

    /// Every problem with the settings, each naming its field and what is allowed.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        let mut range = |field: &'static str, value: u32, lo: u32, hi: u32, unit: &str| {
            if !(lo..=hi).contains(&value) {
                errors.push(ConfigError::new(
                    field,
                    format!("must be {lo}–{hi}{unit}, not {value}"),
                ));
            }
        };
        let mut other = Vec::new();
        match self {
            Self::Schedule { expression } => {
                if let Err(e) = Schedule::parse(expression) {
                    other.push(ConfigError::new("expression", e));
                }
            }
            Self::Http { method, path, .. } => {
                if !METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                    other.push(ConfigError::new(
                        "method",
                        format!("must be one of {}", METHODS.join(", ")),
                    ));
                }
                if !path.starts_with('/') {
                    other.push(ConfigError::new("path", "must start with /"));
                } else if path.contains(char::is_whitespace) || path.contains('?') {
                    other.push(ConfigError::new(
                        "path",
                        "has no spaces and no query string",
                    ));
                } else if path.split('/').rev().skip(1).any(|s| s.ends_with("+}")) {
                    other.push(ConfigError::new(
                        "path",
                        "a greedy {name+} parameter must be the last segment",
                    ));
                }
            }
            Self::Folder { dir, .. } => {
                if dir.as_os_str().is_empty() {
                    other.push(ConfigError::new("dir", "pick a folder to watch"));
                }
            }
            Self::Queue {
                queue,
                batch_size,
                window_s,
                visibility_timeout_s,
                max_receive,
            } => {
                check_name(&mut other, "queue", queue, "");
                range("batch_size", *batch_size, 1, 10_000, "");
                range("window_s", *window_s, 0, 300, " seconds");
                range(
                    "visibility_timeout_s",
                    *visibility_timeout_s,
                    0,
                    43_200,
                    " seconds",
                );
                range("max_receive", *max_receive, 1, 1_000, "");
            }
            Self::Stream {
                stream,
                shards,
                batch_size,
                max_retries,
                ..
            } => {
                check_name(&mut other, "stream", stream, ".");
                range("shards", *shards, 1, 64, "");
                range("batch_size", *batch_size, 1, 10_000, "");
                range("max_retries", *max_retries, 0, 10_000, "");
            }
        }
        other.extend(errors);
        if other.is_empty() { Ok(()) } else { Err(other) }
    }

    /// Parses a command-line spec of `kind` (`schedule`, `route`, `bucket`,
    /// `queue`, `stream`) into the function it targets and the trigger.
    pub fn parse_spec(kind: &str, spec: &str) -> Result<(String, Self), String> {
        let bad = |what: &str| format!("--{kind} {spec}: {what}");
        let (function, source) = match kind {
            "schedule" => {
                let (expr, function) = spec
                    .rsplit_once('=')
                    .ok_or_else(|| bad("expected 'EXPR=FUNCTION'"))?;
                (
                    function,
                    Self::Schedule {
                        expression: expr.trim().to_owned(),
                    },
                )
            }
            "route" => {
                let (route, target) = spec
                    .rsplit_once('=')
                    .ok_or_else(|| bad("expected 'METHOD /path=FUNCTION'"))?;
                let (function, payload_format) = match target.rsplit_once('@') {
                    Some((f, "1.0")) => (f, PayloadFormat::V1),
                    Some((f, "2.0")) => (f, PayloadFormat::V2),
                    Some((_, other)) => {
                        return Err(bad(&format!("payload format `{other}` is not 1.0 or 2.0")));
                    }
                    None => (target, PayloadFormat::V2),
                };
                let (method, path) = route
                    .trim()
                    .split_once(' ')
                    .ok_or_else(|| bad("expected 'METHOD /path=FUNCTION'"))?;
                (
                    function.trim(),
                    Self::Http {
                        method: method.to_ascii_uppercase(),
                        path: path.trim().to_owned(),
                        payload_format,
                    },
                )
            }
            "bucket" => {
                // The folder is before the first `=`; filters may hold more.
                let (dir, target) = spec
                    .split_once('=')
                    .ok_or_else(|| bad("expected 'DIR=FUNCTION[?prefix=P&suffix=S]'"))?;
                let (function, options) = target.split_once('?').unwrap_or((target, ""));
                let (mut prefix, mut suffix) = (String::new(), String::new());
                for kv in options.split('&').filter(|s| !s.is_empty()) {
                    match kv.split_once('=') {
                        Some(("prefix", v)) => v.clone_into(&mut prefix),
                        Some(("suffix", v)) => v.clone_into(&mut suffix),
                        _ => {
                            return Err(bad(&format!(
                                "unknown filter `{kv}` (use prefix= and suffix=)"
                            )));
                        }
                    }
                }
                (
                    function,
                    Self::Folder {
                        dir: PathBuf::from(dir),
                        prefix,
                        suffix,
                    },
                )
            }
            "queue" | "stream" => {
                let (name, target) = spec
                    .split_once('=')
                    .ok_or_else(|| bad("expected 'NAME=FUNCTION[?option=value&…]'"))?;
                let (function, options) = target.split_once('?').unwrap_or((target, ""));
                let mut source = Self::template(kind).ok_or_else(|| bad("unknown kind"))?;
                match &mut source {
                    Self::Queue { queue, .. } => name.clone_into(queue),
                    Self::Stream { stream, .. } => name.clone_into(stream),
                    _ => {}
                }
                for kv in options.split('&').filter(|s| !s.is_empty()) {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    source.set_option(k, v).map_err(|e| bad(&e))?;
                }
                (function, source)
            }
            _ => return Err(format!("unknown trigger kind `{kind}`")),
        };
        if function.is_empty() {
            return Err(bad("no function named"));
        }
        if let Err(errors) = source.validate() {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(bad(&text.join("; ")));
        }
        Ok((function.to_owned(), source))
    }

    /// Sets a queue or stream option from the command line's short names.
    fn set_option(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("`{key}={value}` needs a whole number"))
        };
        match (self, key) {
            (Self::Queue { batch_size, .. }, "batch") => *batch_size = number()?,
            (Self::Queue { window_s, .. }, "window") => *window_s = number()?,
            (
                Self::Queue {
                    visibility_timeout_s,
                    ..
                },
                "visibility",
            ) => *visibility_timeout_s = number()?,
            (Self::Queue { max_receive, .. }, "max_receive") => *max_receive = number()?,
            (Self::Stream { kind, .. }, "kind") => {
                *kind = match value {
                    "kinesis" => StreamKind::Kinesis,
                    "dynamodb" => StreamKind::DynamoDb,
                    other => return Err(format!("kind `{other}` is kinesis or dynamodb")),
                }
            }
            (Self::Stream { shards, .. }, "shards") => *shards = number()?,
            (Self::Stream { batch_size, .. }, "batch") => *batch_size = number()?,
            (Self::Stream { max_retries, .. }, "retries") => *max_retries = number()?,
            (Self::Queue { .. }, _) => {
                return Err(format!(
                    "unknown option `{key}` (batch, window, visibility, max_receive)"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown option `{key}` (kind, shards, batch, retries)"
                ));
            }
        }
        Ok(())
    }
}

fn check_name(errors: &mut Vec<ConfigError>, field: &'static str, name: &str, extra: &str) {
    let ok = !name.is_empty()
        && name.len() <= 80
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(c));
    if !ok {
        let dot = if extra.is_empty() {
            ""
        } else {
            ", . (not first)"
        };
        errors.push(ConfigError::new(
            field,
            format!("1–80 letters, digits, - and _{dot}"),
        ));
    }
}

impl Trigger {
    /// A new enabled trigger with a fresh id.
    /// The function it invokes: `name`, or `name:qualifier` for a version
    /// or an alias.
    pub fn target(&self, function: &str) -> String {
        match self
            .qualifier
            .as_deref()
            .filter(|q| !q.is_empty() && *q != "$LATEST")
        {
            Some(q) => format!("{function}:{q}"),
            None => function.to_owned(),
        }
    }

    /// A new trigger of `$LATEST` with a fresh id.
    pub fn new(source: TriggerSource) -> Self {
        let id = format!(
            "{}-{}",
            source.kind(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self {
            id,
            enabled: true,
            qualifier: None,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_into_triggers_with_checked_ranges() {
        let (f, s) = TriggerSource::parse_spec("queue", "jobs=worker?batch=3&window=2").unwrap();
        assert_eq!(f, "worker");
        assert!(matches!(
            s,
            TriggerSource::Queue {
                batch_size: 3,
                window_s: 2,
                ..
            }
        ));
        let e = TriggerSource::parse_spec("queue", "jobs=worker?batch=0").unwrap_err();
        assert!(e.contains("batch_size: must be 1–10000"), "{e}");
        assert!(TriggerSource::parse_spec("queue", "jobs=worker?speed=1").is_err());
        assert!(TriggerSource::parse_spec("queue", "bad name=worker").is_err());
        // Names become folder names: nothing that climbs out.
        assert!(TriggerSource::parse_spec("queue", "..=worker").is_err());
        assert!(TriggerSource::parse_spec("stream", "..=worker").is_err());
        assert!(TriggerSource::parse_spec("stream", ".hidden=worker").is_err());
        assert!(TriggerSource::parse_spec("stream", "orders.v2=worker").is_ok());
        let (_, s) =
            TriggerSource::parse_spec("stream", "orders=f?kind=dynamodb&shards=4").unwrap();
        assert!(matches!(
            s,
            TriggerSource::Stream {
                kind: StreamKind::DynamoDb,
                shards: 4,
                ..
            }
        ));
        let (f, s) = TriggerSource::parse_spec("route", "get /items/{id}=api@1.0").unwrap();
        assert_eq!(f, "api");
        assert_eq!(s.summary(), "GET /items/{id} (payload 1.0)");
        assert!(TriggerSource::parse_spec("route", "GET items=api").is_err());
        assert!(TriggerSource::parse_spec("route", "GET /a/{p+}/b=api").is_err());
        let e = TriggerSource::parse_spec("schedule", "rate(0 minutes)=f").unwrap_err();
        assert!(
            e.starts_with("--schedule rate(0 minutes)=f: expression:"),
            "{e}"
        );
        let (_, s) = TriggerSource::parse_spec("bucket", "/tmp/up=s3?suffix=.txt").unwrap();
        assert_eq!(s.summary(), "/tmp/up suffix .txt");
    }

    #[test]
    fn triggers_round_trip_through_json_with_defaults() {
        let t = Trigger::new(TriggerSource::template("queue").unwrap());
        assert!(t.id.starts_with("queue-"));
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Trigger>(&text).unwrap(), t);
        let t: Trigger = serde_json::from_str(
            r#"{"id":"x","type":"http","method":"GET","path":"/a","payload_format":"1.0"}"#,
        )
        .unwrap();
        assert!(t.enabled);
        assert_eq!(
            t.source,
            TriggerSource::Http {
                method: "GET".into(),
                path: "/a".into(),
                payload_format: PayloadFormat::V1
            }
        );
        for kind in KINDS {
            assert_eq!(TriggerSource::template(kind).unwrap().kind(), kind);
        }
    }
}
