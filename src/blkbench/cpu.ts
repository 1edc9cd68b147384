/**
 * CPU time and faults of the running job. A job on the main thread counts the whole process
 * (getrusage: µs precision, includes V8's helper threads, which is the honest cost). A job on a
 * worker thread counts only its own thread, from /proc/thread-self (clock-tick precision).
 */
import * as fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { CpuUsage } from './results';

const TICK_NS = 1e9 / 100; // USER_HZ is 100 on Linux

export function cpuNow(): CpuUsage {
  if (isMainThread) {
    const r = process.resourceUsage();
    return {
      usrNs: r.userCPUTime * 1e3,
      sysNs: r.systemCPUTime * 1e3,
      ctx: r.voluntaryContextSwitches + r.involuntaryContextSwitches,
      majf: r.majorPageFault,
      minf: r.minorPageFault,
    };
  }
  return threadCpu();
}

function threadCpu(): CpuUsage {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync('/proc/thread-self/status', 'utf8');
    const ctx = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return {
      minf: Number(f[7]),
      majf: Number(f[9]),
      usrNs: Number(f[11]) * TICK_NS,
      sysNs: Number(f[12]) * TICK_NS,
      ctx: ctx('voluntary_ctxt_switches') + ctx('nonvoluntary_ctxt_switches'),
    };
  } catch {
    return { usrNs: 0, sysNs: 0, ctx: 0, majf: 0, minf: 0 };
  }
}

export function cpuSince(start: CpuUsage): CpuUsage {
  const now = cpuNow();
  return {
    usrNs: now.usrNs - start.usrNs,
    sysNs: now.sysNs - start.sysNs,
    ctx: now.ctx - start.ctx,
    majf: now.majf - start.majf,
    minf: now.minf - start.minf,
  };
}
