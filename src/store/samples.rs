//! The built-in sample functions, embedded in the binary so a fresh install
//! shows working functions with no set-up. Their sources are in
//! `sample-functions/`; `sample-functions/build.sh` rebuilds the `.wasm` files.
//! The JavaScript and Python samples (`sample-functions/javascript/`,
//! `sample-functions/python/`) are their own source, installed as a folder
//! each (`index.js` or `lambda_function.py`, as Lambda's default handlers
//! `index.handler` and `lambda_function.lambda_handler` expect).

use std::path::Path;

use crate::model::trigger::PayloadFormat;
use crate::model::{FunctionConfig, FunctionEntry, Language, TestEvent, Trigger, TriggerSource};
use crate::store::atomic::write_atomic;

/// One sample function.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Function name.
    pub name: &'static str,
    /// File name of its module.
    pub file_name: &'static str,
    /// The module (binary or text).
    pub code: &'static [u8],
    /// The export to call.
    pub handler: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// A ready test event: (name, JSON).
    pub event: (&'static str, &'static str),
    /// What the code is (a module, or JavaScript source).
    pub runtime: Language,
}

/// Every sample, in the order the app lists them.
pub const SAMPLES: &[Sample] = &[
    Sample {
        name: "hello",
        file_name: "hello.wasm",
        code: include_bytes!("../../sample-functions/dist/hello.wasm"),
        handler: "handler",
        description: "Greets event.name and echoes the event (Rust handler module)",
        event: (
            "hello-event",
            include_str!("../../assets/events/hello.json"),
        ),
        runtime: Language::Wasm,
    },
    Sample {
        name: "sum",
        file_name: "sum.wasm",
        code: include_bytes!("../../sample-functions/dist/sum.wasm"),
        handler: "_start",
        description: "Returns event.value1 + event.value2 (Rust command module)",
        event: ("two-numbers", include_str!("../../assets/events/sum.json")),
        runtime: Language::Wasm,
    },
    Sample {
        name: "s3-object-info",
        file_name: "s3-object-info.wasm",
        code: include_bytes!("../../sample-functions/dist/s3-object-info.wasm"),
        handler: "_start",
        description: "Bucket and key of an S3 event's first record (Rust command module)",
        event: ("s3-put", include_str!("../../assets/events/s3-put.json")),
        runtime: Language::Wasm,
    },
    Sample {
        name: "counter",
        file_name: "counter.wasm",
        code: include_bytes!("../../sample-functions/dist/counter.wasm"),
        handler: "handler",
        description: "Counts the invocations its environment served: warm state (Rust handler module)",
        event: ("empty", "{}"),
        runtime: Language::Wasm,
    },
    Sample {
        name: "behave",
        file_name: "behave.wasm",
        code: include_bytes!("../../sample-functions/dist/behave.wasm"),
        handler: "handler",
        description: "Sleeps, spins, allocates, panics, exits, logs or fails on request (Rust handler module)",
        event: (
            "sleep-500ms",
            include_str!("../../assets/events/behave.json"),
        ),
        runtime: Language::Wasm,
    },
    Sample {
        name: "http-request",
        file_name: "http-request.wasm",
        code: include_bytes!("../../sample-functions/dist/http-request.wasm"),
        handler: "handler",
        description: "Makes the HTTP request its event describes, to the role's outbound grants only (Rust handler module)",
        event: (
            "get-checkip",
            include_str!("../../assets/events/http-request.json"),
        ),
        runtime: Language::Wasm,
    },
    Sample {
        name: "echo-wat",
        file_name: "echo.wat",
        code: include_bytes!("../../sample-functions/wat/echo.wat"),
        handler: "_start",
        description: "Returns the event byte for byte (hand-written WAT command module)",
        event: (
            "hello-event",
            include_str!("../../assets/events/hello.json"),
        ),
        runtime: Language::Wasm,
    },
    Sample {
        name: "ping-wat",
        file_name: "ping.wat",
        code: include_bytes!("../../sample-functions/wat/ping.wat"),
        handler: "handler",
        description: "Counts pongs in a global: warm state (hand-written WAT handler module)",
        event: ("empty", "{}"),
        runtime: Language::Wasm,
    },
    Sample {
        name: "node-sum",
        file_name: "index.js",
        code: include_bytes!("../../sample-functions/javascript/node-sum/index.js"),
        handler: "index.handler",
        description: "Sums value1 and value2 through its callback (JavaScript, Node.js handler)",
        event: ("numbers", r#"{"value1": 20, "value2": 22}"#),
        runtime: Language::Javascript,
    },
    Sample {
        name: "node-api",
        file_name: "index.js",
        code: include_bytes!("../../sample-functions/javascript/node-api/index.js"),
        handler: "index.handler",
        description: "An API Gateway handler: GET /node-api?name=you (JavaScript, async)",
        event: (
            "api-gateway",
            r#"{"version": "2.0", "rawPath": "/node-api", "rawQueryString": "name=you", "queryStringParameters": {"name": "you"}, "requestContext": {"http": {"method": "GET", "path": "/node-api"}}}"#,
        ),
        runtime: Language::Javascript,
    },
    Sample {
        name: "node-sqs",
        file_name: "index.js",
        code: include_bytes!("../../sample-functions/javascript/node-sqs/index.js"),
        handler: "index.handler",
        description: "An SQS batch handler with a partial batch response (JavaScript)",
        event: (
            "sqs-batch",
            r#"{"Records": [{"messageId": "m1", "body": "hello", "eventSource": "aws:sqs"}, {"messageId": "m2", "body": "fail", "eventSource": "aws:sqs"}]}"#,
        ),
        runtime: Language::Javascript,
    },
    Sample {
        name: "node-counter",
        file_name: "index.mjs",
        code: include_bytes!("../../sample-functions/javascript/node-counter/index.mjs"),
        handler: "index.handler",
        description: "Counts its warm starts in module state (JavaScript ES module)",
        event: ("empty", "{}"),
        runtime: Language::Javascript,
    },
    Sample {
        name: "py-hello",
        file_name: "lambda_function.py",
        code: include_bytes!("../../sample-functions/python/py-hello/lambda_function.py"),
        handler: "lambda_function.lambda_handler",
        description: "Prints its event, the time left and the memory limit; returns the S3 bucket (Python)",
        event: ("s3-put", include_str!("../../assets/events/s3-put.json")),
        runtime: Language::Python,
    },
    Sample {
        name: "py-api",
        file_name: "lambda_function.py",
        code: include_bytes!("../../sample-functions/python/py-api/lambda_function.py"),
        handler: "lambda_function.lambda_handler",
        description: "An API Gateway handler: GET /py-api?name=you (Python, logging)",
        event: (
            "api-gateway",
            r#"{"version": "2.0", "rawPath": "/py-api", "rawQueryString": "name=you", "queryStringParameters": {"name": "you"}, "requestContext": {"http": {"method": "GET", "path": "/py-api"}}}"#,
        ),
        runtime: Language::Python,
    },
    Sample {
        name: "py-sqs",
        file_name: "lambda_function.py",
        code: include_bytes!("../../sample-functions/python/py-sqs/lambda_function.py"),
        handler: "lambda_function.lambda_handler",
        description: "An SQS batch handler with a partial batch response (Python)",
        event: (
            "sqs-batch",
            r#"{"Records": [{"messageId": "m1", "body": "hello", "eventSource": "aws:sqs"}, {"messageId": "m2", "body": "fail", "eventSource": "aws:sqs"}]}"#,
        ),
        runtime: Language::Python,
    },
    Sample {
        name: "py-counter",
        file_name: "lambda_function.py",
        code: include_bytes!("../../sample-functions/python/py-counter/lambda_function.py"),
        handler: "lambda_function.lambda_handler",
        description: "Counts its warm starts in module state (Python)",
        event: ("empty", "{}"),
        runtime: Language::Python,
    },
];

/// The sample called `name`.
pub fn sample(name: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|s| s.name == name)
}

impl Sample {
    /// The default configuration of this sample.
    pub fn config(&self) -> FunctionConfig {
        FunctionConfig {
            runtime: self.runtime,
            handler: self.handler.to_owned(),
            ..FunctionConfig::default()
        }
    }

    /// Writes the module into `dir` (if it is not there with the same content)
    /// and returns the workspace entry for it.
    pub fn install(&self, dir: &Path) -> std::io::Result<FunctionEntry> {
        // Source code is a folder of its own; a module is one file.
        let (folder, code) = if self.runtime.is_source() {
            let folder = dir.join(self.name);
            (folder.clone(), folder)
        } else {
            (dir.to_owned(), dir.join(self.file_name))
        };
        let path = folder.join(self.file_name);
        std::fs::create_dir_all(&folder)?;
        if std::fs::read(&path).ok().as_deref() != Some(self.code) {
            write_atomic(&path, self.code)?;
        }
        Ok(FunctionEntry {
            name: self.name.to_owned(),
            code,
            config: self.config(),
            events: vec![TestEvent {
                name: self.event.0.to_owned(),
                body: self.event.1.trim().to_owned(),
            }],
            selected_event: 0,
            triggers: self.triggers(dir),
        })
    }

    /// Triggers that show what the sample is for: `hello` answers
    /// `GET /hello`, `s3-object-info` watches an `uploads` folder, `behave`
    /// takes batches from the queue `jobs`, `counter` has a schedule (off).
    fn triggers(&self, dir: &Path) -> Vec<Trigger> {
        let source = match self.name {
            "hello" => TriggerSource::Http {
                method: "GET".into(),
                path: "/hello".into(),
                payload_format: PayloadFormat::V2,
            },
            "node-api" | "py-api" => TriggerSource::Http {
                method: "GET".into(),
                path: format!("/{}", self.name),
                payload_format: PayloadFormat::V2,
            },
            "s3-object-info" => {
                let uploads = dir.join("uploads");
                if std::fs::create_dir_all(&uploads).is_err() {
                    return Vec::new();
                }
                TriggerSource::Folder {
                    dir: uploads,
                    prefix: String::new(),
                    suffix: String::new(),
                }
            }
            "behave" => {
                let Some(mut queue) = TriggerSource::template("queue") else {
                    return Vec::new();
                };
                if let TriggerSource::Queue { queue: name, .. } = &mut queue {
                    "jobs".clone_into(name);
                }
                queue
            }
            "counter" => {
                return vec![Trigger {
                    enabled: false,
                    ..Trigger::new(TriggerSource::Schedule {
                        expression: "rate(1 minute)".into(),
                    })
                }];
            }
            _ => return Vec::new(),
        };
        vec![Trigger::new(source)]
    }
}
