import { readFileSync, statfsSync } from 'node:fs';
import type { ContainerRecord } from '../domain/container.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import { DESCRIPTORS, POD_CONTAINER, containerMetrics, parseNetDevCounters, podMetrics, type ContainerExtras, type Metric } from '../domain/cadvisor-metrics.js';
import { cgroupSampler, countFds, type CgroupSampler } from '../runtime/cgroup-sample.js';
import type { ContainerService } from './container-service.js';
import { nowNs, type LifecycleDeps } from './lifecycle-deps.js';
import type { SandboxService } from './sandbox-service.js';
import { diskUsage } from './stats-service.js';

/** PodSandboxMetrics is the CRI message: a pod's own rows and one list per running container. */
export interface PodSandboxMetrics {
  pod_sandbox_id: string;
  metrics: Metric[];
  container_metrics: { container_id: string; metrics: Metric[] }[];
}

/**
 * PodMetricsService answers ListMetricDescriptors and ListPodSandboxMetrics with cAdvisor's names and labels (as
 * CRI-O does): per running container its cgroup (cpu, memory, OOM events, processes, I/O, the limits the kernel
 * applied, pressure on v2), writable layer and open files; per pod (container "POD") the network counters of its
 * namespace. The numbers are read as ContainerStats and PodSandboxStats read them, from the same files with the
 * same formulas, so that both agree for the same instant.
 */
export class PodMetricsService {
  private readonly sampler: CgroupSampler;
  /** paths caches each container's expanded cgroupsPath (its spec never changes), so that a scrape reads no JSON. */
  private readonly paths = new Map<string, string | null>();

  constructor(
    private readonly d: LifecycleDeps,
    private readonly sandboxes: SandboxService,
    private readonly containers: ContainerService,
    sampler?: CgroupSampler,
  ) {
    this.sampler = sampler ?? cgroupSampler(d.host.cgroupMode);
  }

  /** descriptors is ListMetricDescriptors: every metric the rows may carry, with its label keys. */
  descriptors(): { name: string; help: string; label_keys: string[] }[] {
    return DESCRIPTORS.map(({ name, help, label_keys }) => ({ name, help, label_keys }));
  }

  private async cgroupPath(c: ContainerRecord): Promise<string | null> {
    let p = this.paths.get(c.id);
    if (p === undefined) {
      const raw = (await this.containers.spec(c))?.linux?.cgroupsPath;
      p = raw ? this.d.placement.cgroupOf(raw) : null;
      this.paths.set(c.id, p);
    }
    return p;
  }

  /** list is ListPodSandboxMetrics: every pod fune holds, with its running containers. */
  async list(): Promise<PodSandboxMetrics[]> {
    const reg = this.d.registry;
    for (const id of this.paths.keys()) if (!reg.containers.has(id)) this.paths.delete(id);
    const ts = nowNs(this.d.clock);
    const lastSeen = BigInt(ts) / 1_000_000_000n;
    const byPod = new Map<string, ContainerRecord[]>();
    for (const c of reg.containers.values()) {
      if (c.phase !== 'created' || c.state !== 'CONTAINER_RUNNING') continue;
      const list = byPod.get(c.sandboxId) ?? [];
      list.push(c);
      byPod.set(c.sandboxId, list);
    }
    let fs: ContainerExtras['fs'] | null | undefined;
    const fsOf = (dir: string) => {
      if (fs !== undefined) return fs ?? undefined;
      try {
        const st = statfsSync(dir, { bigint: true });
        fs = { bytes: st.blocks * st.bsize, inodes: st.files, inodesFree: st.ffree };
      } catch {
        fs = null;
      }
      return fs ?? undefined;
    };
    const pods = [...reg.sandboxes.values()].filter((p) => p.phase === 'created');
    return Promise.all(
      pods.map(async (p) => {
        const md = p.config.metadata;
        const ns = md?.namespace ?? '';
        const pod = md?.name ?? '';
        const ready = (await this.sandboxes.effectiveState(p)) === 'SANDBOX_READY';
        const image = p.infraImage ? this.d.config.runtime.sandbox_image : '';
        const out: PodSandboxMetrics = { pod_sandbox_id: p.id, metrics: podMetrics(ready ? this.network(p) : [], lastSeen, [p.id, image, ns, pod, POD_CONTAINER], ts), container_metrics: [] };
        for (const c of byPod.get(p.id) ?? []) {
          const path = await this.cgroupPath(c);
          if (!path) continue;
          const s = this.sampler.sample(path);
          const extras: ContainerExtras = {
            fsUsageBytes: c.upperDir ? (await diskUsage(c.upperDir)).bytes : undefined,
            fs: c.upperDir ? fsOf(c.upperDir) : undefined,
            fileDescriptors: s.pids ? countFds(s.pids) : undefined,
            startTimeSeconds: BigInt(c.createdAt) / 1_000_000_000n,
            lastSeenSeconds: lastSeen,
          };
          out.container_metrics.push({ container_id: c.id, metrics: containerMetrics(s, extras, [c.id, c.image, ns, pod, c.config.metadata?.name ?? ''], ts) });
        }
        return out;
      }),
    );
  }

  /** network reads the pod namespace's counters through its infra process, without loopback (as PodSandboxStats). */
  private network(p: SandboxRecord) {
    if (p.hostNetwork) return [];
    try {
      return parseNetDevCounters(readFileSync(`/proc/${p.infraPid}/net/dev`, 'utf8')).filter((i) => i.name !== 'lo');
    } catch {
      return [];
    }
  }
}

