import { Problem, type FieldError } from '../../http/problem';
import { ChildAlert, ChildFamilyMember, ChildKeyContact, ChildLegalStatus, type ChildRecord } from './models';
import { assertPurposeCodes } from './optionLists';
import type { Change, DateFields, SubRecordSpec } from './subRecords';

/** A span's end on or after its start, else 422 naming the end field. */
export function spanErrors<M extends ChildRecord>(
  change: Change<M>,
  start: DateFields<M>,
  end: DateFields<M>,
  endField: string,
): FieldError[] {
  const from = change.after[start] as string;
  const to = change.after[end] as string | null;
  return to !== null && to !== undefined && to < from
    ? [
        {
          pointer: `/body/${endField}`,
          message: `is before ${start === 'startDate' ? 'the start date' : 'the date it starts'} (${from})`,
        },
      ]
    : [];
}

export function throwIf(errors: FieldError[]): void {
  if (errors.length) throw Problem.unprocessable(errors);
}

export const legalStatusSpec: SubRecordSpec<ChildLegalStatus, 'LegalStatus', 'LegalStatuses'> = {
  model: ChildLegalStatus,
  entityType: 'child_legal_status',
  path: 'legal-statuses',
  idParam: 'legalStatusId',
  fields: { code: 'code', startDate: 'startDate', endDate: 'endDate', notes: 'notes' },
  sortBy: 'startDate',
  rangeBy: 'startDate',
  span: { start: 'startDate', end: 'endDate', startField: 'startDate', endField: 'endDate', what: 'legal status' },
  async check(ctx, change) {
    throwIf(spanErrors(change, 'startDate', 'endDate', 'endDate'));
    if (change.input.code !== undefined)
      await assertPurposeCodes(ctx, [{ purpose: 'legalStatus', code: change.after.code, pointer: '/body/code' }]);
  },
};

export const alertSpec: SubRecordSpec<ChildAlert, 'Alert', 'Alerts'> = {
  model: ChildAlert,
  entityType: 'child_alert',
  path: 'alerts',
  idParam: 'alertId',
  fields: {
    category: 'category',
    severity: 'severity',
    title: 'title',
    description: 'description',
    activeFrom: 'activeFrom',
    activeTo: 'activeTo',
  },
  sortBy: 'activeFrom',
  rangeBy: 'activeFrom',
  filter(query, q) {
    const on = q.activeOn;
    if (on) query.where('active_from', '<=', on).where((w) => w.whereNull('active_to').orWhere('active_to', '>=', on));
  },
  extra: (row, today) => ({
    active: !row.deletedAt && row.activeFrom <= today && (row.activeTo === null || row.activeTo >= today),
  }),
  async check(_ctx, change) {
    throwIf(spanErrors(change, 'activeFrom', 'activeTo', 'activeTo'));
  },
};

export const familyMemberSpec: SubRecordSpec<ChildFamilyMember, 'FamilyMember', 'FamilyMembers'> = {
  model: ChildFamilyMember,
  entityType: 'child_family_member',
  path: 'family-members',
  idParam: 'familyMemberId',
  fields: {
    givenName: 'givenName',
    familyName: 'familyName',
    dateOfBirth: 'dateOfBirth',
    relationship: 'relationship',
    parentalResponsibility: 'parentalResponsibility',
    contactAllowed: 'contactAllowed',
    contactSupervised: 'contactSupervised',
    phone: 'phone',
    email: 'email',
    address: 'address',
    notes: 'notes',
  },
  async check(_ctx, change) {
    const born = change.after.dateOfBirth;
    throwIf(born && born > change.today ? [{ pointer: '/body/dateOfBirth', message: 'is in the future' }] : []);
  },
};

export const keyContactSpec: SubRecordSpec<ChildKeyContact, 'KeyContact', 'KeyContacts'> = {
  model: ChildKeyContact,
  entityType: 'child_key_contact',
  path: 'key-contacts',
  idParam: 'keyContactId',
  fields: { role: 'role', name: 'name', organisation: 'organisation', phone: 'phone', email: 'email', notes: 'notes' },
};
