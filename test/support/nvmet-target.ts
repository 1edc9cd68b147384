// An NVMe over TCP namespace in the test guest, all on loopback: the
// kernel's NVMe target (nvmet, set up through configfs) serves a file, and
// the kernel's initiator connects to it, giving /dev/ngXn1 for nvme-io_uring.
// Unlike QEMU's emulated NVMe, its size can change while it is in use:
// resize() grows the file and has nvmet revalidate the namespace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from './files';

const NVMET = '/sys/kernel/config/nvmet';

function write(file: string, value: string): void {
  fs.writeFileSync(file, value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class NvmetTcpNamespace {
  charDevice = '';
  #controller = '';
  readonly #dir: string;
  readonly #image: string;
  readonly #subsystem: string;
  readonly #port: string;

  private constructor(readonly nqn: string, readonly portId: number, readonly serviceId: number) {
    this.#dir = tempDir('blkio-nvmet-');
    this.#image = path.join(this.#dir, 'ns.img');
    this.#subsystem = path.join(NVMET, 'subsystems', nqn);
    this.#port = path.join(NVMET, 'ports', String(portId));
  }

  /** Exports a file of size bytes and connects to it; resolves once its char device exists. */
  static async start(opts: { nqn: string; portId: number; serviceId: number; size: number }): Promise<NvmetTcpNamespace> {
    if (!fs.existsSync(NVMET)) {
      fs.mkdirSync('/sys/kernel/config', { recursive: true });
      execFileSync('mount', ['-t', 'configfs', 'none', '/sys/kernel/config']);
    }
    const t = new NvmetTcpNamespace(opts.nqn, opts.portId, opts.serviceId);
    try {
      fs.writeFileSync(t.#image, '');
      fs.truncateSync(t.#image, opts.size);
      fs.mkdirSync(t.#subsystem);
      write(path.join(t.#subsystem, 'attr_allow_any_host'), '1');
      const ns = path.join(t.#subsystem, 'namespaces', '1');
      fs.mkdirSync(ns);
      write(path.join(ns, 'device_path'), t.#image);
      write(path.join(ns, 'buffered_io'), '1'); // the file lives on tmpfs, which has no O_DIRECT here
      write(path.join(ns, 'enable'), '1');
      fs.mkdirSync(t.#port);
      write(path.join(t.#port, 'addr_trtype'), 'tcp');
      write(path.join(t.#port, 'addr_adrfam'), 'ipv4');
      write(path.join(t.#port, 'addr_traddr'), '127.0.0.1');
      write(path.join(t.#port, 'addr_trsvcid'), String(opts.serviceId));
      fs.symlinkSync(t.#subsystem, path.join(t.#port, 'subsystems', opts.nqn));
      // The fabrics device answers the write with instance=N,cntlid=M.
      const fd = fs.openSync('/dev/nvme-fabrics', 'r+');
      let reply = '';
      try {
        fs.writeSync(fd, `transport=tcp,traddr=127.0.0.1,trsvcid=${opts.serviceId},nqn=${opts.nqn}`);
        const buf = Buffer.alloc(256);
        reply = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, null)).toString();
      } finally {
        fs.closeSync(fd);
      }
      const instance = /instance=(\d+)/.exec(reply)?.[1];
      if (instance === undefined) throw new Error(`nvme-fabrics answered '${reply}'`);
      t.#controller = `nvme${instance}`;
      const dev = `/dev/ng${instance}n1`;
      for (let i = 0; i < 200 && !fs.existsSync(dev); i++) await sleep(50);
      if (!fs.existsSync(dev)) throw new Error(`${dev} did not appear after connecting to ${opts.nqn}`);
      t.charDevice = dev;
      return t;
    } catch (e) {
      t.dispose();
      throw e;
    }
  }

  /** Grows or shrinks the file and has the target revalidate the namespace size. */
  resize(size: number): void {
    fs.truncateSync(this.#image, size);
    write(path.join(this.#subsystem, 'namespaces', '1', 'revalidate_size'), '1');
  }

  /** Disconnects and removes the target's configuration (best effort, in reverse order). */
  dispose(): void {
    const steps: (() => void)[] = [
      () => this.#controller && write(`/sys/class/nvme/${this.#controller}/delete_controller`, '1'),
      () => fs.unlinkSync(path.join(this.#port, 'subsystems', this.nqn)),
      () => fs.rmdirSync(this.#port),
      () => write(path.join(this.#subsystem, 'namespaces', '1', 'enable'), '0'),
      () => fs.rmdirSync(path.join(this.#subsystem, 'namespaces', '1')),
      () => fs.rmdirSync(this.#subsystem),
      () => fs.rmSync(this.#dir, { recursive: true, force: true }),
    ];
    for (const step of steps) {
      try {
        step();
      } catch {
        // a step that never happened (setup failed earlier)
      }
    }
  }
}
