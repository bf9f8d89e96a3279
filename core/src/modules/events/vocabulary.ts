import type { AuditEventInput } from '../audit/service';

/**
 * The public event vocabulary: which audited actions integrators hear about, and under what name.
 * The audit trail's actions are internal words (some name the step, `payment_run.finalise`, some the
 * resource in the path rather than the record made); this map is the contract. An action not listed
 * publishes nothing (log-ins, users, roles, keys, settings, reads).
 *
 * Each entry names the public type and the subject: the kind of record the event is about, and how
 * its id is found (the audit event's entity, or the new record's id in `after` where the audit event
 * names the parent in the path). `data` picks a few non-personal facts; never names or free text.
 */

type Json = Record<string, unknown>;

export interface SubjectRule {
  /** The public kind of the subject (`placement`, `care_episode`…). */
  type: string;
  /** Where its id is: the audit entity's id (default), or `after.id` for a record created under a parent. */
  idFrom?: 'entity' | 'after';
}

export interface VocabularyEntry {
  type: string;
  subject: SubjectRule;
  /** Non-personal facts from the audited record (`after`, else `before`), by field name. */
  data?: readonly string[];
}

/** Path builders by subject kind: the API path a receiver reads the subject at, from its id and record. */
const PATHS: Record<string, (id: string, rec: Json) => string | null> = {
  child: (id) => `/v1/children/${id}`,
  placement: (id) => `/v1/placements/${id}`,
  matching_request: (id) => `/v1/matching-requests/${id}`,
  contact_session: (id, rec) =>
    str(rec.placementId) ? `/v1/placements/${str(rec.placementId)}/contact-sessions/${id}` : null,
  carer_household: (id) => `/v1/carer-households/${id}`,
  carer_household_member: (id, rec) =>
    str(rec.householdId) ? `/v1/carer-households/${str(rec.householdId)}/members/${id}` : null,
  carer_check: (id, rec) => (str(rec.householdId) ? `/v1/carer-households/${str(rec.householdId)}/checks/${id}` : null),
  carer_panel: (id) => `/v1/carer-panels/${id}`,
  carer_panel_agenda_item: (_id, rec) => (str(rec.panelId) ? `/v1/carer-panels/${str(rec.panelId)}` : null),
  form_submission: (id) => `/v1/form-submissions/${id}`,
  task: (id) => `/v1/tasks/${id}`,
  claim: (id) => `/v1/claims/${id}`,
  invoice: (id) => `/v1/invoices/${id}`,
  credit_note: (id) => `/v1/credit-notes/${id}`,
  commissioner: (id) => `/v1/commissioners/${id}`,
  pay_schedule: (id) => `/v1/pay-schedules/${id}`,
  payment_run: (id) => `/v1/payment-runs/${id}`,
  payment_adjustment: (id) => `/v1/payment-adjustments/${id}`,
  payment_dispute: (id) => `/v1/payment-disputes/${id}`,
  ledger_journal: (id) => `/v1/ledger/journals/${id}`,
  ledger_export: () => `/v1/ledger/exports`,
  webhook_endpoint: (id) => `/v1/webhook-endpoints/${id}`,
  ...Object.fromEntries(
    (
      [
        ['care_episode', 'care-episodes'],
        ['legal_status', 'legal-statuses'],
        ['alert', 'alerts'],
        ['family_member', 'family-members'],
        ['key_contact', 'key-contacts'],
        ['occasion', 'occasions'],
        ['case_record', 'records'],
      ] as const
    ).map(([kind, segment]) => [
      kind,
      (id: string, rec: Json) => (str(rec.childId) ? `/v1/children/${str(rec.childId)}/${segment}/${id}` : null),
    ]),
  ),
};

function str(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

const entity = (type: string): SubjectRule => ({ type });
const made = (type: string): SubjectRule => ({ type, idFrom: 'after' });
const STATUS = ['status'] as const;

/** A child's case-record families: `<entity>.<created|updated|deleted|restored>` in the audit trail. */
const CASE_RECORD_FAMILIES: Record<string, string> = {
  child_care_episode: 'care_episode',
  child_legal_status: 'legal_status',
  child_alert: 'alert',
  child_family_member: 'family_member',
  child_key_contact: 'key_contact',
  child_occasion: 'occasion',
  child_case_record: 'case_record',
};

const caseRecordEntries: Record<string, VocabularyEntry> = Object.fromEntries(
  Object.entries(CASE_RECORD_FAMILIES).flatMap(([audited, kind]) =>
    (['created', 'updated', 'deleted', 'restored'] as const).map((verb) => [
      `${audited}.${verb}`,
      { type: `${kind}.${verb}`, subject: verb === 'created' ? made(kind) : entity(kind) },
    ]),
  ),
);

export const VOCABULARY: Readonly<Record<string, VocabularyEntry>> = {
  // Children
  'child.created': { type: 'child.created', subject: entity('child'), data: STATUS },
  'child.updated': { type: 'child.updated', subject: entity('child'), data: STATUS },
  'child.deleted': { type: 'child.deleted', subject: entity('child') },
  'child.restored': { type: 'child.restored', subject: entity('child') },
  'child.merged': { type: 'child.merged', subject: entity('child') },
  'child.restriction_changed': { type: 'child.restriction_changed', subject: entity('child') },
  ...caseRecordEntries,
  'form.submitted': { type: 'form_submission.created', subject: entity('form_submission'), data: ['formKey'] },

  // Matching and placements
  'matching_request.created': { type: 'matching_request.created', subject: made('matching_request'), data: STATUS },
  'matching_request.updated': { type: 'matching_request.updated', subject: entity('matching_request'), data: STATUS },
  'placement.proposed': { type: 'placement.proposed', subject: made('placement'), data: STATUS },
  'placement.started': { type: 'placement.started', subject: made('placement'), data: STATUS },
  'placement.updated': { type: 'placement.updated', subject: entity('placement'), data: STATUS },
  'placement.transitioned': { type: 'placement.transitioned', subject: entity('placement'), data: STATUS },
  'placement.ended': { type: 'placement.ended', subject: entity('placement'), data: STATUS },
  'placement.moved': { type: 'placement.moved', subject: entity('placement'), data: STATUS },
  'placement.respite_created': { type: 'placement.respite_added', subject: entity('placement') },
  'placement.agreement_linked': { type: 'placement.agreement_linked', subject: entity('placement') },
  'placement.level_of_care_recorded': { type: 'placement.level_of_care_recorded', subject: entity('placement') },
  'placement_visit.recorded': { type: 'placement.visit_recorded', subject: entity('placement') },
  'placement_commission.recorded': { type: 'placement.commission_recorded', subject: entity('placement') },
  'contact_session.scheduled': { type: 'contact_session.scheduled', subject: made('contact_session'), data: STATUS },
  'contact_session.updated': { type: 'contact_session.updated', subject: entity('contact_session'), data: STATUS },

  // Carers, approval and panels
  'carer_household.created': { type: 'carer_household.created', subject: entity('carer_household'), data: STATUS },
  'carer_household.updated': { type: 'carer_household.updated', subject: entity('carer_household'), data: STATUS },
  'carer_household.approval_step': {
    type: 'carer_household.approval_step_recorded',
    subject: entity('carer_household'),
    data: STATUS,
  },
  'carer_household.decision_recorded': {
    type: 'carer_household.approval_decided',
    subject: entity('carer_household'),
    data: STATUS,
  },
  'carer_household.check_recorded': { type: 'carer_household.check_recorded', subject: entity('carer_household') },
  'carer_household.document_recorded': {
    type: 'carer_household.document_recorded',
    subject: entity('carer_household'),
  },
  'carer_household.form_submitted': { type: 'carer_household.form_submitted', subject: entity('carer_household') },
  'carer_household.member_added': { type: 'carer_household.member_added', subject: entity('carer_household') },
  'carer_household.member_updated': {
    type: 'carer_household.member_updated',
    subject: entity('carer_household_member'),
  },
  'carer_household.region_recorded': { type: 'carer_household.region_recorded', subject: entity('carer_household') },
  'carer_check.updated': { type: 'carer_check.updated', subject: entity('carer_check'), data: STATUS },
  'carer_panel.scheduled': { type: 'carer_panel.scheduled', subject: entity('carer_panel') },
  'carer_panel.agenda_item_added': { type: 'carer_panel.agenda_item_added', subject: entity('carer_panel') },
  'carer_panel.recommendation_recorded': {
    type: 'carer_panel.recommendation_recorded',
    subject: entity('carer_panel_agenda_item'),
  },

  // Tasks
  'task.completed': { type: 'task.completed', subject: entity('task'), data: STATUS },
  'task.reopened': { type: 'task.reopened', subject: entity('task'), data: STATUS },
  'task.reassigned': { type: 'task.reassigned', subject: entity('task') },
  'task.reminded': { type: 'task.reminded', subject: entity('task') },

  // Claims
  'claim.created': { type: 'claim.created', subject: made('claim'), data: STATUS },
  'claim.updated': { type: 'claim.updated', subject: entity('claim'), data: STATUS },
  'claim.submitted': { type: 'claim.submitted', subject: entity('claim'), data: STATUS },
  'claim.withdrawn': { type: 'claim.withdrawn', subject: entity('claim'), data: STATUS },
  'claim.approved': { type: 'claim.decided', subject: entity('claim'), data: STATUS },
  'claim.rejected': { type: 'claim.decided', subject: entity('claim'), data: STATUS },

  // Payments
  'pay_schedule.created': { type: 'pay_schedule.created', subject: entity('pay_schedule') },
  'pay_schedule.updated': { type: 'pay_schedule.updated', subject: entity('pay_schedule') },
  'payment_run.opened': { type: 'payment_run.opened', subject: entity('payment_run'), data: STATUS },
  'payment_run.calculated': { type: 'payment_run.calculated', subject: entity('payment_run'), data: STATUS },
  'payment_run.calculation_failed': {
    type: 'payment_run.calculation_failed',
    subject: entity('payment_run'),
    data: STATUS,
  },
  'payment_run.calculate': { type: 'payment_run.calculation_started', subject: entity('payment_run') },
  'payment_run.submit': { type: 'payment_run.submitted', subject: entity('payment_run'), data: STATUS },
  'payment_run.return': { type: 'payment_run.returned', subject: entity('payment_run'), data: STATUS },
  'payment_run.approve': { type: 'payment_run.approved', subject: entity('payment_run'), data: STATUS },
  'payment_run.finalise': { type: 'payment_run.finalised', subject: entity('payment_run'), data: STATUS },
  'payment_run.export': { type: 'payment_run.exported', subject: entity('payment_run'), data: STATUS },
  'payment_run.cancel': { type: 'payment_run.cancelled', subject: entity('payment_run'), data: STATUS },
  'payment_adjustment.proposed': {
    type: 'payment_adjustment.proposed',
    subject: entity('payment_adjustment'),
    data: STATUS,
  },
  'payment_adjustment.approved': {
    type: 'payment_adjustment.decided',
    subject: entity('payment_adjustment'),
    data: STATUS,
  },
  'payment_adjustment.rejected': {
    type: 'payment_adjustment.decided',
    subject: entity('payment_adjustment'),
    data: STATUS,
  },
  'payment_dispute.raised': { type: 'payment_dispute.raised', subject: made('payment_dispute'), data: STATUS },
  ...Object.fromEntries(
    (['upheld', 'rejected', 'withdrawn'] as const).map((outcome) => [
      `payment_dispute.${outcome}`,
      { type: 'payment_dispute.decided', subject: entity('payment_dispute'), data: STATUS },
    ]),
  ),

  // Invoices and the ledger
  'commissioner.created': { type: 'commissioner.created', subject: entity('commissioner') },
  'commissioner.updated': { type: 'commissioner.updated', subject: entity('commissioner') },
  'invoice.drafts_generated': { type: 'invoice.drafts_generated', subject: { type: 'invoice_drafts' } },
  'invoice.issued': { type: 'invoice.issued', subject: entity('invoice'), data: STATUS },
  'credit_note.issued': { type: 'credit_note.issued', subject: made('credit_note') },
  'ledger_journal.post': { type: 'ledger.journal.posted', subject: entity('ledger_journal') },
  'ledger_export.create': { type: 'ledger.export.created', subject: made('ledger_export') },

  // Webhooks themselves: an endpoint disabled for failing (the tenant's administrators need to know).
  'webhook_endpoint.disabled': { type: 'webhook_endpoint.disabled', subject: entity('webhook_endpoint') },
};

/** Every public event type, for the contract's description and for validating subscriptions. */
export const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(VOCABULARY).map((e) => e.type));

export interface PublicEvent {
  type: string;
  subject: { type: string; id: string | null; path: string | null };
  /** The child or placement the event is about, for the fence; never published. */
  fence: { type: 'child' | 'placement'; id: string } | null;
  data: Record<string, string | number | boolean | null>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function record(value: unknown): Json {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

/**
 * The child or placement behind an event, looked for everywhere it could be named, widest first:
 * a record that names a child (or a placement, or a task's subject) is fenced by it. Money rows that
 * name one are fenced too: a receiver that cannot see the child does not hear of them.
 */
function fenceOf(audit: AuditEventInput, subject: PublicEvent['subject'], rec: Json): PublicEvent['fence'] {
  const uuid = (v: unknown) => (typeof v === 'string' && UUID.test(v) ? v : null);
  if (audit.entityType === 'child' && uuid(audit.entityId)) return { type: 'child', id: audit.entityId! };
  if (subject.type === 'child' && uuid(subject.id)) return { type: 'child', id: subject.id! };
  const child = uuid(rec.childId);
  if (child) return { type: 'child', id: child };
  if (audit.entityType === 'placement' && uuid(audit.entityId)) return { type: 'placement', id: audit.entityId! };
  if (subject.type === 'placement' && uuid(subject.id)) return { type: 'placement', id: subject.id! };
  const placement = uuid(rec.placementId);
  if (placement) return { type: 'placement', id: placement };
  if ((rec.subjectType === 'child' || rec.subjectType === 'placement') && uuid(rec.subjectId))
    return { type: rec.subjectType, id: rec.subjectId as string };
  return null;
}

/** The public event for an audited action, or null when the action is not in the vocabulary. */
export function publicEventFor(audit: AuditEventInput): PublicEvent | null {
  const entry = Object.prototype.hasOwnProperty.call(VOCABULARY, audit.action) ? VOCABULARY[audit.action] : undefined;
  if (!entry) return null;
  const after = record(audit.after);
  const rec = Object.keys(after).length ? after : record(audit.before);
  const fromAfter = entry.subject.idFrom === 'after' ? str(after.id) : null;
  const id = fromAfter ?? audit.entityId ?? null;
  const path = id ? (PATHS[entry.subject.type]?.(id, rec) ?? null) : null;
  const subject = { type: entry.subject.type, id, path };
  const data: PublicEvent['data'] = {};
  for (const field of entry.data ?? []) {
    const value = rec[field];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') data[field] = value;
  }
  return { type: entry.type, subject, fence: fenceOf(audit, subject, rec), data };
}
