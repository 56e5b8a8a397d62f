// What a kubelet knows of its node when it builds CRI requests: its flags and configuration (cgroup driver and root,
// pod log and pod directories, cluster DNS, feature gates) and the facts it probes (cgroup v1 or v2, memory and swap
// capacity, the swap controller, huge page sizes). The suite makes one per test node; `/var/log/pods` and
// `/var/lib/kubelet` are temporary directories standing in for the real ones.
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

/** KubeletNode is one kubelet's configuration and node facts. */
export interface KubeletNode {
  /** cgroupDriver is --cgroup-driver (cgroupfs or systemd), which must be the runtime's. */
  cgroupDriver: 'cgroupfs' | 'systemd';
  /** cgroupRoot is --cgroup-root as the name's parts ([] for the default "/"): the QoS tree is <root>/kubepods. */
  cgroupRoot: string[];
  /** cgroupV2 is libcontainercgroups.IsCgroup2UnifiedMode(). */
  cgroupV2: boolean;
  /** podLogsDir stands in for /var/log/pods (podLogsDirectory, configurable from 1.29). */
  podLogsDir: string;
  /** rootDir stands in for /var/lib/kubelet (pods/<uid>/{etc-hosts,containers,volumes}). */
  rootDir: string;
  clusterDNS: string[];
  clusterDomain: string;
  /** machine facts from cAdvisor: MemoryCapacity, SwapCapacity; node allocatable memory. */
  memoryCapacity: number;
  swapCapacity: number;
  allocatableMemory: number;
  /** hugePageSizes are the host's page sizes as libcontainercgroups.HugePageSizes() names them ("2MB"). */
  hugePageSizes: string[];
  /** swapControllerAvailable is the kubelet's probe: memory.memsw.limit_in_bytes (v1), memory.swap.max of its cgroup (v2). */
  swapControllerAvailable: boolean;
  /** seccompDefault is the SeccompDefault feature plus the kubelet's seccompDefault setting. */
  seccompDefault: boolean;
  /** memoryQoS is the MemoryQoS feature gate (alpha in both versions, effective on cgroup v2 only). */
  memoryQoS: boolean;
  /** execProbeTimeout is the ExecProbeTimeout feature gate (GA, default on; may still be turned off). */
  execProbeTimeout: boolean;
  /** nodeSwap is the NodeSwap feature gate (alpha, off in 1.22; beta on in 1.34); swapBehavior its setting. */
  nodeSwap: boolean;
  swapBehavior: '' | 'UnlimitedSwap' | 'LimitedSwap' | 'NoSwap';
  /** singleProcessOOMKill (1.32+): false by default on cgroup v2, which sends memory.oom.group = 1. */
  singleProcessOOMKill?: boolean;
}

/** hugePageSizes lists the host's huge page sizes as runc's libcontainer names them ("2MB", "1GB"). */
export function hugePageSizes(): string[] {
  const dir = '/sys/kernel/mm/hugepages';
  if (!existsSync(dir)) return [];
  const unit = (kb: number) => (kb >= 1 << 20 ? `${kb >> 20}GB` : kb >= 1 << 10 ? `${kb >> 10}MB` : `${kb}KB`);
  return readdirSync(dir)
    .map((d) => /^hugepages-(\d+)kB$/.exec(d)?.[1])
    .filter((kb): kb is string => kb !== undefined)
    .map((kb) => unit(Number(kb)));
}

/** CGROUP2_SUPER_MAGIC tells a unified /sys/fs/cgroup. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** probeNode fills in the facts a kubelet probes on this machine; `config` gives its flags. */
export function probeNode(config: Pick<KubeletNode, 'cgroupDriver' | 'cgroupRoot' | 'podLogsDir' | 'rootDir'> & Partial<KubeletNode>): KubeletNode {
  const cgroupV2 = statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0) * 1024;
  const self = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
  const swapControllerAvailable = cgroupV2 ? existsSync(join('/sys/fs/cgroup', self, 'memory.swap.max')) : existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
  return {
    cgroupV2,
    clusterDNS: ['10.96.0.10'],
    clusterDomain: 'cluster.local',
    memoryCapacity: kb('MemTotal'),
    swapCapacity: kb('SwapTotal'),
    allocatableMemory: kb('MemTotal') - 100 * 1024 * 1024,
    hugePageSizes: hugePageSizes(),
    swapControllerAvailable,
    seccompDefault: false,
    memoryQoS: false,
    execProbeTimeout: true,
    nodeSwap: false,
    swapBehavior: '',
    ...config,
  };
}
