// QEMU's own libblkio client (its blkio block driver, block/blkio.c) run on
// this project's libblkio.so.1: qemu-io and qemu-img built by
// test/host/qemu-blkio/build-qemu.sh, started with LD_LIBRARY_PATH naming
// this checkout's build, so they use the library as built now.
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILD_DIR, REPO_ROOT } from './paths';

export const BUILD_QEMU_SCRIPT = path.join(REPO_ROOT, 'test', 'host', 'qemu-blkio', 'build-qemu.sh');
/** The guest finds the built tools' directory in this variable (set by vm.test.ts). */
export const QEMU_BIN_VARIABLE = 'BLKIO_QEMU_BLKIO_BIN';

/** Builds (first run: minutes) or finds the tools; resolves to their directory. */
export function buildQemu(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(BUILD_QEMU_SCRIPT, [], { maxBuffer: 16 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`build-qemu.sh failed (${err.message}):\n${stderr.split('\n').slice(-40).join('\n')}`));
        return;
      }
      const dir = stdout.trim().split('\n').pop() ?? '';
      if (!fs.existsSync(path.join(dir, 'qemu-io'))) reject(new Error(`build-qemu.sh printed ${dir}, which has no qemu-io`));
      else resolve(dir);
    });
  });
}

/** `key=value,...` for --image-opts; commas in values are doubled as QEMU wants. */
export function imageOpts(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${v.replace(/,/g, ',,')}`)
    .join(',');
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function toolEnv(): NodeJS.ProcessEnv {
  const inherited = process.env.LD_LIBRARY_PATH;
  return { ...process.env, LD_LIBRARY_PATH: inherited ? `${BUILD_DIR}:${inherited}` : BUILD_DIR };
}

/** Runs one of the built tools (qemu-io, qemu-img) on this checkout's libblkio.so.1. */
export function runTool(binDir: string, tool: 'qemu-io' | 'qemu-img', args: string[], timeoutMs = 120_000): ToolResult {
  const r = spawnSync(path.join(binDir, tool), args, {
    env: toolEnv(),
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** qemu-io on one image given as --image-opts, running `commands` in order. */
export function qemuIo(binDir: string, opts: Record<string, string>, commands: string[], readOnly = false): ToolResult {
  const args = ['--image-opts', ...(readOnly ? ['-r'] : [])];
  for (const c of commands) args.push('-c', c);
  args.push(imageOpts(opts));
  return runTool(binDir, 'qemu-io', args);
}

/** Which libblkio.so.1 the dynamic linker gives the tool (ldd, with the tools' environment). */
export function resolvedLibblkio(binDir: string, tool = 'qemu-io'): string | undefined {
  const r = spawnSync('ldd', [path.join(binDir, tool)], { env: toolEnv(), encoding: 'utf8' });
  return /libblkio\.so\.1 => (\S+)/.exec(r.stdout)?.[1];
}

/** A one-line account of a tool run, for assertion messages. */
export function describeRun(r: ToolResult): string {
  return `exit ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/**
 * Parses `qemu-io -c 'read -v OFF LEN'` hex dumps ("0000: 5a 5a ... ASCII")
 * into the bytes read.
 */
export function parseHexDump(stdout: string): Buffer {
  const bytes: number[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^[0-9a-f]{8}:((?: {1,2}[0-9a-f]{2}){1,16})/.exec(line);
    if (!m) continue;
    for (const hex of m[1].trim().split(/\s+/)) bytes.push(parseInt(hex, 16));
  }
  return Buffer.from(bytes);
}
