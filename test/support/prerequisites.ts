// A missing prerequisite (a tool, a package, a build product the suite needs)
// is not a regression: the reporter counts it apart from failures, and CI
// fails on either. The message names what is missing and how to get it.

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
