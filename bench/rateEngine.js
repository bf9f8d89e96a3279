/*
 * The rate engine on a payment-run-shaped workload: a RateBook from the real UK pack and
 * placementSegments for N synthetic placements over four weeks that cross 6 April 2025 (a spread of
 * ages, regions, levels and respite; some starting or ending mid-period, some with a level changed
 * mid-period). The segment engine runs N placements, the night-by-night oracle the first M of the
 * same list; each runs in a process of its own so its peak RSS is its own. The totals over the
 * first M must agree. Wall time is what a payment run waits; CPU time (all threads, the collector's
 * included) is printed beside it because other work on a shared machine stretches the wall time.
 * Needs a build: it reads dist/.
 *   BENCH_PLACEMENTS (default 50000), BENCH_ORACLE_PLACEMENTS (default 5000)
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const PERIOD = { from: '2025-03-24', to: '2025-04-20' };
const N = Number(process.env.BENCH_PLACEMENTS ?? 50000);
const ORACLE_N = Math.min(N, Number(process.env.BENCH_ORACLE_PLACEMENTS ?? 5000));

const DAY_MS = 86_400_000;
const shift = (iso, days) => new Date(Date.parse(iso) + days * DAY_MS).toISOString().slice(0, 10);

/** The same placements every run (a fixed seed). */
function placements(count) {
  let seed = 20250406;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = (values) => values[Math.floor(random() * values.length)];
  const out = [];
  for (let i = 0; i < count; i++) {
    const respite = random() < 0.1;
    const midStart = random() < 0.2;
    const startDate = midStart
      ? shift(PERIOD.from, Math.floor(random() * 28))
      : shift(PERIOD.from, -Math.floor(random() * 900) - 1);
    const ends = random() < 0.25;
    const placement = {
      startDate,
      endDate: ends ? shift(PERIOD.from, Math.floor(random() * 40) + 1) : null,
      // Born before the period and under 18 to its end, on any day of the year, so birthdays fall inside the period too.
      childDateOfBirth: shift(PERIOD.from, -1 - Math.floor(random() * (18 * 365 - 40))),
      region: pick(['london', 'south_east', 'rest_of_england', 'rest_of_england']),
      carerLevel: pick(['level_1', 'level_2', 'level_3', null]),
      placementType: respite
        ? pick(['foster_unrelated', 'temporary_carer_holiday'])
        : pick(['foster_unrelated', 'foster_unrelated', 'foster_family_friends']),
      respite,
      // A festival recorded for some children and a holiday week for more, on a night of the period.
      occasions: [
        ...(random() < 0.05 ? [{ kind: 'festival', date: shift(PERIOD.from, Math.floor(random() * 28)) }] : []),
        ...(random() < 0.1 ? [{ kind: 'holiday', date: shift(PERIOD.from, Math.floor(random() * 28)) }] : []),
      ],
    };
    if (placement.endDate !== null && placement.endDate <= placement.startDate)
      placement.endDate = shift(placement.startDate, 3);
    // New terms of approval part-way through the period for some carers.
    if (random() < 0.05)
      placement.changes = [
        { from: shift(PERIOD.from, Math.floor(random() * 28)), carerLevel: pick(['level_2', 'level_3']) },
      ];
    out.push(placement);
  }
  return out;
}

/** Nights paid in the period (the UK policy does not pay the day of departure). */
function nightsIn(placement) {
  const first = placement.startDate > PERIOD.from ? placement.startDate : PERIOD.from;
  const lastPaid = placement.endDate === null ? PERIOD.to : shift(placement.endDate, -1);
  const last = lastPaid < PERIOD.to ? lastPaid : PERIOD.to;
  return first > last ? 0 : (Date.parse(last) - Date.parse(first)) / DAY_MS + 1;
}

/** One engine over `count` placements, in this process; prints one JSON line. */
async function measure(engine, count) {
  const { loadPacks } = require('../dist/core/src/packs/registry');
  const { RateBook, placementSegments } = require('../dist/core/src/rates/engine');
  const { placementSegmentsNightByNight } = require('../dist/core/src/rates/nightByNight');
  const run = engine === 'segments' ? placementSegments : placementSegmentsNightByNight;
  const list = placements(count);
  const book = new RateBook(loadPacks().resolve('uk'));
  let nights = 0;
  for (const placement of list) nights += nightsIn(placement);
  let segments = 0;
  let total = 0;
  let checkTotal = 0;
  const started = process.hrtime.bigint();
  const cpuAtStart = process.cpuUsage();
  for (let i = 0; i < list.length; i++) {
    const lines = await run(book, list[i], PERIOD);
    segments += lines.length;
    for (const line of lines) total += line.amount;
    if (i === ORACLE_N - 1) checkTotal = total;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpuAtStart);
  if (list.length < ORACLE_N) checkTotal = total;
  process.stdout.write(
    `${JSON.stringify({ engine, placements: count, nights, segments, total, checkTotal, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}

function inChild(engine, count) {
  const result = spawnSync(process.execPath, [path.join(__dirname, 'rateEngine.js'), engine, String(count)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${engine} run failed (${result.status})`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

const fmt = (n) => Math.round(n).toLocaleString('en-GB');

if (process.argv[2]) {
  measure(process.argv[2], Number(process.argv[3])).catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
} else {
  const segments = inChild('segments', N);
  const oracle = inChild('nightByNight', ORACLE_N);
  const line = (label, r) =>
    `  ${label} ${fmt(r.placements).padStart(6)} placements, ${fmt(r.nights).padStart(9)} nights, ${fmt(r.segments).padStart(7)} lines: ${r.ms.toFixed(0).padStart(6)} ms wall (${r.cpuMs.toFixed(0)} ms CPU), ${fmt(r.nights / (r.ms / 1000)).padStart(10)} nights/s, peak RSS ${r.peakRssMb.toFixed(0)} MB\n`;
  process.stdout.write(
    `rate engine: real UK pack, period ${PERIOD.from} to ${PERIOD.to} (four weeks across 6 April), one RateBook, placements one after another\n`,
  );
  process.stdout.write(line('segment engine:', segments));
  process.stdout.write(line('night by night:', oracle));
  const agree = segments.checkTotal === oracle.total;
  process.stdout.write(
    `  ratio (nights/s, segment / night by night): ${(segments.nights / segments.ms / (oracle.nights / oracle.ms)).toFixed(1)}x; totals over the first ${fmt(ORACLE_N)} placements ${agree ? 'agree' : 'DISAGREE'}: ${segments.checkTotal} and ${oracle.total}\n`,
  );
  if (!agree) process.exit(1);
}
