// Starts test/host/vhost-user/evil-backend/evil_backend.c, a vhost-user-blk
// backend that misbehaves as told (its modes are listed in the C file),
// built once per test run with gcc.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../../support/files';

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('no package.json above ' + __dirname);
    dir = up;
  }
  return dir;
}

const SOURCE = path.join(repoRoot(), 'test', 'host', 'vhost-user', 'evil-backend', 'evil_backend.c');
let buildDir: string | undefined;
const running = new Set<ChildProcess>();
// No backend and no build outlives the test run.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
});

function build(): string {
  if (!buildDir) {
    const dir = tempDir('blkio-evil-backend-');
    execFileSync('gcc', ['-O1', '-Wall', '-Wextra', '-Werror', SOURCE, '-o', path.join(dir, 'evil_backend')], {
      stdio: 'inherit',
    });
    buildDir = dir;
  }
  return path.join(buildDir, 'evil_backend');
}

export class EvilBackend {
  private constructor(
    readonly socket: string,
    private readonly dir: string,
    private readonly proc: ChildProcess,
    readonly exited: Promise<number | null>,
  ) {}

  /** Starts a backend with these misbehaviours and waits until it listens. */
  static async start(...modes: string[]): Promise<EvilBackend> {
    const exe = build();
    const dir = tempDir('blkio-evil-');
    const socket = path.join(dir, 'evil.sock');
    const proc = spawn(exe, [socket, ...modes], { stdio: ['ignore', 'pipe', 'inherit'] });
    running.add(proc);
    const exited = new Promise<number | null>((resolve) =>
      proc.once('exit', (code) => {
        running.delete(proc);
        resolve(code);
      }),
    );
    await new Promise<void>((resolve, reject) => {
      proc.stdout!.once('data', () => resolve());
      void exited.then((code) => reject(new Error(`evil_backend ${modes.join(' ')} exited with ${code}`)));
    });
    return new EvilBackend(socket, dir, proc, exited);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  async dispose(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    await this.exited;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
