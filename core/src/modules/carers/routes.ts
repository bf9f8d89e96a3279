import type { OperationMap } from '../../http/operation';

/** The carers module's operations, by operationId (see openapi/modules/carers.yaml). */
export const carerOperations: OperationMap = {};
