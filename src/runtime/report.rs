//! What an invocation returns: the response or the function error, its phases,
//! and the figures of Lambda's `REPORT` line, billing included.

use std::time::Duration;

use serde::Serialize;

/// Lambda's x86 prices (us-east-1), overridable per runtime.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Pricing {
    /// Price of one GB-second of duration, in USD.
    pub gb_second_usd: f64,
    /// Price of one request, in USD.
    pub request_usd: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        Self {
            gb_second_usd: 0.000_016_666_7,
            request_usd: 0.000_000_2,
        }
    }
}

impl Pricing {
    /// Estimated cost of one invocation.
    pub fn cost_usd(&self, billed_ms: u64, memory_mb: u32) -> f64 {
        let gb_seconds = (billed_ms as f64 / 1000.0) * (f64::from(memory_mb) / 1024.0);
        gb_seconds * self.gb_second_usd + self.request_usd
    }
}

/// Whether the invocation created its environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StartKind {
    /// A new environment was created (INIT ran).
    Cold,
    /// An idle environment was reused.
    Warm,
}

impl StartKind {
    /// "Cold" or "Warm".
    pub fn label(self) -> &'static str {
        match self {
            Self::Cold => "Cold",
            Self::Warm => "Warm",
        }
    }
}

/// Where the compiled code came from on the first cold start of a code version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSource {
    /// Compiled by Cranelift.
    Compiled,
    /// Loaded from the on-disk cache of precompiled modules.
    DiskCache,
    /// Already loaded in this process.
    Memory,
}

/// How long each phase took. Cold starts have `load`, `instantiate` and
/// `init`; warm starts of handler modules have only `handler`; command modules
/// instantiate on every invocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Phases {
    /// Loading the compiled module (compile or cache), with where it came from.
    pub load: Option<(CodeSource, Duration)>,
    /// Creating the instance (and, for command modules, the WASI context).
    pub instantiate: Duration,
    /// Running the module's initialisation (`_initialize`).
    pub init: Duration,
    /// Running the handler.
    pub handler: Duration,
}

impl Phases {
    /// INIT as Lambda reports (and bills) it: instantiating and initialising
    /// the environment, on a cold start. Loading the code (the compile of a
    /// module, once per code version, or reading it from the cache) is not
    /// part of it, as Lambda's Init Duration never includes downloading the
    /// code or starting the runtime.
    pub fn init_total(&self) -> Duration {
        self.instantiate + self.init
    }
}

/// Handled (the function reported it) or unhandled (the runtime caught it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// `X-Amz-Function-Error: Handled`
    Handled,
    /// `X-Amz-Function-Error: Unhandled`
    Unhandled,
}

impl ErrorKind {
    /// "Handled" or "Unhandled".
    pub fn label(self) -> &'static str {
        match self {
            Self::Handled => "Handled",
            Self::Unhandled => "Unhandled",
        }
    }
}

/// A function error in Lambda's shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionError {
    /// Handled or unhandled.
    #[serde(skip)]
    pub kind: ErrorKind,
    /// For example `Runtime.ExitError` or `Sandbox.Timedout`.
    #[serde(rename = "errorType")]
    pub error_type: String,
    /// Human-readable message.
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    /// Frames, innermost first.
    #[serde(rename = "stackTrace")]
    pub stack_trace: Vec<String>,
    /// The error object as the function's runtime wrote it, returned to the
    /// caller byte for byte (as Lambda passes a runtime's error through):
    /// Node's `trace`, Python's `requestId` and field order.
    #[serde(skip)]
    pub payload: Option<Box<[u8]>>,
}

impl FunctionError {
    /// An unhandled error raised by the runtime.
    pub fn unhandled(error_type: &str, error_message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Unhandled,
            error_type: error_type.to_owned(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
            payload: None,
        }
    }

    /// The JSON object Lambda returns as the payload.
    pub fn to_json(&self) -> Vec<u8> {
        if let Some(p) = &self.payload {
            return p.to_vec();
        }
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Builds a handled error from what the function wrote: its own error object
    /// when it wrote one, otherwise the text as the message.
    pub fn handled_from_payload(payload: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<serde_json::Value>(payload).ok();
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let frames = parsed
            .as_ref()
            .and_then(|v| v.get("stackTrace").or_else(|| v.get("trace")))
            .and_then(|v| v.as_array());
        // A complete error object (with its own frames) goes back as written.
        let verbatim = field("errorType").is_some() && frames.is_some();
        let stack_trace = frames
            .map(|frames| {
                frames
                    .iter()
                    .map(|f| f.as_str().map_or_else(|| f.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            kind: ErrorKind::Handled,
            error_type: field("errorType").unwrap_or_else(|| "Error".to_owned()),
            error_message: field("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(payload).trim().to_owned()),
            stack_trace,
            payload: verbatim.then(|| payload.into()),
        }
    }

    /// Whether this is the timeout error.
    pub fn is_timeout(&self) -> bool {
        self.error_type == TIMEOUT_ERROR_TYPE
    }
}

/// errorType of a timed-out invocation.
pub const TIMEOUT_ERROR_TYPE: &str = "Sandbox.Timedout";

/// The response or the error.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// What the function wrote, byte for byte.
    Response(Vec<u8>),
    /// A function error.
    Error(FunctionError),
}

/// The figures of a `REPORT` line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Handler duration, in ms.
    pub duration_ms: f64,
    /// Billed duration: duration plus INIT on a cold start, rounded up to 1 ms.
    pub billed_duration_ms: u64,
    /// Configured memory, in MB.
    pub memory_size_mb: u32,
    /// Peak linear memory of the environment, in MB.
    pub max_memory_used_mb: u64,
    /// INIT duration on a cold start, in ms.
    pub init_duration_ms: Option<f64>,
    /// SnapStart: restoring the snapshot (instantiating it and running the
    /// module's restore hook) on a cold start, in ms, instead of INIT.
    pub restore_duration_ms: Option<f64>,
    /// SnapStart: the restore hook, rounded up to 1 ms (what Lambda bills of
    /// a restore).
    pub billed_restore_duration_ms: Option<u64>,
    /// Estimated cost, in USD.
    pub cost_usd: f64,
}

impl Report {
    /// Builds the report of an invocation.
    pub fn new(
        phases: &Phases,
        start: StartKind,
        memory_size_mb: u32,
        peak_memory_bytes: usize,
        pricing: &Pricing,
    ) -> Self {
        let duration = phases.handler;
        let init = (start == StartKind::Cold).then(|| phases.init_total());
        let billed = duration + init.unwrap_or(Duration::ZERO);
        let billed_duration_ms = billed.as_nanos().div_ceil(1_000_000).max(1) as u64;
        Self {
            duration_ms: as_ms(duration),
            billed_duration_ms,
            memory_size_mb,
            max_memory_used_mb: (peak_memory_bytes as u64).div_ceil(1024 * 1024),
            init_duration_ms: init.map(as_ms),
            restore_duration_ms: None,
            billed_restore_duration_ms: None,
            cost_usd: pricing.cost_usd(billed_duration_ms, memory_size_mb),
        }
    }

    /// The report of a cold start restored from a SnapStart snapshot: its
    /// start-up is a Restore Duration (no Init Duration: INIT ran when the
    /// version was published, and its INIT_REPORT said so); billed are the
    /// handler and the restore hook (`hook`), as Lambda bills them.
    pub fn restored(mut self, phases: &Phases, hook: Duration, pricing: &Pricing) -> Self {
        let Some(restore) = self.init_duration_ms.take() else {
            return self;
        };
        let billed = phases.handler.as_nanos().div_ceil(1_000_000).max(1) as u64;
        let billed_restore = hook.as_nanos().div_ceil(1_000_000) as u64;
        self.restore_duration_ms = Some(restore);
        self.billed_restore_duration_ms = Some(billed_restore);
        self.billed_duration_ms = billed;
        self.cost_usd = pricing.cost_usd(billed + billed_restore, self.memory_size_mb);
        self
    }

    /// Lambda's REPORT line, tabs between the fields.
    pub fn line(&self, request_id: &str) -> String {
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.duration_ms, self.billed_duration_ms, self.memory_size_mb, self.max_memory_used_mb
        );
        if let Some(init) = self.init_duration_ms {
            line.push_str(&format!("\tInit Duration: {init:.2} ms"));
        }
        if let (Some(restore), Some(billed)) =
            (self.restore_duration_ms, self.billed_restore_duration_ms)
        {
            line.push_str(&format!(
                "\tRestore Duration: {restore:.2} ms\tBilled Restore Duration: {billed} ms"
            ));
        }
        line
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted values; 0 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds as a float.
pub fn as_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One finished invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The request id (a UUID).
    pub request_id: String,
    /// The function's name.
    pub function: String,
    /// The version that ran: `$LATEST` or a published version's number.
    pub version: String,
    /// The environment's log stream.
    pub log_stream: String,
    /// The environment's id (unique in this runtime).
    pub environment_id: u64,
    /// Cold or warm.
    pub start: StartKind,
    /// Response or error.
    pub outcome: Outcome,
    /// Phase durations.
    pub phases: Phases,
    /// REPORT figures.
    pub report: Report,
}

impl Invocation {
    /// The payload a caller receives: the response, or the error object.
    pub fn payload(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.outcome {
            Outcome::Response(bytes) => std::borrow::Cow::Borrowed(bytes),
            Outcome::Error(e) => std::borrow::Cow::Owned(e.to_json()),
        }
    }

    /// The function error, if any.
    pub fn error(&self) -> Option<&FunctionError> {
        match &self.outcome {
            Outcome::Response(_) => None,
            Outcome::Error(e) => Some(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_has_lambdas_format() {
        let phases = Phases {
            load: Some((CodeSource::Memory, Duration::ZERO)),
            instantiate: Duration::from_micros(30),
            init: Duration::from_micros(20),
            handler: Duration::from_micros(1230),
        };
        let r = Report::new(
            &phases,
            StartKind::Cold,
            128,
            18 * 1024 * 1024 - 5,
            &Pricing::default(),
        );
        assert_eq!(
            r.line("abc"),
            "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 0.05 ms"
        );
        let warm = Report::new(&phases, StartKind::Warm, 128, 1, &Pricing::default());
        assert!(!warm.line("abc").contains("Init Duration"));
        assert_eq!(warm.billed_duration_ms, 2);
    }

    #[test]
    fn handled_errors_keep_the_functions_fields() {
        let e = FunctionError::handled_from_payload(
            br#"{"errorType":"ValidationError","errorMessage":"bad input","stackTrace":["a"]}"#,
        );
        assert_eq!(e.error_type, "ValidationError");
        assert_eq!(e.error_message, "bad input");
        assert_eq!(e.stack_trace, ["a"]);
        let plain = FunctionError::handled_from_payload(b"oops\n");
        assert_eq!(
            (plain.error_type.as_str(), plain.error_message.as_str()),
            ("Error", "oops")
        );
    }

    #[test]
    fn cost_is_gb_seconds_plus_request() {
        let p = Pricing::default();
        let c = p.cost_usd(1000, 1024);
        assert!((c - (0.000_016_666_7 + 0.000_000_2)).abs() < 1e-12);
    }
}
