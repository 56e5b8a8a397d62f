import { posix } from 'node:path';
import { invalidArgument } from '../errors/index.js';
import type { ContainerConfig, PodSandboxConfig } from '../domain/cri-types.js';
import { cleanPath } from './opts/mounts.js';
import { resolveApparmor, resolveSeccomp } from './opts/profiles.js';

/**
 * Path-like fields of a CreateContainer request, checked before anything is made: every host path fune would
 * open, create or hand to conmon and runc is absolute and stays inside the place it belongs to. The rules (see
 * the README's Security section):
 * - `log_path` joined to the pod's `log_directory` and cleaned stays strictly inside that directory (conmon would
 *   otherwise create the file wherever a `..` leads); neither has a control character or a `:` (conmon reads
 *   `k8s-file:PATH` and cuts the path at the next colon, so it would write another file than the one reported);
 * - a mount's `host_path` is absolute (a relative one would be resolved against the daemon's working directory,
 *   and created there); its `container_path` is absolute without `..` (as spec building requires);
 * - a device's `host_path` and `container_path` are absolute;
 * - Localhost seccomp profiles are absolute paths, AppArmor profile names have no control characters.
 */

/** hasControlChar tells whether `s` holds a C0 control character (newline, NUL, tab, …) or DEL. */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** checkLogDirectory refuses a pod log directory that is not absolute, or that conmon could not be given. */
export function checkLogDirectory(dir: string): void {
  if (dir === '') return;
  if (!dir.startsWith('/')) throw invalidArgument(`log_directory ${JSON.stringify(dir)} is not an absolute path`);
  if (hasControlChar(dir) || dir.includes(':')) throw invalidArgument(`log_directory ${JSON.stringify(dir)} may not contain control characters or ":"`);
}

/**
 * containerLogPath gives the host path of a container's log: `log_path` joined to the pod's `log_directory`
 * and cleaned, which must name a file strictly inside the directory; "" when either is empty (no log).
 */
export function containerLogPath(logDirectory: string, logPath: string): string {
  if (!logDirectory || !logPath) return '';
  checkLogDirectory(logDirectory);
  if (hasControlChar(logPath) || logPath.includes(':')) throw invalidArgument(`log_path ${JSON.stringify(logPath)} may not contain control characters or ":"`);
  const base = posix.normalize(logDirectory).replace(/(.)\/+$/, '$1');
  const full = posix.join(base, logPath).replace(/(.)\/+$/, '$1');
  const inside = base === '/' ? full !== '/' : full.startsWith(`${base}/`);
  if (!inside) throw invalidArgument(`log_path ${JSON.stringify(logPath)} does not name a file inside the pod's log_directory ${JSON.stringify(logDirectory)} (it leads to ${JSON.stringify(full)})`);
  return full;
}

function absoluteHostPath(path: string, what: string): void {
  if (!path.startsWith('/')) throw invalidArgument(`${what} ${JSON.stringify(path)} is not an absolute path`);
  if (path.includes('\0')) throw invalidArgument(`${what} ${JSON.stringify(path)} may not contain a NUL character`);
}

/**
 * validateContainerFields checks the path-like fields of a container config (see the rules above) and gives the
 * container's log path; it throws InvalidArgument, before any side effect.
 */
export function validateContainerFields(config: ContainerConfig, pod: PodSandboxConfig): string {
  const logPath = containerLogPath(pod.log_directory ?? '', config.log_path ?? '');
  for (const m of config.mounts ?? []) {
    cleanPath(m.container_path ?? '', 'mount container_path');
    if (m.image?.image) continue; // an image volume has no host path (its sub path is walked inside the image)
    if (!m.host_path) throw invalidArgument(`mount at ${JSON.stringify(m.container_path)} has no host_path`);
    absoluteHostPath(m.host_path, 'mount host_path');
  }
  for (const d of config.devices ?? []) {
    absoluteHostPath(d.host_path ?? '', 'device host_path');
    if (d.container_path) cleanPath(d.container_path, 'device container_path');
  }
  const sc = config.linux?.security_context;
  const psc = pod.linux?.security_context;
  resolveSeccomp(sc?.seccomp, sc?.seccomp_profile_path, false);
  resolveSeccomp(psc?.seccomp, psc?.seccomp_profile_path, false);
  for (const p of [resolveApparmor(sc?.apparmor, sc?.apparmor_profile), resolveApparmor(psc?.apparmor, undefined)]) {
    if (p.kind === 'Localhost' && hasControlChar(p.ref)) throw invalidArgument(`AppArmor profile ${JSON.stringify(p.ref)} may not contain control characters`);
  }
  return logPath;
}
