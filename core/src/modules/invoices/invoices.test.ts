import fs from 'node:fs';
import type { Knex } from 'knex';
import path from 'node:path';
import { inTenantTransaction } from '../../db/tenantTransaction';
import { ownerRows, startWorld, type TenantFixture, type World } from '../../../../test/support/harness';
import { commissionerBody, defaultPolicyBody } from '../../../../test/support/fixtures/invoices';
import { makePlacement } from '../../../../test/support/fixtures/placements';
import { creditNoteDocumentData, invoiceDocumentData } from './documents';
import { issueDraft } from './issue';
import { chargedNights, feeSegments, lineAmount, type CommissionForInvoicing } from './pricing';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const system = { actorType: 'system' as const, actorId: 'invoices-test', ip: null, userAgent: null, requestId: null };

/** The pack's chart read from disk, to check the codes the ledger stored against the source. */
function packChart(pack: 'uk' | 'usa') {
  const file = JSON.parse(
    fs.readFileSync(path.join(__dirname, '../../../../packs', pack, 'accounts.json'), 'utf8'),
  ) as {
    accounts: Array<{ key: string; code: string }>;
    postings: Record<string, { debit: string; credit: string }>;
  };
  const code = (key: string) => file.accounts.find((a) => a.key === key)!.code;
  return {
    code,
    posting: (component: string) => ({
      debit: code(file.postings[component]!.debit),
      credit: code(file.postings[component]!.credit),
    }),
  };
}

async function inTenant<T>(tenant: TenantFixture, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return world.db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenant.id]);
    return work(trx);
  });
}

/** A placement with the dates given, made through the API and then moved in time behind its back (households are approved today). */
async function stay(
  tenant: TenantFixture,
  start: string,
  end: string | null = null,
): Promise<{ id: string; childId: string }> {
  const p = await makePlacement({ world, tenant });
  await inTenant(tenant, (trx) =>
    trx.raw('UPDATE placements SET start_date = ?, end_date = ?, status = ? WHERE tenant_id = ? AND id = ?', [
      start,
      end,
      end ? 'ended' : 'active',
      tenant.id,
      p.id,
    ]),
  );
  return { id: p.id, childId: p.childId };
}

async function commissioner(tenant: TenantFixture, name: string): Promise<string> {
  const r = await world.call('createCommissioner', { token: tenant.adminToken, body: { ...commissionerBody(), name } });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

async function fee(
  tenant: TenantFixture,
  placementId: string,
  commissionerId: string,
  effectiveFrom: string,
  feeAmount: number,
  feePeriod: 'week' | 'day' = 'week',
  commissionerReference: string | null = null,
) {
  const r = await world.call('recordPlacementCommission', {
    token: tenant.adminToken,
    params: { placementId },
    body: { commissionerId, feeAmount, feePeriod, effectiveFrom, commissionerReference },
  });
  expect(r.status).toBe(201);
  return r.body as { id: string };
}

async function generate(tenant: TenantFixture, body: Record<string, unknown>) {
  const r = await world.call('generateInvoiceDrafts', { token: tenant.adminToken, body });
  expect({ status: r.status, text: r.status === 200 ? '' : r.text }).toEqual({ status: 200, text: '' });
  return r.body as { periodStart: string; periodEnd: string; invoices: Array<Invoice>; replacedDraftIds: string[] };
}

interface Line {
  id: string;
  lineNumber: number;
  placementId: string;
  periodStart: string;
  periodEnd: string;
  nights: number;
  feeAmount: number;
  feePeriod: string;
  amount: number;
  credited: number;
  remaining: number;
  commissionerReference: string | null;
}
interface Invoice {
  id: string;
  status: string;
  number: number | null;
  reference: string | null;
  commissionerId: string;
  total: number;
  credited: number;
  version: number | null;
  issueDate: string | null;
  dueDate: string | null;
  journalId: string | null;
  lines: Line[];
  billTo: Record<string, unknown> | null;
}

const shape = (lines: Line[]) =>
  lines
    .map((l) => [l.placementId, l.periodStart, l.periodEnd, l.nights, l.feeAmount, l.feePeriod, l.amount])
    .sort((a, b) => `${a[0]}${a[1]}`.localeCompare(`${b[0]}${b[1]}`));

async function issue(
  tenant: TenantFixture,
  invoice: { id: string; version: number | null },
  body: Record<string, unknown> = {},
) {
  return world.call('issueInvoice', {
    token: tenant.adminToken,
    params: { invoiceId: invoice.id },
    headers: { 'if-match': `"${invoice.version}"` },
    body,
  });
}

async function invoiceNumbers(tenant: TenantFixture): Promise<number[]> {
  return (
    await ownerRows<{ number: number }>(
      world.db,
      tenant.id,
      'SELECT number FROM invoices WHERE tenant_id = ? ORDER BY number',
      [tenant.id],
    )
  ).map((r) => Number(r.number));
}

async function journalEntries(tenant: TenantFixture, journalId: string) {
  return ownerRows<{ account_code: string; debit: number; credit: number; source_line_id: string }>(
    world.db,
    tenant.id,
    'SELECT account_code, debit, credit, source_line_id FROM ledger_entries WHERE tenant_id = ? AND journal_id = ? ORDER BY line_number',
    [tenant.id, journalId],
  );
}

/** Money as the test writes it: through Intl, not through the code under test. */
const written = (minor: number, currency: 'GBP' | 'USD') =>
  new Intl.NumberFormat(currency === 'GBP' ? 'en-GB' : 'en-US', { style: 'currency', currency }).format(minor / 100);

/** A document's bytes as the server sent them (the contract client reads bodies as text). */
async function documentBytes(
  tenant: TenantFixture,
  path: string,
): Promise<{ status: number; type: string | null; bytes: Buffer }> {
  const response = await fetch(new URL(path, world.url), { headers: { authorization: `Bearer ${tenant.adminToken}` } });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

async function documentHtml(
  tenant: TenantFixture,
  operationId: 'getInvoiceDocument' | 'getCreditNoteDocument',
  params: Record<string, string>,
): Promise<string> {
  const r = await world.call(operationId, { token: tenant.adminToken, params });
  expect({ status: r.status, type: r.headers.get('content-type') }).toEqual({
    status: 200,
    type: 'text/html; charset=utf-8',
  });
  return r.text;
}

/** What no document may print: each child's given name (unique per fixture child) and full name. */
async function childNames(tenant: TenantFixture, childIds: string[]): Promise<string[]> {
  const rows = await ownerRows<{ given_name: string; family_name: string }>(
    world.db,
    tenant.id,
    'SELECT given_name, family_name FROM children WHERE tenant_id = ? AND id = ANY(?)',
    [tenant.id, childIds],
  );
  expect(rows).toHaveLength(childIds.length);
  return rows.flatMap((r) => [r.given_name, `${r.given_name} ${r.family_name}`]);
}

describe('pricing', () => {
  const commission = (
    id: string,
    effectiveFrom: string,
    feeAmount: number,
    feePeriod: 'week' | 'day' = 'week',
  ): CommissionForInvoicing => ({
    id,
    placementId: 'p',
    commissionerId: 'c',
    feeAmount,
    feePeriod,
    effectiveFrom,
    commissionerReference: null,
  });

  it('counts the day of arrival and not the day of departure, unless the policy charges it', () => {
    const period = { start: '2026-03-02', end: '2026-03-29' };
    expect(
      chargedNights({ placementId: 'p', childId: 'c', startDate: '2026-03-10', endDate: '2026-03-20' }, period, false),
    ).toEqual({ first: '2026-03-10', last: '2026-03-19' });
    expect(
      chargedNights({ placementId: 'p', childId: 'c', startDate: '2026-03-10', endDate: '2026-03-20' }, period, true),
    ).toEqual({ first: '2026-03-10', last: '2026-03-20' });
    expect(
      chargedNights({ placementId: 'p', childId: 'c', startDate: '2026-01-01', endDate: null }, period, false),
    ).toEqual({ first: '2026-03-02', last: '2026-03-29' });
    // Left on the period's first day: that day is not a night in care.
    expect(
      chargedNights({ placementId: 'p', childId: 'c', startDate: '2026-01-01', endDate: '2026-03-02' }, period, false),
    ).toBeNull();
  });

  it('rounds once per line, in integers: fee × nights ÷ 7, half up', () => {
    expect(lineAmount(84550, 'week', 17, 'half_up_per_line')).toBe(205336); // 1,437,350 / 7 = 205,335.71
    expect(lineAmount(70001, 'week', 1, 'half_up_per_line')).toBe(10000); // 10,000.14
    expect(lineAmount(70004, 'week', 1, 'half_up_per_line')).toBe(10001); // 10,000.57
    expect(lineAmount(12050, 'day', 18, 'half_up_per_line')).toBe(216900);
  });

  it('splits at a fee change, a night already invoiced and a fee of 0; of two fees from one date the later recorded wins', () => {
    const stayOf = { placementId: 'p', childId: 'c', startDate: '2026-03-01', endDate: null };
    const fees = [
      commission('a', '2026-03-01', 7000),
      commission('b', '2026-03-05', 14000),
      commission('c', '2026-03-05', 21000),
      commission('d', '2026-03-09', 0),
    ];
    const segments = feeSegments(
      stayOf,
      fees,
      { start: '2026-03-02', end: '2026-03-10' },
      { chargeDepartureDay: false, rounding: 'half_up_per_line' },
      new Set(['2026-03-03']),
    );
    expect(segments.map((s) => [s.commissionId, s.periodStart, s.periodEnd, s.nights, s.amount])).toEqual([
      ['a', '2026-03-02', '2026-03-02', 1, 1000],
      ['a', '2026-03-04', '2026-03-04', 1, 1000],
      ['c', '2026-03-05', '2026-03-08', 4, 12000],
    ]);
  });
});

describe('a four-week period, worked by hand', () => {
  const period = { periodStart: '2026-03-02', periodEnd: '2026-03-29' };
  let council: string;
  let trust: string;
  let whole: { id: string; childId: string };
  let arriving: { id: string; childId: string };
  let leaving: { id: string; childId: string };
  let other: { id: string; childId: string };
  let draft: Invoice;

  beforeAll(async () => {
    council = await commissioner(world.a, 'Northshire County Council');
    trust = await commissioner(world.a, "Southshire Children's Trust");
    // Placed before the period, in care throughout; the fee changes from 19 March.
    whole = await stay(world.a, '2026-02-01');
    await fee(world.a, whole.id, council, '2026-02-01', 84550, 'week', 'NCC-PO-1001');
    await fee(world.a, whole.id, council, '2026-03-19', 91234, 'week', 'NCC-PO-1001');
    // Arrives on 10 March.
    arriving = await stay(world.a, '2026-03-10');
    await fee(world.a, arriving.id, council, '2026-03-10', 70001, 'week', 'NCC-PO-1002');
    // Leaves on 20 March: the day of departure is not charged. A daily fee.
    leaving = await stay(world.a, '2026-01-15', '2026-03-20');
    await fee(world.a, leaving.id, council, '2026-01-15', 12050, 'day', 'NCC-PO-0990');
    // Another commissioner's placement: its own draft.
    other = await stay(world.a, '2026-02-20');
    await fee(world.a, other.id, trust, '2026-02-20', 100000, 'week', 'SCT-77');
  });

  it('makes one draft per commissioner, one line per placement per fee, each equal to the hand calculation', async () => {
    const result = await generate(world.a, period);
    expect(result).toMatchObject({ ...period, replacedDraftIds: [] });
    const councilDraft = result.invoices.find((i) => i.commissionerId === council)!;
    const trustDraft = result.invoices.find((i) => i.commissionerId === trust)!;
    expect(result.invoices).toHaveLength(2);
    // By hand, each line rounded once to the penny, half up:
    //   whole,    2–18 Mar: 17 nights × £845.50 ÷ 7 = £2,053.3571… → £2,053.36
    //   whole,   19–29 Mar: 11 nights × £912.34 ÷ 7 = £1,433.6771… → £1,433.68
    //   arriving, 10–29 Mar: 20 nights × £700.01 ÷ 7 = £2,000.0285… → £2,000.03
    //   leaving,  2–19 Mar: 18 nights × £120.50 a day            = £2,169.00 (left on 20 March, not charged)
    //   total £7,656.07; the trust: 28 nights × £1,000.00 ÷ 7 = £4,000.00
    expect(shape(councilDraft.lines)).toEqual(
      shape([
        {
          placementId: whole.id,
          periodStart: '2026-03-02',
          periodEnd: '2026-03-18',
          nights: 17,
          feeAmount: 84550,
          feePeriod: 'week',
          amount: 205336,
        },
        {
          placementId: whole.id,
          periodStart: '2026-03-19',
          periodEnd: '2026-03-29',
          nights: 11,
          feeAmount: 91234,
          feePeriod: 'week',
          amount: 143368,
        },
        {
          placementId: arriving.id,
          periodStart: '2026-03-10',
          periodEnd: '2026-03-29',
          nights: 20,
          feeAmount: 70001,
          feePeriod: 'week',
          amount: 200003,
        },
        {
          placementId: leaving.id,
          periodStart: '2026-03-02',
          periodEnd: '2026-03-19',
          nights: 18,
          feeAmount: 12050,
          feePeriod: 'day',
          amount: 216900,
        },
      ] as Line[]),
    );
    expect(councilDraft.total).toBe(205336 + 143368 + 200003 + 216900);
    expect(councilDraft.total).toBe(765607);
    expect(councilDraft).toMatchObject({
      status: 'draft',
      number: null,
      reference: null,
      version: 1,
      credited: 0,
      billTo: { name: 'Northshire County Council' },
    });
    expect(councilDraft.lines.map((l) => l.lineNumber)).toEqual([1, 2, 3, 4]);
    expect(shape(trustDraft.lines)).toEqual([[other.id, '2026-03-02', '2026-03-29', 28, 100000, 'week', 400000]]);
    expect(trustDraft.total).toBe(400000);
    draft = councilDraft;
  });

  it('charges the day of departure when the policy says so, once the draft is regenerated', async () => {
    const policy = await world.call('getInvoicingPolicy', { token: world.a.adminToken });
    const changed = await world.call('updateInvoicingPolicy', {
      token: world.a.adminToken,
      body: { ...defaultPolicyBody(), chargeDepartureDay: true },
      headers: { 'if-match': policy.headers.get('etag')! },
    });
    expect(changed.status).toBe(200);
    const regenerated = await world.call('regenerateInvoiceDraft', {
      token: world.a.adminToken,
      params: { invoiceId: draft.id },
      headers: { 'if-match': `"${draft.version}"` },
    });
    expect(regenerated.status).toBe(200);
    const leavingLine = (regenerated.body as Invoice).lines.find((l) => l.placementId === leaving.id)!;
    // 2–20 March: 19 days × £120.50 = £2,289.50
    expect([leavingLine.periodEnd, leavingLine.nights, leavingLine.amount]).toEqual(['2026-03-20', 19, 228950]);
    expect(regenerated.body.total).toBe(765607 - 216900 + 228950);
    expect(regenerated.body.version).toBe(2);
    const stale = await world.call('regenerateInvoiceDraft', {
      token: world.a.adminToken,
      params: { invoiceId: draft.id },
      headers: { 'if-match': '"1"' },
    });
    expect(stale.status).toBe(412);
    const restored = await world.call('updateInvoicingPolicy', {
      token: world.a.adminToken,
      body: defaultPolicyBody(),
      headers: { 'if-match': changed.headers.get('etag')! },
    });
    expect(restored.status).toBe(200);
    const again = await world.call('regenerateInvoiceDraft', {
      token: world.a.adminToken,
      params: { invoiceId: draft.id },
      headers: { 'if-match': '"2"' },
    });
    expect(again.body.total).toBe(765607);
    draft = again.body as Invoice;
  });

  it('issues with the next number, dates, terms and bill-to, and posts a balanced journal on the UK accounts', async () => {
    const before = await invoiceNumbers(world.a);
    const r = await issue(world.a, draft, { issueDate: '2026-04-01' });
    expect(r.status).toBe(200);
    const issued = r.body as Invoice;
    const number = before.length + 1;
    expect(issued).toMatchObject({
      id: draft.id,
      status: 'issued',
      number,
      reference: `INV-${String(number).padStart(6, '0')}`,
      issueDate: '2026-04-01',
      dueDate: '2026-05-01',
      total: 765607,
      version: null,
    });
    expect(issued.billTo).toEqual({
      name: 'Northshire County Council',
      kind: 'local_authority',
      customerReference: expect.any(String),
      addressLines: ['Finance Department', 'County Hall', 'Anytown AB1 2CD'],
      email: 'invoices@county.example',
    });
    expect(shape(issued.lines)).toEqual(shape(draft.lines));

    const uk = packChart('uk').posting('invoice');
    expect(uk).toEqual({ debit: '1100', credit: '4000' });
    const entries = await journalEntries(world.a, issued.journalId!);
    expect(entries).toHaveLength(2 * issued.lines.length);
    expect(entries.filter((e) => Number(e.debit) > 0).map((e) => e.account_code)).toEqual(
      Array(issued.lines.length).fill(uk.debit),
    );
    expect(entries.filter((e) => Number(e.credit) > 0).map((e) => e.account_code)).toEqual(
      Array(issued.lines.length).fill(uk.credit),
    );
    expect(entries.reduce((s, e) => s + Number(e.debit), 0)).toBe(765607);
    expect(entries.reduce((s, e) => s + Number(e.credit), 0)).toBe(765607);
    expect(new Set(entries.map((e) => e.source_line_id))).toEqual(new Set(issued.lines.map((l) => l.id)));
    const [journal] = await ownerRows<{ source_type: string; source_id: string; posting_date: string }>(
      world.db,
      world.a.id,
      'SELECT source_type, source_id, posting_date FROM ledger_journals WHERE tenant_id = ? AND id = ?',
      [world.a.id, issued.journalId],
    );
    expect(journal).toEqual({ source_type: 'invoice', source_id: issued.id, posting_date: '2026-04-01' });
    // One audit event for the request, carrying the journal it posted.
    const events = await ownerRows<{ action: string; after: { journal: { id: string; total: number } } }>(
      world.db,
      world.a.id,
      `SELECT action, after FROM audit_events WHERE tenant_id = ? AND request_id = ?`,
      [world.a.id, r.headers.get('x-request-id')],
    );
    expect(events.map((e) => [e.action, e.after.journal.id, e.after.journal.total])).toEqual([
      ['invoice.issued', issued.journalId, 765607],
    ]);
    const held = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      'SELECT count(*)::int AS n FROM invoice_nights WHERE tenant_id = ? AND invoice_id = ?',
      [world.a.id, issued.id],
    );
    expect(held[0]!.n).toBe(17 + 11 + 20 + 18);

    // The draft is gone; the id now reads as the issued invoice, and it is listed as issued.
    const read = await world.call('getInvoice', { token: world.a.adminToken, params: { invoiceId: issued.id } });
    expect(read.body).toEqual(issued);
    const listed = await world.call('listInvoices', {
      token: world.a.adminToken,
      query: { status: 'issued', commissionerId: council },
    });
    expect(listed.body.data.map((i: Invoice) => i.id)).toEqual([issued.id]);
    draft = issued;
  });

  it('never invoices a night twice: a later draft leaves the issued nights out, a stale draft cannot be issued, and the database refuses one', async () => {
    // Overlapping the issued invoice: only the nights after 29 March are left to invoice.
    const next = await generate(world.a, {
      periodStart: '2026-03-16',
      periodEnd: '2026-04-05',
      commissionerId: council,
    });
    expect(shape(next.invoices[0]!.lines)).toEqual(
      shape([
        {
          placementId: whole.id,
          periodStart: '2026-03-30',
          periodEnd: '2026-04-05',
          nights: 7,
          feeAmount: 91234,
          feePeriod: 'week',
          amount: 91234,
        },
        {
          placementId: arriving.id,
          periodStart: '2026-03-30',
          periodEnd: '2026-04-05',
          nights: 7,
          feeAmount: 70001,
          feePeriod: 'week',
          amount: 70001,
        },
      ] as Line[]),
    );

    // A stale draft: the trust's draft was made before this one moved the arriving child's fee to the trust.
    await fee(world.a, arriving.id, trust, '2026-03-30', 70001, 'week', 'SCT-78');
    const moved = await generate(world.a, {
      periodStart: '2026-03-30',
      periodEnd: '2026-04-05',
      commissionerId: trust,
    });
    expect(shape(moved.invoices[0]!.lines).map((l) => l[0])).toEqual([other.id, arriving.id].sort());
    const staleCouncil = next.invoices[0]!;
    const numbers = await invoiceNumbers(world.a);
    expect((await issue(world.a, moved.invoices[0]!)).status).toBe(200);
    const refused = await issue(world.a, staleCouncil);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(
      /already invoiced .*line 2: 7 night\(s\) from 2026-03-30 to 2026-04-05 already on INV-/,
    );
    // The refused issue gave its number back.
    expect(await invoiceNumbers(world.a)).toEqual([...numbers, numbers.length + 1]);
    const regenerated = await world.call('regenerateInvoiceDraft', {
      token: world.a.adminToken,
      params: { invoiceId: staleCouncil.id },
      headers: { 'if-match': `"${staleCouncil.version}"` },
    });
    expect(shape(regenerated.body.lines).map((l: unknown[]) => l[0])).toEqual([whole.id]);

    // Behind the service: an invoice written in SQL holding a night already held is refused by the database.
    const [held] = await ownerRows<{ night: string; journal_id: string }>(
      world.db,
      world.a.id,
      `SELECT n.night, i.journal_id FROM invoice_nights n JOIN invoices i ON i.tenant_id = n.tenant_id AND i.id = n.invoice_id WHERE n.tenant_id = ? AND n.placement_id = ? AND n.credit_note_id IS NULL ORDER BY n.night LIMIT 1`,
      [world.a.id, whole.id],
    );
    await expect(
      inTenant(world.a, async (trx) => {
        await trx.raw(
          `UPDATE invoice_counters SET last_number = last_number + 1 WHERE tenant_id = ? AND series = 'invoice'`,
          [world.a.id],
        );
        const invoiceId = (
          await trx.raw(
            `INSERT INTO invoices (tenant_id, id, number, reference, commissioner_id, period_start, period_end, issue_date, due_date, payment_terms_days, currency, total, bill_to, journal_id, drafted_at)
        SELECT ?, gen_random_uuid(), last_number, 'SQL-' || last_number, ?, ?, ?, ?, ?, 0, 'GBP', 100, '{}', ?, now() FROM invoice_counters WHERE tenant_id = ? AND series = 'invoice' RETURNING id`,
            [world.a.id, council, held!.night, held!.night, held!.night, held!.night, held!.journal_id, world.a.id],
          )
        ).rows[0].id;
        const lineId = (
          await trx.raw(
            `INSERT INTO invoice_lines (tenant_id, id, invoice_id, line_number, placement_id, child_id, commission_id, period_start, period_end, nights, fee_amount, fee_period, amount)
        SELECT ?, gen_random_uuid(), ?, 1, ?, ?, id, ?, ?, 1, 700, 'week', 100 FROM placement_commissions WHERE tenant_id = ? AND placement_id = ? LIMIT 1 RETURNING id`,
            [world.a.id, invoiceId, whole.id, whole.childId, held!.night, held!.night, world.a.id, whole.id],
          )
        ).rows[0].id;
        await trx.raw(
          'INSERT INTO invoice_nights (tenant_id, invoice_line_id, night, placement_id, invoice_id) VALUES (?, ?, ?, ?, ?)',
          [world.a.id, lineId, held!.night, whole.id, invoiceId],
        );
      }),
    ).rejects.toThrow(/invoice_nights_held/);
  });

  it('credits part of a line, then the rest of the invoice; refuses to over-credit; credited nights may be invoiced again', async () => {
    const invoice = draft;
    const first = invoice.lines[0]!;
    const notesBefore = (
      await ownerRows<{ n: number }>(
        world.db,
        world.a.id,
        'SELECT count(*)::int AS n FROM credit_notes WHERE tenant_id = ?',
        [world.a.id],
      )
    )[0]!.n;
    const credit = (body: Record<string, unknown>) =>
      world.call('createCreditNote', { token: world.a.adminToken, params: { invoiceId: invoice.id }, body });

    const partial = await credit({
      reason: 'One night charged at the wrong fee',
      issueDate: '2026-04-10',
      lines: [{ invoiceLineId: first.id, amount: 12079 }],
    });
    expect(partial.status).toBe(201);
    expect(partial.body).toMatchObject({
      number: notesBefore + 1,
      reference: `CN-${String(notesBefore + 1).padStart(6, '0')}`,
      invoiceId: invoice.id,
      invoiceReference: invoice.reference,
      total: 12079,
      issueDate: '2026-04-10',
    });
    expect(partial.body.lines).toEqual([
      expect.objectContaining({ invoiceLineId: first.id, amount: 12079, freedNights: false }),
    ]);
    const credited = packChart('uk').posting('credit_note');
    expect(credited).toEqual({ debit: '4000', credit: '1100' });
    expect(
      (await journalEntries(world.a, partial.body.journalId)).map((e) => [
        e.account_code,
        Number(e.debit),
        Number(e.credit),
      ]),
    ).toEqual([
      [credited.debit, 12079, 0],
      [credited.credit, 0, 12079],
    ]);

    const over = await credit({
      reason: 'Too much',
      lines: [{ invoiceLineId: first.id, amount: first.amount - 12079 + 1 }],
    });
    expect(over.status).toBe(422);
    expect(over.body.errors).toEqual([
      {
        pointer: '/body/lines/0/amount',
        message: `is more than the ${first.amount - 12079} (minor units) left uncredited on this line`,
      },
    ]);
    const foreignLine = await credit({
      reason: 'Wrong invoice',
      lines: [{ invoiceLineId: '0190f5d4-0000-7000-8000-000000000000', amount: 1 }],
    });
    expect(foreignLine.status).toBe(422);
    expect(foreignLine.body.errors[0].pointer).toBe('/body/lines/0/invoiceLineId');
    const future = await credit({ reason: 'Later', issueDate: '2999-01-01' });
    expect(future.status).toBe(422);
    expect(future.body.errors[0].pointer).toBe('/body/issueDate');

    const rest = await credit({ reason: 'Placement fees withdrawn; reissued at the corrected fee' });
    expect(rest.status).toBe(201);
    // The refused attempts took no number.
    expect(rest.body.number).toBe(notesBefore + 2);
    expect(rest.body.total).toBe(invoice.total - 12079);
    expect(
      rest.body.lines.map((l: { invoiceLineId: string; amount: number; freedNights: boolean }) => [
        l.invoiceLineId,
        l.amount,
        l.freedNights,
      ]),
    ).toEqual(invoice.lines.map((l) => [l.id, l.id === first.id ? l.amount - 12079 : l.amount, true]));
    const read = (await world.call('getInvoice', { token: world.a.adminToken, params: { invoiceId: invoice.id } }))
      .body as Invoice & { creditNotes: Array<{ id: string }> };
    expect(read.credited).toBe(invoice.total);
    expect(read.lines.every((l) => l.remaining === 0)).toBe(true);
    expect(read.creditNotes.map((n) => n.id)).toEqual([partial.body.id, rest.body.id]);
    expect((await credit({ reason: 'Again' })).status).toBe(409);

    // A corrected fee from the same date (the later recorded wins), and the nights are invoiced again at it.
    await fee(world.a, arriving.id, council, '2026-03-10', 72000, 'week', 'NCC-PO-1002');
    const reissue = await generate(world.a, { ...period, commissionerId: council });
    const arrivingLine = reissue.invoices[0]!.lines.find((l) => l.placementId === arriving.id)!;
    // 20 nights × £720.00 ÷ 7 = £2,057.142… → £2,057.14
    expect([arrivingLine.periodStart, arrivingLine.periodEnd, arrivingLine.nights, arrivingLine.amount]).toEqual([
      '2026-03-10',
      '2026-03-29',
      20,
      205714,
    ]);
    expect((await issue(world.a, reissue.invoices[0]!)).status).toBe(200);
  });

  it('renders the issued invoice from the UK template: its number, the bill-to, every line and the total, children by initials only', async () => {
    const html = await documentHtml(world.a, 'getInvoiceDocument', { invoiceId: draft.id });
    expect(html).toContain('<h1>Invoice</h1>');
    expect(html).toContain(`<dt>Invoice number</dt><dd>${draft.reference}</dd>`);
    for (const text of [
      'Northshire County Council',
      'Finance Department',
      'County Hall',
      'Anytown AB1 2CD',
      '1 April 2026',
      '1 May 2026',
      '30 days from the invoice date',
      '2 March 2026',
      '29 March 2026',
    ])
      expect(html).toContain(text);
    for (const line of draft.lines) expect(html).toContain(`<td>${written(line.amount, 'GBP')}</td>`);
    // The four lines worked out by hand above: £2,053.36 + £1,433.68 + £2,000.03 + £2,169.00.
    expect(written(205336 + 143368 + 200003 + 216900, 'GBP')).toBe('£7,656.07');
    expect(html).toContain('<strong>£7,656.07</strong>');
    expect(html).toContain('<td>£120.50 a day</td>');
    // Each placement by the commissioner's reference for it, each child by initials.
    for (const reference of ['NCC-PO-1001', 'NCC-PO-1002', 'NCC-PO-0990'])
      expect(html).toContain(`<td>${reference}</td>`);
    expect(html.match(/<td>F\.C\.<\/td>/g)).toHaveLength(draft.lines.length);
    for (const name of await childNames(world.a, [whole.childId, arriving.childId, leaving.childId]))
      expect(html).not.toContain(name);
    // As issued: the credit notes since are documents of their own, and nothing says draft.
    expect(html).not.toMatch(/CN-|draft/i);
    // Three purchase orders on one invoice: none is the invoice's, and the tenant's account number for the council is not the council's reference.
    expect(html).not.toContain('Your reference');
  });

  it('gives the same PDF bytes each time the issued invoice is rendered', async () => {
    const path = `/v1/invoices/${draft.id}/document?format=pdf`;
    const first = await documentBytes(world.a, path);
    const second = await documentBytes(world.a, path);
    expect([first.status, first.type]).toEqual([200, 'application/pdf']);
    expect(first.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(first.bytes.equals(second.bytes)).toBe(true);
    // A4, for a tenant that invoices in pounds.
    expect(first.bytes.toString('latin1')).toContain('/MediaBox [0 0 595.28 841.89]');
  });

  it('renders each credit note: its number, the invoice it credits, the reason, and every line at the amount credited', async () => {
    const listed = await world.call('listCreditNotes', { token: world.a.adminToken, query: { invoiceId: draft.id } });
    const [rest, partial] = listed.body.data as Array<{ id: string; reference: string; total: number }>;
    const first = draft.lines[0]!;
    const names = await childNames(world.a, [whole.childId, arriving.childId, leaving.childId]);

    const one = await documentHtml(world.a, 'getCreditNoteDocument', { creditNoteId: partial!.id });
    expect(one).toContain('<h1>Credit note</h1>');
    expect(one).toContain(`<dt>Credit note number</dt><dd>${partial!.reference}</dd>`);
    expect(one).toContain(`<dd>${draft.reference} of <time datetime="2026-04-01">1 April 2026</time></dd>`);
    for (const text of [
      'One night charged at the wrong fee',
      '10 April 2026',
      'Northshire County Council',
      'Anytown AB1 2CD',
      `part of ${written(first.amount, 'GBP')}`,
    ])
      expect(one).toContain(text);
    expect(one).toContain(`<td>${written(12079, 'GBP')}</td>`);
    expect(one).toContain('<strong>£120.79</strong>');
    expect(one.match(/<tr><td>/g)).toHaveLength(1);
    for (const name of names) expect(one).not.toContain(name);

    const all = await documentHtml(world.a, 'getCreditNoteDocument', { creditNoteId: rest!.id });
    for (const line of draft.lines)
      expect(all).toContain(`<td>${written(line.id === first.id ? line.amount - 12079 : line.amount, 'GBP')}</td>`);
    expect(all.match(/credited in full/g)).toHaveLength(draft.lines.length - 1);
    expect(all).toContain(`<strong>${written(765607 - 12079, 'GBP')}</strong>`);
    for (const name of names) expect(all).not.toContain(name);

    const path = `/v1/credit-notes/${partial!.id}/document?format=pdf`;
    const pdf = await documentBytes(world.a, path);
    expect([pdf.status, pdf.type, pdf.bytes.subarray(0, 5).toString('latin1')]).toEqual([
      200,
      'application/pdf',
      '%PDF-',
    ]);
    expect(pdf.bytes.equals((await documentBytes(world.a, path)).bytes)).toBe(true);
  });

  it('gives the view models as the templates read them; null for an invoice that does not exist', async () => {
    const doc = await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      invoiceDocumentData(trx, world.a.id, draft.id),
    );
    expect(doc).toMatchObject({
      service: { name: 'Tenant tenant-a', legalName: 'Tenant tenant-a', registration: null, taxNumber: null },
      invoice: {
        number: draft.reference,
        date: '1 April 2026',
        dateIso: '2026-04-01',
        dueDate: '1 May 2026',
        dueDateIso: '2026-05-01',
        terms: '30 days from the invoice date',
      },
      billTo: {
        name: 'Northshire County Council',
        addressLines: ['Finance Department', 'County Hall', 'Anytown AB1 2CD'],
        reference: null,
      },
      period: { start: '2 March 2026', startIso: '2026-03-02', end: '29 March 2026', endIso: '2026-03-29' },
      totals: { net: '£7,656.07', tax: null, total: '£7,656.07' },
    });
    expect(doc!.payment.instructions).toEqual([
      'Please pay £7,656.07 to Tenant tenant-a by 1 May 2026.',
      `Quote ${draft.reference} as the payment reference.`,
    ]);
    expect(doc!.lines.find((l) => l.placementReference === 'NCC-PO-0990')).toEqual({
      child: 'F.C.',
      placementReference: 'NCC-PO-0990',
      from: '2 Mar 2026',
      to: '19 Mar 2026',
      nights: 18,
      rate: '£120.50 a day',
      description: 'Short term placement',
      amount: '£2,169.00',
    });
    const [note] = await ownerRows<{ id: string }>(
      world.db,
      world.a.id,
      'SELECT id FROM credit_notes WHERE tenant_id = ? AND invoice_id = ? ORDER BY number LIMIT 1',
      [world.a.id, draft.id],
    );
    const cn = await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
      creditNoteDocumentData(trx, world.a.id, note!.id),
    );
    expect(cn).toMatchObject({
      creditNote: { date: '10 April 2026', dateIso: '2026-04-10', reason: 'One night charged at the wrong fee' },
      credits: { invoiceNumber: draft.reference, invoiceDate: '1 April 2026', invoiceDateIso: '2026-04-01' },
      totals: { net: '£120.79', tax: null, total: '£120.79' },
    });
    expect(cn!.lines).toEqual([
      expect.objectContaining({ child: 'F.C.', nights: draft.lines[0]!.nights, amount: '£120.79' }),
    ]);
    expect(
      await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
        invoiceDocumentData(trx, world.a.id, '0190f5d4-0000-7000-8000-000000000000'),
      ),
    ).toBeNull();
    expect(
      await inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
        creditNoteDocumentData(trx, world.a.id, '0190f5d4-0000-7000-8000-000000000000'),
      ),
    ).toBeNull();
  });
});

describe("a draft's document", () => {
  it('previews the draft as it would be issued today, numbered DRAFT and marked as a draft in its notes', async () => {
    const council = await commissioner(world.a, 'Preview Borough Council');
    const placement = await stay(world.a, '2026-09-07');
    await fee(world.a, placement.id, council, '2026-09-07', 84000, 'week', 'PBC-55');
    const drafted = (await generate(world.a, { periodStart: '2026-09-07', commissionerId: council })).invoices[0]!;
    // 7 nights × £840.00 ÷ 7 = £840.00
    expect(drafted.total).toBe(84000);
    const html = await documentHtml(world.a, 'getInvoiceDocument', { invoiceId: drafted.id });
    expect(html).toContain('<title>Invoice DRAFT: Preview Borough Council</title>');
    expect(html).toContain('<p>Draft for checking, not an invoice: it has no number yet');
    expect(html).toContain('<td>PBC-55</td>');
    // One purchase order for every line: the commissioner's reference for the invoice.
    expect(html).toContain('<dt>Your reference</dt><dd>PBC-55</dd>');
    expect(html).toContain(`<td>${written(84000, 'GBP')}</td>`);
    expect(html).not.toMatch(/INV-\d/);
    for (const name of await childNames(world.a, [placement.childId])) expect(html).not.toContain(name);
    const pdf = await documentBytes(world.a, `/v1/invoices/${drafted.id}/document?format=pdf`);
    expect([pdf.status, pdf.bytes.subarray(0, 5).toString('latin1')]).toEqual([200, '%PDF-']);
  });
});

describe('numbers without gaps', () => {
  it('hands out consecutive numbers to 10 concurrent issues, and a rolled-back issue gives its number back', async () => {
    const council = await commissioner(world.a, 'Concurrent Borough Council');
    const placement = await stay(world.a, '2025-01-06');
    await fee(world.a, placement.id, council, '2025-01-06', 70000);
    // Eleven consecutive weeks, eleven drafts (periods that do not overlap do not replace each other).
    const drafts: Invoice[] = [];
    for (let week = 0; week < 11; week++) {
      const start = new Date(Date.UTC(2025, 0, 6 + 7 * week)).toISOString().slice(0, 10);
      drafts.push((await generate(world.a, { periodStart: start, commissionerId: council })).invoices[0]!);
    }
    expect(drafts.map((d) => d.total)).toEqual(Array(11).fill(70000));
    const before = await invoiceNumbers(world.a);
    const next = before.length + 1;

    // A failed issue: numbered, posted, then the rest of the work fails and everything rolls back.
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, async (trx) => {
        const { invoice } = await issueDraft(
          {
            trx,
            tenantId: world.a.id,
            actorId: null,
            ledger: { trx, tenantId: world.a.id, packs: world.server.packs, actor: system },
          },
          drafts[0]!.id,
        );
        expect(invoice.number).toBe(next);
        throw new Error('the rest of the run failed');
      }),
    ).rejects.toThrow('the rest of the run failed');
    expect(await invoiceNumbers(world.a)).toEqual(before);
    // And refusals before numbering take none: a stale ETag, a future issue date.
    expect(
      (
        await world.call('issueInvoice', {
          token: world.a.adminToken,
          params: { invoiceId: drafts[0]!.id },
          headers: { 'if-match': '"9"' },
          body: {},
        })
      ).status,
    ).toBe(412);
    expect((await issue(world.a, drafts[0]!, { issueDate: '2999-01-01' })).status).toBe(422);

    const results = await Promise.all(drafts.slice(0, 10).map((d) => issue(world.a, d)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.map((r) => r.body.number as number).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => next + i),
    );
    const all = await invoiceNumbers(world.a);
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.body.reference)).size).toBe(10);
  });

  it('refuses in the database a number the counter did not give, and a counter that jumps', async () => {
    await expect(
      inTenant(world.a, (trx) =>
        trx.raw(
          `UPDATE invoice_counters SET last_number = last_number + 2 WHERE tenant_id = ? AND series = 'invoice'`,
          [world.a.id],
        ),
      ),
    ).rejects.toThrow(/only step by one/);
    await expect(
      inTenant(world.a, (trx) => trx.raw(`DELETE FROM invoice_counters WHERE tenant_id = ?`, [world.a.id])),
    ).rejects.toThrow(/append-only/);
    const [any] = await ownerRows<{ commissioner_id: string; journal_id: string }>(
      world.db,
      world.a.id,
      'SELECT commissioner_id, journal_id FROM invoices WHERE tenant_id = ? LIMIT 1',
      [world.a.id],
    );
    await expect(
      inTenant(world.a, (trx) =>
        trx.raw(
          `INSERT INTO invoices (tenant_id, id, number, reference, commissioner_id, period_start, period_end, issue_date, due_date, payment_terms_days, currency, total, bill_to, journal_id, drafted_at)
      VALUES (?, gen_random_uuid(), 999999, 'SQL-999999', ?, '2026-01-01', '2026-01-07', '2026-01-08', '2026-01-08', 0, 'GBP', 100, '{}', ?, now())`,
          [world.a.id, any!.commissioner_id, any!.journal_id],
        ),
      ),
    ).rejects.toThrow(/is not the number the tenant's counter gave/);
  });
});

describe('issued invoices and credit notes never change', () => {
  let invoiceId: string;
  beforeAll(async () => {
    const council = await commissioner(world.a, 'Unchanging District Council');
    const placement = await stay(world.a, '2026-05-04');
    await fee(world.a, placement.id, council, '2026-05-04', 70000);
    const drafted = await generate(world.a, { periodStart: '2026-05-04', commissionerId: council });
    const issued = await issue(world.a, drafted.invoices[0]!);
    invoiceId = issued.body.id;
    const lineId = issued.body.lines[0].id;
    expect(
      (
        await world.call('createCreditNote', {
          token: world.a.adminToken,
          params: { invoiceId },
          body: { reason: 'Part', lines: [{ invoiceLineId: lineId, amount: 100 }] },
        })
      ).status,
    ).toBe(201);
  });

  it('through the API: an issued invoice cannot be deleted, regenerated or issued again', async () => {
    const headers = { 'if-match': '"1"' };
    expect(
      (await world.call('deleteInvoiceDraft', { token: world.a.adminToken, params: { invoiceId }, headers })).status,
    ).toBe(409);
    expect(
      (await world.call('regenerateInvoiceDraft', { token: world.a.adminToken, params: { invoiceId }, headers }))
        .status,
    ).toBe(409);
    expect(
      (await world.call('issueInvoice', { token: world.a.adminToken, params: { invoiceId }, headers, body: {} }))
        .status,
    ).toBe(409);
  });

  const tables = ['invoices', 'invoice_lines', 'credit_notes', 'credit_note_lines'];
  const money: Record<string, string> = {
    invoices: 'total',
    invoice_lines: 'amount',
    credit_notes: 'total',
    credit_note_lines: 'amount',
  };
  const statements = tables.flatMap((table) => [
    [table, `UPDATE ${table} SET ${money[table]} = 1`, 'UPDATE'],
    [table, `DELETE FROM ${table}`, 'DELETE'],
  ]);

  it.each(statements)('%s: %s fails for the owner (trigger)', async (table, statement, verb) => {
    await expect(inTenant(world.a, (trx) => trx.raw(statement))).rejects.toThrow(
      `${table} is append-only: ${verb} refused`,
    );
  });

  it.each(statements)('%s: %s fails for hearth_app (no privilege)', async (table, statement) => {
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, async (trx) => {
        const visible = ((await trx.raw(`SELECT count(*)::int AS n FROM ${table}`)) as { rows: Array<{ n: number }> })
          .rows[0]!.n;
        expect(visible).toBeGreaterThan(0);
        await trx.raw(statement);
      }),
    ).rejects.toThrow(/permission denied/);
  });

  it('held nights: hearth_app may only free them, and only through a credit note that fully credited the line', async () => {
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
        trx.raw(`UPDATE invoice_nights SET night = night + 1 WHERE invoice_id = ?`, [invoiceId]),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
        trx.raw(`DELETE FROM invoice_nights WHERE invoice_id = ?`, [invoiceId]),
      ),
    ).rejects.toThrow(/permission denied/);
    // The partial credit note does not free them.
    await expect(
      inTenantTransaction(world.db, { tenantId: world.a.id }, (trx) =>
        trx.raw(
          `UPDATE invoice_nights SET credit_note_id = (SELECT id FROM credit_notes WHERE invoice_id = ? LIMIT 1) WHERE invoice_id = ?`,
          [invoiceId, invoiceId],
        ),
      ),
    ).rejects.toThrow(/only be freed once, by a credit note that fully credited the line/);
    await expect(inTenant(world.a, (trx) => trx.raw(`TRUNCATE invoice_nights CASCADE`))).rejects.toThrow(/append-only/);
  });

  it('refuses at commit a line added in SQL to an issued invoice', async () => {
    await expect(
      inTenant(world.a, (trx) =>
        trx.raw(
          `INSERT INTO invoice_lines (tenant_id, id, invoice_id, line_number, placement_id, child_id, commission_id, period_start, period_end, nights, fee_amount, fee_period, amount)
      SELECT tenant_id, gen_random_uuid(), invoice_id, 99, placement_id, child_id, commission_id, '2030-01-01', '2030-01-01', 1, 700, 'week', 100 FROM invoice_lines WHERE tenant_id = ? AND invoice_id = ? LIMIT 1`,
          [world.a.id, invoiceId],
        ),
      ),
    ).rejects.toThrow(/is not whole/);
  });

  it('refuses in the database a credit beyond what is left on a line', async () => {
    const [line] = await ownerRows<{ id: string; amount: number; journal_id: string }>(
      world.db,
      world.a.id,
      'SELECT l.id, l.amount, i.journal_id FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id WHERE l.tenant_id = ? AND l.invoice_id = ?',
      [world.a.id, invoiceId],
    );
    await expect(
      inTenant(world.a, async (trx) => {
        await trx.raw(
          `UPDATE invoice_counters SET last_number = last_number + 1 WHERE tenant_id = ? AND series = 'credit_note'`,
          [world.a.id],
        );
        const noteId = (
          await trx.raw(
            `INSERT INTO credit_notes (tenant_id, id, number, reference, invoice_id, issue_date, reason, currency, total, journal_id)
        SELECT ?, gen_random_uuid(), last_number, 'SQL-CN-' || last_number, ?, '2026-06-01', 'sql', 'GBP', ?, ? FROM invoice_counters WHERE tenant_id = ? AND series = 'credit_note' RETURNING id`,
            [world.a.id, invoiceId, Number(line!.amount), line!.journal_id, world.a.id],
          )
        ).rows[0].id;
        await trx.raw(
          `INSERT INTO credit_note_lines (tenant_id, id, credit_note_id, line_number, invoice_line_id, amount) VALUES (?, gen_random_uuid(), ?, 1, ?, ?)`,
          [world.a.id, noteId, line!.id, Number(line!.amount)],
        );
      }),
    ).rejects.toThrow(/would be credited/);
  });
});

describe('the USA tenant', () => {
  let usa: { invoiceId: string; invoiceHtml: string };

  it('invoices a county in dollars on the USA chart, with its own numbers, and credits it', async () => {
    const county = await commissioner(world.b, 'Alameda County Social Services');
    const placement = await stay(world.b, '2026-06-01');
    await fee(world.b, placement.id, county, '2026-06-01', 4500, 'day', 'ALA-2026-118');
    const drafted = await generate(world.b, {
      periodStart: '2026-06-01',
      periodEnd: '2026-06-30',
      commissionerId: county,
    });
    // 30 days × $45.00 = $1,350.00
    expect(drafted.invoices[0]).toMatchObject({ currency: 'USD', total: 135000 });
    const numbersBefore = await invoiceNumbers(world.b);
    const issued = await issue(world.b, drafted.invoices[0]!, { issueDate: '2026-07-01' });
    expect(issued.status).toBe(200);
    expect(issued.body).toMatchObject({ number: numbersBefore.length + 1, currency: 'USD', dueDate: '2026-07-31' });
    const us = packChart('usa');
    expect(us.posting('invoice')).toEqual({ debit: '1100', credit: '4200' });
    expect(
      (await journalEntries(world.b, issued.body.journalId)).map((e) => [
        e.account_code,
        Number(e.debit),
        Number(e.credit),
      ]),
    ).toEqual([
      [us.posting('invoice').debit, 135000, 0],
      [us.posting('invoice').credit, 0, 135000],
    ]);
    const credit = await world.call('createCreditNote', {
      token: world.b.adminToken,
      params: { invoiceId: issued.body.id },
      body: { reason: 'Placement ended early' },
    });
    expect(credit.status).toBe(201);
    expect(
      (await journalEntries(world.b, credit.body.journalId)).map((e) => [
        e.account_code,
        Number(e.debit),
        Number(e.credit),
      ]),
    ).toEqual([
      [us.posting('credit_note').debit, 135000, 0],
      [us.posting('credit_note').credit, 0, 135000],
    ]);

    const html = await documentHtml(world.b, 'getInvoiceDocument', { invoiceId: issued.body.id });
    expect(html).toContain(`<dt>Invoice number</dt><dd>${issued.body.reference}</dd>`);
    for (const text of [
      'Alameda County Social Services',
      'Anytown AB1 2CD',
      '<dt>Contract</dt><dd>ALA-2026-118</dd>',
      'July 1, 2026',
      'July 31, 2026',
      '(net 30)',
      'June 1, 2026',
      'June 30, 2026',
      '<td>ALA-2026-118</td>',
      '<td>F.C.</td>',
      '<td>30</td>',
      '<td>$45.00 a day</td>',
    ])
      expect(html).toContain(text);
    expect(written(30 * 4500, 'USD')).toBe('$1,350.00');
    expect(html).toContain('<td>$1,350.00</td>');
    expect(html).toContain('<th scope="row" colspan="7">Amount due</th><td><strong>$1,350.00</strong></td>');
    const names = await childNames(world.b, [placement.childId]);
    for (const name of names) expect(html).not.toContain(name);

    const memo = await documentHtml(world.b, 'getCreditNoteDocument', { creditNoteId: credit.body.id });
    expect(memo).toContain('<h1>Credit memo</h1>');
    expect(memo).toContain(`<dt>Credit memo number</dt><dd>${credit.body.reference}</dd>`);
    expect(memo).toContain(`<dd>${issued.body.reference} of <time datetime="2026-07-01">July 1, 2026</time></dd>`);
    for (const text of [
      'Placement ended early',
      'Alameda County Social Services',
      '<td>ALA-2026-118</td>',
      'credited in full',
      '<td>$1,350.00</td>',
      '<strong>$1,350.00</strong>',
    ])
      expect(memo).toContain(text);
    for (const name of names) expect(memo).not.toContain(name);

    const path = `/v1/invoices/${issued.body.id}/document?format=pdf`;
    const pdf = await documentBytes(world.b, path);
    expect([pdf.status, pdf.type, pdf.bytes.subarray(0, 5).toString('latin1')]).toEqual([
      200,
      'application/pdf',
      '%PDF-',
    ]);
    expect(pdf.bytes.equals((await documentBytes(world.b, path)).bytes)).toBe(true);
    // US Letter, for a tenant that invoices in dollars.
    expect(pdf.bytes.toString('latin1')).toContain('/MediaBox [0 0 612 792]');
    const memoPdf = await documentBytes(world.b, `/v1/credit-notes/${credit.body.id}/document?format=pdf`);
    expect([memoPdf.status, memoPdf.bytes.subarray(0, 5).toString('latin1')]).toEqual([200, '%PDF-']);
    usa = { invoiceId: issued.body.id, invoiceHtml: html };
  });

  it("renders with the template the tenant's configuration has on the document's date; one that prints a field invoices lack is a 409", async () => {
    // From 2 July 2026 the tenant's invoice template is its own, and prints a field Hearth does not hold.
    const overlay = await world.call('createOverlay', {
      token: world.b.adminToken,
      body: {
        effectiveFrom: '2026-07-02',
        description: 'Invoice template with bank details',
        changes: {
          templates: { invoice: { source: '<p>Invoice {{invoice.number}}: pay to {{service.bankAccount}}</p>' } },
        },
      },
    });
    expect(overlay.status).toBe(201);
    // The invoice issued on 1 July renders as it did, from the pack's template.
    expect(await documentHtml(world.b, 'getInvoiceDocument', { invoiceId: usa.invoiceId })).toBe(usa.invoiceHtml);
    // A draft is shown as if issued today, so with the overlay's template, which cannot render it.
    const county = await commissioner(world.b, 'Overlay County');
    const placement = await stay(world.b, '2026-08-03');
    await fee(world.b, placement.id, county, '2026-08-03', 5000, 'day');
    const drafted = (await generate(world.b, { periodStart: '2026-08-03', commissionerId: county })).invoices[0]!;
    const refused = await world.call('getInvoiceDocument', {
      token: world.b.adminToken,
      params: { invoiceId: drafted.id },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/invoice template \(overlay:\d+\) cannot render this document: .*bankAccount/);
  });
});

describe('tenants and permissions', () => {
  let ofA: { invoiceId: string; lineId: string; commissionerId: string; placementId: string };
  beforeAll(async () => {
    const council = await commissioner(world.a, 'Private District Council');
    const placement = await stay(world.a, '2026-07-06');
    await fee(world.a, placement.id, council, '2026-07-06', 70000);
    const drafted = await generate(world.a, { periodStart: '2026-07-06', commissionerId: council });
    const issued = await issue(world.a, drafted.invoices[0]!);
    ofA = {
      invoiceId: issued.body.id,
      lineId: issued.body.lines[0].id,
      commissionerId: council,
      placementId: placement.id,
    };
  });

  it("shows another tenant none of A's invoices and lets it credit none", async () => {
    const asB = (operationId: string, options: Record<string, unknown>) =>
      world.call(operationId, { token: world.b.adminToken, ...options });
    expect((await asB('getInvoice', { params: { invoiceId: ofA.invoiceId } })).status).toBe(404);
    expect((await asB('getInvoiceDocument', { params: { invoiceId: ofA.invoiceId } })).status).toBe(404);
    expect(
      (await asB('createCreditNote', { params: { invoiceId: ofA.invoiceId }, body: { reason: 'x' } })).status,
    ).toBe(404);
    expect(
      (await asB('issueInvoice', { params: { invoiceId: ofA.invoiceId }, headers: { 'if-match': '"1"' }, body: {} }))
        .status,
    ).toBe(404);
    expect((await asB('getCommissioner', { params: { commissionerId: ofA.commissionerId } })).status).toBe(404);
    expect((await asB('listPlacementCommissions', { params: { placementId: ofA.placementId } })).status).toBe(404);
    // A commission on B's own placement naming A's commissioner, and drafts for A's commissioner: refused, naming the field.
    const own = await stay(world.b, '2026-07-06');
    const named = await asB('recordPlacementCommission', {
      params: { placementId: own.id },
      body: { commissionerId: ofA.commissionerId, feeAmount: 100, feePeriod: 'week', effectiveFrom: '2026-07-06' },
    });
    expect(named.status).toBe(422);
    expect(named.body.errors[0].pointer).toBe('/body/commissionerId');
    const drafts = await asB('generateInvoiceDrafts', {
      body: { periodStart: '2026-07-06', commissionerId: ofA.commissionerId },
    });
    expect(drafts.status).toBe(422);
    expect(drafts.body.errors[0].pointer).toBe('/body/commissionerId');
    const listed = await asB('listInvoices', { query: { limit: 200 } });
    expect(listed.text).not.toContain(ofA.invoiceId);
    const notes = await asB('listCreditNotes', { query: { invoiceId: ofA.invoiceId } });
    expect(notes.body.data).toEqual([]);
  });

  it('names the field of every refusal', async () => {
    const call = (operationId: string, options: Record<string, unknown>) =>
      world.call(operationId, { token: world.a.adminToken, ...options });
    const backwards = await call('generateInvoiceDrafts', {
      body: { periodStart: '2026-03-10', periodEnd: '2026-03-01' },
    });
    expect([backwards.status, backwards.body.errors[0].pointer]).toEqual([422, '/body/periodEnd']);
    const tooLong = await call('generateInvoiceDrafts', {
      body: { periodStart: '2025-01-01', periodEnd: '2026-01-02' },
    });
    expect([tooLong.status, tooLong.body.errors[0].pointer]).toEqual([422, '/body/periodEnd']);
    const ended = await stay(world.a, '2026-01-05', '2026-02-01');
    const late = await call('recordPlacementCommission', {
      params: { placementId: ended.id },
      body: { commissionerId: ofA.commissionerId, feeAmount: 100, feePeriod: 'week', effectiveFrom: '2026-02-02' },
    });
    expect([late.status, late.body.errors[0].pointer]).toEqual([422, '/body/effectiveFrom']);
    const archivedId = await commissioner(world.a, 'Archived Council');
    expect(
      (
        await call('updateCommissioner', {
          params: { commissionerId: archivedId },
          body: { status: 'archived' },
          headers: { 'if-match': '"1"' },
        })
      ).status,
    ).toBe(200);
    const archived = await call('recordPlacementCommission', {
      params: { placementId: ended.id },
      body: { commissionerId: archivedId, feeAmount: 100, feePeriod: 'week', effectiveFrom: '2026-01-05' },
    });
    expect([archived.status, archived.body.errors[0].pointer]).toEqual([422, '/body/commissionerId']);
    const policy = await call('getInvoicingPolicy', {});
    const samePrefix = await call('updateInvoicingPolicy', {
      body: { ...defaultPolicyBody(), creditNotePrefix: 'INV-' },
      headers: { 'if-match': policy.headers.get('etag')! },
    });
    expect([samePrefix.status, samePrefix.body.errors[0].pointer]).toEqual([422, '/body/creditNotePrefix']);
    const nothing = await call('generateInvoiceDrafts', {
      body: { periodStart: '2020-01-06', commissionerId: archivedId },
    });
    expect(nothing.body).toMatchObject({
      periodStart: '2020-01-06',
      periodEnd: '2020-01-12',
      invoices: [],
      replacedDraftIds: [],
    });
  });

  it('lets finance read and issue, and a caseworker do neither', async () => {
    const caseworker = await world.addUser(world.a, ['caseworker']);
    expect((await world.call('listInvoices', { token: caseworker.token })).status).toBe(403);
    expect(
      (await world.call('getInvoiceDocument', { token: caseworker.token, params: { invoiceId: ofA.invoiceId } }))
        .status,
    ).toBe(403);
    expect(
      (
        await world.call('createCreditNote', {
          token: caseworker.token,
          params: { invoiceId: ofA.invoiceId },
          body: { reason: 'x' },
        })
      ).status,
    ).toBe(403);
    const finance = await world.addUser(world.a, ['finance_officer']);
    expect(
      (await world.call('getInvoice', { token: finance.token, params: { invoiceId: ofA.invoiceId } })).status,
    ).toBe(200);
    expect(
      (
        await world.call('getInvoiceDocument', {
          token: finance.token,
          params: { invoiceId: ofA.invoiceId },
          query: { format: 'pdf' },
        })
      ).status,
    ).toBe(200);
    const credited = await world.call('createCreditNote', {
      token: finance.token,
      params: { invoiceId: ofA.invoiceId },
      body: { reason: 'Agreed reduction', lines: [{ invoiceLineId: ofA.lineId, amount: 500 }] },
    });
    expect(credited.status).toBe(201);
    expect(credited.body.createdBy).toBe(finance.id);
  });
});
