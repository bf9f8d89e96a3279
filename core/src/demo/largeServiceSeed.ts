import { addDays, daysBetween } from '../dates';
import type { Knex } from 'knex';
import { appendAuditEvent, systemActor } from '../modules/audit/service';
import { carerConfig } from '../modules/carers/tenantConfig';
import { CASE_EVENTS, type CaseEventName } from '../modules/tasks/catalogue';
import { recalculateTasks, type TouchedSubject } from '../modules/tasks/recalculate';
import type { PackRegistry } from '../packs/registry';
import { approvalJourney, type ApprovalJourney } from './approvalHistory';
import {
  generateLargeService,
  LARGE_SERVICE,
  type LargeService,
  type LargeServiceOptions,
  type SimChild,
  type SimHousehold,
} from './largeService';
import { ENGLAND } from './vocabularies';

const BATCH = 1000;

export interface LargeServiceCounts {
  [table: string]: number;
}

async function insertAll(
  trx: Knex.Transaction,
  table: string,
  rows: Array<Record<string, unknown>>,
  counts: LargeServiceCounts,
): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await trx(table).insert(rows.slice(i, i + BATCH));
  counts[table] = (counts[table] ?? 0) + rows.length;
}

/** Generates a service and writes it into a tenant (see writeLargeService). */
export async function seedLargeService(
  db: Knex,
  packs: PackRegistry,
  tenantId: string,
  options: LargeServiceOptions = LARGE_SERVICE,
  log: (line: string) => void = () => {},
): Promise<{ service: LargeService; counts: LargeServiceCounts }> {
  const service = generateLargeService(options);
  return { service, counts: await writeLargeService(db, packs, tenantId, service, log) };
}

/**
 * Writes a generated service into a tenant, table by table in bulk (an operator's load, not API
 * traffic: one audit event records it), then derives what the API would have: each household's
 * approval history on the tenant's workflow, the case events of each entry into care, review,
 * placement, visit and approval, and the tasks the pack's cycles make of them, by the same
 * recalculation the API runs after every event. Workers who are users already (made through the
 * API) keep their account and roles and join their team.
 */
export async function writeLargeService(
  db: Knex,
  packs: PackRegistry,
  tenantId: string,
  service: LargeService,
  log: (line: string) => void = () => {},
): Promise<LargeServiceCounts> {
  const options = service.options;
  const words = options.vocabulary ?? ENGLAND;
  const counts: LargeServiceCounts = {};
  const t = tenantId;
  await db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('app.tenant_id', ?, true)`, [t]);
    const roles = new Map(
      ((await trx('roles').where({ tenant_id: t }).select('id', 'key')) as Array<{ id: string; key: string }>).map(
        (r) => [r.key, r.id],
      ),
    );
    const { workflow } = await carerConfig(trx, t, packs, options.asOf);
    const journey = workflow ? approvalJourney(workflow, words.endOfApproval) : null;
    if (!journey)
      throw new Error(
        `The tenant's pack has no carer approval workflow that reaches an approval: a synthetic service needs one`,
      );

    const existing = new Set(
      (
        (await trx('users')
          .where({ tenant_id: t })
          .whereIn(
            'id',
            service.workers.map((w) => w.id),
          )
          .select('id')) as Array<{ id: string }>
      ).map((u) => u.id),
    );
    const newWorkers = service.workers.filter((w) => !existing.has(w.id));
    await insertAll(
      trx,
      'users',
      newWorkers.map((w) => ({ tenant_id: t, id: w.id, email: w.email, display_name: w.displayName })),
      counts,
    );
    await insertAll(
      trx,
      'user_roles',
      newWorkers.map((w) => ({
        tenant_id: t,
        user_id: w.id,
        role_id: roles.get(w.role === 'caseworker' ? 'caseworker' : 'supervisor'),
      })),
      counts,
    );
    const teams = Array.from({ length: options.teams }, (_, i) => ({
      tenant_id: t,
      id: service.workers[i]!.id.replace(/^.{8}/, 'aaaaaaaa'),
      name: `Team ${i + 1}`,
    }));
    await insertAll(trx, 'teams', teams, counts);
    await insertAll(
      trx,
      'team_members',
      service.workers.map((w) => ({ tenant_id: t, team_id: teams[w.team]!.id, user_id: w.id })),
      counts,
    );

    await insertAll(
      trx,
      'carer_households',
      service.households.map((h) => ({
        tenant_id: t,
        id: h.id,
        name: h.name,
        postcode: h.postcode,
        region: h.region,
        latitude: h.location.lat,
        longitude: h.location.lon,
        languages: h.languages,
        skills: h.skills,
        carer_level: h.carerLevel,
        supervising_worker_id: h.supervisingWorkerId,
        workflow_key: journey.workflowKey,
        approval_state: h.endedOn && journey.ending ? journey.ending.to : journey.approvedState,
        approved_state: journey.approvedState,
        approved_on: h.approvedOn,
        approval_ended_on: h.endedOn,
        status: h.endedOn ? 'closed' : 'active',
      })),
      counts,
    );
    await insertAll(
      trx,
      'carer_household_members',
      service.members.map((m) => ({
        tenant_id: t,
        id: m.id,
        household_id: m.householdId,
        name: `${m.givenName} ${m.familyName}`,
        date_of_birth: m.dateOfBirth,
        role: m.role === 'applicant' ? 'applicant' : 'household_member',
        relationship:
          m.role === 'child_member' ? 'birth child' : m.role === 'adult_member' ? 'adult family member' : null,
      })),
      counts,
    );
    await insertAll(
      trx,
      'carer_checks',
      service.checks.map((c) => ({
        tenant_id: t,
        id: c.id,
        household_id: c.householdId,
        member_id: c.memberId,
        check_type: c.checkType,
        status: c.status,
        requested_on: c.requestedOn,
        completed_on: c.completedOn,
        expires_on: c.expiresOn,
      })),
      counts,
    );
    const histories = new Map(service.households.map((h) => [h.id, approvalSteps(h, journey)]));
    await insertAll(
      trx,
      'carer_approval_steps',
      service.households.flatMap((h) =>
        histories.get(h.id)!.map((step) => ({
          tenant_id: t,
          id: step.id,
          household_id: h.id,
          workflow_key: journey.workflowKey,
          transition: step.transition,
          from_state: step.from,
          to_state: step.to,
          occurred_on: step.on,
          actor_id: h.supervisingWorkerId,
          created_at: step.recordedAt,
        })),
      ),
      counts,
    );
    await insertAll(
      trx,
      'carer_approval_terms',
      service.households.map((h) => ({
        tenant_id: t,
        id: h.id.replace(/^.{8}/, 'bbbbbbbb'),
        household_id: h.id,
        effective_from: h.approvedOn,
        max_children: h.terms.maxChildren,
        age_min: h.terms.ageMin,
        age_max: h.terms.ageMax,
        placement_kinds: h.terms.placementKinds,
        carer_level: h.carerLevel,
        step_id: histories.get(h.id)!.find((s) => s.meaning === 'approval')!.id,
      })),
      counts,
    );

    await insertAll(
      trx,
      'children',
      service.children.map((c) => ({
        tenant_id: t,
        id: c.id,
        given_name: c.givenName,
        family_name: c.familyName,
        date_of_birth: c.dateOfBirth,
        sex: c.sex,
        ethnicity: c.ethnicity,
        status: c.leftCareOn ? 'left_care' : 'in_care',
        allocated_worker_id: c.allocatedWorkerId,
      })),
      counts,
    );
    await insertAll(
      trx,
      'child_legal_statuses',
      service.children.map((c) => ({
        tenant_id: t,
        id: c.id.replace(/^.{8}/, 'cccccccc'),
        child_id: c.id,
        code: c.legalStatus,
        start_date: c.enteredCareOn,
        end_date: c.leftCareOn,
      })),
      counts,
    );
    const reason = (reasons: readonly string[], i: number) => reasons[i % reasons.length]!;
    await insertAll(
      trx,
      'child_care_episodes',
      service.children.map((c, i) => ({
        tenant_id: t,
        id: c.id.replace(/^.{8}/, 'dddddddd'),
        child_id: c.id,
        start_date: c.enteredCareOn,
        end_date: c.leftCareOn,
        start_reason: reason(words.episodeStartReasons, i),
        end_reason: c.leftCareOn ? reason(words.episodeEndReasons, i) : null,
      })),
      counts,
    );
    // Each record with the event the API would have recorded with it (a visit keeps its event's id, as the placements module does).
    const events: Array<Record<string, unknown>> = [];
    const event = (
      name: CaseEventName,
      subjectId: string,
      occurredOn: string,
      source: { type: string; id: string },
      facts: Record<string, unknown> = {},
    ) => {
      const id = syntheticId(source.id, events.length, name);
      events.push({
        tenant_id: t,
        id,
        name,
        subject_type: CASE_EVENTS[name].subject,
        subject_id: subjectId,
        occurred_on: occurredOn,
        facts: JSON.stringify(facts),
        source_type: source.type,
        source_id: source.id,
      });
      return id;
    };
    const records: Array<Record<string, unknown>> = [];
    const record = (
      c: SimChild,
      n: number,
      kind: string,
      on: string,
      summary: string,
      details: Record<string, unknown>,
      name: CaseEventName,
    ) => {
      const id = syntheticId(c.id, n, kind);
      records.push({
        tenant_id: t,
        id,
        child_id: c.id,
        kind,
        occurred_on: on,
        summary,
        details: JSON.stringify(details),
      });
      event(name, c.id, on, { type: 'child_case_record', id });
    };
    for (const c of service.children) {
      const episode = { type: 'care_episode', id: c.id.replace(/^.{8}/, 'dddddddd') };
      event('child.entered_care', c.id, c.enteredCareOn, episode);
      if (c.leftCareOn) event('child.left_care', c.id, c.leftCareOn, episode);
      c.reviews.forEach((on, n) => record(c, n, 'review', on, `Review ${n + 1}`, {}, 'child.review_held'));
      c.healthAssessments.forEach((a, n) =>
        record(
          c,
          n,
          'health_assessment',
          a.on,
          a.type === 'initial' ? 'Initial health assessment' : 'Review health assessment',
          { type: a.type },
          a.type === 'initial' ? 'child.initial_health_assessment_held' : 'child.review_health_assessment_held',
        ),
      );
      c.pepReviews.forEach((on, n) =>
        record(c, n, 'pep_review', on, 'Personal education plan review', {}, 'child.pep_reviewed'),
      );
    }
    await insertAll(trx, 'child_case_records', records, counts);

    await insertAll(
      trx,
      'placements',
      service.placements.map((p) => ({
        tenant_id: t,
        id: p.id,
        child_id: p.childId,
        household_id: p.householdId,
        kind: p.kind,
        placement_type: p.placementType,
        status: p.endOn ? 'ended' : 'active',
        start_date: p.startOn,
        end_date: p.endOn,
        long_term: p.longTerm,
      })),
      counts,
    );
    const childWorker = new Map(service.children.map((c) => [c.id, c.allocatedWorkerId]));
    const householdWorker = new Map(service.households.map((h) => [h.id, h.supervisingWorkerId]));
    const visits: Array<Record<string, unknown>> = [];
    for (const p of service.placements) {
      event('placement.started', p.id, p.startOn, { type: 'placement', id: p.id }, { longTerm: p.longTerm });
      if (p.endOn) event('placement.ended', p.id, p.endOn, { type: 'placement', id: p.id });
      p.visits.forEach((on, n) => {
        const id = syntheticId(p.id, n, 'visit');
        const eventId = event(
          'placement.visit_held',
          p.id,
          on,
          { type: 'placement_visit', id },
          { childSeen: true, childSeenAlone: null },
        );
        visits.push({
          tenant_id: t,
          id,
          placement_id: p.id,
          kind: 'child_visit',
          visit_date: on,
          visited_by: childWorker.get(p.childId),
          child_seen: true,
          case_event_id: eventId,
        });
      });
      p.unannouncedVisits.forEach((on, n) => {
        const id = syntheticId(p.id, n, 'unannounced-visit');
        const eventId = event(
          'carer.unannounced_visit_held',
          p.householdId,
          on,
          { type: 'placement_visit', id },
          { placementId: p.id },
        );
        visits.push({
          tenant_id: t,
          id,
          placement_id: p.id,
          kind: 'unannounced_visit',
          visit_date: on,
          visited_by: householdWorker.get(p.householdId),
          case_event_id: eventId,
        });
      });
    }
    await insertAll(trx, 'placement_visits', visits, counts);

    // Each from the step that made it, as the carers module records them.
    const meanings = {
      approval: 'carer.approved',
      review: 'carer.review_held',
      ending: 'carer.approval_ended',
    } as const;
    for (const [householdId, steps] of histories) {
      for (const step of steps)
        if (step.meaning)
          event(
            meanings[step.meaning],
            householdId,
            step.on,
            { type: 'carer_approval_step', id: step.id },
            { transition: step.transition },
          );
    }
    await insertAll(trx, 'case_events', events, counts);
    log(`rows written: ${JSON.stringify(counts)}`);

    const touched = new Map<string, TouchedSubject>();
    for (const e of events) {
      const key = `${e.subject_type}:${e.subject_id}`;
      const entry =
        touched.get(key) ??
        touched
          .set(key, {
            subjectType: e.subject_type as TouchedSubject['subjectType'],
            subjectId: e.subject_id as string,
            names: [],
          })
          .get(key)!;
      if (!entry.names.includes(e.name as string)) entry.names.push(e.name as string);
    }
    const started = Date.now();
    await recalculateTasks({ trx, tenantId: t, packs }, [...touched.values()]);
    counts.tasks = Number(
      ((await trx('tasks').where({ tenant_id: t }).count({ n: '*' })) as Array<{ n: string }>)[0]!.n,
    );
    log(`tasks derived for ${touched.size} subjects in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    await appendAuditEvent(trx, t, systemActor(), {
      action: 'tenant.synthetic_service_loaded',
      entityType: 'tenant',
      entityId: t,
      after: { seed: options.seed, asOf: options.asOf, place: words.name, counts },
    });
  });
  return counts;
}

interface ApprovalStep {
  id: string;
  transition: string;
  from: string;
  to: string;
  on: string;
  /** When it was written: the history reads in this order. */
  recordedAt: string;
  meaning: 'approval' | 'review' | 'ending' | null;
}

const shift = addDays;

/**
 * A household's way through the workflow: the assessment's steps spread from enquiry to approval,
 * each review opened two weeks before it is held, and the ending when the household stopped.
 */
function approvalSteps(h: SimHousehold, journey: ApprovalJourney): ApprovalStep[] {
  const steps: ApprovalStep[] = [];
  const add = (
    transition: { key: string; from: string[]; to: string },
    on: string,
    meaning: ApprovalStep['meaning'],
  ) => {
    const n = steps.length;
    steps.push({
      id: syntheticId(h.id, n, 'approval-step'),
      transition: transition.key,
      from: transition.from[0]!,
      to: transition.to,
      on,
      recordedAt: `${on}T09:${String(n % 60).padStart(2, '0')}:00Z`,
      meaning,
    });
  };
  const span = daysBetween(h.enquiryOn, h.approvedOn);
  journey.toApproval.forEach((transition, i) => {
    const last = i === journey.toApproval.length - 1;
    add(
      transition,
      last ? h.approvedOn : shift(h.enquiryOn, Math.floor((span * i) / journey.toApproval.length)),
      last ? 'approval' : null,
    );
  });
  if (journey.review) {
    for (const held of h.reviews) {
      add(journey.review[0], shift(held, -14), null);
      add(journey.review[1], held, 'review');
    }
  }
  if (h.endedOn && journey.ending) add(journey.ending, h.endedOn, 'ending');
  return steps;
}

/** A repeatable id for the n-th record of a kind under a parent: the same seed gives the same ids. */
function syntheticId(parentId: string, n: number, kind: string): string {
  let h = 2166136261;
  for (const ch of `${parentId}/${kind}/${n}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const p = parentId.replace(/-/g, '');
  const hex = `${h.toString(16).padStart(8, '0')}${p.slice(8, 20)}${(n % 0x10000).toString(16).padStart(4, '0')}${p.slice(24)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
