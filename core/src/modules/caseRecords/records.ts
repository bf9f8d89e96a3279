import type { TenantScope } from '../../http/operation';
import type { FieldError } from '../../http/problem';
import { actorId } from '../../http/operation';
import { correctCaseEvent, recordCaseEvent, voidCaseEvents, type CaseEventName } from '../tasks/events';
import { notifySafeguardingAlert, SAFEGUARDING_RECORD_KINDS } from '../notifications/domainEvents';
import { throwIf } from './families';
import { ChildCaseRecord, ChildFamilyMember } from './models';
import { purposeCodeErrors } from './optionLists';
import type { Checked, SubRecordSpec } from './subRecords';

type Details = Record<string, unknown>;

/** The case event a record of this kind says happened, if any. */
export function eventOf(row: ChildCaseRecord): CaseEventName | null {
  const details = (row.details ?? {}) as Details;
  switch (row.kind) {
    case 'review':
      return 'child.review_held';
    case 'pep_review':
      return 'child.pep_reviewed';
    case 'health_assessment':
      return details.type === 'initial'
        ? 'child.initial_health_assessment_held'
        : 'child.review_health_assessment_held';
    default:
      return null;
  }
}

const source = (row: ChildCaseRecord) => ({ type: 'child_case_record', id: row.id });

/** A code a kind's details may carry, where the details hold one. */
const codeIn = (details: Details, key: string) => details[key] as string | null | undefined;

async function detailErrors(ctx: TenantScope, change: Checked<ChildCaseRecord, 'CaseRecord'>): Promise<FieldError[]> {
  const row = change.after;
  const details = (row.details ?? {}) as Details;
  const errors: FieldError[] = [];
  if (row.kind === 'contact_event' && Array.isArray(details.familyMemberIds) && details.familyMemberIds.length) {
    const ids = details.familyMemberIds as string[];
    const members = await ChildFamilyMember.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, child_id: row.childId })
      .whereNull('deleted_at')
      .whereIn('id', ids)
      .select('id');
    const found = new Set(members.map((r) => r.id));
    ids.forEach((id, i) => {
      if (!found.has(id))
        errors.push({
          pointer: `/body/details/familyMemberIds/${i}`,
          message: "is not a family member on this child's record",
        });
    });
  }
  if (
    row.kind === 'missing_episode' &&
    typeof details.endedAt === 'string' &&
    Date.parse(details.endedAt) < Date.parse(details.startedAt as string)
  ) {
    errors.push({ pointer: '/body/details/endedAt', message: 'is before startedAt' });
  }
  if (row.kind === 'review')
    errors.push(
      ...(await purposeCodeErrors(ctx, [
        {
          purpose: 'reviewParticipation',
          code: codeIn(details, 'participationCode'),
          pointer: '/body/details/participationCode',
        },
      ])),
    );
  if (row.kind === 'missing_episode')
    errors.push(
      ...(await purposeCodeErrors(ctx, [
        { purpose: 'missingType', code: codeIn(details, 'missingType'), pointer: '/body/details/missingType' },
      ])),
    );
  return errors;
}

export const caseRecordSpec: SubRecordSpec<ChildCaseRecord, 'CaseRecord', 'CaseRecords'> = {
  model: ChildCaseRecord,
  entityType: 'child_case_record',
  path: 'records',
  idParam: 'recordId',
  fields: {
    kind: 'kind',
    occurredOn: 'occurredOn',
    dueOn: 'dueOn',
    summary: 'summary',
    author: 'author',
    recordedBy: 'recordedBy',
    details: 'details',
  },
  sortBy: 'occurredOn',
  rangeBy: 'occurredOn',
  filter(query, q) {
    if (q.kind) query.where('kind', q.kind);
  },
  prepare(ctx, fields) {
    if (fields.recordedBy === undefined && ctx.principal.kind === 'user') fields.recordedBy = actorId(ctx);
  },
  async check(ctx, change) {
    const { before, after, input } = change;
    const errors: FieldError[] = [];
    if (before && input.kind !== before.kind)
      errors.push({
        pointer: '/body/kind',
        message: `is ${before.kind}: a record keeps its kind (delete it and record the right one)`,
      });
    if (after.occurredOn > change.today) errors.push({ pointer: '/body/occurredOn', message: 'is in the future' });
    if (after.kind === 'plan' && !after.dueOn)
      errors.push({ pointer: '/body/dueOn', message: 'is required for a plan (when it is next reviewed)' });
    if (input.recordedBy) {
      const user = await ctx
        .trx('users')
        .where({ tenant_id: ctx.tenantId, id: input.recordedBy, status: 'active' })
        .first('id');
      if (!user) errors.push({ pointer: '/body/recordedBy', message: 'is not an active user of this tenant' });
    }
    if (!errors.length) errors.push(...(await detailErrors(ctx, change)));
    throwIf(errors);
  },
  async effects(ctx, change, action) {
    const row = change.after;
    const event = eventOf(row);
    const record = (name: CaseEventName) => ({
      name,
      subjectId: change.child.id,
      occurredOn: row.occurredOn,
      facts: { kind: row.kind },
      source: source(row),
    });
    if (action === 'deleted') {
      await voidCaseEvents(ctx, source(row));
    } else if (action === 'created' || action === 'restored') {
      if (event) await recordCaseEvent(ctx, record(event));
      if (action === 'created' && SAFEGUARDING_RECORD_KINDS.has(row.kind))
        await notifySafeguardingAlert(ctx, {
          id: row.id,
          kind: row.kind,
          childId: change.child.id,
          allocatedWorkerId: change.child.allocatedWorkerId,
        });
    } else {
      const previous = eventOf(change.before!);
      if (previous !== event) {
        await voidCaseEvents(ctx, source(row));
        if (event) await recordCaseEvent(ctx, record(event));
      } else if (event && change.before!.occurredOn !== row.occurredOn) {
        await correctCaseEvent(ctx, record(event));
      }
    }
  },
};
