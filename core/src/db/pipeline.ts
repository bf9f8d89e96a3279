import type { Knex } from 'knex';
import pg from 'pg';
import { serialize } from 'pg-protocol';
// node-postgres's Query and Result: a custom submittable (as pg-cursor and pg-query-stream are) needs them.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Query = require('pg/lib/query') as new (
  config: { text: string; values?: unknown[] },
  values: undefined,
  callback: (error: Error | null, results?: pg.QueryResult[]) => void,
) => PgQuery;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Result = require('pg/lib/result') as new (rowMode: undefined, types: unknown) => PgResult;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pgUtils = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

/**
 * Statements sent together, up to one Sync: one round trip, not one per statement.
 *
 * PostgreSQL runs everything up to a Sync in one implicit transaction (or in the explicit one a BEGIN
 * among them opens), so `set_config(…, true)` in the first statement holds for the ones after it and
 * is gone at the Sync. That is what lets a request's scope ride with its queries: the request path
 * sends BEGIN, the scope and the principal's re-read as one pipeline, and a read-only request sends
 * each of its queries in a pipeline behind its scope, with no BEGIN or COMMIT at all (the principal,
 * RLS and the scope are exactly as strong; only the round trips go).
 *
 * node-postgres sends one statement per round trip; this is a submittable of its own (as pg-cursor
 * is) that sends Parse/Bind/Describe/Execute for each statement, then one Sync. An error in any
 * statement skips the rest (the server discards to the Sync) and fails the whole pipeline.
 */
export interface Statement {
  text: string;
  values?: unknown[];
}

interface PgResult {
  command: string;
  rows: unknown[];
  _types: unknown;
  addFields(fields: unknown[]): void;
  parseRow(fields: unknown[]): unknown;
  addRow(row: unknown): void;
  addCommandComplete(msg: unknown): void;
}

interface PgConnection {
  stream: { write(buffer: Buffer): boolean };
}

interface PgQuery {
  _result: PgResult;
  callback: (error: Error | null, results?: pg.QueryResult[]) => void;
}

class PipelinedQuery extends Query {
  private readonly results: PgResult[] = [];
  private failed: Error | null = null;

  constructor(
    private readonly statements: Statement[],
    callback: (error: Error | null, results?: pg.QueryResult[]) => void,
  ) {
    super({ text: statements.map((s) => s.text).join(';\n') }, undefined, callback);
  }

  requiresPreparation(): boolean {
    return true;
  }

  prepare(connection: PgConnection): void {
    // One buffer, one write: a writev of a dozen small messages costs several times one write.
    const messages: Buffer[] = [];
    for (const statement of this.statements) {
      messages.push(
        serialize.parse({ text: statement.text, name: '', types: [] }),
        serialize.bind({
          portal: '',
          statement: '',
          values: statement.values ?? [],
          valueMapper: pgUtils.prepareValue,
        }),
        serialize.describe({ type: 'P', name: '' }),
        serialize.execute({ portal: '', rows: 0 }),
      );
    }
    messages.push(serialize.sync());
    connection.stream.write(Buffer.concat(messages));
  }

  private next(): void {
    this.results.push(this._result);
    this._result = new Result(undefined, this._result._types);
  }

  handleRowDescription(msg: { fields: unknown[] }): void {
    this._result.addFields(msg.fields);
  }

  handleDataRow(msg: { fields: unknown[] }): void {
    if (this.failed) return;
    try {
      this._result.addRow(this._result.parseRow(msg.fields));
    } catch (error) {
      this.failed = error as Error;
    }
  }

  handleCommandComplete(msg: unknown): void {
    this._result.addCommandComplete(msg);
    this.next();
  }

  handleEmptyQuery(): void {
    this.next();
  }

  handleError(error: Error): void {
    // node-postgres lets go of a query at its error (the ReadyForQuery that follows is not passed on),
    // so the pipeline answers now; the server has already skipped the rest to the Sync.
    this.callback(this.failed ?? error);
  }

  handleReadyForQuery(): void {
    if (this.failed) this.callback(this.failed);
    else this.callback(null, this.results as unknown as pg.QueryResult[]);
  }
}

let sent = 0;

/** How many pipelines (round trips) this process has sent: the request path's tests count them. */
export function pipelinesSent(): number {
  return sent;
}

/** Sends the statements as one pipeline on a pg client and resolves with each one's result, in order. */
export function runPipeline(connection: pg.ClientBase, statements: Statement[]): Promise<pg.QueryResult[]> {
  sent++;
  return new Promise((resolve, reject) => {
    const query = new PipelinedQuery(statements, (error, results) => (error ? reject(error) : resolve(results!)));
    (connection as unknown as { query(submittable: unknown): void }).query(query);
  });
}

/**
 * How a request's transaction opens: read-only requests send no BEGIN; the scope rides with every
 * query. Given as `db.transaction(work, { hearthOpening } as Knex.TransactionConfig)`; `openingOf(trx)`
 * then holds it, with what its statements answered.
 */
export interface Opening {
  mode: 'read' | 'write';
  /** The `set_config(…, true)` statement that scopes the request (role, tenant, limits). */
  scope: Statement;
  /** Statements to run with the opening, in the same round trip (the principal's re-read). */
  statements: Statement[];
  /**
   * Read-only requests only: send `statements` with the request's first query rather than on their
   * own, and hold that query's answer (and every later one's) until `confirm` has accepted what they
   * answered. A refusal fails the query, so nothing read reaches the handler unconfirmed.
   */
  confirm?: (opened: pg.QueryResult[]) => Promise<void> | void;
  /** Filled in once the statements have run: the result of each of them. */
  opened?: pg.QueryResult[];
}

/** What a connection carries while it serves a read-only request (never longer). */
interface ReadSession {
  opening: Opening;
  /** The opening's statements, until a query has taken them along. */
  pending: boolean;
  /** Settles once the opening's answers are accepted (or refused). */
  confirmed: Promise<void>;
}

type ScopedConnection = pg.ClientBase & { __hearthRead?: ReadSession };

/** Sends the opening's statements (with `query` after them, if given) and confirms their answers before any answer is used. */
async function openThenQuery(
  connection: ScopedConnection,
  session: ReadSession,
  query: Statement | null,
): Promise<pg.QueryResult | undefined> {
  const { opening } = session;
  session.pending = false;
  let release!: (error?: unknown) => void;
  session.confirmed = new Promise<void>((resolve, reject) => {
    release = (error) => (error === undefined ? resolve() : reject(error));
  });
  // A refusal is answered by the query that carried the opening; later queries see it too, unhandled nowhere.
  session.confirmed.catch(() => undefined);
  try {
    const results = await runPipeline(connection, [opening.scope, ...opening.statements, ...(query ? [query] : [])]);
    opening.opened = results.slice(1, 1 + opening.statements.length);
    await opening.confirm?.(opening.opened);
    release();
    return query ? results[results.length - 1] : undefined;
  } catch (error) {
    release(error);
    throw error;
  }
}

// knex's PostgreSQL transaction, which the pipelined opening extends.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const TransactionPg = require('knex/lib/dialects/postgres/execution/pg-transaction') as new (
  ...args: unknown[]
) => KnexTransactionInternals;

interface KnexTransactionInternals {
  userParams?: object & { hearthOpening?: Opening };
  doNotRejectOnRollback: boolean;
  _completed: boolean;
  _resolver(value?: unknown): void;
  _rejecter(error: unknown): void;
  begin(conn: ScopedConnection): Promise<unknown>;
  commit(conn: ScopedConnection, value?: unknown): Promise<unknown>;
  rollback(conn: ScopedConnection, error?: unknown): Promise<unknown>;
  acquireConnection(config: unknown, cb: (conn: ScopedConnection) => Promise<unknown>): Promise<unknown>;
}

/**
 * A knex transaction whose opening is one pipeline (BEGIN, the scope, the principal), and which, for
 * a read-only request, sends neither BEGIN nor COMMIT: each query goes behind the scope instead, the
 * first carrying the opening's statements too where the opening defers them (`confirm`).
 * Without an `Opening` it is knex's own transaction, unchanged.
 */
class PipelinedTransaction extends TransactionPg {
  constructor(
    client: unknown,
    container: unknown,
    config: { userParams?: object; hearthOpening?: Opening } | undefined,
    outerTx: unknown,
  ) {
    super(client, container, config, outerTx);
    // knex hands every transaction the instance's one userParams object: the opening is this one's alone.
    if (config?.hearthOpening) this.userParams = { ...config.userParams, hearthOpening: config.hearthOpening };
  }

  private get opening(): Opening | undefined {
    return this.userParams?.hearthOpening;
  }

  override async begin(conn: ScopedConnection): Promise<unknown> {
    const opening = this.opening;
    if (!opening) return super.begin(conn);
    if (opening.mode === 'read') {
      const session: ReadSession = { opening, pending: true, confirmed: Promise.resolve() };
      conn.__hearthRead = session;
      if (!opening.confirm) await openThenQuery(conn, session, null);
      return undefined;
    }
    try {
      opening.opened = (await runPipeline(conn, [{ text: 'BEGIN' }, opening.scope, ...opening.statements])).slice(2);
    } catch (error) {
      // The BEGIN may have run before the statement that failed: end it before the connection goes back.
      await runPipeline(conn, [{ text: 'ROLLBACK' }]).catch(() => undefined);
      throw error;
    }
    return undefined;
  }

  override commit(conn: ScopedConnection, value?: unknown): Promise<unknown> {
    if (this.opening?.mode !== 'read') return super.commit(conn, value);
    this._completed = true;
    this._resolver(value);
    return Promise.resolve();
  }

  override rollback(conn: ScopedConnection, error?: unknown): Promise<unknown> {
    if (this.opening?.mode !== 'read') return super.rollback(conn, error);
    this._completed = true;
    if (error === undefined && this.doNotRejectOnRollback) this._resolver();
    else this._rejecter(error ?? new Error('Transaction rejected with non-error: undefined'));
    return Promise.resolve();
  }

  override acquireConnection(config: unknown, cb: (conn: ScopedConnection) => Promise<unknown>): Promise<unknown> {
    return super.acquireConnection(config, async (conn) => {
      try {
        return await cb(conn);
      } finally {
        // The scope belongs to this request; a pooled connection never carries it to the next.
        delete conn.__hearthRead;
      }
    });
  }
}

interface QueryObject {
  sql: string;
  bindings?: unknown[];
  options?: object;
  response?: unknown;
}

interface PgClientInternals {
  _query(connection: ScopedConnection, obj: QueryObject): Promise<unknown>;
  _stream(connection: ScopedConnection, ...rest: unknown[]): Promise<unknown>;
}

// knex's PostgreSQL client, which the pipelined one extends.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ClientPg = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => PgClientInternals;

/**
 * knex's PostgreSQL client, taught the pipelined transaction: queries on a connection in a read-only
 * request go behind its scope, and a transaction given an opening opens in one round trip. A
 * subclass, not a patch of the instance: knex gives each transaction a client made from the class's
 * prototype, so the overrides reach the queries a transaction runs.
 */
export class PipelinedPgClient extends ClientPg {
  override async _query(connection: ScopedConnection, obj: QueryObject): Promise<unknown> {
    const session = connection.__hearthRead;
    if (!session) return super._query(connection, obj);
    if (obj.options && Object.keys(obj.options).length)
      throw new Error('A read-only request cannot run a query with driver options');
    const query = { text: obj.sql, values: obj.bindings ?? [] };
    if (session.pending) {
      obj.response = await openThenQuery(connection, session, query);
      return obj;
    }
    const [, result] = await runPipeline(connection, [session.opening.scope, query]);
    // Nothing is answered before the opening is confirmed (queries sent together answer in order).
    await session.confirmed;
    obj.response = result;
    return obj;
  }

  override _stream(connection: ScopedConnection, ...rest: unknown[]): Promise<unknown> {
    // A stream is a query of its own, which the scope cannot ride with: read-only requests have none.
    if (connection.__hearthRead) return Promise.reject(new Error('A read-only request cannot stream a query'));
    return super._stream(connection, ...rest);
  }

  transaction(
    container: unknown,
    config: { userParams?: object; hearthOpening?: Opening } | undefined,
    outerTx: unknown,
  ): unknown {
    return new PipelinedTransaction(this, container, config, outerTx);
  }
}

/** The opening a transaction was given; undefined where it had none (PGlite). */
export function openingOf(trx: Knex.Transaction): Opening | undefined {
  return (trx.userParams as { hearthOpening?: Opening } | undefined)?.hearthOpening;
}

async function sessionOf(
  trx: Knex.Transaction,
): Promise<{ connection: ScopedConnection; session: ReadSession } | null> {
  if (openingOf(trx)?.mode !== 'read') return null;
  const connection = (await (
    trx.client as unknown as { acquireConnection(): Promise<ScopedConnection> }
  ).acquireConnection()) as ScopedConnection;
  return connection.__hearthRead ? { connection, session: connection.__hearthRead } : null;
}

/**
 * Makes sure a read-only request's deferred opening has run and been confirmed: a handler that sent
 * no query of its own has not yet sent it. Does nothing for any other transaction.
 */
export async function confirmOpening(trx: Knex.Transaction): Promise<void> {
  const found = await sessionOf(trx);
  if (!found) return;
  if (found.session.pending) await openThenQuery(found.connection, found.session, null);
  else await found.session.confirmed;
}

/**
 * Changes the scope for the rest of the request: in a read-only request, the scope every later query
 * rides behind (true); otherwise false, and the caller runs its `set_config` in the transaction.
 */
export async function rescope(trx: Knex.Transaction, scope: Statement): Promise<boolean> {
  const found = await sessionOf(trx);
  if (!found) return false;
  // A deferred opening runs under the scope it was given, before any query under the new one.
  await confirmOpening(trx);
  found.session.opening.scope = scope;
  return true;
}

/** A `$n` statement as a knex raw query (`?` placeholders, values in the order they appear). */
export function knexRaw(trx: Knex | Knex.Transaction, statement: Statement): Knex.Raw {
  const values: unknown[] = [];
  const text = statement.text.replace(/\$(\d+)/g, (_, n: string) => {
    values.push((statement.values ?? [])[Number(n) - 1]);
    return '?';
  });
  return trx.raw(text, values as Knex.RawBinding[]);
}
