import type { OperationMap } from '../../http/operation';
import { mfaOperations } from './mfaRoutes';
import { passwordOperations } from './passwordRoutes';
import { sessionOperations } from './sessionRoutes';

/** The auth module's operations, by operationId: sessions (log-in, refresh, log-out, who am I), passwords, MFA. */
export const authOperations: OperationMap = { ...sessionOperations, ...passwordOperations, ...mfaOperations };
