import type { OperationContext } from '../../http/operation';
import type { FieldError } from '../../http/problem';
import { correctCaseEvent, recordCaseEvent, voidCaseEvents, type CaseEventName } from '../tasks/events';
import { throwIf } from './families';
import { purposeCodeErrors } from './optionLists';
import type { Change, Row, SubRecordSpec } from './subRecords';

type Details = Record<string, unknown>;

/** The case event a record of this kind says happened, if any. */
export function eventOf(row: Row): CaseEventName | null {
  const details = (row.details ?? {}) as Details;
  switch (row.kind) {
    case 'review':
      return 'child.review_held';
    case 'pep_review':
      return 'child.pep_reviewed';
    case 'health_assessment':
      return details.type === 'initial' ? 'child.initial_health_assessment_held' : 'child.review_health_assessment_held';
    default:
      return null;
  }
}

const source = (row: Row) => ({ type: 'child_case_record', id: row.id });

async function detailErrors(ctx: OperationContext, change: Change): Promise<FieldError[]> {
  const row = change.after;
  const details = (row.details ?? {}) as Details;
  const errors: FieldError[] = [];
  if (row.kind === 'contact_event' && Array.isArray(details.familyMemberIds) && details.familyMemberIds.length) {
    const ids = details.familyMemberIds as string[];
    const found = new Set(
      ((await ctx.trx('child_family_members').where({ tenant_id: ctx.tenantId!, child_id: row.child_id }).whereNull('deleted_at').whereIn('id', ids).select('id')) as Array<{ id: string }>).map((r) => r.id),
    );
    ids.forEach((id, i) => {
      if (!found.has(id)) errors.push({ pointer: `/body/details/familyMemberIds/${i}`, message: "is not a family member on this child's record" });
    });
  }
  if (row.kind === 'missing_episode' && typeof details.endedAt === 'string' && Date.parse(details.endedAt) < Date.parse(details.startedAt as string)) {
    errors.push({ pointer: '/body/details/endedAt', message: 'is before startedAt' });
  }
  if (row.kind === 'review') errors.push(...(await purposeCodeErrors(ctx, [{ purpose: 'reviewParticipation', code: details.participationCode as string | null | undefined, pointer: '/body/details/participationCode' }])));
  if (row.kind === 'missing_episode') errors.push(...(await purposeCodeErrors(ctx, [{ purpose: 'missingType', code: details.missingType as string | null | undefined, pointer: '/body/details/missingType' }])));
  return errors;
}

export const caseRecordSpec: SubRecordSpec = {
  table: 'child_case_records',
  entityType: 'child_case_record',
  noun: 'The case record',
  path: 'records',
  idParam: 'recordId',
  fields: { kind: 'kind', occurredOn: 'occurred_on', dueOn: 'due_on', summary: 'summary', author: 'author', recordedBy: 'recorded_by', details: 'details' },
  json: ['details'],
  sortColumn: 'occurred_on',
  rangeColumn: 'occurred_on',
  filter(query, params) {
    if (params.kind) query.where('kind', params.kind as string);
  },
  prepare(ctx, columns) {
    if (columns.recorded_by === undefined && ctx.principal!.kind === 'user') columns.recorded_by = ctx.principal!.id;
  },
  async check(ctx, change) {
    const { before, after, input } = change;
    const errors: FieldError[] = [];
    if (before && input.kind !== before.kind) errors.push({ pointer: '/body/kind', message: `is ${String(before.kind)}: a record keeps its kind (delete it and record the right one)` });
    if ((after.occurred_on as string) > change.today) errors.push({ pointer: '/body/occurredOn', message: 'is in the future' });
    if (after.kind === 'plan' && !after.due_on) errors.push({ pointer: '/body/dueOn', message: 'is required for a plan (when it is next reviewed)' });
    if (input.recordedBy) {
      const user = await ctx.trx('users').where({ tenant_id: ctx.tenantId, id: input.recordedBy, status: 'active' }).first('id');
      if (!user) errors.push({ pointer: '/body/recordedBy', message: 'is not an active user of this tenant' });
    }
    if (!errors.length) errors.push(...(await detailErrors(ctx, change)));
    throwIf(errors);
  },
  async effects(ctx, change, action) {
    const row = change.after;
    const event = eventOf(row);
    const record = (name: CaseEventName) => ({ name, subjectId: change.child.id, occurredOn: row.occurred_on as string, facts: { kind: row.kind }, source: source(row) });
    if (action === 'deleted') {
      await voidCaseEvents(ctx, source(row));
    } else if (action === 'created' || action === 'restored') {
      if (event) await recordCaseEvent(ctx, record(event));
    } else {
      const previous = eventOf(change.before!);
      if (previous !== event) {
        await voidCaseEvents(ctx, source(row));
        if (event) await recordCaseEvent(ctx, record(event));
      } else if (event && change.before!.occurred_on !== row.occurred_on) {
        await correctCaseEvent(ctx, record(event));
      }
    }
  },
};
