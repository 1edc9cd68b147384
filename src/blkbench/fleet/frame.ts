/**
 * Framing of fio's client/server protocol (fio 3.33, protocol version 97): every command is a 24-byte
 * little-endian header followed by its payload, cut into fragments of at most 1024 bytes; all but the
 * last fragment carry the MORE flag. Header layout:
 *
 *   0 u16 version   2 u16 opcode   4 u32 flags   8 u64 tag   16 u32 payload length
 *   20 u16 CRC-16 of bytes 0..19   22 u16 CRC-16 of this fragment's payload
 *
 * The tag is the requester's cookie, sent back unchanged in the reply (ETA, PROBE).
 */
import { crc16 } from './crc16';

/** The protocol version of fio 3.33 (FIO_SERVER_VER). Peers of another version are refused. */
export const PROTOCOL_VERSION = 97;
export const HEADER_SIZE = 24;
export const MAX_FRAGMENT = 1024;
/** fio's own default port. */
export const DEFAULT_PORT = 8765;
export const FLAG_MORE = 1;

export const OP = {
  QUIT: 1,
  EXIT: 2,
  JOB: 3,
  JOBLINE: 4,
  TEXT: 5,
  TS: 6,
  GS: 7,
  SEND_ETA: 8,
  ETA: 9,
  PROBE: 10,
  START: 11,
  STOP: 12,
  DU: 13,
  SERVER_START: 14,
  ADD_JOB: 15,
  RUN: 16,
  IOLOG: 17,
  UPDATE_JOB: 18,
  LOAD_FILE: 19,
  VTRIGGER: 20,
  SENDFILE: 21,
  JOB_OPT: 22,
} as const;

const OP_NAMES = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k])) as Record<number, string>;

export function opName(op: number): string {
  return OP_NAMES[op] ?? `UNKNOWN/${op}`;
}

/** One whole command, fragments joined. */
export interface Command {
  version: number;
  opcode: number;
  tag: bigint;
  payload: Buffer;
}

export type ProtocolErrorKind = 'header-crc' | 'payload-crc' | 'version' | 'fragment-size' | 'too-large' | 'fragment-opcode';

/** A stream that breaks the protocol; after one, the stream cannot be trusted and is closed. */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly kind: ProtocolErrorKind,
    /** For 'version': the version the peer spoke, so the refusal can be framed in it. */
    readonly peerVersion?: number,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Encodes a command as the fragments fio sends (a command without payload is one bare header). */
export function encodeCommand(opcode: number, payload: Uint8Array = Buffer.alloc(0), tag = 0n, version = PROTOCOL_VERSION): Buffer {
  const count = Math.max(1, Math.ceil(payload.length / MAX_FRAGMENT));
  const out = Buffer.alloc(count * HEADER_SIZE + payload.length);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const start = i * MAX_FRAGMENT;
    const len = Math.min(MAX_FRAGMENT, payload.length - start);
    out.writeUInt16LE(version, at);
    out.writeUInt16LE(opcode, at + 2);
    out.writeUInt32LE(i < count - 1 ? FLAG_MORE : 0, at + 4);
    out.writeBigUInt64LE(BigInt.asUintN(64, tag), at + 8);
    out.writeUInt32LE(len, at + 16);
    out.writeUInt16LE(crc16(out, at, at + 20), at + 20);
    out.writeUInt16LE(crc16(payload, start, start + len), at + 22);
    out.set(payload.subarray(start, start + len), at + HEADER_SIZE);
    at += HEADER_SIZE + len;
  }
  return out;
}

/**
 * Turns a byte stream into whole commands: checks each header's CRC, then its version, then its
 * fragment length, then the payload CRC, and joins fragments up to `maxPayload` bytes in all.
 */
export class CommandReader {
  private pending: Buffer = Buffer.alloc(0);
  private partial: { version: number; opcode: number; tag: bigint; parts: Buffer[]; size: number } | undefined;

  constructor(private readonly maxPayload = 64 * 1024 * 1024) {}

  /** Feeds bytes; returns the commands they complete. Throws ProtocolError on a broken stream. */
  push(chunk: Buffer): Command[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const done: Command[] = [];
    for (;;) {
      if (this.pending.length < HEADER_SIZE) break;
      const h = this.pending;
      const wantCrc = crc16(h, 0, 20);
      const gotCrc = h.readUInt16LE(20);
      if (wantCrc !== gotCrc) {
        throw new ProtocolError(`bad CRC on command header (got ${hex(gotCrc)}, wanted ${hex(wantCrc)})`, 'header-crc');
      }
      const version = h.readUInt16LE(0);
      if (version !== PROTOCOL_VERSION) {
        throw new ProtocolError(`client/server version mismatch (${version} != ${PROTOCOL_VERSION})`, 'version', version);
      }
      const opcode = h.readUInt16LE(2);
      const flags = h.readUInt32LE(4);
      const tag = h.readBigUInt64LE(8);
      const len = h.readUInt32LE(16);
      if (len > MAX_FRAGMENT) {
        throw new ProtocolError(`command payload too large: ${len} bytes in one fragment (at most ${MAX_FRAGMENT})`, 'fragment-size');
      }
      if (h.length < HEADER_SIZE + len) break;
      const body = h.subarray(HEADER_SIZE, HEADER_SIZE + len);
      const wantPdu = crc16(body);
      const gotPdu = h.readUInt16LE(22);
      if (wantPdu !== gotPdu) {
        throw new ProtocolError(`bad CRC on payload of ${opName(opcode)} (got ${hex(gotPdu)}, wanted ${hex(wantPdu)})`, 'payload-crc');
      }
      this.pending = h.subarray(HEADER_SIZE + len);
      const p = this.partial ?? { version, opcode, tag, parts: [], size: 0 };
      if (p.opcode !== opcode) {
        throw new ProtocolError(`fragment opcode mismatch (${opName(opcode)} inside ${opName(p.opcode)})`, 'fragment-opcode');
      }
      p.size += len;
      if (p.size > this.maxPayload) {
        throw new ProtocolError(`${opName(opcode)} payload exceeds ${this.maxPayload} bytes`, 'too-large');
      }
      p.parts.push(Buffer.from(body)); // a copy: the stream buffer is reused
      if (flags & FLAG_MORE) {
        this.partial = p;
        continue;
      }
      this.partial = undefined;
      done.push({ version: p.version, opcode: p.opcode, tag: p.tag, payload: Buffer.concat(p.parts, p.size) });
    }
    return done;
  }
}

function hex(v: number): string {
  return v.toString(16);
}
