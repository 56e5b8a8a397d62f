// AppArmor on the node: fune's own RuntimeDefault profile (its text, and loading it into the kernel with the
// apparmor_parser found on PATH), and the kernel's list of loaded profiles that Localhost requests are checked against.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { ProcessRunner } from './process-runner.js';

/** DEFAULT_APPARMOR_PROFILE is the name under which fune loads its RuntimeDefault profile. */
export const DEFAULT_APPARMOR_PROFILE = 'fune-default';

/** APPARMOR_FS is where the kernel shows AppArmor's state (securityfs). */
export const APPARMOR_FS = '/sys/kernel/security/apparmor';

/**
 * defaultProfileText is fune's RuntimeDefault policy. It is self-contained (no #include: a node need not ship
 * /etc/apparmor.d's abstractions) and aims at what a container runtime's default is for: the workload may do what a
 * process in a container normally does (files of its own root, network, the capabilities it was given), but not
 * reach the host's kernel knobs through /proc and /sys, mount, or trace and signal processes outside the container.
 * The masked and read-only paths runc sets up do most of that already; the profile holds even where a container was
 * given CAP_SYS_ADMIN (which would let it remount those) or a writable /sys.
 */
export function defaultProfileText(name = DEFAULT_APPARMOR_PROFILE): string {
  return `# fune's RuntimeDefault AppArmor profile, loaded by fune at start (apparmor_parser -r). Do not edit: fune
# replaces it on every start.
profile ${name} flags=(attach_disconnected,mediate_deleted) {
  # What a container's processes normally need.
  file,
  network,
  capability,
  umount,

  # Signals: from the runtime, conmon and the kubelet (unconfined), and among the container's own processes.
  signal (receive) peer=unconfined,
  signal (send,receive) peer=${name},
  # ptrace only between processes under this same profile (a debugger inside the container).
  ptrace (trace,read,tracedby,readby) peer=${name},

  # No new mounts, whatever capabilities the container holds.
  deny mount,
  deny pivot_root,

  # /proc: the container's own processes (/proc/<pid>/...) and /proc/sys/kernel/shm* (IPC sysctls of its own
  # namespace) stay writable; the host-wide files directly under /proc, and the rest of /proc/sys, are not.
  deny /proc/* w,
  deny /proc/{[^0-9s]*,s[^y]*,sy[^s]*,sys?*}/** w,
  deny /proc/sys/[^k]** w,
  deny /proc/sys/kernel/{?,??,[^s][^h][^m]**} w,
  deny /proc/sysrq-trigger rwklx,
  deny /proc/kcore rwklx,

  # /sys: nothing may be written but the cgroup tree (/sys/fs/cgroup); firmware, power capping and the security
  # filesystem (AppArmor's own controls among them) may not even be read.
  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/devices/virtual/powercap/** rwklx,
  deny /sys/kernel/security/** rwklx,
}
`;
}

/**
 * findOnPath finds an executable `name` in the directories of PATH (the daemon's environment), as a shell would;
 * undefined when there is none. No fixed path: distributions put apparmor_parser in /sbin, /usr/sbin or elsewhere.
 */
export function findOnPath(name: string, pathEnv: string): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      if (existsSync(p) && statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0) return p;
    } catch {
      // unreadable directory: try the next
    }
  }
  return undefined;
}

/**
 * parseLoadedProfiles reads the kernel's `profiles` file: one `<name> (<mode>)` a line. A name may hold spaces,
 * so the mode is cut at the last ` (`.
 */
export function parseLoadedProfiles(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.lastIndexOf(' (');
    if (at <= 0 || !line.endsWith(')')) continue;
    out.set(line.slice(0, at), line.slice(at + 2, -1));
  }
  return out;
}

/** loadedProfiles gives the profiles loaded in the kernel (name → mode), empty when AppArmor's fs is not there. */
export async function loadedProfiles(fs = APPARMOR_FS): Promise<Map<string, string>> {
  return parseLoadedProfiles(await readFile(join(fs, 'profiles'), 'utf8').catch(() => ''));
}

/** LoadResult says how loading the default profile went: the profile's name, or why there is none. */
export type LoadResult = { profile: string } | { profile?: undefined; why: string };

/**
 * loadDefaultProfile loads (or replaces) fune's RuntimeDefault profile with the apparmor_parser on PATH, reading the
 * policy from stdin (-r replace, -K no cache: the text is small and the cache directory may not be writable), and
 * checks that the kernel lists it afterwards. Never throws: a node that cannot load it runs RuntimeDefault
 * containers without a profile (as before), and the caller logs why.
 */
export async function loadDefaultProfile(o: { runner: ProcessRunner; pathEnv: string; name?: string; fs?: string }): Promise<LoadResult> {
  const name = o.name ?? DEFAULT_APPARMOR_PROFILE;
  const parser = findOnPath('apparmor_parser', o.pathEnv);
  if (!parser) return { why: 'apparmor_parser is not on PATH' };
  const r = await o.runner.run(parser, ['-Kr'], { input: defaultProfileText(name), timeoutMs: 120_000 }).catch((e: Error) => e);
  if (r instanceof Error) return { why: `${parser} could not be run: ${r.message}` };
  if (r.code !== 0) return { why: `${parser} -Kr exited with ${r.code ?? r.signal}: ${r.stderr.toString().trim()}` };
  const mode = (await loadedProfiles(o.fs)).get(name);
  if (!mode) return { why: `${parser} exited 0 but the kernel does not list the profile ${name}` };
  return { profile: name };
}
