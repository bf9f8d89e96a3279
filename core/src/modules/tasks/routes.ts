import { taskOnlyOperations } from './taskRoutes';
import { teamOperations } from './teamRoutes';

/** The tasks module's operations, by operationId (see openapi/modules/tasks.yaml). */
export const taskOperations = { ...taskOnlyOperations, ...teamOperations };
