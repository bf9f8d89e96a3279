import type { TenantScope } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import type { RateRules } from '../../packs/types';
import { EXTRAS_KEY } from '../../rates/engine';
import { tenantConfiguration } from '../configuration/tenantConfiguration';
import { throwIf } from './families';
import { ChildOccasion } from './models';
import type { Change, SubRecordSpec } from './subRecords';

/** How many occasions of a kind the tenant's pack lets one child have in a calendar year, when it says. */
async function perYear(ctx: TenantScope, kind: string): Promise<number | null> {
  const { pack } = await tenantConfiguration(ctx.trx, ctx.tenantId, ctx.services.packs);
  const extras = pack?.points.rates.get(EXTRAS_KEY)?.value as RateRules | undefined;
  return extras?.kind === 'rules' ? (extras.occasions?.find((o) => o.kind === kind)?.perYear ?? null) : null;
}

/**
 * What keeps a payment run from paying an occasion twice or more often than the pack allows: no
 * other live occasion of its kind on its day, and no more of its kind in its calendar year than the
 * pack's number. Checked under the child's row lock, which every write of these rows holds.
 */
async function occasionErrors(
  ctx: TenantScope,
  change: Change<ChildOccasion>,
  pointer: (field: string) => string,
): Promise<FieldError[]> {
  const row = change.after;
  const { kind, occasionDate: date } = row;
  const errors: FieldError[] = [];
  if (date < change.child.dateOfBirth)
    errors.push({
      pointer: pointer('date'),
      message: `is before the child's date of birth (${change.child.dateOfBirth})`,
    });
  const others = await ChildOccasion.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, child_id: row.childId, kind })
    .whereNull('deleted_at')
    .whereNot('id', row.id)
    .whereRaw('extract(year FROM occasion_date) = ?', [Number(date.slice(0, 4))])
    .orderBy(['occasion_date', 'id'])
    .select('id', 'occasion_date');
  const sameDay = others.find((o) => o.occasionDate === date);
  if (sameDay)
    errors.push({
      pointer: pointer('date'),
      message: `the child already has a ${kind} on this day (occasion ${sameDay.id})`,
    });
  const allowed = await perYear(ctx, kind);
  if (!sameDay && allowed !== null && others.length >= allowed) {
    errors.push({
      pointer: pointer('date'),
      message: `the child already has ${others.length} ${kind} occasion${others.length === 1 ? '' : 's'} in ${date.slice(0, 4)} (${others.map((o) => o.occasionDate).join(', ')}); the tenant's pack pays ${allowed} a year: change or delete one of those instead`,
    });
  }
  return errors;
}

/**
 * A child's occasions: the festival the child observes and the first days of recognised holiday
 * weeks, on dates, for the pack's extras (birthdays come from the date of birth). A payment run
 * reads them for the nights it prices; a change to one already paid is corrected in the next run.
 */
export const occasionSpec: SubRecordSpec<ChildOccasion, 'Occasion', 'Occasions'> = {
  model: ChildOccasion,
  entityType: 'child_occasion',
  path: 'occasions',
  idParam: 'occasionId',
  fields: { kind: 'kind', date: 'occasionDate', name: 'name', notes: 'notes' },
  sortBy: 'occasionDate',
  rangeBy: 'occasionDate',
  filter(query, q) {
    if (q.kind) query.where('kind', q.kind);
  },
  async check(ctx, change) {
    throwIf(await occasionErrors(ctx, change, (field) => `/body/${field}`));
  },
  async restoring(ctx, change) {
    const errors = await occasionErrors(ctx, change, () => `/path/occasionId`);
    if (errors.length)
      throw new Problem('unprocessable', `The occasion cannot come back: ${errors.map((e) => e.message).join('; ')}`, {
        errors,
      });
  },
};
