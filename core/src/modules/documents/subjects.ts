import type { Knex } from 'knex';
import type { Permission } from '../../access/permissions';
import type { TenantScope } from '../../http/operation';
import { Problem } from '../../http/problem';
import { childVisible, type Fenced } from '../children/visibility';
import type { Sensitivity, SubjectType } from './models';

/**
 * The records a document can be kept against: where each lives, whose it is (the child and the
 * carer household it belongs to, read when the document is attached and kept on it), and the
 * permission that reads it. A document is visible only to whoever can read its record.
 */
interface SubjectKind {
  table: string;
  noun: string;
  read: Permission;
  /** The column naming the child, or `id` where the record is the child. */
  child?: string;
  household?: string;
  /** Soft-deleted rows are not a record to attach to. */
  softDeleted?: boolean;
}

export const SUBJECTS: Record<SubjectType, SubjectKind> = {
  child: { table: 'children', noun: 'child', read: 'children:read', child: 'id', softDeleted: true },
  case_record: {
    table: 'child_case_records',
    noun: 'case record',
    read: 'children:read',
    child: 'child_id',
    softDeleted: true,
  },
  household: { table: 'carer_households', noun: 'carer household', read: 'carers:read', household: 'id' },
  member: {
    table: 'carer_household_members',
    noun: 'household member',
    read: 'carers:read',
    household: 'household_id',
  },
  check: { table: 'carer_checks', noun: 'check', read: 'carers:read', household: 'household_id' },
  claim: { table: 'claims', noun: 'claim', read: 'claims:read', household: 'household_id' },
  claim_line: { table: 'claim_lines', noun: 'claim line', read: 'claims:read', child: 'child_id' },
  placement: {
    table: 'placements',
    noun: 'placement',
    read: 'placements:read',
    child: 'child_id',
    household: 'household_id',
  },
  panel: { table: 'carer_panels', noun: 'panel', read: 'carers:read' },
  payment_run: { table: 'payment_runs', noun: 'payment run', read: 'payments:read' },
  invoice: { table: 'invoices', noun: 'invoice', read: 'invoices:read' },
};

export interface SubjectOwners {
  childId: string | null;
  householdId: string | null;
}

/**
 * The record a document is to be kept against, with whose it is; a record of another tenant, outside
 * the fence, soft-deleted or of a kind the caller cannot read is refused exactly as a missing one is.
 */
export async function resolveSubject(
  ctx: Fenced & Pick<TenantScope, 'principal'>,
  subjectType: SubjectType,
  subjectId: string,
  pointer = '/body/subjectId',
): Promise<SubjectOwners> {
  const kind = SUBJECTS[subjectType];
  const missing = () => Problem.unprocessable([{ pointer, message: `is not a ${kind.noun} of this tenant` }]);
  if (!ctx.principal.permissions.has(kind.read)) throw missing();
  const query = ctx.trx(`${kind.table} as s`).where('s.tenant_id', ctx.tenantId).where('s.id', subjectId);
  if (kind.softDeleted) query.whereNull('s.deleted_at');
  const childColumn = kind.child ? `s.${kind.child}` : null;
  if (childColumn) query.where(childVisible(ctx, childColumn));
  let householdColumn = kind.household ? `s.${kind.household}` : null;
  if (subjectType === 'claim_line') {
    // A claim line's household is its claim's.
    query.join('claims as c', (j) => j.on('c.tenant_id', 's.tenant_id').andOn('c.id', 's.claim_id'));
    householdColumn = 'c.household_id';
  }
  const row = (await query
    .select({
      childId: childColumn ? ctx.trx.raw('??', [childColumn]) : ctx.trx.raw('NULL::uuid'),
      householdId: householdColumn ? ctx.trx.raw('??', [householdColumn]) : ctx.trx.raw('NULL::uuid'),
    })
    .first()) as SubjectOwners | undefined;
  if (!row) throw missing();
  return { childId: row.childId ?? null, householdId: row.householdId ?? null };
}

/**
 * The fence on documents, for a query over `documents` aliased `alias`: the record's child visible
 * to the caller, the record of a kind the caller can read, and confidential ones only with
 * `documents:read_confidential`.
 */
/** knex's and objection's builders alike. */
interface Fenceable {
  whereIn(column: string, values: string[]): unknown;
  where(condition: Knex.Raw): unknown;
}

export function documentsVisible(ctx: Fenced & Pick<TenantScope, 'principal'>, alias = 'd'): (q: Fenceable) => void {
  const readable = (Object.keys(SUBJECTS) as SubjectType[]).filter((t) =>
    ctx.principal.permissions.has(SUBJECTS[t].read),
  );
  const sensitivities: Sensitivity[] = ctx.principal.permissions.has('documents:read_confidential')
    ? ['shared_with_household', 'staff', 'confidential']
    : ['shared_with_household', 'staff'];
  return (q) => {
    q.whereIn(`${alias}.subject_type`, readable);
    q.whereIn(`${alias}.sensitivity`, sensitivities);
    q.where(childVisible(ctx, `${alias}.child_id`));
  };
}
