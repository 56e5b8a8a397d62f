// Test environment for the pod and container lifecycle: a real daemon on private dirs, a loopback-only CNI
// network, the busybox test image imported through the admin socket, and a cleanup that removes everything the
// daemon may have left (runc containers, conmon processes, mounts, netns files, cgroups) even after a failure.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { criClient, startDaemon, type CriClient, type TestDaemon } from '../../helpers/daemon.js';
import { busyboxImage, ociArchive } from '../../../hack/test-images.js';
import { sweep } from '../../helpers/sweep.js';

export { sweep };

export const IMAGE = 'registry.fune.test/fune/busybox:latest';

let archive: Buffer | undefined;
async function imageArchive(): Promise<Buffer> {
  archive ??= await ociArchive([{ ref: IMAGE, image: await busyboxImage({ cmd: ['sh'] }) }]);
  return archive;
}

/** importImage posts an image archive (by default the busybox one) to the daemon's admin socket. */
export async function importImage(state: string, archive?: Buffer): Promise<void> {
  const body = archive ?? (await imageArchive());
  const text = await new Promise<string>((resolve, reject) => {
    const req = request({ socketPath: join(state, 'fune-admin.sock'), path: '/v1/images/import', method: 'POST' }, (res) => {
      let t = '';
      res.on('data', (b: Buffer) => (t += b.toString()));
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end(body);
  });
  if (text.includes('"error"')) throw new Error(`image import failed: ${text}`);
}

export interface LifecycleEnv {
  d: TestDaemon;
  c: CriClient;
  logDir: string;
  /** restart SIGKILLs (or stops) the daemon and starts a new one on the same dirs. */
  restart(signal?: NodeJS.Signals, whileDown?: () => Promise<void>): Promise<void>;
  cleanup(): Promise<void>;
}

/** toml gives the daemon config for a test dir: loopback-only CNI, then `extra` (other sections). */
function tomlFor(dir: string, extra = ''): string {
  return `[cni]\nconf_dir = "${join(dir, 'cni')}"\n${extra}`;
}

/** startEnv starts a daemon with a loopback CNI network and the busybox image; `extraToml` adds config sections. */
export async function startEnv(extraToml = ''): Promise<LifecycleEnv> {
  const { mkdtemp } = await import('node:fs/promises');
  const dir = await mkdtemp('/tmp/fune-lc-');
  await mkdir(join(dir, 'cni'), { recursive: true });
  await writeFile(join(dir, 'cni', '10-lo.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'lo-only', plugins: [{ type: 'loopback' }] }));
  const logDir = join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  let d = await startDaemon({ dir, toml: tomlFor(dir, extraToml) });
  await importImage(d.state);
  const env: LifecycleEnv = {
    d,
    c: criClient(d.socket),
    logDir,
    async restart(signal: NodeJS.Signals = 'SIGKILL', whileDown?: () => Promise<void>) {
      env.c.close();
      await d.stop(signal);
      await whileDown?.();
      d = await startDaemon({ dir, toml: tomlFor(dir, extraToml) });
      env.d = d;
      env.c = criClient(d.socket);
    },
    async cleanup() {
      env.c.close();
      await d.stop('SIGKILL');
      await sweep(d.state, dir);
      await d.cleanup();
    },
  };
  return env;
}

/** podConfig gives a pod sandbox config with a unique uid. */
export function podConfig(name: string, logDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: { name, namespace: 'fune-test', uid: `uid-${name}-${Math.random().toString(36).slice(2)}`, attempt: 0 },
    hostname: name,
    log_directory: join(logDir, name),
    labels: { app: name, tier: 'test' },
    annotations: { note: 'lifecycle' },
    linux: {},
    ...extra,
  };
}

/** containerConfig gives a busybox container config running `args` under sh -c. */
export function containerConfig(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: { name, attempt: 0 },
    image: { image: IMAGE },
    command: ['/bin/sh', '-c', script],
    log_path: `${name}.log`,
    labels: { ctr: name },
    linux: {},
    ...extra,
  };
}

/** logText gives what a container wrote, stdout and stderr interleaved, from its CRI-format log file. */
export async function logText(env: LifecycleEnv, id: string): Promise<string> {
  const { status } = await env.c.call('ContainerStatus', { container_id: id });
  const raw = await readFile(status.log_path, 'utf8').catch(() => '');
  let out = '';
  for (const line of raw.split('\n')) {
    const m = /^\S+ (?:stdout|stderr) ([PF]) (.*)$/.exec(line);
    if (m) out += m[2] + (m[1] === 'F' ? '\n' : '');
  }
  return out;
}

/**
 * removalsDone waits until no RemoveContainer of `env`'s daemon is still finishing after its answer: each leaves a
 * tombstone (`<root>/containers/<id>.json.removing`) that goes last, once the rest of the container has gone.
 */
export async function removalsDone(env: LifecycleEnv, timeoutMs = 30_000): Promise<void> {
  const dir = join(env.d.root, 'containers');
  const pending = async () => (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json.removing'));
  for (const until = Date.now() + timeoutMs; (await pending()).length > 0; ) {
    if (Date.now() > until) throw new Error(`removals still unfinished after ${timeoutMs} ms: ${(await pending()).join(', ')}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * footprint lists what the daemon has on disk and mounted, to show that a refused request left nothing; `extra`
 * directories (a pod's log directory) are listed four levels deep. Removals that answered are let finish first
 * (removalsDone), so that an earlier RemoveContainer's leftovers are not counted against the request under test.
 */
export async function footprint(env: LifecycleEnv, extra: string[] = []): Promise<string[]> {
  await removalsDone(env);
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = join(dir, e.name);
      if (e.isSocket()) continue;
      out.push(p);
      if (e.isDirectory() && depth > 0 && !p.endsWith('/rootfs')) await walk(p, depth - 1);
    }
  };
  await walk(env.d.state, 2);
  await walk(join(env.d.root), 2);
  for (const dir of extra) await walk(dir, 4);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
  out.push(...mounts.filter((m) => m.startsWith(env.d.dir)).map((m) => `mount ${m}`));
  out.push(...(await readdir('/run/netns').catch(() => [] as string[])).map((n) => `netns ${n}`));
  return out.sort();
}

/** footprintDiff gives what appeared (+) or went (-) between two footprints. */
export function footprintDiff(before: string[], after: string[]): string[] {
  return [...after.filter((p) => !before.includes(p)).map((p) => `+ ${p}`), ...before.filter((p) => !after.includes(p)).map((p) => `- ${p}`)];
}
