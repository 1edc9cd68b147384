// Bounded waits for long guest tests: every step either finishes within its
// time or fails naming the step (and what the processes involved were
// blocked in), so a stuck step is a failure, not a silent hang.
import * as fs from 'node:fs';

/** BLKIO_TEST_TRACE=1: steps are logged to stderr with timestamps as they start and end. */
const tracing = process.env.BLKIO_TEST_TRACE === '1';
const origin = Date.now();

export function trace(message: string): void {
  if (tracing) process.stderr.write(`[trace +${((Date.now() - origin) / 1000).toFixed(3)}s] ${message}\n`);
}

// Syscall numbers (x86-64) worth naming in a report of blocked threads.
const SYSCALLS: Record<number, string> = {
  0: 'read', 1: 'write', 7: 'poll', 16: 'ioctl', 23: 'select', 35: 'nanosleep', 43: 'accept', 45: 'recvfrom',
  47: 'recvmsg', 61: 'wait4', 202: 'futex', 230: 'clock_nanosleep', 232: 'epoll_wait', 270: 'pselect6',
  271: 'ppoll', 281: 'epoll_pwait', 426: 'io_uring_enter', 441: 'epoll_pwait2',
};

// What a thread is blocked in, from /proc/PID/task/TID/syscall: the call,
// and for calls on a file descriptor, what that descriptor is.
function blockedIn(pid: number | 'self', syscall: string): string {
  const fields = syscall.split(' ');
  const nr = Number(fields[0]);
  if (!Number.isInteger(nr)) return syscall; // "running" or -1
  const name = SYSCALLS[nr] ?? `syscall ${nr}`;
  if (nr === 7 || nr === 271) return `${name}(${Number(fields[2])} fds)`;
  if (![0, 1, 16, 47, 45].includes(nr)) return name;
  const fd = Number(fields[1]);
  let target = '?';
  try {
    target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    // gone meanwhile
  }
  return `${name}(fd ${fd} = ${target}${nr === 16 ? `, request ${fields[2]}` : ''})`;
}

/** Each thread of a process: name, state, the syscall it is in and the kernel function it sleeps in (wchan). */
export function threadStates(pid: number | 'self'): string {
  const lines: string[] = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const read = (file: string): string => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${tid}/${file}`, 'utf8').trim();
        } catch {
          return '?';
        }
      };
      // stat: "tid (comm) S ..." (comm may hold spaces and parentheses).
      const stat = read('stat');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      lines.push(`  ${tid} ${read('comm')} ${state} in ${blockedIn(pid, read('syscall'))}`);
    }
  } catch (e) {
    lines.push(`  (cannot read /proc/${pid}/task: ${(e as Error).message})`);
  }
  return lines.join('\n');
}

/** A process's file descriptors, with the count an eventfd holds (a signal nobody read yet). */
export function fdStates(pid: number | 'self'): string {
  const lines: string[] = [];
  try {
    const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
    for (const fd of fds) {
      let target = '?';
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      let extra = '';
      if (target.includes('eventfd')) {
        try {
          extra = ' ' + (/eventfd-count:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[0] ?? '');
        } catch {
          // closed meanwhile
        }
      }
      lines.push(`${fd}=${target}${extra}`);
    }
  } catch (e) {
    lines.push(`(cannot read /proc/${pid}/fd: ${(e as Error).message})`);
  }
  return `  ${lines.join('\n  ')}`;
}

/**
 * Resolves as `work` does, or rejects after `ms` with an error naming
 * `what` and the diagnostics `describe` returns then.
 */
export async function bounded<T>(what: string, ms: number, work: Promise<T>, describe?: () => string): Promise<T> {
  trace(`${what}: start`);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      let details = '';
      try {
        details = describe ? `\n${describe()}` : '';
      } catch (e) {
        details = `\n(diagnostics failed: ${(e as Error).message})`;
      }
      reject(new Error(`${what}: did not finish within ${ms / 1000} s${details}`));
    }, ms);
  });
  try {
    const result = await Promise.race([work, expired]);
    trace(`${what}: done`);
    return result;
  } catch (e) {
    trace(`${what}: failed: ${(e as Error).message}`);
    // A failure of the step itself: what things looked like then.
    if (describe && e instanceof Error && !e.message.startsWith(`${what}: did not finish`)) {
      try {
        e.message += `\n(${what}) ${describe()}`;
      } catch {
        // the error as it is
      }
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
