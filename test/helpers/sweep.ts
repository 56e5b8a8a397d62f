// sweep: removes what a test daemon (perhaps killed) left on the machine. Kept apart from the gRPC helpers, so that
// the VM tier's global set-up can use it without loading grpc-js (each import costs seconds under TCG).
import { execFileSync } from 'node:child_process';
import { access, readFile, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/** sweep removes whatever a (possibly killed) daemon left on the host under `state` and `dir`. */
export async function sweep(state: string, dir: string): Promise<void> {
  const runcRoot = join(state, 'runc');
  let list: { id: string; pid: number }[] = [];
  try {
    list = JSON.parse(execFileSync('runc', ['--root', runcRoot, 'list', '--format', 'json']).toString() || 'null') ?? [];
  } catch {
    // no runc state
  }
  for (const r of list) {
    try {
      execFileSync('runc', ['--root', runcRoot, 'delete', '--force', r.id], { stdio: 'ignore' });
    } catch {
      // gone
    }
  }
  // conmon processes of this test: their pid files live in the bundles.
  for (const b of await readdir(join(state, 'containers')).catch(() => [] as string[])) {
    const pid = Number((await readFile(join(state, 'containers', b, 'conmon.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(dir));
  for (const m of mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  // fune's own pod cgroups (/fune/pod-<id>) of this test's pods: in each v1 hierarchy, or once in the v2 tree.
  const v2 = await access('/sys/fs/cgroup/cgroup.controllers').then(() => true, () => false);
  const bases = v2 ? ['/sys/fs/cgroup/fune'] : (await readdir('/sys/fs/cgroup').catch(() => [] as string[])).map((c) => join('/sys/fs/cgroup', c, 'fune'));
  const known = await readdir(join(dir, 'root', 'sandboxes')).catch(() => [] as string[]);
  for (const base of bases) {
    for (const pod of await readdir(base).catch(() => [] as string[])) {
      if (!pod.startsWith('pod-') || !known.some((k) => k.startsWith(pod.slice(4)))) continue;
      for (const sub of await readdir(join(base, pod), { withFileTypes: true }).catch(() => [])) if (sub.isDirectory()) await rmdir(join(base, pod, sub.name)).catch(() => undefined);
      await rmdir(join(base, pod)).catch(() => undefined);
    }
  }
}
