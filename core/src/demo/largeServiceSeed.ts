import type { Knex } from 'knex';
import { appendAuditEvent } from '../modules/audit/service';
import { CASE_EVENTS, type CaseEventName } from '../modules/tasks/catalogue';
import { recalculateTasks, type TouchedSubject } from '../modules/tasks/recalculate';
import type { PackRegistry } from '../packs/registry';
import { generateLargeService, LARGE_SERVICE, type LargeService, type LargeServiceOptions } from './largeService';

const BATCH = 1000;

export interface LargeServiceCounts {
  [table: string]: number;
}

async function insertAll(trx: Knex.Transaction, table: string, rows: Array<Record<string, unknown>>, counts: LargeServiceCounts): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await trx(table).insert(rows.slice(i, i + BATCH));
  counts[table] = (counts[table] ?? 0) + rows.length;
}

/**
 * Writes a generated service into a tenant, table by table in bulk (an operator's load, not API
 * traffic: one audit event records it), then derives what the API would have: the case events of
 * each entry into care, review, placement, visit and approval, and the tasks the pack's cycles make
 * of them, by the same recalculation the API runs after every event.
 */
export async function seedLargeService(db: Knex, packs: PackRegistry, tenantId: string, options: LargeServiceOptions = LARGE_SERVICE, log: (line: string) => void = () => {}): Promise<{ service: LargeService; counts: LargeServiceCounts }> {
  const service = generateLargeService(options);
  const counts: LargeServiceCounts = {};
  const t = tenantId;
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [t]);
    const roles = new Map(((await trx('roles').where({ tenant_id: t }).select('id', 'key')) as Array<{ id: string; key: string }>).map((r) => [r.key, r.id]));

    await insertAll(trx, 'users', service.workers.map((w) => ({ tenant_id: t, id: w.id, email: w.email, display_name: w.displayName })), counts);
    await insertAll(trx, 'user_roles', service.workers.map((w) => ({ tenant_id: t, user_id: w.id, role_id: roles.get(w.role === 'caseworker' ? 'caseworker' : 'supervisor') })), counts);
    const teams = Array.from({ length: options.teams }, (_, i) => ({ tenant_id: t, id: service.workers[i]!.id.replace(/^.{8}/, 'aaaaaaaa'), name: `Team ${i + 1}` }));
    await insertAll(trx, 'teams', teams, counts);
    await insertAll(trx, 'team_members', service.workers.map((w) => ({ tenant_id: t, team_id: teams[w.team]!.id, user_id: w.id })), counts);

    await insertAll(trx, 'carer_households', service.households.map((h) => ({
      tenant_id: t, id: h.id, name: h.name, postcode: h.postcode, region: h.region, latitude: h.location.lat, longitude: h.location.lon,
      languages: h.languages, skills: h.skills, carer_level: h.carerLevel, supervising_worker_id: h.supervisingWorkerId,
      workflow_key: 'carer-approval', approval_state: h.endedOn ? 'resigned' : 'approved', approved_state: 'approved', approved_on: h.approvedOn,
      approval_ended_on: h.endedOn, status: h.endedOn ? 'closed' : 'active',
    })), counts);
    await insertAll(trx, 'carer_household_members', service.members.map((m) => ({
      tenant_id: t, id: m.id, household_id: m.householdId, name: `${m.givenName} ${m.familyName}`, date_of_birth: m.dateOfBirth,
      role: m.role === 'applicant' ? 'applicant' : 'household_member', relationship: m.role === 'child_member' ? 'birth child' : m.role === 'adult_member' ? 'adult family member' : null,
    })), counts);
    await insertAll(trx, 'carer_checks', service.checks.map((c) => ({
      tenant_id: t, id: c.id, household_id: c.householdId, member_id: c.memberId, check_type: c.checkType, status: c.status,
      requested_on: c.requestedOn, completed_on: c.completedOn, expires_on: c.expiresOn,
    })), counts);
    await insertAll(trx, 'carer_approval_terms', service.households.map((h) => ({
      tenant_id: t, id: h.id.replace(/^.{8}/, 'bbbbbbbb'), household_id: h.id, effective_from: h.approvedOn, max_children: h.terms.maxChildren,
      age_min: h.terms.ageMin, age_max: h.terms.ageMax, placement_kinds: h.terms.placementKinds, carer_level: h.carerLevel,
    })), counts);

    await insertAll(trx, 'children', service.children.map((c) => ({
      tenant_id: t, id: c.id, given_name: c.givenName, family_name: c.familyName, date_of_birth: c.dateOfBirth, sex: c.sex, ethnicity: c.ethnicity,
      status: c.leftCareOn ? 'left_care' : 'in_care', allocated_worker_id: c.allocatedWorkerId,
    })), counts);
    await insertAll(trx, 'child_legal_statuses', service.children.map((c) => ({ tenant_id: t, id: c.id.replace(/^.{8}/, 'cccccccc'), child_id: c.id, code: c.legalStatus, start_date: c.enteredCareOn, end_date: c.leftCareOn })), counts);
    await insertAll(trx, 'child_care_episodes', service.children.map((c) => ({ tenant_id: t, id: c.id.replace(/^.{8}/, 'dddddddd'), child_id: c.id, start_date: c.enteredCareOn, end_date: c.leftCareOn, start_reason: 'S', end_reason: c.leftCareOn ? 'E11' : null })), counts);
    const reviews = service.children.flatMap((c) => c.reviews.map((on, n) => ({ tenant_id: t, id: syntheticId(c.id, n, 'review'), child_id: c.id, kind: 'review', occurred_on: on, summary: `Review ${n + 1}`, details: JSON.stringify({}) })));
    await insertAll(trx, 'child_case_records', reviews, counts);

    await insertAll(trx, 'placements', service.placements.map((p) => ({
      tenant_id: t, id: p.id, child_id: p.childId, household_id: p.householdId, kind: p.kind, placement_type: p.placementType,
      status: p.endOn ? 'ended' : 'active', start_date: p.startOn, end_date: p.endOn, long_term: p.longTerm,
    })), counts);
    const visits = service.placements.flatMap((p) => p.visits.map((on, n) => ({ tenant_id: t, id: syntheticId(p.id, n, 'visit'), placement_id: p.id, kind: 'child_visit', visit_date: on, child_seen: true })));
    await insertAll(trx, 'placement_visits', visits, counts);

    // The events the API would have recorded with each of those writes.
    const events: Array<Record<string, unknown>> = [];
    const event = (name: CaseEventName, subjectId: string, occurredOn: string, source: { type: string; id: string }, facts: Record<string, unknown> = {}) =>
      events.push({ tenant_id: t, id: syntheticId(source.id, events.length, name), name, subject_type: CASE_EVENTS[name].subject, subject_id: subjectId, occurred_on: occurredOn, facts: JSON.stringify(facts), source_type: source.type, source_id: source.id });
    for (const c of service.children) {
      const episode = { type: 'care_episode', id: c.id.replace(/^.{8}/, 'dddddddd') };
      event('child.entered_care', c.id, c.enteredCareOn, episode);
      if (c.leftCareOn) event('child.left_care', c.id, c.leftCareOn, episode);
      c.reviews.forEach((on, n) => event('child.review_held', c.id, on, { type: 'child_case_record', id: syntheticId(c.id, n, 'review') }));
    }
    for (const p of service.placements) {
      event('placement.started', p.id, p.startOn, { type: 'placement', id: p.id }, { longTerm: p.longTerm });
      if (p.endOn) event('placement.ended', p.id, p.endOn, { type: 'placement', id: p.id });
      p.visits.forEach((on, n) => event('placement.visit_held', p.id, on, { type: 'placement_visit', id: syntheticId(p.id, n, 'visit') }));
    }
    for (const h of service.households) {
      event('carer.approved', h.id, h.approvedOn, { type: 'carer_household', id: h.id });
      h.reviews.forEach((on, n) => event('carer.review_held', h.id, on, { type: 'carer_household', id: syntheticId(h.id, n, 'carer-review') }));
      if (h.endedOn) event('carer.approval_ended', h.id, h.endedOn, { type: 'carer_household', id: h.id });
    }
    await insertAll(trx, 'case_events', events, counts);
    log(`rows written: ${JSON.stringify(counts)}`);

    const touched = new Map<string, TouchedSubject>();
    for (const e of events) {
      const key = `${e.subject_type}:${e.subject_id}`;
      const entry = touched.get(key) ?? touched.set(key, { subjectType: e.subject_type as TouchedSubject['subjectType'], subjectId: e.subject_id as string, names: [] }).get(key)!;
      if (!entry.names.includes(e.name as string)) entry.names.push(e.name as string);
    }
    const started = Date.now();
    await recalculateTasks({ trx, tenantId: t, packs }, [...touched.values()]);
    counts.tasks = Number(((await trx('tasks').where({ tenant_id: t }).count({ n: '*' })) as Array<{ n: string }>)[0]!.n);
    log(`tasks derived for ${touched.size} subjects in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    await appendAuditEvent(trx, t, { actorType: 'system', actorId: null, ip: null, userAgent: null, requestId: null }, {
      action: 'tenant.synthetic_service_loaded',
      entityType: 'tenant',
      entityId: t,
      after: { seed: options.seed, asOf: options.asOf, counts },
    });
  });
  return { service, counts };
}

/** A repeatable id for the n-th record of a kind under a parent: the same seed gives the same ids. */
function syntheticId(parentId: string, n: number, kind: string): string {
  let h = 2166136261;
  for (const ch of `${parentId}/${kind}/${n}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const p = parentId.replace(/-/g, '');
  const hex = `${h.toString(16).padStart(8, '0')}${p.slice(8, 20)}${(n % 0x10000).toString(16).padStart(4, '0')}${p.slice(24)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
