import * as assert from 'node:assert/strict';
import { parseCommandLine, parseTarget } from '../../../src/blkbench/args';
import { parseJobFile } from '../../../src/blkbench/jobfile';

const FIO_FILE = `
; fio's libblkio example, as users write it
[global]
ioengine=libblkio
libblkio_driver=io_uring
filename=/tmp/disk.img
direct=0
rw=randread
bs=4k
thread
time_based
runtime=2

[job1]
iodepth=16

# a second job with its own options
[job2]
rw=randwrite
numjobs=2
`;

function files(map: Record<string, string>) {
  return (p: string) => {
    if (!(p in map)) throw new Error(`ENOENT: no such file, open '${p}'`);
    return map[p];
  };
}

describe('blkbench job files', () => {
  it('gives each section a job with the [global] options before it', () => {
    const jobs = parseJobFile(FIO_FILE, 'x.fio');
    assert.deepEqual(jobs.map((j) => j.name), ['job1', 'job2']);
    assert.equal(jobs[0].options.get('rw'), 'randread');
    assert.equal(jobs[0].options.get('iodepth'), '16');
    assert.equal(jobs[1].options.get('rw'), 'randwrite');
    assert.equal(jobs[1].options.has('iodepth'), false);
  });

  it('applies a later [global] only to the jobs after it', () => {
    const jobs = parseJobFile('[global]\nbs=4k\n[a]\n[global]\nbs=8k\n[b]\n', 'g.fio');
    assert.equal(jobs[0].options.get('bs'), '4k');
    assert.equal(jobs[1].options.get('bs'), '8k');
  });

  it('expands ${VAR} from the environment', () => {
    const jobs = parseJobFile('[a]\nfilename=${DISK}\n', 'e.fio', { DISK: '/dev/sdz' });
    assert.equal(jobs[0].options.get('filename'), '/dev/sdz');
  });

  it('names the file and line of an unknown option', () => {
    assert.throws(() => parseJobFile('[a]\nrw=read\nfrobnicate=3\n', 'bad.fio'), { message: "bad.fio:3: unknown option 'frobnicate'" });
  });

  it('names the file and line of an option outside any section', () => {
    assert.throws(() => parseJobFile('rw=read\n[a]\n', 'bad.fio'), { message: "bad.fio:1: option 'rw=read' is outside any section" });
  });

  it('rejects an empty section name, a duplicate job, and a file with no job', () => {
    assert.throws(() => parseJobFile('[ ]\n', 'e.fio'), { message: 'e.fio:1: empty section name' });
    assert.throws(() => parseJobFile('[a]\n[a]\n', 'd.fio'), { message: "d.fio:2: job 'a' is defined twice" });
    assert.throws(() => parseJobFile('[global]\nrw=read\n', 'n.fio'), { message: 'n.fio: no job sections (only [global])' });
  });

  it('names an unset environment variable', () => {
    assert.throws(() => parseJobFile('[a]\nfilename=${NOPE_NOT_SET}\n', 'v.fio', {}), {
      message: "v.fio:2: environment variable 'NOPE_NOT_SET' is not set",
    });
  });

  it('resolves a fio libblkio job file into job specs, clones included', () => {
    const cmd = parseCommandLine(['x.fio'], files({ 'x.fio': FIO_FILE }));
    assert.equal(cmd.jobs.length, 2);
    assert.equal(cmd.jobs[0].driver, 'io_uring');
    assert.equal(cmd.jobs[0].iodepth, 16);
    assert.equal(cmd.jobs[1].numjobs, 2);
    assert.equal(cmd.jobs[1].timeBased, true);
  });

  it('names the job whose value is bad when a file has several', () => {
    assert.throws(() => parseCommandLine(['x.fio'], files({ 'x.fio': '[a]\nfilename=/x\n[b]\nfilename=/x\niodepth=0\n' })), {
      message: "x.fio:5: bad value '0' for option 'iodepth': expected an integer from 1 to 65536",
    });
  });
});

describe('blkbench command line', () => {
  it('runs the default job with no arguments', () => {
    const cmd = parseCommandLine([]);
    assert.equal(cmd.kind, 'run');
    assert.equal(cmd.defaultJob, true);
    assert.equal(cmd.jobs.length, 1);
    const s = cmd.jobs[0];
    assert.equal(s.rw, 'randread');
    assert.deepEqual(s.bs.read.sizes, [4096]);
    assert.equal(s.timeBased, true);
    assert.equal(s.invalidate, false);
  });

  it('takes job options as --name=value, with the first job unnamed when no --name is given', () => {
    const cmd = parseCommandLine(['--rw=randwrite', '--bs=8k', '--filename=/tmp/f', '--iodepth=4']);
    assert.equal(cmd.defaultJob, false);
    assert.equal(cmd.jobs[0].name, 'job1');
    assert.equal(cmd.jobs[0].rw, 'randwrite');
    assert.equal(cmd.jobs[0].iodepth, 4);
  });

  it('starts a job at each --name, with earlier options applying to all', () => {
    const cmd = parseCommandLine(['--filename=/tmp/f', '--bs=8k', '--name=a', '--rw=read', '--name=b', '--rw=write', '--bs=16k']);
    assert.deepEqual(cmd.jobs.map((j) => [j.name, j.rw, j.bs.read.sizes[0]]), [['a', 'read', 8192], ['b', 'write', 16384]]);
  });

  it('lets a job file win over command-line options, as fio 3.33 does', () => {
    const cmd = parseCommandLine(['x.fio', '--runtime=1'], files({ 'x.fio': FIO_FILE }));
    assert.equal(cmd.jobs[0].runtimeNs, 2e9);
  });

  it('fills in from the command line what a job file leaves unset', () => {
    const cmd = parseCommandLine(['--size=1m', 'x.fio'], files({ 'x.fio': FIO_FILE }));
    assert.deepEqual(cmd.jobs[0].size, { bytes: 1 << 20 });
  });

  it('takes output options with = or as the next argument', () => {
    const cmd = parseCommandLine(['--filename=/f', '--output-format', 'json+', '--output=/tmp/out.json']);
    assert.deepEqual(cmd.formats, ['json+']);
    assert.equal(cmd.output, '/tmp/out.json');
    assert.deepEqual(parseCommandLine(['--filename=/f', '--output-format=normal,json']).formats, ['normal', 'json']);
  });

  it('recognises --help and --version', () => {
    assert.equal(parseCommandLine(['--help']).kind, 'help');
    assert.equal(parseCommandLine(['-h']).kind, 'help');
    assert.equal(parseCommandLine(['--version']).kind, 'version');
  });

  it('reads compare targets as [LABEL@]DRIVER:PATH[,option=value]', () => {
    assert.deepEqual(parseTarget('raw@io_uring:/dev/sdb,direct=1'), {
      label: 'raw', driver: 'io_uring', path: '/dev/sdb', options: [['direct', '1']],
    });
    const cmd = parseCommandLine(['compare', '--target=io_uring:/tmp/a', '--target', 'vu@virtio-blk-vhost-user:/run/vu.sock', '--plot=c.svg']);
    assert.equal(cmd.kind, 'compare');
    assert.deepEqual(cmd.targets.map((t) => t.label), ['io_uring', 'vu']);
    assert.equal(cmd.plot, 'c.svg');
    assert.equal(cmd.rawJobs.length, 1);
  });

  describe('error messages', () => {
    const cases: Array<[string, string[], string]> = [
      ['an unknown option', ['--frobnicate=1'], "unknown option 'frobnicate'"],
      ['an unknown short option', ['-x'], "unknown option '-x'"],
      ['a bad output format', ['--filename=/f', '--output-format=xml'], "bad value 'xml' for option 'output-format': expected one of normal, json, json+, terse"],
      ['--output without a value', ['--output'], "option '--output' needs a value"],
      ['an empty --name', ['--name='], "option '--name' needs a value"],
      ['an empty --output', ['--filename=/f', '--output='], "option '--output' needs a file name"],
      ['an empty --plot', ['compare', '--target=io_uring:/f', '--plot='], "option '--plot' needs a file name"],
      ['--target without a value', ['compare', '--target'], "option '--target' needs a value"],
      ['--plot outside compare', ['--filename=/f', '--plot=x.svg'], "option '--plot' only applies to 'blkbench compare'"],
      ['compare without targets', ['compare', '--rw=read'], "compare needs at least one '--target=DRIVER:PATH'"],
      ['a target without a path', ['compare', '--target=io_uring'], "bad value 'io_uring' for option '--target': expected [LABEL@]DRIVER:PATH[,option=value...]"],
      ['a target with an unknown option', ['compare', '--target=io_uring:/f,speed=9'], "unknown option 'speed'"],
      ['a missing job file', ['nope.fio'], "cannot read job file 'nope.fio': ENOENT: no such file, open 'nope.fio'"],
      ['the same job twice', ['--filename=/f', '--name=a', '--name=a'], "job 'a' is defined twice"],
    ];
    for (const [what, argv, message] of cases) {
      it(`stops on ${what}: "${message}"`, () => {
        assert.throws(() => parseCommandLine(argv, files({})), { message });
      });
    }
  });
});
