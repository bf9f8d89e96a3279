/* Whether a PostgreSQL server answers at a URL: the test runner and the benchmarks choose their database by it. */
const { Client } = require('pg');

async function reachable(url) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

module.exports = { reachable };
