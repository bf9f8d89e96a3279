/**
 * A synthetic fostering service of realistic size, seeded and repeatable: the same seed and `asOf`
 * give the same service, id for id. Nothing here touches a database; `largeServiceSeed.ts` writes it.
 *
 * The shape follows a large English local authority: children entering care over five years and
 * staying about two years, most with one or two placements; approved households of one to three
 * places, mostly across all ages; LAC reviews, social worker visits, health assessments, education
 * plan reviews, unannounced visits and carers' checks on the statutory timescales (with some late),
 * so lists of due, overdue and expiring things are realistic.
 * Names and codes come from a vocabulary (`vocabularies.ts`): England's by default, California's
 * for a service on the `usa/ca` pack.
 */
import { DAY_MS } from '../dates';
import { ENGLAND, type ServiceVocabulary } from './vocabularies';

export interface LargeServiceOptions {
  seed: number;
  /** The day the service is seen from (ISO date); everything before it has happened. */
  asOf: string;
  children: number;
  households: number;
  placements: number;
  years: number;
  caseworkers: number;
  supervisingWorkers: number;
  teams: number;
  /** The place's names and codes (default England's). */
  vocabulary?: ServiceVocabulary;
  /** The domain of the workers' email addresses (default large.example). */
  emailDomain?: string;
}

export const LARGE_SERVICE: LargeServiceOptions = {
  seed: 20261201,
  asOf: '2026-12-01',
  children: 5000,
  households: 2000,
  placements: 8000,
  years: 5,
  caseworkers: 120,
  supervisingWorkers: 40,
  teams: 12,
};

export interface SimWorker {
  id: string;
  email: string;
  displayName: string;
  role: 'caseworker' | 'supervisor';
  team: number;
}
export interface SimMember {
  id: string;
  householdId: string;
  givenName: string;
  familyName: string;
  dateOfBirth: string;
  role: 'applicant' | 'adult_member' | 'child_member';
}
export interface SimCheck {
  id: string;
  memberId: string;
  householdId: string;
  checkType: string;
  requestedOn: string;
  completedOn: string;
  expiresOn: string | null;
  status: 'satisfactory';
}
export interface SimHousehold {
  id: string;
  name: string;
  /** The rate region, where the place's rates have regions. */
  region: string | null;
  postcode: string;
  location: { lat: number; lon: number };
  carerLevel: string | null;
  skills: string[];
  languages: string[];
  supervisingWorkerId: string;
  enquiryOn: string;
  approvedOn: string;
  /** When the approval ended (resignation), or null while approved. */
  endedOn: string | null;
  terms: { maxChildren: number; ageMin: number; ageMax: number; placementKinds: string[] };
  reviews: string[];
}
export interface SimChild {
  id: string;
  givenName: string;
  familyName: string;
  dateOfBirth: string;
  sex: 'male' | 'female';
  ethnicity: string;
  allocatedWorkerId: string;
  enteredCareOn: string;
  leftCareOn: string | null;
  legalStatus: string;
  reviews: string[];
  /** Health assessments (the initial one, then reviews), where the place keeps them. */
  healthAssessments: Array<{ on: string; type: 'initial' | 'review' }>;
  /** Personal education plan reviews, where the place keeps them. */
  pepReviews: string[];
}
export interface SimPlacement {
  id: string;
  childId: string;
  householdId: string;
  kind: 'emergency' | 'short_term' | 'long_term';
  placementType: string;
  startOn: string;
  endOn: string | null;
  longTerm: boolean;
  visits: string[];
  /** Unannounced visits to the household, made while this child was placed there. */
  unannouncedVisits: string[];
}
export interface LargeService {
  options: LargeServiceOptions;
  workers: SimWorker[];
  households: SimHousehold[];
  members: SimMember[];
  checks: SimCheck[];
  children: SimChild[];
  placements: SimPlacement[];
}

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const toDays = (iso: string) => Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY_MS);
const fromDays = (days: number) => new Date(days * DAY_MS).toISOString().slice(0, 10);
const addMonths = (iso: string, months: number) => {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
};

/** Builds the whole service in memory; about a second for the default size. */
export function generateLargeService(options: LargeServiceOptions = LARGE_SERVICE): LargeService {
  const random = seededRandom(options.seed);
  const words = options.vocabulary ?? ENGLAND;
  const emailDomain = options.emailDomain ?? 'large.example';
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
    hex[12] = '4';
    hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    const s = hex.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  };
  const asOf = toDays(options.asOf);
  const start = toDays(addMonths(options.asOf, -12 * options.years));

  const workers: SimWorker[] = [];
  for (let i = 0; i < options.caseworkers + options.supervisingWorkers; i++) {
    const role = i < options.caseworkers ? 'caseworker' : 'supervisor';
    workers.push({
      id: uuid(),
      email: `worker${i + 1}@${emailDomain}`,
      displayName: `${pick(words.givenNames)} ${pick(words.familyNames)}`,
      role,
      team: i % options.teams,
    });
  }
  const caseworkers = workers.filter((w) => w.role === 'caseworker');
  const supervising = workers.filter((w) => w.role === 'supervisor');

  const households: SimHousehold[] = [];
  const members: SimMember[] = [];
  const checks: SimCheck[] = [];
  for (let i = 0; i < options.households; i++) {
    const id = uuid();
    const familyName = pick(words.familyNames);
    const approvedOn = between(start - 3 * 365, asOf - 60);
    const enquiryOn = approvedOn - between(120, 300);
    const endedOn = random() < 0.08 ? between(Math.max(approvedOn + 180, start), asOf - 1) : null;
    const regionRoll = random();
    const region = words.regions
      ? (words.regions.find((r) => regionRoll < r.upTo) ?? words.regions[words.regions.length - 1]!).region
      : null;
    const ageRoll = random();
    const [ageMin, ageMax] = ageRoll < 0.6 ? [0, 17] : ageRoll < 0.75 ? [0, 4] : ageRoll < 0.9 ? [5, 17] : [11, 17];
    const capacityRoll = random();
    const maxChildren = capacityRoll < 0.35 ? 1 : capacityRoll < 0.8 ? 2 : 3;
    const kinds = [
      'short_term',
      'emergency',
      ...(random() < 0.6 ? ['long_term'] : []),
      ...(random() < 0.3 ? ['respite'] : []),
    ];
    const reviews: string[] = [];
    for (let r = addMonths(fromDays(approvedOn), 12); toDays(r) < Math.min(asOf, endedOn ?? asOf); r = addMonths(r, 12))
      reviews.push(fromDays(toDays(r) + between(-20, 10)));
    households.push({
      id,
      name: `The ${familyName} household`,
      region,
      // The draws in this order (area, two numbers, letters) whatever the place's format uses.
      postcode: words.postcode(
        pick(words.postcodeAreas),
        between(1, 20),
        between(1, 9),
        pick(['AB', 'DE', 'FG', 'HJ', 'LN', 'PQ', 'RS', 'TU', 'WX']),
      ),
      location: {
        lat: Math.round((words.centre.lat + (random() - 0.5) * words.centre.latSpread) * 1e5) / 1e5,
        lon: Math.round((words.centre.lon + (random() - 0.5) * words.centre.lonSpread) * 1e5) / 1e5,
      },
      carerLevel: words.carerLevels ? pick(words.carerLevels) : null,
      skills: words.skills.filter(() => random() < 0.18),
      languages: [...new Set(['en', pick(words.languages)])],
      supervisingWorkerId: pick(supervising).id,
      enquiryOn: fromDays(enquiryOn),
      approvedOn: fromDays(approvedOn),
      endedOn: endedOn === null ? null : fromDays(endedOn),
      terms: { maxChildren, ageMin, ageMax, placementKinds: kinds },
      reviews,
    });
    const adults = random() < 0.65 ? 2 : 1;
    const others = random() < 0.2 ? 1 : 0;
    for (let m = 0; m < adults + others + between(0, 2); m++) {
      const role = m < adults ? 'applicant' : m < adults + others ? 'adult_member' : 'child_member';
      const dob =
        role === 'child_member' ? between(asOf - 17 * 365, asOf - 365) : between(asOf - 70 * 365, asOf - 25 * 365);
      const member: SimMember = {
        id: uuid(),
        householdId: id,
        givenName: pick(words.givenNames),
        familyName,
        dateOfBirth: fromDays(dob),
        role,
      };
      members.push(member);
      if (role === 'child_member') continue;
      for (const check of words.checks) {
        if (check.applicantsOnly && role !== 'applicant') continue;
        // The latest renewal: checks that expire are renewed a little before they do; about one in
        // twenty has lapsed, by up to four months.
        let completed = enquiryOn + between(20, 90);
        const lapsed = random() < 0.05 ? between(1, 120) : 0;
        if (check.validYears)
          while (completed + check.validYears * 365 < asOf - lapsed)
            completed += check.validYears * 365 - between(0, 30);
        checks.push({
          id: uuid(),
          memberId: member.id,
          householdId: id,
          checkType: check.type,
          requestedOn: fromDays(completed - between(7, 30)),
          completedOn: fromDays(completed),
          expiresOn: check.validYears ? fromDays(completed + check.validYears * 365) : null,
          status: 'satisfactory',
        });
      }
    }
  }

  // Children enter care over the years (some already in care when the window opens) and stay about two years.
  const children: SimChild[] = [];
  for (let i = 0; i < options.children; i++) {
    const enteredCare = between(start - 365, asOf - 14);
    const stay = Math.round(-Math.log(1 - random() * 0.999) * 700) + 30;
    const ageAtEntry = between(0, 16);
    const dob = enteredCare - ageAtEntry * 365 - between(0, 364);
    // Care ends by the eighteenth birthday (the allowance tables stop at 17), however long the stay would be.
    const leaves = Math.min(enteredCare + stay, toDays(addMonths(fromDays(dob), 12 * 18)));
    const left = leaves < asOf ? leaves : null;
    const reviews: string[] = [];
    const until = left ?? asOf;
    let review = enteredCare + 28 + between(-3, 6);
    for (let n = 0; review < until; n++) {
      reviews.push(fromDays(review));
      review = toDays(addMonths(fromDays(review), n === 0 ? 3 : 6)) + between(-14, 10);
    }
    children.push({
      id: uuid(),
      givenName: pick(words.givenNames),
      familyName: pick(words.familyNames),
      dateOfBirth: fromDays(dob),
      sex: random() < 0.52 ? 'male' : 'female',
      ethnicity: pick(words.ethnicities),
      allocatedWorkerId: pick(caseworkers).id,
      enteredCareOn: fromDays(enteredCare),
      leftCareOn: left === null ? null : fromDays(left),
      legalStatus: pick(words.legalStatuses),
      reviews,
      healthAssessments: [],
      pepReviews: [],
    });
  }

  // Placements: each child's time in care split into one or more placements, each at a household whose
  // approval, age range and free places fit on every night (greedy, household by household).
  const occupancy = new Map<string, Array<[number, number]>>();
  const fits = (h: SimHousehold, from: number, to: number, age: number) => {
    if (toDays(h.approvedOn) > from || (h.endedOn && toDays(h.endedOn) < to)) return false;
    if (age < h.terms.ageMin || age > h.terms.ageMax) return false;
    const taken = occupancy.get(h.id) ?? [];
    // Free places on the busiest night of [from, to): count overlaps at each start inside the range.
    const points = [from, ...taken.filter(([s]) => s > from && s < to).map(([s]) => s)];
    return points.every((p) => taken.filter(([s, e]) => s <= p && p < e).length < h.terms.maxChildren);
  };
  // A child can have a placement for each fortnight in care at most.
  const most = children.map((child) =>
    Math.max(1, Math.floor(((child.leftCareOn ? toDays(child.leftCareOn) : asOf) - toDays(child.enteredCareOn)) / 14)),
  );
  const perChild = splitPlacements(options.placements, most, random);
  const placements: SimPlacement[] = [];
  children.forEach((child, index) => {
    const from = toDays(child.enteredCareOn);
    const to = child.leftCareOn ? toDays(child.leftCareOn) : asOf;
    const count = perChild[index]!;
    const inner = new Set<number>();
    while (inner.size < count - 1) inner.add(between(from + 7, to - 7));
    const cuts = [from, ...[...inner].sort((x, y) => x - y), to];
    for (let p = 0; p < count; p++) {
      const s = cuts[p]!;
      const e = cuts[p + 1]!;
      if (e <= s) continue;
      const age = Math.floor((s - toDays(child.dateOfBirth)) / 365.25);
      // Every household in turn from a random one, so a placement is made wherever one fits.
      const first = between(0, households.length - 1);
      let household: SimHousehold | undefined;
      for (let k = 0; k < households.length && !household; k++) {
        const candidate = households[(first + k) % households.length]!;
        if (fits(candidate, s, e, age)) household = candidate;
      }
      if (!household) continue;
      (occupancy.get(household.id) ?? occupancy.set(household.id, []).get(household.id)!).push([s, e]);
      const ended = p < count - 1 || child.leftCareOn !== null;
      const longTerm = e - s > 365 && household.terms.placementKinds.includes('long_term');
      const visits: string[] = [];
      for (let v = s + between(3, 8); v < e; v += 42 - between(0, 10)) visits.push(fromDays(v));
      placements.push({
        id: uuid(),
        childId: child.id,
        householdId: household.id,
        kind: p === 0 && random() < 0.25 ? 'emergency' : longTerm ? 'long_term' : 'short_term',
        placementType: pick(words.placementTypes),
        startOn: fromDays(s),
        endOn: ended ? fromDays(e) : null,
        longTerm,
        visits,
        unannouncedVisits: [],
      });
    }
  });
  keptRecords(options, words, children, households, placements);
  return { options, workers, households, members, checks, children, placements };
}

/**
 * The records some places keep and others do not (health assessments, education plans, unannounced
 * visits), drawn from a stream of their own so that a place that keeps none has the same service,
 * id for id, as before they were added. Most are on time; some are late and a few missed, so the
 * cycles that ask for them show tasks done, due and overdue.
 */
function keptRecords(
  options: LargeServiceOptions,
  words: ServiceVocabulary,
  children: SimChild[],
  households: SimHousehold[],
  placements: SimPlacement[],
): void {
  const random = seededRandom((options.seed ^ 0x9e3779b9) >>> 0);
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const asOf = toDays(options.asOf);
  for (const child of children) {
    const from = toDays(child.enteredCareOn);
    const until = child.leftCareOn ? toDays(child.leftCareOn) : asOf;
    if (words.records.healthAssessments) {
      // Initial within about 20 working days of entering care; reviews six-monthly under five, yearly after.
      for (let on = from + between(10, 35), n = 0; on < until; n++) {
        if (random() > 0.06) child.healthAssessments.push({ on: fromDays(on), type: n === 0 ? 'initial' : 'review' });
        const underFive = on - toDays(child.dateOfBirth) < 5 * 365;
        on = toDays(addMonths(fromDays(on), underFive ? 6 : 12)) + between(-20, 12);
      }
    }
    if (words.records.pepReviews) {
      // Termly, about every four months, from the first term in care.
      for (let on = from + between(40, 100); on < until; on = toDays(addMonths(fromDays(on), 4)) + between(-15, 12))
        if (random() > 0.08) child.pepReviews.push(fromDays(on));
    }
  }
  if (!words.records.unannouncedVisits) return;
  // Yearly from approval, to whichever child is placed in the household that day (a visit is recorded on a placement).
  const byHousehold = new Map<string, SimPlacement[]>();
  for (const p of placements)
    (byHousehold.get(p.householdId) ?? byHousehold.set(p.householdId, []).get(p.householdId)!).push(p);
  for (const h of households) {
    const end = Math.min(asOf, h.endedOn ? toDays(h.endedOn) : asOf);
    for (
      let on = toDays(addMonths(h.approvedOn, 12)) - between(10, 60);
      on < end;
      on = toDays(addMonths(fromDays(on), 12)) - between(0, 45)
    ) {
      const day = fromDays(on);
      const placed = (byHousehold.get(h.id) ?? []).find(
        (p) => p.startOn <= day && (p.endOn === null || day <= p.endOn),
      );
      if (placed && random() > 0.1) placed.unannouncedVisits.push(day);
    }
  }
}

/** How many placements each child has: at least one, at most `most[i]`, the rest spread so the total is `total`. */
function splitPlacements(total: number, most: number[], random: () => number): number[] {
  const counts = most.map(() => 1);
  const open = most.map((_, i) => i).filter((i) => most[i]! > 1);
  for (let extra = total - most.length; extra > 0 && open.length; extra--) {
    const at = Math.floor(random() * open.length);
    const child = open[at]!;
    counts[child]! += 1;
    if (counts[child] === most[child]) open.splice(at, 1);
  }
  return counts;
}
