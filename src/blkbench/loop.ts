/**
 * The I/O loop of one job on one queue. This is the hot path: per request it draws an offset, enqueues
 * into a preallocated slot (buffer views made once), and on completion adds the latency to a histogram.
 * No allocation and no Promise per request. Requests are enqueued without syscalls and submitted by
 * doIo in batches (iodepth_batch_submit); completions are reaped in batches too.
 *
 * Clock points are fio's and the native loop's: slat runs from a request's preparation to the return
 * of the doIo that submitted it, clat from there to the return of the doIo that reaped it. The clock
 * is read once per doIo call, not per request: requests are only submitted and only observed complete
 * inside doIo, so this loses nothing.
 *
 * Semantics follow fio: requests are enqueued until iodepth_batch_submit are pending, then submitted;
 * completions are waited for only when the queue is full (or nothing is left to issue), at least
 * iodepth_batch_complete_min and at most iodepth_batch_complete_max of them.
 */
import { performance } from 'node:perf_hooks';
import { createCompletions } from '../lib';
import type { Completion, Queue } from '../lib';
import { BlockSizePicker, OffsetGenerator, PureRandomOffsets, RandomMapOffsets, SequentialOffsets } from './offsets';
import type { JobLoopSpec, JobLoopSwitches, JobLoopZones } from '../lib/bench';
import { summarizeSwitches, switchPaths } from './switch-report';
import { DIRECTIONS, Direction, JobSpec } from './options';
import { isRandomRw, jobLoopSpec, loopBlockSizes, loopDirections } from './loop-spec';
import { Prng } from './random';
import { Measurements } from './measurements';
import { CpuUsage, JobResult } from './results';
import { VerifyFailure, VerifyLayout, checkBlock, fillBlock } from './verify';
import { cpuNow, cpuSince } from './cpu';
import { DistributionOffsets, SkipSequentialOffsets } from './offsets-fio';
import { Pacer, pause } from './pace';
import { WriteData } from './write-data';
import { JobLogs } from './logs';
import { ZBD, ZoneTable } from './zbd';

/**
 * Values of the shared stop word: a job stops issuing when it is not RUNNING (a signal: STOP; an
 * exit_what=all job that is done: EXITALL, after which later jobs are reported as not run).
 */
export const STOP = { running: 0, stop: 1, exitall: 2 } as const;

// Directions as small integers on the hot path (trim is 2).
const READ = 0;
const WRITE = 1;
const DIR_NAMES: Direction[] = ['read', 'write', 'trim'];
/** userData of the flush before a switch (slots are 0...iodepth-1). */
const FLUSH_TAG = -1;

/** Phase codes, also written to the shared progress array. */
export const PHASE = { ramp: 1, run: 2, verify: 3, done: 4 } as const;
export const PHASE_NAMES = ['setup', 'ramp', 'run', 'verify', 'done'];

/** Layout of a job's progress slot in a shared Float64Array (read by the progress line). */
export const PROGRESS_FIELDS = 8; // phase, fraction done, bytes r/w/t, ios r/w/t
const SAMPLE_INTERVAL_MS = 500;
const PROGRESS_INTERVAL_MS = 100;

export interface LoopSetup {
  spec: JobSpec;
  /** Index of this clone among all jobs: seeds its random streams (without loopSpec). */
  jobIndex?: number;
  queue: Queue;
  completions: Completion[];
  /** The job's buffer memory (a mapped MemRegion's buffer) and where in it the slots start. */
  memory: ArrayBuffer;
  memoryOffset: number;
  /** Distance between slot buffers: max block size rounded up to buf-alignment. */
  slotStride: number;
  /** Absolute device offset of the region and its length (without loopSpec). */
  regionStart?: number;
  regionLen?: number;
  /** Bytes to do in the run phase before stopping, ignored when time_based (without loopSpec). */
  ioLimit?: number;
  /** Optional shared progress slot (PROGRESS_FIELDS doubles). */
  progress?: Float64Array;
  /** Called on the loop's thread about every 100 ms (a job on the main thread draws the progress line). */
  onTick?: () => void;
  /** Shared stop word (STOP), checked about every 100 ms: exitall and signals end every job early. */
  stop?: Int32Array;
  /** zonemode=zbd: the job's zones (without loopSpec). */
  zbd?: JobLoopZones;
  /** Test mode: record the first traceLimit requests issued (JobLoop.trace), as the native loop's traceLimit. */
  traceLimit?: number;
  /**
   * blkbench_switch_to: queues of other devices serving the same image, with `memory` mapped there
   * too; the loop alternates between `queue` and these every loopSpec.switchEveryNs.
   */
  switchQueues?: Queue[];
  /**
   * The job as the native loop takes it (jobLoopSpec of spec and this clone's region; built here when
   * not given). Every per-request decision reads it; spec only names the job in its result and logs.
   */
  loopSpec?: JobLoopSpec;
}

export class JobLoop {
  /** Names the job in its result and logs. */
  private readonly spec: JobSpec;
  /** The job itself, as the native loop takes it: every per-request decision reads this. */
  private readonly job: JobLoopSpec;
  private readonly rwmixread: number;
  /** The queue in use: queues[current]. */
  private q: Queue;
  private readonly queues: Queue[];
  private current = 0;
  /** Draining to move to the next queue (no request is issued meanwhile). */
  private switching = false;
  private switchStarted = 0;
  private nextSwitch = Infinity;
  private segmentStart = 0;
  private segmentBase: [number, number, number] = [0, 0, 0];
  private readonly switchRecord: JobLoopSwitches = { switches: [], segments: [] };
  private evented = false;
  private readonly comps: Completion[];
  private readonly depth: number;
  private readonly batchSubmit: number;
  private readonly completeMin: number;
  private readonly completeMax: number;

  // Per-slot state, indexed by the slot number passed as userData.
  private readonly slotOffset: Float64Array;
  private readonly slotLen: Float64Array;
  private readonly slotDir: Uint8Array;
  private readonly slotStart: Float64Array;
  /** When each slot's request was prepared (one clock read per issue() batch): slat's start. */
  private readonly slotIssued: Float64Array;
  /** views[slot * sizeCount + sizeIndex]: the slot's buffer cut to each block size in use. */
  private readonly views: Uint8Array[];
  private readonly iovecs: Uint8Array[][];
  private readonly sizeCount: number;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  private readonly pendingSlots: Int32Array;
  private pendingCount = 0;

  // What to issue.
  private readonly mixed: boolean;
  private readonly fixedDir: number;
  private readonly offsets: OffsetGenerator;
  /** The offsets when they come from fio's random map, which may trim a request. */
  private readonly randomMap: RandomMapOffsets | undefined;
  private readonly mixRng: Prng;
  private readonly pickers: BlockSizePicker[];
  /** pickerToView[dir][i]: index into the slot's views for the picker's size i. */
  private readonly pickerToView: number[][];
  private readonly regionStart: number;
  private readonly timeBased: boolean;
  private readonly ioLimit: number;
  private issuedBytes = 0;
  private issuedIos = 0;
  private stopIssuing = false;
  /** fio's loops: passes over the region left after this one (size-bound jobs). */
  private passesLeft: number;
  private readonly pacer: Pacer;
  /** A direction drawn but held back by the pacer; issued first next time (-1: none). */
  private heldDir = -1;
  private pacedUntil = 0;
  private readonly writeData: WriteData;
  private readonly stopWord: Int32Array | undefined;
  private ignoredErrors = 0;
  private readonly logs: JobLogs | undefined;
  /** zonemode=zbd: the zone table, and a request held until the requests in flight complete. */
  private readonly zones: ZoneTable | undefined;
  private readonly seqOffsets: SequentialOffsets | undefined;
  private zbdHeld = false;
  private zbdDir = 0;
  private zbdLen = 0;
  private zbdRel = 0;
  private zbdSizeIndex = 0;
  private readonly zbdCompletions: Completion[] = [];

  private readonly measured: Measurements;
  /** With traceLimit: [offset, length, direction, phase] of each request issued, as the native loop's result.trace. */
  readonly trace: Array<[number, number, number, number]> = [];
  private readonly traceLimit: number;

  // Time, in performance.now() milliseconds.
  private phase: number = PHASE.run;
  private startedAt = 0;
  private measureStart = 0;
  private lastCompletion = 0;
  /** The loop's latest clock read (after a doIo): when requests issued next were prepared (slat's start). */
  private lastClock = 0;
  /** When a write job's run phase ended, before its verify phase (the verify phase is not measured). */
  private runEndedAt: number | undefined;
  private rampEnd = Infinity;
  private runEnd = Infinity;
  private nextSample = Infinity;
  private nextTick = Infinity;
  private nextEvent = Infinity;
  private cpuStart: CpuUsage = { usrNs: 0, sysNs: 0, ctx: 0, majf: 0, minf: 0 };

  // Verification.
  private readonly verifyKind: Exclude<JobLoopSpec['verify'], 'none' | undefined> | undefined;
  /** verify_interval and verify_pattern. */
  private readonly verifyLayout: VerifyLayout;
  private readonly verifyReads: boolean;
  private readonly verifySeed: number;
  /** Blocks written in this job (only with verify on a write job), read back in the verify phase. */
  private readonly written: Uint8Array | undefined;
  private verifyCursor = 0;
  private verifiedBlocks = 0;
  private verifyFailure: VerifyFailure | null = null;

  private error = 0;
  private errorMessage: string | null = null;
  private readonly progress: Float64Array | undefined;
  private readonly onTick: (() => void) | undefined;

  constructor(setup: LoopSetup) {
    const spec = (this.spec = setup.spec);
    const job = (this.job = setup.loopSpec ?? jobLoopSpec(spec, {
      regionStart: setup.regionStart ?? 0, regionLength: setup.regionLen ?? 0, ioLimit: setup.ioLimit ?? setup.regionLen ?? 0,
      jobIndex: setup.jobIndex ?? 0, zbd: setup.zbd,
    }));
    this.measured = new Measurements({ slat: !job.disableSlat, clat: !job.disableClat, lat: !job.disableLat });
    const jobIndex = job.jobIndex ?? 0;
    const regionLen = job.regionLength;
    this.q = setup.queue;
    this.queues = [setup.queue, ...(setup.switchQueues ?? [])];
    this.comps = setup.completions;
    this.depth = job.iodepth ?? 1;
    this.batchSubmit = Math.max(1, job.iodepthBatchSubmit ?? 1);
    this.completeMin = job.iodepthBatchCompleteMin ?? 1;
    this.completeMax = Math.max(1, job.iodepthBatchCompleteMax ?? 0, this.completeMin);
    this.regionStart = job.regionStart ?? 0;
    this.timeBased = job.timeBased === true;
    this.ioLimit = job.ioLimit ?? regionLen;
    this.rwmixread = job.rwmixread ?? 50;
    this.progress = setup.progress;
    this.onTick = setup.onTick;
    this.traceLimit = setup.traceLimit ?? 0;

    const depth = this.depth;
    this.slotOffset = new Float64Array(depth);
    this.slotLen = new Float64Array(depth);
    this.slotDir = new Uint8Array(depth);
    this.slotStart = new Float64Array(depth);
    this.slotIssued = new Float64Array(depth);
    this.freeSlots = new Int32Array(depth);
    for (let i = 0; i < depth; i++) this.freeSlots[i] = depth - 1 - i;
    this.freeCount = depth;
    this.pendingSlots = new Int32Array(depth);

    const seed = job.seed ?? 0n;
    const dirs = loopDirections(job.rw);
    this.mixed = dirs.length > 1;
    this.fixedDir = DIR_NAMES.indexOf(dirs[0]);
    this.mixRng = new Prng(seed, jobIndex, 1);
    const sizeRng = new Prng(seed, jobIndex, 2);
    const bs = DIRECTIONS.map((d) => loopBlockSizes(job, d));
    this.pickers = bs.map((choice) => new BlockSizePicker(choice, sizeRng));

    const allSizes = [...new Set(bs.flatMap((choice) => choice.sizes))].sort((a, b) => a - b);
    this.sizeCount = allSizes.length;
    this.pickerToView = bs.map((choice) => choice.sizes.map((s) => allSizes.indexOf(s)));
    this.views = [];
    this.iovecs = [];
    for (let slot = 0; slot < depth; slot++) {
      for (const size of allSizes) {
        const view = new Uint8Array(setup.memory, setup.memoryOffset + slot * setup.slotStride, Math.min(size, setup.slotStride));
        this.views.push(view);
        this.iovecs.push([view]);
      }
    }

    // Random offsets are multiples of blockalign (fio's default: the smallest block size in use).
    const smallest = Math.min(...dirs.flatMap((d) => bs[DIRECTIONS.indexOf(d)].sizes));
    const unit = job.blockalign !== undefined && job.blockalign > 0 ? job.blockalign : smallest;
    const offsetRng = new Prng(seed, jobIndex, 0);
    this.passesLeft = (job.loops ?? 1) - 1;
    this.logs = JobLogs.forJob(spec, jobIndex);
    this.pacer = new Pacer(job);
    this.stopWord = setup.stop;
    this.writeData = new WriteData(job.writeData ?? {}, new Prng(seed, jobIndex, 3));
    const dist = job.randomDistribution ?? { kind: 'random' };
    const seqAdd = job.seqAdd ?? 0;
    if (!isRandomRw(job.rw) && seqAdd !== 0) this.offsets = new SkipSequentialOffsets(regionLen, seqAdd);
    else if (!isRandomRw(job.rw)) this.offsets = this.seqOffsets = new SequentialOffsets(regionLen);
    else if (dist.kind !== 'random') {
      this.offsets = new DistributionOffsets(regionLen, unit, { ...dist, param: dist.param ?? 0 }, offsetRng);
    } else if (job.norandommap) this.offsets = new PureRandomOffsets(regionLen, unit, offsetRng);
    else this.offsets = this.randomMap = new RandomMapOffsets(regionLen, unit, offsetRng, job.verify === undefined || job.verify === 'none');

    this.verifyKind = job.verify === undefined || job.verify === 'none' ? undefined : job.verify;
    if (dirs.includes('write') && this.verifyKind === undefined) {
      for (let slot = 0; slot < depth; slot++) this.writeData.fill(this.views[slot * this.sizeCount + this.sizeCount - 1]);
    }
    this.verifyReads = this.verifyKind !== undefined && dirs[0] === 'read';
    if (job.zbd) {
      const smallestOf = (d: number) => Math.min(...bs[d].sizes);
      this.zones = new ZoneTable(job.zbd, regionLen, isRandomRw(job.rw), this.mixed, this.verifyKind !== undefined, smallestOf(READ), smallestOf(WRITE));
      this.zbdCompletions = createCompletions(1);
    }
    this.verifySeed = Number(BigInt.asUintN(32, seed)) ^ jobIndex;
    this.verifyLayout = { interval: job.verifyInterval, pattern: job.verifyPattern ? Uint8Array.from(job.verifyPattern) : undefined };
    const readBack = this.verifyKind !== undefined && dirs[0] === 'write' && job.doVerify !== false;
    this.written = readBack ? new Uint8Array(Math.ceil(regionLen / unit)) : undefined;
  }

  /** Runs the job to the end on this thread (wait modes block and loop). */
  runSync(): JobResult {
    this.begin();
    const loopMode = this.job.waitMode === 'loop';
    for (;;) {
      this.issue();
      const outstanding = this.depth - this.freeCount;
      if (outstanding === 0 && this.switching) {
        if (this.switchWhenDrained()) continue;
        if (this.error !== 0) break;
      }
      if (outstanding === 0 && this.heldDir >= 0 && !this.stopIssuing) {
        this.waitForPace();
        continue;
      }
      if (outstanding === 0) {
        if (this.nextPhase()) continue;
        break;
      }
      if (this.freeCount > 0 && !this.stopIssuing && this.heldDir < 0 && !this.zbdHeld && !this.switching) {
        this.pump(0, 0); // a batch is ready and the queue has room: submit only, as fio does
        continue;
      }
      const min = Math.min(this.completeMin, outstanding);
      if (loopMode) {
        // Busy-poll: non-blocking doIo until something completes.
        while (this.pump(0, this.completeMax) === 0 && min > 0 && this.error === 0) { /* spin */ }
      } else {
        this.pump(min, Math.max(this.completeMax, min));
      }
    }
    return this.finish();
  }

  /** Runs the job driven by the completion fd from the event loop (wait mode eventfd). */
  runEvented(): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.q.setCompletionFdEnabled(true);
      this.evented = true;
      const step = () => {
        try {
          for (;;) {
            this.issue();
            const outstanding = this.depth - this.freeCount;
            if (outstanding === 0 && this.switching) {
              const old = this.q;
              const moved = this.switchWhenDrained();
              if (this.q !== old) {
                watcher.close(); // the completion fd to wait on is the new queue's
                watcher = this.q.watchCompletions(step);
                watcher.ref();
              }
              if (moved) continue;
            }
            if (outstanding === 0 && this.heldDir >= 0 && !this.stopIssuing) {
              this.waitForPace(); // paced with nothing in flight: sleep rather than spin the event loop
              continue;
            }
            if (outstanding === 0) {
              if (this.nextPhase()) continue;
              watcher.close();
              resolve(this.finish());
              return;
            }
            // Submit what is pending and take what is ready; wait for the fd only when nothing moved.
            const hadPending = this.pendingCount > 0;
            const reaped = this.pump(0, this.completeMax);
            if (reaped === 0 && !hadPending) return;
          }
        } catch (e) {
          watcher.close();
          reject(e);
        }
      };
      let watcher = this.q.watchCompletions(step);
      watcher.ref(); // keep the process alive while this job has requests in flight
      this.begin();
      step();
    });
  }

  private begin(): void {
    pause((this.job.startdelayNs ?? 0) / 1e6, false, this.stopWord); // fio's startdelay: before the job's clock starts
    if (this.stopRequested()) this.stopIssuing = true;
    const now = performance.now();
    this.startedAt = now;
    this.lastCompletion = now;
    this.lastClock = now;
    this.pacer.begin(now);
    if ((this.job.rampTimeNs ?? 0) > 0) {
      this.phase = PHASE.ramp;
      this.rampEnd = now + this.job.rampTimeNs! / 1e6;
    } else {
      this.startMeasuring(now);
    }
    this.nextTick = now + PROGRESS_INTERVAL_MS;
    this.segmentStart = now;
    const every = this.job.switchEveryNs ?? 0;
    if (this.queues.length > 1 && every > 0) this.nextSwitch = now + every / 1e6;
    this.updateNextEvent();
  }

  private startMeasuring(now: number): void {
    this.phase = PHASE.run;
    this.measureStart = now;
    const runtimeNs = this.job.runtimeNs ?? 0;
    this.runEnd = runtimeNs > 0 ? now + runtimeNs / 1e6 : Infinity;
    this.nextSample = now + SAMPLE_INTERVAL_MS;
    this.issuedBytes = 0;
    this.issuedIos = 0;
    this.pacer.begin(now);
    this.measured.reset();
    this.segmentBase = [0, 0, 0]; // the counters restart from 0
    this.cpuStart = cpuNow();
  }

  /** Fills free slots until a submit batch is pending or nothing is left to issue. */
  private issue(): void {
    const q = this.q;
    const tIssue = this.lastClock; // no clock read of its own: the hot path reads the clock per doIo only
    while (this.freeCount > 0 && !this.stopIssuing && !this.switching) {
      const verifying = this.phase === PHASE.verify;
      let dir: number;
      let sizeIndex: number;
      let len: number;
      let rel: number;
      if (this.zbdHeld && !verifying) {
        if (this.freeCount < this.depth) break; // held until everything in flight has completed
        dir = this.zbdDir;
        len = this.zbdLen;
        rel = this.zbdRel;
        sizeIndex = this.zbdSizeIndex;
      } else {
        dir = this.heldDir >= 0 ? this.heldDir
          : verifying ? READ : this.mixed ? (this.mixRng.nextBelow(100) < this.rwmixread ? READ : WRITE) : this.fixedDir;
        // zonemode=zbd, as fio: a mixed job writes until there is something to read.
        if (this.zones && !verifying && dir === READ && !this.zones.readsPossible()) dir = WRITE;
        if (this.pacer.active && !verifying) {
          const now = performance.now();
          const wait = this.pacer.delay(dir, now);
          if (wait > 0) {
            this.heldDir = dir;
            this.pacedUntil = now + wait;
            break;
          }
        }
        this.heldDir = -1;
        const picker = this.pickers[dir];
        sizeIndex = picker.fixed !== 0 ? 0 : picker.pick();
        len = picker.sizes[sizeIndex];
        rel = verifying ? this.nextVerifyOffset(len) : this.nextOffset(len);
        if (rel < 0 && picker.fixed === 0 && !verifying && !this.stopIssuing) {
          // Variable block sizes: as fio, finish the region with a smaller size that still fits.
          for (let i = 0; i < picker.sizes.length && rel < 0; i++) {
            if (picker.sizes[i] >= len) continue;
            sizeIndex = i;
            len = picker.sizes[i];
            rel = this.nextOffset(len);
          }
        }
        if (rel < 0) {
          this.stopIssuing = true;
          break;
        }
        if (this.randomMap !== undefined && !verifying) len = this.randomMap.granted;
      }
      if (this.zones && !verifying) {
        if (!this.placeInZones(dir, rel, len)) {
          this.zbdSizeIndex = sizeIndex;
          break;
        }
        rel = this.zones.rel;
        len = this.zones.len; // possibly shortened to the zone's room: a view of its own below
      }
      const slot = this.freeSlots[--this.freeCount];
      const off = this.regionStart + rel;
      this.slotOffset[slot] = off;
      this.slotLen[slot] = len;
      this.slotDir[slot] = dir;
      this.slotIssued[slot] = tIssue;
      if (this.trace.length < this.traceLimit) this.trace.push([off, len, dir, this.phase]);
      const vi = slot * this.sizeCount + this.pickerToView[dir][sizeIndex];
      // A request the random map trimmed or a zone shortened gets a view of its own (the only allocation, and only then).
      const view = this.views[vi].length === len ? this.views[vi] : this.views[vi].subarray(0, len);
      const iovec = view === this.views[vi] ? this.iovecs[vi] : [view];
      if (dir === READ) {
        if (this.job.vectored) q.readv(off, iovec, slot);
        else q.read(off, view, slot);
      } else if (dir === WRITE) {
        if (this.verifyKind !== undefined) {
          fillBlock(view, off, this.verifyKind, this.verifySeed, this.verifyLayout);
          if (this.written) this.written[Math.floor(rel / len)] = 1;
        } else if (this.writeData.perRequest) {
          this.writeData.fill(view);
        }
        if (this.job.vectored) q.writev(off, iovec, slot);
        else q.write(off, view, slot);
      } else if (this.job.writeZeroesOnTrim) {
        q.writeZeroes(off, len, slot);
      } else {
        q.discard(off, len, slot);
      }
      this.issuedBytes += len;
      this.issuedIos++;
      if (this.pacer.active) this.pacer.issued(dir, len, performance.now());
      this.pendingSlots[this.pendingCount++] = slot;
      if (this.pendingCount >= this.batchSubmit) break;
    }
  }

  /** zonemode=zbd: moves the drawn request to where the zones take it (zones.rel/len); false when it is held or the job is done. */
  private placeInZones(dir: number, rel: number, len: number): boolean {
    const zones = this.zones!;
    for (;;) {
      const outcome = zones.adjust(dir, rel, len, this.depth - this.freeCount);
      switch (outcome) {
        case ZBD.accept:
          this.zbdHeld = false;
          this.seqOffsets?.seek(zones.rel + zones.len); // the sequential cursor follows the write pointer, as in fio
          return true;
        case ZBD.drain:
          this.zbdHeld = true;
          this.zbdDir = dir;
          this.zbdRel = rel;
          this.zbdLen = len;
          return false;
        case ZBD.reset:
          if (!this.resetZone(zones.resetZone)) {
            this.zbdHeld = false;
            return false;
          }
          zones.resetDone(zones.resetZone);
          continue;
        case ZBD.eof:
          this.zbdHeld = false;
          this.stopIssuing = true;
          return false;
        default:
          this.zbdHeld = false;
          if (this.error === 0) {
            this.error = zones.error;
            this.errorMessage = `zonemode=zbd: ${zones.message}`;
          }
          this.stopIssuing = true;
          return false;
      }
    }
  }

  /** Resets one zone on the device and waits for it (nothing else is in flight). */
  private resetZone(zone: number): boolean {
    const zbd = this.job.zbd!;
    if (zbd.emulated) return true;
    const offset = this.regionStart + zone * zbd.zoneSize;
    try {
      this.q.resetZone(offset, -1);
      while (this.q.doIo(this.zbdCompletions, 1, 1) === 0) { /* until the reset completes */ }
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
    const c = this.zbdCompletions[0];
    if (c.ret < 0) {
      if (this.error === 0) {
        this.error = -c.ret;
        this.errorMessage = `reset of the zone at offset ${offset} failed: ${c.errorMsg ?? `errno ${-c.ret}`}`;
      }
      this.stopIssuing = true;
      return false;
    }
    return true;
  }

  private nextOffset(len: number): number {
    const numberIos = this.job.numberIos ?? 0;
    if (this.phase === PHASE.run && numberIos > 0 && this.issuedIos >= numberIos) return -1;
    if (!this.timeBased && this.phase === PHASE.run && this.issuedBytes >= this.ioLimit) {
      if (this.passesLeft <= 0) return -1;
      this.passesLeft--; // fio's loops: the same region again
      this.issuedBytes = 0;
      this.offsets.reset();
    }
    let rel = this.offsets.next(len);
    if (rel < 0) {
      // End of a pass over the region: a size-bound job is done (or loops again), a time-based one starts over.
      if (!this.timeBased && this.phase === PHASE.run && this.passesLeft <= 0) return -1;
      if (!this.timeBased && this.phase === PHASE.run) {
        this.passesLeft--;
        this.issuedBytes = 0;
      }
      this.offsets.reset();
      rel = this.offsets.next(len);
    }
    return rel;
  }

  private nextVerifyOffset(len: number): number {
    const written = this.written!;
    while (this.verifyCursor < written.length && written[this.verifyCursor] === 0) this.verifyCursor++;
    if (this.verifyCursor >= written.length) return -1;
    return this.verifyCursor++ * len;
  }

  /**
   * Submits pending requests, then reaps between min and max completions; returns how many. As fio
   * and the native loop: a submission is a call of its own, and the clock read after it ends the
   * submitted requests' slat and starts their clat; the clock read after the reap ends clat.
   */
  private pump(min: number, max: number): number {
    const pending = this.pendingCount;
    if (pending > 0) {
      this.pendingCount = 0;
      this.measured.submitted(pending, this.depth - this.freeCount);
      try {
        this.q.doIo(this.comps, 0, 0);
      } catch (e) {
        this.fail(e as Error);
        return 0;
      }
      const t = performance.now();
      this.lastClock = t;
      const starts = this.slotStart;
      const slots = this.pendingSlots;
      for (let i = 0; i < pending; i++) starts[slots[i]] = t;
      if (max === 0) {
        if (t >= this.nextEvent) this.timeEvents(t);
        return 0;
      }
    }
    let n: number;
    try {
      n = this.q.doIo(this.comps, min, max);
    } catch (e) {
      this.fail(e as Error);
      n = 0;
    }
    const t1 = performance.now();
    this.lastClock = t1;
    if (n > 0) {
      this.measured.reaped(n);
      this.complete(n, t1);
      this.lastCompletion = t1;
    }
    if (t1 >= this.nextEvent) this.timeEvents(t1);
    return n;
  }

  private complete(n: number, t1: number): void {
    const comps = this.comps;
    for (let i = 0; i < n; i++) {
      const c = comps[i];
      const slot = c.userData as number;
      const dir = this.slotDir[slot];
      // zonemode=zbd: a write that reached its zone's end closes the zone, as fio's accounting does.
      if (this.zones && dir === WRITE && this.phase !== PHASE.verify) this.zones.writeCompleted(this.slotOffset[slot] - this.regionStart, this.slotLen[slot]);
      if (c.ret < 0) {
        this.requestFailed(slot, c.ret, c.errorMsg);
      } else if (this.phase === PHASE.verify) {
        this.checkRead(slot); // read-back after a write job: checked, not counted as the job's I/O
      } else {
        const submittedAt = this.slotStart[slot];
        const slat = Math.max(0, Math.round((submittedAt - this.slotIssued[slot]) * 1e6));
        const clat = Math.round((t1 - submittedAt) * 1e6);
        this.measured.add(dir, slat, clat, this.slotLen[slot]);
        if (this.logs && this.phase === PHASE.run) this.logs.add(t1 - this.measureStart, dir, slat, clat, this.slotLen[slot], this.slotOffset[slot]);
        if (this.verifyReads) this.checkRead(slot);
      }
      this.freeSlots[this.freeCount++] = slot;
    }
  }

  private checkRead(slot: number): void {
    const view = this.views[slot * this.sizeCount + this.pickerToView[READ][0]];
    const failure = checkBlock(view, this.slotOffset[slot], this.verifyKind!, this.verifyLayout);
    this.verifiedBlocks++;
    if (failure && !this.verifyFailure) {
      this.verifyFailure = failure;
      this.error = 84; // EILSEQ, as fio reports verify failures
      this.errorMessage = failure.message;
      this.stopIssuing = true;
    }
  }

  private requestFailed(slot: number, ret: number, msg: string | null): void {
    if (this.continuesOn(this.slotDir[slot])) {
      this.ignoredErrors++; // continue_on_error: counted, and the job goes on
      return;
    }
    if (this.error !== 0) return;
    this.error = -ret;
    const dir = DIR_NAMES[this.slotDir[slot]];
    this.errorMessage = `${dir} of ${this.slotLen[slot]} bytes at offset ${this.slotOffset[slot]} failed: ${msg ?? `errno ${-ret}`}`;
    this.stopIssuing = true;
  }

  private fail(e: Error & { errno?: number }): void {
    if (this.error === 0) {
      this.error = e.errno !== undefined ? Math.abs(e.errno) : 5;
      this.errorMessage = e.message;
    }
    this.stopIssuing = true;
    // doIo itself failed: nothing more will complete, so forget what is outstanding.
    this.pendingCount = 0;
    for (let s = 0; s < this.depth; s++) this.freeSlots[s] = s;
    this.freeCount = this.depth;
  }

  private timeEvents(now: number): void {
    if (this.phase === PHASE.ramp && now >= this.rampEnd) {
      this.rampEnd = Infinity;
      this.startMeasuring(now);
    }
    if (this.phase === PHASE.run && now >= this.runEnd) {
      this.runEnd = Infinity;
      this.stopIssuing = true;
    }
    if (now >= this.nextSwitch && !this.switching) {
      this.switching = true; // stop issuing; once drained, the loop moves to the next queue
      this.switchStarted = now;
      this.nextSwitch = Infinity;
    }
    if (now >= this.nextSample) {
      this.measured.sample((now - this.nextSample + SAMPLE_INTERVAL_MS) / 1000);
      this.nextSample = now + SAMPLE_INTERVAL_MS;
    }
    if (this.stopWord !== undefined && Atomics.load(this.stopWord, 0) !== STOP.running && this.phase !== PHASE.verify) {
      this.stopIssuing = true;
      this.heldDir = -1;
    }
    if (now >= this.nextTick) {
      this.publishProgress(now);
      this.onTick?.();
      this.nextTick = now + PROGRESS_INTERVAL_MS;
    }
    this.updateNextEvent();
  }

  /** Sleeps (or spins, for thinktime_spin) until the pacer lets the held request go, watching the clock's events. */
  private waitForPace(): void {
    const now = performance.now();
    const until = Math.min(this.pacedUntil, this.nextEvent);
    pause(until - now, this.pacer.spinning(now), this.stopWord);
    const t = performance.now();
    this.lastClock = t; // slat of the paced request starts when the pause ends
    if (this.stopRequested()) {
      this.stopIssuing = true;
      this.heldDir = -1;
    }
    if (t >= this.nextEvent) this.timeEvents(t);
  }

  /** rate_min: a direction that did I/O below its minimum bandwidth fails the job, as in fio. */
  private checkRateMin(runtimeNs: number): void {
    if (this.error !== 0 || runtimeNs <= 0) return;
    for (let d = 0; d < 3; d++) {
      const min = this.job.rateMin?.[DIR_NAMES[d]] ?? 0;
      const bytes = this.measured.bytes[d];
      if (min <= 0 || bytes === 0) continue;
      const bw = bytes / (runtimeNs / 1e9);
      if (bw < min) {
        this.error = 5; // EIO, as fio fails a job whose minimum rate is not met
        this.errorMessage = `${DIR_NAMES[d]}: min rate ${min} B/s not met, got ${Math.floor(bw)} B/s`;
        return;
      }
    }
  }

  private stopRequested(): boolean {
    return this.stopWord !== undefined && Atomics.load(this.stopWord, 0) !== STOP.running;
  }

  private continuesOn(dir: number): boolean {
    const c = this.job.continueOnError ?? 'none';
    return c === 'all' || c === 'io' || (c === 'read' && dir === READ) || (c === 'write' && dir === WRITE);
  }

  private updateNextEvent(): void {
    this.nextEvent = Math.min(this.rampEnd, this.runEnd, this.nextSample, this.nextTick, this.nextSwitch);
  }

  private publishProgress(now: number): void {
    const p = this.progress;
    if (!p) return;
    p[0] = this.phase;
    p[1] = this.fractionDone(now);
    for (let d = 0; d < 3; d++) {
      p[2 + d] = this.measured.bytes[d];
      p[5 + d] = this.measured.ios[d];
    }
  }

  private fractionDone(now: number): number {
    const rampMs = (this.job.rampTimeNs ?? 0) / 1e6;
    const runMs = (this.job.runtimeNs ?? 0) / 1e6;
    const elapsed = now - this.startedAt;
    const byTime = runMs > 0 ? elapsed / (rampMs + runMs) : 0;
    if (this.phase === PHASE.verify) return 1;
    if (this.timeBased) return Math.min(1, byTime);
    const byBytes = this.phase === PHASE.ramp ? 0 : this.issuedBytes / Math.max(1, this.ioLimit);
    return Math.min(1, Math.max(byTime, byBytes));
  }

  /**
   * Nothing in flight and a switch due: flush the old queue if the job writes (so every write it
   * acknowledged is on the image whichever backend serves it next), then go on with the next queue,
   * the job's state (offsets, verify marks, pacing, counters) as it is. False when no switch was made
   * (the phase ended while draining, or the flush failed).
   */
  private switchWhenDrained(): boolean {
    this.switching = false;
    if (this.stopIssuing) return false; // the next phase (a verify pass) switches on time
    if ((this.mixed || this.fixedDir !== READ) && !this.flushBeforeSwitch()) return false;
    const now = performance.now();
    this.closeSegment(now);
    if (this.evented) this.q.setCompletionFdEnabled(false);
    const from = this.current;
    this.current = (this.current + 1) % this.queues.length;
    this.q = this.queues[this.current];
    if (this.evented) this.q.setCompletionFdEnabled(true);
    const resumed = performance.now();
    this.lastClock = resumed;
    this.switchRecord.switches.push({
      atNs: Math.round((this.switchStarted - this.startedAt) * 1e6), pauseNs: Math.round((resumed - this.switchStarted) * 1e6), from, to: this.current,
    });
    this.segmentStart = resumed;
    this.nextSwitch = resumed + (this.job.switchEveryNs ?? 0) / 1e6;
    this.updateNextEvent();
    return true;
  }

  private flushBeforeSwitch(): boolean {
    try {
      this.q.flush(FLUSH_TAG);
      for (;;) {
        const n = this.q.doIo(this.comps, 1, 1);
        if (n === 0) continue;
        const c = this.comps[0];
        if (c.ret < 0) throw Object.assign(new Error(`flush before a switch failed: ${c.errorMsg ?? `errno ${-c.ret}`}`), { errno: -c.ret });
        return true;
      }
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
  }

  /** Ends the stretch on the current queue: what completed there since it began. */
  private closeSegment(now: number): void {
    if (this.queues.length < 2) return;
    const totals = this.measured.totals();
    this.switchRecord.segments.push({
      path: this.current, startNs: Math.round((this.segmentStart - this.startedAt) * 1e6), endNs: Math.round((now - this.startedAt) * 1e6),
      ios: totals[0] - this.segmentBase[0], bytes: totals[1] - this.segmentBase[1], latSumNs: totals[2] - this.segmentBase[2],
    });
    this.segmentBase = totals;
  }

  /** Moves to the next phase when the queue has drained; false when the job is done. */
  private nextPhase(): boolean {
    if (!this.stopIssuing) return true; // nothing outstanding yet: keep issuing
    if (this.phase === PHASE.ramp) {
      // Ran out of work during ramp time: measure what is left from here.
      this.startMeasuring(performance.now());
      this.stopIssuing = this.error !== 0;
      return !this.stopIssuing;
    }
    if (this.phase === PHASE.run && this.written && this.error === 0) {
      this.phase = PHASE.verify;
      this.runEndedAt = this.lastCompletion;
      this.stopIssuing = false;
      this.zbdHeld = false;
      return true;
    }
    return false;
  }

  private finish(): JobResult {
    const end = this.runEndedAt ?? this.lastCompletion;
    const cpu = cpuSince(this.cpuStart);
    this.phase = PHASE.done;
    this.publishProgress(performance.now());
    const runtimeNs = Math.max(0, Math.round((end - this.measureStart) * 1e6));
    this.checkRateMin(runtimeNs);
    this.closeSegment(performance.now());
    this.logs?.write(end - this.measureStart);
    return {
      name: this.spec.name,
      jobs: 1,
      groupid: this.spec.groupid,
      spec: this.spec,
      runtimeNs,
      elapsedNs: Math.round((performance.now() - this.startedAt) * 1e6),
      dirs: this.measured.directions(),
      cpu,
      depth: this.measured.depthCounts(),
      error: this.error,
      errorMessage: this.errorMessage,
      verifiedBlocks: this.verifiedBlocks,
      ignoredErrors: this.ignoredErrors,
      zoneResets: this.zones?.resets,
      ...(this.queues.length > 1 ? { switching: summarizeSwitches(this.switchRecord, switchPaths(this.spec)) } : {}),
    };
  }
}
