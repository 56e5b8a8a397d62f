/**
 * DEFAULT_MASKED_PATHS are hidden from unprivileged containers (the list the kubelet and containerd use).
 */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

/** DEFAULT_READONLY_PATHS are read-only in unprivileged containers. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * pathLists gives masked and read-only paths: none for privileged containers, else the CRI's lists when
 * given (the kubelet sends its defaults for the Default proc mount), else fune's defaults.
 */
export function pathLists(privileged: boolean, masked: readonly string[] | undefined, readonly: readonly string[] | undefined): { maskedPaths: string[]; readonlyPaths: string[] } {
  if (privileged) return { maskedPaths: [], readonlyPaths: [] };
  return {
    maskedPaths: masked && masked.length > 0 ? [...masked] : [...DEFAULT_MASKED_PATHS],
    readonlyPaths: readonly && readonly.length > 0 ? [...readonly] : [...DEFAULT_READONLY_PATHS],
  };
}
