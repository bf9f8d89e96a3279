import type { OperationMap } from '../../http/operation';

/** The tasks module's operations, by operationId (see openapi/modules/tasks.yaml). */
export const taskOperations: OperationMap = {};
