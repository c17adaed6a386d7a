//! Lambda-shaped sample events (the ones `sam local generate-event` and the
//! Lambda console's "Event templates" offer), embedded from `assets/events/`.

/// One event template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTemplate {
    /// Short name used on the command line (`lambdesk events show s3-put`).
    pub name: &'static str,
    /// What the event is.
    pub description: &'static str,
    /// The JSON text.
    pub body: &'static str,
}

/// Every template, sorted by name.
pub const TEMPLATES: &[EventTemplate] = &[
    EventTemplate {
        name: "alb",
        description: "Application Load Balancer request",
        body: include_str!("../../assets/events/alb.json"),
    },
    EventTemplate {
        name: "apigateway-http",
        description: "API Gateway HTTP API request (payload format 2.0)",
        body: include_str!("../../assets/events/apigateway-http.json"),
    },
    EventTemplate {
        name: "apigateway-rest",
        description: "API Gateway REST API proxy request (payload format 1.0)",
        body: include_str!("../../assets/events/apigateway-rest.json"),
    },
    EventTemplate {
        name: "cloudwatch-logs",
        description: "CloudWatch Logs subscription (gzip, base64)",
        body: include_str!("../../assets/events/cloudwatch-logs.json"),
    },
    EventTemplate {
        name: "dynamodb-stream",
        description: "DynamoDB Streams records (insert, modify)",
        body: include_str!("../../assets/events/dynamodb-stream.json"),
    },
    EventTemplate {
        name: "eventbridge-scheduled",
        description: "EventBridge scheduled event",
        body: include_str!("../../assets/events/eventbridge-scheduled.json"),
    },
    EventTemplate {
        name: "kinesis",
        description: "Kinesis Data Streams record",
        body: include_str!("../../assets/events/kinesis.json"),
    },
    EventTemplate {
        name: "s3-delete",
        description: "S3 object removed (ObjectRemoved:Delete)",
        body: include_str!("../../assets/events/s3-delete.json"),
    },
    EventTemplate {
        name: "s3-put",
        description: "S3 object created (ObjectCreated:Put)",
        body: include_str!("../../assets/events/s3-put.json"),
    },
    EventTemplate {
        name: "sns",
        description: "SNS notification",
        body: include_str!("../../assets/events/sns.json"),
    },
    EventTemplate {
        name: "sqs",
        description: "SQS messages (a batch of two)",
        body: include_str!("../../assets/events/sqs.json"),
    },
];

/// The template called `name`.
pub fn template(name: &str) -> Option<&'static EventTemplate> {
    TEMPLATES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_json_and_sorted() {
        for t in TEMPLATES {
            serde_json::from_str::<serde_json::Value>(t.body)
                .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        }
        let names: Vec<_> = TEMPLATES.iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
