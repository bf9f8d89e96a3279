/**
 * A synthetic fostering service of realistic size, seeded and repeatable: the same seed and `asOf`
 * give the same service, id for id. Nothing here touches a database; `largeServiceSeed.ts` writes it.
 *
 * The shape follows a large English local authority: children entering care over five years and
 * staying about two years, most with one or two placements; approved households of one to three
 * places, mostly across all ages; LAC reviews, social worker visits and carers' checks on the
 * statutory timescales (with some late), so lists of due, overdue and expiring things are realistic.
 */

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

export interface SimWorker { id: string; email: string; displayName: string; role: 'caseworker' | 'supervisor'; team: number }
export interface SimMember { id: string; householdId: string; givenName: string; familyName: string; dateOfBirth: string; role: 'applicant' | 'adult_member' | 'child_member' }
export interface SimCheck { id: string; memberId: string; householdId: string; checkType: string; requestedOn: string; completedOn: string; expiresOn: string | null; status: 'satisfactory' }
export interface SimHousehold {
  id: string;
  name: string;
  region: 'london' | 'south_east' | 'rest_of_england';
  postcode: string;
  location: { lat: number; lon: number };
  carerLevel: 'level_1' | 'level_2' | 'level_3';
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

const DAY = 86_400_000;
const toDays = (iso: string) => Math.round(Date.parse(`${iso}T00:00:00Z`) / DAY);
const fromDays = (days: number) => new Date(days * DAY).toISOString().slice(0, 10);
const addMonths = (iso: string, months: number) => {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d.toISOString().slice(0, 10);
};

const GIVEN = ['Amelia', 'Oliver', 'Isla', 'George', 'Ava', 'Noah', 'Mia', 'Leo', 'Ivy', 'Arthur', 'Freya', 'Muhammad', 'Lily', 'Harry', 'Sophia', 'Oscar', 'Grace', 'Jack', 'Aisha', 'Theo', 'Zara', 'Kai', 'Maya', 'Reuben', 'Nia', 'Tyler', 'Chloe', 'Kacper', 'Amara', 'Dylan', 'Eliza', 'Yusuf', 'Ruby', 'Finley', 'Hana', 'Mason', 'Esme', 'Ibrahim', 'Poppy', 'Jayden'];
const FAMILY = ['Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Patel', 'Robinson', 'Wright', 'Thompson', 'Evans', 'Walker', 'White', 'Roberts', 'Green', 'Hall', 'Khan', 'Lewis', 'Harris', 'Clarke', 'Jackson', 'Wood', 'Turner', 'Martin', 'Cooper', 'Hill', 'Ward', 'Hughes', 'Moore', 'Begum', 'Kowalski', 'Okafor', 'Nguyen', "O'Neill", 'Ali', 'Mensah', 'Novak', 'Fernandes', 'Achterberg', 'Baptiste', 'Castellano', 'Duarte', 'Eriksen', 'Fitzgerald', 'Gallagher', 'Hussain', 'Iqbal', 'Jablonski'];
const ETHNICITY = ['WBRI', 'WBRI', 'WBRI', 'WBRI', 'WOTH', 'MWBC', 'MOTH', 'APKN', 'ABAN', 'BAFR', 'BCRB', 'OOTH', 'WIRI'];
const LEGAL = ['C2', 'C2', 'C2', 'C1', 'V2', 'V2', 'E1', 'L2'];
const SKILLS = ['disability', 'sibling_groups', 'teenagers', 'parent_and_child', 'therapeutic', 'unaccompanied_asylum_seeking', 'babies', 'remand'];
const LANGUAGES = ['en', 'en', 'en', 'en', 'pl', 'ur', 'bn', 'pa', 'ar', 'so', 'ro'];
/** Checks every adult of an approved household holds, and how long each stays valid (null: does not expire). */
const CHECKS: Array<{ type: string; validYears: number | null; applicantsOnly: boolean }> = [
  { type: 'dbs_enhanced', validYears: 3, applicantsOnly: false },
  { type: 'local_authority_check', validYears: null, applicantsOnly: false },
  { type: 'medical', validYears: 2, applicantsOnly: true },
  { type: 'personal_reference', validYears: null, applicantsOnly: true },
  { type: 'home_safety', validYears: 1, applicantsOnly: true },
];

/** Builds the whole service in memory; about a second for the default size. */
export function generateLargeService(options: LargeServiceOptions = LARGE_SERVICE): LargeService {
  const random = seededRandom(options.seed);
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
    workers.push({ id: uuid(), email: `worker${i + 1}@large.example`, displayName: `${pick(GIVEN)} ${pick(FAMILY)}`, role, team: i % options.teams });
  }
  const caseworkers = workers.filter((w) => w.role === 'caseworker');
  const supervising = workers.filter((w) => w.role === 'supervisor');

  const households: SimHousehold[] = [];
  const members: SimMember[] = [];
  const checks: SimCheck[] = [];
  for (let i = 0; i < options.households; i++) {
    const id = uuid();
    const familyName = pick(FAMILY);
    const approvedOn = between(start - 3 * 365, asOf - 60);
    const enquiryOn = approvedOn - between(120, 300);
    const endedOn = random() < 0.08 ? between(Math.max(approvedOn + 180, start), asOf - 1) : null;
    const regionRoll = random();
    const region = regionRoll < 0.25 ? 'london' : regionRoll < 0.55 ? 'south_east' : 'rest_of_england';
    const ageRoll = random();
    const [ageMin, ageMax] = ageRoll < 0.6 ? [0, 17] : ageRoll < 0.75 ? [0, 4] : ageRoll < 0.9 ? [5, 17] : [11, 17];
    const capacityRoll = random();
    const maxChildren = capacityRoll < 0.35 ? 1 : capacityRoll < 0.8 ? 2 : 3;
    const kinds = ['short_term', 'emergency', ...(random() < 0.6 ? ['long_term'] : []), ...(random() < 0.3 ? ['respite'] : [])];
    const reviews: string[] = [];
    for (let r = addMonths(fromDays(approvedOn), 12); toDays(r) < Math.min(asOf, endedOn ?? asOf); r = addMonths(r, 12)) reviews.push(fromDays(toDays(r) + between(-20, 10)));
    households.push({
      id,
      name: `The ${familyName} household`,
      region,
      postcode: `${pick(['N', 'E', 'SE', 'SW', 'W', 'RH', 'GU', 'ME', 'B', 'LS'])}${between(1, 20)} ${between(1, 9)}${pick(['AB', 'DE', 'FG', 'HJ', 'LN', 'PQ', 'RS', 'TU', 'WX'])}`,
      location: { lat: Math.round((51.5 + (random() - 0.5) * 1.2) * 1e5) / 1e5, lon: Math.round((-0.12 + (random() - 0.5) * 1.6) * 1e5) / 1e5 },
      carerLevel: pick(['level_1', 'level_1', 'level_2', 'level_2', 'level_3'] as const),
      skills: SKILLS.filter(() => random() < 0.18),
      languages: [...new Set(['en', pick(LANGUAGES)])],
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
      const dob = role === 'child_member' ? between(asOf - 17 * 365, asOf - 365) : between(asOf - 70 * 365, asOf - 25 * 365);
      const member: SimMember = { id: uuid(), householdId: id, givenName: pick(GIVEN), familyName, dateOfBirth: fromDays(dob), role };
      members.push(member);
      if (role === 'child_member') continue;
      for (const check of CHECKS) {
        if (check.applicantsOnly && role !== 'applicant') continue;
        // The latest renewal: checks that expire are renewed a little before they do; about one in
        // twenty has lapsed, by up to four months.
        let completed = enquiryOn + between(20, 90);
        const lapsed = random() < 0.05 ? between(1, 120) : 0;
        if (check.validYears) while (completed + check.validYears * 365 < asOf - lapsed) completed += check.validYears * 365 - between(0, 30);
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
    const left = enteredCare + stay < asOf ? enteredCare + stay : null;
    const ageAtEntry = between(0, 16);
    const dob = enteredCare - ageAtEntry * 365 - between(0, 364);
    const reviews: string[] = [];
    const until = left ?? asOf;
    let review = enteredCare + 28 + between(-3, 6);
    for (let n = 0; review < until; n++) {
      reviews.push(fromDays(review));
      review = toDays(addMonths(fromDays(review), n === 0 ? 3 : 6)) + between(-14, 10);
    }
    children.push({
      id: uuid(),
      givenName: pick(GIVEN),
      familyName: pick(FAMILY),
      dateOfBirth: fromDays(dob),
      sex: random() < 0.52 ? 'male' : 'female',
      ethnicity: pick(ETHNICITY),
      allocatedWorkerId: pick(caseworkers).id,
      enteredCareOn: fromDays(enteredCare),
      leftCareOn: left === null ? null : fromDays(left),
      legalStatus: pick(LEGAL),
      reviews,
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
  const most = children.map((child) => Math.max(1, Math.floor(((child.leftCareOn ? toDays(child.leftCareOn) : asOf) - toDays(child.enteredCareOn)) / 14)));
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
        placementType: pick(['U1', 'U3', 'U3', 'U4', 'U5', 'U6']),
        startOn: fromDays(s),
        endOn: ended ? fromDays(e) : null,
        longTerm,
        visits,
      });
    }
  });
  return { options, workers, households, members, checks, children, placements };
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
