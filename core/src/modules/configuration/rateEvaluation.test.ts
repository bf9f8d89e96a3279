import { loadPacks } from '../../packs/registry';
import { factsNeeded, missingForEveryRule, rulesInPeriod } from './rateEvaluation';

/** What a rule cannot pass without, read from its conditions: a fact is named only when a null could never pass. */
describe('the facts a rule needs', () => {
  it('are those of its `all`, only the shared ones of an `any`, and none under `not` or a null-passing operator', () => {
    expect([
      ...factsNeeded({
        all: [
          { fact: 'placementType', operator: 'in', value: ['foster_unrelated'] },
          { fact: 'respite', operator: 'notEqual', value: true },
        ],
      }),
    ]).toEqual(['placementType']);
    expect([
      ...factsNeeded({
        any: [
          {
            all: [
              { fact: 'region', operator: 'equal', value: 'london' },
              { fact: 'carerLevel', operator: 'equal', value: 'level_1' },
            ],
          },
          { fact: 'region', operator: 'equal', value: 'south_east' },
        ],
      }),
    ]).toEqual(['region']);
    expect([...factsNeeded({ not: { fact: 'placementType', operator: 'equal', value: 'x' } })]).toEqual([]);
    expect([
      ...factsNeeded({
        all: [
          { fact: 'levelOfCare', operator: 'equal', value: null },
          { fact: 'carerLevel', operator: 'in', value: ['level_1', null] },
        ],
      }),
    ]).toEqual([]);
    expect([
      ...factsNeeded({
        all: [
          { fact: 'region', operator: 'equal', value: { fact: 'homeRegion' } },
          { fact: 'placementType', operator: 'in', path: '$.code', value: ['U4'] },
        ],
      }),
    ]).toEqual([]);
  });

  it('make the placement type required in England and nothing in California, from the packs as shipped', () => {
    const packs = loadPacks();
    const june = { from: '2025-06-01', to: '2025-06-30' };
    const none = { placementType: null, region: null, carerLevel: null, levelOfCare: null };
    expect(missingForEveryRule(rulesInPeriod(packs.resolve('uk'), [], june), none).map((e) => e.pointer)).toEqual([
      '/body/placementType',
    ]);
    expect(missingForEveryRule(rulesInPeriod(packs.resolve('usa/ca'), [], june), none)).toEqual([]);
    expect(missingForEveryRule(rulesInPeriod(packs.resolve('usa/tx'), [], june), none).map((e) => e.pointer)).toEqual([
      '/body/levelOfCare',
    ]);
  });

  it('count the rules of every rule set in effect in the period: an overlay that pays without the fact from mid-period frees it', () => {
    const uk = loadPacks().resolve('uk');
    const everyNight = {
      name: 'allowance_every_night',
      conditions: { all: [{ fact: 'inCare', operator: 'equal', value: true }] },
      event: { type: 'component' as const, params: { component: 'allowance', table: 'nma-allowance' } },
    };
    const none = { placementType: null, region: 'london', carerLevel: null, levelOfCare: null };
    const from15 = [{ effectiveFrom: '2025-06-15', add: [everyNight], remove: [] }];
    expect(missingForEveryRule(rulesInPeriod(uk, from15, { from: '2025-06-01', to: '2025-06-30' }), none)).toEqual([]);
    expect(
      missingForEveryRule(rulesInPeriod(uk, from15, { from: '2025-06-01', to: '2025-06-14' }), none).map(
        (e) => e.pointer,
      ),
    ).toEqual(['/body/placementType']);
  });
});
