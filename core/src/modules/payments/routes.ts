import type { OperationMap } from '../../http/operation';
import { adjustmentOperations } from './adjustmentRoutes';
import { documentOperations } from './documentRoutes';
import { levelOfCareOperations } from './levelOfCareRoutes';
import { reportOperations } from './reportRoutes';
import { runLineOperations } from './runLineRoutes';
import { runOperations } from './runRoutes';
import { scheduleOperations } from './scheduleRoutes';

/** The payments module's operations, by operationId (see openapi/modules/payments.yaml). */
export const paymentOperations: OperationMap = {
  ...scheduleOperations,
  ...runOperations,
  ...runLineOperations,
  ...adjustmentOperations,
  ...levelOfCareOperations,
  ...reportOperations,
  ...documentOperations,
};
