# An API Gateway (HTTP API, payload 2.0) handler: greets `?name=` and says
# what it was asked, as a Lambda proxy integration answers.
import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    params = event.get("queryStringParameters") or {}
    name = params.get("name", "world")
    http = (event.get("requestContext") or {}).get("http") or {}
    method = http.get("method", event.get("httpMethod"))
    path = event.get("rawPath", event.get("path"))
    logger.info("request %s %s name=%s", method, path, name)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(
            {
                "message": f"Hello, {name}!",
                "method": method,
                "path": path,
                "requestId": context.aws_request_id,
            }
        ),
    }
