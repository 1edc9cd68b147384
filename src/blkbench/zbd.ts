/**
 * fio's zonemode=zbd for the JS job loop: the zone table of addon/bench/zbd.cc, decision for
 * decision (the two loops issue the same requests). It moves each drawn request to where a zoned
 * device takes it: writes at the write pointer of a zone the job may hold open, reads below a write
 * pointer. A decision may need the loop first to let every request in flight complete (DRAIN) or to
 * reset a zone on the device (RESET); the loop then calls adjust() again with the same request.
 */
import type { JobLoopZones } from '../lib/bench';

export const ZBD = { accept: 0, eof: 1, drain: 2, reset: 3, fail: 4 } as const;
export type ZbdOutcome = (typeof ZBD)[keyof typeof ZBD];

const KIND_CONVENTIONAL = 0;
const KIND_OPEN = 2;
const KIND_OFFLINE = 3;
const UINT_MAX = 4294967295;
const EINVAL = 22;
const EIO = 5;

const enum Stage { Fresh, ScanAfterDrain, ResetAfterDrain, AfterReset }

export class ZoneTable {
  /** The request adjust() accepted: region-relative offset and length. */
  rel = 0;
  len = 0;
  /** The zone a RESET outcome asks to reset (its index in the table). */
  resetZone = 0;
  resets = 0;
  error = 0;
  message = '';

  private readonly start: Float64Array;
  private readonly capEnd: Float64Array;
  private readonly wp: Float64Array;
  private readonly hasWp: Uint8Array;
  private readonly offline: Uint8Array;
  private readonly open: Uint8Array;
  private readonly resetFlag: Uint8Array;
  private readonly n: number;
  private readonly openList: Uint32Array;
  private numOpen = 0;
  private readonly zoneSize: number;
  private readonly maxOpen: number;
  private readonly jobMaxOpen: number;
  private readonly threshold: number;
  private readonly frequency: number;
  private readonly readBeyondWp: boolean;
  private writeCnt: number;
  private dataBytes = 0;
  private wpDataBytes = 0;
  private stage = Stage.Fresh;
  private pending = 0;
  private readonly minRead: number;
  private readonly minWrite: number;

  constructor(
    spec: JobLoopZones, private readonly regionLen: number, private readonly random: boolean, private readonly mixed: boolean,
    private readonly verify: boolean, minRead: number, minWrite: number,
  ) {
    this.zoneSize = Math.max(1, spec.zoneSize);
    this.maxOpen = spec.maxOpenZones ?? 0;
    this.jobMaxOpen = spec.jobMaxOpenZones ?? 0;
    this.threshold = spec.resetThreshold ?? 1;
    this.frequency = spec.resetFrequency ?? 0;
    this.readBeyondWp = spec.readBeyondWp === true;
    this.minRead = Math.max(1, minRead);
    this.minWrite = Math.max(1, minWrite);
    this.openList = new Uint32Array(this.maxOpen + 1); // one slot past the limit stays 0, as in fio
    const zones = spec.zones.length > 0 ? spec.zones : [[0, 0, KIND_OFFLINE] as [number, number, number]];
    const n = (this.n = zones.length);
    this.start = new Float64Array(n);
    this.capEnd = new Float64Array(n);
    this.wp = new Float64Array(n);
    this.hasWp = new Uint8Array(n);
    this.offline = new Uint8Array(n);
    this.open = new Uint8Array(n);
    this.resetFlag = new Uint8Array(n);
    zones.forEach(([capacity, written, kind], i) => {
      const start = i * this.zoneSize;
      const cap = Math.min(capacity, this.zoneSize);
      this.start[i] = start;
      this.capEnd[i] = start + cap;
      this.hasWp[i] = kind !== KIND_CONVENTIONAL ? 1 : 0;
      this.offline[i] = kind === KIND_OFFLINE ? 1 : 0;
      this.wp[i] = this.hasWp[i] ? start + Math.min(written, cap) : start + cap;
      this.dataBytes += this.wp[i] - start;
      if (this.hasWp[i]) this.wpDataBytes += this.wp[i] - start;
    });
    spec.zones.forEach(([, , kind], i) => {
      if (kind === KIND_OPEN) this.openZone(i);
    });
    this.writeCnt = this.frequency > 0 ? Math.trunc(Math.min(1 / this.frequency, UINT_MAX)) : UINT_MAX;
  }

  /** fio's first-read rule for mixed jobs: a read when nothing is written yet is a write. */
  readsPossible(): boolean {
    return !this.mixed || this.dataBytes > 0;
  }

  get openCount(): number {
    return this.numOpen;
  }

  /** Moves a run-phase request (dir 0 read, 1 write) to where the zones take it; the result is in rel/len. */
  adjust(dir: number, rel: number, len: number, outstanding: number): ZbdOutcome {
    this.rel = rel;
    this.len = len;
    return dir === 0 ? this.read() : this.write(outstanding);
  }

  resetDone(zone: number): void {
    const data = this.wp[zone] - this.start[zone];
    this.dataBytes -= data;
    this.wpDataBytes -= data;
    this.wp[zone] = this.start[zone];
    this.resets++;
  }

  /** A write finished: one that reached its zone's end closes the zone. */
  writeCompleted(rel: number, len: number): void {
    const zi = this.zoneOf(rel);
    if (this.hasWp[zi] && rel + len >= this.capEnd[zi]) this.closeZone(zi);
  }

  private zoneOf(rel: number): number {
    return Math.min(Math.floor(rel / this.zoneSize), this.n - 1);
  }

  private pickOpen(rel: number): number {
    return Math.floor((Math.min(rel, this.regionLen) * this.numOpen) / Math.max(1, this.regionLen));
  }

  private full(zone: number): boolean {
    return this.hasWp[zone] === 1 && this.wp[zone] + this.minWrite > this.capEnd[zone];
  }

  private fail(err: number, msg: string): ZbdOutcome {
    this.error = err;
    this.message = msg;
    this.stage = Stage.Fresh;
    return ZBD.fail;
  }

  private findReadable(from: number, minBytes: number): number {
    for (let up = from + 1, down = from - 1; up < this.n || down >= 0; up++, down--) {
      if (up < this.n && !this.offline[up]) {
        if (this.start[up] + minBytes <= this.wp[up]) return up;
      } else if (!this.random) {
        break;
      }
      if (this.random && down >= 0 && !this.offline[down]) {
        if (this.start[down] + minBytes <= this.wp[down]) return down;
      }
    }
    return -1;
  }

  private read(): ZbdOutcome {
    let zi = this.zoneOf(this.rel);
    const drawnZoneStart = this.start[zi];
    if (!this.hasWp[zi]) return ZBD.accept;
    if (this.readBeyondWp && !this.offline[zi]) return ZBD.accept;
    let range = this.offline[zi] ? 0 : this.wp[zi] - this.start[zi];
    if (range < this.minRead || (!this.random && this.rel + this.minRead > this.wp[zi])) {
      const found = this.findReadable(zi, this.minRead);
      if (found < 0) return ZBD.eof;
      zi = found;
      range = this.wp[zi] - this.start[zi];
      if (!this.random) this.rel = this.start[zi];
    }
    if (range <= this.len) this.rel = this.start[zi];
    else if (this.random) {
      this.rel = this.start[zi] + Math.floor(((this.rel - drawnZoneStart) % (range - this.len)) / this.minRead) * this.minRead;
    }
    if (!this.hasWp[zi]) return ZBD.accept;
    const shorter = Math.floor(Math.min(this.len, this.wp[zi] - this.rel) / this.minRead) * this.minRead;
    if (shorter < this.len) this.len = shorter;
    return ZBD.accept;
  }

  private write(outstanding: number): ZbdOutcome {
    switch (this.stage) {
      case Stage.ScanAfterDrain: {
        this.stage = Stage.Fresh;
        const zone = this.scan(this.pending);
        if (zone < 0) return ZBD.eof;
        this.pending = zone;
        return this.chosen(outstanding);
      }
      case Stage.ResetAfterDrain:
        return this.resetOrWrite();
      case Stage.AfterReset:
        this.stage = Stage.Fresh;
        return this.finishWrite();
      default:
        break;
    }
    if (this.len > this.zoneSize) return this.fail(EINVAL, `block size ${this.len} is larger than the zone size ${this.zoneSize}`);
    const zi = this.zoneOf(this.rel);
    if (!this.hasWp[zi]) {
      // A conventional zone takes writes anywhere, but not across into a sequential zone after it.
      if (zi + 1 >= this.n || !this.hasWp[zi + 1] || this.rel + this.len <= this.start[zi + 1]) return ZBD.accept;
      const fit = this.start[zi + 1] - this.rel;
      this.len = Math.floor(Math.min(this.len, fit) / this.minWrite) * this.minWrite;
      return this.len > 0 ? ZBD.accept : ZBD.eof;
    }
    let zone = zi;
    if (!this.openZone(zi)) {
      const r = this.convert(outstanding);
      if (r < 0) return -r as ZbdOutcome;
      zone = r - 1;
    }
    this.pending = zone;
    return this.chosen(outstanding);
  }

  private chosen(outstanding: number): ZbdOutcome {
    const z = this.pending;
    if (this.frequency > 0 && this.wpDataBytes >= this.regionLen * this.threshold) {
      if (this.writeCnt > 0) this.writeCnt--;
      if (this.writeCnt === 0) {
        this.writeCnt = Math.trunc(Math.min(1 / this.frequency, UINT_MAX));
        this.resetFlag[z] = 1;
      }
    }
    if (!this.resetFlag[z] && !this.full(z)) return this.finishWrite();
    if (this.verify) return this.fail(EINVAL, 'a zone would be reset under verify (its verified data would be lost)');
    if (outstanding > 0) {
      this.stage = Stage.ResetAfterDrain;
      return ZBD.drain;
    }
    return this.resetOrWrite();
  }

  private resetOrWrite(): ZbdOutcome {
    const z = this.pending;
    this.resetFlag[z] = 0;
    if (this.wp[z] !== this.start[z]) {
      this.stage = Stage.AfterReset;
      this.resetZone = z;
      return ZBD.reset;
    }
    this.stage = Stage.Fresh;
    return this.finishWrite();
  }

  private finishWrite(): ZbdOutcome {
    const z = this.pending;
    if (this.capEnd[z] - this.start[z] < this.minWrite) {
      return this.fail(EINVAL, `zone capacity ${this.capEnd[z] - this.start[z]} is smaller than the block size ${this.minWrite}`);
    }
    const room = Math.max(0, this.capEnd[z] - this.wp[z]);
    const fit = Math.floor(Math.min(this.len, room) / this.minWrite) * this.minWrite;
    if (fit < this.minWrite) return this.fail(EIO, `zone remainder ${room} is smaller than the block size`);
    this.rel = this.wp[z];
    this.len = fit;
    const end = Math.min(this.rel + fit, this.capEnd[z]);
    this.dataBytes += end - this.wp[z];
    this.wpDataBytes += end - this.wp[z];
    this.wp[z] = end;
    return ZBD.accept;
  }

  private openZone(zone: number): boolean {
    if (this.offline[zone]) return false;
    if (this.verify && this.full(zone)) return false;
    if (this.maxOpen === 0) return true;
    if (this.open[zone]) return this.wp[zone] < this.capEnd[zone];
    if (this.jobMaxOpen > 0 && this.numOpen >= this.jobMaxOpen) return false;
    if (this.numOpen >= this.maxOpen) return false;
    this.openList[this.numOpen++] = zone;
    this.open[zone] = 1;
    return true;
  }

  private closeZone(zone: number): void {
    let i = 0;
    while (i < this.numOpen && this.openList[i] !== zone) i++;
    if (i === this.numOpen) return;
    this.openList.copyWithin(i, i + 1);
    this.numOpen--;
    this.open[zone] = 0;
  }

  /** The zone (+1) the write goes to instead, or -(outcome) when it cannot be chosen now. */
  private convert(outstanding: number): number {
    const tracking = this.maxOpen > 0;
    let idx = tracking ? this.openList[this.pickOpen(this.rel)] : this.zoneOf(this.rel);
    if (idx >= this.n) idx = this.n - 1;
    let examine = true;
    for (;;) {
      if (this.hasWp[idx]) {
        if (!this.offline[idx] && !tracking) break;
        if (this.numOpen === 0) {
          examine = false;
          break;
        }
      }
      if (this.numOpen === 0) return -ZBD.eof;
      let slot = this.pickOpen(this.rel);
      if (slot >= this.numOpen) slot = 0;
      const candidate = this.openList[slot];
      if (candidate === idx) break;
      idx = candidate;
    }
    if (examine && this.wp[idx] + this.minWrite <= this.capEnd[idx]) return idx + 1;
    const atLimit = this.numOpen === this.n || (this.maxOpen > 0 && this.numOpen === this.maxOpen) ||
      (this.jobMaxOpen > 0 && this.numOpen === this.jobMaxOpen);
    if (atLimit && outstanding > 0) {
      this.stage = Stage.ScanAfterDrain;
      this.pending = idx;
      return -ZBD.drain;
    }
    const zone = this.scan(idx);
    return zone < 0 ? -ZBD.eof : zone + 1;
  }

  private scan(idx: number): number {
    for (let i = Math.floor(this.regionLen / this.zoneSize); i > 0; i--) {
      if (++idx >= this.n) idx = 0;
      if (!this.hasWp[idx] || this.open[idx]) continue;
      if (this.openZone(idx)) return idx;
    }
    for (let i = 0; i < this.numOpen; i++) {
      const z = this.openList[i];
      if (this.wp[z] + this.minWrite <= this.capEnd[z]) return z;
    }
    return -1;
  }
}
