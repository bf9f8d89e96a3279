import type { OperationMap } from '../../http/operation';

/** The placements module's operations, by operationId (see openapi/modules/placements.yaml). */
export const placementOperations: OperationMap = {};
