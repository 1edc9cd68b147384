// One QMP command over a monitor's unix socket: the greeting, qmp_capabilities,
// then the command; events in between are skipped. Enough for tests that poke
// a qemu-storage-daemon (e.g. block_resize); not a QMP client.
import * as net from 'node:net';

/** Runs `execute` with `args` on the monitor at socketPath and resolves with its return value. */
export function qmpCommand(socketPath: string, execute: string, args: object = {}, timeoutMs = 10000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    let buffered = '';
    let step = 0; // 0: greeting, 1: capabilities sent, 2: command sent
    const timer = setTimeout(() => finish(new Error(`QMP ${execute}: no answer within ${timeoutMs} ms`)), timeoutMs);
    function finish(err: Error | null, value?: unknown): void {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    }
    function send(cmd: string, a?: object): void {
      sock.write(`${JSON.stringify(a ? { execute: cmd, arguments: a } : { execute: cmd })}\n`);
    }
    sock.on('error', (e) => finish(e));
    sock.on('close', () => finish(new Error(`QMP ${execute}: the monitor closed the connection`)));
    sock.on('data', (d) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; event?: string; return?: unknown; error?: { desc: string } };
        if (msg.event) continue;
        if (msg.error) return finish(new Error(`QMP ${step === 1 ? 'qmp_capabilities' : execute}: ${msg.error.desc}`));
        if (step === 0 && msg.QMP) {
          step = 1;
          send('qmp_capabilities');
        } else if (step === 1 && 'return' in msg) {
          step = 2;
          send(execute, args);
        } else if (step === 2 && 'return' in msg) {
          finish(null, msg.return);
        }
      }
    });
  });
}
