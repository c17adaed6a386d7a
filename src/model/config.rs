//! A function's settings, with Lambda's ranges and defaults, and their validation.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Smallest memory size Lambda accepts, in MB.
pub const MEMORY_MIN_MB: u32 = 128;
/// Largest memory size Lambda accepts, in MB.
pub const MEMORY_MAX_MB: u32 = 10_240;
/// Memory size at which a Lambda function has the equivalent of one full
/// vCPU; below it, CPU is allocated in proportion to memory.
pub const FULL_CPU_MB: u32 = 1_769;

/// Whether guests get CPU in proportion to their memory, as in Lambda.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuShare {
    /// Every guest runs at full speed (fast local loops, the runtime's own benchmarks).
    Off,
    /// A guest gets at most `memory_mb / 1769` of one CPU while it runs, as in Lambda.
    #[default]
    Lambda,
}

impl CpuShare {
    /// `off` or `lambda`, as the command line and the workspace spell it.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(Self::Off),
            "lambda" => Ok(Self::Lambda),
            other => Err(format!(
                "`{other}` is not a CPU share; use `off` or `lambda`"
            )),
        }
    }

    /// The fraction of one CPU a function of `memory_mb` gets (at most 1: a
    /// single-threaded guest cannot use more).
    pub fn fraction(self, memory_mb: u32) -> f64 {
        match self {
            Self::Off => 1.0,
            Self::Lambda => (f64::from(memory_mb) / f64::from(FULL_CPU_MB)).min(1.0),
        }
    }
}

/// Smallest ephemeral storage (`/tmp`) Lambda accepts, in MB (also the default).
pub const EPHEMERAL_MIN_MB: u32 = 512;
/// Largest ephemeral storage (`/tmp`) Lambda accepts, in MB.
pub const EPHEMERAL_MAX_MB: u32 = 10_240;
/// Shortest timeout, in seconds.
pub const TIMEOUT_MIN_S: u32 = 1;
/// Longest timeout (15 minutes), in seconds.
pub const TIMEOUT_MAX_S: u32 = 900;
/// Lambda's total size limit for environment variables (keys plus values), in bytes.
pub const ENVIRONMENT_MAX_BYTES: usize = 4 * 1024;
/// Highest reserved concurrency a function may ask for (Lambda's default account limit).
pub const CONCURRENCY_MAX: u32 = 1_000;
/// Default idle time before an environment is reaped, in seconds.
pub const IDLE_DEFAULT_S: u64 = 600;
/// Longest idle time a user may choose (12 hours), in seconds.
pub const IDLE_MAX_S: u64 = 12 * 3600;

/// Environment variable names Lambda reserves; a function may not set them.
pub const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// What a function's code is, and so what runs it: a WebAssembly module, or
/// JavaScript or Python run by Lambdesk's language runtimes (modules built
/// from Boa and RustPython, `runtimes/`). Lambda's runtime identifiers are
/// accepted as names (`nodejs18.x` … `nodejs24.x`, `python3.9` …
/// `python3.14`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Language {
    /// A WebAssembly module (`.wasm`, `.wat`, or a zip holding one).
    #[default]
    Wasm,
    /// JavaScript with Lambda's Node.js handler contract.
    Javascript,
    /// Python with Lambda's Python handler contract.
    Python,
}

impl Language {
    /// Every language, in the order the app lists them.
    pub const ALL: [Self; 3] = [Self::Wasm, Self::Javascript, Self::Python];

    /// Reads a name: `wasm`, `javascript` (or `js`, `node`, `nodejs`,
    /// `nodejs18.x` … `nodejs24.x`), `python` (or `py`, `python3`,
    /// `python3.9` … `python3.14`).
    pub fn parse(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase();
        match n.as_str() {
            "wasm" | "webassembly" | "provided" | "provided.al2" | "provided.al2023" => {
                Some(Self::Wasm)
            }
            "javascript" | "js" | "node" | "nodejs" => Some(Self::Javascript),
            "python" | "py" | "python3" => Some(Self::Python),
            _ => {
                if let Some(minor) = n.strip_prefix("python3.") {
                    let minor: u32 = minor.parse().ok()?;
                    return (9..=14).contains(&minor).then_some(Self::Python);
                }
                let v = n.strip_prefix("nodejs")?.strip_suffix(".x")?;
                let major: u32 = v.parse().ok()?;
                (18..=24).contains(&major).then_some(Self::Javascript)
            }
        }
    }

    /// The name stored and shown (`wasm`, `javascript`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Wasm => "wasm",
            Self::Javascript => "javascript",
            Self::Python => "python",
        }
    }

    /// The handler a new function of this language gets (Lambda's default).
    pub fn default_handler(self) -> &'static str {
        match self {
            Self::Wasm => "_start",
            Self::Javascript => "index.handler",
            Self::Python => "lambda_function.lambda_handler",
        }
    }

    /// The language's name as people write it (`WebAssembly`, `JavaScript`,
    /// `Python`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Wasm => "WebAssembly",
            Self::Javascript => "JavaScript",
            Self::Python => "Python",
        }
    }

    /// What runs code of this language, in a phrase (the Code tab).
    pub fn engine(self) -> &'static str {
        match self {
            Self::Wasm => "WebAssembly (WASI preview 1)",
            Self::Javascript => "JavaScript (Boa, ES2023; Lambda's Node.js handler contract)",
            Self::Python => "Python 3.14 (RustPython; Lambda's Python handler contract)",
        }
    }

    /// Source file extensions of this language (none for a module).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Wasm => &[],
            Self::Javascript => &["js", "mjs", "cjs"],
            Self::Python => &["py"],
        }
    }

    /// Whether a language runtime runs the code (rather than the code being
    /// a module itself).
    pub fn is_source(self) -> bool {
        !matches!(self, Self::Wasm)
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Language> for String {
    fn from(l: Language) -> Self {
        l.name().to_owned()
    }
}

impl TryFrom<String> for Language {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).ok_or_else(|| {
            format!(
                "`{s}` is not a runtime: wasm, javascript (or nodejs18.x … nodejs24.x), python (or python3.9 … python3.14)"
            )
        })
    }
}

/// The settings of one function. Stored as readable JSON; unknown or missing
/// fields fall back to Lambda's defaults so older files keep loading.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionConfig {
    /// What the code is: a module (`wasm`, the default) or JavaScript.
    pub runtime: Language,
    /// For a module, the export to call: `_start` for a command module (a WASI
    /// program), or the name of an exported function for a handler module.
    /// For JavaScript, Lambda's `file.export` (`index.handler`).
    pub handler: String,
    /// Memory size in MB (128–10,240). Caps the module's linear memory.
    pub memory_mb: u32,
    /// Timeout in seconds (1–900).
    pub timeout_s: u32,
    /// Size of `/tmp` in MB (512–10,240, default 512), as Lambda's
    /// `EphemeralStorage`: writes beyond it fail inside the guest with `ENOSPC`.
    pub ephemeral_storage_mb: u32,
    /// Environment variables visible to the function.
    pub environment: BTreeMap<String, String>,
    /// What of the host the function may touch.
    pub role: Role,
    /// Reserved concurrency: the most environments running at once. `None`
    /// means unreserved (limited by the runtime's account-wide limit); `Some(0)`
    /// throttles every invocation.
    pub reserved_concurrency: Option<u32>,
    /// Seconds an environment may stay idle before it is shut down.
    pub idle_timeout_s: u64,
    /// Arguments for command modules (`argv[1..]`).
    pub args: Vec<String>,
    /// Asynchronous invocation: retries, event age, destinations.
    pub async_invoke: AsyncInvokeConfig,
    /// Lambda's `Description` (free text, at most 256 characters).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Lambda's SnapStart (`ApplyOn: PublishedVersions`; off by default, as
    /// Lambda's): publishing a version runs its INIT once and snapshots the
    /// environment; the version's cold starts restore the snapshot.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub snap_start: bool,
    /// Lambda's runtime identifier as it was given (`python3.12`,
    /// `provided.al2`), which the Lambda API reports back; empty: the newest
    /// the engine implements. It names the same language as `runtime`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub runtime_id: String,
}

/// Lambda's custom runtimes, whose code is a WebAssembly module here.
pub const CUSTOM_RUNTIMES: [&str; 3] = ["provided.al2023", "provided.al2", "provided"];

/// The language of one of Lambda's runtime identifiers (`provided.al2023`,
/// `nodejs18.x` … `nodejs24.x`, `python3.9` … `python3.14`), or `None`.
pub fn language_of_runtime_id(id: &str) -> Option<Language> {
    if CUSTOM_RUNTIMES.contains(&id) {
        return Some(Language::Wasm);
    }
    Language::parse(id).filter(|l| l.is_source() && id.contains('.'))
}

/// How asynchronous invocations (`Event`) of a function are retried and where
/// their outcome goes, as Lambda's `EventInvokeConfig` and dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AsyncInvokeConfig {
    /// Retries after a function error (0–2, default 2).
    pub max_retry_attempts: u32,
    /// Oldest an event may get before it is dropped (60–21,600 s, default 21,600).
    pub max_event_age_s: u32,
    /// On success: `function:NAME` or `file:PATH` (JSON lines).
    pub on_success: Option<String>,
    /// On failure: `function:NAME` or `file:PATH` (JSON lines).
    pub on_failure: Option<String>,
    /// A JSON-lines file receiving events that exhausted their retries or age.
    pub dead_letter_file: Option<PathBuf>,
}

impl Default for AsyncInvokeConfig {
    fn default() -> Self {
        Self {
            max_retry_attempts: 2,
            max_event_age_s: 21_600,
            on_success: None,
            on_failure: None,
            dead_letter_file: None,
        }
    }
}

impl FunctionConfig {
    /// The module export the runtime calls for an invocation: the handler
    /// for a module; a language runtime's own `handler` export otherwise
    /// (which reads Lambda's handler setting from `_HANDLER`).
    pub fn export(&self) -> &str {
        if self.runtime.is_source() {
            "handler"
        } else {
            &self.handler
        }
    }
}

impl Default for FunctionConfig {
    fn default() -> Self {
        Self {
            runtime: Language::Wasm,
            handler: "_start".to_owned(),
            memory_mb: MEMORY_MIN_MB,
            timeout_s: 3,
            ephemeral_storage_mb: EPHEMERAL_MIN_MB,
            environment: BTreeMap::new(),
            role: Role::default(),
            reserved_concurrency: None,
            idle_timeout_s: IDLE_DEFAULT_S,
            args: Vec::new(),
            async_invoke: AsyncInvokeConfig::default(),
            description: String::new(),
            snap_start: false,
            runtime_id: String::new(),
        }
    }
}

/// A named set of grants: host folders the function can see and network
/// destinations it can call. Nothing else of the host file system or the
/// network is reachable from a guest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Role {
    /// A label for the role, shown in the app (for example `reports-reader`).
    pub name: String,
    /// Host folders mounted into the guest.
    pub mounts: Vec<Mount>,
    /// Outbound HTTP destinations, as `scheme://host[:port]` patterns
    /// (`model/outbound.rs`). Empty: no network at all.
    pub outbound: Vec<String>,
}

/// One host folder mounted at a guest path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    /// The folder on the host.
    pub host_path: PathBuf,
    /// Where the guest sees it (an absolute path such as `/data`).
    pub guest_path: String,
    /// Mounted read-only when true.
    pub read_only: bool,
}

/// A setting that is out of range or malformed. `field` names the setting, the
/// message says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// The setting's name, as in the JSON file (`memory_mb`, `timeout_s`, …).
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl FunctionConfig {
    /// Checks every setting against Lambda's limits. Returns all problems, so a
    /// form can show each next to its field.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        if let Err(e) = validate_handler_for(self.runtime, &self.handler) {
            errors.push(e);
        }
        if let Err(e) = validate_memory_mb(self.memory_mb) {
            errors.push(e);
        }
        if let Err(e) = validate_timeout_s(self.timeout_s) {
            errors.push(e);
        }
        if let Err(e) = validate_ephemeral_storage_mb(self.ephemeral_storage_mb) {
            errors.push(e);
        }
        if let Err(e) = validate_environment(&self.environment) {
            errors.push(e);
        }
        if let Err(problems) = super::outbound::Grants::parse(&self.role.outbound) {
            errors.extend(
                problems
                    .into_iter()
                    .map(|m| ConfigError::new("role.outbound", m)),
            );
        }
        if !self.runtime_id.is_empty()
            && language_of_runtime_id(&self.runtime_id) != Some(self.runtime)
        {
            errors.push(ConfigError::new(
                "runtime_id",
                format!(
                    "`{}` is not one of Lambda's identifiers for {}",
                    self.runtime_id,
                    self.runtime.title()
                ),
            ));
        }
        if self.description.chars().count() > 256 {
            errors.push(ConfigError::new(
                "description",
                format!(
                    "{} characters; a description has at most 256",
                    self.description.chars().count()
                ),
            ));
        }
        if let Some(c) = self.reserved_concurrency
            && c > CONCURRENCY_MAX
        {
            errors.push(ConfigError::new(
                "reserved_concurrency",
                format!("{c} is out of range; allowed 0–{CONCURRENCY_MAX}"),
            ));
        }
        if !(1..=IDLE_MAX_S).contains(&self.idle_timeout_s) {
            errors.push(ConfigError::new(
                "idle_timeout_s",
                format!(
                    "{} is out of range; allowed 1–{IDLE_MAX_S} seconds",
                    self.idle_timeout_s
                ),
            ));
        }
        let a = &self.async_invoke;
        if a.max_retry_attempts > 2 {
            errors.push(ConfigError::new(
                "async_invoke.max_retry_attempts",
                format!("{} is out of range; allowed 0–2", a.max_retry_attempts),
            ));
        }
        if !(60..=21_600).contains(&a.max_event_age_s) {
            errors.push(ConfigError::new(
                "async_invoke.max_event_age_s",
                format!(
                    "{} is out of range; allowed 60–21600 seconds",
                    a.max_event_age_s
                ),
            ));
        }
        for (field, dest) in [
            ("async_invoke.on_success", &a.on_success),
            ("async_invoke.on_failure", &a.on_failure),
        ] {
            if let Some(d) = dest
                && !(d.starts_with("function:") && d.len() > 9
                    || d.starts_with("file:") && d.len() > 5)
            {
                errors.push(ConfigError::new(
                    field,
                    format!("`{d}` must be `function:NAME` or `file:PATH`"),
                ));
            }
        }
        for mount in &self.role.mounts {
            if let Err(e) = validate_mount(mount) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Total size of the environment variables, as Lambda counts it (keys plus values).
    pub fn environment_bytes(&self) -> usize {
        environment_bytes(&self.environment)
    }
}

/// Keys plus values, in bytes.
pub fn environment_bytes(env: &BTreeMap<String, String>) -> usize {
    env.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// The handler must name an export: non-empty, no whitespace.
/// A handler for `language`: an export name for a module; Lambda's
/// `file.export` for JavaScript (`index.handler`, `src/app.main`).
pub fn validate_handler_for(language: Language, handler: &str) -> Result<(), ConfigError> {
    if !language.is_source() {
        return validate_handler(handler);
    }
    let well_formed = handler.len() <= 128
        && !handler.chars().any(char::is_whitespace)
        && handler
            .rsplit_once('/')
            .map_or(handler, |(_, last)| last)
            .split_once('.')
            .is_some_and(|(file, export)| !file.is_empty() && !export.is_empty());
    if well_formed {
        Ok(())
    } else {
        Err(ConfigError::new(
            "handler",
            format!(
                "`{handler}` is not {} (for example {}), at most 128 characters",
                if language == Language::Python {
                    "MODULE.FUNCTION"
                } else {
                    "FILE.EXPORT"
                },
                language.default_handler()
            ),
        ))
    }
}

/// An export name (of a module's handler).
pub fn validate_handler(handler: &str) -> Result<(), ConfigError> {
    if handler.is_empty() {
        return Err(ConfigError::new(
            "handler",
            "must name an export (`_start` for a WASI command)",
        ));
    }
    if handler.len() > 128 || handler.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            "handler",
            "must be an export name of at most 128 characters without spaces",
        ));
    }
    Ok(())
}

/// 128–10,240 MB in 1 MB steps.
pub fn validate_memory_mb(memory_mb: u32) -> Result<(), ConfigError> {
    if (MEMORY_MIN_MB..=MEMORY_MAX_MB).contains(&memory_mb) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "memory_mb",
            format!("{memory_mb} is out of range; allowed {MEMORY_MIN_MB}–{MEMORY_MAX_MB} MB"),
        ))
    }
}

/// Checks an ephemeral storage size against Lambda's range (512–10,240 MB).
pub fn validate_ephemeral_storage_mb(size_mb: u32) -> Result<(), ConfigError> {
    if (EPHEMERAL_MIN_MB..=EPHEMERAL_MAX_MB).contains(&size_mb) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "ephemeral_storage_mb",
            format!("{size_mb} is out of range; allowed {EPHEMERAL_MIN_MB}–{EPHEMERAL_MAX_MB} MB"),
        ))
    }
}

/// 1–900 seconds.
pub fn validate_timeout_s(timeout_s: u32) -> Result<(), ConfigError> {
    if (TIMEOUT_MIN_S..=TIMEOUT_MAX_S).contains(&timeout_s) {
        Ok(())
    } else {
        Err(ConfigError::new(
            "timeout_s",
            format!("{timeout_s} is out of range; allowed {TIMEOUT_MIN_S}–{TIMEOUT_MAX_S} seconds"),
        ))
    }
}

/// Names as Lambda allows them, none reserved, 4 KB in total.
pub fn validate_environment(env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for key in env.keys() {
        let mut chars = key.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::new(
                "environment",
                format!(
                    "`{key}` is not a valid name; use letters, digits and `_`, starting with a letter"
                ),
            ));
        }
        if RESERVED_ENV.contains(&key.as_str()) {
            return Err(ConfigError::new(
                "environment",
                format!("`{key}` is reserved by Lambda and set by the runtime"),
            ));
        }
    }
    let bytes = environment_bytes(env);
    if bytes > ENVIRONMENT_MAX_BYTES {
        return Err(ConfigError::new(
            "environment",
            format!("{bytes} bytes in total; allowed at most {ENVIRONMENT_MAX_BYTES} bytes (4 KB)"),
        ));
    }
    Ok(())
}

/// A guest path in its one spelling: absolute, no `.` or `..`, no repeated
/// or trailing `/` (`//data/` is `/data`; `/` and `//` are the root).
pub fn normalize_guest_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "guest path `{path}` is relative; it must start with `/`, such as `/data` (or `/` for the root)"
        ));
    }
    let mut parts = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." {
            return Err(format!(
                "guest path `{path}` must not contain `.` or `..` parts"
            ));
        }
        parts.push(part);
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A mount needs an absolute guest path and an existing host folder.
pub fn validate_mount(mount: &Mount) -> Result<(), ConfigError> {
    let guest =
        normalize_guest_path(&mount.guest_path).map_err(|m| ConfigError::new("role.mounts", m))?;
    if guest == "/tmp" || guest == "/var/task" {
        return Err(ConfigError::new(
            "role.mounts",
            format!(
                "guest path `{}` is provided by the runtime",
                mount.guest_path
            ),
        ));
    }
    if !mount.host_path.is_dir() {
        return Err(ConfigError::new(
            "role.mounts",
            format!("host folder does not exist: {}", mount.host_path.display()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambdas_runtime_identifiers_name_the_languages() {
        for (name, want) in [
            ("wasm", Some(Language::Wasm)),
            ("provided.al2023", Some(Language::Wasm)),
            ("nodejs18.x", Some(Language::Javascript)),
            ("nodejs24.x", Some(Language::Javascript)),
            ("NodeJS", Some(Language::Javascript)),
            ("python3.9", Some(Language::Python)),
            ("python3.14", Some(Language::Python)),
            ("python", Some(Language::Python)),
            ("nodejs16.x", None),
            ("python3.8", None),
            ("python3.15", None),
            ("python2.7", None),
            ("python3.", None),
            ("ruby3.3", None),
            ("", None),
        ] {
            assert_eq!(Language::parse(name), want, "{name}");
        }
        // Lambda's identifiers proper (not the short names) name a language;
        // one kept with a function must name its language.
        assert_eq!(language_of_runtime_id("provided.al2"), Some(Language::Wasm));
        assert_eq!(language_of_runtime_id("python3.12"), Some(Language::Python));
        assert_eq!(language_of_runtime_id("python"), None);
        assert_eq!(language_of_runtime_id("wasm"), None);
        let mut c = FunctionConfig {
            runtime: Language::Python,
            handler: "lambda_function.lambda_handler".into(),
            runtime_id: "python3.12".into(),
            ..FunctionConfig::default()
        };
        assert!(c.validate().is_ok());
        c.runtime_id = "nodejs22.x".into();
        let e = c.validate().unwrap_err();
        assert_eq!(e[0].field, "runtime_id", "{e:?}");
        // Stored by name, and read back.
        for l in Language::ALL {
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(serde_json::from_str::<Language>(&json).unwrap(), l);
        }
        let e = serde_json::from_str::<Language>("\"java21\"").unwrap_err();
        assert!(e.to_string().contains("python3.14"), "{e}");
        // Handlers: MODULE.FUNCTION for Python, FILE.EXPORT for JavaScript.
        assert!(validate_handler_for(Language::Python, "lambda_function.lambda_handler").is_ok());
        assert!(validate_handler_for(Language::Python, "api/routes.handle").is_ok());
        let e = validate_handler_for(Language::Python, "lambda_handler").unwrap_err();
        assert!(e.to_string().contains("MODULE.FUNCTION"), "{e}");
        let e = validate_handler_for(Language::Javascript, "handler").unwrap_err();
        assert!(e.to_string().contains("FILE.EXPORT"), "{e}");
    }

    #[test]
    fn guest_paths_have_one_spelling() {
        assert_eq!(normalize_guest_path("/").unwrap(), "/");
        assert_eq!(normalize_guest_path("//").unwrap(), "/");
        assert_eq!(normalize_guest_path("//data/x/").unwrap(), "/data/x");
        assert!(
            normalize_guest_path("data")
                .unwrap_err()
                .contains("relative")
        );
        assert!(normalize_guest_path("/a/../b").is_err());
    }

    #[test]
    fn cpu_share_follows_memory() {
        let l = CpuShare::Lambda;
        assert!((l.fraction(128) - 0.0724).abs() < 0.0001);
        assert!((l.fraction(1769) - 1.0).abs() < f64::EPSILON);
        assert!((l.fraction(10_240) - 1.0).abs() < f64::EPSILON);
        assert!((CpuShare::Off.fraction(128) - 1.0).abs() < f64::EPSILON);
        assert_eq!(CpuShare::parse("off"), Ok(CpuShare::Off));
        assert!(CpuShare::parse("half").unwrap_err().contains("`half`"));
    }

    #[test]
    fn defaults_are_lambdas() {
        let c = FunctionConfig::default();
        assert_eq!(c.memory_mb, 128);
        assert_eq!(c.timeout_s, 3);
        assert_eq!(c.idle_timeout_s, 600);
        assert_eq!(c.ephemeral_storage_mb, 512);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn out_of_range_names_field_and_range() {
        let c = FunctionConfig {
            memory_mb: 64,
            timeout_s: 901,
            ephemeral_storage_mb: 511,
            ..Default::default()
        };
        let errors = c.validate().unwrap_err();
        assert_eq!(
            errors[2].to_string(),
            "ephemeral_storage_mb: 511 is out of range; allowed 512–10240 MB"
        );
        assert_eq!(
            errors[0].to_string(),
            "memory_mb: 64 is out of range; allowed 128–10240 MB"
        );
        assert_eq!(
            errors[1].to_string(),
            "timeout_s: 901 is out of range; allowed 1–900 seconds"
        );
    }

    #[test]
    fn environment_limit_is_4kb() {
        let mut env = BTreeMap::new();
        env.insert("A".to_owned(), "x".repeat(4095));
        assert!(validate_environment(&env).is_ok());
        env.insert("B".to_owned(), String::new());
        assert!(validate_environment(&env).is_err());
        let mut reserved = BTreeMap::new();
        reserved.insert("AWS_REGION".to_owned(), "x".to_owned());
        assert!(validate_environment(&reserved).is_err());
    }

    #[test]
    fn missing_fields_take_defaults() {
        let c: FunctionConfig = serde_json::from_str(r#"{"memory_mb": 256}"#).unwrap();
        assert_eq!(c.memory_mb, 256);
        assert_eq!(c.timeout_s, 3);
    }
}
