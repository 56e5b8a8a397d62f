import { chown, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Mounter } from '../sys/mount.js';
import { MOUNT_OPTIONS_LIMIT } from '../sys/mount.js';
import { RecordStore } from '../store/record-store.js';
import { removeTreeAtomic } from '../store/atomic-file.js';
import { RuntimeError } from '../errors/index.js';
import type { LayerStore } from './layer-store.js';
import { shortName } from './layer-store.js';
import type { Mutex } from './single-flight.js';

/** RootfsRecord ties a container's writable layer to the image layers under it (which it keeps alive). */
export interface RootfsRecord {
  containerId: string;
  imageId: string;
  /** diffIds of the image's layers, lowest first. */
  diffIds: string[];
}

/** RootfsPlan is everything needed to mount a container's root filesystem with overlayfs. */
export interface RootfsPlan {
  /** lowerdirs are the absolute layer directories, lowest first (the image's layer order, repeats dropped: see overlayLayers). */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /**
   * mountOptions are the overlay options; lowerdirs in them are short names relative to `cwd` (topmost first),
   * which keeps a deep image under the one-page limit of mount options.
   */
  mountOptions: string[];
  cwd: string;
}

/**
 * LayerIdmap is how a container of a pod with its own user namespace sees the image layers: through idmapped views
 * of them (overlayfs itself cannot be idmapped; it can stack idmapped layers). The writable layer is not idmapped:
 * its top directory is given to the pod's root on the host, and what the container writes is stored with host ids,
 * as containerd 2 does for its idmapped snapshots.
 */
export interface LayerIdmap {
  /** view attaches an idmapped view of directory `source` at `target` (which it makes). */
  view(source: string, target: string): Promise<void>;
  /** detach unmounts a view lazily; overlayfs keeps its own private clone of each layer. */
  detach(target: string): void;
  /** root is the host uid and gid of the pod's root. */
  root: { uid: number; gid: number };
}

/**
 * overlayLayers gives the layers an overlay mount stacks for an image's layer list (lowest first): each distinct
 * layer once, at its last (topmost) place. overlayfs refuses a lowerdir list that names a directory twice
 * (ELOOP), and Docker-built images often repeat the empty layer or list one layer several times.
 *
 * Dropping the lower copies keeps the filesystem that applying every layer in order gives. A layer here is its
 * own diff, unpacked once under its diff id (not a snapshot of the chain below it, as containerd's snapshots
 * keyed by chain id are), so both copies hold the same entries. Every name the lower copy holds (file, whiteout,
 * directory, opaque marker) the upper copy holds as well, and overlayfs resolves each name at the topmost layer
 * that has it: a lookup that could reach the lower copy meets the upper one first and ends there for a
 * non-directory, or merges the same directory contents for a directory (and stops there when it is opaque). So
 * A, B, A mounts as B under A, and A's files win over B's, as a tar applier gives. Keying layers by chain id
 * instead would unpack and store each repeat again for no gain, and would change the layer store's layout.
 */
export function overlayLayers(diffIds: string[]): string[] {
  const last = new Map<string, number>();
  diffIds.forEach((d, i) => last.set(d, i));
  return diffIds.filter((d, i) => last.get(d) === i);
}

/**
 * RootfsStore gives containers their writable layers (`rootfs/<id>/{upper,work}`) over the shared image layers,
 * and mounts and unmounts the overlay through the Mounter.
 */
export class RootfsStore {
  private readonly records: RecordStore<RootfsRecord>;
  private readonly byId = new Map<string, RootfsRecord>();
  private readonly rootfsDir: string;
  private readonly emptyDir: string;

  constructor(
    readonly dir: string,
    private readonly layers: LayerStore,
    private readonly mounter: Mounter,
    /** overlayOptions go on every overlay mount (`userxattr` inside a user namespace: NodeRules). */
    private readonly overlayOptions: string[] = [],
  ) {
    this.records = new RecordStore<RootfsRecord>(join(dir, 'rootfs-records'), 'rootfs');
    this.rootfsDir = join(dir, 'rootfs');
    this.emptyDir = join(dir, 'empty');
  }

  /** load reads the records. */
  async load(): Promise<void> {
    await mkdir(this.rootfsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.emptyDir, { recursive: true, mode: 0o755 });
    const { records } = await this.records.loadAll();
    for (const r of records) this.byId.set(r.value.containerId, r.value);
  }

  /** all gives every container rootfs record (their layers must not be collected). */
  all(): RootfsRecord[] {
    return [...this.byId.values()];
  }

  private plan(r: RootfsRecord): RootfsPlan {
    const base = join(this.rootfsDir, r.containerId);
    const upperdir = join(base, 'upper');
    const workdir = join(base, 'work');
    const layers = overlayLayers(r.diffIds);
    const lowers = layers.length ? [...layers].reverse().map(shortName) : [this.emptyDir];
    const mountOptions = [`lowerdir=${lowers.join(':')}`, `upperdir=${upperdir}`, `workdir=${workdir}`, ...this.overlayOptions];
    if (mountOptions.join(',').length >= MOUNT_OPTIONS_LIMIT) throw new RuntimeError('FailedPrecondition', `image has too many layers (${layers.length}) for one overlay mount`);
    return { lowerdirs: layers.map((d) => this.layers.diffDir(d)), upperdir, workdir, mountOptions, cwd: this.layers.linksDir };
  }

  /**
   * prepare creates (or finds) a container's writable layer over the given image layers. `pin` is the image index
   * lock: the record enters the map under it (so no collection is under way, and every later one keeps the layers),
   * and the directories and the record file are written after it is released, so that the kubelet's concurrent
   * CreateContainers do not wait for each other's fsyncs.
   */
  async prepare(containerId: string, imageId: string, diffIds: string[], pin?: Mutex): Promise<RootfsPlan> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(containerId)) throw new RuntimeError('InvalidArgument', `invalid container id ${JSON.stringify(containerId)}`);
    const existing = this.byId.get(containerId);
    if (existing) return this.plan(existing);
    const rec: RootfsRecord = { containerId, imageId, diffIds };
    const p = this.plan(rec);
    const enter = async () => {
      this.byId.set(containerId, rec);
    };
    await (pin ? pin.run(enter) : enter());
    try {
      // At once: a record without its directories (a crash in between) is an orphan the owner's recovery removes,
      // since the container's own record is written after this.
      await mkdir(dirname(p.upperdir), { recursive: true, mode: 0o700 }); // the container's own directory: root's alone
      await Promise.all([mkdir(p.upperdir, { recursive: true, mode: 0o755 }), mkdir(p.workdir, { recursive: true, mode: 0o700 }), this.records.put(containerId, rec)]);
    } catch (e) {
      this.byId.delete(containerId);
      throw e;
    }
    return p;
  }

  /** get gives the plan of a prepared rootfs, or undefined. */
  get(containerId: string): RootfsPlan | undefined {
    const r = this.byId.get(containerId);
    return r ? this.plan(r) : undefined;
  }

  /** mount mounts a prepared rootfs at `target` (which must exist); mounting a mounted target is a no-op. */
  async mount(containerId: string, target: string, idmap?: LayerIdmap): Promise<void> {
    const r = this.byId.get(containerId);
    if (!r) throw new RuntimeError('NotFound', `no root filesystem prepared for container ${containerId}`);
    if (await this.mounter.isMounted(target)) return;
    const p = this.plan(r);
    if (!idmap) {
      await this.mounter.mount({ source: 'overlay', fstype: 'overlay', target, options: p.mountOptions, cwd: p.cwd });
      return;
    }
    await chown(p.upperdir, idmap.root.uid, idmap.root.gid);
    const lowers = p.lowerdirs.length ? [...p.lowerdirs].reverse() : [this.emptyDir];
    await this.withViews(join(this.rootfsDir, containerId, 'idmap'), lowers, idmap, (names, cwd) =>
      this.mounter.mount({ source: 'overlay', fstype: 'overlay', target, options: [`lowerdir=${names.join(':')}`, `upperdir=${p.upperdir}`, `workdir=${p.workdir}`, ...this.overlayOptions], cwd }),
    );
  }

  /**
   * withViews makes idmapped views of `lowers` (topmost first) under `dir`, named 0, 1, ... (short lowerdir
   * options relative to `dir`), runs `mount` with their names, and detaches and removes the views again.
   */
  private async withViews(dir: string, lowers: string[], idmap: LayerIdmap, mount: (names: string[], cwd: string) => Promise<void>): Promise<void> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const names = lowers.map((_, i) => String(i));
    const made: string[] = [];
    try {
      for (const [i, l] of lowers.entries()) {
        await idmap.view(l, join(dir, names[i]!));
        made.push(join(dir, names[i]!));
      }
      await mount(names, dir);
    } finally {
      for (const v of made) idmap.detach(v);
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * mountLayersReadOnly mounts an image's layers, with no writable layer over them, at `target` (an existing
   * directory): the image volumes of the CRI (Mount.image). overlayfs needs two lower layers when there is no upper
   * one, so the empty directory is always the lowest. The mount is ro, nosuid and nodev, and noexec when asked
   * (a bind of it keeps those flags). A repeated layer is stacked once (overlayLayers). Mounting a mounted target
   * is a no-op.
   */
  async mountLayersReadOnly(diffIds: string[], target: string, noexec: boolean, idmap?: LayerIdmap): Promise<void> {
    if (await this.mounter.isMounted(target)) return;
    const layers = overlayLayers(diffIds);
    const flags = ['ro', 'nosuid', 'nodev', ...(noexec ? ['noexec'] : []), ...this.overlayOptions];
    if (idmap) {
      const lowers = [...[...layers].reverse().map((d) => this.layers.diffDir(d)), this.emptyDir];
      await this.withViews(`${target}.idmap`, lowers, idmap, (names, cwd) =>
        this.mounter.mount({ source: 'overlay', fstype: 'overlay', target, options: [`lowerdir=${names.join(':')}`, ...flags], cwd }),
      );
      return;
    }
    const lowers = [...[...layers].reverse().map(shortName), this.emptyDir];
    const options = [`lowerdir=${lowers.join(':')}`, ...flags];
    if (options.join(',').length >= MOUNT_OPTIONS_LIMIT) throw new RuntimeError('FailedPrecondition', `image has too many layers (${layers.length}) for one overlay mount`);
    await this.mounter.mount({ source: 'overlay', fstype: 'overlay', target, options, cwd: this.layers.linksDir });
  }

  /** unmount unmounts `target`; an unmounted target is fine. */
  async unmount(target: string): Promise<void> {
    await this.mounter.unmount(target);
  }

  /**
   * remove deletes a container's writable layer and its record; an absent one is fine. Unmount first. It needs no
   * lock of the image index: the record leaves the map at once, so a collection from now on may take the layers
   * (nothing mounts them for this container any more); the files are the container's alone, and a prepare of the
   * same id cannot run meanwhile (the owner's own lock). A crash in between leaves the record on disk, which the
   * next start loads and the owner's removal or recovery removes again.
   */
  async remove(containerId: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(containerId)) return;
    this.byId.delete(containerId);
    await removeTreeAtomic(join(this.rootfsDir, containerId));
    await this.records.delete(containerId);
  }

  /** sweep removes what a crash left under rootfs/: temporary directories and directories without a record. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.rootfsDir)) {
      if (this.byId.has(name)) continue;
      await rm(join(this.rootfsDir, name), { recursive: true, force: true });
      n++;
    }
    return n;
  }
}
