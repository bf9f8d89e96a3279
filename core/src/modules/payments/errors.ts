import { Problem } from '../../http/problem';

/**
 * A refusal the payments services give that is the tenant's to put right (no active pay schedule, a
 * payment-run workflow that lacks a step): the services say why; a handler answers it as a 422.
 */
export class PaymentsSetupError extends Error {}

/** Runs a service's work, answering its refusals as the problems the contract promises. */
export async function answering<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof PaymentsSetupError) throw new Problem('unprocessable', error.message);
    throw error;
  }
}
