import * as assert from 'node:assert/strict';
import { exitallEndsRun, exitallStops } from '../../../src/blkbench/groups';
import { JobSpec } from '../../../src/blkbench/options';

const spec = (groupid: number, exitall = false, exitWhat: JobSpec['exitWhat'] = 'group') =>
  ({ groupid, exitall, exitWhat }) as JobSpec;

describe('blkbench exitall with exit_what', () => {
  it('stops nothing when the job that is done has no exitall', () => {
    assert.equal(exitallStops(spec(0), spec(0)), false);
    assert.equal(exitallEndsRun(spec(0, false, 'all')), false);
  });

  it('group stops the jobs of its own reporting group only', () => {
    assert.equal(exitallStops(spec(1, true), spec(1)), true);
    assert.equal(exitallStops(spec(1, true), spec(2)), false);
    assert.equal(exitallEndsRun(spec(1, true)), false);
  });

  it('stonewall stops every running job, and later jobs still run', () => {
    assert.equal(exitallStops(spec(1, true, 'stonewall'), spec(2)), true);
    assert.equal(exitallEndsRun(spec(1, true, 'stonewall')), false);
  });

  it('all stops every job and ends the run', () => {
    assert.equal(exitallStops(spec(1, true, 'all'), spec(2)), true);
    assert.equal(exitallEndsRun(spec(1, true, 'all')), true);
  });
});
