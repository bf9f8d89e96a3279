import type { OperationResult, TenantContext } from '../../http/operation';
import { defineOperations } from '../../http/operation';
import { ok } from '../../http/results';
import { portalClaimOperations } from './claims';
import { dailyLogOperations } from './dailyLogs';
import { portalDisputeOperations } from './disputes';
import { portalExpectedOperations } from './expected';
import { portalDocumentOperations } from './documents';
import { portalFormOperations } from './forms';
import { householdTaskOperations } from './tasks';
import { householdOperations } from './household';
import { loginOperations } from './logins';
import { moneyOperations } from './money';
import { placementOperations } from './placements';
import { carerOf, portalSettings } from './settings';
import { portalStatementOperations } from './statements';

async function getPortalOverview(ctx: TenantContext<'getPortalOverview'>): Promise<OperationResult> {
  const carer = carerOf(ctx);
  const settings = await portalSettings(ctx);
  return ok({
    householdId: carer.householdId,
    memberId: carer.memberId,
    displayName: carer.displayName,
    features: settings.features,
    childFields: settings.childFields,
    outOfHoursPhone: settings.outOfHoursPhone,
    terms: settings.terms,
  });
}

/** The carer portal: carers' operations (fenced to their household) and the staff operations beside them. */
export const portalOperations = defineOperations({
  getPortalOverview: { access: { carer: true }, handle: getPortalOverview },
  ...householdOperations,
  ...placementOperations,
  ...dailyLogOperations,
  ...moneyOperations,
  ...portalExpectedOperations,
  ...portalStatementOperations,
  ...portalClaimOperations,
  ...portalDisputeOperations,
  ...loginOperations,
  ...householdTaskOperations,
  ...portalFormOperations,
  ...portalDocumentOperations,
});
