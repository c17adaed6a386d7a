//! The `lambdesk` command line: `invoke` (as `sam local invoke`, without
//! Docker), `events` (Lambda-shaped sample events), `samples`, `serve`,
//! `tune`, and (in `remote`) commands for a running `serve` or app: `queue`,
//! `stream`, `publish`, `versions`, `alias` and `invoke --qualifier`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::model::events::{TEMPLATES, template};
use crate::model::{CpuShare, FunctionConfig, Mount};
use crate::runtime::{InvokeOptions, LogSink, Runtime, RuntimeOptions, StartKind};

mod remote;

pub use remote::{AliasCommand, Endpoint};
use remote::{print_reply, text_or_stdin, url_segment};

/// Lambdesk: run serverless functions (WebAssembly + WASI) locally, the way AWS Lambda runs them.
#[derive(Debug, Parser)]
#[command(name = "lambdesk", version, about)]
pub struct Cli {
    /// What to do; with none, the desktop app opens.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The app's workspace folder (default: the user data folder, or $LAMBDESK_WORKSPACE).
    #[arg(long, global = true, env = "LAMBDESK_WORKSPACE")]
    pub workspace: Option<PathBuf>,
    /// Start the app, invoke the `hello` sample, save a screenshot of the
    /// window to this PNG and quit (a real-window check).
    #[arg(long, value_name = "PNG")]
    pub smoke_test: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Invoke a function module once or many times.
    Invoke(InvokeArgs),
    /// Write a new function's folder from a blueprint (as the Lambda
    /// console's "Author from scratch"): then `lambdesk invoke DIR`.
    Init {
        /// The language: javascript (or nodejs18.x … nodejs24.x), python (or
        /// python3.9 … python3.14).
        #[arg(long, default_value = "javascript")]
        runtime: String,
        /// The blueprint: hello-world, api-gateway, s3-event, sqs-batch.
        #[arg(long, default_value = "hello-world")]
        blueprint: String,
        /// The folder to write (made if missing; existing files are kept
        /// and nothing is written).
        dir: PathBuf,
    },
    /// Lambda-shaped sample events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// The built-in sample functions.
    #[command(subcommand)]
    Samples(SamplesCommand),
    /// Serve the Lambda Invoke API (for the AWS CLI and SDKs) on loopback.
    Serve(ServeArgs),
    /// Send messages to a local queue of a running `serve` or app.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Put records on a local stream of a running `serve` or app.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Power tuning: run a function at several memory sizes and recommend one
    /// (as AWS Lambda Power Tuning), with the CPU share on.
    Tune(TuneArgs),
    /// Publish a function's $LATEST as a new version, on a running `serve` or app.
    Publish {
        /// The function.
        function: String,
        /// The version's description.
        #[arg(long)]
        description: Option<String>,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// List a function's versions on a running `serve` or app.
    Versions {
        /// The function.
        function: String,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Create, update, delete or list aliases on a running `serve` or app.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// State machines (Amazon States Language): validate and run them locally.
    #[command(subcommand)]
    States(StatesCommand),
}

/// `lambdesk states …`
#[derive(Debug, Subcommand)]
pub enum StatesCommand {
    /// Check a definition: every problem, with its JSON pointer.
    Validate {
        /// The definition (Amazon States Language JSON).
        definition: PathBuf,
    },
    /// Run a definition once; prints its output (exit status 1 when the
    /// execution does not succeed, with its error on stderr).
    Run {
        /// The definition (Amazon States Language JSON).
        definition: PathBuf,
        /// The execution input: JSON text, or a file holding it. Default `{}`.
        #[arg(long)]
        input: Option<String>,
        /// A function the Task states call: NAME=MODULE (repeatable).
        #[arg(long = "function", value_name = "NAME=MODULE")]
        functions: Vec<String>,
        /// Print the event history (as `GetExecutionHistory` returns it) instead of the output.
        #[arg(long)]
        history: bool,
        /// Speed of Wait and Retry: 60 plays a minute in a second.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Folder for precompiled modules (default: the user cache folder).
        #[arg(long, env = "LAMBDESK_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Run one state (as the `TestState` API): prints its status, output,
    /// next state and each data-flow step as JSON.
    TestState {
        /// The state's definition (one state's JSON, as in `States`).
        state: PathBuf,
        /// The state's input: JSON text, or a file holding it. Default `{}`.
        #[arg(long)]
        input: Option<String>,
        /// Workflow variables the state can read (`$name`): a JSON object, or
        /// a file holding one.
        #[arg(long)]
        variables: Option<String>,
        /// A function a Task calls: NAME=MODULE (repeatable).
        #[arg(long = "function", value_name = "NAME=MODULE")]
        functions: Vec<String>,
        /// Folder for precompiled modules (default: the user cache folder).
        #[arg(long, env = "LAMBDESK_CACHE_DIR")]
        cache_dir: Option<PathBuf>,
    },
}

/// `lambdesk tune …`
#[derive(Debug, Parser)]
pub struct TuneArgs {
    /// The function's code (a .wasm, .wat or .zip file), or a workspace
    /// folder whose function (`--function`) is tuned with its settings and
    /// selected test event.
    pub module: PathBuf,
    /// With a workspace folder: the function to tune (needed when it has more than one).
    #[arg(long)]
    pub function: Option<String>,
    /// Duration price per GB-second on x86, USD (default: Lambda's).
    #[arg(long, default_value_t = crate::host::tuning::PRICE_X86_GB_S)]
    pub price_x86: f64,
    /// Duration price per GB-second on arm64, USD (default: Lambda's).
    #[arg(long, default_value_t = crate::host::tuning::PRICE_ARM64_GB_S)]
    pub price_arm64: f64,
    /// The export to call. Default: `_start` if exported, else `handler`.
    #[arg(long)]
    pub handler: Option<String>,
    /// Memory sizes in MB, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = crate::host::tuning::DEFAULT_SIZES.to_vec())]
    pub memory: Vec<u32>,
    /// Invocations per size (at least 5).
    #[arg(long, default_value_t = crate::host::tuning::DEFAULT_INVOCATIONS)]
    pub num: usize,
    /// An event file, optionally with a weight (`FILE@3`); repeatable.
    /// Default: `{}`.
    #[arg(long = "event", value_name = "FILE[@WEIGHT]")]
    pub events: Vec<String>,
    /// cost, speed or balanced.
    #[arg(long, default_value = "cost")]
    pub strategy: String,
    /// For `balanced`: 0 is all speed, 1 all cost.
    #[arg(long, default_value_t = 0.5)]
    pub balanced_weight: f64,
    /// Run each size's invocations at once.
    #[arg(long)]
    pub parallel: bool,
    /// Every invocation a cold start.
    #[arg(long)]
    pub cold: bool,
    /// Timeout in seconds (1–900).
    #[arg(long, default_value_t = 3)]
    pub timeout: u32,
    /// Environment variable (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Print AWS Lambda Power Tuning's JSON output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Folder for precompiled modules (default: the user cache folder).
    #[arg(long, env = "LAMBDESK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// `lambdesk queue …`
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Send a message; prints its MessageId.
    Send {
        /// Queue name.
        name: String,
        /// The message body, or `-` for stdin.
        body: String,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
    /// Print how many messages wait.
    Count {
        /// Queue name.
        name: String,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// `lambdesk stream …`
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// Put a record; prints its shard id and sequence number.
    Put {
        /// Stream name.
        name: String,
        /// The data (for DynamoDB, the change as JSON), or `-` for stdin.
        data: String,
        /// Partition key (Kinesis).
        #[arg(long)]
        partition_key: Option<String>,
        /// Where the running host listens.
        #[command(flatten)]
        endpoint: Endpoint,
    },
}

/// `lambdesk serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A function: NAME=MODULE (repeatable); the workspace's functions are served too.
    #[arg(long = "function", value_name = "NAME=MODULE")]
    pub functions: Vec<String>,
    /// Port of the Lambda API (0 picks a free one).
    #[arg(long, default_value_t = crate::host::LAMBDA_PORT)]
    pub lambda_port: u16,
    /// Port of the HTTP API (API Gateway stand-in) for --route (0 picks a free one).
    #[arg(long, default_value_t = crate::host::HTTP_PORT)]
    pub http_port: u16,
    /// Port of the Step Functions API (0 picks a free one). Step Functions
    /// Local's 8083 by default; when it is taken, `serve` runs without it and says so.
    #[arg(long, default_value_t = crate::host::SFN_PORT)]
    pub sfn_port: u16,
    /// A state machine: NAME=DEFINITION.json (repeatable), a STANDARD machine
    /// whose Task states call the functions served.
    #[arg(long = "state-machine", value_name = "NAME=DEFINITION")]
    pub state_machines: Vec<String>,
    /// An HTTP route: 'METHOD /path=FUNCTION' (repeatable); `{param}`, greedy
    /// `{proxy+}`, method ANY; add `@1.0` for the REST API payload format.
    #[arg(long = "route", value_name = "METHOD /path=FUNCTION")]
    pub routes: Vec<String>,
    /// A schedule: 'EXPR=FUNCTION' with an EventBridge `rate(…)` or `cron(…)`
    /// expression (UTC), repeatable; each firing delivers a Scheduled Event.
    #[arg(long = "schedule", value_name = "EXPR=FUNCTION")]
    pub schedules: Vec<String>,
    /// A folder watched as an S3 bucket: 'DIR=FUNCTION[?prefix=P&suffix=S]'
    /// (repeatable); files created, overwritten or deleted deliver S3 events.
    #[arg(long = "bucket", value_name = "DIR=FUNCTION")]
    pub buckets: Vec<String>,
    /// A local queue mapped to a function: 'NAME=FUNCTION[?batch=N&window=S&visibility=S]'
    /// (repeatable); send messages with POST /lambdesk/queues/NAME on the Lambda API port.
    #[arg(long = "queue", value_name = "NAME=FUNCTION")]
    pub queues: Vec<String>,
    /// A local stream mapped to a function:
    /// 'NAME=FUNCTION[?kind=kinesis|dynamodb&shards=N&batch=N&retries=N]' (repeatable);
    /// put records with POST /lambdesk/streams/NAME?partitionKey=K on the Lambda API port.
    #[arg(long = "stream", value_name = "NAME=FUNCTION")]
    pub streams: Vec<String>,
    /// Folder of the durable asynchronous queue (default: `async-queue` in the
    /// workspace folder, or in `serve/` in the user data folder: never the
    /// app's own queue).
    #[arg(long)]
    pub queue_dir: Option<PathBuf>,
    /// Speed of the asynchronous queue's clock: 60 plays a minute of retry
    /// schedule in a second.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Address to listen on. Anything but loopback exposes your functions to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Folder for precompiled modules (default: the user cache folder).
    #[arg(long, env = "LAMBDESK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// CPU in proportion to memory as in Lambda (`lambda`) or full speed
    /// (`off`). Default: the workspace's setting, else `lambda`.
    #[arg(long = "cpu-share", value_name = "off|lambda", value_parser = CpuShare::parse)]
    pub cpu_share: Option<CpuShare>,
    /// Outbound HTTP grants for every function served.
    #[command(flatten)]
    pub outbound: OutboundArgs,
}

/// `lambdesk events …`
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List the event templates.
    List,
    /// Print one template's JSON.
    Show {
        /// Template name, as `events list` shows.
        name: String,
    },
}

/// `lambdesk samples …`
#[derive(Debug, Subcommand)]
pub enum SamplesCommand {
    /// List the sample functions.
    List,
    /// Write the sample modules into a folder.
    Export {
        /// Target folder.
        dir: PathBuf,
    },
}

/// Outbound HTTP for the functions a command loads.
#[derive(Debug, Args, Default)]
pub struct OutboundArgs {
    /// Let the functions call this destination: `scheme://host[:port]`, with
    /// `*.` for subdomains, `*` or `A..B` for ports (repeatable). Nothing is
    /// reachable without one; loopback and link-local addresses only when a
    /// grant names them (`http://127.0.0.1:8080`).
    #[arg(long = "allow-outbound", value_name = "PATTERN")]
    pub allow_outbound: Vec<String>,
    /// PEM file of certificate authorities to trust for HTTPS, besides the
    /// bundled Mozilla roots (for a private or test CA).
    #[arg(
        long = "extra-ca-certs",
        value_name = "PEM",
        env = "LAMBDESK_EXTRA_CA_CERTS"
    )]
    pub extra_ca_certs: Option<PathBuf>,
    /// Answer a name without DNS, as curl's `--resolve`: `HOST=ADDRESS`
    /// (repeatable). The address is checked against the grants like any other.
    #[arg(long = "resolve", value_name = "HOST=ADDRESS")]
    pub resolve: Vec<String>,
}

impl OutboundArgs {
    /// The runtime's outbound options; the grants are checked here, so a
    /// typo fails before anything runs.
    pub fn options(&self) -> anyhow::Result<crate::runtime::OutboundOptions> {
        if let Err(problems) = crate::model::outbound::Grants::parse(&self.allow_outbound) {
            bail!("--allow-outbound: {}", problems.join("; "));
        }
        let mut options = crate::runtime::OutboundOptions::default();
        if let Some(path) = &self.extra_ca_certs {
            options.extra_roots_pem = std::fs::read(path)
                .with_context(|| format!("--extra-ca-certs {}", path.display()))?;
        }
        for spec in &self.resolve {
            let (host, addr) = spec
                .split_once('=')
                .with_context(|| format!("--resolve {spec}: expected HOST=ADDRESS"))?;
            let ip: std::net::IpAddr =
                addr.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .with_context(|| format!("--resolve {spec}: `{addr}` is not an IP address"))?;
            options
                .resolve
                .entry(host.to_ascii_lowercase())
                .or_default()
                .push(ip);
        }
        Ok(options)
    }
}

/// `lambdesk invoke …`
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The function's code: a .wasm, .wat or .zip file (with `--qualifier`:
    /// the name of a function on a running `serve` or app).
    pub module: PathBuf,
    /// Invoke a version or alias (or `$LATEST`) of a function on a running
    /// `serve` or app, by name, through its Lambda API.
    #[arg(long)]
    pub qualifier: Option<String>,
    /// With `--qualifier`: where the running host listens.
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// The event: a JSON file, or `-` for stdin. Default `{}`.
    #[arg(long, short)]
    pub event: Option<String>,
    /// The export to call (`_start` for a WASI command). Default: `_start` if
    /// exported, else `handler`. JavaScript: `file.export` (default
    /// `index.handler`); Python: `module.function` (default
    /// `lambda_function.lambda_handler`).
    #[arg(long)]
    pub handler: Option<String>,
    /// What the code is: `wasm`, `javascript` or `python` (Lambda's
    /// `nodejs18.x` … `nodejs24.x` and `python3.9` … `python3.14` too).
    /// Default: from the code (`.js`, `.mjs`, `.cjs`, or a folder with
    /// `package.json` or `index.js`, is JavaScript; `.py`, or a folder with
    /// `.py` files, Python).
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// Memory in MB (128–10240).
    #[arg(long, default_value_t = 128)]
    pub memory: u32,
    /// Timeout in seconds (1–900).
    #[arg(long, default_value_t = 3)]
    pub timeout: u32,
    /// CPU in proportion to memory as in Lambda (`lambda`: 128 MB gets 7 % of a
    /// CPU) or full speed (`off`).
    #[arg(long = "cpu-share", value_name = "off|lambda", value_parser = CpuShare::parse, default_value = "lambda")]
    pub cpu_share: CpuShare,
    /// Size of /tmp in MB (512–10240), as Lambda's ephemeral storage.
    #[arg(long = "ephemeral-storage", value_name = "MB", default_value_t = 512)]
    pub ephemeral_storage: u32,
    /// Environment variable (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Host folder to mount (repeatable), read-only with `:ro`.
    #[arg(long = "mount", value_name = "HOST:GUEST[:ro]")]
    pub mounts: Vec<String>,
    /// Outbound HTTP grants.
    #[command(flatten)]
    pub outbound: OutboundArgs,
    /// Argument for a command module (repeatable).
    #[arg(long = "arg", value_name = "A", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Invoke this many times in one process.
    #[arg(long, default_value_t = 1)]
    pub times: usize,
    /// Discard the environment after each invocation: every start is cold.
    #[arg(long)]
    pub cold: bool,
    /// Invocations running at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Reserved concurrency of the function (0 throttles everything).
    #[arg(long)]
    pub reserved_concurrency: Option<u32>,
    /// Print neither logs nor responses, only the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Folder for precompiled modules (default: the user cache folder).
    #[arg(long, env = "LAMBDESK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Runs a subcommand; returns the process exit code.
pub fn run(command: Command, workspace: Option<PathBuf>) -> anyhow::Result<i32> {
    match command {
        Command::Serve(args) => serve(args, workspace),
        Command::Queue(QueueCommand::Send {
            name,
            body,
            endpoint,
        }) => {
            let body = text_or_stdin(body)?;
            let reply = crate::api::client::request(
                &endpoint.endpoint,
                "POST",
                &format!("/lambdesk/queues/{}", url_segment(&name)),
                body.as_bytes(),
            )?;
            print_reply(&reply, "MessageId")
        }
        Command::Queue(QueueCommand::Count { name, endpoint }) => {
            let reply = crate::api::client::request(
                &endpoint.endpoint,
                "GET",
                &format!("/lambdesk/queues/{}", url_segment(&name)),
                b"",
            )?;
            print_reply(&reply, "ApproximateNumberOfMessages")
        }
        Command::Stream(StreamCommand::Put {
            name,
            data,
            partition_key,
            endpoint,
        }) => {
            let data = text_or_stdin(data)?;
            let mut path = format!("/lambdesk/streams/{}", url_segment(&name));
            if let Some(k) = partition_key {
                path.push_str(&format!("?partitionKey={}", url_segment(&k)));
            }
            let reply =
                crate::api::client::request(&endpoint.endpoint, "POST", &path, data.as_bytes())?;
            if reply.status == 200 {
                let v: serde_json::Value = serde_json::from_slice(&reply.body)?;
                println!(
                    "{} {}",
                    v["ShardId"].as_str().unwrap_or(""),
                    v["SequenceNumber"].as_str().unwrap_or("")
                );
                Ok(0)
            } else {
                print_reply(&reply, "")
            }
        }
        Command::Invoke(args) => match args.qualifier.clone() {
            Some(q) => {
                let event = read_event(args.event.as_deref())?;
                let name = args.module.to_string_lossy().into_owned();
                remote::invoke(&name, &q, &event, &args.endpoint)
            }
            None => invoke(args),
        },
        Command::Publish {
            function,
            description,
            endpoint,
        } => remote::publish(&function, description, &endpoint),
        Command::Versions { function, endpoint } => remote::versions(&function, &endpoint),
        Command::Alias(command) => remote::alias(command),
        Command::Tune(args) => tune(&args),
        Command::States(cmd) => states(cmd),
        Command::Events(EventsCommand::List) => {
            for t in TEMPLATES {
                println!("{:<22} {}", t.name, t.description);
            }
            Ok(0)
        }
        Command::Events(EventsCommand::Show { name }) => match template(&name) {
            Some(t) => {
                print!("{}", t.body);
                Ok(0)
            }
            None => bail!(
                "no event template `{name}`; `lambdesk events list` shows them: {}",
                TEMPLATES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        Command::Init {
            runtime,
            blueprint,
            dir,
        } => {
            use crate::model::function_blueprints::{find, for_language};
            let language = crate::model::Language::parse(&runtime)
                .filter(|l| l.is_source())
                .with_context(|| {
                    format!("--runtime {runtime}: javascript (or nodejs18.x … nodejs24.x), python (or python3.9 … python3.14)")
                })?;
            let Some(b) = find(language, &blueprint) else {
                let names: Vec<&str> = for_language(language).map(|b| b.name).collect();
                bail!(
                    "--blueprint {blueprint}: one of {} for {language}",
                    names.join(", ")
                );
            };
            crate::store::scaffold::write(&dir, b)?;
            let event = dir.join("event.json");
            if !event.exists() {
                crate::store::atomic::write_atomic(&event, b.event().as_bytes())
                    .with_context(|| format!("writing {}", event.display()))?;
            }
            println!(
                "wrote {} ({}, handler {}); run it with: lambdesk invoke {} --event {}",
                dir.display(),
                b.name,
                b.handler,
                dir.display(),
                event.display()
            );
            Ok(0)
        }
        Command::Samples(SamplesCommand::List) => {
            for s in crate::store::samples::SAMPLES {
                println!("{:<16} {:<14} {}", s.name, s.handler, s.description);
            }
            Ok(0)
        }
        Command::Samples(SamplesCommand::Export { dir }) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for s in crate::store::samples::SAMPLES {
                let entry = s
                    .install(&dir)
                    .with_context(|| format!("writing {}", s.file_name))?;
                println!("{}", entry.code.display());
            }
            Ok(0)
        }
    }
}

/// The argument, or stdin for `-`.
fn serve(args: ServeArgs, workspace: Option<PathBuf>) -> anyhow::Result<i32> {
    let mut functions = Vec::new();
    for f in &args.functions {
        let (name, module) = f
            .split_once('=')
            .with_context(|| format!("--function {f}: expected NAME=MODULE"))?;
        functions.push((name.to_owned(), PathBuf::from(module)));
    }
    if !args.host.is_loopback() {
        eprintln!(
            "warning: listening on {}, not loopback: anyone who can reach this machine can invoke your functions",
            args.host
        );
    }
    // A workspace folder with no workspace.json yet becomes one
    // (`load_functions` says so), so its queues and events stay in it.
    if workspace.is_none() && functions.is_empty() {
        bail!("nothing to serve: give --function NAME=MODULE or --workspace DIR");
    }
    let sink: LogSink = Arc::new(|line: crate::runtime::LogLine| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{}] {}", line.function, line.text);
    });
    let mut options = RuntimeOptions {
        log_sink: Some(sink.clone()),
        outbound: args.outbound.options()?,
        ..RuntimeOptions::default()
    };
    if let Some(dir) = &args.cache_dir {
        options.cache_dir = Some(dir.clone());
    }
    let runtime = Runtime::new(options)?;
    let opts = crate::host::load::ServeOptions {
        workspace,
        functions,
        outbound: args.outbound.allow_outbound.clone(),
        ..Default::default()
    };
    let mut functions = crate::host::load::load_functions(&runtime, &opts)?;
    if let Some(share) = args.cpu_share {
        runtime.set_cpu_share(share);
    }
    // Triggers given as flags join the workspace's saved ones.
    let flags = [
        ("schedule", &args.schedules),
        ("route", &args.routes),
        ("bucket", &args.buckets),
        ("queue", &args.queues),
        ("stream", &args.streams),
    ];
    for (kind, specs) in flags {
        for spec in specs {
            let (function, source) =
                crate::model::TriggerSource::parse_spec(kind, spec).map_err(anyhow::Error::msg)?;
            // `NAME:ALIAS` (or `NAME:3`) aims the trigger at a version or alias.
            let (function, qualifier) = match function.split_once(':') {
                Some((f, q)) => (f.to_owned(), Some(q.to_owned())),
                None => (function, None),
            };
            if let Some(q) = &qualifier {
                crate::model::versions::Qualifier::parse(Some(q))
                    .map_err(|e| anyhow::anyhow!("--{kind} {spec}: {e}"))?;
            }
            let Some((_, triggers)) = functions.iter_mut().find(|(n, _)| *n == function) else {
                bail!("--{kind} {spec}: no function `{function}`");
            };
            triggers.push(crate::model::Trigger {
                qualifier,
                ..crate::model::Trigger::new(source)
            });
        }
    }
    let queue_dir = args.queue_dir.clone().unwrap_or_else(|| {
        opts.workspace
            .clone()
            .unwrap_or_else(|| crate::store::default_data_dir().join("serve"))
            .join("async-queue")
    });
    let mut host_options = crate::host::HostOptions::new(queue_dir);
    host_options.host = args.host;
    host_options.lambda_port = args.lambda_port;
    host_options.http_port = args.http_port;
    host_options.sfn_port = args.sfn_port;
    host_options.time_scale = args.time_scale;
    // With a workspace, local queues and streams keep their messages there.
    host_options.state_dir = opts.workspace.clone();
    // Functions created or changed through the API are saved in the workspace.
    if let Some(dir) = opts.workspace.clone() {
        host_options.on_function_change = Some(workspace_saver(dir));
    }
    // So are state machines: a thread woken by the host's change signal.
    let (machines_wake, machines_woken) = std::sync::mpsc::sync_channel::<()>(1);
    if opts.workspace.is_some() {
        host_options.on_change = Some(Arc::new(move || {
            let _ = machines_wake.try_send(());
        }));
    }
    host_options.log = Some(sink);
    let host = crate::api::start_host(runtime, host_options)?;
    // Triggers start (and take their first look at folders) before the
    // servers announce themselves, so whoever waits for that line misses nothing.
    let mut problems = Vec::new();
    for (name, triggers) in &functions {
        problems.extend(host.apply(name, triggers));
    }
    if !problems.is_empty() {
        bail!("triggers that cannot run: {}", problems.join("; "));
    }
    // The workspace's state machines (the app's), then the flags'.
    if let Some(dir) = &opts.workspace
        && let Ok(Some(ws)) =
            crate::model::Workspace::load(&dir.join(crate::model::workspace::WORKSPACE_FILE))
    {
        for m in &ws.state_machines {
            let kind = if m.kind.is_empty() {
                "STANDARD"
            } else {
                &m.kind
            };
            if let Err(e) = host
                .state_machines()
                .create(&m.name, &m.definition, kind, "")
            {
                eprintln!("warning: state machine {} is not served: {e}", m.name);
            }
        }
    }
    for spec in &args.state_machines {
        let (name, path) = spec
            .split_once('=')
            .with_context(|| format!("--state-machine {spec}: expected NAME=DEFINITION.json"))?;
        let definition = std::fs::read_to_string(path)
            .with_context(|| format!("--state-machine {spec}: reading {path}"))?;
        host.state_machines()
            .create(name, &definition, "STANDARD", "")
            .map_err(|e| anyhow::anyhow!("--state-machine {spec}: {e}"))?;
    }
    if let Some(dir) = &opts.workspace {
        machines_saver(dir.clone(), host.state_machines().clone(), machines_woken)?;
    }
    println!("Lambda API listening on http://{}", host.lambda_addr());
    if let Some(addr) = host.http_addr() {
        println!("HTTP API listening on http://{addr}");
    }
    match host.sfn_addr() {
        Ok(addr) => println!("Step Functions API listening on http://{addr}"),
        Err(why) => eprintln!("warning: {why} (choose another port with --sfn-port)"),
    }
    for (name, triggers) in &functions {
        for t in triggers.iter().filter(|t| t.enabled) {
            let status = host.status(&t.id).unwrap_or_default();
            let mut line = format!("{} {} -> {name}", t.source.service(), t.source.summary());
            if let Some(endpoint) = &status.endpoint {
                line.push_str(&format!(": {endpoint}"));
            }
            if !status.next.is_empty() {
                let next: Vec<String> = status
                    .next
                    .iter()
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .collect();
                line.push_str(&format!("; next: {}", next.join(", ")));
            }
            println!("  {line}");
        }
    }
    let names: Vec<&str> = functions.iter().map(|(n, _)| n.as_str()).collect();
    println!("functions: {}", names.join(", "));
    let _ = std::io::stdout().flush();
    // Serve until killed.
    loop {
        std::thread::park();
    }
}

/// A JSON value given as text or as a file holding it (`{}` when not given).
fn json_arg(text: Option<String>, what: &str) -> anyhow::Result<serde_json::Value> {
    let Some(text) = text else {
        return Ok(serde_json::json!({}));
    };
    let text = if Path::new(&text).is_file() {
        std::fs::read_to_string(&text).with_context(|| format!("reading {text}"))?
    } else {
        text
    };
    serde_json::from_str(&text).with_context(|| format!("{what} is not JSON"))
}

/// A runtime for state machines' tasks: the `--function`s deployed, their
/// log lines on stderr; and how the tasks invoke them.
fn task_runtime(
    functions: &[String],
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<(Runtime, crate::host::states::InvokeFn)> {
    let sink: LogSink = Arc::new(|line: crate::runtime::LogLine| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{}] {}", line.function, line.text);
    });
    let mut options = RuntimeOptions {
        log_sink: Some(sink),
        ..RuntimeOptions::default()
    };
    if let Some(dir) = cache_dir {
        options.cache_dir = Some(dir);
    }
    let runtime = Runtime::new(options)?;
    for f in functions {
        let (name, module) = f
            .split_once('=')
            .with_context(|| format!("--function {f}: expected NAME=MODULE"))?;
        crate::host::load::deploy_guessing_handler(
            &runtime,
            name,
            Path::new(module),
            FunctionConfig::default(),
            false,
        )
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    }
    let rt = runtime.clone();
    let invoke: crate::host::states::InvokeFn = Arc::new(move |target, payload, cancel| {
        // No versions here: `NAME` and `NAME:$LATEST` are the module given.
        let name = target.strip_suffix(":$LATEST").unwrap_or(target);
        rt.invoke_with(
            name,
            payload,
            &InvokeOptions {
                cancel: Some(cancel.clone()),
                ..InvokeOptions::default()
            },
        )
    });
    Ok((runtime, invoke))
}

fn states(cmd: StatesCommand) -> anyhow::Result<i32> {
    use crate::model::states::definition;
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    };
    match cmd {
        StatesCommand::TestState {
            state,
            input,
            variables,
            functions,
            cache_dir,
        } => {
            let text = read(&state)?;
            let input = json_arg(input, "--input")?;
            let (_runtime, invoke) = task_runtime(&functions, cache_dir)?;
            let env = crate::host::states::Env {
                invoke,
                clock: crate::host::async_queue::Clock::new(1.0),
            };
            let variables = match json_arg(variables, "--variables")? {
                serde_json::Value::Object(o) => o,
                _ => anyhow::bail!("--variables must be a JSON object of names and values"),
            };
            let r = crate::host::state_machines::test_state(&text, &input, variables, &env)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out = serde_json::json!({
                "status": r.status,
                "inspectionData": r.inspection,
                "variables": r.variables,
            });
            if let Some(o) = &r.output {
                out["output"] = o.clone();
            }
            if let Some(n) = &r.next_state {
                out["nextState"] = serde_json::json!(n);
            }
            if let Some((e, c)) = &r.error {
                out["error"] = serde_json::json!(e);
                out["cause"] = serde_json::json!(c);
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(if r.status == "FAILED" { 1 } else { 0 })
        }
        StatesCommand::Validate { definition: path } => match definition::parse(&read(&path)?) {
            Ok(m) => {
                println!(
                    "valid: {} states, starting at '{}'",
                    m.states.len(),
                    m.start_at
                );
                Ok(0)
            }
            Err(problems) => {
                for p in &problems {
                    println!("{p}");
                }
                eprintln!("{} problem(s) in {}", problems.len(), path.display());
                Ok(1)
            }
        },
        StatesCommand::Run {
            definition: path,
            input,
            functions,
            history,
            time_scale,
            cache_dir,
        } => {
            let machine = definition::parse(&read(&path)?).map_err(|problems| {
                let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::anyhow!("the definition is not valid:\n{}", text.join("\n"))
            })?;
            let input = json_arg(input, "--input")?;
            let (_runtime, invoke) = task_runtime(&functions, cache_dir)?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "machine".to_owned());
            let machine_arn = format!(
                "arn:aws:states:{}:{}:stateMachine:{name}",
                crate::model::REGION,
                crate::model::ACCOUNT_ID
            );
            let exec = crate::host::states::start(
                Arc::new(machine),
                &machine_arn,
                &uuid::Uuid::new_v4().to_string(),
                input,
                crate::host::states::Env {
                    invoke,
                    clock: crate::host::async_queue::Clock::new(time_scale),
                },
            )?;
            while !exec.wait(Duration::from_secs(3600)) {}
            let record = exec.record();
            if history {
                let events: Vec<serde_json::Value> =
                    record.events.iter().map(|e| e.to_json()).collect();
                println!("{}", serde_json::json!({ "events": events }));
            } else if let Some(out) = &record.output {
                println!("{out}");
            }
            if record.status == crate::host::states::Status::Succeeded {
                Ok(0)
            } else {
                let err = record
                    .error
                    .unwrap_or_else(|| crate::model::states::error::StatesError::new("", ""));
                eprintln!(
                    "{}",
                    serde_json::json!({"status": record.status, "error": err.error, "cause": err.cause})
                );
                Ok(1)
            }
        }
    }
}

fn parse_config(args: &InvokeArgs) -> anyhow::Result<FunctionConfig> {
    let mut config = FunctionConfig {
        memory_mb: args.memory,
        timeout_s: args.timeout,
        ephemeral_storage_mb: args.ephemeral_storage,
        args: args.args.clone(),
        reserved_concurrency: args.reserved_concurrency,
        ..FunctionConfig::default()
    };
    config.runtime = match &args.runtime {
        Some(r) => crate::model::Language::parse(r).with_context(|| {
            format!("--runtime {r}: one of wasm, javascript (or nodejs18.x … nodejs24.x), python (or python3.9 … python3.14)")
        })?,
        None => crate::runtime::code::infer_language(&args.module),
    };
    config.handler = if config.runtime.is_source() {
        crate::runtime::code::default_source_handler(&args.module, config.runtime)
    } else {
        config.runtime.default_handler().to_owned()
    };
    if let Some(h) = &args.handler {
        config.handler.clone_from(h);
    }
    parse_env(&args.env, &mut config.environment)?;
    for m in &args.mounts {
        config.role.mounts.push(parse_mount(m)?);
    }
    config
        .role
        .outbound
        .extend(args.outbound.allow_outbound.iter().cloned());
    if let Err(errors) = config.validate() {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("invalid configuration: {}", text.join("; "));
    }
    Ok(config)
}

fn parse_mount(spec: &str) -> anyhow::Result<Mount> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (spec.strip_suffix(":rw").unwrap_or(spec), false),
    };
    let (host, guest) = rest
        .rsplit_once(':')
        .with_context(|| format!("--mount {spec}: expected HOST:GUEST[:ro]"))?;
    let host_path = std::fs::canonicalize(host)
        .with_context(|| format!("--mount {spec}: host folder {host}"))?;
    Ok(Mount {
        host_path,
        guest_path: guest.to_owned(),
        read_only,
    })
}

fn read_event(event: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match event {
        None => Ok(b"{}".to_vec()),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the event from stdin")?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path).with_context(|| format!("reading the event file {path}")),
    }
}

/// Creates a runtime with `options` (and the cache folder, if given) and
/// deploys `module` under a name from its file name, guessing the handler
/// when none was given. Returns the runtime and the function's name.
fn load_module(
    mut options: RuntimeOptions,
    cache_dir: Option<&PathBuf>,
    module: &Path,
    config: FunctionConfig,
    handler_given: bool,
) -> anyhow::Result<(Runtime, String)> {
    if let Some(dir) = cache_dir {
        options.cache_dir = Some(dir.clone());
    }
    let runtime = Runtime::new(options)?;
    let name = module
        .file_stem()
        .map(|s| crate::model::workspace::sanitize_name(&s.to_string_lossy()))
        .unwrap_or_else(|| "function".to_owned());
    crate::host::load::deploy_guessing_handler(&runtime, &name, module, config, handler_given)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading {}", module.display()))?;
    Ok((runtime, name))
}

/// `K=V` pairs into environment variables.
fn parse_env(pairs: &[String], into: &mut BTreeMap<String, String>) -> anyhow::Result<()> {
    for kv in pairs {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--env {kv}: expected K=V"))?;
        into.insert(k.to_owned(), v.to_owned());
    }
    Ok(())
}

fn tune(args: &TuneArgs) -> anyhow::Result<i32> {
    use crate::host::tuning::{Strategy, TuneOptions};
    let strategy =
        Strategy::parse(&args.strategy, args.balanced_weight).map_err(anyhow::Error::msg)?;
    let mut events = Vec::new();
    for spec in &args.events {
        let (path, weight) = match spec.rsplit_once('@') {
            Some((p, w)) => (
                p,
                w.parse::<u32>().with_context(|| {
                    format!("--event {spec}: the weight must be a whole number")
                })?,
            ),
            None => (spec.as_str(), 1),
        };
        events.push((read_event(Some(path))?, weight));
    }
    let (module, mut config, handler_given) = if args.module.is_dir() {
        let dir = &args.module;
        let ws = crate::model::Workspace::load(&dir.join(crate::model::workspace::WORKSPACE_FILE))?
            .with_context(|| format!("{} has no workspace.json", dir.display()))?;
        let f = match &args.function {
            Some(n) => ws
                .functions
                .iter()
                .find(|f| f.name == *n)
                .with_context(|| format!("{} has no function `{n}`", dir.display()))?,
            None if ws.functions.len() == 1 => &ws.functions[0],
            None => bail!(
                "{} has {} functions; pick one with --function NAME",
                dir.display(),
                ws.functions.len()
            ),
        };
        if events.is_empty()
            && let Some(e) = f.events.get(f.selected_event)
        {
            events.push((e.body.clone().into_bytes(), 1));
        }
        let code = if f.code.is_absolute() {
            f.code.clone()
        } else {
            dir.join(&f.code)
        };
        (code, f.config.clone(), true)
    } else {
        let mut config = FunctionConfig {
            timeout_s: args.timeout,
            ..FunctionConfig::default()
        };
        if let Some(h) = &args.handler {
            config.handler.clone_from(h);
        }
        (args.module.clone(), config, args.handler.is_some())
    };
    if events.is_empty() {
        events.push((b"{}".to_vec(), 1));
    }
    parse_env(&args.env, &mut config.environment)?;
    let options = RuntimeOptions {
        pool_slots: 64,
        ..RuntimeOptions::default()
    };
    // Find the handler once, as `invoke` does.
    let (runtime, name) = load_module(
        options,
        args.cache_dir.as_ref(),
        &module,
        config.clone(),
        handler_given,
    )?;
    if let Some(c) = runtime.config(&name) {
        config = c;
    }
    runtime.remove(&name);
    let options = TuneOptions {
        sizes: args.memory.clone(),
        invocations: args.num,
        events,
        parallel: args.parallel,
        cold: args.cold,
        strategy,
        price_x86_gb_s: args.price_x86,
        price_arm64_gb_s: args.price_arm64,
        ..TuneOptions::default()
    };
    let quiet = args.json;
    let progress = |done: usize, total: usize| {
        if !quiet && (done.is_multiple_of(20) || done == total) {
            eprint!("\rtuning: {done}/{total} invocations");
            if done == total {
                eprintln!();
            }
        }
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let report = crate::host::tuning::tune(
        &runtime, &name, &module, &config, &options, &progress, &cancel,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.table());
    }
    Ok(i32::from(report.recommended.is_none()))
}

fn invoke(args: InvokeArgs) -> anyhow::Result<i32> {
    if args.times == 0 || args.concurrency == 0 {
        bail!("--times and --concurrency must be at least 1");
    }
    let config = parse_config(&args)?;
    let event = read_event(args.event.as_deref())?;
    let sink: Option<LogSink> = if args.quiet {
        None
    } else {
        Some(Arc::new(|line: crate::runtime::LogLine| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", line.text);
        }))
    };
    let options = RuntimeOptions {
        log_sink: sink,
        outbound: args.outbound.options()?,
        cpu_share: args.cpu_share,
        pool_slots: (args.concurrency as u32).clamp(16, crate::runtime::ACCOUNT_CONCURRENCY),
        ..RuntimeOptions::default()
    };
    let (runtime, name) = load_module(
        options,
        args.cache_dir.as_ref(),
        &args.module,
        config,
        args.handler.is_some(),
    )?;

    let next = AtomicUsize::new(0);
    let samples: Mutex<Vec<(StartKind, Duration)>> = Mutex::new(Vec::with_capacity(args.times));
    // Function errors by type and refused invocations (throttles, …) by error type.
    let errors: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let refused: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let count = |m: &Mutex<BTreeMap<String, usize>>, key: &str| {
        if let Ok(mut m) = m.lock() {
            *m.entry(key.to_owned()).or_default() += 1;
        }
    };
    let stdout = Mutex::new(std::io::stdout());
    let invoke_options = InvokeOptions {
        discard_environment: args.cold,
        ..InvokeOptions::default()
    };
    let worker = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= args.times {
            return;
        }
        let started = Instant::now();
        let result = runtime.invoke_with(&name, &event, &invoke_options);
        let elapsed = started.elapsed();
        match &result {
            Ok(inv) => {
                match inv.error() {
                    // An environment that failed is not a start worth timing.
                    Some(e) => count(&errors, &e.error_type),
                    None => {
                        if let Ok(mut s) = samples.lock() {
                            s.push((inv.start, elapsed));
                        }
                    }
                }
                if !args.quiet
                    && let Ok(mut out) = stdout.lock()
                {
                    let _ = out.write_all(&inv.payload());
                    let _ = out.write_all(b"\n");
                }
            }
            Err(e) => {
                count(&refused, e.error_type());
                if !args.quiet {
                    eprintln!("{e}");
                }
            }
        }
    };
    std::thread::scope(|scope| {
        for n in 1..args.concurrency.min(args.times) {
            let worker = &worker;
            let _ = std::thread::Builder::new()
                .name(format!("lambdesk-invoke-{n}"))
                .spawn_scoped(scope, worker);
        }
        worker();
    });
    let _ = std::io::stdout().flush();
    if args.times > 1 {
        let samples = samples.into_inner().unwrap_or_default();
        for kind in [StartKind::Cold, StartKind::Warm] {
            let mut us: Vec<f64> = samples
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, d)| d.as_secs_f64() * 1e6)
                .collect();
            if us.is_empty() {
                continue;
            }
            us.sort_by(f64::total_cmp);
            eprintln!(
                "{} n={} p50_us={:.1} p99_us={:.1}",
                kind.label().to_lowercase(),
                us.len(),
                crate::runtime::report::percentile(&us, 50.0),
                crate::runtime::report::percentile(&us, 99.0)
            );
        }
    }
    let errors = errors.into_inner().unwrap_or_default();
    let refused = refused.into_inner().unwrap_or_default();
    if args.times > 1 {
        let detail = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, n)| format!(" {k}={n}"))
                .collect::<String>()
        };
        let throttles: BTreeMap<String, usize> = refused
            .iter()
            .filter(|(k, _)| k.as_str() == "TooManyRequestsException")
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        let other: BTreeMap<String, usize> = refused
            .iter()
            .filter(|(k, _)| k.as_str() != "TooManyRequestsException")
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        let mut all_errors = errors.clone();
        for (k, n) in &other {
            *all_errors.entry(k.clone()).or_default() += n;
        }
        let n_errors: usize = all_errors.values().sum();
        if n_errors > 0 {
            eprintln!("errors n={n_errors}{}", detail(&all_errors));
        }
        let n_throttles: usize = throttles.values().sum();
        if n_throttles > 0 {
            eprintln!("throttles n={n_throttles}");
        }
    }
    // Non-zero when any invocation failed, as a script expects.
    Ok(i32::from(!errors.is_empty() || !refused.is_empty()))
}

/// Saves the state machines created, updated and deleted through the Step
/// Functions API in the workspace file of `serve`, on a thread woken by the
/// host's change signal (the app keeps its workspace itself). A machine the
/// workspace holds but the host never served (an invalid draft) is kept.
fn machines_saver(
    dir: PathBuf,
    machines: Arc<crate::host::state_machines::StateMachines>,
    woken: std::sync::mpsc::Receiver<()>,
) -> anyhow::Result<()> {
    let mut seen = machines.generation();
    let mut served: std::collections::BTreeSet<String> =
        machines.list().into_iter().map(|m| m.name).collect();
    std::thread::Builder::new()
        .name("lambdesk-machines-save".into())
        .spawn(move || {
            while woken.recv().is_ok() {
                let generation = machines.generation();
                if generation == seen {
                    continue;
                }
                seen = generation;
                let now = machines.list();
                if let Err(e) = save_machines(&dir, &now, &served) {
                    eprintln!("lambdesk: state machines not saved in the workspace: {e}");
                }
                served = now.into_iter().map(|m| m.name).collect();
            }
        })
        .context("starting the thread that saves state machines")?;
    Ok(())
}

/// Brings the workspace's state machines in line with the host's `now`;
/// writes the file only when something changed.
fn save_machines(
    dir: &Path,
    now: &[crate::host::state_machines::Machine],
    served: &std::collections::BTreeSet<String>,
) -> anyhow::Result<()> {
    let path = dir.join(crate::model::workspace::WORKSPACE_FILE);
    let mut ws = crate::model::Workspace::load(&path)?.unwrap_or_default();
    let before = ws.state_machines.clone();
    for m in now {
        match ws.state_machines.iter_mut().find(|e| e.name == m.name) {
            Some(e) => {
                e.definition.clone_from(&m.definition);
                // An empty type is the default, STANDARD: left as written.
                if !(e.kind.is_empty() && m.kind == "STANDARD") {
                    e.kind.clone_from(&m.kind);
                }
            }
            None => ws
                .state_machines
                .push(crate::model::workspace::StateMachineEntry {
                    name: m.name.clone(),
                    definition: m.definition.clone(),
                    kind: m.kind.clone(),
                    ..Default::default()
                }),
        }
    }
    // Deleted through the API: it was served and is not any more.
    ws.state_machines
        .retain(|e| now.iter().any(|m| m.name == e.name) || !served.contains(&e.name));
    if ws.state_machines != before {
        ws.save(&path)?;
    }
    Ok(())
}

/// Saves the API's function changes in the workspace file of `serve`.
fn workspace_saver(dir: PathBuf) -> crate::host::functions::FunctionsSink {
    use crate::host::functions::FunctionChange;
    let one = Arc::new(Mutex::new(()));
    Arc::new(move |change: FunctionChange| {
        let _one = one.lock().unwrap_or_else(|e| e.into_inner());
        let path = dir.join(crate::model::workspace::WORKSPACE_FILE);
        let mut ws = match crate::model::Workspace::load(&path) {
            Ok(Some(ws)) => ws,
            Ok(None) => crate::model::Workspace::default(),
            Err(e) => {
                eprintln!("lambdesk: not saved in the workspace: {e}");
                return;
            }
        };
        match change {
            FunctionChange::Created { name, code, config } => {
                ws.functions.retain(|f| f.name != name);
                ws.functions.push(crate::model::FunctionEntry {
                    name,
                    code,
                    config,
                    ..Default::default()
                });
            }
            FunctionChange::CodeUpdated { name, code } => {
                if let Some(f) = ws.functions.iter_mut().find(|f| f.name == name) {
                    f.code = code;
                }
            }
            FunctionChange::ConfigUpdated { name, config } => {
                if let Some(f) = ws.functions.iter_mut().find(|f| f.name == name) {
                    f.config = config;
                }
            }
            FunctionChange::Deleted { name } => ws.functions.retain(|f| f.name != name),
        }
        if let Err(e) = ws.save(&path) {
            eprintln!("lambdesk: not saved in the workspace: {e}");
        }
    })
}
