import * as assert from 'node:assert/strict';
import { RawOptions, parseBssplit, parsePropList, resolveJob, setRawOption } from '../../../src/blkbench/options';

function job(options: Record<string, string | undefined>) {
  const raw: RawOptions = new Map();
  for (const [k, v] of Object.entries(options)) setRawOption(raw, k, v);
  return resolveJob('job1', raw);
}

describe('blkbench job options', () => {
  it('has fio defaults: rw=read, bs=4k, iodepth=1, invalidate=1, randrepeat=1, io_uring', () => {
    const s = job({ filename: '/tmp/x' });
    assert.equal(s.rw, 'read');
    assert.deepEqual(s.bs.read, { sizes: [4096], weights: [100] });
    assert.equal(s.iodepth, 1);
    assert.equal(s.numjobs, 1);
    assert.equal(s.invalidate, true);
    assert.equal(s.randrepeat, true);
    assert.equal(s.rwmixread, 50);
    assert.equal(s.driver, 'io_uring');
    assert.equal(s.waitMode, 'block');
    assert.equal(s.verify, 'none');
  });

  it('accepts aliases: driver for ioengine, path for filename, readwrite for rw', () => {
    const s = job({ driver: 'virtio-blk-vhost-user', path: '/run/vu.sock', readwrite: 'randwrite' });
    assert.equal(s.driver, 'virtio-blk-vhost-user');
    assert.equal(s.path, '/run/vu.sock');
    assert.equal(s.rw, 'randwrite');
  });

  it('takes fio libblkio engine spelling: ioengine=libblkio with libblkio_driver and libblkio_path', () => {
    const s = job({ ioengine: 'libblkio', libblkio_driver: 'virtio-blk-vhost-vdpa', libblkio_path: '/dev/vhost-vdpa-0' });
    assert.equal(s.driver, 'virtio-blk-vhost-vdpa');
    assert.equal(s.path, '/dev/vhost-vdpa-0');
  });

  it('takes fio\'s threads spelling of thread', () => {
    assert.equal(job({ threads: '1' }).thread, true);
  });

  it('reads exit_what as group (the default), stonewall or all, and refuses anything else', () => {
    assert.equal(job({}).exitWhat, 'group');
    assert.equal(job({ exit_what: 'stonewall' }).exitWhat, 'stonewall');
    assert.equal(job({ exit_what: 'all' }).exitWhat, 'all');
    assert.throws(() => job({ exit_what: 'some' }), /exit_what/);
  });

  it('accepts hyphens for underscores in option names', () => {
    assert.equal(job({ 'time-based': undefined, runtime: '1' }).timeBased, true);
  });

  it('reads per-direction block sizes "read,write,trim"', () => {
    const s = job({ bs: '4k,64k' });
    assert.deepEqual(s.bs.read.sizes, [4096]);
    assert.deepEqual(s.bs.write.sizes, [65536]);
    assert.deepEqual(s.bs.trim.sizes, [4096]);
  });

  it('reads bssplit weights and shares what is left between entries without one', () => {
    assert.deepEqual(parseBssplit('4k/10:64k/50:32k/40').read, { sizes: [4096, 65536, 32768], weights: [10, 50, 40] });
    assert.deepEqual(parseBssplit('4k/50:8k:16k').read, { sizes: [4096, 8192, 16384], weights: [50, 25, 25] });
    const perDir = parseBssplit('4k/100,64k/100');
    assert.deepEqual(perDir.write.sizes, [65536]);
  });

  it('rejects bssplit weights that do not add up to 100', () => {
    assert.throws(() => parseBssplit('4k/10:64k/50'), { message: "weights in option 'bssplit' add up to 60, not 100" });
    assert.throws(() => parseBssplit('4k/80:64k/50'), { message: "weights in option 'bssplit' add up to 130, more than 100" });
    assert.throws(() => parseBssplit('4k/10/3'), { message: "bad value '4k/10/3' for option 'bssplit': expected entries like 4k/10:64k/90" });
  });

  it('lets the later of rwmixread and rwmixwrite win', () => {
    assert.equal(job({ rwmixread: '70', rwmixwrite: '10' }).rwmixread, 90);
    assert.equal(job({ rwmixwrite: '10', rwmixread: '70' }).rwmixread, 70);
  });

  it('treats iodepth_batch_submit=0 as the whole iodepth and clamps batches to iodepth', () => {
    const s = job({ iodepth: '16', iodepth_batch_submit: '0', iodepth_batch_complete_min: '64' });
    assert.equal(s.iodepthBatchSubmit, 16);
    assert.equal(s.iodepthBatchCompleteMin, 16);
  });

  it('defaults iodepth_batch_complete_max to iodepth_batch_complete_min, as fio does', () => {
    const s = job({ iodepth: '32', iodepth_batch_complete_min: '4' });
    assert.equal(s.iodepthBatchCompleteMax, 4);
  });

  it('parses libblkio property lists with \\: for a literal colon', () => {
    assert.deepEqual(parsePropList('libblkio_pre_connect_props', 'a=1:b=x\\:y'), [['a', '1'], ['b', 'x:y']]);
    const s = job({ libblkio_pre_start_props: 'num-entries=256' });
    assert.deepEqual(s.preStartProps, [['num-entries', '256']]);
  });

  it('echoes options as written, leaving out bare flags, for the JSON report', () => {
    const s = job({ rw: 'randread', iodepth: '8', time_based: undefined, runtime: '1' });
    assert.deepEqual(s.echo, { rw: 'randread', iodepth: '8', runtime: '1' });
  });

  it('seeds from randseed, as a 64-bit integer', () => {
    assert.equal(job({ randseed: '18446744073709551615' }).randseed, 18446744073709551615n);
  });

  describe('error messages', () => {
    const cases: Array<[string, Record<string, string | undefined>, string]> = [
      ['an unknown option', { bogus: '1' }, "unknown option 'bogus'"],
      ['a missing value', { bs: undefined }, "option 'bs' needs a value"],
      ['an unknown rw', { rw: 'sideways' }, "bad value 'sideways' for option 'rw': expected one of read, write, randread, randwrite, randrw, readwrite, trim, randtrim, rw (optionally ':SIZE', e.g. read:-8k)"],
      ['an unknown engine', { ioengine: 'splice' }, "bad value 'splice' for option 'ioengine': expected one of io_uring, nvme-io_uring, virtio-blk-vfio-pci, virtio-blk-vhost-user, virtio-blk-vhost-vdpa, libblkio, libaio, psync, sync, pvsync, pvsync2, posixaio, vsync, null, falloc, ftruncate, cpuio, filecreate, filestat, filedelete, net, exec, pmemblk"],
      ['libblkio without a driver', { ioengine: 'libblkio' }, "option 'ioengine=libblkio' needs 'libblkio_driver'"],
      ['an empty libblkio driver', { ioengine: 'libblkio', libblkio_driver: ' ' }, "option 'ioengine=libblkio' needs 'libblkio_driver'"],
      ['a bad block size', { bs: '4x' }, "bad value '4x' for option 'bs': expected a size such as 4096, 4k, 1m or 2g"],
      ['a zero block size', { bs: '0' }, "bad value '0' for option 'bs': expected a size above 0"],
      ['four block sizes', { bs: '4k,4k,4k,4k' }, "bad value '4k,4k,4k,4k' for option 'bs': expected up to three sizes: read,write,trim"],
      ['four bssplit lists', { bssplit: '4k/100,4k/100,4k/100,4k/100' }, "bad value '4k/100,4k/100,4k/100,4k/100' for option 'bssplit': expected up to three lists: read,write,trim"],
      ['a zero bssplit size', { bssplit: '0/50:4k/50' }, "bad value '0/50:4k/50' for option 'bssplit': expected block sizes above 0"],
      ['an empty bssplit entry', { bssplit: '4k/50::8k/50' }, "bad value '4k/50::8k/50' for option 'bssplit': expected entries like 4k/10:64k/90"],
      ['iodepth 0', { iodepth: '0' }, "bad value '0' for option 'iodepth': expected an integer from 1 to 65536"],
      ['numjobs 0', { numjobs: '0' }, "bad value '0' for option 'numjobs': expected an integer from 1 to 1024"],
      ['rwmixread above 100', { rwmixread: '101' }, "bad value '101' for option 'rwmixread': expected an integer from 0 to 100"],
      ['a zero size', { size: '0' }, "bad value '0' for option 'size': expected a size above 0"],
      ['a bad offset', { offset: 'half' }, "bad value 'half' for option 'offset': expected a size such as 4096, 4k, 1m or 2g"],
      ['a bad runtime', { runtime: 'long' }, "bad value 'long' for option 'runtime': expected a time such as 10, 10s, 500ms or 2m"],
      ['time_based without runtime', { time_based: undefined }, "option 'time_based' needs 'runtime'"],
      ['a bad flag value', { direct: 'maybe' }, "bad value 'maybe' for option 'direct': expected 0 or 1"],
      ['an unknown verify kind', { verify: 'sha1' }, "bad value 'sha1' for option 'verify': expected one of crc32c, md5, meta, pattern"],
      ['verify on a trim job', { rw: 'trim', verify: 'crc32c' }, "option 'verify' cannot be used with rw=trim"],
      ['verify on a mixed job', { rw: 'randrw', verify: 'md5' }, "option 'verify' cannot be used with rw=randrw: use a write job, then a read job"],
      ['verify with bssplit', { rw: 'write', verify: 'md5', bssplit: '4k/50:8k/50' }, "option 'verify' needs one block size, not 'bssplit'"],
      ['verify with tiny blocks', { rw: 'write', verify: 'md5', bs: '32' }, "option 'verify' needs a block size of at least 64 bytes"],
      ['an unknown wait mode', { libblkio_wait_mode: 'spin' }, "bad value 'spin' for option 'libblkio_wait_mode': expected one of block, eventfd, loop"],
      ['hipri with eventfd', { hipri: undefined, libblkio_wait_mode: 'eventfd' }, "option 'hipri' cannot be used with 'libblkio_wait_mode=eventfd': poll queues have no completion fd"],
      ['a property list without =', { libblkio_pre_connect_props: 'direct' }, "bad value 'direct' for option 'libblkio_pre_connect_props': expected a list like name=value:name2=value2"],
      ['complete_max below complete_min', { iodepth: '8', iodepth_batch_complete_min: '4', iodepth_batch_complete_max: '2' }, "option 'iodepth_batch_complete_max' (2) is below 'iodepth_batch_complete_min' (4)"],
      ['a bad randseed', { randseed: '-1' }, "bad value '-1' for option 'randseed': expected an integer from 0 to 2^64-1"],
      ['a bad num_entries', { libblkio_num_entries: '0' }, "bad value '0' for option 'libblkio_num_entries': expected an integer from 1 to 32768"],
      ['a bad output of percent', { size: '0%' }, "bad value '0%' for option 'size': expected a percentage between 0 and 100"],
      ['zonemode=strided', { zonemode: 'strided' }, "option 'zonemode=strided' is not supported (zonemode=none or zbd)"],
      ['an unknown zonemode', { zonemode: 'zns' }, "bad value 'zns' for option 'zonemode': expected one of none, zbd"],
      ['a zone_reset_threshold above 1', { zone_reset_threshold: '1.5' }, "bad value '1.5' for option 'zone_reset_threshold': expected a number from 0 to 1"],
      ['a zone_reset_frequency that is no number', { zone_reset_frequency: 'often' }, "bad value 'often' for option 'zone_reset_frequency': expected a number from 0 to 1"],
      ['a max_open_zones above fio\'s limit', { max_open_zones: '5000' }, "bad value '5000' for option 'max_open_zones': expected an integer from 0 to 4096"],
      ['zbd writes without direct', { zonemode: 'zbd', rw: 'write' }, 'zonemode=zbd: writes need direct=1, as in fio'],
      ['zbd trims', { zonemode: 'zbd', rw: 'randtrim' }, 'zonemode=zbd: rw=randtrim is not supported (trims of zones are zone resets)'],
      ['zbd with numjobs', { zonemode: 'zbd', numjobs: '2' }, "zonemode=zbd: numjobs above 1 is not supported (the zones' state would have to be shared between clones)"],
      ['zbd with zoneskip', { zonemode: 'zbd', zoneskip: '4m' }, 'zonemode=zbd: zoneskip is not supported'],
      ['zbd resets under verify', { zonemode: 'zbd', rw: 'write', direct: '1', verify: 'crc32c', zone_reset_frequency: '0.1' }, 'zonemode=zbd: zone_reset_frequency cannot be used with verify: a reset would lose the data verify checks'],
      ['job_max_open_zones above max_open_zones', { zonemode: 'zbd', max_open_zones: '2', job_max_open_zones: '3' }, 'zonemode=zbd: job_max_open_zones (3) is above max_open_zones (2)'],
      ['zonecapacity above zonesize', { zonemode: 'zbd', zonesize: '1m', zonecapacity: '2m' }, 'zonemode=zbd: zonecapacity 2097152 is larger than zonesize 1048576'],
    ];
    for (const [what, options, message] of cases) {
      it(`stops on ${what}: "${message}"`, () => {
        assert.throws(() => job(options), { message });
      });
    }
  });

  it('reads fio\'s verify layout options: verify=meta, verify_pattern (alone: verify=pattern), verify_interval, do_verify', () => {
    const s = job({ filename: '/f', rw: 'write', bs: '64k', verify: 'meta', verify_pattern: '0xaa555aa5', verify_interval: '512', do_verify: '0' });
    assert.deepEqual([s.verify, s.verifyPattern, s.verifyInterval, s.doVerify], ['meta', [0xaa, 0x55, 0x5a, 0xa5], 512, false]);
    assert.equal(job({ filename: '/f', rw: 'write', verify_pattern: '7' }).verify, 'pattern');
    assert.equal(job({ filename: '/f', rw: 'write', verify: 'crc32c' }).doVerify, true);
  });

  it('refuses a verify layout it cannot write: an interval that does not divide the block, a pattern without verify, verify=pattern without one', () => {
    assert.throws(() => job({ filename: '/f', rw: 'write', bs: '4k', verify: 'md5', verify_interval: '1000' }), { message: "option 'verify_interval=1000' does not divide the read block size 4096" });
    assert.throws(() => job({ filename: '/f', rw: 'write', verify: 'md5', verify_interval: '32' }), /bad value '32' for option 'verify_interval'/);
    assert.throws(() => job({ filename: '/f', rw: 'write', verify: '0', verify_pattern: '0xaa' }), /cannot be used with verify=none/);
    assert.throws(() => job({ filename: '/f', rw: 'write', verify: 'pattern' }), { message: "option 'verify=pattern' needs 'verify_pattern'" });
  });

  it('takes ioengine=null with a size in bytes, and refuses what needs a device', () => {
    const s = job({ ioengine: 'null', size: '1g', rw: 'randread' });
    assert.equal(s.driver, 'null');
    assert.throws(() => job({ ioengine: 'null' }), /ioengine=null: needs 'size'/);
    assert.throws(() => job({ ioengine: 'null', size: '10%' }), /must be bytes/);
    assert.throws(() => job({ ioengine: 'null', size: '1m', libblkio_wait_mode: 'eventfd' }), /needs a completion fd/);
    assert.throws(() => job({ ioengine: 'null', size: '1m', zonemode: 'zbd', zonesize: '64k' }), /zonemode=zbd needs a zoned device/);
  });

  it('takes ioengine=falloc and ftruncate on files, ftruncate with writes only', () => {
    assert.equal(job({ ioengine: 'falloc', filename: '/f', rw: 'randtrim' }).driver, 'falloc');
    assert.equal(job({ ioengine: 'ftruncate', filename: '/f', rw: 'randwrite' }).driver, 'ftruncate');
    assert.throws(() => job({ ioengine: 'ftruncate', filename: '/f', rw: 'read' }), { message: 'ioengine=ftruncate: rw=read: only writes truncate (rw=write or randwrite)' });
    assert.throws(() => job({ ioengine: 'falloc', filename: '/f', rw: 'write', verify: 'md5' }), /ioengine=falloc: 'verify' cannot be used/);
    assert.throws(() => job({ ioengine: 'falloc', filename: '/f', blkbench_loop: 'js' }), /native job loop's/);
  });

  it('takes ioengine=cpuio with cpuload, cpumode and cpuchunks: a burst each request, the period as its thinktime', () => {
    const s = job({ ioengine: 'cpuio', cpuload: '25', cpuchunks: '10000', cpumode: 'qsort', runtime: '1', time_based: '1' });
    assert.deepEqual([s.driver, s.cpumode, s.thinktimeNs, s.thinktimeBlocks, s.iodepth], ['cpuio', 'qsort', 40e6, 1, 1]);
    assert.throws(() => job({ ioengine: 'cpuio', runtime: '1' }), /ioengine=cpuio: needs 'cpuload'/);
    assert.throws(() => job({ ioengine: 'cpuio', cpuload: '50' }), /ioengine=cpuio: needs 'runtime'/);
    assert.throws(() => job({ filename: '/f', cpuload: '50' }), { message: "option 'cpuload' needs ioengine=cpuio" });
    assert.throws(() => job({ ioengine: 'cpuio', cpuload: '50', runtime: '1', cpumode: 'spin' }), /bad value 'spin' for option 'cpumode'/);
  });

  it('takes nrfiles above 1 only for filecreate, filestat and filedelete, which need filesize', () => {
    const s = job({ ioengine: 'filestat', nrfiles: '200', filesize: '4k', stat_type: 'statx' });
    assert.deepEqual([s.driver, s.nrfiles, s.statType], ['filestat', 200, 'statx']);
    assert.throws(() => job({ filename: '/f', nrfiles: '2' }), /more than one file per job is only for ioengine=filecreate, filestat and filedelete/);
    assert.throws(() => job({ ioengine: 'filedelete', nrfiles: '2' }), /ioengine=filedelete: needs 'filesize'/);
    assert.throws(() => job({ ioengine: 'filecreate', filesize: '6k' }), /the block size must divide filesize 6144/);
    assert.throws(() => job({ filename: '/f', stat_type: 'lstat' }), { message: "option 'stat_type' needs ioengine=filestat" });
  });
});
