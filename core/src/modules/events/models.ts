import { TenantModel } from '../../db/baseModel';

/** A published domain event (append-only: written with its audit event, never changed). */
export class DomainEvent extends TenantModel {
  static override tableName = 'events';
  static noun = 'event';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  /** The audit event's position in the tenant's chain: the feed's order. */
  seq!: number | string;
  type!: string;
  occurredAt!: Date;
  subjectType!: string;
  subjectId!: string | null;
  subjectPath!: string | null;
  fenceType!: 'child' | 'placement' | null;
  fenceId!: string | null;
  data!: Record<string, string | number | boolean | null>;
}

/** An event as receivers get it, in the feed and in a webhook's body alike. */
export function eventToApi(row: DomainEvent) {
  return {
    id: row.id,
    type: row.type,
    occurredAt: new Date(row.occurredAt).toISOString(),
    tenantId: row.tenantId,
    subject: { type: row.subjectType, id: row.subjectId, path: row.subjectPath },
    data: row.data ?? {},
  };
}
