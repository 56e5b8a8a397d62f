import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Mount } from '../domain/cri-types.js';
import { invalidArgument, isErrno, isKind, notFound } from '../errors/index.js';
import { cleanPath } from '../oci/index.js';
import type { ImagePort } from './lifecycle-deps.js';
import type { Rollback } from './rollback.js';
import type { LayerIdmap } from '../image/rootfs.js';

/** ImageVolume is one image mounted for a container: the image, where its layers are mounted, and the bind source. */
export interface ImageVolume {
  imageId: string;
  /** target is the read-only overlay of the image's layers under the container's bundle. */
  target: string;
  /** containerPath is the mount's destination in the container (cleaned). */
  containerPath: string;
  /** source is what is bind-mounted: the target, or the image sub path in it. */
  source: string;
}

/** the message prefix containerd and CRI-O give image volume failures (k8s.io/cri-api/pkg/errors ErrImageVolumeMountFailed). */
const FAILED = 'ImageVolumeMountFailed';

const MAX_LINKS = 40;

/**
 * resolveSubPath finds `sub` (a path relative to `root`, from the request) inside `root` component by component,
 * following symlinks only while they stay inside it: an absolute symlink or one that climbs above `root` is refused,
 * as Go's os.OpenInRoot does for containerd. `..` is refused outright (the kubelet never sends it). The result must
 * be an existing directory (mounting single files is a non-goal of KEP-4639). `root` is a read-only mount that only
 * fune's layers make up, so nothing can swap a component between this check and the bind.
 */
export async function resolveSubPath(root: string, sub: string, image: string): Promise<string> {
  if (sub.startsWith('/')) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)} must be relative`);
  if (/[\0]/.test(sub)) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)} contains a NUL byte`);
  const parts = sub.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)} may not contain ".." (path escapes from parent)`);
  const done: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    const here = join(root, ...done, part);
    let st;
    try {
      st = await lstat(here);
    } catch (e) {
      if (isErrno(e, 'ENOENT') || isErrno(e, 'ENOTDIR')) throw invalidArgument(`${FAILED}: sub path ${JSON.stringify(sub)} does not exist in image volume ${JSON.stringify(image)}`);
      throw e;
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)}: too many levels of symbolic links`);
      const target = await readlink(here);
      if (target.startsWith('/')) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)}: symlink ${JSON.stringify(join(...done, part))} points outside the image (path escapes from parent)`);
      const next = [...done];
      for (const t of target.split('/').filter((p) => p !== '' && p !== '.')) {
        if (t !== '..') next.push(t);
        else if (next.pop() === undefined) throw invalidArgument(`${FAILED}: image sub path ${JSON.stringify(sub)}: symlink ${JSON.stringify(join(...done, part))} points outside the image (path escapes from parent)`);
      }
      // Re-walk the link's target from the root: its components may be links too.
      parts.unshift(...next);
      done.length = 0;
      continue;
    }
    if (parts.length > 0 && !st.isDirectory()) throw invalidArgument(`${FAILED}: sub path ${JSON.stringify(sub)} does not exist in image volume ${JSON.stringify(image)}`);
    done.push(part);
  }
  const final = join(root, ...done);
  if (!(await lstat(final)).isDirectory()) throw invalidArgument(`${FAILED}: only directory sub paths are supported: ${JSON.stringify(sub)} in image volume ${JSON.stringify(image)} is not a directory`);
  return final;
}

/** checkImageMounts refuses image mounts that name a host path too, or are not read-only (containerd's rules). */
export function checkImageMounts(mounts: readonly Mount[]): void {
  for (const m of mounts) {
    if (!m.image) continue;
    const where = JSON.stringify(m.container_path);
    if (!m.image.image) throw invalidArgument(`${FAILED}: image mount at ${where} names no image`);
    if (m.host_path) throw invalidArgument(`${FAILED}: image mount at ${where} may not have a host_path`);
    if (!m.readonly) throw invalidArgument(`${FAILED}: image mount at ${where} must be read-only`);
  }
}

/** imageIdsOf resolves the images of a config's image mounts (NotFound when one is not pulled). */
export function imageIdsOf(images: Pick<ImagePort, 'resolveImage'>, mounts: readonly Mount[]): string[] {
  return mounts.filter((m) => m.image).map((m) => {
    try {
      return images.resolveImage(m.image!.image).id;
    } catch (e) {
      if (isKind(e, 'NotFound')) throw notFound(`${FAILED}: image ${JSON.stringify(m.image!.image)} of the mount at ${JSON.stringify(m.container_path)} is not present; pull it first`);
      throw e;
    }
  });
}

/**
 * mountImageVolumes mounts each image mount's image read-only under `<dir>/<n>` (idmapped layers with `idmap`) and resolves its sub
 * path, registering the unmounts with `rb`. `ids` are the images imageIdsOf resolved, in mount order.
 */
export async function mountImageVolumes(images: Pick<ImagePort, 'mountImageVolume' | 'unmountRootfs'>, dir: string, mounts: readonly Mount[], ids: string[], noexec: boolean, rb: Rollback, idmap?: LayerIdmap): Promise<ImageVolume[]> {
  const out: ImageVolume[] = [];
  const imageMounts = mounts.filter((m) => m.image);
  for (const [i, m] of imageMounts.entries()) {
    const containerPath = cleanPath(m.container_path ?? '', 'mount container_path');
    const target = join(dir, String(i));
    await mkdir(target, { recursive: true, mode: 0o755 });
    rb.add('unmount image volume', () => images.unmountRootfs(target));
    await images.mountImageVolume(ids[i]!, target, noexec, idmap);
    const source = m.image_sub_path ? await resolveSubPath(target, m.image_sub_path, m.image!.image) : target;
    out.push({ imageId: ids[i]!, target, containerPath, source });
  }
  return out;
}

/** statusMounts gives the CRI mounts as ContainerStatus reports them: image mounts with the host directory bound. */
export function statusMounts(mounts: readonly Mount[], volumes: readonly ImageVolume[]): Mount[] {
  let n = 0;
  return mounts.map((m) => (m.image ? { ...m, host_path: volumes[n++]?.source ?? '' } : m));
}
