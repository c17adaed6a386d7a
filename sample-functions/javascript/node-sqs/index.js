// An SQS batch handler with a partial batch response: every message whose
// body is `fail` is reported in `batchItemFailures`, so only those are
// retried (ReportBatchItemFailures).
exports.handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records || []) {
    if (record.body === 'fail') {
      console.warn(`message ${record.messageId} failed`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } else {
      console.log(`message ${record.messageId}: ${record.body}`);
    }
  }
  return { batchItemFailures };
};
