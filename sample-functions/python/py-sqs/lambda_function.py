# An SQS batch handler with a partial batch response: every message whose
# body is `fail` is reported in `batchItemFailures`, so only those are
# retried (ReportBatchItemFailures).
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    failures = []
    for record in event.get("Records", []):
        if record.get("body") == "fail":
            logger.warning("message %s failed", record["messageId"])
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            logger.info("message %s: %s", record["messageId"], record.get("body"))
    return {"batchItemFailures": failures}
