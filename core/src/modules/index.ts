import type { OperationMap } from '../http/operation';
import { apiKeyOperations } from './apiKeys/routes';
import { auditOperations } from './audit/routes';
import { authOperations } from './auth/routes';
import { carerOperations } from './carers/routes';
import { caseRecordOperations } from './caseRecords/routes';
import { childOperations } from './children/routes';
import { claimOperations } from './claims/routes';
import { configurationOperations } from './configuration/routes';
import { documentOperations } from './documents/routes';
import { eventOperations } from './events/routes';
import { documentGenerationOperations } from './documents/generateRoutes';
import { evidencePackOperations } from './documents/evidencePackRoutes';
import { retentionOperations } from './documents/retentionRoutes';
import { invoiceOperations } from './invoices/routes';
import { ledgerOperations } from './ledger/routes';
import { lookupOperations } from './lookups/routes';
import { notificationOperations } from './notifications/routes';
import { paymentOperations } from './payments/routes';
import { placementOperations } from './placements/routes';
import { portalOperations } from './portal/routes';
import { roleOperations } from './roles/routes';
import { taskOperations } from './tasks/routes';
import { tenantOperations } from './tenants/routes';
import { userOperations } from './users/routes';
import { webhookOperations } from './webhooks/routes';

const modules: OperationMap[] = [
  authOperations,
  tenantOperations,
  userOperations,
  roleOperations,
  apiKeyOperations,
  lookupOperations,
  auditOperations,
  childOperations,
  configurationOperations,
  caseRecordOperations,
  carerOperations,
  placementOperations,
  portalOperations,
  taskOperations,
  ledgerOperations,
  claimOperations,
  paymentOperations,
  invoiceOperations,
  documentOperations,
  eventOperations,
  webhookOperations,
  documentGenerationOperations,
  evidencePackOperations,
  retentionOperations,
  notificationOperations,
];

/** Every operation handler, by operationId; a name declared twice is a start-up error. */
export function allOperations(): OperationMap {
  const merged: OperationMap = {};
  for (const map of modules) {
    for (const [id, definition] of Object.entries(map)) {
      if (merged[id]) throw new Error(`Operation ${id} has two handlers`);
      merged[id] = definition;
    }
  }
  return merged;
}
