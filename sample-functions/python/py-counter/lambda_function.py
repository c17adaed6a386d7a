# Code outside the handler runs once, in INIT; what it sets up stays for the
# warm starts of the same environment, as in Lambda.
import datetime

started_at = datetime.datetime.now(datetime.timezone.utc).isoformat()
count = 0
print("INIT: a new environment")


def lambda_handler(event, context):
    global count
    count += 1
    return {"count": count, "startedAt": started_at, "logStream": context.log_stream_name}
