/*
 * One build of a checkout at a time, for sdk/scripts/build.cjs and the root build
 * (core/scripts/build.cjs): builds started together take turns, and the ones that wait find the
 * work done.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

/** True while a process with this id runs (a signal 0 checks without sending anything). */
function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * Runs `work` holding the build lock `name`: a file in the system's temporary folder (none in
 * the repository to ignore or to pack), named by the checkout's path and holding the builder's
 * process id, so a lock left by a build that was killed is taken over rather than waited on.
 */
async function withBuildLock(name, what, work) {
  const lock = path.join(os.tmpdir(), `${name}.lock`);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    let holder;
    let age;
    try {
      holder = Number(fs.readFileSync(lock, 'utf8'));
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch (error) {
      if (error.code === 'ENOENT') continue; // released just now: try again
      throw error;
    }
    // An empty file is a lock being written this instant, unless it has stayed empty for seconds.
    const abandoned = holder > 0 ? !running(holder) : age > 5_000;
    if (abandoned) fs.rmSync(lock, { force: true });
    else if (Date.now() > deadline)
      throw new Error(`another build of ${what} (process ${holder}) has held ${lock} for ten minutes`);
    else await sleep(100);
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

module.exports = { withBuildLock };
