import { ownerRows, startWorld, type World } from '../../../../test/support/harness';
import {
  daysFromToday,
  defaultTerms,
  formFStage1,
  formFStage2,
  homeStudy,
  makeApprovedHousehold,
  makeCheck,
  makeHousehold,
  makeMember,
  makePanelItem,
  recordDocument,
  rfApplication,
  step,
  submitForm,
} from '../../../../test/support/fixtures/carers';
import { validAnnualReview } from '../../../../test/support/fixtures';
import { seedCareHistory } from '../../../../test/support/careHistory';
import { householdsForMatching } from './forMatching';

let world: World;
let caseworker: { id: string; token: string };
let supervisor: { id: string; token: string };
let panelMember: { id: string; token: string };
beforeAll(async () => {
  world = await startWorld();
  caseworker = await world.addUser(world.a, ['caseworker']);
  supervisor = await world.addUser(world.a, ['supervisor']);
  panelMember = await world.addUser(world.a, ['panel_member']);
});
afterAll(async () => {
  await world?.close();
});

const uk = () => ({ world, tenant: world.a });
const us = () => ({ world, tenant: world.b });

async function take(token: string, householdId: string, body: Record<string, unknown>) {
  return world.call('takeCarerApprovalTransition', { token, params: { householdId }, body });
}
async function approval(token: string, householdId: string) {
  const r = await world.call('getCarerApproval', { token, params: { householdId } });
  expect(r.status).toBe(200);
  return r.body;
}
const verdict = (a: { available: Array<{ transition: string }> }, key: string) =>
  a.available.find((v) => v.transition === key) as unknown as {
    allowed: boolean;
    blockers: Array<{ kind: string; detail: string }>;
  };
async function check(
  householdId: string,
  memberId: string,
  checkType: string,
  extra: Record<string, unknown> = {},
  ctx = uk(),
) {
  return makeCheck(ctx, householdId, { memberId, checkType, ...extra });
}

describe('a UK household, from enquiry to approval', () => {
  it('walks the carer-approval workflow with its evidence, panel and ADM decision', async () => {
    const created = await world.call('createCarerHousehold', {
      token: world.a.adminToken,
      body: {
        name: 'The Okafor household',
        address: '2 Elm Row, Leeds',
        postcode: 'LS1 4AP',
        region: 'london',
        location: { lat: 53.8, lon: -1.55 },
        languages: ['en', 'yo'],
        skills: ['teenagers', 'sibling_groups'],
        carerLevel: 'level_2',
        supervisingWorkerId: caseworker.id,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      workflowKey: 'carer-approval',
      approvalState: 'enquiry',
      region: 'london',
      carerLevel: 'level_2',
      approvedOn: null,
      version: 1,
    });
    expect(created.headers.get('etag')).toBe('"1"');
    const id = created.body.id as string;

    const applicant = await makeMember(uk(), id, { name: 'Ada Okafor', dateOfBirth: '1980-04-01', role: 'applicant' });
    const partner = await makeMember(uk(), id, {
      name: 'Ben Okafor',
      dateOfBirth: '1982-06-01',
      role: 'applicant',
      relationship: 'spouse',
    });
    const son = await makeMember(uk(), id, {
      name: 'Chidi Okafor',
      dateOfBirth: '2001-01-01',
      role: 'household_member',
      relationship: 'son',
    });
    await makeMember(uk(), id, {
      name: 'Dayo Okafor',
      dateOfBirth: '2016-01-01',
      role: 'household_member',
      relationship: 'daughter',
    });

    expect(
      (await take(caseworker.token, id, { transition: 'book_initial_visit', note: 'Visit on Tuesday' })).status,
    ).toBe(201);
    // The application step needs the signed application: refused with the blocker named, then taken.
    const early = await take(caseworker.token, id, { transition: 'receive_application' });
    expect(early.status).toBe(409);
    expect(early.body.blockers).toEqual([
      expect.objectContaining({ kind: 'evidence', detail: expect.stringContaining('application_form') }),
    ]);
    await recordDocument(uk(), id, 'application_form');
    expect((await take(caseworker.token, id, { transition: 'receive_application' })).status).toBe(201);
    expect((await take(caseworker.token, id, { transition: 'start_stage_1' })).status).toBe(201);

    // Stage 1: every adult's checks, except the partner's DBS.
    for (const m of [applicant, partner, son]) {
      for (const type of ['medical', 'personal_reference']) await check(id, m.id, type);
    }
    await check(id, applicant.id, 'dbs_enhanced');
    await check(id, son.id, 'dbs_enhanced');
    await submitForm(uk(), id, 'form-f-stage1', formFStage1('Ada Okafor'));

    const before = await approval(caseworker.token, id);
    expect(before.state).toBe('stage_1');
    expect(before.facts.missingChecks).toBe(1);
    const stage1 = verdict(before, 'complete_stage_1');
    expect(stage1.allowed).toBe(false);
    expect(stage1.blockers.map((b) => b.kind).sort()).toEqual(['condition', 'evidence']);
    expect(stage1.blockers.find((b) => b.kind === 'evidence')!.detail).toContain('dbs_enhanced');

    const refused = await take(caseworker.token, id, { transition: 'complete_stage_1' });
    expect(refused.status).toBe(409);
    expect(refused.body.blockers.some((b: { detail: string }) => b.detail.includes('dbs_enhanced'))).toBe(true);
    const [stillStage1] = await ownerRows<{ approval_state: string }>(
      world.db,
      world.a.id,
      'SELECT approval_state FROM carer_households WHERE id = ?',
      [id],
    );
    expect(stillStage1!.approval_state).toBe('stage_1');

    const compliance = await world.call('getCarerHouseholdCompliance', {
      token: caseworker.token,
      params: { householdId: id },
    });
    expect(compliance.body.compliant).toBe(false);
    expect(compliance.body.issues).toEqual([
      expect.objectContaining({ kind: 'missing', checkType: 'dbs_enhanced', memberId: partner.id }),
    ]);
    expect(compliance.body.members.find((m: { name: string }) => m.name === 'Dayo Okafor')).toMatchObject({
      adult: false,
      issues: [],
    });

    await check(id, partner.id, 'dbs_enhanced');
    const stage1Done = await take(caseworker.token, id, { transition: 'complete_stage_1', note: 'Checks complete' });
    expect(stage1Done.status).toBe(201);
    expect(stage1Done.body.state).toBe('stage_2');

    // Stage 2 and the panel.
    expect((await take(caseworker.token, id, { transition: 'refer_to_panel' })).status).toBe(409);
    await submitForm(uk(), id, 'form-f-stage2', formFStage2());
    expect((await take(caseworker.token, id, { transition: 'refer_to_panel' })).status).toBe(201);

    expect(
      (await world.call('scheduleCarerPanel', { token: caseworker.token, body: { panelDate: daysFromToday(-2) } }))
        .status,
    ).toBe(403);
    const panel = await world.call('scheduleCarerPanel', {
      token: supervisor.token,
      body: {
        panelDate: daysFromToday(-2),
        name: 'December panel',
        chairId: supervisor.id,
        memberIds: [panelMember.id],
      },
    });
    expect(panel.status).toBe(201);
    expect(panel.body).toMatchObject({
      status: 'scheduled',
      chairId: supervisor.id,
      memberIds: [panelMember.id],
      agenda: [],
    });
    const item = await world.call('addCarerPanelAgendaItem', {
      token: supervisor.token,
      params: { panelId: panel.body.id },
      body: { householdId: id, purpose: 'initial approval' },
    });
    expect(item.status).toBe(201);
    expect(
      (
        await world.call('addCarerPanelAgendaItem', {
          token: supervisor.token,
          params: { panelId: panel.body.id },
          body: { householdId: id },
        })
      ).status,
    ).toBe(409);

    const recommendation = {
      recommendApproval: true,
      termsRecommended: defaultTerms({ maxChildren: 2, ageMin: 5, ageMax: 15 }),
      reasons: 'Strong assessment.',
      vote: { inFavour: 6, against: 0, abstained: 1 },
    };
    expect(
      (
        await world.call('recordCarerPanelRecommendation', {
          token: caseworker.token,
          params: { panelId: panel.body.id, itemId: item.body.id },
          body: recommendation,
        })
      ).status,
    ).toBe(403);
    // The step needs the panel's recommendation first.
    expect((await take(panelMember.token, id, { transition: 'record_panel_recommendation' })).status).toBe(409);
    const recorded = await world.call('recordCarerPanelRecommendation', {
      token: panelMember.token,
      params: { panelId: panel.body.id, itemId: item.body.id },
      body: recommendation,
    });
    expect(recorded.status).toBe(201);
    expect(recorded.body).toMatchObject({
      status: 'recommended',
      recommendation: { recommendApproval: true, vote: recommendation.vote, recordedBy: panelMember.id },
    });
    const panelAfter = await world.call('getCarerPanel', {
      token: caseworker.token,
      params: { panelId: panel.body.id },
    });
    expect(panelAfter.body.status).toBe('held');
    expect(panelAfter.body.agenda).toHaveLength(1);
    expect((await take(caseworker.token, id, { transition: 'record_panel_recommendation' })).status).toBe(403);
    expect((await take(panelMember.token, id, { transition: 'record_panel_recommendation' })).status).toBe(201);

    // The decision: not for a caseworker; not without terms; then approved.
    const decision = {
      key: 'adm_decision',
      outcome: 'approve',
      decidedOn: daysFromToday(-1),
      reasons: 'Panel recommendation accepted.',
      terms: defaultTerms({ maxChildren: 2, ageMin: 5, ageMax: 15, placementKinds: ['short_term', 'respite'] }),
      carerLevel: 'level_3',
    };
    const asCaseworker = await approval(caseworker.token, id);
    expect(verdict(asCaseworker, 'adm_approve').blockers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'permission', detail: 'needs the permission carers:approve' }),
      ]),
    );
    expect((await take(caseworker.token, id, { transition: 'adm_approve', decision })).status).toBe(403);
    const noTerms = await take(supervisor.token, id, {
      transition: 'adm_approve',
      decision: { key: 'adm_decision', outcome: 'approve' },
    });
    expect(noTerms.status).toBe(422);
    expect(noTerms.body.errors[0].pointer).toBe('/body/decision/terms');
    const approved = await take(supervisor.token, id, { transition: 'adm_approve', decision, note: 'Approved' });
    expect(approved.status).toBe(201);
    expect(approved.body).toMatchObject({
      state: 'approved',
      approved: true,
      approvedOn: decision.decidedOn,
      terms: {
        maxChildren: 2,
        ageMin: 5,
        ageMax: 15,
        placementKinds: ['short_term', 'respite'],
        carerLevel: 'level_3',
      },
    });
    expect(approved.body.history.map((h: { transition: string }) => h.transition)).toEqual([
      'book_initial_visit',
      'receive_application',
      'start_stage_1',
      'complete_stage_1',
      'refer_to_panel',
      'record_panel_recommendation',
      'adm_approve',
    ]);
    expect(approved.body.history[6]).toMatchObject({
      from: 'adm_decision',
      to: 'approved',
      actorId: supervisor.id,
      note: 'Approved',
    });

    const events = await ownerRows<{ name: string; occurred_on: string; subject_type: string; source_type: string }>(
      world.db,
      world.a.id,
      'SELECT name, occurred_on, subject_type, source_type FROM case_events WHERE subject_id = ?',
      [id],
    );
    expect(events).toEqual([
      {
        name: 'carer.approved',
        occurred_on: decision.decidedOn,
        subject_type: 'carer_household',
        source_type: 'carer_approval_step',
      },
    ]);
    const audits = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      `SELECT action FROM audit_events WHERE entity_id = ? AND action = 'carer_household.approval_step'`,
      [id],
    );
    expect(audits).toHaveLength(7);
    const household = await world.call('getCarerHousehold', { token: caseworker.token, params: { householdId: id } });
    expect(household.body).toMatchObject({
      approvalState: 'approved',
      carerLevel: 'level_3',
      approvedOn: decision.decidedOn,
    });

    // Matching sees it, with its terms and compliance.
    const [forMatching] = await asTenant(world.a.id, (trx) =>
      householdsForMatching(trx, world.a.id, daysFromToday(0), [id], world.server.packs),
    );
    expect(forMatching).toMatchObject({
      id,
      approved: true,
      region: 'london',
      carerLevel: 'level_3',
      skills: ['teenagers', 'sibling_groups'],
      location: { lat: 53.8, lon: -1.55 },
      terms: { maxChildren: 2, ageMin: 5, ageMax: 15 },
      compliance: { compliant: true, issues: [] },
    });
  });

  it('ends approval on resignation after the notice period, emitting carer.approval_ended', async () => {
    const notice = (householdId: string, receivedOn: string) =>
      world.call('recordCarerEvidenceDocument', {
        token: world.a.adminToken,
        params: { householdId },
        body: { key: 'resignation_notice', title: 'Resignation letter', receivedOn },
      });
    const recent = await makeApprovedHousehold(uk());
    expect((await take(world.a.adminToken, recent.id, { transition: 'resign' })).body.blockers).toEqual([
      expect.objectContaining({ kind: 'evidence', detail: expect.stringContaining('resignation_notice') }),
      expect.objectContaining({ kind: 'condition' }),
    ]);
    await notice(recent.id, daysFromToday(-10));
    const early = await take(world.a.adminToken, recent.id, { transition: 'resign' });
    expect(early.status).toBe(409);
    expect(early.body.blockers).toEqual([expect.objectContaining({ kind: 'condition' })]);
    expect((await approval(world.a.adminToken, recent.id)).facts.daysSinceNoticeReceived).toBe(10);

    const { id } = await makeApprovedHousehold(uk());
    await notice(id, daysFromToday(-30));
    // A later document of another kind does not restart the notice period.
    await world.call('recordCarerEvidenceDocument', {
      token: world.a.adminToken,
      params: { householdId: id },
      body: { key: 'gp_letter', title: 'GP letter', receivedOn: daysFromToday(-1) },
    });
    const resigned = await take(world.a.adminToken, id, { transition: 'resign', note: 'Moving abroad' });
    expect(resigned.status).toBe(201);
    expect(resigned.body).toMatchObject({
      state: 'resigned',
      terminal: true,
      approved: false,
      approvalEndedOn: resigned.body.history.at(-1).occurredOn,
    });
    const events = await ownerRows<{ name: string }>(
      world.db,
      world.a.id,
      'SELECT name FROM case_events WHERE subject_id = ? ORDER BY recorded_at, id',
      [id],
    );
    expect(events.map((e) => e.name)).toEqual(['carer.approved', 'carer.approval_ended']);
  });
});

describe('a UK carer review', () => {
  it('takes the first review to the panel and emits carer.review_held', async () => {
    const { id } = await makeApprovedHousehold(uk());
    const token = world.a.adminToken;
    expect((await take(caseworker.token, id, { transition: 'start_annual_review' })).status).toBe(201);
    await submitForm(uk(), id, 'carer-annual-review', {
      ...validAnnualReview,
      reviewNumber: 1,
      recommendation: { ...validAnnualReview.recommendation, referToPanel: true },
    });
    const first = await take(token, id, { transition: 'complete_annual_review' });
    expect(first.status).toBe(409);
    expect(first.body.blockers).toEqual([expect.objectContaining({ kind: 'condition' })]);
    expect((await approval(token, id)).facts).toMatchObject({ reviewNumber: 1, panelRecommendationRecorded: false });
    const { panelId, itemId } = await makePanelItem(uk(), id);
    expect(
      (
        await world.call('recordCarerPanelRecommendation', {
          token,
          params: { panelId, itemId },
          body: { recommendApproval: true, reasons: 'Continue.' },
        })
      ).status,
    ).toBe(201);
    const reviewed = await take(caseworker.token, id, { transition: 'complete_annual_review', note: 'First review' });
    expect(reviewed.status).toBe(201);
    expect(reviewed.body).toMatchObject({ state: 'approved', approved: true });
    const events = await ownerRows<{ name: string }>(
      world.db,
      world.a.id,
      'SELECT name FROM case_events WHERE subject_id = ? ORDER BY recorded_at, id',
      [id],
    );
    expect(events.map((e) => e.name)).toEqual(['carer.approved', 'carer.review_held']);
  });
});

/** Runs work in a transaction scoped to the tenant, as the router does. */
async function asTenant<T>(tenantId: string, work: (trx: import('knex').Knex.Transaction) => Promise<T>): Promise<T> {
  return world.db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [tenantId]);
    return work(trx);
  });
}

describe('a California resource family, through its home study', () => {
  it('is approved on the usa/ca workflow, its steps judged on checks, training hours and inspection facts', async () => {
    const ctx = us();
    const h = await makeHousehold(ctx, { name: 'The Garcia family' });
    expect(h).toMatchObject({ workflowKey: 'resource-family-approval', approvalState: 'inquiry' });
    const m = await makeMember(ctx, h.id, { name: 'Rosa Garcia' });
    const admin = world.b.adminToken;
    expect((await take(admin, h.id, { transition: 'attend_orientation' })).status).toBe(409);
    await recordDocument(ctx, h.id, 'orientation_attendance');
    await step(ctx, h.id, 'attend_orientation');
    await submitForm(ctx, h.id, 'resource-family-application', rfApplication());
    await step(ctx, h.id, 'submit_application');
    await step(ctx, h.id, 'request_background_checks');
    for (const type of ['fbi_fingerprint', 'state_criminal_history', 'child_abuse_neglect_registry'])
      await makeCheck(ctx, h.id, { memberId: m.id, checkType: type });
    const pending = await makeCheck(ctx, h.id, {
      memberId: m.id,
      checkType: 'sex_offender_registry',
      status: 'requested',
      completedOn: undefined,
      expiresOn: undefined,
    });
    const blocked = await take(admin, h.id, { transition: 'clear_background_checks' });
    expect(blocked.status).toBe(409);
    expect(blocked.body.blockers.map((b: { kind: string }) => b.kind).sort()).toEqual(['condition', 'evidence']);
    expect((await approval(admin, h.id)).facts.checksPending).toBe(1);
    const cleared = await world.call('updateCarerCheck', {
      token: admin,
      params: { householdId: h.id, checkId: pending.id },
      headers: { 'if-match': `"${pending.version}"` },
      body: { status: 'satisfactory', completedOn: daysFromToday(-2) },
    });
    expect(cleared.status).toBe(200);
    await step(ctx, h.id, 'clear_background_checks');

    // California's 12 hours: 8 are not enough.
    await makeCheck(ctx, h.id, { memberId: m.id, checkType: 'training_hours', hours: 8 });
    const short = await take(admin, h.id, { transition: 'complete_training' });
    expect(short.status).toBe(409);
    expect(short.body.blockers).toEqual([expect.objectContaining({ kind: 'condition' })]);
    await makeCheck(ctx, h.id, { memberId: m.id, checkType: 'training_hours', hours: 4 });
    expect((await approval(admin, h.id)).facts.trainingHours).toBe(12);
    await step(ctx, h.id, 'complete_training');

    await makeCheck(ctx, h.id, {
      checkType: 'home_inspection',
      facts: { homeInspectionResult: 'pass_with_corrections', correctionsOutstanding: 1 },
    });
    expect((await take(admin, h.id, { transition: 'pass_home_inspection' })).status).toBe(409);
    await makeCheck(ctx, h.id, {
      checkType: 'home_inspection',
      facts: { homeInspectionResult: 'pass_with_corrections', correctionsOutstanding: 0 },
    });
    await step(ctx, h.id, 'pass_home_inspection');
    await makeCheck(ctx, h.id, { memberId: m.id, checkType: 'medical' });
    await makeCheck(ctx, h.id, { memberId: m.id, checkType: 'references' });
    await submitForm(ctx, h.id, 'home-study', homeStudy());
    await step(ctx, h.id, 'submit_home_study');
    await recordDocument(ctx, h.id, 'approval_letter');
    const terms = defaultTerms({ maxChildren: 3, ageMin: 0, ageMax: 12, placementKinds: ['emergency', 'long_term'] });
    const approved = await step(ctx, h.id, 'approve', {
      decision: {
        key: 'approval_decision',
        outcome: 'approve',
        decidedOn: daysFromToday(-1),
        facts: { recommendation: 'approve' },
        terms,
      },
    });
    expect(approved).toMatchObject({
      state: 'approved',
      approved: true,
      workflowKey: 'resource-family-approval',
      terms: { maxChildren: 3, ageMax: 12, placementKinds: ['emergency', 'long_term'] },
    });
    const events = await ownerRows<{ name: string }>(
      world.db,
      world.b.id,
      'SELECT name FROM case_events WHERE subject_id = ?',
      [h.id],
    );
    expect(events.map((e) => e.name)).toEqual(['carer.approved']);

    // The annual update is a review: it may change the terms, and emits carer.review_held.
    await step(ctx, h.id, 'start_annual_update');
    const reviewed = await step(ctx, h.id, 'complete_annual_update', {
      decision: { key: 'annual_update_decision', outcome: 'continue', terms: { ...terms, maxChildren: 2 } },
    });
    expect(reviewed).toMatchObject({ state: 'approved', approved: true, terms: { maxChildren: 2 } });
    expect(reviewed.termsHistory).toHaveLength(2);
    // Closing ends the approval.
    const closed = await step(ctx, h.id, 'close', {
      decision: { key: 'closure_decision', outcome: 'voluntary_surrender' },
    });
    expect(closed).toMatchObject({
      state: 'closed',
      terminal: true,
      approved: false,
      terms: null,
      approvalEndedOn: closed.history.at(-1).occurredOn,
    });
    const after = await ownerRows<{ name: string }>(
      world.db,
      world.b.id,
      'SELECT name FROM case_events WHERE subject_id = ? ORDER BY recorded_at, id',
      [h.id],
    );
    expect(after.map((e) => e.name)).toEqual(['carer.approved', 'carer.review_held', 'carer.approval_ended']);
    expect(
      await asTenant(world.b.id, (trx) =>
        householdsForMatching(trx, world.b.id, daysFromToday(0), undefined, world.server.packs),
      ),
    ).not.toContainEqual(expect.objectContaining({ id: h.id }));
  });
});

describe('checks that expire', () => {
  it('shows an expired check in compliance and in the expiring-checks list, paged by expiry', async () => {
    const { id } = await makeApprovedHousehold(uk());
    const members = await world.call('listCarerHouseholdMembers', {
      token: world.a.adminToken,
      params: { householdId: id },
    });
    const memberId = members.body.data[0].id as string;
    const lapsed = await check(id, memberId, 'dbs_enhanced', {
      completedOn: daysFromToday(-1100),
      requestedOn: daysFromToday(-1110),
      expiresOn: daysFromToday(-5),
    });
    // The current DBS is still there: replace it by marking it expired too.
    const current = (
      await ownerRows<{ id: string; version: number }>(
        world.db,
        world.a.id,
        `SELECT id, version FROM carer_checks WHERE household_id = ? AND check_type = 'dbs_enhanced' AND id <> ?`,
        [id, lapsed.id],
      )
    )[0]!;
    expect(
      (
        await world.call('updateCarerCheck', {
          token: world.a.adminToken,
          params: { householdId: id, checkId: current.id },
          headers: { 'if-match': `"${current.version}"` },
          body: { expiresOn: daysFromToday(-2) },
        })
      ).status,
    ).toBe(200);

    const compliance = await world.call('getCarerHouseholdCompliance', {
      token: world.a.adminToken,
      params: { householdId: id },
    });
    expect(compliance.body).toMatchObject({
      compliant: false,
      requiredCheckTypes: ['dbs_enhanced', 'medical', 'personal_reference'],
    });
    expect(compliance.body.issues).toEqual([
      { kind: 'expired', checkType: 'dbs_enhanced', memberId, detail: expect.stringContaining(daysFromToday(-2)) },
    ]);
    const earlier = await world.call('getCarerHouseholdCompliance', {
      token: world.a.adminToken,
      params: { householdId: id },
      query: { asOf: daysFromToday(-3) },
    });
    expect(earlier.body.compliant).toBe(true);
    const [matched] = await asTenant(world.a.id, (trx) =>
      householdsForMatching(trx, world.a.id, daysFromToday(0), [id], world.server.packs),
    );
    expect(matched!.compliance).toMatchObject({
      compliant: false,
      issues: [{ kind: 'expired', checkType: 'dbs_enhanced' }],
    });

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await world.call('listExpiringCarerChecks', {
        token: world.a.adminToken,
        query: { expiringBefore: daysFromToday(0), limit: 1, ...(cursor ? { cursor } : {}) },
      });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(1);
      seen.push(...page.body.data.map((c: { id: string; expiresOn: string }) => `${c.expiresOn}|${c.id}`));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(
      expect.arrayContaining([`${daysFromToday(-5)}|${lapsed.id}`, `${daysFromToday(-2)}|${current.id}`]),
    );
    const filtered = await world.call('listExpiringCarerChecks', {
      token: world.a.adminToken,
      query: { expiringBefore: daysFromToday(0), checkType: 'medical' },
    });
    expect(filtered.body.data.every((c: { checkType: string }) => c.checkType === 'medical')).toBe(true);
    const otherTenant = await world.call('listExpiringCarerChecks', {
      token: world.b.adminToken,
      query: { expiringBefore: daysFromToday(0) },
    });
    expect(otherTenant.body.data.map((c: { id: string }) => c.id)).not.toContain(lapsed.id);
  });
});

describe('household lists', () => {
  it('filters by status, approval state, worker, region and name, and pages by cursor', async () => {
    const tag = `Filterable${Date.now()}`;
    const made: string[] = [];
    for (const [i, region] of ['london', 'south_east', 'london', 'rest_of_england'].entries()) {
      made.push((await makeHousehold(uk(), { name: `${tag} ${i}`, region })).id);
    }
    await world.call('updateCarerHousehold', {
      token: world.a.adminToken,
      params: { householdId: made[3]! },
      headers: { 'if-match': '"1"' },
      body: { status: 'on_hold', supervisingWorkerId: supervisor.id },
    });
    await take(world.a.adminToken, made[2]!, { transition: 'book_initial_visit' });
    const list = async (query: Record<string, string | number>) =>
      (
        await world.call('listCarerHouseholds', {
          token: world.a.adminToken,
          query: { q: tag.toLowerCase(), ...query },
        })
      ).body;

    expect((await list({})).data.map((h: { id: string }) => h.id)).toEqual([...made].sort());
    expect((await list({ region: 'london' })).data.map((h: { id: string }) => h.id)).toEqual([made[0], made[2]].sort());
    expect((await list({ status: 'on_hold' })).data.map((h: { id: string }) => h.id)).toEqual([made[3]]);
    expect((await list({ supervisingWorkerId: supervisor.id })).data.map((h: { id: string }) => h.id)).toEqual([
      made[3],
    ]);
    expect((await list({ approvalState: 'initial_visit' })).data.map((h: { id: string }) => h.id)).toEqual([made[2]]);
    expect((await list({ q: '100%_none' })).data).toEqual([]);

    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list({ limit: 3, ...(cursor ? { cursor } : {}) });
      paged.push(...page.data.map((h: { id: string }) => h.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(paged).toEqual([...made].sort());
    expect(
      (await world.call('listCarerHouseholds', { token: world.b.adminToken, query: { q: tag } })).body.data,
    ).toEqual([]);

    const approved = await makeApprovedHousehold(uk(), { region: 'south_east', skills: ['parent_and_child'] });
    const matching = await asTenant(world.a.id, (trx) =>
      householdsForMatching(trx, world.a.id, daysFromToday(0), undefined, world.server.packs),
    );
    expect(matching.map((h) => h.id)).toContain(approved.id);
    expect(matching.map((h) => h.id)).not.toContain(made[0]);
    expect(matching.every((h) => h.approved)).toBe(true);
  });
});

describe('bad input', () => {
  it('refuses what breaks a rule with the field named, and writes nothing', async () => {
    const token = world.a.adminToken;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'X', region: 'mars' }, '/body/region'],
      [{ name: 'X', carerLevel: 'level_9' }, '/body/carerLevel'],
      [{ name: 'X', supervisingWorkerId: world.b.adminId }, '/body/supervisingWorkerId'],
    ];
    for (const [body, pointer] of cases) {
      const r = await world.call('createCarerHousehold', { token, body });
      expect(r.status).toBe(422);
      expect(r.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([pointer]);
    }
    expect(
      (await world.call('createCarerHousehold', { token, body: { name: 'X', location: { lat: 100, lon: 0 } } })).status,
    ).toBe(400);
    expect(
      (await world.call('createCarerHousehold', { token, body: { name: 'X', approvalState: 'approved' } })).status,
    ).toBe(400);
    // A US tenant has no region dimension in its rates: any region code is taken.
    expect(
      (
        await world.call('createCarerHousehold', {
          token: world.b.adminToken,
          body: { name: 'Y', region: 'northern_california' },
        })
      ).status,
    ).toBe(201);

    const h = await makeHousehold(uk());
    const m = await makeMember(uk(), h.id);
    const badCheck = await world.call('recordCarerCheck', {
      token,
      params: { householdId: h.id },
      body: { memberId: m.id, checkType: 'fbi_fingerprint', status: 'satisfactory', completedOn: daysFromToday(-1) },
    });
    expect(badCheck.status).toBe(422);
    expect(badCheck.body.errors[0].pointer).toBe('/body/checkType');
    const noDate = await world.call('recordCarerCheck', {
      token,
      params: { householdId: h.id },
      body: { memberId: m.id, checkType: 'medical', status: 'satisfactory' },
    });
    expect(noDate.body.errors[0].pointer).toBe('/body/completedOn');
    const otherMember = await world.call('recordCarerCheck', {
      token,
      params: { householdId: (await makeHousehold(uk())).id },
      body: { memberId: m.id, checkType: 'medical', status: 'requested' },
    });
    expect(otherMember.body.errors[0].pointer).toBe('/body/memberId');
    expect(
      (
        await world.call('addCarerHouseholdMember', {
          token,
          params: { householdId: h.id },
          body: { name: 'Z', dateOfBirth: daysFromToday(30), role: 'applicant' },
        })
      ).status,
    ).toBe(422);

    const unknown = await take(token, h.id, { transition: 'fly_to_the_moon' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors[0].pointer).toBe('/body/transition');
    expect((await take(token, h.id, { transition: 'adm_approve' })).status).toBe(409);
    const wrongDecision = await take(token, h.id, {
      transition: 'book_initial_visit',
      decision: { key: 'adm_decision' },
    });
    expect(wrongDecision.body.errors[0].pointer).toBe('/body/decision/key');
    expect((await take(token, h.id, { transition: 'book_initial_visit', occurredOn: daysFromToday(5) })).status).toBe(
      422,
    );

    const badForm = await world.call('submitCarerHouseholdForm', {
      token,
      params: { householdId: h.id },
      body: { formKey: 'form-f-stage1', data: { applicationDate: 'soon' } },
    });
    expect(badForm.status).toBe(422);
    expect(badForm.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(
      expect.arrayContaining(['/body/data/applicationDate', '/body/data/applicants']),
    );
    expect(
      (
        await world.call('submitCarerHouseholdForm', {
          token,
          params: { householdId: h.id },
          body: { formKey: 'home-study', data: {} },
        })
      ).status,
    ).toBe(422);

    const rows = await ownerRows<{ n: number }>(
      world.db,
      world.a.id,
      `SELECT (SELECT count(*) FROM carer_checks WHERE household_id = ?)::int + (SELECT count(*) FROM carer_approval_steps WHERE household_id = ?)::int + (SELECT count(*) FROM carer_decisions WHERE household_id = ?)::int + (SELECT count(*) FROM form_submissions WHERE subject_id = ?)::int AS n`,
      [h.id, h.id, h.id, h.id],
    );
    expect(rows[0]!.n).toBe(0);
    const [state] = await ownerRows<{ approval_state: string; version: number }>(
      world.db,
      world.a.id,
      'SELECT approval_state, version FROM carer_households WHERE id = ?',
      [h.id],
    );
    expect(state).toEqual({ approval_state: 'enquiry', version: 1 });
  });
});

describe("a household's region by date", () => {
  const token = () => world.a.adminToken;
  const history = async (householdId: string) =>
    (await world.call('listCarerHouseholdRegions', { token: token(), params: { householdId } })).body;

  it('keeps the region it was recorded with from the start, a change on the household as a move today, and a dated move', async () => {
    const h = await makeHousehold(uk(), { region: 'london' });
    expect(await history(h.id)).toMatchObject({ region: 'london', data: [{ region: 'london', effectiveFrom: null }] });
    // A move that happened a month ago, recorded now: the household is in the South East today.
    const moved = await world.call('recordCarerHouseholdRegion', {
      token: token(),
      params: { householdId: h.id },
      body: { region: 'south_east', effectiveFrom: daysFromToday(-30), notes: 'Moved to Reading.' },
    });
    expect(moved.status).toBe(201);
    expect(moved.body).toMatchObject({
      householdId: h.id,
      region: 'south_east',
      effectiveFrom: daysFromToday(-30),
      notes: 'Moved to Reading.',
    });
    const read = await world.call('getCarerHousehold', { token: token(), params: { householdId: h.id } });
    expect(read.body).toMatchObject({ region: 'south_east', version: 2 });
    // An earlier stay, recorded late, leaves today's region as it is.
    await world.call('recordCarerHouseholdRegion', {
      token: token(),
      params: { householdId: h.id },
      body: { region: 'rest_of_england', effectiveFrom: daysFromToday(-60) },
    });
    expect((await history(h.id)).region).toBe('south_east');
    // Changing the region on the household is a move from today.
    const patched = await world.call('updateCarerHousehold', {
      token: token(),
      params: { householdId: h.id },
      headers: { 'if-match': `"${read.body.version}"` },
      body: { region: 'london' },
    });
    expect(patched.status).toBe(200);
    const rows = await history(h.id);
    expect(rows.region).toBe('london');
    expect(rows.data.map((r: { region: string; effectiveFrom: string | null }) => [r.region, r.effectiveFrom])).toEqual(
      [
        ['london', null],
        ['rest_of_england', daysFromToday(-60)],
        ['south_east', daysFromToday(-30)],
        ['london', expect.any(String)],
      ],
    );
    const audit = await ownerRows<{ action: string }>(
      world.db,
      world.a.id,
      "SELECT action FROM audit_events WHERE entity_id = ? AND action = 'carer_household.region_recorded'",
      [h.id],
    );
    expect(audit).toHaveLength(2);
  });

  it('gives a household recorded before regions were dated its old region from the start, before the move', async () => {
    // Written as an operator's import writes it: a region on the household and no rows of regions.
    const { Legacy: legacy } = await seedCareHistory(world.db, world.a.id, {
      households: [{ key: 'Legacy', region: 'south_east' }],
      children: [],
      placements: [],
    });
    expect((await history(legacy!)).data).toEqual([]);
    expect(
      (
        await world.call('recordCarerHouseholdRegion', {
          token: token(),
          params: { householdId: legacy! },
          body: { region: 'london', effectiveFrom: daysFromToday(-10) },
        })
      ).status,
    ).toBe(201);
    expect(
      (await history(legacy!)).data.map((r: { region: string; effectiveFrom: string | null }) => [
        r.region,
        r.effectiveFrom,
      ]),
    ).toEqual([
      ['south_east', null],
      ['london', daysFromToday(-10)],
    ]);
  });

  it('refuses a region the rate tables do not price and a move in the future, naming the field, and keeps its rows as written', async () => {
    const h = await makeHousehold(uk(), { region: 'london' });
    const bad = await world.call('recordCarerHouseholdRegion', {
      token: token(),
      params: { householdId: h.id },
      body: { region: 'mars', effectiveFrom: daysFromToday(5) },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual([
      '/body/effectiveFrom',
      '/body/region',
    ]);
    expect((await history(h.id)).data).toHaveLength(1);
    await expect(
      ownerRows(
        world.db,
        world.a.id,
        "UPDATE carer_household_regions SET region = 'south_east' WHERE household_id = ?",
        [h.id],
      ),
    ).rejects.toThrow();
  });
});
