/**
 * fio's job options, as blkbench understands them. The options themselves are the table in
 * option-table.ts; this file gathers raw settings (from a job file or the command line, so that the
 * JSON report can echo them as fio does) and resolves them into a typed JobSpec, with the checks that
 * involve more than one option.
 */
import { OPTIONS, OPTION_BY_NAME, OptionDef, OptionKey, OptionValues, UNSUPPORTED } from './option-table';
import { checkSwitching } from './switch-options';
import { CPU_ENGINE, DIRECTIONS, DRIVERS, Direction, FILE_ENGINES, FILE_OP_ENGINES, KERNEL_ENGINES, NET_ENGINE, NULL_ENGINE, RwMode } from './option-values';
import { OptionError } from './units';
import { SINK_ENGINES } from './option-values';
import { checkProgramEngines } from './program-engines';

export { DIRECTIONS, RW_MODES, VERIFY_KINDS, parseBssplit, parsePropList } from './option-values';
export type { BlockSizeChoice, Direction, RwMode, VerifyKind } from './option-values';
export { WAIT_MODES } from './option-table';
export type { WaitMode } from './option-table';

export { CPU_ENGINE, DRIVERS, FILE_ENGINES, FILE_OP_ENGINES, KERNEL_ENGINES, NET_ENGINE, NULL_ENGINE } from './option-values';

export type JobSpec = Omit<OptionValues, 'rw' | 'rwmixwrite' | 'buffered' | 'ioengine' | 'bsrange' | 'bssplit' | 'filename'> & {
  name: string;
  /** The libblkio driver: a built-in one, or another through the koffi loader ("libblkio:NAME"). */
  driver: string;
  /** The engine as written (fio's name), e.g. libaio for a job that runs on io_uring. */
  engine: string;
  path: string | undefined;
  rw: RwMode;
  /** Bytes added after each sequential I/O (rw=read:8k); negative goes backwards. */
  seqAdd: number;
  /** fio's reporting group: a new one starts at each stonewall or new_group. */
  groupid: number;
  /** Job-level notes for options accepted without effect (shown once per run). */
  notes: string[];
  /** The options as written, echoed in the JSON report's "job options" (flags without a value left out). */
  echo: Record<string, string>;
};

/** Raw options of one job: canonical name → value (undefined for a bare flag). Later settings win. */
export type RawOptions = Map<string, string | undefined>;

function defOf(name: string): OptionDef<unknown> {
  return OPTIONS[OPTION_BY_NAME.get(name) as OptionKey] as OptionDef<unknown>;
}

/** fio spells options with underscores; blkbench also takes hyphens ("--time-based"). */
export function canonicalOptionName(written: string): string {
  const n = written.trim().toLowerCase().replace(/-/g, '_');
  const key = OPTION_BY_NAME.get(n);
  if (key === undefined) {
    if (n in UNSUPPORTED) throw new OptionError(`option '${written}' is not supported: ${UNSUPPORTED[n]}`);
    throw new OptionError(`unknown option '${written}'`);
  }
  return OPTIONS[key].names[0];
}

/**
 * Records one option into a job's raw options, checking the name and the value (so a job file's
 * error names its line).
 */
export function setRawOption(raw: RawOptions, written: string, value: string | undefined): void {
  let name = canonicalOptionName(written);
  const def = defOf(name);
  if (value === undefined && !def.flag) throw new OptionError(`option '${written}' needs a value`);
  if (value !== undefined) def.parse(value);
  if (def.storeAs) [name, value] = def.storeAs(value ?? '1');
  raw.delete(name); // keep insertion order = order of last setting
  raw.set(name, value);
}

/** Turns one job's raw options into a checked JobSpec. */
export function resolveJob(name: string, raw: RawOptions): JobSpec {
  const v = {} as Record<string, unknown>;
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const def = OPTIONS[key] as OptionDef<unknown>;
    const canonical = def.names[0];
    v[key] = raw.has(canonical) ? (raw.get(canonical) === undefined ? def.parse('1') : def.parse(raw.get(canonical)!)) : def.default;
  }
  const o = v as OptionValues;
  const notes: string[] = [];
  for (const [k] of raw) {
    const def = defOf(k);
    if (def.note) notes.push(`option '${k}' is accepted but ${def.note}`);
  }

  if (o.jobLoop === 'js') {
    for (const [k] of raw) {
      if (defOf(k).loop === 'native') throw new OptionError(`option '${k}' is done only by the native job loop, not by blkbench_loop=js`);
    }
  }
  const { driver, engineNote } = resolveEngine(o.ioengine, o.libblkio_driver, raw.has('ioengine'));
  if (engineNote) notes.unshift(engineNote);

  let bs = o.bs;
  if (o.bsrange) bs = o.bsrange;
  if (o.bssplit) bs = o.bssplit;

  const iodepth = o.iodepth;
  const batchSubmit = o.iodepthBatchSubmit || iodepth; // fio: 0 means "the whole iodepth"
  const completeMin = o.iodepthBatchCompleteMin;
  if (raw.has('iodepth_batch_complete_max') && o.iodepthBatchCompleteMax < completeMin) {
    throw new OptionError(
      `option 'iodepth_batch_complete_max' (${o.iodepthBatchCompleteMax}) is below 'iodepth_batch_complete_min' (${completeMin})`,
    );
  }
  if (o.hipri && o.waitMode === 'eventfd') {
    throw new OptionError(`option 'hipri' cannot be used with 'libblkio_wait_mode=eventfd': poll queues have no completion fd`);
  }

  const { rw: rwSpec, rwmixwrite: _w, buffered: _b, ioengine, bsrange: _r, bssplit: _s, filename, ...rest } = o;
  const spec: JobSpec = {
    ...rest,
    name,
    driver,
    engine: ioengine,
    // fio's hostname is the net engine's filename.
    path: rest.hostname ?? (filename === undefined ? undefined : filename.replace(/\\:/g, ':')),
    rw: rwSpec.mode,
    seqAdd: rwSpec.seqAdd,
    bs,
    iodepthBatchSubmit: Math.min(batchSubmit, iodepth),
    iodepthBatchCompleteMin: Math.min(completeMin, iodepth),
    iodepthBatchCompleteMax: Math.min(Math.max(o.iodepthBatchCompleteMax, completeMin), iodepth),
    groupid: 0,
    notes,
    echo: {},
  };
  // fio: a bare write_*_log names the files after the job.
  for (const k of ['writeLatLog', 'writeBwLog', 'writeIopsLog', 'writeHistLog'] as const) {
    if (spec[k] === '1' || spec[k] === '') spec[k] = name;
  }
  if (spec.gtodReduce) {
    // fio's gtod_reduce: every measurement that needs a clock read per request, and their percentiles.
    Object.assign(spec, { disableLat: true, disableClat: true, disableSlat: true, clatPercentiles: false, latPercentiles: false });
  }
  if (spec.timeBased && spec.runtimeNs === 0) throw new OptionError(`option 'time_based' needs 'runtime'`);
  if (spec.thinktimeSpinNs > spec.thinktimeNs) throw new OptionError(`option 'thinktime_spin' is longer than 'thinktime'`);
  // fio: a pattern alone is verify=pattern.
  if (spec.verifyPattern !== undefined && !raw.has('verify')) spec.verify = 'pattern';
  if (spec.verify !== 'none') checkVerifiable(spec);
  else if (spec.verifyPattern !== undefined) throw new OptionError(`option 'verify_pattern' cannot be used with verify=none: only verify writes the pattern`);
  if (spec.zonemode === 'zbd') checkZoned(spec);
  if (spec.driver === NULL_ENGINE) checkNullEngine(spec);
  if (spec.driver in FILE_ENGINES) checkFileEngine(spec);
  if (spec.driver in FILE_OP_ENGINES) checkFileOpEngine(spec);
  else if (spec.nrfiles > 1) {
    throw new OptionError(`option 'nrfiles=${spec.nrfiles}': more than one file per job is only for ioengine=filecreate, filestat and filedelete (use numjobs)`);
  }
  if (raw.has('stat_type') && spec.driver !== 'filestat') throw new OptionError(`option 'stat_type' needs ioengine=filestat`);
  if (spec.driver === CPU_ENGINE) setUpCpuEngine(spec);
  else for (const k of ['cpuload', 'cpumode', 'cpuchunks']) if (raw.has(k)) throw new OptionError(`option '${k}' needs ioengine=cpuio`);
  if (spec.driver === NET_ENGINE) checkNetEngine(spec, raw);
  else for (const k of NET_OPTIONS) if (raw.has(k)) throw new OptionError(`option '${k}' needs ioengine=net`);
  checkSwitching(spec);
  checkProgramEngines(spec, raw);
  for (const [k, val] of raw) if (val !== undefined) spec.echo[k] = val;
  return spec;
}

/** The driver for an ioengine (and libblkio_driver), and the note for engines that run on io_uring. */
function resolveEngine(engine: string, libblkioDriver: string | undefined, engineGiven: boolean): { driver: string; engineNote?: string } {
  if ((KERNEL_ENGINES as readonly string[]).includes(engine)) {
    return { driver: 'io_uring', engineNote: `ioengine=${engine} runs on blkbench's io_uring driver (iodepth and batching keep their meaning)` };
  }
  if (SINK_ENGINES.includes(engine)) return { driver: engine };
  if (engine === 'libblkio') {
    if (libblkioDriver === undefined || libblkioDriver.trim() === '') throw new OptionError(`option 'ioengine=libblkio' needs 'libblkio_driver'`);
    return { driver: libblkioDriver.trim() };
  }
  if (DRIVERS.includes(engine)) {
    if (libblkioDriver !== undefined && !engineGiven) return { driver: libblkioDriver.trim() };
    return { driver: engine };
  }
  throw new OptionError(
    `bad value '${engine}' for option 'ioengine': expected one of ${[...DRIVERS, 'libblkio', ...KERNEL_ENGINES].join(', ')}`,
  );
}

/**
 * The engines that are the native job loop's own sinks (null, cpuio, falloc, ftruncate, filecreate,
 * filestat, filedelete) have no libblkio device behind them: what needs one, or data, is refused, and
 * so is the JS loop, which drives only libblkio queues.
 */
export function refuseWhatNeedsADevice(spec: JobSpec, no: (what: string) => OptionError): void {
  if (spec.verify !== 'none') throw no(`'verify' cannot be used: no data is written or read`);
  if (spec.zonemode !== 'none') throw no(`zonemode=${spec.zonemode} needs a zoned device`);
  if (spec.switchTo !== undefined) throw no(`blkbench_switch_to needs a device`);
  if (spec.waitMode === 'eventfd') throw no(`libblkio_wait_mode=eventfd needs a completion fd, and there is none`);
  if (spec.jobLoop === 'js') throw no(`blkbench_loop=js is not supported: the engine is the native job loop's`);
}

/**
 * ioengine=null, as fio's null engine: its "file" is as large as offset + size says (so size must be
 * bytes), and nothing is kept, so what needs data, a completion fd, zones or a device is refused.
 */
function checkNullEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=null: ${what}`);
  if (spec.size === undefined) throw no(`needs 'size' (there is no file or device to take it from)`);
  if (!('bytes' in spec.size) || !('bytes' in spec.offset)) throw no(`'size' and 'offset' must be bytes, not a percentage (there is no device)`);
  refuseWhatNeedsADevice(spec, no);
}

/**
 * ioengine=cpuio, as fio's: each request burns cpuchunks microseconds of CPU, then the job idles for
 * what makes that cpuload percent of the time. The loop's thinktime runs from a request's issue (the
 * burst is in its reap), so it is the whole period: burst and idle.
 */
function setUpCpuEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=cpuio: ${what}`);
  if (spec.cpuload === 0) throw no(`needs 'cpuload' (percent of a CPU to burn)`);
  if (spec.runtimeNs === 0) throw no(`needs 'runtime' (it does no I/O to run out of)`);
  refuseWhatNeedsADevice(spec, no);
  spec.thinktimeNs = Math.floor((spec.cpuchunks * 100) / spec.cpuload) * 1000;
  spec.thinktimeSpinNs = 0;
  spec.thinktimeBlocks = 1;
  spec.iodepth = 1;
}

/**
 * ioengine=filecreate|filestat|filedelete: nrfiles files of filesize each per job clone (named by
 * filename_format in directory), one operation per file; the blocks of a file after its first do nothing.
 */
function checkFileOpEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=${spec.driver}: ${what}`);
  if (spec.filesize === undefined || spec.filesize <= 0) throw no(`needs 'filesize' (each file's size), as fio does`);
  if (spec.path !== undefined) throw no(`takes its files from 'filename_format' and 'directory', not 'filename'`);
  for (const d of DIRECTIONS) {
    if (spec.bs[d].sizes.some((b) => spec.filesize! % b !== 0)) throw no(`the block size must divide filesize ${spec.filesize}`);
  }
  refuseWhatNeedsADevice(spec, no);
}

/** ioengine=falloc|ftruncate: system calls on the job's file that move no data (fio's engines of the names). */
function checkFileEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=${spec.driver}: ${what}`);
  refuseWhatNeedsADevice(spec, no);
  if (spec.driver === 'ftruncate' && spec.rw !== 'write' && spec.rw !== 'randwrite') throw no(`rw=${spec.rw}: only writes truncate (rw=write or randwrite)`);
}

/** The net engine's own options. */
const NET_OPTIONS = ['hostname', 'port', 'protocol', 'listen', 'pingpong', 'nodelay', 'interface', 'ttl', 'window_size', 'mss'];

/**
 * ioengine=net, with fio's rules: sequential reads and writes on a socket; TCP has a listening side
 * (`listen`) and a connecting one (`hostname`); over UDP and UNIX sockets the reader listens and the
 * writer connects, so a job either reads or writes; UNIX sockets take a path, TCP and UDP a port.
 */
function checkNetEngine(spec: JobSpec, raw: RawOptions): void {
  const no = (what: string) => new OptionError(`ioengine=net: ${what}`);
  refuseWhatNeedsADevice(spec, no);
  if (isRandom(spec.rw)) throw no(`rw=${spec.rw}: network I/O cannot be random (use read, write or readwrite)`);
  if (spec.rw === 'trim') throw no(`rw=trim: a socket takes no trims`);
  const tcp = spec.protocol === 'tcp' || spec.protocol === 'tcpv6';
  const host = spec.path;
  if (spec.protocol === 'unix') {
    if (spec.port !== undefined) throw no(`'port' cannot be used with protocol=unix (the socket is the path in 'hostname' or 'filename')`);
    if (host === undefined) throw no(`protocol=unix needs the socket's path in 'hostname' or 'filename'`);
    if (spec.numjobs > 1) throw no(`numjobs above 1 with protocol=unix: the clones would take turns at one socket path (use one job per path)`);
  } else if (spec.port === undefined) {
    throw no(`protocol=${spec.protocol} needs 'port'`);
  }
  if (tcp) {
    if (spec.listen && host !== undefined) throw no(`'listen' takes no 'hostname': a TCP listener accepts on every address`);
    if (!spec.listen && host === undefined) throw no(`needs 'hostname' to connect to (or 'listen' for the side that waits)`);
  } else {
    if (raw.has('listen')) throw no(`'listen' is only for TCP: over ${spec.protocol} the reader always listens and the writer connects`);
    if (spec.rw === 'readwrite') throw no(`rw=readwrite: over ${spec.protocol} a job either reads or writes`);
    const reader = spec.rw === 'read';
    if (spec.protocol !== 'unix') {
      if (!reader && host === undefined) throw no(`the ${spec.protocol} writer needs 'hostname' to send to`);
      if (reader && host !== undefined && !isMulticast(host)) throw no(`a ${spec.protocol} reader's 'hostname' must be a multicast group (224.0.0.0 to 239.255.255.255), not '${host}'`);
      if (reader && host !== undefined && spec.protocol === 'udpv6') throw no(`multicast is IPv4 only (protocol=udp)`);
    }
  }
  if (spec.windowSize > 2 ** 31 - 1) throw no(`'window_size' ${spec.windowSize} is above 2 GiB - 1, what a socket buffer can be`);
  if (spec.netInterface !== undefined && !/^\d{1,3}(\.\d{1,3}){3}$/.test(spec.netInterface)) throw no(`'interface' must be an IPv4 address, not '${spec.netInterface}'`);
  if (spec.size !== undefined && !('bytes' in spec.size)) throw no(`'size' must be bytes, not a percentage (a socket has no size)`);
  if (!('bytes' in spec.offset)) throw no(`'offset' must be bytes, not a percentage (a socket has no size)`);
}

function isMulticast(host: string): boolean {
  const m = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(host);
  return m !== null && Number(m[1]) >= 224 && Number(m[1]) <= 239;
}

function checkVerifiable(spec: JobSpec): void {
  if (spec.rw === 'trim' || spec.rw === 'randtrim') throw new OptionError(`option 'verify' cannot be used with rw=${spec.rw}`);
  if (spec.rw === 'randrw' || spec.rw === 'readwrite') {
    throw new OptionError(`option 'verify' cannot be used with rw=${spec.rw}: use a write job, then a read job`);
  }
  if (spec.verify === 'pattern' && spec.verifyPattern === undefined) throw new OptionError(`option 'verify=pattern' needs 'verify_pattern'`);
  for (const d of DIRECTIONS) {
    if (spec.bs[d].sizes.length > 1) throw new OptionError(`option 'verify' needs one block size, not 'bssplit'`);
    const bs = spec.bs[d].sizes[0];
    if (bs < 64) throw new OptionError(`option 'verify' needs a block size of at least 64 bytes`);
    const interval = spec.verifyInterval;
    if (interval !== undefined && interval < bs && bs % interval !== 0) {
      throw new OptionError(`option 'verify_interval=${interval}' does not divide the ${d} block size ${bs}`);
    }
  }
}

/** zonemode=zbd's limits, as fio's (and what blkbench does not do with it). */
function checkZoned(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`zonemode=zbd: ${what}`);
  if (spec.rw === 'trim' || spec.rw === 'randtrim') throw no(`rw=${spec.rw} is not supported (trims of zones are zone resets)`);
  if (spec.seqAdd !== 0) throw no(`rw=${spec.rw}:${spec.seqAdd} (a skip between requests) is not supported`);
  if (spec.numjobs > 1) throw no('numjobs above 1 is not supported (the zones\' state would have to be shared between clones)');
  if (spec.zoneskip !== 0) throw no('zoneskip is not supported');
  if (spec.switchTo !== undefined) throw no('blkbench_switch_to is not supported (the zones\' state is one device\'s)');
  if (spec.verify !== 'none' && spec.zoneResetFrequency > 0) throw no('zone_reset_frequency cannot be used with verify: a reset would lose the data verify checks');
  if (spec.jobMaxOpenZones > 0 && spec.maxOpenZones > 0 && spec.jobMaxOpenZones > spec.maxOpenZones) {
    throw no(`job_max_open_zones (${spec.jobMaxOpenZones}) is above max_open_zones (${spec.maxOpenZones})`);
  }
  if (jobDirections(spec.rw).includes('write') && !spec.direct) throw no('writes need direct=1, as in fio');
  if (spec.zonecapacity !== undefined && spec.zonesize !== undefined && spec.zonecapacity > spec.zonesize) {
    throw no(`zonecapacity ${spec.zonecapacity} is larger than zonesize ${spec.zonesize}`);
  }
}

/** Which directions a job issues. */
export function jobDirections(rw: RwMode): Direction[] {
  switch (rw) {
    case 'read': case 'randread': return ['read'];
    case 'write': case 'randwrite': return ['write'];
    case 'trim': case 'randtrim': return ['trim'];
    case 'randrw': case 'readwrite': return ['read', 'write'];
  }
}

export function isRandom(rw: RwMode): boolean {
  return rw.startsWith('rand');
}

export function maxBlockSize(spec: JobSpec): number {
  return Math.max(...jobDirections(spec.rw).flatMap((d) => spec.bs[d].sizes));
}

export function minBlockSize(spec: JobSpec): number {
  return Math.min(...jobDirections(spec.rw).flatMap((d) => spec.bs[d].sizes));
}
