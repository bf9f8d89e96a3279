import { defineOperations } from '../../http/operation';
import { getCarerApproval, takeCarerApprovalTransition } from './approval';
import {
  getCarerHouseholdCompliance,
  listCarerChecks,
  listExpiringCarerChecks,
  recordCarerCheck,
  updateCarerCheck,
} from './checks';
import { recordCarerDecision, recordCarerEvidenceDocument, submitCarerHouseholdForm } from './evidence';
import {
  addCarerHouseholdMember,
  createCarerHousehold,
  getCarerHousehold,
  listCarerHouseholdMembers,
  listCarerHouseholds,
  updateCarerHousehold,
  updateCarerHouseholdMember,
} from './households';
import { listCarerHouseholdRegions, recordCarerHouseholdRegion } from './regions';
import {
  addCarerPanelAgendaItem,
  getCarerPanel,
  listCarerPanels,
  recordCarerPanelRecommendation,
  scheduleCarerPanel,
} from './panels';

/**
 * The carers module's operations, by operationId (see openapi/modules/carers.yaml). Approval steps
 * are reached with carers:read; each step's own permission (from the workflow) is then judged.
 */
export const carerOperations = defineOperations({
  listCarerHouseholds: { access: { permission: 'carers:read' }, handle: listCarerHouseholds },
  createCarerHousehold: { access: { permission: 'carers:create' }, handle: createCarerHousehold },
  getCarerHousehold: { access: { permission: 'carers:read' }, handle: getCarerHousehold },
  updateCarerHousehold: { access: { permission: 'carers:update' }, handle: updateCarerHousehold },
  listCarerHouseholdMembers: { access: { permission: 'carers:read' }, handle: listCarerHouseholdMembers },
  addCarerHouseholdMember: { access: { permission: 'carers:update' }, handle: addCarerHouseholdMember },
  updateCarerHouseholdMember: { access: { permission: 'carers:update' }, handle: updateCarerHouseholdMember },
  listCarerHouseholdRegions: { access: { permission: 'carers:read' }, handle: listCarerHouseholdRegions },
  recordCarerHouseholdRegion: { access: { permission: 'carers:update' }, handle: recordCarerHouseholdRegion },
  listCarerChecks: { access: { permission: 'carers:read' }, handle: listCarerChecks },
  recordCarerCheck: { access: { permission: 'carers:assess' }, handle: recordCarerCheck },
  updateCarerCheck: { access: { permission: 'carers:assess' }, handle: updateCarerCheck },
  listExpiringCarerChecks: { access: { permission: 'carers:read' }, handle: listExpiringCarerChecks },
  getCarerHouseholdCompliance: { access: { permission: 'carers:read' }, handle: getCarerHouseholdCompliance },
  recordCarerEvidenceDocument: { access: { permission: 'carers:assess' }, handle: recordCarerEvidenceDocument },
  recordCarerDecision: { access: { permission: 'carers:assess' }, handle: recordCarerDecision },
  submitCarerHouseholdForm: { access: { permission: 'carers:assess' }, handle: submitCarerHouseholdForm },
  getCarerApproval: { access: { permission: 'carers:read' }, handle: getCarerApproval },
  takeCarerApprovalTransition: { access: { permission: 'carers:read' }, handle: takeCarerApprovalTransition },
  listCarerPanels: { access: { permission: 'carers:read' }, handle: listCarerPanels },
  scheduleCarerPanel: { access: { permission: 'panel:manage' }, handle: scheduleCarerPanel },
  getCarerPanel: { access: { permission: 'carers:read' }, handle: getCarerPanel },
  addCarerPanelAgendaItem: { access: { permission: 'panel:manage' }, handle: addCarerPanelAgendaItem },
  recordCarerPanelRecommendation: { access: { permission: 'panel:recommend' }, handle: recordCarerPanelRecommendation },
});
