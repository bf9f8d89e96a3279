import { addDays, ageOn } from '../dates';
import type { RateTable } from '../packs/types';
import { nightlyDivisor, prorate } from './proration';
import {
  BIRTHDAY,
  explain,
  occasionPayments,
  RateConfigurationError,
  type Occasion,
  type PlacementForRates,
  type RateBook,
  type RateFacts,
  type RateSegment,
} from './engine';

/*
 * The rate engine as it was before it learnt to evaluate per segment: every night walked, the rules
 * asked per night, a JSON group key built per night per component. Kept as the test oracle (and the
 * benchmark's baseline) because it is the plainest statement of what a placement earns; the
 * segment engine in engine.ts must give deep-equal results for every input. Its changes since are
 * dated facts (`changes`), read here the plainest way: every entry in effect that night, in date
 * order; and extras paid per occasion, each on the night it falls.
 * Not for production use: it is slow on purpose.
 */

type DatedFacts = Pick<RateFacts, 'region' | 'carerLevel' | 'placementType' | 'levelOfCare'>;
const DATED_FACTS = ['region', 'carerLevel', 'placementType', 'levelOfCare'] as const;

/** The placement's own facts, then every dated change in effect on the night, earliest first (ties in the order given). */
function datedFactsOn(placement: PlacementForRates, night: string): DatedFacts {
  const facts: DatedFacts = {
    region: placement.region ?? null,
    carerLevel: placement.carerLevel ?? null,
    placementType: placement.placementType ?? null,
    levelOfCare: placement.levelOfCare ?? null,
  };
  const inEffect = (placement.changes ?? [])
    .filter((c) => c.from <= night)
    .sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  for (const change of inEffect)
    for (const name of DATED_FACTS) if (change[name] !== undefined) facts[name] = change[name];
  return facts;
}

interface NightLine {
  night: string;
  component: string;
  periodAmount: number;
  divisor: number;
  groupKey: string;
  explanation: RateSegment['explanation'];
}

export async function placementSegmentsNightByNight(
  book: RateBook,
  placement: PlacementForRates,
  period: { from: string; to: string },
): Promise<RateSegment[]> {
  const policy = book.policy;
  const first = placement.startDate > period.from ? placement.startDate : period.from;
  const lastPaid =
    placement.endDate === null
      ? period.to
      : policy.departureDayPaid
        ? placement.endDate
        : addDays(placement.endDate, -1);
  const last = lastPaid < period.to ? lastPaid : period.to;
  const bandTable = [...book.pack.points.rates.values()]
    .map((i) => i.value as RateTable)
    .find((t) => t.kind === 'table' && t.ageBands?.length);
  const lines: NightLine[] = [];
  for (let night = first; night <= last; night = addDays(night, 1)) {
    const ageYears = ageOn(placement.childDateOfBirth, night);
    const dated = datedFactsOn(placement, night);
    const baseFacts: Omit<RateFacts, 'ageBand'> = {
      inCare: true,
      ageYears,
      region: dated.region,
      carerLevel: dated.carerLevel,
      placementType: dated.placementType,
      levelOfCare: dated.levelOfCare,
      respite: placement.respite ?? false,
    };
    const facts: RateFacts = { ...baseFacts, ageBand: bandTable ? book.ageBand(bandTable, ageYears) : null };
    const decision = await book.decide(facts, night);
    for (const fired of decision.fired) {
      const { component, table: tableKey } = fired.event.params;
      if (fired.event.params.weeks !== undefined) continue;
      const table = book.table(tableKey).value;
      const tableFacts = { ...facts, ageBand: table.ageBands ? book.ageBand(table, ageYears) : facts.ageBand };
      if (!book.valueOn(table, night)) continue;
      const resolved = book.resolveAmount(tableKey, tableFacts, night);
      if (resolved === null) {
        throw new RateConfigurationError(
          `rate table "${tableKey}" has no amount for ${table.dimensions.map((d) => `${d} ${JSON.stringify(tableFacts[d as keyof RateFacts])}`).join(', ')} on ${night}`,
        );
      }
      const periodAmount = resolved.amount;
      const divisor = nightlyDivisor(table, night);
      const monthKey = table.period === 'month' ? night.slice(0, 7) : '';
      lines.push({
        night,
        component,
        periodAmount,
        divisor,
        groupKey: JSON.stringify([
          component,
          tableKey,
          resolved.effectiveFrom,
          resolved.layer,
          periodAmount,
          divisor,
          monthKey,
          tableFacts,
          fired.rule,
        ]),
        explanation: explain(fired, table, resolved, policy, tableFacts),
      });
    }
  }

  const segments: RateSegment[] = [];
  const open = new Map<string, { line: NightLine; from: string; to: string; nights: number }>();
  const close = (component: string) => {
    const run = open.get(component);
    if (!run) return;
    open.delete(component);
    segments.push({
      component,
      from: run.from,
      to: run.to,
      nights: run.nights,
      amount: prorate(run.line.periodAmount, run.nights, run.line.divisor, policy.rounding),
      explanation: run.line.explanation,
    });
  };
  for (const line of lines) {
    const run = open.get(line.component);
    if (run && run.line.groupKey === line.groupKey && addDays(run.to, 1) === line.night) {
      run.to = line.night;
      run.nights++;
    } else {
      close(line.component);
      open.set(line.component, { line, from: line.night, to: line.night, nights: 1 });
    }
  }
  for (const component of [...open.keys()]) close(component);
  segments.push(...(await extrasFor(book, placement, lines)));
  return segments.sort((a, b) => a.from.localeCompare(b.from) || a.component.localeCompare(b.component));
}

/**
 * Extras, night by night: a night the child spends in the placement (not its day of departure) is a
 * birthday when the age in whole years goes up on it, and holds the occasions recorded for that day;
 * each is priced at the facts of the first line paid that night.
 */
async function extrasFor(book: RateBook, placement: PlacementForRates, lines: NightLine[]): Promise<RateSegment[]> {
  if (!book.hasExtras || !lines.length) return [];
  const dateOfBirth = placement.childDateOfBirth;
  const out: RateSegment[] = [];
  for (const night of [...new Set(lines.map((l) => l.night))]) {
    if (placement.endDate !== null && night >= placement.endDate) continue;
    const occasions: Occasion[] = [];
    if (night > dateOfBirth && ageOn(dateOfBirth, night) > ageOn(dateOfBirth, addDays(night, -1)))
      occasions.push({ kind: BIRTHDAY, date: night });
    occasions.push(...(placement.occasions ?? []).filter((o) => o.date === night));
    const facts = lines.find((l) => l.night === night)!.explanation.facts;
    for (const occasion of occasions) out.push(...(await occasionPayments(book, facts, occasion)));
  }
  return out;
}
