import { addDays, daysBetween } from '../../dates';
import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { Problem, type FieldError } from '../../http/problem';
import { ok } from '../../http/results';
import { CalendarRangeError, WorkingCalendar } from '../../packs/calendar';
import { dueDates } from '../../packs/cycles';
import { placementSegments, RateBook, RateConfigurationError, type Occasion } from '../../rates/engine';
import { todayIn } from '../../time';
import { LookupValue } from '../lookups/models';
import { effectiveConfiguration, rateOverlays } from './effective';
import {
  missingForEveryRule,
  missingForTables,
  notPaidReason,
  placementTypeForRules,
  rulesInPeriod,
  type GivenFacts,
} from './rateEvaluation';
import { tenantPack } from './tenantPack';

/**
 * What a placement would be paid over a period, and why. A fact the tenant's rules cannot pay
 * without is refused by name rather than priced to 0 (see rateEvaluation.ts), and an evaluation that
 * pays nothing says why in `notPaid`.
 */
async function evaluateRate(ctx: TenantContext<'evaluateRate'>): Promise<OperationResult> {
  const body = ctx.body;
  const errors: FieldError[] = [];
  if (body.periodEnd < body.periodStart) errors.push({ pointer: '/body/periodEnd', message: 'is before periodStart' });
  if (body.placementEnd && body.placementEnd < body.placementStart)
    errors.push({ pointer: '/body/placementEnd', message: 'is before placementStart' });
  if (body.childDateOfBirth > body.periodEnd)
    errors.push({ pointer: '/body/childDateOfBirth', message: 'is after the period' });
  if (daysBetween(body.periodStart, body.periodEnd) > 366)
    errors.push({ pointer: '/body/periodEnd', message: 'the period may be at most a year' });
  if (errors.length) throw Problem.unprocessable(errors);
  const { pack, currency, overlays } = await tenantPack(ctx);
  const tenantTypes = (
    await LookupValue.query(ctx.trx)
      .where({ tenant_id: ctx.tenantId, list_key: 'placement_type', active: true })
      .select('code')
  ).map((v) => v.code);
  const placementType = placementTypeForRules(pack, tenantTypes, body.placementType ?? null);
  if (placementType.error) throw Problem.unprocessable([placementType.error]);
  const given: GivenFacts = {
    placementType: placementType.value,
    region: body.region ?? null,
    carerLevel: body.carerLevel ?? null,
    levelOfCare: body.levelOfCare ?? null,
  };
  const period = { from: body.periodStart, to: body.periodEnd };
  const ruleChanges = rateOverlays(overlays);
  const rules = rulesInPeriod(pack, ruleChanges.rules, period);
  const missing = missingForEveryRule(rules, given);
  if (missing.length) throw Problem.unprocessable(missing);
  const respite = body.respite ?? false;
  const placement = {
    placementStart: body.placementStart,
    placementEnd: body.placementEnd ?? null,
    childDateOfBirth: body.childDateOfBirth,
    respite,
    given,
  };
  try {
    const book = new RateBook(pack, ruleChanges);
    const occasions: Occasion[] = (body.occasions ?? []).map((o) => ({
      kind: o.kind,
      date: o.date,
      name: o.name ?? null,
    }));
    // The deprecated flags: an occasion on the last night the child is in the placement in the period.
    const lastNight =
      body.placementEnd && body.placementEnd <= body.periodEnd ? addDays(body.placementEnd, -1) : body.periodEnd;
    if (body.festivalInPeriod) occasions.push({ kind: 'festival', date: lastNight });
    if (body.holidayWeekInPeriod) occasions.push({ kind: 'holiday', date: lastNight });
    const lines = await placementSegments(
      book,
      {
        startDate: placement.placementStart,
        endDate: placement.placementEnd,
        childDateOfBirth: placement.childDateOfBirth,
        ...given,
        respite,
        occasions,
      },
      period,
    );
    const notPaid = lines.length ? null : await notPaidReason(book, placement, period);
    const { paymentUnit, departureDayPaid, conversion, rounding, schedule } = book.policy;
    const total = lines.reduce((sum, l) => sum + l.amount, 0);
    // A POST that only computes: nothing written, so nothing to audit.
    return {
      ...ok({
        currency,
        policy: { paymentUnit, departureDayPaid, conversion, rounding, schedule },
        lines,
        total,
        notPaid,
      }),
      noWrite: true,
    };
  } catch (error) {
    if (!(error instanceof RateConfigurationError)) throw error;
    const unread = missingForTables(pack, rules, given);
    throw unread.length ? Problem.unprocessable(unread) : new Problem('unprocessable', error.message);
  }
}

async function computeCycleDueDates(ctx: TenantContext<'computeCycleDueDates'>): Promise<OperationResult> {
  const body = ctx.body;
  const { pack, overlays, timeZone } = await tenantPack(ctx);
  const config = effectiveConfiguration(pack, overlays, todayIn(timeZone));
  const item = config.cycles.find((c) => c.key === ctx.params.cycleKey);
  if (!item) throw Problem.notFound(`The cycle "${ctx.params.cycleKey}"`);
  const cycle = item.value;
  if (body.until < body.triggerDate)
    throw Problem.unprocessable([{ pointer: '/body/until', message: 'is before triggerDate' }]);
  const calendar = new WorkingCalendar(
    pack.calendar ?? { key: 'none', name: 'no calendar', source: 'none', weekend: [0, 6], holidays: [] },
  );
  try {
    const occurrences = await dueDates(cycle, calendar, {
      triggerDate: body.triggerDate,
      until: body.until,
      completed: body.completed,
      dateOfBirth: body.dateOfBirth,
      facts: body.facts,
    });
    const about = { key: cycle.key, name: cycle.name, source: cycle.source, layer: item.layer };
    return { ...ok({ cycle: about, calendar: pack.calendar?.key ?? null, occurrences }), noWrite: true };
  } catch (error) {
    if (error instanceof CalendarRangeError)
      throw Problem.unprocessable([{ pointer: '/body/until', message: error.message }]);
    throw error;
  }
}

export const evaluationOperations = defineOperations({
  evaluateRate: { access: { permission: 'rates:evaluate' }, handle: evaluateRate },
  computeCycleDueDates: { access: { permission: 'configuration:read' }, handle: computeCycleDueDates },
});
