import { failedPrecondition, invalidArgument } from '../../errors/index.js';
import type { IDMapping, NamespaceOption } from '../../domain/cri-types.js';
import type { IdMapping, Namespace, Spec } from '../spec.js';

/** PodNamespaceModes are the namespace modes that matter to spec building, with CRI defaults filled in. */
export interface PodNamespaceModes {
  hostNetwork: boolean;
  hostIpc: boolean;
  hostPid: boolean;
}

/** namespaceModes reads a CRI NamespaceOption (absent = every namespace is the pod's). */
export function namespaceModes(opts: NamespaceOption | null | undefined): PodNamespaceModes {
  return {
    hostNetwork: opts?.network === 'NODE',
    hostIpc: opts?.ipc === 'NODE',
    hostPid: opts?.pid === 'NODE',
  };
}

/**
 * sandboxNamespaces gives the infra container its namespaces: a new mount namespace; the pod's network
 * namespace (the pinned `netnsPath`, or a new one) unless the pod uses the host network, in which case the UTS
 * namespace is the host's too (the pod's hostname is the node's); new IPC and PID namespaces unless NODE.
 * The `cgroup` namespace is new on cgroup v2 hosts. A POD-mode pod joins its pinned user namespace (`usernsPath`),
 * which owns the network namespace; runc joins it first, so the namespaces it makes are the user namespace's too.
 */
export function sandboxNamespaces(opts: NamespaceOption | null | undefined, netnsPath: string | undefined, cgroupV2: boolean, usernsPath?: string): Namespace[] {
  const modes = namespaceModes(opts);
  const out: Namespace[] = [{ type: 'mount' }];
  if (usernsPath) out.push({ type: 'user', path: usernsPath });
  if (!modes.hostNetwork) {
    out.push(netnsPath ? { type: 'network', path: netnsPath } : { type: 'network' });
    out.push({ type: 'uts' });
  }
  if (!modes.hostIpc) out.push({ type: 'ipc' });
  if (!modes.hostPid) out.push({ type: 'pid' });
  if (cgroupV2) out.push({ type: 'cgroup' });
  return out;
}

/**
 * effectiveNamespaceOptions are a container's namespace modes given its pod's: a container of a pod on the node's
 * network, IPC or PID namespace is on it too, whatever its own config says (the kubelet repeats the pod's modes; a
 * client such as critest's host-network port-forward test does not). Joining those through the infra's
 * /proc/<pid>/ns/* would reach the same namespaces, but from inside a user namespace that does not own them (a rootless
 * node: RootlessKit makes no UTS, IPC or PID namespace) setns into them is EPERM, and runc's init dies.
 */
export function effectiveNamespaceOptions(container: NamespaceOption | null | undefined, pod: NamespaceOption | null | undefined): NamespaceOption | null | undefined {
  const p = namespaceModes(pod);
  if (!p.hostNetwork && !p.hostIpc && !p.hostPid) return container;
  const c: NamespaceOption = container ?? { network: 'POD', pid: 'POD', ipc: 'POD', target_id: '', userns_options: null };
  return {
    ...c,
    ...(p.hostNetwork ? { network: 'NODE' as const } : {}),
    ...(p.hostIpc ? { ipc: 'NODE' as const } : {}),
    ...(p.hostPid && (c.pid ?? 'POD') === 'POD' ? { pid: 'NODE' as const } : {}),
  };
}

/** ContainerNamespaceFacts are the facts about the pod a container joins. */
export interface ContainerNamespaceFacts {
  infraPid: number;
  netnsPath?: string;
  targetPid?: number;
  cgroupV2: boolean;
  /** the pod's pinned user namespace (mode POD). */
  usernsPath?: string;
}

/**
 * containerNamespaces joins the pod's namespaces through /proc/<infraPid>/ns/* (the network namespace through
 * its pinned path when there is one) and makes a new mount namespace. The PID namespace follows the mode:
 * POD joins the infra's, CONTAINER makes a new one, TARGET joins the target container's (ephemeral debug
 * containers), NODE uses the host's. NODE network also means the host's UTS namespace, and NODE IPC the host's.
 */
export function containerNamespaces(opts: NamespaceOption | null | undefined, facts: ContainerNamespaceFacts): Namespace[] {
  const modes = namespaceModes(opts);
  const proc = (pid: number, ns: string): string => `/proc/${pid}/ns/${ns}`;
  const needInfra = (): number => {
    if (!Number.isInteger(facts.infraPid) || facts.infraPid <= 0) {
      throw failedPrecondition('the pod sandbox has no running infra process whose namespaces the container could join');
    }
    return facts.infraPid;
  };
  const out: Namespace[] = [{ type: 'mount' }];
  if (facts.usernsPath) out.push({ type: 'user', path: facts.usernsPath });
  if (!modes.hostNetwork) {
    out.push({ type: 'network', path: facts.netnsPath ?? proc(needInfra(), 'net') });
    out.push({ type: 'uts', path: proc(needInfra(), 'uts') });
  }
  if (!modes.hostIpc) out.push({ type: 'ipc', path: proc(needInfra(), 'ipc') });
  switch (opts?.pid ?? 'POD') {
    case 'NODE':
      break;
    case 'CONTAINER':
      out.push({ type: 'pid' });
      break;
    case 'TARGET': {
      const target = facts.targetPid;
      if (!opts?.target_id) throw invalidArgument('pid namespace mode TARGET needs a target_id');
      if (target === undefined || !Number.isInteger(target) || target <= 0) {
        throw failedPrecondition(`target container ${opts.target_id} has no running process whose pid namespace could be joined`);
      }
      out.push({ type: 'pid', path: proc(target, 'pid') });
      break;
    }
    default:
      out.push({ type: 'pid', path: proc(needInfra(), 'pid') });
  }
  if (facts.cgroupV2) out.push({ type: 'cgroup' });
  return out;
}

/** MAX_ID is the largest valid uid/gid + 1: (uid_t)-1 is "no id" and may not be mapped. */
const MAX_ID = 0xffffffff;

/**
 * validateUserNamespace checks a pod's (or a container's) CRI UserNamespace before anything is made. Absent or
 * NODE: the host's user namespace (NODE takes no mappings). POD: a user namespace of the pod with exactly one uid
 * and one gid mapping, each mapping container id 0, of length at least 1 and ending within the 32-bit id space;
 * it is refused with FAILED_PRECONDITION where fune cannot deliver it (`supported` false: the node's features
 * do not advertise user_namespaces). CONTAINER and TARGET are not modes a user namespace can have (the kubelet
 * sends only NODE or POD) and are INVALID_ARGUMENT, as are bad mappings.
 */
export function validateUserNamespace(opts: NamespaceOption | null | undefined, supported: boolean): void {
  const u = opts?.userns_options;
  if (!u) return;
  const uids = u.uids ?? [];
  const gids = u.gids ?? [];
  switch (u.mode) {
    case 'NODE':
      if (uids.length > 0 || gids.length > 0) throw invalidArgument('user namespace mode NODE takes no uid or gid mappings');
      return;
    case 'CONTAINER':
    case 'TARGET':
      throw invalidArgument(`user namespace mode ${u.mode} is not supported (only NODE or POD)`);
    case 'POD':
      break;
    default:
      throw invalidArgument(`unknown user namespace mode ${JSON.stringify(u.mode)}`);
  }
  for (const [what, maps] of [['uid', uids], ['gid', gids]] as const) {
    if (maps.length !== 1) throw invalidArgument(`user namespace mode POD needs exactly one ${what} mapping, got ${maps.length}`);
    const m = maps[0]!;
    const [c, h, n] = [Number(m.container_id), Number(m.host_id), Number(m.length)];
    if (c !== 0) throw invalidArgument(`the ${what} mapping must map container id 0 (it starts at ${c})`);
    if (!(n >= 1)) throw invalidArgument(`the ${what} mapping has length ${n}; it must be at least 1`);
    if (h + n > MAX_ID) throw invalidArgument(`the ${what} mapping ${h}+${n} runs past the largest id ${MAX_ID - 1}`);
  }
  if (!supported) throw failedPrecondition('user namespace mode POD is not supported on this node (user_namespaces is not advertised: idmapped mounts are missing)');
  // The host's network namespace belongs to the host's user namespace: the pod's root could not mount sysfs or set
  // its sysctls there (user_namespaces_host_network is not advertised). Nor can it have the host's PID or IPC namespace.
  const host = (['network', 'pid', 'ipc'] as const).filter((k) => opts?.[k] === 'NODE');
  if (host.length > 0) throw failedPrecondition(`user namespace mode POD with the host's ${host.join(' and ')} namespace is not supported`);
}

/** PodIdMappings are a POD-mode user namespace's mappings in the OCI form (one uid and one gid range). */
export interface PodIdMappings {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/**
 * podIdMappings gives the OCI uid/gid mappings of a pod whose user namespace is mode POD (validated before:
 * validateUserNamespace), or undefined for the host's user namespace. The host ids of container id 0 are the
 * pod's root on the host: the owner its own directories and writable layers get.
 */
export function podIdMappings(opts: NamespaceOption | null | undefined): PodIdMappings | undefined {
  const u = opts?.userns_options;
  if (u?.mode !== 'POD') return undefined;
  const conv = (m: IDMapping): IdMapping => ({ containerID: Number(m.container_id), hostID: Number(m.host_id), size: Number(m.length) });
  return { uidMappings: (u.uids ?? []).map(conv), gidMappings: (u.gids ?? []).map(conv) };
}

/** rootOnHost is the host uid and gid that container id 0 maps to. */
export function rootOnHost(m: PodIdMappings): { uid: number; gid: number } {
  const at0 = (l: IdMapping[]) => l.find((x) => x.containerID === 0)?.hostID ?? 0;
  return { uid: at0(m.uidMappings), gid: at0(m.gidMappings) };
}

/**
 * withIdMappings gives a spec that joins a pod's user namespace the namespace's mappings as well: runc 1.1.5 refuses
 * a user namespace without them ("user namespaces enabled, but no mapping found") even when it joins one by path,
 * and does not write them then.
 */
export function withIdMappings(spec: Spec, userns: { mappings: PodIdMappings }): void {
  spec.linux!.uidMappings = userns.mappings.uidMappings.map((m) => ({ ...m }));
  spec.linux!.gidMappings = userns.mappings.gidMappings.map((m) => ({ ...m }));
}
