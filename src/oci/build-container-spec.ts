import { failedPrecondition, invalidArgument } from '../errors/index.js';
import { capabilitySets, normalizeCapability, resolveCapabilities } from './capabilities.js';
import type { ContainerSpecInput } from './input.js';
import { apparmorFor } from './opts/apparmor.js';
import { allowAllDevices, criDevices, defaultDeviceRules, deviceBindMounts } from './opts/devices.js';
import { bind, criMounts, defaultMounts, hostNamespaceBinds, overlay, writableSysfs } from './opts/mounts.js';
import { containerNamespaces, effectiveNamespaceOptions, namespaceModes, withIdMappings } from './opts/namespaces.js';
import { containerArgs, criEnv, mergeEnv, workingDir } from './opts/process.js';
import { resolveApparmor, resolveSeccomp } from './opts/profiles.js';
import { oomScoreAdj, resourcesToOci } from './opts/resources.js';
import { seccompFor } from './opts/seccomp.js';
import { pathLists } from './opts/security.js';
import { resolveIdentity } from './opts/user.js';
import type { Device, Mount, Spec } from './spec.js';

/** OCI_VERSION is the runtime-spec version fune's config.json files declare. */
export const OCI_VERSION = '1.0.2-dev';

/** Warn receives the notes spec building has for the log (requests ignored on this host). */
export type Warn = (message: string) => void;

/** podFileMounts binds the pod's shared files, unless a CRI mount already covers them. */
function podFileMounts(input: ContainerSpecInput, hostIpc: boolean, readonly: boolean): Mount[] {
  const { sandbox } = input;
  const out: Mount[] = [];
  const extra = input.host.podFileBindOptions ?? [];
  const file = (dest: string, source: string | undefined): void => {
    if (!source) return;
    const m = bind(dest, source, readonly);
    out.push(extra.length ? { ...m, options: [...(m.options ?? []), ...extra] } : m);
  };
  file('/etc/hostname', sandbox.hostnamePath);
  file('/etc/hosts', sandbox.hostsPath);
  file('/etc/resolv.conf', sandbox.resolvPath);
  if (hostIpc) out.push(bind('/dev/shm', '/dev/shm', false));
  else if (sandbox.shmPath) out.push(bind('/dev/shm', sandbox.shmPath, false));
  return out;
}

function mergeDevices(...lists: Device[][]): Device[] {
  const byPath = new Map<string, Device>();
  for (const d of lists.flat()) byPath.set(d.path, d);
  return [...byPath.values()];
}

/**
 * buildContainerSpec turns a CRI container config, with the image config, the pod's facts and the host's
 * facts gathered beforehand, into the OCI runtime spec runc runs. It is pure and synchronous, and checks
 * everything before returning: bad input throws a RuntimeError (InvalidArgument, or FailedPrecondition for what
 * this host cannot do) and nothing has been created yet. `warn` gets notes about requests ignored here.
 */
export function buildContainerSpec(input: ContainerSpecInput, warn: Warn = () => undefined): Spec {
  const { config, image, sandbox, host } = input;
  const linux = config.linux ?? null;
  const sc = linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  if (privileged && !(sandbox.config.linux?.security_context?.privileged ?? false)) {
    throw invalidArgument('a privileged container cannot run in a pod sandbox that is not privileged');
  }
  const nsOptions = effectiveNamespaceOptions(sc?.namespace_options, sandbox.config.linux?.security_context?.namespace_options);
  const modes = namespaceModes(nsOptions);

  const identity = resolveIdentity(
    {
      runAsUser: sc?.run_as_user ?? null,
      runAsUsername: sc?.run_as_username ?? '',
      runAsGroup: sc?.run_as_group ?? null,
      supplementalGroups: sc?.supplemental_groups ?? [],
      supplementalGroupsPolicy: sc?.supplemental_groups_policy ?? 'Merge',
      imageUser: image.user ?? '',
    },
    input.passwd,
    input.group,
  );

  const capSet = privileged ? [...host.capabilities] : resolveCapabilities(sc?.capabilities, host.capabilities);
  const ambient = (sc?.capabilities?.add_ambient_capabilities ?? []).map(normalizeCapability);
  for (const cap of ambient) {
    if (!host.capabilities.includes(cap)) throw failedPrecondition(`ambient capability ${cap} cannot be granted: fune does not hold it`);
  }
  const capabilities = capabilitySets(capSet, ambient);

  const seccomp = seccompFor(
    resolveSeccomp(sc?.seccomp, sc?.seccomp_profile_path, input.seccompDefault),
    privileged,
    capabilities.bounding ?? [],
    host.arch,
    host.seccompProfiles,
  );
  const apparmorProfile = apparmorFor(resolveApparmor(sc?.apparmor, sc?.apparmor_profile), privileged, host, warn);

  const resources = resourcesToOci(linux?.resources, host);
  const oom = oomScoreAdj(linux?.resources, host.minOomScoreAdj);

  const requested = criDevices(config.devices ?? [], host.resolvedDevices);
  const devices = privileged ? mergeDevices(host.hostDevices, requested.devices) : requested.devices;
  const deviceRules = privileged ? allowAllDevices() : [...defaultDeviceRules(), ...requested.rules];

  const readonlyRootfs = sc?.readonly_rootfs ?? false;
  const cri = criMounts(config.mounts ?? [], host.resolvedMountSources, host.recursiveReadOnlyMounts ?? false, input.imageVolumes);
  const bindDevices = host.deviceNodes === 'bind' ? deviceBindMounts(devices, requested.sources) : [];
  const mounts = overlay(defaultMounts(), hostNamespaceBinds(host.hostNamespaceMounts, modes.hostPid, modes.hostIpc), podFileMounts(input, modes.hostIpc, readonlyRootfs), cri.mounts, bindDevices);
  if (privileged) writableSysfs(mounts);

  const namespaces = containerNamespaces(nsOptions, {
    infraPid: sandbox.infraPid,
    ...(sandbox.netnsPath ? { netnsPath: sandbox.netnsPath } : {}),
    ...(input.targetPid !== undefined ? { targetPid: input.targetPid } : {}),
    cgroupV2: host.cgroupMode === 'v2',
    ...(sandbox.userns ? { usernsPath: sandbox.userns.path } : {}),
  });

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty ?? false,
      user: identity.user,
      args: containerArgs(config, image),
      env: mergeEnv([[`HOSTNAME=${sandbox.hostname}`], image.env ?? [], criEnv(config)], identity.home),
      cwd: workingDir(config, image),
      capabilities,
      noNewPrivileges: sc?.no_new_privs ?? false,
      oomScoreAdj: oom,
    },
    root: { path: input.rootfs, readonly: readonlyRootfs },
    mounts,
    annotations: {
      ...(config.annotations ?? {}),
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-id': sandbox.id,
    },
    linux: {
      resources: { devices: deviceRules, ...resources },
      cgroupsPath: input.cgroupsPath,
      namespaces,
      ...pathLists(privileged, sc?.masked_paths, sc?.readonly_paths),
    },
  };
  if (apparmorProfile) spec.process!.apparmorProfile = apparmorProfile;
  if (devices.length > 0 && bindDevices.length === 0) spec.linux!.devices = devices;
  if (seccomp) spec.linux!.seccomp = seccomp;
  if (cri.rootfsPropagation) spec.linux!.rootfsPropagation = cri.rootfsPropagation;
  if (sandbox.userns) withIdMappings(spec, sandbox.userns);
  return spec;
}
