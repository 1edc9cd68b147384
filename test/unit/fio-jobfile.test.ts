/** blkbench reads fio job files as fio 3.33 does: comments, variables, include, precedence, errors. */
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import { parseCommandLine } from '../../src/blkbench/args';
import { parseJobFile } from '../../src/blkbench/jobfile';
import { OPTIONS, OptionDef } from '../../src/blkbench/option-table';
import { canonicalOptionName } from '../../src/blkbench/options';

function files(map: Record<string, string>) {
  return (p: string) => {
    if (!(p in map)) throw new Error(`ENOENT: no such file, open '${p}'`);
    return map[p];
  };
}

describe('fio job files', () => {
  it('cuts a value at an inline ";" comment', () => {
    const [job] = parseJobFile('[a]\nsize=64k ; the size\n', 'c.fio');
    assert.equal(job.options.get('size'), '64k');
  });

  it('cuts a value at an inline "#" comment', () => {
    const [job] = parseJobFile('[a]\nrw=randread # random\n', 'c.fio');
    assert.equal(job.options.get('rw'), 'randread');
  });

  it('expands $pagesize, $ncpus and $mb_memory', () => {
    const [job] = parseJobFile('[a]\nbs=$pagesize\nnumjobs=$ncpus\nsize=$mb_memory\n', 'v.fio');
    assert.equal(job.options.get('bs'), '4096');
    assert.equal(job.options.get('numjobs'), String(os.availableParallelism()));
    assert.equal(job.options.get('size'), String(Math.floor(os.totalmem() / 2 ** 20)));
  });

  it('reads an included file in place, relative to the including file', () => {
    const read = files({ '/jobs/common.inc': 'bs=8k\n', '/jobs/main.fio': '[global]\ninclude common.inc\n[a]\nrw=read\n' });
    const jobs = parseJobFile(read('/jobs/main.fio'), '/jobs/main.fio', {}, read);
    assert.equal(jobs[0].options.get('bs'), '8k');
  });

  it('names the included file and its line for an error inside it', () => {
    const read = files({ '/j/inc.fio': 'rw=read\nbs=4q\n', '/j/m.fio': '[a]\ninclude inc.fio\n' });
    assert.throws(() => parseJobFile(read('/j/m.fio'), '/j/m.fio', {}, read), {
      message: "/j/inc.fio:2: bad value '4q' for option 'bs': expected a size such as 4096, 4k, 1m or 2g",
    });
  });

  it('refuses an include outside a section and sections in an included file, as fio does', () => {
    const read = files({ '/j/s.inc': '[x]\n', '/j/top.fio': 'include s.inc\n[a]\n', '/j/in.fio': '[a]\ninclude s.inc\n' });
    assert.throws(() => parseJobFile(read('/j/top.fio'), '/j/top.fio', {}, read), { message: /^\/j\/top\.fio:1: 'include' is outside any section/ });
    assert.throws(() => parseJobFile(read('/j/in.fio'), '/j/in.fio', {}, read), { message: /^\/j\/s\.inc:1: an included file cannot start sections/ });
  });

  it('reports every bad line of a file at once, each with file:line', () => {
    assert.throws(() => parseJobFile('[a]\nbs=4q\nrw=sideways\nfrob=1\n', 'm.fio'), (e: Error) => {
      const lines = e.message.split('\n');
      assert.equal(lines.length, 3);
      assert.match(lines[0], /^m\.fio:2: /);
      assert.match(lines[1], /^m\.fio:3: /);
      assert.equal(lines[2], "m.fio:4: unknown option 'frob'");
      return true;
    });
  });

  it('refuses a fio option it does not do with the reason, naming file:line', () => {
    assert.throws(() => parseJobFile('[a]\nfsync=4\n', 'f.fio'), {
      message: "f.fio:2: option 'fsync' is not supported: fsync after writes is not supported",
    });
  });
});

describe('fio precedence and command-line jobs', () => {
  const FILE = '[global]\nbs=8k\n[j1]\nfilename=/f\nbs=16k\n[j2]\nfilename=/f\n';

  it('lets the job section win over a command-line default', () => {
    const cmd = parseCommandLine(['--bs=32k', 'p.fio'], files({ 'p.fio': FILE }));
    assert.deepEqual(cmd.jobs[0].bs.read.sizes, [16384]);
  });

  it('lets the job file [global] win over a command-line default', () => {
    const cmd = parseCommandLine(['p.fio', '--bs=32k'], files({ 'p.fio': FILE }));
    assert.deepEqual(cmd.jobs[1].bs.read.sizes, [8192]);
  });

  it('puts command-line jobs before job-file jobs', () => {
    const cmd = parseCommandLine(['p.fio', '--name=j3', '--filename=/f'], files({ 'p.fio': FILE }));
    assert.deepEqual(cmd.jobs.map((j) => j.name), ['j3', 'j1', 'j2']);
  });

  it('prints each job file as a command line with --showcmd', () => {
    const cmd = parseCommandLine(['--showcmd', 'p.fio'], files({ 'p.fio': FILE }));
    assert.equal(cmd.kind, 'showcmd');
    assert.deepEqual(cmd.showcmd, ['blkbench --bs=8k --name=j1 --filename=/f --bs=16k --name=j2 --filename=/f']);
  });

  it('checks the jobs and runs nothing with --parse-only', () => {
    assert.equal(parseCommandLine(['--parse-only', 'p.fio'], files({ 'p.fio': FILE })).kind, 'parse-only');
    assert.throws(() => parseCommandLine(['--parse-only', 'p.fio'], files({ 'p.fio': '[a]\niodepth=0\n' })), {
      message: "p.fio:2: bad value '0' for option 'iodepth': expected an integer from 1 to 65536",
    });
  });
});

describe('fio engines and option spellings', () => {
  for (const engine of ['libaio', 'psync', 'sync', 'pvsync', 'pvsync2', 'posixaio', 'io_uring']) {
    it(`runs ioengine=${engine} on the io_uring driver`, () => {
      const [job] = parseCommandLine([`--ioengine=${engine}`, '--filename=/f', '--iodepth=8']).jobs;
      assert.equal(job.driver, 'io_uring');
      assert.equal(job.iodepth, 8);
      assert.equal(job.notes.some((n) => n.includes(`ioengine=${engine}`)), engine !== 'io_uring');
    });
  }

  it('takes any libblkio_driver string with ioengine=libblkio', () => {
    const [job] = parseCommandLine(['--ioengine=libblkio', '--libblkio_driver=nvme-io_uring', '--filename=/dev/ng0n1']).jobs;
    assert.equal(job.driver, 'nvme-io_uring');
  });

  it('reads rw=rw as readwrite and rw=read:-8k as a backwards step', () => {
    assert.equal(parseCommandLine(['--rw=rw', '--filename=/f']).jobs[0].rw, 'readwrite');
    const back = parseCommandLine(['--rw=read:-8k', '--filename=/f']).jobs[0];
    assert.equal(back.rw, 'read');
    assert.equal(back.seqAdd, -8192);
  });

  it('reads buffered=0 as direct=1 and the later of the two wins', () => {
    assert.equal(parseCommandLine(['--buffered=0', '--filename=/f']).jobs[0].direct, true);
    assert.equal(parseCommandLine(['--buffered=0', '--direct=0', '--filename=/f']).jobs[0].direct, false);
  });

  it('reads thinktime in microseconds and startdelay in seconds, as fio does', () => {
    const [job] = parseCommandLine(['--thinktime=250', '--startdelay=2', '--filename=/f']).jobs;
    assert.equal(job.thinktimeNs, 250_000);
    assert.equal(job.startdelayNs, 2e9);
  });

  it('reads random_distribution zipf, pareto and normal with their parameter', () => {
    const d = (v: string) => parseCommandLine([`--random_distribution=${v}`, '--filename=/f']).jobs[0].randomDistribution;
    assert.deepEqual(d('zipf:1.2'), { kind: 'zipf', param: 1.2 });
    assert.deepEqual(d('pareto:0.9'), { kind: 'pareto', param: 0.9 });
    assert.deepEqual(d('normal:10'), { kind: 'normal', param: 10 });
    assert.throws(() => d('zipf:1'), { message: "bad value 'zipf:1' for option 'random_distribution': expected a zipf theta above 0, not 1" });
  });

  it('reads bsrange as power-of-two steps from the minimum to the maximum', () => {
    const [job] = parseCommandLine(['--bsrange=4k-32k', '--filename=/f']).jobs;
    assert.deepEqual(job.bs.read.sizes, [4096, 8192, 16384, 32768]);
  });

  it('reads per-direction rates', () => {
    const [job] = parseCommandLine(['--rate=1m,512k', '--rate_iops=100', '--filename=/f']).jobs;
    assert.deepEqual(job.rate, { read: 1 << 20, write: 512 << 10, trim: 1 << 20 });
    assert.deepEqual(job.rateIops, { read: 100, write: 100, trim: 100 });
  });

  it('names logs after the job for a bare write_bw_log, as fio does', () => {
    const [job] = parseCommandLine(['--name=steady', '--filename=/f', '--write_bw_log']).jobs;
    assert.equal(job.writeBwLog, 'steady');
  });

  it('renames a job with name= in its own section, not with name= in [global]', () => {
    const cmd = parseCommandLine(['n.fio'], files({ 'n.fio': '[global]\nname=g\nfilename=/f\n[a]\n[b]\nname=renamed\n' }));
    assert.deepEqual(cmd.jobs.map((j) => j.name), ['a', 'renamed']);
  });

  it('has one table entry per option, names unique across entries', () => {
    const seen = new Map<string, string>();
    for (const [key, def] of Object.entries(OPTIONS) as Array<[string, OptionDef<unknown>]>) {
      assert.ok(def.help.length > 0, `${key} has help`);
      assert.ok(def.fio.length > 0, `${key} names fio's semantics`);
      for (const n of def.names) {
        assert.equal(seen.get(n), undefined, `${n} is in ${seen.get(n)} and ${key}`);
        seen.set(n, key);
        assert.equal(canonicalOptionName(n), def.names[0]);
      }
    }
  });
});
