import { ExplanationKeys } from './calculation/store';

/**
 * A run stores each distinct explanation once and points its lines at it. Explanations are told
 * apart without writing each out as JSON, so the one thing that must hold is that two explanations
 * share a key exactly when JSON.stringify writes them the same.
 */

/** Small values from a few choices, so that equal ones turn up often. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)]!;
  const kind = depth > 2 ? pick(['string', 'number', 'other']) : pick(['string', 'number', 'other', 'object', 'array']);
  if (kind === 'string') return pick(['a', 'b', '$0', '#0', '"', 'a,b', '', 'x:y', 'j1:a']);
  if (kind === 'number') return pick([0, -0, 1, 1.5, -2, NaN, Infinity]);
  if (kind === 'other') return pick([true, false, null, undefined, new Date(Date.UTC(2025, 3, 6))]);
  if (kind === 'array') return Array.from({ length: Math.floor(random() * 3) }, () => randomValue(random, depth + 1));
  const out: Record<string, unknown> = {};
  for (const key of ['a', 'b', 'c', '$0']) if (random() < 0.5) out[key] = randomValue(random, depth + 1);
  return out;
}

it('gives two explanations one key exactly when their JSON is the same, and hands out the body of each new one', () => {
  let seed = 17;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const keys = new ExplanationKeys();
  const keyByJson = new Map<string, number>();
  const given = new Set<number>();
  let shared = 0;
  for (let i = 0; i < 5000; i++) {
    const explanation = {
      rule: randomValue(random, 1),
      facts: randomValue(random, 1),
      conditions: randomValue(random, 0),
    };
    const json = JSON.stringify(explanation);
    const { key, body } = keys.keyOf(explanation);
    const seen = keyByJson.get(json);
    if (seen === undefined) {
      // A key never given to other JSON, and the body to write.
      expect({ json, given: given.has(key), body }).toEqual({ json, given: false, body: json });
      keyByJson.set(json, key);
      given.add(key);
    } else {
      expect({ json, key, body }).toEqual({ json, key: seen, body: null });
      shared++;
    }
  }
  expect(shared).toBeGreaterThan(1000);
});

it('knows a nested object it has read by the object itself, and tells apart nested objects whose content differs', () => {
  const keys = new ExplanationKeys();
  const conditions = { all: [{ fact: 'region', value: 'london' }] };
  const first = keys.keyOf({ rule: 'r', conditions, facts: { age: 4 } });
  expect(keys.keyOf({ rule: 'r', conditions, facts: { age: 4 } })).toEqual({ key: first.key, body: null });
  expect(
    keys.keyOf({ rule: 'r', conditions: { all: [{ fact: 'region', value: 'london' }] }, facts: { age: 4 } }),
  ).toEqual({ key: first.key, body: null });
  expect(
    keys.keyOf({ rule: 'r', conditions: { all: [{ fact: 'region', value: 'leeds' }] }, facts: { age: 4 } }).body,
  ).toContain('leeds');
  expect(keys.keyOf({ rule: 'r', conditions, facts: { age: 5 } }).body).toContain('"age":5');
});
