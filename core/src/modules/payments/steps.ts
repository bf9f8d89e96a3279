import type { Knex } from 'knex';
import { newId } from '../../ids';
import { iso } from '../../time';

export interface StepInput {
  runId: string;
  action: string;
  from: string | null;
  to: string;
  actorType: 'user' | 'api_key' | 'system';
  actorId: string | null;
  notes: string | null;
  detail?: unknown;
}

interface StepRow {
  action: string;
  from_status: string | null;
  to_status: string;
  actor_type: string;
  actor_id: string | null;
  at: Date;
  notes: string | null;
}

/** A run's history: who moved it from which status to which, when and why (append-only). */
export async function recordStep(trx: Knex.Transaction, tenantId: string, step: StepInput): Promise<void> {
  await trx('payment_run_steps').insert({
    tenant_id: tenantId,
    id: newId(),
    run_id: step.runId,
    action: step.action,
    from_status: step.from,
    to_status: step.to,
    actor_type: step.actorType,
    actor_id: step.actorId,
    notes: step.notes,
    detail: step.detail === undefined ? null : JSON.stringify(step.detail),
  });
}

export async function runHistory(trx: Knex.Transaction, tenantId: string, runId: string) {
  const rows = (await trx('payment_run_steps').where({ tenant_id: tenantId, run_id: runId }).orderBy([{ column: 'at' }, { column: 'id' }])) as StepRow[];
  return rows.map((r) => ({ action: r.action, fromStatus: r.from_status, toStatus: r.to_status, actorType: r.actor_type, actorId: r.actor_id, at: iso(r.at), notes: r.notes }));
}
