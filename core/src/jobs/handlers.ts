import { AUDIT_CHECKPOINT_JOB, auditCheckpointJob } from '../modules/audit/checkpointJob';
import { evidencePackJob } from '../modules/documents/evidencePackJob';
import { EVIDENCE_PACK_JOB } from '../modules/documents/evidencePacks';
import { RETENTION_DUE_JOB, retentionDueJob } from '../modules/documents/retentionDaily';
import { retentionDestructionJob } from '../modules/documents/retentionDestruction';
import { RETENTION_DESTRUCTION_JOB } from '../modules/documents/retentionService';
import { PAYMENT_RUN_CALCULATION_JOB, paymentRunCalculationJob } from '../modules/payments/calculation/job';
import { TASK_REMINDERS_JOB, taskRemindersJob } from '../modules/tasks/reminders';
import { DOCUMENT_EXPIRY_JOB, documentExpiryJob } from '../modules/documents/expiry';
import { CHECK_EXPIRY_JOB, checkExpiryJob } from '../modules/carers/checkExpiry';
import { webhookDeliveryJob } from '../modules/webhooks/delivery';
import { WEBHOOK_DELIVERY_JOB } from '../modules/webhooks/settings';
import { NOTIFICATION_DELIVERY_JOB } from '../modules/notifications/outbox';
import { deliverNotificationJob } from '../modules/notifications/delivery';
import type { JobHandlers } from './worker';

/** Every kind of job the platform runs, by kind. A module with long work adds its handler here. */
export function jobHandlers(): JobHandlers {
  return {
    [TASK_REMINDERS_JOB]: taskRemindersJob,
    [PAYMENT_RUN_CALCULATION_JOB]: paymentRunCalculationJob,
    [AUDIT_CHECKPOINT_JOB]: auditCheckpointJob,
    [DOCUMENT_EXPIRY_JOB]: documentExpiryJob,
    [WEBHOOK_DELIVERY_JOB]: webhookDeliveryJob,
    [EVIDENCE_PACK_JOB]: evidencePackJob,
    [RETENTION_DUE_JOB]: retentionDueJob,
    [RETENTION_DESTRUCTION_JOB]: retentionDestructionJob,
    [NOTIFICATION_DELIVERY_JOB]: deliverNotificationJob,
    [CHECK_EXPIRY_JOB]: checkExpiryJob,
  };
}
