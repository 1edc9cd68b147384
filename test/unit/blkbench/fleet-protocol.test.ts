import * as assert from 'node:assert/strict';
import { crc16 } from '../../../src/blkbench/fleet/crc16';
import { CommandReader, HEADER_SIZE, OP, PROTOCOL_VERSION, ProtocolError, encodeCommand } from '../../../src/blkbench/fleet/frame';
import { parseFleetAddress } from '../../../src/blkbench/fleet/address';
import {
  DU,
  GROUP_RUN_STATS,
  JOBS_ETA,
  JOB_OPTION,
  PROBE_REPLY,
  CLIENT_PROBE,
  THREAD_STAT,
  TS_PDU_SIZE,
  decodeJob,
  decodeJobLine,
  decodeTs,
  encodeJob,
  encodeJobLine,
  encodeTs,
  decodeEta,
  encodeEta,
} from '../../../src/blkbench/fleet/pdu';

function reject(bytes: Buffer, kind: string): ProtocolError {
  try {
    new CommandReader(4096).push(bytes);
  } catch (e) {
    assert.ok(e instanceof ProtocolError, String(e));
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`a ${kind} stream was accepted`);
}

describe('fio client/server protocol: framing and CRC', () => {
  it('computes CRC-16/ARC (check value of "123456789" is 0xBB3D)', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0xbb3d);
    assert.equal(crc16(Buffer.alloc(0)), 0);
  });

  it('speaks protocol version 97 (fio 3.33) with a 24-byte header', () => {
    const b = encodeCommand(OP.RUN);
    assert.equal(PROTOCOL_VERSION, 97);
    assert.equal(b.length, HEADER_SIZE);
    assert.equal(b.readUInt16LE(0), 97);
    assert.equal(b.readUInt16LE(2), OP.RUN);
    assert.equal(b.readUInt16LE(20), crc16(b, 0, 20));
  });

  it('cuts payloads into 1024-byte fragments, MORE on all but the last, and joins them back', () => {
    const payload = Buffer.alloc(2500, 7);
    payload[2499] = 9;
    const b = encodeCommand(OP.TS, payload, 0x1234n);
    assert.equal(b.length, 3 * HEADER_SIZE + 2500);
    assert.equal(b.readUInt32LE(4), 1);
    assert.equal(b.readUInt32LE(HEADER_SIZE + 1024 + 4), 1);
    assert.equal(b.readUInt32LE(2 * (HEADER_SIZE + 1024) + 4), 0);
    const reader = new CommandReader();
    // byte by byte, as a slow socket would deliver it
    const got = [];
    for (let i = 0; i < b.length; i++) got.push(...reader.push(b.subarray(i, i + 1)));
    assert.equal(got.length, 1);
    assert.equal(got[0].opcode, OP.TS);
    assert.equal(got[0].tag, 0x1234n);
    assert.deepEqual(got[0].payload, payload);
  });

  it('refuses a header whose CRC does not match', () => {
    const b = encodeCommand(OP.PROBE);
    b[2] ^= 1;
    assert.match(reject(b, 'header-crc').message, /bad CRC on command header/);
  });

  it('refuses a payload whose CRC does not match', () => {
    const b = encodeCommand(OP.JOB, Buffer.from('xyz'));
    b[HEADER_SIZE] ^= 1;
    reject(b, 'payload-crc');
  });

  it('refuses another protocol version and says which', () => {
    const e = reject(encodeCommand(OP.PROBE, undefined, 0n, 96), 'version');
    assert.match(e.message, /version mismatch \(96 != 97\)/);
    assert.equal(e.peerVersion, 96);
  });

  it('refuses a fragment longer than 1024 bytes before reading it', () => {
    const b = encodeCommand(OP.JOB);
    b.writeUInt32LE(5000, 16);
    b.writeUInt16LE(crc16(b, 0, 20), 20);
    reject(b, 'fragment-size');
  });

  it('refuses a command longer than the reader allows in all', () => {
    reject(encodeCommand(OP.JOB, Buffer.alloc(5000)), 'too-large');
  });

  it('refuses fragments of different commands mixed', () => {
    const a = encodeCommand(OP.JOB, Buffer.alloc(1500));
    const b = encodeCommand(OP.TEXT, Buffer.alloc(10));
    reject(Buffer.concat([a.subarray(0, HEADER_SIZE + 1024), b]), 'fragment-opcode');
  });
});

describe('fio client/server protocol: structure layouts (sizes of fio 3.33 on x86-64)', () => {
  it('thread_stat is 183888 bytes, group_run_stats 164, cmd_ts_pdu 184056', () => {
    assert.equal(THREAD_STAT.size, 183888);
    assert.equal(GROUP_RUN_STATS.size, 164);
    assert.equal(TS_PDU_SIZE, 184056);
  });

  it('places thread_stat fields where fio does', () => {
    const at = (n: string) => THREAD_STAT.offsetOf(n);
    assert.equal(at('error'), 256);
    assert.equal(at('members'), 528);
    assert.equal(at('syncStat'), 544);
    assert.equal(at('usrTime'), 1440);
    assert.equal(at('percentileList'), 1504);
    assert.equal(at('ioUMap'), 1824);
    assert.equal(at('ioUPlat'), 2248);
    assert.equal(at('totalIoU'), 150728);
    assert.equal(at('continueOnError'), 150880);
    assert.equal(at('kbBase'), 183680);
    assert.equal(at('sigFigs'), 183728);
    assert.equal(at('ioprio'), 183812);
    assert.equal(at('nrClatPrio'), 183856);
    assert.equal(at('cachemiss'), 183876);
  });

  it('jobs_eta is 168 bytes before its run string; disk util 256; probe 136 and 112; job option 200', () => {
    assert.equal(JOBS_ETA.size, 168);
    assert.equal(JOBS_ETA.offsetOf('elapsedSec'), 128);
    assert.equal(JOBS_ETA.offsetOf('mIops'), 88);
    assert.equal(DU.size, 256);
    assert.equal(DU.offsetOf('aggSlavecount'), 152 + 80);
    assert.equal(CLIENT_PROBE.size, 136);
    assert.equal(PROBE_REPLY.size, 112);
    assert.equal(PROBE_REPLY.offsetOf('cpus'), 100);
    assert.equal(PROBE_REPLY.offsetOf('flags'), 104);
    assert.equal(JOB_OPTION.size, 200);
  });

  it('round-trips a thread_stat with its statistics, histograms and group stats', () => {
    const plat = new Float64Array(3 * 3 * 1856);
    plat[1856 + 300] = 42;
    const buf = encodeTs(
      {
        name: 'job1',
        threadNumber: 3,
        clatStat: [{ max: 900, min: 100, samples: 42, mean: 123.5, s: 77.25 }],
        ioUPlat: plat,
        ioBytes: Float64Array.from([4096, 0, 0]),
      },
      { iobytes: Float64Array.from([4096, 0, 0]), groupid: 2 },
    );
    assert.equal(buf.length, 184056);
    const { ts, rs } = decodeTs(buf);
    assert.equal(ts.name, 'job1');
    assert.equal(ts.threadNumber, 3);
    assert.deepEqual(ts.clatStat[0], { max: 900, min: 100, samples: 42, mean: 123.5, s: 77.25 });
    assert.equal(ts.ioUPlat[1856 + 300], 42);
    assert.equal(ts.ioBytes[0], 4096);
    assert.equal(rs.groupid, 2);
    assert.equal(rs.iobytes[0], 4096);
  });

  it('refuses a TS payload shorter than the structure', () => {
    assert.throws(() => decodeTs(Buffer.alloc(1000)), /shorter than fio's 184056/);
  });

  it('reads a job file up to its NUL, as fio\'s client pads it', () => {
    const p = Buffer.concat([encodeJob('[a]\nrw=read\n'), Buffer.alloc(50, 0x41)]);
    assert.equal(decodeJob(p), '[a]\nrw=read\n');
  });

  it('round-trips command-line arguments and refuses ones that run past the payload', () => {
    assert.deepEqual(decodeJobLine(encodeJobLine(['fio', '--name=x', '--rw=read'])), ['fio', '--name=x', '--rw=read']);
    const bad = encodeJobLine(['fio', '--name=x']);
    assert.throws(() => decodeJobLine(bad.subarray(0, bad.length - 3)), /runs past the payload/);
  });

  it('round-trips an ETA with its run string', () => {
    const e = decodeEta(encodeEta({ nrRunning: 2, nrThreads: 2, elapsedSec: 3, etaSec: 4, rate: [1000, 0, 0], iops: [10, 0, 0], runStr: 'RR' }));
    assert.equal(e.nrRunning, 2);
    assert.equal(e.runStr, 'RR');
    assert.deepEqual(e.rate, [1000, 0, 0]);
  });
});

describe('fio server address syntax', () => {
  it('takes ip:, ip4:, ip6: and a bare host, with the port after the last comma', () => {
    assert.deepEqual(parseFleetAddress('ip:10.0.0.1,9000'), { kind: 'ip', family: 4, host: '10.0.0.1', port: 9000 });
    assert.deepEqual(parseFleetAddress('ip4:host'), { kind: 'ip', family: 4, host: 'host', port: 8765 });
    assert.deepEqual(parseFleetAddress('ip6:::1,8766'), { kind: 'ip', family: 6, host: '::1', port: 8766 });
    assert.deepEqual(parseFleetAddress('localhost'), { kind: 'ip', family: 4, host: 'localhost', port: 8765 });
  });

  it('takes sock:PATH and :PORT', () => {
    assert.deepEqual(parseFleetAddress('sock:/tmp/x.sock'), { kind: 'sock', path: '/tmp/x.sock' });
    assert.deepEqual(parseFleetAddress(':9001'), { kind: 'ip', family: 4, host: undefined, port: 9001 });
  });

  it('refuses a bad port with the address in the message', () => {
    assert.throws(() => parseFleetAddress('ip:1.2.3.4,0'), /'ip:1.2.3.4,0': bad server port '0'/);
    assert.throws(() => parseFleetAddress('ip:1.2.3.4,70000'), /bad server port/);
    assert.throws(() => parseFleetAddress('sock:'), /needs a socket path/);
  });
});
