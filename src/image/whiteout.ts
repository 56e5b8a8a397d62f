import { posix } from 'node:path';
import { RuntimeError } from '../errors/index.js';

/** WH is the prefix of whiteout names in a layer tar (OCI image-spec, "Whiteouts"). */
export const WH = '.wh.';
/** META is the prefix of aufs metadata names (`.wh..wh.plnk`, `.wh..wh.aufs`), which carry no file of the image. */
const META = `${WH}${WH}`;
/** OPAQUE marks its directory opaque: nothing of the layers below shows through it. */
export const OPAQUE = `${META}.opq`;

/** WhiteoutRole is what a (cleaned) layer entry name means for whiteouts. */
export type WhiteoutRole =
  | { role: 'plain' }
  /** opaque: set the opaque mark on `dir` (relative to the layer root). */
  | { role: 'opaque'; dir: string }
  /** whiteout: `target` (relative to the layer root) is deleted from the layers below. */
  | { role: 'whiteout'; target: string }
  /** meta: aufs metadata, skipped as containerd and Docker skip it. */
  | { role: 'meta' };

/** types a whiteout or opaque marker may have: an empty regular file as written, or a hard link to one. */
const MARKER_TYPES = new Set<string | null | undefined>(['file', 'contiguous-file', 'link', null, undefined]);

const malformed = (name: string, why: string) => new RuntimeError('FailedPrecondition', `layer entry ${JSON.stringify(name)} rejected: malformed whiteout: ${why}`);

/**
 * whiteoutRole classifies a layer entry by its cleaned name `rel` and tar `type`, and refuses the malformed ones
 * (FAILED_PRECONDITION naming the entry) before anything is written for them:
 * - `.wh.` alone, `.wh..` and `.wh...` name no file of the directory (the directory itself, or its parent), so
 *   they cannot be whited out; before, they made fune remove the directory or mknod outside it;
 * - a whiteout or opaque marker that is not a regular file (or a hard link): a directory, symlink, device or
 *   fifo cannot be a marker;
 * - a path through a whiteout name (`.wh.x/y`, `a/.wh..wh..opq/b`): a marker has no children (the aufs
 *   metadata directory `.wh..wh.plnk`, which holds hard link targets, stays allowed);
 * - an opaque marker at the layer root: overlayfs ignores the opaque mark on a layer's root directory, so the
 *   layers below would show through where applying the layers in order hides them.
 */
export function whiteoutRole(name: string, rel: string, type: string | null | undefined): WhiteoutRole {
  const parts = rel === '' ? [] : rel.split('/');
  for (const p of parts.slice(0, -1)) {
    if (p.startsWith(WH) && (p === OPAQUE || !p.startsWith(META))) throw malformed(name, `${JSON.stringify(p)} is a whiteout name, not a directory`);
  }
  const base = parts[parts.length - 1] ?? '';
  if (!base.startsWith(WH)) return { role: 'plain' };
  const parent = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
  if (base === OPAQUE) {
    if (!MARKER_TYPES.has(type)) throw malformed(name, `an opaque marker must be a regular file, not a ${type}`);
    if (parent === '') throw malformed(name, 'an opaque marker at the layer root cannot be honoured (overlayfs ignores it on a layer root)');
    return { role: 'opaque', dir: parent };
  }
  if (base.startsWith(META)) return { role: 'meta' };
  const victim = base.slice(WH.length);
  if (victim === '' || victim === '.' || victim === '..') throw malformed(name, `${JSON.stringify(base)} names no file`);
  if (!MARKER_TYPES.has(type)) throw malformed(name, `a whiteout must be a regular file, not a ${type}`);
  return { role: 'whiteout', target: parent ? `${parent}/${victim}` : victim };
}
