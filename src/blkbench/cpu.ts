/**
 * CPU time and faults of the running job. A job on the main thread counts the whole process
 * (getrusage: µs precision, includes V8's helper threads, which is the honest cost). A job on a
 * worker thread counts only its own thread, from /proc/thread-self.
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

/**
 * A worker thread's own CPU: the on-CPU time from schedstat is exact (ns); the user/system split comes
 * from stat's clock ticks, so it is coarse for runs under a second (all user time until a tick lands).
 */
function threadCpu(): CpuUsage {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync('/proc/thread-self/status', 'utf8');
    const ctx = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    const userTicks = Number(f[11]);
    const sysTicks = Number(f[12]);
    let onCpuNs = (userTicks + sysTicks) * TICK_NS;
    try {
      onCpuNs = Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
    } catch {
      // no schedstat: ticks only
    }
    const userShare = userTicks + sysTicks > 0 ? userTicks / (userTicks + sysTicks) : 1;
    return {
      minf: Number(f[7]),
      majf: Number(f[9]),
      usrNs: onCpuNs * userShare,
      sysNs: onCpuNs * (1 - userShare),
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
