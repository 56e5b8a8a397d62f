import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
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

/**
 * RootfsMounts takes the overlay mount of a container's root filesystem off CreateContainer's path: StartContainer
 * mounts it before `runc create` needs it (containerd, too, mounts a snapshot only when the task is created). A
 * mount that fails is reported by StartContainer, which records the container EXITED with StartError. (Mounting
 * in the background right after Create answered was measured slower for both verbs: starting mount(8) holds the
 * event loop while the StartContainer that follows arrives.)
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
  private readonly userFilesByImage = new Map<string, UserFiles>();

  constructor(private readonly images: ImagePort) {}

  /** ensure mounts container `id`'s prepared rootfs at `target`, or waits for a mount in flight; mounted is fine. */
  async ensure(id: string, target: string): Promise<void> {
    await this.pending.settle(id);
    await this.images.mountRootfs(id, target);
  }

  /** quiet waits for a mount in flight, ignoring its outcome (before an unmount). */
  quiet(id: string): Promise<void> {
    return this.pending.quiet(id);
  }

  /** userFiles gives image `imageId`'s user files, read from container `id`'s rootfs at `rootfs` on first use. */
  async userFiles(imageId: string, id: string, rootfs: string): Promise<UserFiles> {
    const kept = this.userFilesByImage.get(imageId);
    if (kept) return kept;
    this.pending.begin(id, this.images.mountRootfs(id, rootfs));
    await this.pending.wait(id);
    const [passwd, group] = await Promise.all([
      readInside(rootfs, 'etc/passwd'),
      readInside(rootfs, 'etc/group'),
    ]);
    const files = { passwd, group };
    if (passwd.length <= USER_FILE_MAX && group.length <= USER_FILE_MAX) {
      if (this.userFilesByImage.size >= USER_FILES_CACHE) this.userFilesByImage.delete(this.userFilesByImage.keys().next().value!);
      this.userFilesByImage.set(imageId, files);
    }
    return files;
  }
}

/**
 * readInside reads `rel` under `rootfs` as text, or '' when it is absent or resolves outside the rootfs: the
 * rootfs is read from the host, where an image's absolute symlink (`/etc/passwd -> /etc/shadow`) would name a
 * host file.
 */
export async function readInside(rootfs: string, rel: string): Promise<string> {
  try {
    const [root, real] = await Promise.all([realpath(rootfs), realpath(join(rootfs, rel))]);
    if (!real.startsWith(root + sep)) return '';
    return await readFile(real, 'utf8');
  } catch {
    return '';
  }
}
