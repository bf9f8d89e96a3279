/*
 * s3rver in a process of its own, for test/support/s3.ts: `node --openssl-legacy-provider
 * s3rverProcess.js <folder> <bucket>`. It prints {"port":…} once it listens and stops when its stdin
 * closes, so it never outlives the test that started it. Its own process because s3rver pages a
 * listing with a DES-encrypted continuation token, which OpenSSL 3 keeps in its legacy provider, and
 * so the test's memory figures are the store's alone.
 */
const S3rver = require('s3rver');

async function main() {
  const [directory, bucket] = process.argv.slice(2);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`s3rver did not start: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
