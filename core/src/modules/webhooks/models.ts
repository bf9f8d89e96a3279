import { TenantModel } from '../../db/baseModel';

export class WebhookEndpoint extends TenantModel {
  static override tableName = 'webhook_endpoints';
  static noun = 'webhook endpoint';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  url!: string;
  description!: string | null;
  eventTypes!: string[];
  enabled!: boolean;
  disabledReason!: string | null;
  disabledAt!: Date | null;
  failingSince!: Date | null;
  /** The signing secret, sealed with the data key (core/src/crypto/secretBox.ts). */
  secretSealed!: string;
  previousSecretSealed!: string | null;
  previousSecretExpiresAt!: Date | null;
  createdBy!: string | null;
  version!: number;
  createdAt!: Date;
  updatedAt!: Date;
  deletedAt!: Date | null;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'withheld';

export class WebhookDelivery extends TenantModel {
  static override tableName = 'webhook_deliveries';
  static noun = 'webhook delivery';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  endpointId!: string;
  eventId!: string;
  status!: WebhookDeliveryStatus;
  /** Attempts recorded so far; the next is number attempts + 1. */
  attempts!: number;
  nextAttemptAt!: Date | null;
  lastAttemptAt!: Date | null;
  lastResponseCode!: number | null;
  lastError!: string | null;
  createdAt!: Date;
  updatedAt!: Date;
}

export class WebhookAttempt extends TenantModel {
  static override tableName = 'webhook_attempts';
  static noun = 'webhook attempt';
  static override idColumn = ['tenant_id', 'id'];

  id!: string;
  deliveryId!: string;
  attempt!: number;
  trigger!: 'automatic' | 'replay';
  startedAt!: Date;
  durationMs!: number;
  outcome!: 'succeeded' | 'failed';
  responseCode!: number | null;
  error!: string | null;
}
