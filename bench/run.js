/* Runs every benchmark in bench/ in turn (each prints its own figures and ratios). */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const benches = [
  'rateDecisions.js',
  'rateEngine.js',
  'requestPath.js',
  'fairness.js',
  'domainLists.js',
  'paymentRun.js',
  'documents.js',
  'notifications.js',
  'webhooks.js',
];
for (const bench of process.argv.slice(2).length ? process.argv.slice(2) : benches) {
  process.stdout.write(`\n== ${bench}\n`);
  const result = spawnSync(process.execPath, [path.join(__dirname, bench)], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
