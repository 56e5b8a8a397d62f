import { failedPrecondition, invalidArgument } from '../errors/index.js';
import type { Capability } from '../domain/cri-types.js';
import type { Capabilities } from './spec.js';

/**
 * CAPABILITY_NAMES lists the Linux capabilities by number (capability(7)); index i is bit i of a /proc
 * CapBnd mask. fune refuses names outside this list.
 */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * DEFAULT_CAPABILITIES is the set an unprivileged container starts with: the same fourteen as containerd's
 * default spec (and Docker's).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * capabilitiesFromMask names the bits of a hexadecimal capability mask as read from /proc/self/status
 * (`CapBnd: 000001fffeffffff`). Bits beyond the known names are ignored. services/ uses it to fill
 * HostFacts.capabilities.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim() || '0'}`);
  return CAPABILITY_NAMES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) !== 0n);
}

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
