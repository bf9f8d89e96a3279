import { keysetPage } from '../../db/keyset';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { decodeCursor, encodeCursor } from '../../http/pagination';
import { Problem } from '../../http/problem';
import { ok } from '../../http/results';
import { subjectVisible } from '../children/visibility';
import { DomainEvent, eventToApi } from './models';

/** The `after` cursor, or a 400 naming it (the pager's own message names `cursor`). */
function afterSeq(after: string | undefined): string | undefined {
  if (after === undefined) return undefined;
  try {
    decodeCursor(after, 1);
  } catch {
    throw Problem.validation([{ pointer: '/query/after', message: 'is not a cursor this feed issued' }]);
  }
  return after;
}

/**
 * The feed: the tenant's events after the cursor, in chain order, less those about children the
 * caller cannot see. Every page has a cursor, an empty last page the one it was asked with, so a
 * receiver polls with what it last got and never misses an event committed meanwhile (events commit
 * in `seq` order: the chain's head is locked until commit).
 */
async function listEvents(ctx: TenantContext<'listEvents'>): Promise<OperationResult> {
  const cursor = afterSeq(ctx.query.after);
  const query = DomainEvent.query(ctx.trx)
    .alias('e')
    .where('e.tenant_id', ctx.tenantId)
    .where(subjectVisible(ctx, 'e.fence_type', 'e.fence_id'))
    .select('e.*');
  if (ctx.query.types) query.whereIn('e.type', ctx.query.types.split(','));
  const page = await keysetPage(
    query,
    { limit: ctx.query.limit, cursor },
    [{ column: 'e.seq', of: (r) => Number(r.seq) }],
    eventToApi,
  );
  const last = page.rows[page.rows.length - 1];
  return ok({
    data: page.data,
    cursor: last ? encodeCursor([Number(last.seq)]) : (cursor ?? null),
    hasMore: page.nextCursor !== null,
  });
}

export const eventOperations = defineOperations({
  listEvents: { access: { permission: 'events:read' }, handle: listEvents },
});
