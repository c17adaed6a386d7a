# Lambda's "Hello world" blueprint for Python: logs the event and answers 200
# with a greeting. Change it, then Deploy (Ctrl+S) and Test.
import json


def lambda_handler(event, context):
    print("event:", json.dumps(event))
    print("remaining time (ms):", context.get_remaining_time_in_millis())
    return {
        "statusCode": 200,
        "body": json.dumps({"message": "Hello from Lambdesk!", "input": event}),
    }
