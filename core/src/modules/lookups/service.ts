import type { Knex } from 'knex';
import type { FieldError } from '../../http/problem';
import { LookupValue } from './models';

/** Checks that each given code is an active value of the tenant's list; returns the field errors. */
export async function lookupCodeErrors(
  trx: Knex.Transaction,
  tenantId: string,
  checks: Array<{ list: string; code: string | null | undefined; pointer: string }>,
): Promise<FieldError[]> {
  const wanted = checks.filter((c): c is { list: string; code: string; pointer: string } => typeof c.code === 'string');
  if (!wanted.length) return [];
  const rows = await LookupValue.query(trx)
    .where({ tenant_id: tenantId, active: true })
    .whereIn(
      ['list_key', 'code'],
      wanted.map((c) => [c.list, c.code]),
    )
    .select('list_key', 'code');
  const found = new Set(rows.map((r) => `${r.listKey}\u0000${r.code}`));
  return wanted
    .filter((c) => !found.has(`${c.list}\u0000${c.code}`))
    .map((c) => ({ pointer: c.pointer, message: `is not an active code of the "${c.list}" list` }));
}
