/**
 * fio's job groups and ordering: a job with `stonewall` waits for every job before it and starts a
 * new reporting group; `new_group` starts a reporting group without waiting; `wait_for=NAME` starts a
 * job after the named one is done. Jobs run in batches: every job of a batch runs at once, batches
 * one after another.
 */
import { JobSpec } from './options';
import { checkSteadyStateGroups } from './steadystate';
import { OptionError } from './units';

/** Sets each job's groupid as fio numbers them, and checks that wait_for names an earlier job. */
export function assignGroups(specs: JobSpec[]): void {
  let group = 0;
  specs.forEach((spec, i) => {
    if (i > 0 && (spec.stonewall || spec.newGroup)) group++;
    spec.groupid = group;
    if (spec.waitFor !== undefined && !specs.slice(0, i).some((s) => s.name === spec.waitFor)) {
      throw new OptionError(`job '${spec.name}': 'wait_for=${spec.waitFor}' names no job before it`);
    }
  });
  checkSteadyStateGroups(specs);
}

/** Indices of the jobs, in batches that run one after another. */
export function runBatches(specs: JobSpec[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  specs.forEach((spec, i) => {
    const waitsInBatch = spec.waitFor !== undefined && current.some((j) => specs[j].name === spec.waitFor);
    if (current.length > 0 && (spec.stonewall || waitsInBatch)) {
      batches.push(current);
      current = [];
    }
    current.push(i);
  });
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Results as reported: each group with group_reporting merged into one. */
export function reportedResults<R extends { groupid: number; spec: JobSpec }>(all: R[], merge: (rs: R[]) => R): R[] {
  const out: R[] = [];
  const groups = [...new Set(all.map((r) => r.groupid))];
  for (const g of groups) {
    const members = all.filter((r) => r.groupid === g);
    if (members.some((r) => r.spec.groupReporting)) out.push(merge(members));
    else out.push(...members);
  }
  return out;
}

/**
 * fio's exitall with exit_what: whether `done` finishing stops `other`, a job of the same batch.
 * group: the jobs of its reporting group; stonewall and all: every running job.
 */
export function exitallStops(done: JobSpec, other: JobSpec): boolean {
  if (!done.exitall) return false;
  return done.exitWhat !== 'group' || other.groupid === done.groupid;
}

/** Whether `done` finishing ends the whole run (exit_what=all): no later batch starts. */
export function exitallEndsRun(done: JobSpec): boolean {
  return done.exitall && done.exitWhat === 'all';
}
