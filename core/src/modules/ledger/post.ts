import type { Knex } from 'knex';
import type { ModelObject } from 'objection';
import type { TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { bulkInsert, type BulkColumn } from '../../db/bulkInsert';
import { newId } from '../../ids';
import type { PackRegistry } from '../../packs/registry';
import { appendAuditEvent, type AuditActor } from '../audit/service';
import { tenantChart } from './chart';
import { LedgerEntry, LedgerJournal } from './models';
import { entryToApi, journalToApi } from './present';

/** What a line may point at, copied onto each entry it becomes. */
export interface JournalLineRefs {
  carerHouseholdId?: string | null;
  childId?: string | null;
  placementId?: string | null;
  periodStart?: string | null;
  periodEnd?: string | null;
  sourceLineId?: string | null;
  description?: string | null;
}

/** A component line (`allowance`, `fee`, …) becomes two entries through the chart's postings; an account line is one entry. */
export type JournalLineInput = JournalLineRefs &
  ({ component: string; amount: number } | { account: string; debit?: number; credit?: number });

export interface JournalInput {
  postingDate: string;
  description: string;
  /** What produced the journal: `manual`, or e.g. `{ type: 'payment_run', id }`. */
  source: { type: string; id?: string | null };
  lines: JournalLineInput[];
}

/** Posting outside a request (a payment run's job): the caller's transaction, already in the tenant's scope. */
export interface LedgerPoster {
  trx: Knex.Transaction;
  tenantId: string;
  packs: PackRegistry;
  actor: AuditActor;
}

export interface PostOptions {
  /** Where the lines sit in the caller's input, for the pointers of a refusal. */
  pointer?: string;
}

function isContext(scope: TenantScope | LedgerPoster): scope is TenantScope {
  return 'services' in scope;
}

function positive(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * Posts one balanced journal: maps every line through the tenant's chart on the posting date, numbers
 * the journal from the tenant's counter (locked until commit, so numbers have no gaps), writes the
 * entries and appends one audit event. Refuses with 422, naming the line, anything that would not
 * balance or map; the database checks the balance again at commit.
 */
export async function postJournal(scope: TenantScope | LedgerPoster, input: JournalInput, options: PostOptions = {}) {
  const { trx, tenantId } = scope;
  const packs = isContext(scope) ? scope.services.packs : scope.packs;
  // The principal's id, an API key's too: the journal records which credential posted it.
  const createdBy = isContext(scope) ? scope.principal.id : scope.actor.actorId;
  const base = options.pointer ?? '/body';
  const chart = await tenantChart(trx, tenantId, packs, input.postingDate);

  const errors: FieldError[] = [];
  const entries: EntryValues[] = [];
  input.lines.forEach((line, i) => {
    const at = `${base}/lines/${i}`;
    const refs = refsOf(line);
    if (refs.periodStart && refs.periodEnd && refs.periodStart > refs.periodEnd)
      errors.push({ pointer: `${at}/periodEnd`, message: 'is before periodStart' });
    const account = (key: string, pointer: string) => {
      const found = chart.accounts.get(key);
      if (!found)
        errors.push({
          pointer,
          message: `is not an account of the tenant's chart (${[...chart.accounts.keys()].join(', ')})`,
        });
      return found;
    };
    if ('component' in line) {
      if (!positive(line.amount))
        errors.push({ pointer: `${at}/amount`, message: 'must be a positive whole number of minor units' });
      const posting = chart.postings.get(line.component);
      if (!posting)
        return void errors.push({
          pointer: `${at}/component`,
          message: `is not a component the tenant's chart posts (${[...chart.postings.keys()].join(', ')})`,
        });
      const debit = account(posting.debit, `${at}/component`);
      const credit = account(posting.credit, `${at}/component`);
      if (debit && credit && positive(line.amount)) {
        entries.push({ ...refs, accountKey: debit.key, accountCode: debit.code, debit: line.amount, credit: 0 });
        entries.push({ ...refs, accountKey: credit.key, accountCode: credit.code, debit: 0, credit: line.amount });
      }
    } else {
      const found = account(line.account, `${at}/account`);
      const debit = line.debit ?? 0;
      const credit = line.credit ?? 0;
      const sides = [debit, credit].filter((v) => v !== 0);
      if (sides.length !== 1 || !sides.every(positive)) {
        return void errors.push({
          pointer: at,
          message: 'must have exactly one of debit or credit, a positive whole number of minor units',
        });
      }
      if (found) entries.push({ ...refs, accountKey: found.key, accountCode: found.code, debit, credit });
    }
  });
  errors.push(...(await referenceErrors(trx, tenantId, input.lines, base)));
  if (errors.length) throw Problem.unprocessable(errors);

  const debits = entries.reduce((sum, e) => sum + e.debit, 0);
  const credits = entries.reduce((sum, e) => sum + e.credit, 0);
  if (!Number.isSafeInteger(debits) || !Number.isSafeInteger(credits)) {
    throw Problem.unprocessable([{ pointer: `${base}/lines`, message: 'the total is too large' }]);
  }
  if (entries.length < 2)
    throw Problem.unprocessable([{ pointer: `${base}/lines`, message: 'a journal needs at least two entries' }]);
  if (debits !== credits) {
    const message = `does not balance: debits ${debits}, credits ${credits} (minor units), a difference of ${debits - credits}`;
    throw Problem.unprocessable([{ pointer: `${base}/lines`, message }]);
  }

  const written = await writeJournal(trx, tenantId, chart.currency, input, entries, createdBy);
  const event = {
    action: 'ledger_journal.post',
    entityType: 'ledger_journal',
    entityId: written.summary.id,
    before: null,
    after: written.summary,
  };
  if (isContext(scope)) await scope.audit(event);
  else await appendAuditEvent(trx, tenantId, scope.actor, event);
  return { ...written.summary, entries: written.rows.map(entryToApi) };
}

/**
 * Where a large journal's entries come from: a query over the caller's own rows that yields, per
 * entry, `account_key` (of the tenant's chart), `debit` and `credit` (one of them positive),
 * `carer_household_id`, `child_id`, `placement_id`, `period_start`, `period_end`, `source_line_id`,
 * `description`, and `entry_order` (the entries' order in the journal, ties broken by account).
 */
export interface EntrySource {
  sql: string;
  bindings: Knex.RawBinding[];
}

/** A UUID version 7 made by the database, as newId makes them: time-ordered keys index well. */
const SQL_UUID_V7 = `encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid`;

/**
 * Posts a journal of many entries (a payment run's) straight from the caller's rows, in one
 * statement, without carrying them through the application: the chart maps each account key to its
 * code on the posting date, an unknown key stops the posting (account_code is required), and the
 * journal must balance (checked here, and by the database at commit). One audit event records the
 * journal, its line count and total, unless the caller's own event names the journal
 * (`audit: false`): a request appends one event for what it did.
 */
export async function postJournalFromQuery(
  scope: LedgerPoster,
  input: Omit<JournalInput, 'lines'> & { entries: EntrySource },
  options: { audit?: boolean } = {},
) {
  const { trx, tenantId } = scope;
  const chart = await tenantChart(trx, tenantId, scope.packs, input.postingDate);
  const journal = await openJournal(trx, tenantId, chart.currency, input, scope.actor.actorId);
  const accounts = [...chart.accounts.values()];
  // Each entry's code is looked up in the chart's short list of accounts, not joined to it: planned
  // before the entries' source has statistics, the join hashed the 165,000 entries of a run, on disk.
  await trx.raw(
    `INSERT INTO ledger_entries (tenant_id, id, journal_id, line_number, account_key, account_code, debit, credit, carer_household_id, child_id, placement_id, period_start, period_end, source_line_id, description)
     SELECT ?, ${SQL_UUID_V7}, ?, row_number() OVER (ORDER BY e.entry_order, e.account_key), e.account_key, (?::text[])[array_position(?::text[], e.account_key)], e.debit, e.credit,
            e.carer_household_id, e.child_id, e.placement_id, e.period_start, e.period_end, e.source_line_id, e.description
       FROM (${input.entries.sql}) e`,
    [tenantId, journal.id, accounts.map((a) => a.code), accounts.map((a) => a.key), ...input.entries.bindings],
  );
  const totals = await journalTotals(trx, tenantId, journal.id);
  if (totals.lines < 2 || totals.debits !== totals.credits) {
    throw new Error(
      `postJournalFromQuery: ${totals.lines} entries do not balance (debits ${totals.debits}, credits ${totals.credits})`,
    );
  }
  const summary = journalToApi(journal, { lineCount: totals.lines, total: totals.debits });
  if (options.audit ?? true) {
    const event = {
      action: 'ledger_journal.post',
      entityType: 'ledger_journal',
      entityId: summary.id,
      before: null,
      after: summary,
    };
    await appendAuditEvent(trx, tenantId, scope.actor, event);
  }
  return summary;
}

/** Counted and summed by the database, after a posting straight from a query. */
async function journalTotals(
  trx: Knex.Transaction,
  tenantId: string,
  journalId: string,
): Promise<{ lines: number; debits: number; credits: number }> {
  const { rows } = await trx.raw<{ rows: Array<{ lines: number; debits: number; credits: number }> }>(
    `SELECT count(*)::int AS lines, coalesce(sum(debit), 0)::bigint AS debits, coalesce(sum(credit), 0)::bigint AS credits
       FROM ledger_entries WHERE tenant_id = ? AND journal_id = ?`,
    [tenantId, journalId],
  );
  const totals = rows[0]!;
  return { lines: totals.lines, debits: Number(totals.debits), credits: Number(totals.credits) };
}

type NewEntry = ModelObject<LedgerEntry>;

const ENTRY_COLUMNS: Array<BulkColumn<NewEntry>> = [
  { name: 'tenant_id', type: 'uuid', value: (r) => r.tenantId },
  { name: 'id', type: 'uuid', value: (r) => r.id },
  { name: 'journal_id', type: 'uuid', value: (r) => r.journalId },
  { name: 'line_number', type: 'integer', value: (r) => r.lineNumber },
  { name: 'account_key', type: 'text', value: (r) => r.accountKey },
  { name: 'account_code', type: 'text', value: (r) => r.accountCode },
  { name: 'debit', type: 'bigint', value: (r) => r.debit },
  { name: 'credit', type: 'bigint', value: (r) => r.credit },
  { name: 'carer_household_id', type: 'uuid', value: (r) => r.carerHouseholdId },
  { name: 'child_id', type: 'uuid', value: (r) => r.childId },
  { name: 'placement_id', type: 'uuid', value: (r) => r.placementId },
  { name: 'period_start', type: 'date', value: (r) => r.periodStart },
  { name: 'period_end', type: 'date', value: (r) => r.periodEnd },
  { name: 'source_line_id', type: 'text', value: (r) => r.sourceLineId },
  { name: 'description', type: 'text', value: (r) => r.description },
];

type EntryValues = Omit<NewEntry, 'tenantId' | 'id' | 'journalId' | 'lineNumber'>;

function refsOf(line: JournalLineRefs) {
  return {
    carerHouseholdId: line.carerHouseholdId ?? null,
    childId: line.childId ?? null,
    placementId: line.placementId ?? null,
    periodStart: line.periodStart ?? null,
    periodEnd: line.periodEnd ?? null,
    sourceLineId: line.sourceLineId ?? null,
    description: line.description ?? null,
  };
}

/**
 * Numbers a new journal from the tenant's counter (its row locked until this transaction ends, so a
 * rolled-back posting gives its number back) and writes its header.
 */
async function openJournal(
  trx: Knex.Transaction,
  tenantId: string,
  currency: string,
  input: Omit<JournalInput, 'lines'>,
  createdBy: string | null,
): Promise<LedgerJournal> {
  const counter = await trx.raw<{ rows: Array<{ last_number: number }> }>(
    `INSERT INTO ledger_counters (tenant_id, last_number) VALUES (?, 1)
       ON CONFLICT (tenant_id) DO UPDATE SET last_number = ledger_counters.last_number + 1
       RETURNING last_number`,
    [tenantId],
  );
  return LedgerJournal.query(trx)
    .insert({
      tenantId,
      id: newId(),
      number: Number(counter.rows[0]!.last_number),
      postingDate: input.postingDate,
      description: input.description,
      sourceType: input.source.type,
      sourceId: input.source.id ?? null,
      currency,
      createdBy,
    })
    .returning('*');
}

/** Opens a journal and writes its entries, in order. */
async function writeJournal(
  trx: Knex.Transaction,
  tenantId: string,
  currency: string,
  input: Omit<JournalInput, 'lines'>,
  entries: EntryValues[],
  createdBy: string | null,
) {
  const journal = await openJournal(trx, tenantId, currency, input, createdBy);
  const rows: NewEntry[] = entries.map((e, i) => ({
    tenantId,
    id: newId(),
    journalId: journal.id,
    lineNumber: i + 1,
    ...e,
  }));
  await bulkInsert<NewEntry>(trx, 'ledger_entries', ENTRY_COLUMNS, rows);
  const total = rows.reduce((sum, e) => sum + e.debit, 0);
  return { summary: journalToApi(journal, { lineCount: rows.length, total }), rows };
}

/**
 * Households, children and placements a line names must be the tenant's, and a placement's
 * household and child those the line names beside it (the database's key from an entry to its
 * placement holds the three together; here a mismatch is a 422 naming the field, not a failed
 * statement).
 */
async function referenceErrors(
  trx: Knex.Transaction,
  tenantId: string,
  lines: JournalLineInput[],
  base: string,
): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const checks = [
    { field: 'carerHouseholdId', table: 'carer_households' },
    { field: 'childId', table: 'children' },
    { field: 'placementId', table: 'placements' },
  ] as const;
  const placements = new Map<string, { household_id: string; child_id: string }>();
  for (const { field, table } of checks) {
    const ids = [...new Set(lines.map((l) => l[field]).filter((v): v is string => typeof v === 'string'))];
    if (!ids.length) continue;
    const columns = table === 'placements' ? ['id', 'household_id', 'child_id'] : ['id'];
    const rows: Array<{ id: string; household_id: string; child_id: string }> = await trx(table)
      .where({ tenant_id: tenantId })
      .whereIn('id', ids)
      .select(columns);
    if (table === 'placements') for (const r of rows) placements.set(r.id, r);
    const found = new Set(rows.map((r) => r.id));
    lines.forEach((line, i) => {
      const id = line[field];
      if (typeof id === 'string' && !found.has(id))
        errors.push({ pointer: `${base}/lines/${i}/${field}`, message: 'is not a record of this tenant' });
    });
  }
  lines.forEach((line, i) => {
    const placement = line.placementId ? placements.get(line.placementId) : undefined;
    if (!placement) return;
    if (line.carerHouseholdId && line.carerHouseholdId !== placement.household_id) {
      errors.push({
        pointer: `${base}/lines/${i}/carerHouseholdId`,
        message: 'is not the household of this placement',
      });
    }
    if (line.childId && line.childId !== placement.child_id) {
      errors.push({ pointer: `${base}/lines/${i}/childId`, message: 'is not the child of this placement' });
    }
  });
  return errors;
}
