import type { Knex } from 'knex';
import type { AuditEventInput } from '../audit/service';
import { WEBHOOK_DELIVERY_JOB, webhookSettings } from '../webhooks/settings';
import { publicEventFor } from './vocabulary';

/**
 * A child or placement an endpoint may not hear of: a restricted child, for no endpoint is a person
 * named on a restriction (an endpoint is like an API key). `e` is the event row's alias.
 */
export const HIDDEN_FROM_ENDPOINTS = `EXISTS (
  SELECT 1 FROM children h
   WHERE h.tenant_id = e.tenant_id AND h.restricted
     AND ((e.fence_type = 'child' AND h.id = e.fence_id)
       OR (e.fence_type = 'placement' AND h.id = (SELECT p.child_id FROM placements p WHERE p.tenant_id = e.tenant_id AND p.id = e.fence_id))))`;

/**
 * Publishes the public event for an audited write, in the write's transaction, and fans it out to
 * the tenant's enabled endpoints that subscribe to its type: a delivery each, and its first attempt
 * as a job. One statement, so a write whose tenant has no endpoints pays one insert; whatever rolls
 * the write back takes its event, deliveries and jobs with it, and nothing is sent of a write that
 * did not happen.
 */
export async function publishEvent(
  trx: Knex.Transaction,
  tenantId: string,
  audited: { id: string; seq: number; occurredAt: string },
  event: AuditEventInput,
): Promise<void> {
  const published = publicEventFor(event);
  if (!published) return;
  await trx.raw(
    `WITH e AS (
       INSERT INTO events (tenant_id, id, seq, type, occurred_at, subject_type, subject_id, subject_path, fence_type, fence_id, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb)
       RETURNING tenant_id, id, type, fence_type, fence_id
     ), d AS (
       INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, next_attempt_at)
       SELECT e.tenant_id, hearth_uuid_v7(), w.id, e.id, now()
         FROM e JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id
        WHERE w.enabled AND w.deleted_at IS NULL
          AND (e.type = ANY(w.event_types) OR '*' = ANY(w.event_types))
          AND NOT ${HIDDEN_FROM_ENDPOINTS}
       RETURNING tenant_id, id
     )
     INSERT INTO jobs (tenant_id, id, kind, unique_key, payload, max_attempts)
     SELECT d.tenant_id, hearth_uuid_v7(), ?, d.id::text || ':1', jsonb_build_object('deliveryId', d.id, 'attempt', 1), ?
       FROM d`,
    [
      tenantId,
      audited.id,
      audited.seq,
      published.type,
      audited.occurredAt,
      published.subject.type,
      published.subject.id,
      published.subject.path,
      published.fence?.type ?? null,
      published.fence?.id ?? null,
      JSON.stringify(published.data),
      WEBHOOK_DELIVERY_JOB,
      webhookSettings().jobAttempts,
    ],
  );
}
