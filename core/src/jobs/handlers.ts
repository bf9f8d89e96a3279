import { AUDIT_CHECKPOINT_JOB, auditCheckpointJob } from '../modules/audit/checkpointJob';
import { PAYMENT_RUN_CALCULATION_JOB, paymentRunCalculationJob } from '../modules/payments/calculation/job';
import { TASK_REMINDERS_JOB, taskRemindersJob } from '../modules/tasks/reminders';
import { NOTIFICATION_DELIVERY_JOB } from '../modules/notifications/outbox';
import { deliverNotificationJob } from '../modules/notifications/delivery';
import type { JobHandlers } from './worker';

/** Every kind of job the platform runs, by kind. A module with long work adds its handler here. */
export function jobHandlers(): JobHandlers {
  return {
    [TASK_REMINDERS_JOB]: taskRemindersJob,
    [PAYMENT_RUN_CALCULATION_JOB]: paymentRunCalculationJob,
    [AUDIT_CHECKPOINT_JOB]: auditCheckpointJob,
    [NOTIFICATION_DELIVERY_JOB]: deliverNotificationJob,
  };
}
