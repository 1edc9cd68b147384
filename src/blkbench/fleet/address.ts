/**
 * fio's server address syntax, for --server and --client:
 *
 *   sock:/path          a Unix domain socket
 *   ip:HOST  ip4:HOST   IPv4 (a name or dotted address)
 *   ip6:HOST            IPv6
 *   HOST                IPv4 as well
 *   ...,PORT            the port after the last comma (fio's default 8765 otherwise)
 *   :PORT               only a port: every address for a server
 *
 * A server without a host listens on every IPv4 address (0.0.0.0), or every IPv6 one for `ip6:`,
 * as fio does; given a host, it listens on that address only.
 */
import { DEFAULT_PORT } from './frame';
import { OptionError } from '../units';

export type FleetAddress =
  | { kind: 'sock'; path: string }
  | { kind: 'ip'; family: 4 | 6; host: string | undefined; port: number };

export function parseFleetAddress(text: string): FleetAddress {
  if (text.startsWith('sock:')) {
    const path = text.slice(5);
    if (path === '') throw new OptionError(`'${text}': 'sock:' needs a socket path`);
    return { kind: 'sock', path };
  }
  let host = text;
  let family: 4 | 6 = 4;
  if (host.startsWith('ip:')) host = host.slice(3);
  else if (host.startsWith('ip4:')) host = host.slice(4);
  else if (host.startsWith('ip6:')) {
    host = host.slice(4);
    family = 6;
  } else if (host.startsWith(':')) {
    return { kind: 'ip', family, host: undefined, port: parsePort(host.slice(1), text) };
  }
  let port = DEFAULT_PORT;
  const comma = host.lastIndexOf(',');
  if (comma >= 0) {
    port = parsePort(host.slice(comma + 1), text);
    host = host.slice(0, comma);
  }
  if (family === 6 && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { kind: 'ip', family, host: host === '' ? undefined : host, port };
}

function parsePort(s: string, whole: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new OptionError(`'${whole}': bad server port '${s}' (1-65535)`);
  return n;
}

/** The address as fio prints it: host (or socket path) and port. */
export function describeFleetAddress(a: FleetAddress): string {
  if (a.kind === 'sock') return `sock:${a.path}`;
  const host = a.host ?? (a.family === 6 ? '::' : '0.0.0.0');
  return a.family === 6 ? `ip6:${host},${a.port}` : `${host},${a.port}`;
}
