import type { OperationMap } from '../../http/operation';

/** The caseRecords module's operations, by operationId (see openapi/modules/caseRecords.yaml). */
export const caseRecordOperations: OperationMap = {};
