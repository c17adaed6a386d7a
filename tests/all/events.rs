//! Every event template deserialises into the matching type of the
//! `aws_lambda_events` crate, so it has AWS's real shape.

use aws_lambda_events::event::{
    alb, apigw, cloudwatch_events, cloudwatch_logs, dynamodb, kinesis, s3, sns, sqs,
};
use lambdesk::model::events::{TEMPLATES, template};

fn body(name: &str) -> &'static str {
    template(name)
        .unwrap_or_else(|| panic!("no template {name}"))
        .body
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(body(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn templates_match_aws_types() {
    let r: apigw::ApiGatewayV2httpRequest = parse("apigateway-http");
    assert_eq!(r.version.as_deref(), Some("2.0"));
    assert_eq!(r.request_context.http.method.as_str(), "POST");
    let r: apigw::ApiGatewayProxyRequest = parse("apigateway-rest");
    assert_eq!(r.http_method.as_str(), "POST");
    assert_eq!(r.path.as_deref(), Some("/hello/world"));
    let e: s3::S3Event = parse("s3-put");
    assert_eq!(
        e.records[0].event_name.as_deref(),
        Some("ObjectCreated:Put")
    );
    assert_eq!(
        e.records[0].s3.bucket.name.as_deref(),
        Some("example-bucket")
    );
    let e: s3::S3Event = parse("s3-delete");
    assert_eq!(
        e.records[0].event_name.as_deref(),
        Some("ObjectRemoved:Delete")
    );
    let e: sqs::SqsEvent = parse("sqs");
    assert_eq!(e.records.len(), 2);
    assert_eq!(e.records[0].body.as_deref(), Some("Test message."));
    let e: sns::SnsEvent = parse("sns");
    assert_eq!(e.records[0].sns.message, "Hello from SNS!");
    let e: cloudwatch_events::CloudWatchEvent = parse("eventbridge-scheduled");
    assert_eq!(e.detail_type.as_deref(), Some("Scheduled Event"));
    assert_eq!(e.source.as_deref(), Some("aws.events"));
    let e: dynamodb::Event = parse("dynamodb-stream");
    assert_eq!(e.records.len(), 2);
    assert_eq!(e.records[1].event_name, "MODIFY");
    let e: kinesis::KinesisEvent = parse("kinesis");
    assert_eq!(e.records[0].kinesis.partition_key, "1");
    let e: cloudwatch_logs::LogsEvent = parse("cloudwatch-logs");
    assert_eq!(e.aws_logs.data.log_group, "testLogGroup");
    let r: alb::AlbTargetGroupRequest = parse("alb");
    assert_eq!(r.http_method.as_str(), "GET");
    assert_eq!(TEMPLATES.len(), 11);
}
