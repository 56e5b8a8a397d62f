import { chmod, mkdir } from 'node:fs/promises';
import type { Logger } from '../log/index.js';
import { PRIVATE_DIR_MODE, tightenTree, type TightenRule } from '../sys/private-fs.js';

/**
 * Who may reach what under `root` and `state` (README, Security: "Local users get nothing"). Everything that
 * holds container or image content is root's alone: directories 0700, files 0600. The exceptions, and why:
 *
 * - `state` itself is 0711: it holds the CRI socket (0660, for the members of its group) and the admin socket
 *   (0600); the execute bit lets a path to a socket be followed, not the directory be listed.
 * - Image and container content keeps the modes the image gave it, below 0700 directories: a layer's `diff`, a
 *   writable layer's `upper` and `work`, the empty lower layer, a mounted container or pod rootfs, image volumes.
 *   Their root directory's mode is the container's `/` (0755 for non-root processes inside).
 * - A pod's `hosts`, `resolv.conf` and `hostname` stay 0644 and its `shm` tmpfs 1777: the container's own
 *   (possibly non-root) user reads and writes them through the bind mounts; the pod directory above is 0700.
 * - runc's state below `<state>/runc` keeps runc's own modes (runc makes its per-container directories 0711);
 *   files conmon and runc write (pid files, conmon.log, exit files, runc logs) keep theirs; each sits in a 0700
 *   directory.
 * - Network namespace files (nsfs bind mounts, 0444) are left alone in their 0700 directory.
 * - `userns` is 0711 like `state`: a pod with its own user namespace (mode POD) has there a directory of its own,
 *   0700 and owned by the pod's root on the host (another local user passes neither), holding what runc, running
 *   as that root, opens by path (rootfs mount points, the pod's files and shm, idmapped volumes); the pinned user
 *   namespaces are in `userns/ns`, 0700 (runtime/user-namespaces.ts). Those directories keep their modes.
 */

/** STATE_MODE is the state directory's mode: traversable to reach the sockets, not listable. */
export const STATE_MODE = 0o711;

const match = (rel: readonly string[], pattern: readonly string[]): boolean =>
  rel.length === pattern.length && pattern.every((p, i) => p === '*' || p === rel[i]);

const ROOT_CONTENT = [['image', 'layers', '*', 'diff'], ['image', 'rootfs', '*', 'upper'], ['image', 'rootfs', '*', 'work'], ['image', 'empty']];
const STATE_CONTENT = [['containers', '*', 'rootfs'], ['containers', '*', 'volumes'], ['pods', '*', 'rootfs'], ['pods', '*', 'shm'], ['runc', '*'], ['userns', '*']];
const STATE_SHARED_FILES = [['pods', '*', 'hosts'], ['pods', '*', 'resolv.conf'], ['pods', '*', 'hostname']];

/** rootRule and stateRule are the exceptions above as rules for tightenTree. */
export const rootRule: TightenRule = (rel) => (ROOT_CONTENT.some((p) => match(rel, p)) ? 'skip' : undefined);
export const stateRule: TightenRule = (rel) =>
  STATE_CONTENT.some((p) => match(rel, p)) ? 'skip' : STATE_SHARED_FILES.some((p) => match(rel, p)) || match(rel, ['userns']) ? 'keep' : undefined;

/** makeStateDirs makes `root` (0700) and `state` (0711), tightening them when an older fune made them looser. */
export async function makeStateDirs(root: string, state: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: PRIVATE_DIR_MODE });
  await mkdir(state, { recursive: true, mode: STATE_MODE });
  await chmod(root, PRIVATE_DIR_MODE);
  await chmod(state, STATE_MODE);
}

/**
 * tightenState is the upgrade path, run at every start before recovery: what an older fune made 0755/0711/0644
 * under `root` and `state` becomes 0700/0600, but for the exceptions above.
 */
export async function tightenState(root: string, state: string, log: Logger): Promise<void> {
  const started = Date.now();
  const [r, s] = await Promise.all([tightenTree(root, rootRule), tightenTree(state, stateRule)]);
  const changed = [...r.changed, ...s.changed];
  const fields = { seen: r.seen + s.seen, changed: changed.length, durationMs: Date.now() - started };
  if (changed.length > 0) log.info({ ...fields, examples: changed.slice(0, 5) }, 'tightened permissions under root and state (made by an older fune)');
  else log.debug(fields, 'permissions under root and state are tight');
}
