import { spawn } from 'node:child_process';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a program to its end without blocking the event loop (a server under test may share it). */
export function run(command: string, args: string[], options: RunOptions): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A run that must succeed: its output, or a failure that shows what it printed. */
export async function succeed(command: string, args: string[], options: RunOptions): Promise<string> {
  const ran = await run(command, args, options);
  if (ran.code !== 0)
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) exited ${ran.code}:\n${ran.stdout}\n${ran.stderr}`,
    );
  return ran.stdout;
}
