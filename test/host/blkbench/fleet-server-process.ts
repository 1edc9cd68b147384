/**
 * A blkbench fleet server in a process of its own, for tests that attack it: the same FleetServer
 * as `blkbench --server`, with the bounds given as JSON (shorter timeouts, so a test need not wait
 * half a minute). Usage: node fleet-server-process.js HOST PORT [LIMITS_JSON]. Prints "listening"
 * once it accepts connections.
 */
import { FleetServer } from '../../../src/blkbench/fleet/server';

async function main(): Promise<void> {
  const [host, port, limits] = process.argv.slice(2);
  const server = new FleetServer({
    address: { kind: 'ip', family: 4, host, port: Number(port) },
    log: (line) => process.stderr.write(`server: ${line}\n`),
    limits: limits ? JSON.parse(limits) : undefined,
  });
  await server.listen();
  process.stdout.write('listening\n');
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
