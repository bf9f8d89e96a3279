/*
 * Rate decisions per second through the json-rules-engine wrapper, against a plain function making
 * the same decision, on a payment-run-shaped workload: 100,000 segments drawn from a few hundred
 * distinct fact sets. Both sides produce, per segment, the components and their weekly amounts.
 * Aim: the wrapper within 2x of the plain function (it compiles once and decides each fact set once).
 */
const { CompiledRuleSet } = require('../dist/core/src/rules/ruleSet');

const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 100000);
const REPEATS = 5;

// The England NMA (2025-26, pence a week) and an illustrative fee by carer level.
const NMA = {
  '0-2': { london: 19800, south_east: 18900, rest_of_england: 17000 },
  '3-4': { london: 20100, south_east: 19600, rest_of_england: 17600 },
  '5-10': { london: 22500, south_east: 21600, rest_of_england: 19400 },
  '11-15': { london: 25700, south_east: 24700, rest_of_england: 22000 },
  '16-17': { london: 29900, south_east: 28800, rest_of_england: 25800 },
};
const FEES = { level_1: 0, level_2: 10000, level_3: 20000 };
const bandOf = (age) => (age <= 2 ? '0-2' : age <= 4 ? '3-4' : age <= 10 ? '5-10' : age <= 15 ? '11-15' : '16-17');

const rules = [
  {
    name: 'allowance',
    priority: 10,
    conditions: {
      all: [
        { fact: 'inCare', operator: 'equal', value: true },
        { fact: 'respite', operator: 'equal', value: false },
      ],
    },
    event: { type: 'component', params: { component: 'allowance', table: 'nma' } },
  },
  {
    name: 'respite-allowance',
    priority: 10,
    conditions: {
      all: [
        { fact: 'inCare', operator: 'equal', value: true },
        { fact: 'respite', operator: 'equal', value: true },
      ],
    },
    event: { type: 'component', params: { component: 'respite_allowance', table: 'nma' } },
  },
  {
    name: 'fee-by-level',
    priority: 5,
    conditions: {
      all: [
        { fact: 'carerLevel', operator: 'in', value: ['level_2', 'level_3'] },
        { fact: 'respite', operator: 'equal', value: false },
      ],
    },
    event: { type: 'component', params: { component: 'fee', table: 'fees' } },
  },
];

function plainDecision(f) {
  const out = [];
  if (f.inCare && !f.respite) out.push({ component: 'allowance', table: 'nma' });
  if (f.inCare && f.respite) out.push({ component: 'respite_allowance', table: 'nma' });
  if ((f.carerLevel === 'level_2' || f.carerLevel === 'level_3') && !f.respite)
    out.push({ component: 'fee', table: 'fees' });
  return out;
}
const amount = (f, table) => (table === 'nma' ? NMA[f.ageBand][f.region] : FEES[f.carerLevel]);

// A few hundred distinct fact sets (18 ages × 3 regions × 3 levels × respite or not = 324), 100,000 segments.
const distinct = [];
for (let age = 0; age < 18; age++)
  for (const region of Object.keys(NMA['0-2']))
    for (const carerLevel of Object.keys(FEES))
      for (const respite of [false, true]) {
        distinct.push({ inCare: true, ageYears: age, ageBand: bandOf(age), region, carerLevel, respite });
      }
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const segments = Array.from({ length: SEGMENTS }, () => distinct[Math.floor(random() * distinct.length)]);

async function viaWrapper() {
  const ruleSet = new CompiledRuleSet('bench', rules);
  const decisions = await ruleSet.decideAll(segments);
  let total = 0;
  for (let i = 0; i < segments.length; i++)
    for (const fired of decisions[i].fired) total += amount(segments[i], fired.event.params.table);
  return total;
}

function viaPlain() {
  let total = 0;
  for (const f of segments) for (const d of plainDecision(f)) total += amount(f, d.table);
  return total;
}

async function time(fn) {
  let best = Infinity;
  let result;
  for (let i = 0; i < REPEATS; i++) {
    const start = process.hrtime.bigint();
    result = await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { ms: best, result };
}

(async () => {
  const wrapper = await time(viaWrapper);
  const plain = await time(viaPlain);
  if (wrapper.result !== plain.result) throw new Error(`the two disagree: ${wrapper.result} vs ${plain.result}`);
  process.stdout.write(
    `rate decisions: ${SEGMENTS} segments from ${distinct.length} distinct fact sets (best of ${REPEATS}, rule set compiled each run)\n`,
  );
  process.stdout.write(
    `  wrapper (json-rules-engine, decide once per fact set): ${wrapper.ms.toFixed(1)} ms, ${Math.round(SEGMENTS / (wrapper.ms / 1000)).toLocaleString('en-GB')} decisions/s\n`,
  );
  process.stdout.write(
    `  plain TypeScript function:                            ${plain.ms.toFixed(1)} ms, ${Math.round(SEGMENTS / (plain.ms / 1000)).toLocaleString('en-GB')} decisions/s\n`,
  );
  process.stdout.write(
    `  ratio wrapper / plain: ${(wrapper.ms / plain.ms).toFixed(2)}x (aim: at most 2x); totals agree: ${wrapper.result}\n`,
  );
})();
