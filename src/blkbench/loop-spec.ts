/**
 * One definition of a job for both job loops: blkbench's options become the library's JobLoopSpec
 * once (jobLoopSpec), and the native loop (through the addon) and the JS loop (loop.ts) both read
 * that object. The helpers below are how the JS loop reads it, with the addon's defaults.
 */
import type { JobLoopBlockSizeSplit, JobLoopRw, JobLoopSpec, JobLoopZones } from '../lib/bench';
import { JobLogs } from './logs';
import { Direction, JobSpec } from './options';
import { Prng } from './random';

export type WriteDataOptions = NonNullable<JobLoopSpec['writeData']>;

/**
 * The job as both job loops take it (the addon's JobLoopSpec): blkbench's options plus where this
 * clone works. The seed is drawn here when randrepeat is off, so the caller may run the same spec twice.
 */
export function jobLoopSpec(
  spec: JobSpec,
  where: { regionStart: number; regionLength: number; ioLimit: number; jobIndex: number; traceLimit?: number; zbd?: JobLoopZones },
): JobLoopSpec {
  const bssplit = (d: Direction) => ({ sizes: spec.bs[d].sizes, weights: spec.bs[d].weights });
  return {
    rw: spec.rw,
    rwmixread: spec.rwmixread,
    bssplit: { read: bssplit('read'), write: bssplit('write'), trim: bssplit('trim') },
    blockalign: spec.blockalign ?? 0,
    seqAdd: spec.seqAdd,
    randomDistribution: spec.randomDistribution,
    iodepth: spec.iodepth,
    iodepthBatchSubmit: spec.iodepthBatchSubmit,
    iodepthBatchCompleteMin: spec.iodepthBatchCompleteMin,
    iodepthBatchCompleteMax: spec.iodepthBatchCompleteMax,
    ...where,
    loops: spec.loops,
    numberIos: spec.numberIos ?? 0,
    runtimeNs: spec.runtimeNs,
    timeBased: spec.timeBased,
    rampTimeNs: spec.rampTimeNs,
    startdelayNs: spec.startdelayNs,
    norandommap: spec.norandommap,
    seed: spec.randrepeat ? spec.randseed : Prng.randomSeed(),
    waitMode: spec.waitMode,
    verify: spec.verify,
    ...(spec.verifyInterval !== undefined ? { verifyInterval: spec.verifyInterval } : {}),
    ...(spec.verifyPattern !== undefined ? { verifyPattern: spec.verifyPattern } : {}),
    doVerify: spec.doVerify,
    writeData: writeDataOptions(spec),
    rate: spec.rate,
    rateIops: spec.rateIops,
    rateMin: spec.rateMin,
    thinktimeNs: spec.thinktimeNs,
    thinktimeSpinNs: spec.thinktimeSpinNs,
    thinktimeBlocks: spec.thinktimeBlocks,
    continueOnError: spec.continueOnError,
    vectored: spec.vectored,
    writeZeroesOnTrim: spec.writeZeroesOnTrim,
    logSamples: JobLogs.forJob(spec, 0) !== undefined,
    disableSlat: spec.disableSlat,
    disableClat: spec.disableClat,
    disableLat: spec.disableLat,
    switchEveryNs: spec.switchTo ? spec.switchEveryNs : 0,
  };
}

/** fio's buffer options as JobLoopSpec's writeData. */
export function writeDataOptions(spec: JobSpec): WriteDataOptions {
  return {
    zero: spec.zeroBuffers, refill: spec.refillBuffers, compressPercentage: spec.bufferCompressPercentage,
    compressChunk: spec.bufferCompressChunk, dedupePercentage: spec.dedupePercentage,
  };
}

/** The directions a job's rw issues, first the one a verifying job writes or checks. */
export function loopDirections(rw: JobLoopRw): Direction[] {
  const base = rw.startsWith('rand') ? rw.slice(4) : rw;
  if (base === 'rw' || base === 'readwrite') return ['read', 'write'];
  return [base as Direction];
}

export function isRandomRw(rw: JobLoopRw): boolean {
  return rw.startsWith('rand');
}

/** A direction's block sizes and weights: its bssplit, else its blockSize (default 4096). */
export function loopBlockSizes(job: JobLoopSpec, d: Direction): JobLoopBlockSizeSplit {
  const split = job.bssplit?.[d];
  if (split) return split;
  const bs = job.blockSize;
  const size = typeof bs === 'number' ? bs : bs?.[d] ?? 4096;
  return { sizes: [size], weights: [100] };
}
