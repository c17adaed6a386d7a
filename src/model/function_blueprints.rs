//! Blueprints for new functions, as the Lambda console's "Author from
//! scratch" and blueprints: the files of a function folder, its handler and
//! a test event (named after `model/events.rs` templates where one fits).
//! `lambdesk init` and the app's *Create function* write them.

use super::Language;

/// One blueprint.
#[derive(Clone, Copy, Debug)]
pub struct FunctionBlueprint {
    /// Its name (`hello-world`, `api-gateway`, `s3-event`, `sqs-batch`).
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// The language it is written in.
    pub language: Language,
    /// The files, `(path in the folder, text)`.
    pub files: &'static [(&'static str, &'static str)],
    /// Lambda's handler setting for it.
    pub handler: &'static str,
    /// The test event it starts with: an event template's name, or `None`
    /// for Lambda's hello-world event.
    pub event_template: Option<&'static str>,
}

/// Lambda's hello-world test event.
pub const HELLO_EVENT: &str = r#"{
  "key1": "value1",
  "key2": "value2",
  "key3": "value3"
}"#;

/// Every blueprint, in the order the app lists them.
pub const FUNCTION_BLUEPRINTS: &[FunctionBlueprint] = &[
    FunctionBlueprint {
        name: "hello-world",
        description: "Logs the event and answers 200 with a greeting",
        language: Language::Javascript,
        files: &[(
            "index.mjs",
            include_str!("../../sample-functions/javascript/blueprints/hello-world.js"),
        )],
        handler: "index.handler",
        event_template: None,
    },
    FunctionBlueprint {
        name: "api-gateway",
        description: "An API Gateway (HTTP API) handler: a JSON response with status and headers",
        language: Language::Javascript,
        files: &[(
            "index.js",
            include_str!("../../sample-functions/javascript/node-api/index.js"),
        )],
        handler: "index.handler",
        event_template: Some("apigateway-http"),
    },
    FunctionBlueprint {
        name: "s3-event",
        description: "Reads the bucket and key of each S3 event record",
        language: Language::Javascript,
        files: &[(
            "index.mjs",
            include_str!("../../sample-functions/javascript/blueprints/s3-event.js"),
        )],
        handler: "index.handler",
        event_template: Some("s3-put"),
    },
    FunctionBlueprint {
        name: "sqs-batch",
        description: "An SQS batch handler with a partial batch response (batchItemFailures)",
        language: Language::Javascript,
        files: &[(
            "index.js",
            include_str!("../../sample-functions/javascript/node-sqs/index.js"),
        )],
        handler: "index.handler",
        event_template: Some("sqs"),
    },
    FunctionBlueprint {
        name: "hello-world",
        description: "Logs the event and answers 200 with a greeting",
        language: Language::Python,
        files: &[(
            "lambda_function.py",
            include_str!("../../sample-functions/python/blueprints/hello_world.py"),
        )],
        handler: "lambda_function.lambda_handler",
        event_template: None,
    },
    FunctionBlueprint {
        name: "api-gateway",
        description: "An API Gateway (HTTP API) handler: a JSON response with status and headers",
        language: Language::Python,
        files: &[(
            "lambda_function.py",
            include_str!("../../sample-functions/python/py-api/lambda_function.py"),
        )],
        handler: "lambda_function.lambda_handler",
        event_template: Some("apigateway-http"),
    },
    FunctionBlueprint {
        name: "s3-event",
        description: "Reads the bucket and key of each S3 event record",
        language: Language::Python,
        files: &[(
            "lambda_function.py",
            include_str!("../../sample-functions/python/blueprints/s3_event.py"),
        )],
        handler: "lambda_function.lambda_handler",
        event_template: Some("s3-put"),
    },
    FunctionBlueprint {
        name: "sqs-batch",
        description: "An SQS batch handler with a partial batch response (batchItemFailures)",
        language: Language::Python,
        files: &[(
            "lambda_function.py",
            include_str!("../../sample-functions/python/py-sqs/lambda_function.py"),
        )],
        handler: "lambda_function.lambda_handler",
        event_template: Some("sqs"),
    },
];

/// The blueprints of `language`.
pub fn for_language(language: Language) -> impl Iterator<Item = &'static FunctionBlueprint> {
    FUNCTION_BLUEPRINTS
        .iter()
        .filter(move |b| b.language == language)
}

/// The blueprint called `name` in `language`.
pub fn find(language: Language, name: &str) -> Option<&'static FunctionBlueprint> {
    for_language(language).find(|b| b.name == name)
}

impl FunctionBlueprint {
    /// Its test event's JSON.
    pub fn event(&self) -> &'static str {
        self.event_template
            .and_then(super::events::template)
            .map_or(HELLO_EVENT, |t| t.body)
    }
}
