import { Problem, type FieldError } from '../../http/problem';
import { assertPurposeCodes } from './optionLists';
import type { Change, SubRecordSpec } from './subRecords';

/** A span's end on or after its start, else 422 naming the end field. */
export function spanErrors(change: Change, start: string, end: string, endField: string): FieldError[] {
  const from = change.after[start] as string;
  const to = change.after[end] as string | null;
  return to !== null && to !== undefined && to < from ? [{ pointer: `/body/${endField}`, message: `is before ${start === 'start_date' ? 'the start date' : 'the date it starts'} (${from})` }] : [];
}

export function throwIf(errors: FieldError[]): void {
  if (errors.length) throw Problem.unprocessable(errors);
}

export const legalStatusSpec: SubRecordSpec = {
  table: 'child_legal_statuses',
  entityType: 'child_legal_status',
  noun: 'The legal status',
  path: 'legal-statuses',
  idParam: 'legalStatusId',
  fields: { code: 'code', startDate: 'start_date', endDate: 'end_date', notes: 'notes' },
  sortColumn: 'start_date',
  rangeColumn: 'start_date',
  span: { start: 'start_date', end: 'end_date', startField: 'startDate', endField: 'endDate', what: 'legal status' },
  async check(ctx, change) {
    throwIf(spanErrors(change, 'start_date', 'end_date', 'endDate'));
    if (change.input.code !== undefined) await assertPurposeCodes(ctx, [{ purpose: 'legalStatus', code: change.after.code as string, pointer: '/body/code' }]);
  },
};

export const alertSpec: SubRecordSpec = {
  table: 'child_alerts',
  entityType: 'child_alert',
  noun: 'The alert',
  path: 'alerts',
  idParam: 'alertId',
  fields: { category: 'category', severity: 'severity', title: 'title', description: 'description', activeFrom: 'active_from', activeTo: 'active_to' },
  sortColumn: 'active_from',
  rangeColumn: 'active_from',
  filter(query, params) {
    const on = params.activeOn as string | undefined;
    if (on) query.where('active_from', '<=', on).where((w) => w.whereNull('active_to').orWhere('active_to', '>=', on));
  },
  extra: (row, today) => ({ active: !row.deleted_at && (row.active_from as string) <= today && (row.active_to === null || (row.active_to as string) >= today) }),
  async check(_ctx, change) {
    throwIf(spanErrors(change, 'active_from', 'active_to', 'activeTo'));
  },
};

export const familyMemberSpec: SubRecordSpec = {
  table: 'child_family_members',
  entityType: 'child_family_member',
  noun: 'The family member',
  path: 'family-members',
  idParam: 'familyMemberId',
  fields: {
    givenName: 'given_name', familyName: 'family_name', dateOfBirth: 'date_of_birth', relationship: 'relationship', parentalResponsibility: 'parental_responsibility',
    contactAllowed: 'contact_allowed', contactSupervised: 'contact_supervised', phone: 'phone', email: 'email', address: 'address', notes: 'notes',
  },
  async check(_ctx, change) {
    const born = change.after.date_of_birth as string | null | undefined;
    throwIf(born && born > change.today ? [{ pointer: '/body/dateOfBirth', message: 'is in the future' }] : []);
  },
};

export const keyContactSpec: SubRecordSpec = {
  table: 'child_key_contacts',
  entityType: 'child_key_contact',
  noun: 'The key contact',
  path: 'key-contacts',
  idParam: 'keyContactId',
  fields: { role: 'role', name: 'name', organisation: 'organisation', phone: 'phone', email: 'email', notes: 'notes' },
};
