import { existsSync, readFileSync } from 'node:fs';

/** isSystemdBooted tells whether PID 1 is systemd, the way sd_booted(3) does: /run/systemd/system exists. */
export function isSystemdBooted(): boolean {
  return existsSync('/run/systemd/system');
}

/** CgroupMode is the cgroup layout of the host: the v1 (or hybrid) hierarchies, or the unified v2 tree. */
export type CgroupMode = 'v1' | 'v2';

/** detectCgroupMode reads the host's cgroup layout: v2 when /sys/fs/cgroup itself is the unified hierarchy. */
export function detectCgroupMode(): CgroupMode {
  return existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1';
}

/** readCapBnd gives the capability bounding set of this process as a bit mask (from /proc/self/status). */
export function readCapBnd(): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}
