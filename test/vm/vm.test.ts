// Host side of the vhost-vdpa VM tests: builds (or reuses) the guest kernel,
// boots a QEMU TCG guest with test/vm/run-in-vm.sh, and runs the guest test
// suites (every dist-test/test/vm/**/*.test.js but this one) inside it.
// Never skips: missing tools fail with the Debian package to install.
//
// BLKIO_VM_STREAM=1 copies the guest console to stderr while it runs.
// BLKIO_VM_SUITES=switch,vdpa/ runs only the guest suites whose path
// contains one of those strings (for debugging one suite in its order).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NVME_MARKER_OFFSET } from '../support/nvme-target';
import { buildQemu, QEMU_BIN_VARIABLE } from '../support/qemu-blkio';
import { VFIO_MARKER_OFFSET } from '../support/vfio-target';
import { DIST_TEST, REPO_ROOT } from '../support/paths';
import { requirePrerequisite } from '../support/prerequisites';

const REPO_DIR = REPO_ROOT;
const VM_DIR = path.join(REPO_DIR, 'test/vm');
const KERNEL_SOURCE = '/usr/src/linux-source-6.1.tar.xz';

// Host tools the VM run needs, and the Debian package that has each.
const REQUIRED_TOOLS: [tool: string, debianPackage: string][] = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['qemu-storage-daemon', 'qemu-system-common'],
  ['qemu-img', 'qemu-utils'],
  ['vdpa', 'iproute2'],
];

interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, stream: boolean): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const child = spawn(command, args, { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stream) process.stderr.write(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stream) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, elapsedMs: Date.now() - start }));
  });
}

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

// The compiled guest suites, as repo-relative paths (the guest's cwd is the repo).
// Built here rather than passed as globs so that a glob matching nothing is no error.
function guestTestFiles(): string[] {
  const found: string[] = [];
  const walk = (dir: string, accept: (name: string) => boolean): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, accept);
      else if (accept(entry.name)) found.push(path.relative(REPO_DIR, full));
    }
  };
  // Every suite under test/vm but this host-side one.
  walk(path.join(DIST_TEST, 'test/vm'), (name) => name.endsWith('.test.js') && name !== 'vm.test.js');
  const only = (process.env.BLKIO_VM_SUITES ?? '').split(',').filter((s) => s !== '');
  return found.filter((file) => only.length === 0 || only.some((s) => file.includes(s))).sort();
}

function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

if (process.env.BLKIO_IN_VM !== '1') {
  describe('vhost-vdpa in a QEMU guest', function () {
    // First run builds the kernel (about 4 min on 2 cores); TCG makes the guest slow.
    this.timeout(40 * 60_000);
    const stream = process.env.BLKIO_VM_STREAM === '1';
    let kernelPath: string | undefined;
    let qemuBin: string | undefined;

    it('has qemu, qemu-storage-daemon, vdpa and the kernel source on the host', function () {
      const missing = REQUIRED_TOOLS.filter(([tool]) => !onPath(tool)).map(
        ([tool, debianPackage]) => `${tool} (apt-get install ${debianPackage})`,
      );
      const cachedKernel = process.env.BLKIO_VM_KERNEL;
      if (!fs.existsSync(KERNEL_SOURCE) && !(cachedKernel && fs.existsSync(cachedKernel))) {
        missing.push(`${KERNEL_SOURCE} (apt-get install linux-source-6.1 flex bison bc libelf-dev libssl-dev cpio)`);
      }
      requirePrerequisite(missing.length === 0, missing.join('; '), 'test/prerequisites.sh installs them as root');
    });

    it('builds or finds the guest kernel', async function () {
      if (process.env.BLKIO_VM_KERNEL) {
        kernelPath = process.env.BLKIO_VM_KERNEL;
      } else {
        const result = await run(path.join(VM_DIR, 'build-kernel.sh'), [], process.env, stream);
        assert.equal(result.status, 0, `build-kernel.sh failed:\n${result.stderr}`);
        kernelPath = result.stdout.trim().split('\n').pop();
      }
      assert.ok(kernelPath && fs.existsSync(kernelPath), `no kernel image at ${kernelPath}`);
    });

    // The guest suite test/vm/qemu-blkio runs these over the 9p root (about 70 s to build once).
    it('builds or finds QEMU\'s tools with the blkio driver', async function () {
      qemuBin = await buildQemu();
    });

    it('runs the guest test suites in the VM and they pass', async function () {
      assert.ok(kernelPath, 'the kernel was not built (see the previous test)');
      assert.ok(qemuBin, 'QEMU\'s tools were not built (see the previous test)');
      const files = guestTestFiles();
      assert.ok(files.length > 0, 'no compiled guest tests in dist-test/test/vm (run npm run build:test first)');

      // --no-config: the repo's .mocharc.json spec would add the host suites.
      const guestCommand = [
        process.execPath, 'node_modules/.bin/mocha', '--no-config',
        '--reporter', 'spec', '--timeout', '120000', ...files,
      ];
      // The guest's NVMe and vfio disks are ours, so the data nvme-io_uring
      // and virtio-blk-vfio-pci wrote can be checked once QEMU has exited.
      const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-vm-disks-'));
      const disks = [
        { name: 'nvme', driver: 'nvme-io_uring', offset: NVME_MARKER_OFFSET, variable: 'BLKIO_NVME_MARKER' },
        { name: 'vfio', driver: 'virtio-blk-vfio-pci', offset: VFIO_MARKER_OFFSET, variable: 'BLKIO_VFIO_MARKER' },
      ].map((d) => ({ ...d, image: path.join(imageDir, `${d.name}.img`), marker: crypto.randomBytes(64) }));
      for (const d of disks) {
        fs.writeFileSync(d.image, '');
        fs.truncateSync(d.image, 64 << 20);
      }
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        BLKIO_VM_KERNEL: kernelPath,
        BLKIO_VM_NVME_IMAGE: disks[0].image,
        BLKIO_VM_VFIO_IMAGE: disks[1].image,
        [QEMU_BIN_VARIABLE]: qemuBin,
        BLKIO_VM_PASS_ENV: [process.env.BLKIO_VM_PASS_ENV ?? '', QEMU_BIN_VARIABLE, ...disks.map((d) => d.variable)].join(' ').trim(),
      };
      for (const d of disks) env[d.variable] = d.marker.toString('hex');
      let result: RunResult;
      const missingMarkers: string[] = [];
      try {
        result = await run(path.join(VM_DIR, 'run-in-vm.sh'), guestCommand, env, stream);
        for (const d of disks) {
          const onDisk = Buffer.alloc(d.marker.length);
          const fd = fs.openSync(d.image, 'r');
          fs.readSync(fd, onDisk, 0, d.marker.length, d.offset);
          fs.closeSync(fd);
          if (!onDisk.equals(d.marker)) missingMarkers.push(`${d.driver} (${d.name}.img at ${d.offset})`);
        }
      } finally {
        fs.rmSync(imageDir, { recursive: true, force: true });
      }

      const consoleText = stripAnsi(result.stdout);
      const passing = Number(/(\d+) passing/.exec(consoleText)?.[1] ?? 0);
      const failing = Number(/(\d+) failing/.exec(consoleText)?.[1] ?? 0);
      const report =
        `run-in-vm.sh exited with ${result.status ?? result.signal} after ${(result.elapsedMs / 1000).toFixed(1)} s; ` +
        `guest mocha: ${passing} passing, ${failing} failing\n` +
        `--- guest console (last 80 lines) ---\n${lastLines(consoleText, 80)}\n` +
        `--- run-in-vm.sh stderr ---\n${lastLines(result.stderr, 40)}`;
      assert.equal(result.status, 0, report);
      assert.equal(failing, 0, report);
      assert.ok(passing > 0, `the guest ran no tests\n${report}`);
      assert.deepEqual(missingMarkers, [], 'disk images lack the marker the guest wrote through these drivers');
      // The guest's tests are not in the host's count: say how many ran.
      console.log(`      guest: ${passing} passing, ${failing} failing in ${files.length} files (${(result.elapsedMs / 1000).toFixed(0)} s)`);
    });
  });
}
