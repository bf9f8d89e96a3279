import { generateLargeService, LARGE_SERVICE } from './largeService';

const small = {
  ...LARGE_SERVICE,
  children: 300,
  households: 120,
  placements: 480,
  caseworkers: 12,
  supervisingWorkers: 4,
  teams: 3,
};

describe('the synthetic large service', () => {
  it('is the same service, id for id, for the same seed and date, and another for another seed', () => {
    expect(JSON.stringify(generateLargeService(small))).toBe(JSON.stringify(generateLargeService(small)));
    expect(generateLargeService({ ...small, seed: small.seed + 1 }).children[0]!.id).not.toBe(
      generateLargeService(small).children[0]!.id,
    );
  });

  it('has no child in care past their eighteenth birthday: leaving care at 18 is when the allowance tables end', () => {
    const service = generateLargeService(small);
    const eighteenth = (dob: string) => `${Number(dob.slice(0, 4)) + 18}${dob.slice(4)}`;
    const inCareAfter = service.children.filter((c) => (c.leftCareOn ?? small.asOf) > eighteenth(c.dateOfBirth));
    expect(inCareAfter.map((c) => ({ id: c.id, dateOfBirth: c.dateOfBirth, leftCareOn: c.leftCareOn }))).toEqual([]);
    const placedAfter = service.placements.filter((p) => {
      const child = service.children.find((c) => c.id === p.childId)!;
      return (p.endOn ?? small.asOf) > eighteenth(child.dateOfBirth);
    });
    expect(placedAfter).toEqual([]);
  });

  it('never places more children in a household than its approval allows, nor outside its approval or age range', () => {
    const service = generateLargeService(small);
    const households = new Map(service.households.map((h) => [h.id, h]));
    const children = new Map(service.children.map((c) => [c.id, c]));
    const end = (p: { endOn: string | null }) => p.endOn ?? small.asOf;
    for (const p of service.placements) {
      const h = households.get(p.householdId)!;
      expect(p.startOn >= h.approvedOn).toBe(true);
      const age = Math.floor(
        (Date.parse(p.startOn) - Date.parse(children.get(p.childId)!.dateOfBirth)) / (365.25 * 86_400_000),
      );
      expect(age).toBeGreaterThanOrEqual(h.terms.ageMin);
      expect(age).toBeLessThanOrEqual(h.terms.ageMax);
      const together = service.placements.filter(
        (q) => q.householdId === p.householdId && q.startOn <= p.startOn && p.startOn < end(q),
      );
      expect(together.length).toBeLessThanOrEqual(h.terms.maxChildren);
    }
  });
});
