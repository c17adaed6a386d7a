# The handler a Lambda user reads first: prints its event, the time left and
# the memory limit, and returns the bucket of the first S3 record.
import json


def lambda_handler(event, context):
    print("Received event: " + json.dumps(event, indent=2))
    print("Remaining time (ms):", context.get_remaining_time_in_millis())
    print("Memory limit (MB):", context.memory_limit_in_mb)
    return event["Records"][0]["s3"]["bucket"]["name"]
