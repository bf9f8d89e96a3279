/*
 * autocannon in a process of its own, so the load generator never shares an event loop with the
 * server it measures. Argument: a JSON object of autocannon options. Prints the result as JSON.
 */
const autocannon = require('autocannon');

autocannon(JSON.parse(process.argv[2]), (error, result) => {
  if (error) {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  }
  const failures = result.non2xx + result.errors + result.timeouts;
  process.stdout.write(
    JSON.stringify({
      rps: result.requests.average,
      total: result.requests.total,
      failures,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      statusCodes: result.statusCodeStats,
    }),
  );
});
