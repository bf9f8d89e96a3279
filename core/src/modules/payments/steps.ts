import type { Knex } from 'knex';
import { newId } from '../../ids';
import { iso } from '../../time';
import { PaymentRunStep } from './models';

export interface StepInput {
  runId: string;
  action: string;
  from: string | null;
  to: string;
  actorType: PaymentRunStep['actorType'];
  actorId: string | null;
  notes: string | null;
  detail?: unknown;
}

/** A run's history: who moved it from which status to which, when and why (append-only). */
export async function recordStep(trx: Knex.Transaction, tenantId: string, step: StepInput): Promise<void> {
  await PaymentRunStep.query(trx).insert({
    tenantId,
    id: newId(),
    runId: step.runId,
    action: step.action,
    fromStatus: step.from,
    toStatus: step.to,
    actorType: step.actorType,
    actorId: step.actorId,
    notes: step.notes,
    detail: step.detail === undefined ? null : step.detail,
  });
}

export async function runHistory(trx: Knex.Transaction, tenantId: string, runId: string) {
  const rows = await PaymentRunStep.query(trx)
    .where({ tenant_id: tenantId, run_id: runId })
    .orderBy([{ column: 'at' }, { column: 'id' }]);
  return rows.map((r) => ({
    action: r.action,
    fromStatus: r.fromStatus,
    toStatus: r.toStatus,
    actorType: r.actorType,
    actorId: r.actorId,
    at: iso(r.at),
    notes: r.notes,
  }));
}
