// An API Gateway (HTTP API, payload 2.0) handler: greets `?name=` and says
// what it was asked, as a Lambda proxy integration answers.
exports.handler = async (event, context) => {
  const name = (event.queryStringParameters && event.queryStringParameters.name) || 'world';
  const method = event.requestContext && event.requestContext.http
    ? event.requestContext.http.method
    : event.httpMethod;
  console.info('request', { method, path: event.rawPath || event.path, name });
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: `Hello, ${name}!`,
      method,
      path: event.rawPath || event.path,
      requestId: context.awsRequestId,
    }),
  };
};
