import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * IdmapAddon is native/idmap: idmapped mounts, which runc 1.1.5 cannot make. idmapMount(source, target, usernsPath,
 * recursive) clones the mount at `source` (open_tree OPEN_TREE_CLONE, AT_RECURSIVE when `recursive`), makes the
 * clone idmapped with the user namespace at `usernsPath` (mount_setattr MOUNT_ATTR_IDMAP) and attaches it at
 * `target` (move_mount). Inside that namespace a file stored with id N shows as N (so an image's root-owned files
 * are root's), and a file the namespace's root writes is stored as 0. Errors carry `code`, `errno`, `syscall`.
 * detachMount(target) is umount2(MNT_DETACH): overlayfs keeps private clones of its layers, so the idmapped views
 * its lowerdirs were built from can go once it is mounted.
 */
export interface IdmapAddon {
  idmapMount(source: string, target: string, usernsPath: string, recursive?: boolean): void;
  detachMount(target: string): void;
}

const ADDON_PATH = join('native', 'idmap', 'build', 'Release', 'fune_idmap.node');

/** loadIdmapAddon loads the built addon above this module (src/sys or dist/src/sys); it throws why not. */
export function loadIdmapAddon(): IdmapAddon {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    const file = join(dir, ADDON_PATH);
    if (existsSync(file)) return createRequire(import.meta.url)(file) as IdmapAddon;
  }
  throw new Error(`${ADDON_PATH} was not built (hack/build-native.sh)`);
}

/** tryLoadIdmapAddon is loadIdmapAddon, or undefined when the addon is not built. */
export function tryLoadIdmapAddon(): IdmapAddon | undefined {
  try {
    return loadIdmapAddon();
  } catch {
    return undefined;
  }
}
