import { failedPrecondition, invalidArgument } from '../../errors/index.js';
import type { NamespaceOption } from '../../domain/cri-types.js';
import type { Namespace } from '../spec.js';

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
 * The `cgroup` namespace is new on cgroup v2 hosts.
 */
export function sandboxNamespaces(opts: NamespaceOption | null | undefined, netnsPath: string | undefined, cgroupV2: boolean): Namespace[] {
  const modes = namespaceModes(opts);
  const out: Namespace[] = [{ type: 'mount' }];
  if (!modes.hostNetwork) {
    out.push(netnsPath ? { type: 'network', path: netnsPath } : { type: 'network' });
    out.push({ type: 'uts' });
  }
  if (!modes.hostIpc) out.push({ type: 'ipc' });
  if (!modes.hostPid) out.push({ type: 'pid' });
  if (cgroupV2) out.push({ type: 'cgroup' });
  return out;
}

/** ContainerNamespaceFacts are the facts about the pod a container joins. */
export interface ContainerNamespaceFacts {
  infraPid: number;
  netnsPath?: string;
  targetPid?: number;
  cgroupV2: boolean;
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
}
