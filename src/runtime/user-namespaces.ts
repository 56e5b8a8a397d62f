import { chmod, chown, lstat, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { invalidArgument, RuntimeError } from '../errors/index.js';
import type { IdmapAddon } from '../sys/idmap.js';
import { containingMount, parseMountPoints, unescapeMountPath } from '../sys/mountinfo.js';
import { holdNamespaces } from '../sys/ns-holder.js';
import { runChecked, type ProcessRunner } from '../sys/process-runner.js';
import type { IdMapping } from '../oci/spec.js';

/** USERNS_DIR_NAME is the folder under the state dir for pods with their own user namespace. */
export const USERNS_DIR_NAME = 'userns';

/** USERNS_DIR_MODE lets the pods' mapped roots pass to their own directories (not list them). */
export const USERNS_DIR_MODE = 0o711;

const POD_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** UserNamespacesDeps are what a UserNamespaces works with. */
export interface UserNamespacesDeps {
  /** dir is `<state>/userns`. */
  dir: string;
  runner: ProcessRunner;
  /** idmap is the native addon (absent: POD mode is not offered, and nothing here is called). */
  idmap?: IdmapAddon;
  timeoutMs?: number;
}

/**
 * UserNamespaces gives pods of CRI user namespace mode POD their user namespace, and what its root must reach.
 *
 * Layout under `<state>/userns` (0711, so that a pod's root on the host can pass, not list):
 * - `ns/<pod>` (in a 0700 directory): the pod's user namespace, pinned as an nsfs bind mount, which the infra
 *   process and every container join (runc joins by path), and in which the pod's network namespace is made;
 * - `<pod>/` (0700, owned by the pod's root on the host, so no other local user passes): what runc, running as the
 *   pod's root, must open by path: the infra rootfs, the pod's hosts, resolv.conf and hostname, its shm tmpfs, and
 *   one mount point per container rootfs and per idmapped volume. Everything else (bundles, specs, records, layers)
 *   stays in the 0700 directories that are root's alone.
 *
 * runc 1.1.5 cannot make idmapped mounts: `idmap` (native/idmap: open_tree, mount_setattr MOUNT_ATTR_IDMAP,
 * move_mount) makes them, for the image layers under a container's overlay and for its volumes.
 */
export class UserNamespaces {
  private prepared?: Promise<void>;
  private readonly timeoutMs: number;

  constructor(private readonly deps: UserNamespacesDeps) {
    this.timeoutMs = deps.timeoutMs ?? 30_000;
  }

  /** available tells whether idmapped mounts can be made at all (the addon is built). */
  get available(): boolean {
    return this.deps.idmap !== undefined;
  }

  private check(podId: string): void {
    if (!POD_ID.test(podId)) throw invalidArgument(`invalid pod id for a user namespace: ${JSON.stringify(podId)}`);
  }

  /** pinOf is where the user namespace of pod `podId` is (or would be) pinned. */
  pinOf(podId: string): string {
    this.check(podId);
    return join(this.deps.dir, 'ns', podId);
  }

  /** podDir is the pod's own directory, which its root on the host owns. */
  podDir(podId: string): string {
    this.check(podId);
    return join(this.deps.dir, podId);
  }

  private prepare(): Promise<void> {
    this.prepared ??= this.doPrepare().catch((e: unknown) => {
      this.prepared = undefined;
      throw e;
    });
    return this.prepared;
  }

  private async doPrepare(): Promise<void> {
    const ns = join(this.deps.dir, 'ns');
    await mkdir(ns, { recursive: true, mode: 0o700 });
    await chmod(this.deps.dir, USERNS_DIR_MODE);
    // As for network namespaces (network/netns.ts): a pin on a shared mount would propagate into every peer.
    const mounts = parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8'));
    const own = mounts.get(ns);
    if (own) {
      if (own.shared) await this.tool('mount', ['--make-private', ns]);
      return;
    }
    if (!containingMount(mounts, ns)?.[1].shared) return;
    await this.tool('mount', ['--bind', ns, ns]);
    await this.tool('mount', ['--make-private', ns]);
  }

  /**
   * create makes pod `podId`'s user namespace with the given mappings and pins it, and makes the pod's directory,
   * owned by the pod's root (`root`, host ids). It gives the pin's path. On failure nothing is left.
   */
  async create(podId: string, uids: IdMapping[], gids: IdMapping[], root: { uid: number; gid: number }): Promise<string> {
    const pin = this.pinOf(podId);
    await this.prepare();
    await this.remove(podId);
    try {
      const fh = await open(pin, 'wx', 0o444);
      await fh.close();
      const holder = await holdNamespaces(this.deps.runner, ['unshare', '--user', '--'], '', this.timeoutMs);
      try {
        // Written from outside, by root of the parent namespace: any range may be mapped (no newuidmap needed).
        const line = (m: IdMapping[]) => m.map((x) => `${x.containerID} ${x.hostID} ${x.size}`).join('\n') + '\n';
        await writeFile(`/proc/${holder.pid}/uid_map`, line(uids));
        await writeFile(`/proc/${holder.pid}/gid_map`, line(gids));
        await this.tool('mount', ['--bind', `/proc/${holder.pid}/ns/user`, pin]);
      } finally {
        await holder.release();
      }
      const dir = this.podDir(podId);
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, root.uid, root.gid);
      return pin;
    } catch (e) {
      await this.remove(podId).catch(() => undefined);
      throw e;
    }
  }

  /**
   * probe tries, once at start-up, what POD mode needs, in a scratch directory under `dir`: a user namespace with
   * a mapping, an idmapped view of a directory and of a tmpfs (kernel 6.3+), and an overlay whose lower layer is
   * such a view, mounted read-write (overlayfs falls back to read-only when it cannot use its upper layer). Only
   * when all of that works does Status advertise user_namespaces. It gives the reason when not.
   */
  async probe(): Promise<{ ok: boolean; reason: string }> {
    const addon = this.deps.idmap;
    if (!addon) return { ok: false, reason: 'native/idmap is not built' };
    await mkdir(this.deps.dir, { recursive: true, mode: USERNS_DIR_MODE });
    await chmod(this.deps.dir, USERNS_DIR_MODE);
    // A pod's root (a host uid of its own) must be able to pass every directory above its own one.
    for (let d = dirname(this.deps.dir); ; d = dirname(d)) {
      if (((await stat(d)).mode & 0o001) === 0) return { ok: false, reason: `${d} cannot be passed by other users (no x bit for others), so a pod's root could not reach its own directory` };
      if (d === '/') break;
    }
    const tmp = join(this.deps.dir, `.probe-${process.pid}`);
    const mounted: string[] = [];
    let holder: Awaited<ReturnType<typeof holdNamespaces>> | undefined;
    try {
      await rm(tmp, { recursive: true, force: true });
      for (const d of ['', 'lower', 'upper', 'work', 'merged', 'view', 'tmpfs', 'tview']) await mkdir(join(tmp, d), { mode: 0o700 });
      holder = await holdNamespaces(this.deps.runner, ['unshare', '--user', '--'], '', this.timeoutMs);
      await writeFile(`/proc/${holder.pid}/uid_map`, '0 1000 65536\n');
      await writeFile(`/proc/${holder.pid}/gid_map`, '0 1000 65536\n');
      const ns = `/proc/${holder.pid}/ns/user`;
      addon.idmapMount(join(tmp, 'lower'), join(tmp, 'view'), ns);
      mounted.push(join(tmp, 'view'));
      await chown(join(tmp, 'upper'), 1000, 1000);
      await this.tool('mount', ['-t', 'overlay', '-o', `lowerdir=${join(tmp, 'view')},upperdir=${join(tmp, 'upper')},workdir=${join(tmp, 'work')}`, 'overlay', join(tmp, 'merged')]);
      mounted.push(join(tmp, 'merged'));
      const info = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === join(tmp, 'merged'));
      if (!info || !/^rw\b/.test(info.split(' ')[5] ?? '')) return { ok: false, reason: 'overlayfs mounts idmapped lower layers read-only' };
      await this.tool('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(tmp, 'tmpfs')]);
      mounted.push(join(tmp, 'tmpfs'));
      try {
        addon.idmapMount(join(tmp, 'tmpfs'), join(tmp, 'tview'), ns);
        mounted.push(join(tmp, 'tview'));
      } catch (e) {
        return { ok: false, reason: `tmpfs cannot be idmapped (kernel 6.3+ needed): ${(e as Error).message}` };
      }
      return { ok: true, reason: '' };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    } finally {
      for (const m of mounted.reverse()) {
        try {
          addon.detachMount(m);
        } catch {
          // not mounted
        }
      }
      await holder?.release();
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** exists tells whether pod `podId` has a pinned user namespace. */
  async exists(podId: string): Promise<boolean> {
    return parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).has(this.pinOf(podId));
  }

  /**
   * idmapMount attaches at `target` (made here: a directory, or an empty file for a file source) an idmapped copy
   * of the mount tree at `source` for pod `podId`'s user namespace: a file stored with host id H shows as H minus
   * the mapping's host start inside the pod. The copy keeps the source mount's flags (ro, nosuid, nodev, noexec),
   * and its submounts when `recursive`.
   */
  async idmapMount(podId: string, source: string, target: string, recursive: boolean): Promise<void> {
    const addon = this.deps.idmap;
    if (!addon) throw new RuntimeError('FailedPrecondition', 'idmapped mounts are not available (native/idmap is not built)');
    const st = await lstat(source);
    if (st.isDirectory()) await mkdir(target, { recursive: true, mode: 0o700 });
    else await writeFile(target, '', { mode: 0o600, flag: 'a' });
    try {
      addon.idmapMount(source, target, this.pinOf(podId), recursive);
    } catch (e) {
      throw new RuntimeError('FailedPrecondition', `cannot make an idmapped mount of ${source} for the pod's user namespace: ${(e as Error).message}`, { cause: e });
    }
  }

  /** detach unmounts `target` lazily (MNT_DETACH); not mounted is fine. */
  detach(target: string): void {
    try {
      this.deps.idmap?.detachMount(target);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EINVAL' && (e as { code?: string }).code !== 'ENOENT') throw e;
    }
  }

  /**
   * remove unmounts everything below pod `podId`'s directory (deepest first, lazily: never remove a tree through a
   * mount), deletes it, and unpins the user namespace. An absent pod is fine.
   */
  async remove(podId: string): Promise<void> {
    const dir = this.podDir(podId);
    const pin = this.pinOf(podId);
    const text = await readFile('/proc/self/mountinfo', 'utf8');
    const under = text.split('\n').map((l) => unescapeMountPath(l.split(' ')[4] ?? '')).filter((m) => m === pin || m.startsWith(dir + '/'));
    for (const m of [...new Set(under)].sort((a, b) => b.length - a.length)) await this.unmountLazy(m);
    await rm(dir, { recursive: true, force: true });
    await rm(pin, { force: true });
  }

  /**
   * removeContainer unmounts and deletes what container `id` has in pod `podId`'s directory (its rootfs mount point
   * `<id>`, its idmapped volumes and image volumes `<id>.*`); absent is fine.
   */
  async removeContainer(podId: string, id: string): Promise<void> {
    const dir = this.podDir(podId);
    const mine = (p: string) => p === join(dir, id) || p.startsWith(join(dir, id) + '.') || p.startsWith(join(dir, id) + '/');
    const text = await readFile('/proc/self/mountinfo', 'utf8');
    const under = text.split('\n').map((l) => unescapeMountPath(l.split(' ')[4] ?? '')).filter(mine);
    for (const m of [...new Set(under)].sort((a, b) => b.length - a.length)) await this.unmountLazy(m);
    for (const n of await readdir(dir).catch(() => [] as string[])) if (mine(join(dir, n))) await rm(join(dir, n), { recursive: true, force: true });
  }

  private async unmountLazy(m: string): Promise<void> {
    await this.tool('umount', ['-l', m]).catch(async (e: unknown) => {
      if (parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')).has(m)) throw e;
    });
  }

  /** list gives the pod ids that have a pin or a directory here (for the orphan sweep at start-up). */
  async list(): Promise<string[]> {
    const names = new Set<string>();
    for (const n of await readdir(this.deps.dir).catch(() => [] as string[])) if (n !== 'ns' && POD_ID.test(n)) names.add(n);
    for (const n of await readdir(join(this.deps.dir, 'ns')).catch(() => [] as string[])) if (POD_ID.test(n)) names.add(n);
    return [...names].sort();
  }

  private async tool(cmd: string, args: string[]): Promise<void> {
    await runChecked(this.deps.runner, cmd, args, { timeoutMs: this.timeoutMs });
  }
}
