/**
 * blkbench end to end: the CLI as a child process, on the io_uring driver and temporary files.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertWellFormedXml, blkbench } from '../../support/blkbench';

function json(args: string[]): any {
  const r = blkbench([...args, '--output-format=json']);
  assert.equal(r.code, 0, `blkbench failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('blkbench runs (io_uring on temporary files)', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-test-'));
    file = path.join(dir, 'disk.img');
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(file, data);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the default job with no arguments, prints a fio-like report and removes its temporary file', () => {
    const before = new Set(fs.readdirSync(os.tmpdir()));
    const r = blkbench([]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^blkbench: no job given: running --rw=randread --bs=4k --iodepth=32 .* on a temporary file\n/);
    assert.match(r.stdout, /\nblkbench: \(groupid=0, jobs=1\): err= 0: pid=\d+/);
    assert.match(r.stdout, /\n {2}read: IOPS=[\d.]+k?, BW=/);
    assert.match(r.stdout, /\n {4}clat percentiles \((n|u)sec\):\n/);
    assert.match(r.stdout, /\nRun status group 0 \(all jobs\):\n {3}READ: bw=/);
    assert.doesNotMatch(r.stdout, /\r/, 'no progress line when stdout is not a terminal');
    const left = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('blkbench-') && f.endsWith('.dat') && !before.has(f));
    assert.deepEqual(left, []);
  });

  it('writes valid JSON in fio\'s schema, with numbers that agree with each other', () => {
    const doc = json(['--name=schema', `--filename=${file}`, '--rw=randread', '--bs=4k', '--iodepth=8', '--runtime=300ms', '--time_based', '--invalidate=0']);
    assert.equal(doc.jobs.length, 1);
    const job = doc.jobs[0];
    assert.equal(job.jobname, 'schema');
    assert.equal(job.error, 0);
    const r = job.read;
    assert.ok(r.total_ios > 100, `only ${r.total_ios} reads`);
    assert.equal(r.io_bytes, r.total_ios * 4096);
    assert.equal(r.clat_ns.N, r.total_ios);
    // At least the runtime asked for; a loaded machine only adds to it.
    assert.ok(r.runtime >= 300 && r.runtime < 300 + 2000, `runtime ${r.runtime} ms`);
    assert.ok(Math.abs(r.iops - r.total_ios / (r.runtime / 1000)) / r.iops < 0.01);
    assert.ok(Math.abs(r.bw - r.io_bytes / 1024 / (r.runtime / 1000)) / r.bw < 0.01);
    const p = Object.values(r.clat_ns.percentile) as number[];
    assert.equal(p.length, 17);
    for (let i = 1; i < p.length; i++) assert.ok(p[i] >= p[i - 1], 'percentiles must not decrease');
    assert.ok(r.clat_ns.min > 0 && r.clat_ns.min <= r.clat_ns.mean && r.clat_ns.mean <= r.clat_ns.max);
    assert.ok(p[0] >= r.clat_ns.min * 0.99 && p[16] <= r.clat_ns.max * 1.01);
    assert.ok(job.usr_cpu + job.sys_cpu > 0);
    assert.equal(job.write.total_ios, 0);
    assert.ok(r.bw_samples === 0 || r.bw_min <= r.bw_max);
  });

  it('adds clat bins that add up to the request count in json+', () => {
    const r = blkbench([`--filename=${file}`, '--rw=randread', '--bs=4k', '--iodepth=4', '--size=1m', '--invalidate=0', '--output-format=json+']);
    assert.equal(r.code, 0, r.stderr);
    const read = JSON.parse(r.stdout).jobs[0].read;
    assert.equal(read.total_ios, 256);
    assert.equal(Object.values(read.clat_ns.bins as Record<string, number>).reduce((a, b) => a + b, 0), 256);
  });

  it('reads each block of a size-bound sequential job exactly once', () => {
    const doc = json([`--filename=${file}`, '--rw=read', '--bs=64k', '--iodepth=4', '--size=2m', '--invalidate=0']);
    assert.equal(doc.jobs[0].read.total_ios, 32);
    assert.equal(doc.jobs[0].read.io_bytes, 2 << 20);
  });

  it('drops the page cache first with invalidate=1 (fio\'s default) and still reads everything', () => {
    const doc = json([`--filename=${file}`, '--rw=randread', '--bs=4k', '--size=256k']);
    assert.equal(doc.jobs[0].read.total_ios, 64);
  });

  it('honours offset and a size given as a percentage of the device', () => {
    const doc = json([`--filename=${file}`, '--rw=read', '--bs=4k', '--offset=1m', '--size=25%', '--invalidate=0']);
    assert.equal(doc.jobs[0].read.io_bytes, 1 << 20);
  });

  it('mixes reads and writes by rwmixread', () => {
    const copy = path.join(dir, 'mixed.img');
    fs.copyFileSync(file, copy);
    const doc = json([`--filename=${copy}`, '--rw=randrw', '--rwmixread=70', '--bs=4k', '--iodepth=16', '--size=4m', '--invalidate=0']);
    const { read, write } = doc.jobs[0];
    assert.equal(read.total_ios + write.total_ios, 1024);
    assert.ok(Math.abs(read.total_ios / 1024 - 0.7) < 0.06, `read share ${read.total_ios / 1024}`);
  });

  it('trims with rw=trim (discard on the io_uring driver)', () => {
    const copy = path.join(dir, 'trim.img');
    fs.copyFileSync(file, copy);
    const doc = json([`--filename=${copy}`, '--rw=trim', '--bs=64k', '--size=1m', '--invalidate=0']);
    assert.equal(doc.jobs[0].trim.total_ios, 16);
    assert.equal(doc.jobs[0].error, 0);
  });

  it('draws block sizes from bssplit', () => {
    const doc = json([`--filename=${file}`, '--rw=randread', '--bssplit=4k/50:16k/50', '--iodepth=8', '--runtime=200ms', '--time_based', '--invalidate=0']);
    const r = doc.jobs[0].read;
    const avg = r.io_bytes / r.total_ios;
    assert.ok(avg > 7000 && avg < 13000, `average block ${avg}`);
  });

  for (const mode of ['block', 'eventfd', 'loop']) {
    it(`completes a size-bound job in libblkio_wait_mode=${mode}`, () => {
      const doc = json([`--filename=${file}`, '--rw=randread', '--bs=4k', '--iodepth=16', '--size=1m', '--invalidate=0',
        `--libblkio_wait_mode=${mode}`, '--iodepth_batch_submit=8', '--iodepth_batch_complete_max=16']);
      assert.equal(doc.jobs[0].read.total_ios, 256);
    });
  }

  // Buffered writes complete in io_uring's worker, and reach the loop's thread as task work that
  // waits for its next system call: each wait mode must still collect every one.
  for (const loop of ['native', 'js']) {
    for (const mode of ['block', 'eventfd', 'loop']) {
      it(`completes a buffered write job in libblkio_wait_mode=${mode} on the ${loop} loop`, () => {
        const target = path.join(dir, `writes-${loop}-${mode}.img`);
        const doc = json([`--filename=${target}`, '--rw=randwrite', '--bs=4k', '--iodepth=16', '--size=2m',
          `--libblkio_wait_mode=${mode}`, `--blkbench_loop=${loop}`, '--iodepth_batch_submit=8', '--iodepth_batch_complete_max=16']);
        assert.equal(doc.jobs[0].write.total_ios, 512);
        assert.equal(doc.jobs[0].error, 0);
        fs.rmSync(target);
      });
    }
  }

  it('excludes ramp_time from the measured runtime', () => {
    // A ramp much longer than the runtime: counted in, it would add 1.5 s,
    // more than a loaded machine adds to 300 ms.
    const doc = json([`--filename=${file}`, '--rw=randread', '--bs=4k', '--ramp_time=1500ms', '--runtime=300ms', '--time_based', '--invalidate=0']);
    const job = doc.jobs[0];
    assert.ok(job.read.runtime >= 300 && job.read.runtime < 1500, `runtime ${job.read.runtime}`);
  });

  describe('numjobs and group_reporting', () => {
    it('reports each clone of numjobs=2 as its own job, each with its own queue', () => {
      const doc = json(['--name=nj', `--filename=${file}`, '--rw=randread', '--bs=4k', '--iodepth=4', '--size=1m', '--numjobs=2', '--invalidate=0']);
      assert.deepEqual(doc.jobs.map((j: any) => [j.jobname, j.read.total_ios]), [['nj', 256], ['nj', 256]]);
    });

    it('merges the clones into one report with group_reporting', () => {
      const doc = json(['--name=nj', `--filename=${file}`, '--rw=randread', '--bs=4k', '--iodepth=4', '--size=1m', '--numjobs=2', '--group_reporting', '--invalidate=0']);
      assert.equal(doc.jobs.length, 1);
      assert.equal(doc.jobs[0].read.total_ios, 512);
      assert.equal(doc.jobs[0].read.clat_ns.N, 512);
      const human = blkbench(['--name=nj', `--filename=${file}`, '--rw=randread', '--size=1m', '--numjobs=2', '--group_reporting', '--invalidate=0']);
      assert.match(human.stdout, /nj: \(groupid=0, jobs=2\): err= 0/);
      assert.match(human.stdout, /issued rwts: total=512,0,0,0/);
    });

    it('runs several job sections of a job file together', () => {
      const jobFile = path.join(dir, 'two.fio');
      fs.writeFileSync(jobFile, `[global]\nfilename=${file}\ninvalidate=0\nbs=4k\nsize=512k\n[a]\nrw=read\n[b]\nrw=randread\niodepth=8\n`);
      const doc = json([jobFile]);
      assert.deepEqual(doc.jobs.map((j: any) => [j.jobname, j.read.total_ios]), [['a', 128], ['b', 128]]);
    });
  });

  describe('verify', () => {
    for (const kind of ['crc32c', 'md5']) {
      it(`writes checksummed blocks and reads them back (${kind})`, () => {
        const target = path.join(dir, `verify-${kind}.img`);
        const doc = json([`--filename=${target}`, '--rw=randwrite', '--bs=4k', '--iodepth=8', '--size=1m', `--verify=${kind}`, '--invalidate=0']);
        assert.equal(doc.jobs[0].error, 0);
        assert.equal(doc.jobs[0].write.total_ios, 256);
        assert.equal(doc.jobs[0].verified_blocks, 256);
      });
    }

    it('catches a deliberately corrupted block and reports its offset', () => {
      const target = path.join(dir, 'verify-corrupt.img');
      let r = blkbench([`--filename=${target}`, '--rw=write', '--bs=4k', '--size=1m', '--verify=crc32c', '--invalidate=0']);
      assert.equal(r.code, 0, r.stderr);
      const fd = fs.openSync(target, 'r+');
      fs.writeSync(fd, Buffer.from([0xde, 0xad]), 0, 2, 12288 + 1000);
      fs.closeSync(fd);
      r = blkbench([`--filename=${target}`, '--rw=randread', '--bs=4k', '--iodepth=4', '--size=1m', '--verify=crc32c', '--invalidate=0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /verify: bad block at offset 12288 \(length 4096\): crc32c mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
      assert.match(r.stdout, /err=84 \(verify: bad block at offset 12288/);
    });

    it('reports a block read where no verify header was written', () => {
      const r = blkbench([`--filename=${file}`, '--rw=read', '--bs=4k', '--size=64k', '--verify=md5', '--invalidate=0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /verify: bad block at offset 0 \(length 4096\): no verify header/);
    });
  });

  describe('errors before any I/O', () => {
    it('stops when offset is past the capacity', () => {
      const r = blkbench(['--name=far', `--filename=${file}`, '--rw=read', '--offset=4m']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `blkbench: far: offset 4194304 is past the end of '${file}' (capacity 4194304 bytes)\n`);
    });

    it('stops on an unknown option with a message naming it', () => {
      const r = blkbench([`--filename=${file}`, '--iodepht=4']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, "blkbench: unknown option 'iodepht'\n");
    });

    it('stops on a bad value with a message naming it', () => {
      const r = blkbench([`--filename=${file}`, '--rw=randomread']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^blkbench: bad value 'randomread' for option 'rw': expected one of read, /);
    });

    it('asks for a size to create a missing file', () => {
      const r = blkbench(['--name=new', `--filename=${path.join(dir, 'missing.img')}`, '--rw=read']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /job 'new': file '.*missing\.img' does not exist or is empty; give 'size' in bytes to create it/);
    });

    it('stops when the block size does not fit the device\'s request alignment (direct=1)', () => {
      const r = blkbench(['--name=odd', `--filename=${file}`, '--rw=read', '--size=1m', '--direct=1', '--bs=1000']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^blkbench: odd: block size 1000 is not a multiple of the device's request-alignment \d+\n$/);
    });

    it('stops when the offset does not fit the device\'s request alignment (direct=1)', () => {
      const r = blkbench(['--name=odd', `--filename=${file}`, '--rw=read', '--size=1m', '--direct=1', '--offset=100']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^blkbench: odd: offset 100 is not a multiple of the device's request-alignment \d+\n$/);
    });

    it('stops when the region is smaller than one block', () => {
      const r = blkbench(['--name=tiny', `--filename=${file}`, '--rw=read', '--size=4k', '--bs=64k']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, 'blkbench: tiny: size 4096 is smaller than the block size 65536\n');
    });

    it('names the target when connecting fails', () => {
      const r = blkbench(['--name=vu', '--ioengine=virtio-blk-vhost-user', `--filename=${path.join(dir, 'no.sock')}`, '--rw=read']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^blkbench: vu: connecting to '.*no\.sock' failed: /);
    });

    it('stops when hipri asks for poll queues the target does not have', () => {
      const r = blkbench(['--name=poll', `--filename=${file}`, '--rw=read', '--size=1m', '--hipri', '--invalidate=0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^blkbench: poll: starting the device failed: .*poll queues/);
    });

    it('passes a bad libblkio property through with the property named', () => {
      const r = blkbench(['--name=props', `--filename=${file}`, '--rw=read', '--libblkio_pre_start_props=no-such-prop=1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /props: libblkio_pre_start_props: cannot set property 'no-such-prop' to '1'/);
    });
  });

  describe('compare', () => {
    it('runs the same job on several targets, prints ratios and writes an SVG with every series', () => {
      const second = path.join(dir, 'second.img');
      fs.copyFileSync(file, second);
      const plot = path.join(dir, 'compare.svg');
      const r = blkbench(['compare', '--rw=randread', '--bs=4k', '--iodepth=8', '--runtime=200ms', '--time_based', '--invalidate=0',
        `--target=first@io_uring:${file}`, `--target=batched@io_uring:${second},iodepth_batch_submit=8,iodepth_batch_complete_max=8`, `--plot=${plot}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\nCompare \(ratios to first\):\n/);
      assert.match(r.stdout, /\nIOPS +[\d.]+k? +[\d.]+k? \([\d.]+x\)\n/);
      assert.match(r.stdout, /\ntarget +io_uring:\S+disk\.img +io_uring:\S+second\.img\n/);
      const svg = fs.readFileSync(plot, 'utf8');
      assertWellFormedXml(svg);
      for (const label of ['first', 'batched']) assert.equal(svg.split(`data-target="${label}"`).length - 1, 3);
    });

    it('writes one JSON document with every target\'s fio-schema report', () => {
      const r = blkbench(['compare', '--rw=read', '--bs=4k', '--size=256k', '--invalidate=0', `--target=a@io_uring:${file}`, `--target=b@io_uring:${file}`, '--output-format=json']);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.deepEqual(doc.targets.map((t: any) => t.label), ['a', 'b']);
      assert.equal(doc.results.b.jobs[0].read.total_ios, 64);
    });
  });

  it('writes the report to --output instead of stdout', () => {
    const out = path.join(dir, 'out.json');
    const r = blkbench([`--filename=${file}`, '--rw=read', '--size=64k', '--invalidate=0', '--output-format=json', `--output=${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).jobs[0].read.total_ios, 16);
  });
});
