import { AUDIT_CHECKPOINT_JOB, auditCheckpointJob } from '../modules/audit/checkpointJob';
import { RETENTION_DUE_JOB, retentionDueJob } from '../modules/documents/retentionDaily';
import { retentionDestructionJob } from '../modules/documents/retentionDestruction';
import { RETENTION_DESTRUCTION_JOB } from '../modules/documents/retentionService';
import { PAYMENT_RUN_CALCULATION_JOB, paymentRunCalculationJob } from '../modules/payments/calculation/job';
import { TASK_REMINDERS_JOB, taskRemindersJob } from '../modules/tasks/reminders';
import type { JobHandlers } from './worker';

/** Every kind of job the platform runs, by kind. A module with long work adds its handler here. */
export function jobHandlers(): JobHandlers {
  return {
    [TASK_REMINDERS_JOB]: taskRemindersJob,
    [PAYMENT_RUN_CALCULATION_JOB]: paymentRunCalculationJob,
    [AUDIT_CHECKPOINT_JOB]: auditCheckpointJob,
    [RETENTION_DUE_JOB]: retentionDueJob,
    [RETENTION_DESTRUCTION_JOB]: retentionDestructionJob,
  };
}
