// Reacts to S3 events: the bucket and the (URL-decoded) key of each record,
// as Lambda's "s3-get-object" blueprint reads them.
export const handler = async (event) => {
  const objects = (event.Records || []).map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeURIComponent(record.s3.object.key.replace(/\+/g, ' ')),
    size: record.s3.object.size,
    event: record.eventName,
  }));
  for (const o of objects) {
    console.log(`${o.event}: s3://${o.bucket}/${o.key} (${o.size} bytes)`);
  }
  return { objects };
};
