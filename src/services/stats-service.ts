import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStatsFilter, PodSandboxStatsFilter } from '../domain/cri-types.js';
import { filterContainerStats, type ContainerRecord } from '../domain/container.js';
import { matchesLabels, matchesPrefix } from '../domain/ids.js';
import type { SandboxRecord } from '../domain/sandbox.js';
import type { CgroupStats } from '../runtime/cgroups.js';
import type { ContainerService } from './container-service.js';
import { nowNs, type LifecycleDeps } from './lifecycle-deps.js';
import type { SandboxService } from './sandbox-service.js';
import { parseNetDevCounters } from '../domain/cadvisor-metrics.js';

type U64 = { value: string } | null;
const u64 = (v: bigint | undefined): U64 => (v === undefined ? null : { value: String(v) });

/** parseNetDev parses /proc/<pid>/net/dev into per-interface counters. */
export function parseNetDev(text: string): { name: string; rx_bytes: U64; rx_errors: U64; tx_bytes: U64; tx_errors: U64 }[] {
  return parseNetDevCounters(text).map((i) => ({ name: i.name, rx_bytes: u64(i.rxBytes), rx_errors: u64(i.rxErrors), tx_bytes: u64(i.txBytes), tx_errors: u64(i.txErrors) }));
}

/** diskUsage counts the bytes and inodes under a directory (the writable layer), not following symlinks. */
export async function diskUsage(dir: string): Promise<{ bytes: bigint; inodes: bigint }> {
  let bytes = 0n;
  let inodes = 0n;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p).catch(() => undefined);
    if (!st) return;
    inodes += 1n;
    bytes += BigInt(st.blocks * 512);
    if (st.isDirectory()) for (const n of await readdir(p).catch(() => [] as string[])) await walk(join(p, n));
  };
  await walk(dir);
  return { bytes, inodes };
}

/**
 * StatsService answers the stats verbs from cgroup files (v1 and v2): cpu usage in core-nanoseconds and, from
 * the previous sample, nano-cores; memory working set (usage minus inactive file), usage, rss and page faults;
 * the writable layer's bytes and inodes; for pods also the process count and the network counters of the pod's
 * namespace (read through the infra process's /proc/<pid>/net/dev).
 */
export class StatsService {
  private readonly last = new Map<string, { at: bigint; usage: bigint }>();

  constructor(
    private readonly d: LifecycleDeps,
    private readonly sandboxes: SandboxService,
    private readonly containers: ContainerService,
  ) {}

  private cpu(id: string, s: CgroupStats, ts: string) {
    let nanoCores: bigint | undefined;
    const prev = this.last.get(id);
    if (s.cpuUsageNs !== undefined) {
      const at = BigInt(ts);
      if (prev && at > prev.at && s.cpuUsageNs >= prev.usage) nanoCores = ((s.cpuUsageNs - prev.usage) * 1_000_000_000n) / (at - prev.at);
      this.last.set(id, { at, usage: s.cpuUsageNs });
    }
    return { timestamp: ts, usage_core_nano_seconds: u64(s.cpuUsageNs), usage_nano_cores: u64(nanoCores ?? 0n) };
  }

  private memory(s: CgroupStats, ts: string) {
    const avail = s.memoryLimit !== undefined && s.workingSet !== undefined && s.memoryLimit > s.workingSet ? s.memoryLimit - s.workingSet : undefined;
    return {
      timestamp: ts, working_set_bytes: u64(s.workingSet), available_bytes: u64(avail ?? 0n), usage_bytes: u64(s.memoryUsage),
      rss_bytes: u64(s.rss), page_faults: u64(s.pageFaults), major_page_faults: u64(s.majorPageFaults),
    };
  }

  /** swap is the CRI SwapUsage: what is swapped out, and what the limit leaves (only when there is a limit). */
  private swap(s: CgroupStats, ts: string) {
    if (s.swapUsage === undefined) return null;
    const avail = s.swapLimit === undefined ? undefined : s.swapLimit > s.swapUsage ? s.swapLimit - s.swapUsage : 0n;
    return { timestamp: ts, swap_usage_bytes: u64(s.swapUsage), swap_available_bytes: u64(avail) };
  }

  /** containerStatsOf gives the CRI ContainerStats of one container. */
  async containerStatsOf(c: ContainerRecord): Promise<Record<string, unknown>> {
    const ts = nowNs(this.d.clock);
    const spec = await this.containers.spec(c);
    const path = spec?.linux?.cgroupsPath;
    const s = path && c.state === 'CONTAINER_RUNNING' ? await this.d.placement.stats(this.d.placement.cgroupOf(path)) : {};
    const fs = c.upperDir ? await diskUsage(c.upperDir) : { bytes: 0n, inodes: 0n };
    return {
      attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels ?? {}, annotations: c.config.annotations ?? {} },
      cpu: this.cpu(c.id, s, ts),
      memory: this.memory(s, ts),
      writable_layer: { timestamp: ts, fs_id: { mountpoint: c.upperDir ?? c.rootfs }, used_bytes: u64(fs.bytes), inodes_used: u64(fs.inodes) },
      swap: this.swap(s, ts),
    };
  }

  /** containerStats is ContainerStats. */
  async containerStats(idOrPrefix: string): Promise<Record<string, unknown>> {
    const id = this.d.registry.containerId(idOrPrefix);
    return this.containerStatsOf(this.d.registry.containers.get(id)!);
  }

  /** listContainerStats is ListContainerStats (running and created containers), filtered. */
  async listContainerStats(filter: ContainerStatsFilter | null): Promise<Record<string, unknown>[]> {
    const all = [...this.d.registry.containers.values()].filter((c) => c.phase === 'created' && c.state !== 'CONTAINER_EXITED');
    return Promise.all(filterContainerStats(all, filter).map((c) => this.containerStatsOf(c)));
  }

  /** podStatsOf gives the CRI PodSandboxStats of one pod. */
  async podStatsOf(p: SandboxRecord): Promise<Record<string, unknown>> {
    const ts = nowNs(this.d.clock);
    const ready = (await this.sandboxes.effectiveState(p)) === 'SANDBOX_READY';
    const s = ready ? await this.d.placement.stats(this.d.placement.podCgroup(p.cgroupParent)) : {};
    const net = ready && !p.hostNetwork ? parseNetDev(await readFile(`/proc/${p.infraPid}/net/dev`, 'utf8').catch(() => '')) : [];
    const ifaces = net.filter((i) => i.name !== 'lo');
    const ctrs = this.d.registry.containersOf(p.id).filter((c) => c.phase === 'created' && c.state !== 'CONTAINER_EXITED');
    return {
      attributes: { id: p.id, metadata: p.config.metadata, labels: p.config.labels ?? {}, annotations: p.config.annotations ?? {} },
      linux: {
        cpu: this.cpu(`pod:${p.id}`, s, ts),
        memory: this.memory(s, ts),
        network: { timestamp: ts, default_interface: ifaces.find((i) => i.name === 'eth0') ?? ifaces[0] ?? null, interfaces: ifaces },
        process: { timestamp: ts, process_count: u64(s.pids) },
        containers: await Promise.all(ctrs.map((c) => this.containerStatsOf(c))),
      },
      windows: null,
    };
  }

  /** podSandboxStats is PodSandboxStats. */
  async podSandboxStats(idOrPrefix: string): Promise<Record<string, unknown>> {
    return this.podStatsOf(this.d.registry.sandboxes.get(this.d.registry.sandboxId(idOrPrefix))!);
  }

  /** listPodSandboxStats is ListPodSandboxStats, filtered by id (or prefix) and labels. */
  async listPodSandboxStats(filter: PodSandboxStatsFilter | null): Promise<Record<string, unknown>[]> {
    const all = [...this.d.registry.sandboxes.values()].filter((p) => p.phase === 'created' && matchesPrefix(p.id, filter?.id) && matchesLabels(p.config.labels, filter?.label_selector));
    return Promise.all(all.map((p) => this.podStatsOf(p)));
  }
}
