/**
 * The fleet modes of the command line, as fio's: `--server[=ADDRESS]` serves clients until a signal;
 * `--client=HOST job.fio [--client=HOST2 job2.fio …]` runs each job file on the server before it.
 */
import { parseFleetAddress } from './address';
import { FleetServer } from './server';
import { OptionError } from '../units';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Which fleet mode a command line asks for, if any. */
export function fleetMode(argv: string[]): 'server' | 'client' | undefined {
  if (argv.some((a) => a === '--server' || a.startsWith('--server='))) return 'server';
  if (argv.some((a) => a.startsWith('--client=') || a === '--client')) return 'client';
  return undefined;
}

export async function runServer(argv: string[], io: Io): Promise<number> {
  const arg = argv.find((a) => a === '--server' || a.startsWith('--server='))!;
  const others = argv.filter((a) => a !== arg);
  if (others.length > 0) throw new OptionError(`--server takes no other arguments (got ${others.join(' ')})`);
  const text = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : '';
  const address = text === '' ? parseFleetAddress(':8765') : parseFleetAddress(text);
  const server = new FleetServer({ address, log: (line) => io.stderr.write(`blkbench server: ${line}\n`) });
  try {
    await server.listen();
  } catch (e) {
    io.stderr.write(`blkbench: cannot listen on ${text || ':8765'}: ${(e as Error).message}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    server.exitRequested = stop;
  });
  await server.close();
  return 0;
}

export async function runClient(argv: string[], io: Io): Promise<number> {
  const { runFleetClient } = await import('./client');
  return runFleetClient(argv, io);
}
