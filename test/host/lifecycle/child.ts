// Runs a small program in a child node process (CJS .js or ESM .mjs, in a
// temp dir next to a test file) and reports how it ended.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The compiled library, for require() / import in child scripts. */
export const LIBRARY = require.resolve('../../../src/lib');

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Writes `source` to dir/name and runs it with node; resolves when it has exited. */
export function runScript(dir: string, name: string, source: string, timeoutMs = 60_000): Promise<Ended> {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A hang is a failure too, reported as such rather than as mocha's timeout.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** How a child ended, for assertion messages. */
export function describeEnd(e: Ended): string {
  return `exit code ${e.code}, signal ${e.signal}\nstdout: ${e.stdout}\nstderr: ${e.stderr}`;
}
