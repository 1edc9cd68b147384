// A missing prerequisite (a tool, a package, a build product the suite needs)
// is not a regression: the reporter counts it apart from failures, and CI
// fails on either. The message names what is missing and how to get it.
import { spawnSync } from 'node:child_process';

/** Thrown when something a test needs is not on this machine. */
export class MissingPrerequisite extends Error {
  override readonly name = 'MissingPrerequisite';
}

/** Fails the test as a missing prerequisite unless `present`; `what` names it, `fix` says how to get it. */
export function requirePrerequisite(present: boolean, what: string, fix: string): void {
  if (!present) throw new MissingPrerequisite(`missing prerequisite: ${what} (${fix})`);
}

/** Whether a mocha failure was a missing prerequisite (the error may come from another copy of this module). */
export function isMissingPrerequisite(err: unknown): boolean {
  return err instanceof Error && err.name === 'MissingPrerequisite';
}

/** Fails the test as a missing prerequisite unless fio (Debian's 3.33, the reference blkbench is held to) runs here. */
export function requireFio(): void {
  const version = spawnSync('fio', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  requirePrerequisite(version.startsWith('fio-'), 'fio 3.33', 'test/prerequisites.sh installs it: apt-get install -y fio');
}
