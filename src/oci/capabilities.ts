import { failedPrecondition, invalidArgument } from '../errors/index.js';
import type { Capability } from '../domain/cri-types.js';
import type { Capabilities } from './spec.js';
import { CAPABILITY_NAMES } from '../domain/capabilities.js';

export { CAPABILITY_NAMES, capabilitiesFromMask } from '../domain/capabilities.js';

/**
 * DEFAULT_CAPABILITIES is the set an unprivileged container starts with: the same fourteen as containerd's
 * default spec (and Docker's).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** normalizeCapability turns "sys_admin", "SYS_ADMIN" or "CAP_SYS_ADMIN" into "CAP_SYS_ADMIN"; unknown names are InvalidArgument. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAPABILITY_NAMES.includes(full)) throw invalidArgument(`unknown capability ${JSON.stringify(name)}`);
  return full;
}

const isAll = (name: string): boolean => name.trim().toUpperCase() === 'ALL';

/**
 * resolveCapabilities applies the CRI add/drop lists to the default set, in containerd's order: `ALL` in add
 * gives every capability fune holds, `ALL` in drop clears the set, then single names are added, then single
 * names are dropped (so add ALL + drop X is everything but X, and drop ALL + add X is only X). Asking for a
 * capability that fune itself lacks is FailedPrecondition: runc could not grant it.
 */
export function resolveCapabilities(caps: Capability | null | undefined, hostCaps: readonly string[]): string[] {
  const add = caps?.add_capabilities ?? [];
  const drop = caps?.drop_capabilities ?? [];
  let set = new Set<string>(DEFAULT_CAPABILITIES.filter((c) => hostCaps.includes(c)));
  if (add.some(isAll)) set = new Set(hostCaps);
  if (drop.some(isAll)) set.clear();
  for (const name of add.filter((n) => !isAll(n))) {
    const cap = normalizeCapability(name);
    if (!hostCaps.includes(cap)) {
      throw failedPrecondition(`capability ${cap} cannot be granted: fune does not hold it (not in its bounding set)`);
    }
    set.add(cap);
  }
  for (const name of drop.filter((n) => !isAll(n))) set.delete(normalizeCapability(name));
  return CAPABILITY_NAMES.filter((c) => set.has(c));
}

/**
 * capabilitySets builds the OCI process capabilities: the set is bounding, effective and permitted; inheritable
 * stays empty (CVE-2022-24769) except for ambient capabilities, which must be in every set.
 */
export function capabilitySets(set: readonly string[], ambient: readonly string[] = []): Capabilities {
  const all = CAPABILITY_NAMES.filter((c) => set.includes(c) || ambient.includes(c));
  const amb = CAPABILITY_NAMES.filter((c) => ambient.includes(c));
  const out: Capabilities = { bounding: all, effective: all, permitted: all };
  if (amb.length > 0) {
    out.inheritable = amb;
    out.ambient = amb;
  }
  return out;
}
