/*
 * bench/processes/hearth.js with the garbage collector run every BENCH_GC_MS (start it with
 * --expose-gc): its resident memory then follows what the process still holds, not garbage V8 has
 * not yet had a reason to collect, which is what a memory bound on streaming is about.
 */
const every = Number(process.env.BENCH_GC_MS ?? 20);
if (typeof global.gc !== 'function') throw new Error('hearthCollected.js needs node --expose-gc');
setInterval(() => global.gc(), every).unref();
require('./hearth');
