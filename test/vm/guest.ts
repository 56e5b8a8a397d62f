// Helpers of the VM tier's tests: which cgroup drivers to run under, and the kernel's own view of a container's
// cgroup (from /proc/<pid>/cgroup, not from what fune wrote into the spec).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { criClient, type CriClient } from '../helpers/daemon.js';

/**
 * DRIVERS are the cgroup drivers the resource tests run under: FUNE_VM_DRIVERS (comma separated), by default
 * cgroupfs only. Add systemd (`FUNE_VM_DRIVERS=cgroupfs,systemd`) to run the same tables through runc's systemd driver.
 */
export const DRIVERS = (process.env.FUNE_VM_DRIVERS ?? 'cgroupfs').split(',').map((d) => d.trim()).filter((d) => d !== '') as ('cgroupfs' | 'systemd')[];

/**
 * KUBELET_DRIVERS are the drivers the kubelet suite (kubelet.test.ts) runs under whatever DRIVERS says: both, since a
 * kubelet on a systemd node sends slice paths as cgroup parents, and that is what this tier is for.
 */
export const KUBELET_DRIVERS: ('cgroupfs' | 'systemd')[] = ['cgroupfs', 'systemd'];

/** DAEMON_DRIVERS are the drivers that get a shared daemon (daemons.ts): those of DRIVERS and KUBELET_DRIVERS. */
export const DAEMON_DRIVERS = [...new Set([...DRIVERS, ...KUBELET_DRIVERS])];

/** cgroupOfPid gives the cgroup v2 directory of a process, as the kernel reports it. */
export async function cgroupOfPid(pid: number): Promise<string> {
  const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => l.startsWith('0::'));
  if (!line) throw new Error(`process ${pid} has no cgroup v2 line in /proc/${pid}/cgroup`);
  return join('/sys/fs/cgroup', line.slice(3));
}

/** containerPid gives the init pid of a running container (verbose ContainerStatus). */
export async function containerPid(c: CriClient, id: string): Promise<number> {
  const info = JSON.parse((await c.call('ContainerStatus', { container_id: id, verbose: true })).info.info as string) as { pid: number };
  if (!(info.pid > 0)) throw new Error(`container ${id} has no pid`);
  return info.pid;
}

/** cgroupFiles reads files of a container's cgroup: `await cg('memory.max')`, trimmed. */
export async function cgroupFiles(c: CriClient, id: string): Promise<{ dir: string; read(file: string): Promise<string> }> {
  const dir = await cgroupOfPid(await containerPid(c, id));
  return { dir, read: async (file) => (await readFile(join(dir, file), 'utf8')).trim() };
}

/** waitFor polls `probe` until it gives a value that `done` accepts (or throws after `ms`). */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 120_000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  let v = await probe();
  while (!done(v)) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
    v = await probe();
  }
  return v;
}

/** unitProps reads properties of a systemd unit as `systemctl show` gives them: `{ MemoryMax: '67108864', ... }`. */
export function unitProps(unit: string, props: string[]): Record<string, string> {
  const out = execFileSync('systemctl', ['show', unit, ...props.map((p) => `-p${p}`)], { encoding: 'utf8' }).trim().split('\n');
  return Object.fromEntries(out.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/**
 * inotifyWatched tells whether process `pid` holds an inotify watch on `file`, from the kernel's own list of the
 * watches of each of its inotify descriptors (/proc/<pid>/fdinfo: `inotify wd:… ino:<hex> sdev:<hex> …`); a
 * watch on a cgroup file the kernel removed is gone from there too.
 */
export async function inotifyWatched(pid: number, file: string): Promise<boolean> {
  const st = await stat(file);
  const ino = `ino:${st.ino.toString(16)} `;
  for (const fd of await readdir(`/proc/${pid}/fdinfo`)) {
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
    if (info.split('\n').some((l) => l.startsWith('inotify ') && l.includes(ino))) return true;
  }
  return false;
}

/**
 * waitServing waits, up to `attempts` half-second tries, until a daemon started by systemd answers ListPodSandbox on
 * `socket` (UNAVAILABLE until its recovery is done); then it throws `why()`, the unit's status and logs.
 */
export async function waitServing(socket: string, attempts: number, why: () => string): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (existsSync(socket)) {
      const probe = criClient(socket);
      try {
        await probe.call('ListPodSandbox', {}, { deadlineMs: 5000 });
        return;
      } catch {
        // not ready yet
      } finally {
        probe.close();
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(why());
}
