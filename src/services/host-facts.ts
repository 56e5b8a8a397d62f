import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerConfig, PodSandboxConfig, SecurityProfile } from '../domain/cri-types.js';
import { nodeRulesOf, type NodeFacts } from '../domain/node.js';
import { featuresOf } from '../domain/features.js';
import type { HostFacts } from '../oci/input.js';
import type { Device } from '../oci/spec.js';
import { localhostSeccompPath } from '../oci/index.js';
import { resolveApparmor } from '../oci/opts/profiles.js';
import { loadedProfiles } from '../sys/apparmor.js';
import { invalidArgument, isErrno } from '../errors/index.js';

/** BaseHostFacts are the host facts that do not depend on a request; gathered once at start-up. */
export type BaseHostFacts = Omit<HostFacts, 'resolvedDevices' | 'seccompProfiles' | 'resolvedMountSources' | 'hostDevices'>;

/** baseFactsOf gives the request-independent host facts spec building reads, from the node facts probed at start. */
export function baseFactsOf(node: NodeFacts, apparmorDefaultProfile?: string): BaseHostFacts {
  const rules = nodeRulesOf(node);
  return {
    ...(rules.apparmor && apparmorDefaultProfile ? { apparmorDefaultProfile } : {}),
    cgroupMode: node.cgroup.mode, capabilities: node.capabilities, minOomScoreAdj: rules.minOomScoreAdj,
    apparmorEnabled: rules.apparmor, deviceNodes: rules.hostDevices,
    ...(rules.hostNamespaceMounts === 'bind' ? { hostNamespaceMounts: rules.hostNamespaceMounts } : {}),
    ...(rules.podFileBindOptions.length ? { podFileBindOptions: rules.podFileBindOptions } : {}),
    ...(rules.delegatedControllers ? { delegatedControllers: rules.delegatedControllers } : {}), swapAccounting: node.swapAccounting, hugepageSizes: node.hugepageSizes, arch: node.arch,
    recursiveReadOnlyMounts: featuresOf(node).recursiveReadOnlyMounts,
    userNamespaces: featuresOf(node).userNamespaces,
    onlineCpus: node.cpus, onlineMems: node.mems,
  };
}

/** deviceOf stats a device node and gives its OCI description, or undefined when it is not a device. */
export async function deviceOf(hostPath: string, containerPath = hostPath): Promise<Device | undefined> {
  const st = await stat(hostPath);
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  const rdev = st.rdev;
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return { type, path: containerPath, major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** listHostDevices walks /dev (not pts, shm, mqueue) for privileged containers. */
export async function listHostDevices(dir = '/dev', depth = 0): Promise<Device[]> {
  const out: Device[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < 3 && !['pts', 'shm', 'mqueue', 'fd'].includes(e.name)) out.push(...(await listHostDevices(p, depth + 1)));
    } else if (e.isCharacterDevice() || e.isBlockDevice()) {
      if (p === '/dev/console') continue;
      const d = await deviceOf(p).catch(() => undefined);
      if (d) out.push(d);
    }
  }
  return out;
}

/**
 * gatherContainerFacts completes the base facts for one container: its devices resolved, Localhost seccomp
 * profiles read, bind-mount sources resolved through symlinks (a missing source directory is created, as
 * containerd does), host devices when privileged. Bad input (an absent device) is InvalidArgument.
 */
export async function gatherContainerFacts(base: BaseHostFacts, config: ContainerConfig, pod: PodSandboxConfig): Promise<HostFacts> {
  const resolvedDevices: Record<string, Device> = {};
  for (const d of config.devices ?? []) {
    try {
      const dev = await deviceOf(d.host_path, d.container_path);
      if (dev) resolvedDevices[d.host_path] = dev;
      else throw invalidArgument(`device ${JSON.stringify(d.host_path)} is not a device node`);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) throw invalidArgument(`device ${JSON.stringify(d.host_path)} does not exist`);
      throw e;
    }
  }
  const resolvedMountSources: Record<string, string> = {};
  for (const m of config.mounts ?? []) {
    if (!m.host_path) continue;
    try {
      resolvedMountSources[m.host_path] = await realpath(m.host_path);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      await mkdir(m.host_path, { recursive: true });
      resolvedMountSources[m.host_path] = await realpath(m.host_path);
    }
  }
  const seccompProfiles: Record<string, string> = {};
  const sc = config.linux?.security_context;
  for (const p of [localhostSeccompPath(sc?.seccomp, sc?.seccomp_profile_path), localhostSeccompPath(pod.linux?.security_context?.seccomp, pod.linux?.security_context?.seccomp_profile_path)]) {
    if (!p) continue;
    const t = await readFile(p, 'utf8').catch(() => undefined);
    if (t !== undefined) seccompProfiles[p] = t;
  }
  const hostDevices = sc?.privileged ? await listHostDevices() : [];
  return { ...base, resolvedDevices, resolvedMountSources, seccompProfiles, hostDevices };
}

/** gatherSandboxFacts completes the base facts for a pod's infra container. */
export async function gatherSandboxFacts(base: BaseHostFacts, pod: PodSandboxConfig): Promise<HostFacts> {
  const seccompProfiles: Record<string, string> = {};
  const sc = pod.linux?.security_context;
  const p = localhostSeccompPath(sc?.seccomp, sc?.seccomp_profile_path);
  if (p) {
    const t = await readFile(p, 'utf8').catch(() => undefined);
    if (t !== undefined) seccompProfiles[p] = t;
  }
  const hostDevices = sc?.privileged ? await listHostDevices() : [];
  return { ...base, resolvedDevices: {}, resolvedMountSources: {}, seccompProfiles, hostDevices };
}

/**
 * checkApparmorLoaded refuses, before anything is made, a Localhost AppArmor profile that the kernel has not loaded
 * (runc would only fail at StartContainer, with the container half made): InvalidArgument naming the profile, as a
 * Localhost seccomp file that is not there. Privileged containers get no profile, and a node without AppArmor ignores
 * the request (with the warning spec building gives), so neither is checked. `fs` is AppArmor's securityfs (tests).
 */
export async function checkApparmorLoaded(
  base: Pick<BaseHostFacts, 'apparmorEnabled'>,
  sc: { apparmor?: SecurityProfile | null; apparmor_profile?: string; privileged?: boolean } | null | undefined,
  fs?: string,
): Promise<void> {
  if (!base.apparmorEnabled || sc?.privileged) return;
  const p = resolveApparmor(sc?.apparmor, sc?.apparmor_profile);
  if (p.kind !== 'Localhost') return;
  if (!(await loadedProfiles(fs)).has(p.ref)) {
    throw invalidArgument(`AppArmor profile ${JSON.stringify(p.ref)} not found: the kernel has no such profile loaded (load it with apparmor_parser before using localhost/${p.ref})`);
  }
}

/**
 * checkSysctlsOffered refuses, before anything is made, the network sysctls that the kernel does not offer to a
 * network namespace owned by a user namespace (rootless: net.core.somaxconn, netfilter's, and more are hidden there,
 * and runc would fail at start with "no such file"). fune's own network namespace is one of those, so /proc/sys
 * shows what a pod's will (and which are read-only there); per-interface entries are looked up as the `default` template, since the pod's
 * interfaces are not fune's. InvalidArgument names the sysctl.
 */
export async function checkSysctlsOffered(sysctls: Record<string, string>, procSys = '/proc/sys'): Promise<void> {
  for (const name of Object.keys(sysctls)) {
    if (!name.startsWith('net.')) continue;
    const parts = name.split('.');
    if ((parts[1] === 'ipv4' || parts[1] === 'ipv6') && (parts[2] === 'conf' || parts[2] === 'neigh') && parts.length > 4) parts[3] = 'default';
    const path = join(procSys, ...parts.map((p) => p.replace(/\//g, '.')));
    const st = await stat(path).catch(() => undefined);
    if (!st) throw invalidArgument(`sysctl ${name} cannot be set on this rootless node: the kernel does not offer it to a network namespace that a user namespace owns`);
    // Offered read-only: conntrack's entries appear in fune's namespace once a bridge network's masquerade or portmap
    // uses conntrack there, but outside the initial network namespace the kernel makes most of them 0444.
    if ((st.mode & 0o222) === 0) throw invalidArgument(`sysctl ${name} cannot be set on this rootless node: the kernel offers it read-only to a network namespace that a user namespace owns`);
  }
}
