// Code outside the handler runs once, in INIT; what it sets up stays for
// the warm starts of the same environment, as in Lambda.
const startedAt = new Date().toISOString();
let count = 0;
console.log('INIT: a new environment');

export const handler = async (event, context) => {
  count += 1;
  return { count, startedAt, logStream: context.logStreamName };
};
