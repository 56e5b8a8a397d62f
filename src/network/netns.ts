import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError, alreadyExists, invalidArgument, isErrno } from '../errors/index.js';
import { runChecked, type ProcessRunner } from '../sys/process-runner.js';
import { containingMount, parseMountPoints } from '../sys/mountinfo.js';
import { holdNamespaces } from '../sys/ns-holder.js';
import { isMountRoot, loadMountAddon, MNT_DETACH, syscallUnmount } from '../sys/mount.js';

export { containingMount, parseMountPoints, type MountPoint } from '../sys/mountinfo.js';

/**
 * Pod network namespaces, pinned as nsfs bind mounts on files under `<state>/netns/<podId>` so that a namespace
 * outlives every process in it (and the daemon) until RemovePodSandbox.
 *
 * How a namespace is made: Node cannot call setns(2)/unshare(2) for one thread, so fune runs
 * `unshare --net=<file> ip link set lo up` (util-linux). unshare creates the namespace, bind-mounts it onto
 * `<file>` and then runs `ip` inside it, so one short process both creates and pins the namespace and brings the
 * loopback interface up (what containerd calls use_internal_loopback; the CNI loopback plugin is not needed).
 * We prefer this over `ip netns add`, which only knows /run/netns: pointing it elsewhere needs a bind mount over
 * /run/netns, which would hide other users' namespaces on the host.
 *
 * unshare refuses to pin onto a file whose mount is shared (the mount would propagate into the very namespace it
 * pins, a loop the kernel rejects), and on systemd hosts `/` is shared. So when the netns directory lies on a shared
 * mount it is first bind-mounted onto itself and made private, as `ip netns` does for /run/netns (it makes it
 * shared; we need nothing propagated). On a private mount nothing is mounted on the directory itself.
 */

/** NETNS_DIR_NAME is the folder under the state dir that holds the pinned namespaces. */
export const NETNS_DIR_NAME = 'netns';

/** NetnsDeps are what a NetnsManager works with. */
export interface NetnsDeps {
  /** dir holds one pinned namespace file per pod. */
  dir: string;
  runner: ProcessRunner;
  /** timeoutMs bounds each helper program (unshare, mount, umount). */
  timeoutMs?: number;
  /** mountInfo gives the text of /proc/self/mountinfo (injected for tests). */
  mountInfo?: () => Promise<string>;
}

const POD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** NetnsManager creates, lists and removes the pinned network namespaces of pods. */
export class NetnsManager {
  private prepared?: Promise<void>;
  private readonly timeoutMs: number;
  private readonly mountInfo: () => Promise<string>;

  constructor(private readonly deps: NetnsDeps) {
    this.timeoutMs = deps.timeoutMs ?? 30_000;
    this.mountInfo = deps.mountInfo ?? (() => readFile('/proc/self/mountinfo', 'utf8'));
  }

  /** dir is the folder of the pinned namespaces. */
  get dir(): string {
    return this.deps.dir;
  }

  /** pathOf gives where the namespace of pod `podId` is (or would be) pinned. */
  pathOf(podId: string): string {
    if (!POD_ID.test(podId)) throw invalidArgument(`invalid pod id for a network namespace: ${JSON.stringify(podId)}`);
    return join(this.deps.dir, podId);
  }

  /** prepareDir makes the netns dir a private bind mount of itself, once per manager. */
  prepareDir(): Promise<void> {
    this.prepared ??= this.doPrepare().catch((e: unknown) => {
      this.prepared = undefined;
      throw e;
    });
    return this.prepared;
  }

  private async doPrepare(): Promise<void> {
    const dir = this.deps.dir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const mounts = parseMountPoints(await this.mountInfo());
    const own = mounts.get(dir);
    if (own) {
      if (own.shared) await this.helper('mount', ['--make-private', dir]);
      return;
    }
    // Only a shared parent needs the private self-bind; otherwise the dir stays a plain dir (nothing to unmount).
    if (!containingMount(mounts, dir)?.[1].shared) return;
    await this.helper('mount', ['--bind', dir, dir]);
    await this.helper('mount', ['--make-private', dir]);
  }

  /**
   * create makes a new network namespace for pod `podId`, pins it and brings `lo` up in it; it gives the path.
   * A stale, unmounted file of the same name (a crash between touch and mount) is replaced; a live one is an error.
   */
  async create(podId: string, signal?: AbortSignal, usernsPath?: string): Promise<string> {
    const path = this.pathOf(podId);
    await this.prepareDir();
    if (await this.isMounted(path)) throw alreadyExists(`network namespace of pod ${podId} already exists at ${path}`);
    await rm(path, { force: true });
    const fh = await open(path, 'wx', 0o444);
    await fh.close();
    try {
      if (usernsPath) await this.createOwned(path, usernsPath);
      else await this.helper('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up'], signal);
    } catch (e) {
      await this.remove(podId).catch(() => undefined);
      throw e;
    }
    return path;
  }

  /**
   * createOwned makes the namespace inside the pod's user namespace (pinned at `usernsPath`), so that the user
   * namespace owns it: runc joins the user namespace first, and a network namespace the initial user namespace
   * owns would refuse the pod's root its sysctls and a sysfs mount. A helper enters the user namespace as its root
   * (`nsenter -S 0 -G 0`, which keeps its capabilities there across exec), unshares a network namespace and brings
   * `lo` up; fune pins the namespace from outside (a mount in the host's mount namespace, which the user namespace
   * may not make) and lets the helper go. containerd 2 has runc make the namespace and pins it from the infra pid;
   * CRI-O's pinns does the same as here.
   */
  private async createOwned(path: string, usernsPath: string): Promise<void> {
    const holder = await holdNamespaces(this.deps.runner, ['nsenter', `--user=${usernsPath}`, '-S', '0', '-G', '0', '--', 'unshare', '--net', '--'], 'ip link set lo up', this.timeoutMs);
    try {
      await this.helper('mount', ['--bind', `/proc/${holder.pid}/ns/net`, path]);
    } finally {
      await holder.release();
    }
  }

  /** remove unpins and deletes the namespace of pod `podId`; an absent one is fine. */
  async remove(podId: string): Promise<void> {
    const path = this.pathOf(podId);
    const addon = this.deps.mountInfo ? null : loadMountAddon();
    if (addon) {
      // umount2(2) through native/mount: no umount(8), no read of mountinfo (a file that is no mount point is fine).
      await syscallUnmount(addon, path).catch(async (e: unknown) => {
        if (isMountRoot(addon, path)) await syscallUnmount(addon, path, MNT_DETACH).catch(() => { throw e; });
      });
    } else if (await this.isMounted(path)) {
      try {
        await this.helper('umount', [path]);
      } catch (e) {
        // A racing remove may have unmounted it already; only fail when it is still mounted.
        if (await this.isMounted(path)) await this.helper('umount', ['--lazy', path]).catch(() => { throw e; });
      }
    }
    try {
      await rm(path, { force: true });
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }

  /** exists tells whether pod `podId` has a pinned (mounted) namespace. */
  async exists(podId: string): Promise<boolean> {
    return this.isMounted(this.pathOf(podId));
  }

  /** list gives the pod ids that have a file in the netns dir, with whether the namespace is still pinned. */
  async list(): Promise<{ podId: string; path: string; mounted: boolean }[]> {
    let names: string[];
    try {
      names = await readdir(this.deps.dir);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    const mounts = parseMountPoints(await this.mountInfo());
    return names
      .filter((n) => POD_ID.test(n))
      .sort()
      .map((podId) => {
        const path = join(this.deps.dir, podId);
        const fstype = mounts.get(path)?.fstype;
        return { podId, path, mounted: fstype === 'nsfs' || fstype === 'proc' };
      });
  }

  private async isMounted(path: string): Promise<boolean> {
    return parseMountPoints(await this.mountInfo()).has(path);
  }

  private async helper(cmd: string, args: string[], signal?: AbortSignal): Promise<void> {
    try {
      await runChecked(this.deps.runner, cmd, args, { timeoutMs: this.timeoutMs, signal });
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError('Internal', `${cmd}: ${(e as Error).message}`, { cause: e });
    }
  }
}
