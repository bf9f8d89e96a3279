import { defineOperations } from '../../http/operation';
import { careEpisodeSpec } from './episodes';
import { alertSpec, familyMemberSpec, keyContactSpec, legalStatusSpec } from './families';
import { occasionSpec } from './occasions';
import { caseRecordSpec } from './records';
import { subRecordOperations } from './subRecords';

const PERMISSIONS = { read: 'children:read', write: 'children:update', remove: 'children:delete' } as const;

/**
 * The caseRecords module's operations, by operationId (see openapi/modules/caseRecords.yaml): one
 * route family per table (list, create, read, change with If-Match, soft-delete and restore).
 */
export const caseRecordOperations = defineOperations({
  ...subRecordOperations({ singular: 'LegalStatus', plural: 'LegalStatuses' }, legalStatusSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'CareEpisode', plural: 'CareEpisodes' }, careEpisodeSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'Alert', plural: 'Alerts' }, alertSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'FamilyMember', plural: 'FamilyMembers' }, familyMemberSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'KeyContact', plural: 'KeyContacts' }, keyContactSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'CaseRecord', plural: 'CaseRecords' }, caseRecordSpec, PERMISSIONS),
  ...subRecordOperations({ singular: 'Occasion', plural: 'Occasions' }, occasionSpec, PERMISSIONS),
});
