import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { HeldProcesses, readProcStat } from '../../../src/runtime/proc.js';

const heldFds = () => readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return /^\/proc\/\d+\/stat$/.test(readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return false;
  }
}).length;

describe('HeldProcesses', () => {
  it('tells a live process from a dead one, a zombie or a reused pid, and closes what it held', async () => {
    const base = heldFds();
    const h = new HeldProcesses();
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    const pid = child.pid!;
    const st = (await readProcStat(pid))!;
    expect(h.alive('p', pid, st.startTime)).toBe(true);
    expect(h.alive('p', pid, st.startTime)).toBe(true);
    expect(h.size).toBe(1);
    expect(heldFds()).toBe(base + 1);
    // another start time under the same key: not that process (a reused pid), and the held file is let go
    expect(h.alive('p', pid, String(BigInt(st.startTime) + 1n))).toBe(false);
    expect(h.size).toBe(0);
    expect(h.alive('p', pid, st.startTime)).toBe(true);
    // without a start time nothing is held, but the answer is the same
    expect(h.alive('q', pid, '')).toBe(true);
    expect(h.size).toBe(1);
    expect(h.alive('r', 0, st.startTime)).toBe(false);
    expect(h.alive('r', 2 ** 22 + 12345, '1')).toBe(false);

    // dead and reaped (child_process waited for it): its held file reads ESRCH
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(h.alive('p', pid, st.startTime)).toBe(false);
    expect(h.size).toBe(0);
    expect(heldFds()).toBe(base);
  });

  it('forget and retain close the held files', () => {
    const base = heldFds();
    const h = new HeldProcesses();
    const self = readProcStatSync(process.pid);
    expect(h.alive('a', process.pid, self)).toBe(true);
    expect(h.alive('b', process.pid, self)).toBe(true);
    expect(h.size).toBe(2);
    h.retain((k) => k === 'a');
    expect(h.size).toBe(1);
    h.forget('a');
    h.forget('a');
    expect(h.size).toBe(0);
    expect(heldFds()).toBe(base);
  });
});

function readProcStatSync(pid: number): string {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19]!;
}
