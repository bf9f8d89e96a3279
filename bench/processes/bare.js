/*
 * The yardstick for the request path: bare express and pg, no framework of ours, reading the same
 * child by the same index on the same database, in a process of its own.
 *
 *   GET /one/:tenantId/:childId   one statement: the child's row
 *   GET /six/:tenantId/:childId   the statements Hearth's GET /v1/children/{id} sent before it was
 *                                 made shorter, each its own round trip: BEGIN; role and tenant;
 *                                 the principal; the child; its identifiers; COMMIT
 *   GET /three/:tenantId/:childId the same in three round trips, as Hearth sends them now
 *
 * Pool of BENCH_POOL (10, Hearth's default) connections. Prints `READY <url>`.
 */
const express = require('express');
const pg = require('pg');

const pool = new pg.Pool({
  connectionString: process.env.BENCH_DATABASE_URL,
  max: Number(process.env.BENCH_POOL ?? 10),
});
const app = express();

app.get('/one/:tenantId/:childId', async (req, res) => {
  try {
    const { rows } = await pool.query('SELECT * FROM children WHERE tenant_id = $1 AND id = $2', [
      req.params.tenantId,
      req.params.childId,
    ]);
    if (!rows[0]) return res.status(404).json({ status: 404 });
    res.json(rows[0]);
  } catch (error) {
    res.status(500).json({ error: String(error) });
  }
});

app.get('/six/:tenantId/:childId', async (req, res) => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `SELECT set_config('role', 'hearth_app', true), set_config('app.tenant_id', $1, true), set_config('app.platform', 'off', true)`,
      [req.params.tenantId],
    );
    await client.query(
      `SELECT u.id, u.status, (SELECT json_agg(r.permissions) FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id) AS roles FROM users u WHERE u.tenant_id = $1 AND u.id = $2`,
      [req.params.tenantId, req.query.user],
    );
    const { rows } = await client.query('SELECT * FROM children WHERE tenant_id = $1 AND id = $2', [
      req.params.tenantId,
      req.params.childId,
    ]);
    await client.query('SELECT kind, last_four FROM child_identifiers WHERE tenant_id = $1 AND child_id = $2', [
      req.params.tenantId,
      req.params.childId,
    ]);
    await client.query('COMMIT');
    if (!rows[0]) return res.status(404).json({ status: 404 });
    res.json(rows[0]);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    res.status(500).json({ error: String(error) });
  } finally {
    client.release();
  }
});

/** The three round trips the request path makes now: BEGIN, scope and principal together; the child and its identifiers; COMMIT. */
app.get('/three/:tenantId/:childId', async (req, res) => {
  const client = await pool.connect();
  try {
    const tenant = client.escapeLiteral(req.params.tenantId);
    await client.query(
      `BEGIN; SELECT set_config('role', 'hearth_app', true), set_config('app.tenant_id', ${tenant}, true), set_config('app.platform', 'off', true);` +
        ` SELECT u.id, u.status, (SELECT json_agg(r.permissions) FROM user_roles ur JOIN roles r ON r.tenant_id = ur.tenant_id AND r.id = ur.role_id WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id) AS roles FROM users u WHERE u.tenant_id = ${tenant} AND u.id = ${client.escapeLiteral(String(req.query.user))}`,
    );
    const { rows } = await client.query(
      `SELECT c.*, (SELECT coalesce(json_agg(json_build_object('kind', i.kind, 'lastFour', i.last_four)), '[]') FROM child_identifiers i WHERE i.tenant_id = c.tenant_id AND i.child_id = c.id) AS identifiers FROM children c WHERE c.tenant_id = $1 AND c.id = $2`,
      [req.params.tenantId, req.params.childId],
    );
    await client.query('COMMIT');
    if (!rows[0]) return res.status(404).json({ status: 404 });
    res.json(rows[0]);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    res.status(500).json({ error: String(error) });
  } finally {
    client.release();
  }
});

const server = app.listen(0, '127.0.0.1', () =>
  process.stdout.write(`READY http://127.0.0.1:${server.address().port}\n`),
);
process.once('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
