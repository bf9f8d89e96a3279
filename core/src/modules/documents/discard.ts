import type { Knex } from 'knex';
import type { AppServices } from '../../http/operation';
import { documentStore } from './openStore';

/**
 * Bytes reach the store before the row that names them commits, so a transaction that then fails (a
 * refused row, an audit append that fails, a COMMIT the database refuses) would leave an object no
 * row points at. This removes the object once the outermost transaction around `trx` has rolled
 * back; a savepoint's own outcome says nothing, since the transaction around it may still fail.
 *
 * A COMMIT whose outcome the client never learned (the connection lost mid-COMMIT) counts as failed
 * here too: the rare row left naming a removed object then answers as a missing object, which is
 * safer than bytes kept without any record of whose they are.
 */
export function discardUnlessCommitted(trx: Knex.Transaction, services: AppServices, key: string): void {
  let outermost = trx;
  while (outermost.parentTransaction) outermost = outermost.parentTransaction;
  outermost.executionPromise.then(
    () => undefined,
    () =>
      documentStore(services)
        .delete(key)
        .catch(() => undefined),
  );
}
