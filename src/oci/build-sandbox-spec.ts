import { capabilitySets, DEFAULT_CAPABILITIES } from './capabilities.js';
import { OCI_VERSION, type Warn } from './build-container-spec.js';
import type { SandboxSpecInput } from './input.js';
import { apparmorFor } from './opts/apparmor.js';
import { allowAllDevices, defaultDeviceRules, deviceBindMounts } from './opts/devices.js';
import { bind, cleanPath, defaultMounts, hostNamespaceBinds, overlay, writableSysfs } from './opts/mounts.js';
import { namespaceModes, sandboxNamespaces, withIdMappings } from './opts/namespaces.js';
import { DEFAULT_PATH } from './opts/process.js';
import { resolveApparmor, resolveSeccomp } from './opts/profiles.js';
import { seccompFor } from './opts/seccomp.js';
import { pathLists } from './opts/security.js';
import { podSysctls } from './opts/sysctls.js';
import { resolveIdentity } from './opts/user.js';
import type { Mount, Spec } from './spec.js';

/** INFRA_OOM_SCORE_ADJ is the infra process's score before clamping: the kubelet's for pod infrastructure. */
export const INFRA_OOM_SCORE_ADJ = -998;
/** INFRA_CPU_SHARES keeps the idle infra process from weighing on the pod's cpu share. */
export const INFRA_CPU_SHARES = 2;
/** DEFAULT_INFRA_ARGS run catatonit as a pause process that reaps the pod's orphans. */
export const DEFAULT_INFRA_ARGS: readonly string[] = ['/catatonit', '-P'];

/**
 * buildSandboxSpec gives the pod's infra container: the infra program (catatonit bind-mounted read-only from
 * the host at its args[0], or an image's entrypoint) in a read-only root, owning the pod's new network
 * (or the pinned `netnsPath`), IPC, UTS and PID namespaces unless the pod asks for the host's; the pod's
 * hostname and sysctls; the pod's /dev/shm; the pod's seccomp and AppArmor profiles; cpu shares of 2; and
 * oom_score_adj -998 clamped to what fune may set. Pure and synchronous; bad input throws a RuntimeError.
 */
export function buildSandboxSpec(input: SandboxSpecInput, warn: Warn = () => undefined): Spec {
  const { config, host } = input;
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  const modes = namespaceModes(sc?.namespace_options);
  const sysctl = podSysctls(config.linux?.sysctls, modes);

  const args = input.args.length > 0 ? [...input.args] : [...DEFAULT_INFRA_ARGS];
  const mounts: Mount[] = [];
  if (input.infraBinary) {
    const dest = cleanPath(args[0] ?? '', 'infra program');
    mounts.push({ destination: dest, type: 'bind', source: input.infraBinary, options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev'] });
  }
  if (modes.hostIpc) mounts.push(bind('/dev/shm', '/dev/shm', false));
  else if (input.shmPath) mounts.push(bind('/dev/shm', input.shmPath, false));
  const bindDevices = privileged && host.deviceNodes === 'bind' ? deviceBindMounts(host.hostDevices) : [];
  const allMounts = overlay(defaultMounts(), hostNamespaceBinds(host.hostNamespaceMounts, modes.hostPid, modes.hostIpc), mounts, bindDevices);
  if (privileged) writableSysfs(allMounts);

  const identity = resolveIdentity(
    { runAsUser: sc?.run_as_user ?? null, runAsGroup: sc?.run_as_group ?? null, supplementalGroups: sc?.supplemental_groups ?? [], supplementalGroupsPolicy: 'Strict' },
    [],
    [],
  );
  const capSet = privileged ? [...host.capabilities] : DEFAULT_CAPABILITIES.filter((c) => host.capabilities.includes(c));
  const capabilities = capabilitySets(capSet);
  const seccomp = seccompFor(
    resolveSeccomp(sc?.seccomp, sc?.seccomp_profile_path, input.seccompDefault),
    privileged,
    capabilities.bounding ?? [],
    host.arch,
    host.seccompProfiles,
  );
  const apparmorProfile = apparmorFor(resolveApparmor(sc?.apparmor, ''), privileged, host, warn);

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: identity.user,
      args,
      env: [`PATH=${DEFAULT_PATH}`],
      cwd: '/',
      capabilities,
      noNewPrivileges: true,
      oomScoreAdj: Math.max(INFRA_OOM_SCORE_ADJ, host.minOomScoreAdj),
    },
    root: { path: input.rootfs, readonly: true },
    mounts: allMounts,
    annotations: {
      ...(config.annotations ?? {}),
      'io.kubernetes.cri.container-type': 'sandbox',
      'io.kubernetes.cri.sandbox-id': input.id,
      'io.kubernetes.cri.sandbox-name': config.metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-namespace': config.metadata?.namespace ?? '',
    },
    linux: {
      resources: { devices: privileged ? allowAllDevices() : defaultDeviceRules(), cpu: { shares: INFRA_CPU_SHARES } },
      cgroupsPath: input.cgroupsPath,
      namespaces: sandboxNamespaces(sc?.namespace_options, input.netnsPath, host.cgroupMode === 'v2', input.userns?.path),
      ...pathLists(privileged, undefined, undefined),
    },
  };
  if (!modes.hostNetwork && config.hostname) spec.hostname = config.hostname;
  if (Object.keys(sysctl).length > 0) spec.linux!.sysctl = sysctl;
  if (privileged && host.hostDevices.length > 0 && bindDevices.length === 0) spec.linux!.devices = [...host.hostDevices];
  if (seccomp) spec.linux!.seccomp = seccomp;
  if (apparmorProfile) spec.process!.apparmorProfile = apparmorProfile;
  if (input.userns) withIdMappings(spec, input.userns);
  return spec;
}
