import { invalidArgument } from '../../errors/index.js';
import type { PodNamespaceModes } from './namespaces.js';

/**
 * normalizeSysctlName turns the slash form (`net/ipv4/ip_forward`, or `a/b.c/d` where the dot is part of a
 * name) into the dotted form, as the kubelet's own normalisation does: separators and dots swap roles.
 */
export function normalizeSysctlName(name: string): string {
  const firstSlash = name.indexOf('/');
  const firstDot = name.indexOf('.');
  if (firstSlash === -1 || (firstDot !== -1 && firstDot < firstSlash)) return name;
  return [...name].map((c) => (c === '/' ? '.' : c === '.' ? '/' : c)).join('');
}

/**
 * validSysctlName checks a name in dotted form: at least two parts, none empty (so no `..`, no leading or trailing
 * dot), the first a plain word; a `/` inside a later part stands for a dot in that file name (`eno2/100` is the
 * interface eno2.100, as the kubelet writes it) and may only join two non-empty words, so no part can stand for
 * the file names `.` or `..`.
 */
export function validSysctlName(name: string): boolean {
  const parts = name.split('.');
  if (parts.length < 2 || !/^[a-z0-9_]+$/.test(parts[0]!)) return false;
  return parts.slice(1).every((p) => /^[a-zA-Z0-9_-]+(\/[a-zA-Z0-9_-]+)*$/.test(p));
}

const IPC_SYSCTL = /^(kernel\.shm[a-z_]*|kernel\.msg[a-z_]*|kernel\.sem|fs\.mqueue\..+)$/;

/**
 * podSysctls checks the pod's sysctls and gives them in dotted form. A sysctl is allowed only where it
 * changes a namespace of the pod, never the host: `net.*` needs the pod's own network namespace (this
 * includes the safe `net.ipv4.ip_unprivileged_port_start`); `kernel.shm*`, `kernel.msg*`, `kernel.sem` and
 * `fs.mqueue.*` need the pod's own IPC namespace. Anything else is InvalidArgument.
 */
export function podSysctls(sysctls: Record<string, string> | null | undefined, modes: PodNamespaceModes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(sysctls ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const name = normalizeSysctlName(rawName.trim());
    if (!validSysctlName(name)) throw invalidArgument(`invalid sysctl name ${JSON.stringify(rawName)}: it needs dot-separated parts, none of them empty, "." or ".."`);
    if (/[\n\0]/.test(value)) throw invalidArgument(`invalid value for sysctl ${name}`);
    if (name.startsWith('net.')) {
      if (modes.hostNetwork) throw invalidArgument(`sysctl ${name} needs the pod's own network namespace, but the pod uses the host network`);
    } else if (IPC_SYSCTL.test(name)) {
      if (modes.hostIpc) throw invalidArgument(`sysctl ${name} needs the pod's own IPC namespace, but the pod uses the host IPC namespace`);
    } else {
      throw invalidArgument(`sysctl ${name} is not namespaced: setting it would change the whole host`);
    }
    out[name] = value;
  }
  return out;
}
