import type { HouseholdForMatching } from '../carers/forMatching';
import { ageOn } from '../../dates';
import type { MatchingRequest } from './models';

/**
 * Ranking households for a matching request. Hard constraints decide who is on the list at all;
 * soft ones add points (out of 100), and every candidate carries the reasons for its score.
 */
export interface Reason {
  code: string;
  met: boolean;
  detail: string;
  points?: number;
}

export interface Candidate {
  householdId: string;
  name: string;
  rank: number;
  score: number;
  vacancies: number;
  distanceKm: number | null;
  skillsMatched: string[];
  skillsMissing: string[];
  reasons: Reason[];
}

export interface Exclusion {
  householdId: string;
  name: string;
  reasons: Reason[];
}

/** Points for each soft constraint; a request that does not ask for one shares its points out evenly among the rest. */
const WEIGHTS = { distance: 40, skills: 30, language: 15, region: 15 } as const;
/** Distance scoring falls to nothing at this many km when the request sets no maximum. */
const DEFAULT_DISTANCE_KM = 50;

export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

const norm = (s: string) => s.trim().toLowerCase();
const round1 = (n: number) => Math.round(n * 10) / 10;

export function rankHouseholds(
  request: MatchingRequest,
  childDateOfBirth: string,
  households: HouseholdForMatching[],
  peaks: Map<string, number>,
  childrenToPlace: number,
) {
  const age = ageOn(childDateOfBirth, request.wantedFrom);
  const excludedIds = new Set(request.excludeHouseholdIds ?? []);
  const location =
    request.locationLat !== null && request.locationLon !== null
      ? { lat: Number(request.locationLat), lon: Number(request.locationLon) }
      : null;
  const maxKm = request.maxDistanceKm === null ? null : Number(request.maxDistanceKm);
  const wanted = (request.requiredSkills ?? []).map((s) => ({ raw: s, key: norm(s) }));
  const asked = {
    distance: !!location,
    skills: wanted.length > 0,
    language: !!request.language,
    region: !!request.preferredRegion,
  };
  const askedWeight = (Object.keys(WEIGHTS) as Array<keyof typeof WEIGHTS>)
    .filter((k) => asked[k])
    .reduce((sum, k) => sum + WEIGHTS[k], 0);
  const scale = askedWeight ? 100 / askedWeight : 0;

  const candidates: Candidate[] = [];
  const excluded: Exclusion[] = [];
  const excludedByReason: Record<string, number> = {};
  for (const h of households) {
    const hard: Reason[] = [];
    const fail = (code: string, detail: string) => hard.push({ code, met: false, detail });
    const pass = (code: string, detail: string) => hard.push({ code, met: true, detail });
    if (excludedIds.has(h.id)) fail('excluded', 'excluded by the request');
    if (h.approved) pass('approved', `approved (${h.approvalState})`);
    else fail('approved', `not approved on ${request.wantedFrom} (${h.approvalState})`);
    if (h.compliance.compliant) pass('compliant', 'checks complete and in date');
    else
      fail(
        'compliant',
        `checks not in order: ${h.compliance.issues.map((i) => `${i.checkType} ${i.kind}`).join(', ')}`,
      );
    const terms = h.terms;
    let vacancies = 0;
    if (!terms) {
      fail('terms', 'no terms of approval');
    } else {
      if (age >= terms.ageMin && age <= terms.ageMax)
        pass('age_range', `approved for ages ${terms.ageMin}-${terms.ageMax}; the child is ${age}`);
      else
        fail(
          'age_range',
          `approved for ages ${terms.ageMin}-${terms.ageMax}; the child is ${age} on ${request.wantedFrom}`,
        );
      if (terms.placementKinds.includes(request.placementKind))
        pass('placement_kind', `${request.placementKind} is in the terms of approval`);
      else
        fail(
          'placement_kind',
          `${request.placementKind} is not in the terms of approval (${terms.placementKinds.join(', ') || 'none'})`,
        );
      vacancies = terms.maxChildren - (peaks.get(h.id) ?? 0);
      if (vacancies >= childrenToPlace) {
        pass(
          'vacancies',
          `has ${vacancies} vacanc${vacancies === 1 ? 'y' : 'ies'} from ${request.wantedFrom}${request.plannedEnd ? ` to ${request.plannedEnd}` : ''}`,
        );
      } else
        fail(
          'vacancies',
          `has ${Math.max(0, vacancies)} vacanc${vacancies === 1 ? 'y' : 'ies'} from ${request.wantedFrom}; ${childrenToPlace} needed`,
        );
    }
    const failed = hard.filter((r) => !r.met);
    if (failed.length) {
      for (const r of failed) excludedByReason[r.code] = (excludedByReason[r.code] ?? 0) + 1;
      excluded.push({ householdId: h.id, name: h.name, reasons: failed });
      continue;
    }

    const soft: Reason[] = [];
    let score = 0;
    let km: number | null = null;
    if (location) {
      if (h.location) {
        km = round1(distanceKm(location, h.location));
        const reach = maxKm ?? DEFAULT_DISTANCE_KM;
        const points = round1(WEIGHTS.distance * scale * Math.max(0, 1 - km / reach));
        score += points;
        soft.push({
          code: 'distance',
          met: maxKm === null || km <= maxKm,
          detail: `${km} km away${maxKm !== null ? (km <= maxKm ? ` (within ${maxKm} km)` : ` (beyond ${maxKm} km)`) : ''}`,
          points,
        });
      } else {
        soft.push({ code: 'distance', met: false, detail: 'the household has no location', points: 0 });
      }
    }
    const has = new Set(h.skills.map(norm));
    const skillsMatched = wanted.filter((w) => has.has(w.key)).map((w) => w.raw);
    const skillsMissing = wanted.filter((w) => !has.has(w.key)).map((w) => w.raw);
    if (wanted.length) {
      const points = round1((WEIGHTS.skills * scale * skillsMatched.length) / wanted.length);
      score += points;
      soft.push({
        code: 'skills',
        met: skillsMissing.length === 0,
        detail: `skills matched: ${skillsMatched.join(', ') || 'none'}${skillsMissing.length ? `; missing: ${skillsMissing.join(', ')}` : ''}`,
        points,
      });
    }
    if (request.language) {
      const speaks = h.languages.map(norm).includes(norm(request.language));
      const points = speaks ? round1(WEIGHTS.language * scale) : 0;
      score += points;
      soft.push({
        code: 'language',
        met: speaks,
        detail: speaks ? `speaks ${request.language}` : `does not list ${request.language}`,
        points,
      });
    }
    if (request.preferredRegion) {
      const inRegion = !!h.region && norm(h.region) === norm(request.preferredRegion);
      const points = inRegion ? round1(WEIGHTS.region * scale) : 0;
      score += points;
      soft.push({
        code: 'region',
        met: inRegion,
        detail: inRegion ? `in ${h.region}` : `in ${h.region ?? 'no region'}, not ${request.preferredRegion}`,
        points,
      });
    }
    candidates.push({
      householdId: h.id,
      name: h.name,
      rank: 0,
      score: Math.min(100, round1(askedWeight ? score : 100)),
      vacancies,
      distanceKm: km,
      skillsMatched,
      skillsMissing,
      reasons: [...hard, ...soft],
    });
  }
  candidates.sort(
    (a, b) =>
      b.score - a.score ||
      (a.distanceKm ?? Infinity) - (b.distanceKm ?? Infinity) ||
      b.vacancies - a.vacancies ||
      a.householdId.localeCompare(b.householdId),
  );
  candidates.forEach((c, i) => {
    c.rank = i + 1;
  });
  return { age, candidates, excluded, excludedByReason };
}
