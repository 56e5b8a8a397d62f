import { readFile, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { ImagePort } from './lifecycle-deps.js';
import type { LayerIdmap } from '../image/rootfs.js';

/** UserFiles are an image's `/etc/passwd` and `/etc/group` (empty when absent), for resolving the user. */
export interface UserFiles {
  passwd: string;
  group: string;
}

/** USER_FILES_CACHE bounds how many images' user files are kept, and USER_FILE_MAX the size of one kept file. */
const USER_FILES_CACHE = 64;
const USER_FILE_MAX = 256 * 1024;

/**
 * ImageUserFiles gives CreateContainer the user files its spec needs without mounting every container's rootfs
 * (StartContainer mounts it, as containerd mounts a snapshot only when the task is created; starting mount(8)
 * holds Node's event loop for milliseconds, since libuv forks the daemon).
 *
 * The files come from the image, not the container: a new container's writable layer is empty, so its mounted
 * rootfs shows the image's files. They are read from the first container of an image, whose rootfs is mounted for
 * that, and kept by image id (an id is the digest of the image's config, which names its layers, so the content
 * behind an id never changes).
 */
export class ImageUserFiles {
  private readonly byImage = new Map<string, UserFiles>();

  constructor(private readonly images: ImagePort) {}

  /** get gives image `imageId`'s user files, on first use mounting container `id`'s prepared rootfs at `rootfs`. */
  async get(imageId: string, id: string, rootfs: string, idmap?: LayerIdmap): Promise<UserFiles> {
    const kept = this.byImage.get(imageId);
    if (kept) return kept;
    await this.images.mountRootfs(id, rootfs, idmap);
    const [passwd, group] = await Promise.all([readInside(rootfs, 'etc/passwd'), readInside(rootfs, 'etc/group')]);
    const files = { passwd, group };
    if (passwd.length <= USER_FILE_MAX && group.length <= USER_FILE_MAX) {
      if (this.byImage.size >= USER_FILES_CACHE) this.byImage.delete(this.byImage.keys().next().value!);
      this.byImage.set(imageId, files);
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
