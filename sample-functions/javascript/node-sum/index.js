// A Node.js handler in the callback style (Node.js 22 runtime): sums
// `value1` and `value2`. A missing value is an error the callback reports.
exports.handler = (event, context, callback) => {
  if (typeof event.value1 !== 'number' || typeof event.value2 !== 'number') {
    callback(new TypeError('value1 and value2 must be numbers'));
    return;
  }
  console.log(`adding ${event.value1} and ${event.value2}`);
  callback(null, event.value1 + event.value2);
};
