// NVMe over TCP on one (guest) machine: the kernel's nvmet target, set up
// through configfs with a file-backed namespace and a TCP port on a local
// address, and the kernel's nvme-tcp initiator connected to it by writing a
// connect string to /dev/nvme-fabrics (what `nvme connect` does; no tool needed).
// Needs root and a kernel with NVME_TARGET_TCP, NVME_TCP and CONFIGFS_FS (the
// test guest's). The namespace is found by its subsystem NQN in sysfs, never by
// number: the guest has NVMe PCI controllers too.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NvmeNamespace } from './nvme-target';

export const CONFIGFS = '/sys/kernel/config';
export const NVMET = `${CONFIGFS}/nvmet`;
export const FABRICS_DEVICE = '/dev/nvme-fabrics';
export const NVME_TCP_MODEL = 'blkio-nvme-tcp';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

/** Mounts configfs if it is not mounted yet (guest-init does not). */
export function ensureConfigfs(): void {
  if (fs.existsSync(NVMET)) return;
  if (!fs.existsSync(CONFIGFS)) throw new Error(`${CONFIGFS} is missing: the kernel needs CONFIGFS_FS`);
  if (!fs.existsSync(`${CONFIGFS}/nvmet`)) {
    execFileSync('mount', ['-t', 'configfs', 'configfs', CONFIGFS]);
  }
  if (!fs.existsSync(NVMET)) throw new Error(`${NVMET} is missing after mounting configfs: the kernel needs NVME_TARGET`);
}

export interface NvmetTcpOptions {
  /** The namespace's backing file (must exist; not deleted). */
  backingFile: string;
  /** Address of the TCP port (default 127.0.0.1) and its service id (default 4420). */
  traddr?: string;
  trsvcid?: number;
}

/** An nvmet subsystem with one file-backed namespace (nsid 1), exported on a TCP port. */
export class NvmetTcpTarget {
  readonly nqn: string;
  readonly traddr: string;
  readonly trsvcid: number;
  readonly backingFile: string;
  readonly #subsystem: string;
  readonly #port: string;
  #up = false;

  private constructor(opts: NvmetTcpOptions) {
    this.nqn = `nqn.2026-12.io.blkio.test:tcp-${crypto.randomBytes(4).toString('hex')}`;
    this.traddr = opts.traddr ?? '127.0.0.1';
    this.trsvcid = opts.trsvcid ?? 4420;
    this.backingFile = opts.backingFile;
    this.#subsystem = `${NVMET}/subsystems/${this.nqn}`;
    let id = 1;
    while (fs.existsSync(`${NVMET}/ports/${id}`)) id++;
    this.#port = `${NVMET}/ports/${id}`;
  }

  static create(opts: NvmetTcpOptions): NvmetTcpTarget {
    ensureConfigfs();
    const t = new NvmetTcpTarget(opts);
    try {
      t.#build();
    } catch (e) {
      t.teardown();
      throw e;
    }
    return t;
  }

  #build(): void {
    this.#up = true;
    fs.mkdirSync(this.#subsystem);
    write(`${this.#subsystem}/attr_allow_any_host`, '1');
    write(`${this.#subsystem}/attr_model`, NVME_TCP_MODEL);
    const ns = `${this.#subsystem}/namespaces/1`;
    fs.mkdirSync(ns);
    write(`${ns}/device_path`, this.backingFile);
    // tmpfs (the guest's /tmp) has no O_DIRECT, which the file backend uses unless buffered.
    write(`${ns}/buffered_io`, '1');
    write(`${ns}/enable`, '1');
    fs.mkdirSync(this.#port);
    write(`${this.#port}/addr_trtype`, 'tcp');
    write(`${this.#port}/addr_adrfam`, this.traddr.includes(':') ? 'ipv6' : 'ipv4');
    write(`${this.#port}/addr_traddr`, this.traddr);
    write(`${this.#port}/addr_trsvcid`, String(this.trsvcid));
    // Linking the subsystem to the port starts listening.
    fs.symlinkSync(this.#subsystem, `${this.#port}/subsystems/${this.nqn}`);
  }

  /** Removes the port, namespace and subsystem (connected hosts must be gone first). Idempotent. */
  teardown(): void {
    if (!this.#up) return;
    this.#up = false;
    const tryTo = (fn: () => void) => {
      try {
        fn();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    };
    tryTo(() => fs.unlinkSync(`${this.#port}/subsystems/${this.nqn}`));
    tryTo(() => fs.rmdirSync(this.#port));
    tryTo(() => write(`${this.#subsystem}/namespaces/1/enable`, '0'));
    tryTo(() => fs.rmdirSync(`${this.#subsystem}/namespaces/1`));
    tryTo(() => fs.rmdirSync(this.#subsystem));
  }

  /** Whether configfs still has the subsystem. */
  get exists(): boolean {
    return fs.existsSync(this.#subsystem);
  }
}

/** Controllers (nvmeN) whose subsystem NQN is nqn. */
export function controllersOf(nqn: string): string[] {
  const dir = '/sys/class/nvme';
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((c) => {
    try {
      return fs.readFileSync(`${dir}/${c}/subsysnqn`, 'utf8').trim() === nqn;
    } catch {
      return false;
    }
  });
}

/** An nvme-tcp controller connected to a target, and its namespace 1. */
export class NvmeTcpConnection {
  private constructor(
    readonly target: NvmetTcpTarget,
    /** The controller's sysfs name, e.g. nvme2. */
    readonly controller: string,
    readonly namespace: NvmeNamespace,
  ) {}

  /**
   * Connects the nvme-tcp initiator to the target and waits (up to timeoutMs) for its
   * namespace's block and generic char devices.
   */
  static connect(target: NvmetTcpTarget, timeoutMs = 30000): NvmeTcpConnection {
    const options = `transport=tcp,traddr=${target.traddr},trsvcid=${target.trsvcid},nqn=${target.nqn}`;
    const fd = fs.openSync(FABRICS_DEVICE, 'r+');
    let reply = '';
    try {
      fs.writeSync(fd, options);
      const buf = Buffer.alloc(256);
      reply = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, null)).toString();
    } finally {
      fs.closeSync(fd);
    }
    if (!/^instance=\d+/.test(reply)) throw new Error(`${FABRICS_DEVICE} answered '${reply}' to '${options}'`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ctrls = controllersOf(target.nqn);
      if (ctrls.length > 1) throw new Error(`more than one controller of ${target.nqn}: ${ctrls.join(', ')}`);
      const ns = ctrls.length === 1 ? namespaceOf(ctrls[0]) : undefined;
      if (ns) return new NvmeTcpConnection(target, ctrls[0], ns);
      if (Date.now() > deadline) {
        throw new Error(`no namespace of ${target.nqn} appeared within ${timeoutMs} ms (controllers: ${ctrls.join(', ') || 'none'})`);
      }
      sleepSync(50);
    }
  }

  /** The controller's transport as sysfs reports it ('tcp'). */
  get transport(): string {
    return fs.readFileSync(`/sys/class/nvme/${this.controller}/transport`, 'utf8').trim();
  }

  /** The controller's model as sysfs reports it. */
  get model(): string {
    return fs.readFileSync(`/sys/class/nvme/${this.controller}/model`, 'utf8').trim();
  }

  /** Deletes the controller (as `nvme disconnect`) and waits until sysfs no longer has it. */
  disconnect(timeoutMs = 30000): void {
    const del = `/sys/class/nvme/${this.controller}/delete_controller`;
    if (!fs.existsSync(del)) return;
    write(del, '1');
    const deadline = Date.now() + timeoutMs;
    while (controllersOf(this.target.nqn).length > 0) {
      if (Date.now() > deadline) throw new Error(`${this.controller} still there ${timeoutMs} ms after delete_controller`);
      sleepSync(50);
    }
  }
}

/** Namespace 1 of a controller, once both of its device nodes exist. */
function namespaceOf(ctrl: string): NvmeNamespace | undefined {
  const dir = `/sys/class/nvme/${ctrl}`;
  // Without native multipath the namespace's block device is a child of its controller.
  const block = fs.readdirSync(dir).find((e) => /^nvme\d+n1$/.test(e));
  if (!block) return undefined;
  const charDevice = `/dev/${block.replace(/^nvme/, 'ng')}`;
  const blockDevice = `/dev/${block}`;
  if (!fs.existsSync(charDevice) || !fs.existsSync(blockDevice)) return undefined;
  const sectors = Number(fs.readFileSync(path.join('/sys/block', block, 'size'), 'utf8'));
  if (!(sectors > 0)) return undefined;
  return { charDevice, blockDevice, capacity: sectors * 512 };
}
