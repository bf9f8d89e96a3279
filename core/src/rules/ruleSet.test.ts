import { CompiledRuleSet, referencedFacts, RuleSetError } from './ruleSet';

const rules = [
  {
    name: 'allowance',
    priority: 10,
    conditions: { all: [{ fact: 'inCare', operator: 'equal', value: true }] },
    event: { type: 'component', params: { component: 'allowance' } },
  },
  {
    name: 'fee',
    priority: 5,
    conditions: {
      all: [
        { fact: 'carerLevel', operator: 'in', value: ['level_2', 'level_3'] },
        { fact: 'respite', operator: 'equal', value: false },
      ],
    },
    event: { type: 'component', params: { component: 'fee' } },
  },
];

describe('the rules wrapper', () => {
  it('says which rules fired, what each decided and what each condition saw', async () => {
    const ruleSet = new CompiledRuleSet('test', rules);
    const decision = await ruleSet.decide({ inCare: true, carerLevel: 'level_2', respite: false, ageYears: 7 });
    expect(decision.fired.map((f) => [f.rule, f.event.params.component])).toEqual([
      ['allowance', 'allowance'],
      ['fee', 'fee'],
    ]);
    expect(JSON.stringify(decision.fired[1]!.conditions)).toContain('"factResult":"level_2"');
    const noFee = await ruleSet.decide({ inCare: true, carerLevel: 'level_1', respite: false, ageYears: 7 });
    expect(noFee.fired.map((f) => f.rule)).toEqual(['allowance']);
  });

  it('keys decisions on the facts the conditions name, so facts they ignore do not multiply the work', async () => {
    const ruleSet = new CompiledRuleSet('test', rules);
    expect(ruleSet.referenced).toEqual(['carerLevel', 'inCare', 'respite']);
    const a = ruleSet.decide({ inCare: true, carerLevel: 'level_3', respite: false, ageYears: 3 });
    const b = ruleSet.decide({ inCare: true, carerLevel: 'level_3', respite: false, ageYears: 16 });
    expect(b).toBe(a);
    expect(ruleSet.decide({ inCare: true, carerLevel: 'level_3', respite: true, ageYears: 16 })).not.toBe(a);
  });

  it('decides a batch in order, once per distinct combination', async () => {
    const ruleSet = new CompiledRuleSet('test', rules);
    const batch = [
      { inCare: true, carerLevel: 'level_2', respite: false },
      { inCare: true, carerLevel: 'level_1', respite: false },
      { inCare: false, carerLevel: 'level_2', respite: true },
      { inCare: true, carerLevel: 'level_2', respite: false },
    ];
    const decisions = await ruleSet.decideAll(batch);
    expect(decisions.map((d) => d.fired.map((f) => f.rule))).toEqual([
      ['allowance', 'fee'],
      ['allowance'],
      [],
      ['allowance', 'fee'],
    ]);
    expect(decisions[3]).toBe(decisions[0]);
  });

  it('finds facts used as comparison values too', () => {
    expect(
      [
        ...referencedFacts([
          {
            any: [
              { fact: 'a', operator: 'equal', value: { fact: 'b' } },
              { not: { fact: 'c', operator: 'equal', value: 1 } },
            ],
          },
        ]),
      ].sort(),
    ).toEqual(['a', 'b', 'c']);
  });

  it('refuses facts that break the schema it was given', async () => {
    const ruleSet = new CompiledRuleSet('typed', rules, {
      factsSchema: { type: 'object', required: ['inCare'], properties: { inCare: { type: 'boolean' } } },
    });
    await expect(ruleSet.decide({ inCare: 'yes' } as never)).rejects.toThrow(RuleSetError);
  });
});
