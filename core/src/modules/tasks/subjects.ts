import type { Knex } from 'knex';
import { Child } from '../children/models';
import type { CaseEventSubject } from './catalogue';

export interface SubjectFacts {
  /** Whose task it is: the worker responsible for the subject, or null when none is allocated. */
  ownerId: string | null;
  /** The child's date of birth (for a placement, its child's), which gives cycles their ageYears. */
  dateOfBirth: string | null;
}

/**
 * Who owns a subject's tasks and the child's date of birth, read straight from the tables of the
 * modules that own them (children, placements, carer_households). This is a read-only, tenant-filtered
 * look-up of two or three columns: those modules have no service for it yet (placements and carer
 * households no model either), and the tasks module must not write their tables. RLS filters these reads as well.
 */
export async function subjectFacts(
  trx: Knex.Transaction,
  tenantId: string,
  subjectType: CaseEventSubject,
  subjectId: string,
): Promise<SubjectFacts> {
  if (subjectType === 'child') {
    const row = await Child.query(trx)
      .where({ tenant_id: tenantId, id: subjectId })
      .select('allocated_worker_id', 'date_of_birth')
      .first();
    return { ownerId: row?.allocatedWorkerId ?? null, dateOfBirth: row?.dateOfBirth ?? null };
  }
  if (subjectType === 'placement') {
    // placements(tenant_id, id, child_id, household_id, ...) is the placements module's table.
    const row = (await trx('placements as p')
      .join('children as c', function joinChild() {
        this.on('c.tenant_id', '=', 'p.tenant_id').andOn('c.id', '=', 'p.child_id');
      })
      .where({ 'p.tenant_id': tenantId, 'p.id': subjectId })
      .first('c.allocated_worker_id', 'c.date_of_birth')) as
      { allocated_worker_id: string | null; date_of_birth: string } | undefined;
    return { ownerId: row?.allocated_worker_id ?? null, dateOfBirth: row?.date_of_birth ?? null };
  }
  // carer_households(tenant_id, id, supervising_worker_id, ...) is the carers module's table.
  const row = (await trx('carer_households')
    .where({ tenant_id: tenantId, id: subjectId })
    .first('supervising_worker_id')) as { supervising_worker_id: string | null } | undefined;
  return { ownerId: row?.supervising_worker_id ?? null, dateOfBirth: null };
}
