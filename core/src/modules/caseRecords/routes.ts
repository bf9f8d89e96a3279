import type { OperationMap } from '../../http/operation';
import { careEpisodeSpec } from './episodes';
import { alertSpec, familyMemberSpec, keyContactSpec, legalStatusSpec } from './families';
import { occasionSpec } from './occasions';
import { caseRecordSpec } from './records';
import { subRecordOperations, type SubRecordSpec } from './subRecords';

const PERMISSIONS = { read: 'children:read', write: 'children:update', remove: 'children:delete' } as const;

/** One route family per table: list, create, read, change (If-Match), soft-delete and restore. */
function family(singular: string, plural: string, spec: SubRecordSpec): OperationMap {
  const ops = subRecordOperations(spec, PERMISSIONS);
  return {
    [`listChild${plural}`]: ops.list,
    [`createChild${singular}`]: ops.create,
    [`getChild${singular}`]: ops.get,
    [`updateChild${singular}`]: ops.update,
    [`deleteChild${singular}`]: ops.remove,
    [`restoreChild${singular}`]: ops.restore,
  };
}

/** The caseRecords module's operations, by operationId (see openapi/modules/caseRecords.yaml). */
export const caseRecordOperations: OperationMap = {
  ...family('LegalStatus', 'LegalStatuses', legalStatusSpec),
  ...family('CareEpisode', 'CareEpisodes', careEpisodeSpec),
  ...family('Alert', 'Alerts', alertSpec),
  ...family('FamilyMember', 'FamilyMembers', familyMemberSpec),
  ...family('KeyContact', 'KeyContacts', keyContactSpec),
  ...family('CaseRecord', 'CaseRecords', caseRecordSpec),
  ...family('Occasion', 'Occasions', occasionSpec),
};
