# Reacts to S3 events: the bucket and the (URL-decoded) key of each record,
# as Lambda's "s3-get-object-python" blueprint reads them.
import urllib.parse


def lambda_handler(event, context):
    objects = []
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"], encoding="utf-8")
        size = record["s3"]["object"].get("size")
        print(f"{record['eventName']}: s3://{bucket}/{key} ({size} bytes)")
        objects.append({"bucket": bucket, "key": key, "size": size, "event": record["eventName"]})
    return {"objects": objects}
