import {
  placementSegments,
  RateConfigurationError,
  type PlacementForRates,
  type RateBook,
  type RateSegment,
} from '../../../rates/engine';
import type { PricedPlacement } from './facts';
import { NO_LINKS, type CalculationIssue, type DraftLine } from './lines';

export interface PricingResult {
  lines: DraftLine[];
  issues: CalculationIssue[];
}

/** The placement's facts as they were on a night: its own, then each dated change in effect by then. */
function factsOn(
  p: PricedPlacement,
  night: string,
): Pick<PlacementForRates, 'placementType' | 'region' | 'carerLevel'> {
  const facts = {
    placementType: p.rates.placementType ?? null,
    region: p.rates.region ?? null,
    carerLevel: p.rates.carerLevel ?? null,
  };
  for (const change of p.rates.changes ?? []) {
    if (change.from > night) break;
    for (const name of ['placementType', 'region', 'carerLevel'] as const)
      if (change[name] !== undefined) facts[name] = change[name];
  }
  return facts;
}

/** What the placement's facts were on the first night of the period it was in care. */
function describeFacts(p: PricedPlacement, period: { from: string }): string {
  const r = factsOn(p, p.rates.startDate > period.from ? p.rates.startDate : period.from);
  return [
    `placement type ${r.placementType ?? 'not set'}`,
    `region ${r.region ?? 'not set'}`,
    `carer level ${r.carerLevel ?? 'not set'}`,
    ...(p.rates.respite ? ['respite'] : []),
  ].join(', ');
}

/** A segment as a run line: a night-by-night component (rate) or a once-a-period extra. */
export function segmentLine(p: PricedPlacement, segment: RateSegment): DraftLine {
  const extra = segment.nights === 0;
  return {
    householdId: p.householdId,
    placementId: p.placementId,
    childId: p.childId,
    kind: extra ? 'extra' : 'rate',
    component: segment.component,
    periodStart: segment.from,
    periodEnd: segment.to,
    nights: extra ? null : segment.nights,
    amount: segment.amount,
    explanation: segment.explanation,
    ...NO_LINKS,
    description: extra
      ? `${segment.component.replace(/_/g, ' ')} on ${segment.from}`
      : `${segment.component.replace(/_/g, ' ')}: ${segment.nights} night${segment.nights === 1 ? '' : 's'}, ${segment.from} to ${segment.to}`,
  };
}

/**
 * A placement in care with no placement type that the rules paid nothing: an error, not a notice.
 * Placements have needed a type since it was required when they are made; one made before (or
 * written around the API) would otherwise be paid nothing with only a notice, and the run approved.
 */
function untyped(p: PricedPlacement): CalculationIssue {
  return {
    householdId: p.householdId,
    placementId: p.placementId,
    childId: p.childId,
    severity: 'error',
    code: 'no_placement_type',
    message: `The placement has no placement type, so no rate rule pays it: set its type (PATCH /v1/placements/${p.placementId}) and calculate the run again`,
  };
}

/** The tenant's rate book, or why there is none (a USA baseline tenant without a state pack sets no rates). */
export type Rates = { book: RateBook; error?: undefined } | { book?: undefined; error: string };

/**
 * Prices every placement over a period through the tenant's rate book. A placement the rules cannot
 * price (a table with no amount for its facts, or no rates at all) becomes an issue naming it, not a
 * failed run: the rest of the run (claims, adjustments) stands, and the packs' workflows refuse
 * approval until the issue is put right.
 */
export async function pricePlacements(
  rates: Rates,
  placements: PricedPlacement[],
  period: { from: string; to: string },
): Promise<PricingResult> {
  const lines: DraftLine[] = [];
  const issues: CalculationIssue[] = [];
  for (let i = 0; i < placements.length; i++) {
    const p = placements[i]!;
    const about = { householdId: p.householdId, placementId: p.placementId, childId: p.childId };
    if (!rates.book) {
      issues.push({ ...about, severity: 'notice', code: 'no_rates', message: `Not priced: ${rates.error}` });
      continue;
    }
    try {
      const before = lines.length;
      for (const segment of await placementSegments(rates.book, p.rates, period)) {
        if (segment.amount !== 0) lines.push(segmentLine(p, segment));
      }
      if (lines.length === before) {
        issues.push(
          p.rates.placementType === null
            ? untyped(p)
            : {
                ...about,
                severity: 'notice',
                code: 'not_paid',
                message: `No rate rule pays this placement's nights in the period (${describeFacts(p, period)})`,
              },
        );
      }
    } catch (error) {
      if (!(error instanceof RateConfigurationError)) throw error;
      issues.push({ ...about, severity: 'error', code: 'rate_configuration', message: error.message });
    }
  }
  return { lines, issues };
}
