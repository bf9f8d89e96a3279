import type { FindScope } from '../../db/find';
import { CHILD_RECORD_MODELS } from './models';

/**
 * A duplicate child merged into its survivor: every row kept on the duplicate (deleted ones too)
 * moves to the survivor in the merge's transaction, with its id, version and dates unchanged, so
 * its own audit trail still reads from start to end. Returns how many rows of each table moved.
 */
export async function moveCaseRecords(
  scope: FindScope,
  fromChildId: string,
  toChildId: string,
): Promise<Record<string, number>> {
  const moved: Record<string, number> = {};
  for (const model of CHILD_RECORD_MODELS) {
    moved[model.tableName] = await model
      .query(scope.trx)
      .where({ tenant_id: scope.tenantId, child_id: fromChildId })
      .patch({ childId: toChildId });
  }
  return moved;
}
