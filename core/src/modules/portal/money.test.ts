import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import { daysFromToday } from '../../../../test/support/fixtures/carers';
import { financeOfficer, runAt } from '../../../../test/support/fixtures/payments';
import { makeCarer, type Carer } from '../../../../test/support/fixtures/portal';
import { makePortalDraft, uniformLine } from '../../../../test/support/fixtures/portalMoney';
import { applyScope } from '../../db/tenantTransaction';
import { taxYear, taxYearOf } from './statements';

let world: World;
let carer: Carer;
let other: Carer;
let usCarer: Carer;
let paidRunId: string;
beforeAll(async () => {
  world = await startWorld();
  const a = { world, tenant: world.a };
  carer = await makeCarer(a);
  other = await makeCarer(a);
  usCarer = await makeCarer({ world, tenant: world.b });
  // An approved claim of the carer's, paid by a finalised run with the placement's nights.
  const claim = await makePortalDraft(a, carer);
  expect((await asCarer(carer, 'submitPortalClaim', { params: { claimId: claim.id }, body: {} })).status).toBe(200);
  const officer = await financeOfficer(a);
  const approved = await world.call('approveClaim', {
    token: officer.token,
    params: { claimId: claim.id },
    body: { reasons: 'Receipt seen.' },
  });
  expect(approved.status).toBe(200);
  paidRunId = (await runAt(a, 'finalised')).id;
}, 600_000);
afterAll(async () => {
  await world?.close();
});

const asCarer = (c: Carer, operationId: string, options: Record<string, unknown> = {}) =>
  world.call(operationId, { token: c.token, ...options });

describe('expected payment', () => {
  it("prices the household's placements for the current period, with the engine's explanation", async () => {
    const r = await asCarer(carer, 'getPortalExpectedPayment');
    expect(r.status).toBe(200);
    expect(r.body.currency).toBe('GBP');
    expect(r.body.period.start <= daysFromToday(0) && daysFromToday(0) <= r.body.period.end).toBe(true);
    expect(r.body.placements.map((p: { placementId: string }) => p.placementId)).toEqual([carer.placementId]);
    const [placement] = r.body.placements;
    expect(placement.lines.length).toBeGreaterThan(0);
    for (const line of placement.lines) {
      expect(line.amount).toBeGreaterThan(0);
      expect(line.explanation.table).toMatch(/\S/);
      expect(line.explanation.source).toMatch(/\S/);
      expect(line.fromDate >= r.body.period.start && line.toDate <= r.body.period.end).toBe(true);
    }
    const sum = (ns: number[]) => ns.reduce((s, n) => s + n, 0);
    expect(placement.total).toBe(sum(placement.lines.map((l: { amount: number }) => l.amount)));
    expect(r.body.total).toBe(placement.total);
    // Another household's expectation holds its own placement only.
    const theirs = await asCarer(other, 'getPortalExpectedPayment');
    expect(theirs.body.placements.map((p: { placementId: string }) => p.placementId)).toEqual([other.placementId]);
  });
});

describe('claims from the portal', () => {
  it('are made for my household, changed as drafts, given evidence, submitted, decided and shown with reasons', async () => {
    const made = await asCarer(carer, 'createPortalClaim', { body: { description: 'Shoes', lines: [uniformLine] } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ householdId: carer.householdId, status: 'draft', total: 2999 });
    const changed = await asCarer(carer, 'updatePortalClaim', {
      params: { claimId: made.body.id },
      headers: { 'if-match': made.headers.get('etag')! },
      body: { lines: [{ ...uniformLine, amount: 3999 }] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.total).toBe(3999);
    const evidence = await asCarer(carer, 'uploadPortalClaimEvidence', {
      params: { claimId: made.body.id },
      multipart: {
        fields: { key: 'receipt', title: 'Till receipt' },
        file: { filename: 'receipt.txt', bytes: 'Shoes 39.99\n', type: 'text/plain' },
      },
    });
    expect(evidence.status).toBe(201);
    expect(evidence.body.evidence).toEqual([
      expect.objectContaining({ key: 'receipt', title: 'Till receipt', receivedOn: daysFromToday(0) }),
    ]);
    // Staff see the carer's upload as a document of the claim, shared with the household.
    const docs = await world.call('listDocuments', {
      token: world.a.adminToken,
      query: { subjectType: 'claim', subjectId: made.body.id },
    });
    expect(docs.body.data).toEqual([expect.objectContaining({ sensitivity: 'shared_with_household' })]);
    const submitted = await asCarer(carer, 'submitPortalClaim', { params: { claimId: made.body.id }, body: {} });
    expect(submitted.status).toBe(200);
    expect(submitted.body.status).toBe('submitted');
    const again = await asCarer(carer, 'updatePortalClaim', {
      params: { claimId: made.body.id },
      headers: { 'if-match': submitted.headers.get('etag')! },
      body: { description: 'Too late' },
    });
    expect(again.status).toBe(409);
    const rejected = await world.call('rejectClaim', {
      token: world.a.adminToken,
      params: { claimId: made.body.id },
      body: { reasons: 'Uniform is paid in the allowance.' },
    });
    expect(rejected.status).toBe(200);
    const shown = await asCarer(carer, 'getPortalClaim', { params: { claimId: made.body.id } });
    expect(shown.body).toMatchObject({ status: 'rejected', decisionReasons: 'Uniform is paid in the allowance.' });
    expect(shown.body.history.map((h: { toStatus: string }) => h.toStatus)).toEqual(['draft', 'submitted', 'rejected']);
    const listed = await asCarer(carer, 'listPortalClaims');
    expect(listed.body.data).toContainEqual(
      expect.objectContaining({ id: made.body.id, decisionReasons: 'Uniform is paid in the allowance.' }),
    );
    // A decided claim is not withdrawn.
    const withdrawn = await asCarer(carer, 'withdrawPortalClaim', { params: { claimId: made.body.id }, body: {} });
    expect(withdrawn.status).toBe(409);
  });

  it('withdraws a submitted claim, and never reaches another household', async () => {
    const draft = await makePortalDraft({ world, tenant: world.a }, carer);
    expect((await asCarer(carer, 'submitPortalClaim', { params: { claimId: draft.id }, body: {} })).status).toBe(200);
    for (const op of ['getPortalClaim', 'submitPortalClaim', 'withdrawPortalClaim']) {
      const body = op === 'getPortalClaim' ? {} : { body: {} };
      const r = await asCarer(other, op, { params: { claimId: draft.id }, ...body });
      expect({ op, status: r.status }).toEqual({ op, status: 404 });
    }
    const withdrawn = await asCarer(carer, 'withdrawPortalClaim', {
      params: { claimId: draft.id },
      body: { reasons: 'Paid by school' },
    });
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body.status).toBe('withdrawn');
  });

  it('refuses a line naming a child not placed with me, naming the field', async () => {
    const r = await asCarer(carer, 'createPortalClaim', {
      body: { lines: [{ ...uniformLine, childId: other.childId }] },
    });
    expect(r.status).toBe(422);
    expect(r.body.errors).toContainEqual(expect.objectContaining({ pointer: '/body/lines/0/childId' }));
    const future = await asCarer(carer, 'createPortalClaim', {
      body: { lines: [{ ...uniformLine, date: daysFromToday(3) }] },
    });
    expect(future.status).toBe(422);
    expect(future.body.errors).toContainEqual(expect.objectContaining({ pointer: '/body/lines/0/date' }));
  });
});

describe('remittance advice and statements', () => {
  it('renders my payment in a finalised run as HTML and PDF, and is not found for a run that did not pay me', async () => {
    const html = await asCarer(carer, 'getPortalRemittanceAdvice', { params: { runId: paidRunId } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.text).toContain(carer.householdId.slice(-8).toUpperCase());
    const pdf = await asCarer(carer, 'getPortalRemittanceAdvice', {
      params: { runId: paidRunId },
      query: { format: 'pdf' },
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
    const statement = await asCarer(carer, 'getPortalPaymentStatement', { params: { runId: paidRunId } });
    expect(statement.status).toBe(200);
    expect(statement.text).toContain(carer.householdId.slice(-8).toUpperCase());
    // The run paid the other household too (its placement's nights): they get their own advice, never this one's.
    const theirs = await asCarer(other, 'getPortalRemittanceAdvice', { params: { runId: paidRunId } });
    expect(theirs.status).toBe(200);
    expect(theirs.text).toContain(other.householdId.slice(-8).toUpperCase());
    expect(theirs.text).not.toContain(carer.householdId.slice(-8).toUpperCase());
    expect((await asCarer(usCarer, 'getPortalRemittanceAdvice', { params: { runId: paidRunId } })).status).toBe(404);
  });
});

describe('the annual statement for tax', () => {
  it('runs 6 April to 5 April for a UK tenant and the calendar year for a USA tenant', () => {
    expect(taxYear('GBP', 2026)).toMatchObject({ from: '2026-04-06', to: '2027-04-05', basis: 'uk_tax_year' });
    expect(taxYearOf('GBP', '2027-04-05')).toBe(2026);
    expect(taxYearOf('GBP', '2027-04-06')).toBe(2027);
    expect(taxYear('USD', 2026)).toMatchObject({ from: '2026-01-01', to: '2026-12-31', basis: 'calendar_year' });
    expect(taxYearOf('USD', '2026-12-31')).toBe(2026);
  });

  it('totals what finalised runs paid me in the year, by component and by month', async () => {
    const r = await asCarer(carer, 'getPortalAnnualStatement');
    expect(r.status).toBe(200);
    expect(r.body.basis).toBe('uk_tax_year');
    expect(r.body.byMonth).toHaveLength(13);
    const payments = await asCarer(carer, 'listPortalPayments');
    const inYear = (payments.body.data as Array<{ paidOn: string; total: number }>).filter(
      (p) => p.paidOn >= r.body.from && p.paidOn <= r.body.to,
    );
    const sum = (ns: number[]) => ns.reduce((s, n) => s + n, 0);
    expect(inYear.length).toBeGreaterThan(0);
    expect(r.body.total).toBe(sum(inYear.map((p) => p.total)));
    expect(sum(r.body.byComponent.map((c: { amount: number }) => c.amount))).toBe(r.body.total);
    expect(sum(r.body.byMonth.map((m: { amount: number }) => m.amount))).toBe(r.body.total);
    const us = await asCarer(usCarer, 'getPortalAnnualStatement', { query: { year: 2026 } });
    expect(us.body).toMatchObject({ basis: 'calendar_year', from: '2026-01-01', to: '2026-12-31', total: 0 });
    expect(us.body.byMonth).toHaveLength(12);
  });

  it("renders as the pack's annual statement template, in each pack's words", async () => {
    const html = await asCarer(carer, 'getPortalAnnualStatement', { query: { format: 'html' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.text).toContain('Statement of payments for the tax year');
    expect(html.text).toContain('UK tax year, 6 April to 5 April');
    expect(html.text).toContain(carer.householdId.slice(-8).toUpperCase());
    const pdf = await asCarer(carer, 'getPortalAnnualStatement', { query: { format: 'pdf' } });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.text.startsWith('%PDF-')).toBe(true);
    const us = await asCarer(usCarer, 'getPortalAnnualStatement', { query: { format: 'html', year: 2026 } });
    expect(us.text).toContain('Annual statement of payments (calendar year)');
    expect(us.text).toContain('<time datetime="2026-12-31">');
  });
});

describe('disputes on a paid line', () => {
  it('are raised on my line once while open, listed with their status, and never on another household', async () => {
    const payments = await asCarer(carer, 'listPortalPayments');
    const run = (payments.body.data as Array<{ runId: string; lines: Array<{ lineId: string }> }>).find(
      (p) => p.runId === paidRunId,
    )!;
    const lineId = run.lines[0]!.lineId;
    expect(
      (await asCarer(other, 'raisePortalPaymentDispute', { params: { lineId }, body: { reason: 'Mine?' } })).status,
    ).toBe(404);
    const raised = await asCarer(carer, 'raisePortalPaymentDispute', {
      params: { lineId },
      body: { reason: 'One night short.', expectedAmount: 5000 },
    });
    expect(raised.status).toBe(201);
    expect(raised.body).toMatchObject({ lineId, runId: paidRunId, status: 'open', expectedAmount: 5000 });
    const twice = await asCarer(carer, 'raisePortalPaymentDispute', { params: { lineId }, body: { reason: 'Again' } });
    expect(twice.status).toBe(409);
    const listed = await asCarer(carer, 'listPortalPaymentDisputes');
    expect(listed.body.data.map((d: { id: string }) => d.id)).toContain(raised.body.id);
    expect((await asCarer(other, 'listPortalPaymentDisputes')).body.data).toEqual([]);
    const bad = await asCarer(carer, 'raisePortalPaymentDispute', { params: { lineId }, body: { reason: '' } });
    expect(bad.status).toBe(400);
  });
});

describe("what migration 0039 opens to the portal's role", () => {
  it("shows the tenant's pay schedules, and levels of care and occasions only of the household's own placements and children", async () => {
    for (const c of [carer, other]) {
      await ownerRows(
        world.db,
        world.a.id,
        `INSERT INTO placement_levels_of_care (tenant_id, id, placement_id, level, effective_from)
         VALUES (?, gen_random_uuid(), ?, 'enhanced', current_date) RETURNING id`,
        [world.a.id, c.placementId],
      );
      const occasion = await world.call('createChildOccasion', {
        token: world.a.adminToken,
        params: { childId: c.childId },
        body: { kind: 'festival', date: daysFromToday(5), name: 'Diwali' },
      });
      expect(occasion.status).toBe(201);
    }
    const seen = await world.db.transaction(async (trx) => {
      await applyScope(trx, { tenantId: world.a.id, portal: { householdId: carer.householdId, userId: carer.userId } });
      const count = async (sql: string) => Number(((await trx.raw(sql)) as { rows: Array<{ n: string }> }).rows[0]!.n);
      return {
        schedules: await count('SELECT count(*) AS n FROM pay_schedules'),
        levels: await count('SELECT count(DISTINCT placement_id) AS n FROM placement_levels_of_care'),
        ownLevels: await count(
          `SELECT count(*) AS n FROM placement_levels_of_care WHERE placement_id = '${carer.placementId}'`,
        ),
        occasions: await count('SELECT count(DISTINCT child_id) AS n FROM child_occasions'),
        ownOccasions: await count(`SELECT count(*) AS n FROM child_occasions WHERE child_id = '${carer.childId}'`),
      };
    });
    const schedules = await ownerRows(world.db, world.a.id, 'SELECT id FROM pay_schedules WHERE tenant_id = ?', [
      world.a.id,
    ]);
    expect(seen).toEqual({
      schedules: schedules.length,
      levels: 1,
      ownLevels: 1,
      occasions: 1,
      ownOccasions: 1,
    });
  });
});
