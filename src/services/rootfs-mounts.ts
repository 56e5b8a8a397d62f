import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImagePort } from './lifecycle-deps.js';
import { Pending } from './pending.js';

/** UserFiles are an image's `/etc/passwd` and `/etc/group` (empty when absent), for resolving the user. */
export interface UserFiles {
  passwd: string;
  group: string;
}

/** USER_FILES_CACHE bounds how many images' user files are kept, and USER_FILE_MAX the size of one kept file. */
const USER_FILES_CACHE = 64;
const USER_FILE_MAX = 256 * 1024;
/** SOON_MS is the delay of a mount after CreateContainer's answer. */
const SOON_MS = 1;

/**
 * RootfsMounts takes the overlay mount of a container's root filesystem off CreateContainer's path: it begins
 * once Create has answered, and StartContainer waits for it before `runc create` needs it (containerd, too, mounts
 * a snapshot only when the task is created). A mount that fails is reported by StartContainer, which records the
 * container EXITED with StartError.
 * (mount(8) is a process, and starting one blocks Node's event loop for milliseconds: fork copies the daemon's
 * page tables.)
 *
 * The user files the spec needs come from the image, not the container: a new container's writable layer is
 * empty, so the mounted rootfs shows the image's files. They are read from the first container of an image, whose
 * rootfs Create mounts for that, and kept by image id (an id is the digest of the image's config, which names its
 * layers, so the content behind an id never changes). Whatever unmounts a container's rootfs quiets a mount in
 * flight first, so that no mount lands after the unmount.
 */
export class RootfsMounts {
  private readonly pending = new Pending();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly userFilesByImage = new Map<string, UserFiles>();

  constructor(private readonly images: ImagePort) {}

  /**
   * soon mounts container `id`'s rootfs just after CreateContainer has answered (on a timer, so that starting
   * mount(8) does not hold the answer back), since StartContainer usually follows: ensure then finds the mount
   * done or in flight. A StartContainer that comes first cancels the timer and mounts itself.
   */
  soon(id: string, target: string): void {
    if (this.pending.has(id) || this.timers.has(id)) return;
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.pending.begin(id, this.images.mountRootfs(id, target));
    }, SOON_MS);
    timer.unref();
    this.timers.set(id, timer);
  }

  private cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  /** ensure mounts container `id`'s prepared rootfs at `target`, or waits for a mount in flight; mounted is fine. */
  async ensure(id: string, target: string): Promise<void> {
    this.cancel(id);
    await this.pending.settle(id);
    await this.images.mountRootfs(id, target);
  }

  /** quiet cancels a mount not begun yet and waits for one in flight, ignoring its outcome (before an unmount). */
  quiet(id: string): Promise<void> {
    this.cancel(id);
    return this.pending.quiet(id);
  }

  /** userFiles gives image `imageId`'s user files, read from container `id`'s rootfs at `rootfs` on first use. */
  async userFiles(imageId: string, id: string, rootfs: string): Promise<UserFiles> {
    const kept = this.userFilesByImage.get(imageId);
    if (kept) return kept;
    this.pending.begin(id, this.images.mountRootfs(id, rootfs));
    await this.pending.wait(id);
    const [passwd, group] = await Promise.all([
      readFile(join(rootfs, 'etc/passwd'), 'utf8').catch(() => ''),
      readFile(join(rootfs, 'etc/group'), 'utf8').catch(() => ''),
    ]);
    const files = { passwd, group };
    if (passwd.length <= USER_FILE_MAX && group.length <= USER_FILE_MAX) {
      if (this.userFilesByImage.size >= USER_FILES_CACHE) this.userFilesByImage.delete(this.userFilesByImage.keys().next().value!);
      this.userFilesByImage.set(imageId, files);
    }
    return files;
  }
}
