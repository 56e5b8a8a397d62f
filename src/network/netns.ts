import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError, alreadyExists, invalidArgument, isErrno } from '../errors/index.js';
import { runChecked, type ProcessRunner } from '../sys/process-runner.js';

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

/** unescapeMountPath decodes the octal escapes (\040 for a space, …) of a mountinfo path. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** MountPoint is what fune needs to know of one mount: its filesystem type and whether it propagates (shared). */
export interface MountPoint {
  fstype: string;
  shared: boolean;
}

/** parseMountPoints gives the mount points of a mountinfo text (the last mount on a path wins). */
export function parseMountPoints(mountinfo: string): Map<string, MountPoint> {
  const out = new Map<string, MountPoint>();
  for (const line of mountinfo.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 5 || sep < 0) continue;
    const optional = f.slice(6, sep);
    out.set(unescapeMountPath(f[4]!), { fstype: f[sep + 1] ?? '', shared: optional.some((o) => o.startsWith('shared:')) });
  }
  return out;
}

/** containingMount gives the mount point under which `path` lies (the longest mount point prefix). */
export function containingMount(mounts: Map<string, MountPoint>, path: string): [string, MountPoint] | undefined {
  let best: [string, MountPoint] | undefined;
  for (const [m, info] of mounts) {
    const under = m === '/' || path === m || path.startsWith(m + '/');
    if (under && (!best || m.length > best[0].length)) best = [m, info];
  }
  return best;
}

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
  async create(podId: string, signal?: AbortSignal): Promise<string> {
    const path = this.pathOf(podId);
    await this.prepareDir();
    if (await this.isMounted(path)) throw alreadyExists(`network namespace of pod ${podId} already exists at ${path}`);
    await rm(path, { force: true });
    const fh = await open(path, 'wx', 0o444);
    await fh.close();
    try {
      await this.helper('unshare', [`--net=${path}`, 'ip', 'link', 'set', 'lo', 'up'], signal);
    } catch (e) {
      await this.remove(podId).catch(() => undefined);
      throw e;
    }
    return path;
  }

  /** remove unpins and deletes the namespace of pod `podId`; an absent one is fine. */
  async remove(podId: string): Promise<void> {
    const path = this.pathOf(podId);
    if (await this.isMounted(path)) {
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
