// Lambda's "Hello world" blueprint for Node.js: logs the event and answers
// 200 with a greeting. Change it, then Deploy (Ctrl+S) and Test.
export const handler = async (event, context) => {
  console.log('event:', JSON.stringify(event));
  console.log('remaining time (ms):', context.getRemainingTimeInMillis());
  return {
    statusCode: 200,
    body: JSON.stringify({ message: 'Hello from Lambdesk!', input: event }),
  };
};
