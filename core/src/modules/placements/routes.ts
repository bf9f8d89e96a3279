import type { OperationMap } from '../../http/operation';
import { contactSessionOperations } from './contactSessionRoutes';
import { lifecycleOperations } from './lifecycleRoutes';
import { matchingOperations } from './matchingRoutes';
import { placementRecordOperations } from './placementRoutes';
import { settingsOperations } from './settingsRoutes';
import { visitOperations } from './visitRoutes';

/** The placements module's operations, one file per resource. */
export const placementOperations: OperationMap = {
  ...settingsOperations,
  ...matchingOperations,
  ...placementRecordOperations,
  ...lifecycleOperations,
  ...visitOperations,
  ...contactSessionOperations,
};
