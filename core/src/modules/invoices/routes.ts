import type { OperationMap } from '../../http/operation';
import { commissionerOperations } from './commissionerRoutes';
import { creditNoteOperations } from './creditNoteRoutes';
import { invoiceDocumentOperations } from './documentRoutes';
import { invoiceLifecycleOperations } from './invoiceRoutes';

/** The invoices module's operations, by operationId (see openapi/modules/invoices.yaml). */
export const invoiceOperations: OperationMap = {
  ...commissionerOperations,
  ...invoiceLifecycleOperations,
  ...creditNoteOperations,
  ...invoiceDocumentOperations,
};
