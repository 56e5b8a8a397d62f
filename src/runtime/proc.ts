import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';

/** ProcStat is the part of /proc/<pid>/stat fune reads. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** startTime is field 22 (clock ticks since boot), a decimal string, to tell a reused pid apart. */
  startTime: string;
}

/** parseProcStat parses a /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number.parseInt(text, 10);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  if (f.length < 20) return undefined;
  return { pid, state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), startTime: f[19]! };
}

/**
 * readProcStat reads one process's stat, or undefined when it is gone. The read is synchronous: procfs makes the
 * line in memory and never waits on a disk, and one read takes microseconds, where the thread pool's open, fstat,
 * read and close cost four round trips (~0.15 ms of CPU per port-forward connection, whose pod is checked each time).
 */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (!(pid > 0)) return undefined;
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** processAlive tells whether `pid` still is the process that started at `startTime` and is not a zombie. */
export async function processAlive(pid: number, startTime?: string): Promise<boolean> {
  const st = await readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return !startTime || st.startTime === startTime;
}

/**
 * HeldProcesses tells whether processes still run the way processAlive does, for processes asked about again and
 * again (the pods' infra processes, at every ListPodSandbox): it keeps each one's /proc/<pid>/stat open, once its
 * start time was seen to match, and reads it again with one pread. An open stat file stays with the process it was
 * opened for: once that process is reaped the read fails (ESRCH), even if the pid is reused, so a held file needs no
 * start-time check and no path lookup (the open, fstat and close of readFileSync and the line's parse were most of
 * ListPodSandbox's CPU). Each entry is held under a key (the pod's id) until `forget` or `retain` drops it.
 */
export class HeldProcesses {
  private readonly held = new Map<string, { pid: number; startTime: string; fd: number }>();
  private readonly buf = Buffer.allocUnsafe(1024);

  /** alive tells whether `pid` still is the process that started at `startTime` and is not a zombie. */
  alive(key: string, pid: number, startTime: string): boolean {
    if (!(pid > 0)) return false;
    let h = this.held.get(key);
    if (h && (h.pid !== pid || h.startTime !== startTime)) {
      this.forget(key);
      h = undefined;
    }
    if (!h) {
      // without a start time to check the file against, nothing is held: each call reads the stat line anew
      if (!startTime) {
        const st = readStatSync(pid);
        return !!st && st.state !== 'Z' && st.state !== 'X';
      }
      let fd: number;
      try {
        fd = openSync(`/proc/${pid}/stat`, 'r');
      } catch {
        return false;
      }
      const st = this.readLine(fd);
      if (!st || st.startTime !== startTime || st.state === 'Z' || st.state === 'X') {
        closeSync(fd);
        return false;
      }
      this.held.set(key, { pid, startTime, fd });
      return true;
    }
    let n: number;
    try {
      n = readSync(h.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      this.forget(key); // ESRCH: reaped
      return false;
    }
    const close = this.buf.lastIndexOf(0x29, n - 1); // ')' ends the command name
    const state = close > 0 && close + 2 < n ? this.buf[close + 2] : undefined;
    if (state === undefined || state === 0x5a /* Z */ || state === 0x58 /* X */) {
      this.forget(key);
      return false;
    }
    return true;
  }

  /** forget closes the stat file held under `key`, if any. */
  forget(key: string): void {
    const h = this.held.get(key);
    if (!h) return;
    this.held.delete(key);
    try {
      closeSync(h.fd);
    } catch {
      // already closed
    }
  }

  /** retain forgets every key `keep` says no to. */
  retain(keep: (key: string) => boolean): void {
    for (const key of [...this.held.keys()]) if (!keep(key)) this.forget(key);
  }

  /** size is how many stat files are held (for tests). */
  get size(): number {
    return this.held.size;
  }

  private readLine(fd: number): ProcStat | undefined {
    try {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      return parseProcStat(this.buf.toString('latin1', 0, n));
    } catch {
      return undefined;
    }
  }
}

function readStatSync(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** pidNamespace gives the pid namespace link of a process ('' when it is gone). */
export async function pidNamespace(pid: number): Promise<string> {
  return readlink(`/proc/${pid}/ns/pid`).catch(() => '');
}

/**
 * sessionMembers lists the live processes of session `sid` inside pid namespace `pidns` (a `pid:[…]` link).
 * `runc exec` makes the exec'd process a session leader, and what it starts stays in its session even when
 * reparented, so this finds the whole tree of an exec.
 */
export async function sessionMembers(sid: number, pidns: string): Promise<number[]> {
  const out: number[] = [];
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return out;
  }
  await Promise.all(
    names.map(async (n) => {
      if (!/^\d+$/.test(n)) return;
      const st = await readProcStat(Number(n));
      if (!st || st.session !== sid || st.state === 'Z') return;
      if ((await pidNamespace(st.pid)) === pidns) out.push(st.pid);
    }),
  );
  return out;
}

/** killPids sends SIGKILL to each pid, ignoring those already gone. */
export function killPids(pids: number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone already
    }
  }
}

/** sleep waits `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * killSession SIGKILLs every process of session `sid` in pid namespace `pidns`, repeating until none is left (a
 * dying process may still fork) or `timeoutMs` passes. It gives how many processes it killed.
 */
export async function killSession(sid: number, pidns: string, timeoutMs = 2000): Promise<number> {
  let killed = 0;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const pids = await sessionMembers(sid, pidns);
    if (pids.length === 0 || Date.now() > until) return killed;
    killPids(pids);
    killed += pids.length;
    await sleep(10);
  }
}
