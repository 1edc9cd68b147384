/**
 * ioengine=exec, fio's engine that runs a program for the job's runtime, on the native loop's exec
 * sink: real programs (shell scripts written here, coreutils), real signals, and real fio for what it
 * does with the same job. The program gets fio's argv (%r, %n), its output in <job>.stdout/.stderr,
 * SIGTERM at the end, grace_time, then SIGKILL; it is reaped, inherits no fd and no ignored signal,
 * and dies with blkbench.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startExecJobLoop } from '../../../src/lib/bench';
import { BLKBENCH_CLI } from '../../support/paths';
import { until } from '../../support/until';
import { requireFio } from '../../support/prerequisites';
import { tempDir } from '../../support/files';

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string, stdio: Array<'pipe' | 'ignore'> = ['ignore', 'pipe', 'pipe']): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 20000, killSignal: 'SIGKILL', stdio });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function blkbench(dir: string, args: string[], stdio?: Array<'pipe' | 'ignore'>): Run {
  return run(process.execPath, [BLKBENCH_CLI, ...args], dir, stdio);
}

/** An executable shell script in dir. */
function script(dir: string, name: string, body: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

/** Whether the process exists, as anything but a zombie (a zombie is dead, but not reaped). */
function alive(pid: number): boolean {
  try {
    return !/\)\s+Z\s/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function exists(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}


describe('ioengine=exec: a program run for the job\'s runtime', function () {
  this.timeout(30000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('blkbench-exec-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the program with fio\'s expanded arguments and its output in <job>.stdout and .stderr, as fio does', () => {
    requireFio();
    const prog = script(dir, 'args.sh', 'echo "args: $*"; echo "to stderr" >&2');
    const job = ['--name=mon', '--ioengine=exec', `--program=${prog}`, '--arguments=%r  --job=%n', '--runtime=1', '--grace_time=0'];
    const fio = run('fio', ['--thread', ...job], dir);
    assert.equal(fio.code, 0, fio.stderr);
    const fioOut = [fs.readFileSync(path.join(dir, 'mon.stdout'), 'utf8'), fs.readFileSync(path.join(dir, 'mon.stderr'), 'utf8')];
    fs.rmSync(path.join(dir, 'mon.stdout'));
    fs.rmSync(path.join(dir, 'mon.stderr'));
    const r = blkbench(dir, ['--output-format=json', ...job]);
    assert.equal(r.code, 0, r.stderr);
    const out = [fs.readFileSync(path.join(dir, 'mon.stdout'), 'utf8'), fs.readFileSync(path.join(dir, 'mon.stderr'), 'utf8')];
    assert.deepEqual(out, ['args: 1 --job=mon\n', 'to stderr\n']);
    assert.deepEqual(out, fioOut);
    const j = JSON.parse(r.stdout).jobs[0];
    assert.equal(j.blkbench_loop, 'native');
    assert.ok(j.read.total_ios > 1, `${j.read.total_ios} requests: the program is looked at until the runtime ends`);
    assert.equal(j.read.io_bytes, 0, 'exec moves no data');
  });

  it('std_redirect=0: the program writes to blkbench\'s own stdout', () => {
    const r = blkbench(dir, ['--name=s', '--ioengine=exec', '--program=/bin/echo', '--arguments=hello from %n', '--runtime=300ms', '--std_redirect=0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hello from s$/m);
    assert.ok(!fs.existsSync(path.join(dir, 's.stdout')));
  });

  it('gives the program SIGTERM at the runtime\'s end and grace_time to finish cleanly', () => {
    const prog = script(dir, 'graceful.sh', 'trap \'echo term >> log; sleep 0.3; echo clean >> log; exit 0\' TERM\nwhile :; do sleep 0.05; done');
    const r = blkbench(dir, ['--name=g', '--ioengine=exec', `--program=${prog}`, '--runtime=300ms', '--grace_time=5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'log'), 'utf8'), 'term\nclean\n');
  });

  it('grace_time=0: SIGKILL follows SIGTERM at once, so a slow cleanup never finishes', () => {
    const prog = script(dir, 'graceful.sh', 'echo $$ > pid\ntrap \'echo term >> log; sleep 2; echo clean >> log; exit 0\' TERM\nwhile :; do sleep 0.05; done');
    const r = blkbench(dir, ['--name=g', '--ioengine=exec', `--program=${prog}`, '--runtime=300ms', '--grace_time=0']);
    assert.equal(r.code, 0, r.stderr);
    const log = fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8') : '';
    assert.ok(!log.includes('clean'), `the program finished its cleanup: ${log}`);
    assert.ok(!alive(Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'))), 'the program outlived blkbench');
  });

  it('a program that ignores SIGTERM is killed after grace_time and reaped: no zombie is left', async () => {
    const prog = script(dir, 'stubborn.sh', 'trap "" TERM\nwhile :; do sleep 0.05; done');
    // The first request starts the program: a child of the loop's thread until the loop reaps it.
    const children = () => fs.readdirSync('/proc/self/task').flatMap((t) => {
      try {
        return fs.readFileSync(`/proc/self/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return []; // a thread that has just ended
      }
    });
    const before = new Set(children());
    const loop = startExecJobLoop({ program: prog, argv: [prog], graceNs: 200e6 }, { rw: 'read', regionLength: 2 ** 40, runtimeNs: 300e6, timeBased: true, thinktimeNs: 100e6 });
    let pid = 0;
    await until('the program to start', () => {
      pid = children().find((p) => !before.has(p)) ?? 0;
      return pid > 0;
    });
    const r = await loop.done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.ok(!exists(pid), `the program (pid ${pid}) is still there${alive(pid) ? '' : ' as a zombie'}`);
  });

  it('what the program started ends with it (the program leads a process group of its own)', () => {
    const prog = script(dir, 'parent.sh', 'sleep 1000 &\necho $! > grandchild\nwhile :; do sleep 0.05; done');
    const r = blkbench(dir, ['--name=p', '--ioengine=exec', `--program=${prog}`, '--runtime=300ms', '--grace_time=0']);
    assert.equal(r.code, 0, r.stderr);
    const grandchild = Number(fs.readFileSync(path.join(dir, 'grandchild'), 'utf8'));
    assert.ok(!alive(grandchild), `the program's child (pid ${grandchild}) outlived the job`);
  });

  it('dies with blkbench when blkbench is killed (its parent-death signal is SIGKILL)', async () => {
    const prog = script(dir, 'pid.sh', 'echo $$ > pid.tmp; mv pid.tmp pid\ntrap "" TERM\nwhile :; do sleep 0.05; done');
    const child = spawn(process.execPath, [BLKBENCH_CLI, '--name=k', '--ioengine=exec', `--program=${prog}`, '--runtime=60'], { cwd: dir, stdio: 'ignore' });
    try {
      await until('the program to start', () => fs.existsSync(path.join(dir, 'pid')));
      const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
      assert.ok(alive(pid));
      child.kill('SIGKILL');
      await until(`the program (pid ${pid}) to die with blkbench`, () => !alive(pid));
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('the program inherits no fd above 2 and no blocked or ignored signal from Node', () => {
    // blkbench gets a pipe as fd 3 without close-on-exec: the program must not see it.
    const fds = blkbench(dir, ['--name=f', '--ioengine=exec', '--program=ls', '--arguments=-l /proc/self/fd/', '--runtime=200ms'], ['ignore', 'pipe', 'pipe', 'pipe']);
    assert.equal(fds.code, 0, fds.stderr);
    const open = fs.readFileSync(path.join(dir, 'f.stdout'), 'utf8').split('\n').map((l) => /(\d+) -> (.*)$/.exec(l)).filter((m) => m !== null);
    const extra = open.filter((m) => Number(m![1]) > 2 && !m![2].startsWith('/proc/')); // ls's own directory fd is /proc/<pid>/fd
    assert.deepEqual(extra.map((m) => m![0]), []);
    assert.deepEqual(open.filter((m) => Number(m![1]) <= 2).map((m) => m![1]), ['0', '1', '2']);
    const sig = blkbench(dir, ['--name=s', '--ioengine=exec', '--program=grep', '--arguments=^Sig[BI] /proc/self/status', '--runtime=200ms']);
    assert.equal(sig.code, 0, sig.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 's.stdout'), 'utf8'), 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('a program that does not exist: the job runs its time without error, as fio\'s does', () => {
    requireFio();
    const job = ['--output-format=json', '--name=m', '--ioengine=exec', '--program=/nonexistent/turbostat', '--arguments=%r', '--runtime=300ms', '--grace_time=0'];
    const fio = run('fio', job, dir); // processes: fio 3.33's forked child that fails to exec carries on as fio, and with threads it may crash fio
    assert.equal(fio.code, 0, fio.stderr);
    const fioJob = JSON.parse(fio.stdout.slice(fio.stdout.indexOf('{'))).jobs[0];
    assert.deepEqual([fioJob.error, fioJob.read.total_ios > 0, fs.existsSync(path.join(dir, 'm.stdout'))], [0, true, true]);
    fs.rmSync(path.join(dir, 'm.stdout'));
    const r = blkbench(dir, job);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout).jobs[0];
    assert.deepEqual([j.error, j.read.total_ios > 0, fs.existsSync(path.join(dir, 'm.stdout'))], [0, true, true]);
  });
});
