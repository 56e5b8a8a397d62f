import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { userBusEnv, type NodeFacts } from '../domain/node.js';
import type { Logger } from '../log/index.js';
import { Conmon } from '../runtime/conmon.js';
import { Runc } from '../runtime/runc.js';
import type { UserNamespaces } from '../runtime/user-namespaces.js';
import { placementFor } from '../runtime/placement/index.js';
import { BusctlSystemd } from '../sys/systemd-bus.js';
import { systemClock } from '../sys/clock.js';
import { randomIds } from '../sys/id.js';
import type { ProcessRunner } from '../sys/process-runner.js';
import { ContainerService } from './container-service.js';
import { CheckpointService } from './checkpoint-service.js';
import { EventsService } from './events-service.js';
import { ExecService } from './exec-service.js';
import { baseFactsOf } from './host-facts.js';
import type { ImagePort, LifecycleDeps, PodNetworkPort } from './lifecycle-deps.js';
import { recover } from './recovery.js';
import { Registry } from './registry.js';
import { SandboxService } from './sandbox-service.js';
import { StatsService } from './stats-service.js';
import { PodMetricsService } from './pod-metrics.js';
import type { LifecycleMetrics, ObjectCounts } from '../domain/metrics-port.js';

/** Lifecycle is the pod and container side of fune, built once by the daemon. */
export interface Lifecycle {
  sandboxes: SandboxService;
  containers: ContainerService;
  /** checkpoints is CheckpointContainer (runc checkpoint with CRIU). */
  checkpoints: CheckpointService;
  exec: ExecService;
  stats: StatsService;
  /** podMetrics answers ListMetricDescriptors and ListPodSandboxMetrics. */
  podMetrics: PodMetricsService;
  events: EventsService;
  /** runc is the one module that runs runc; streaming exec builds its command line through it. */
  runc: Runc;
  /** init recovers state from disk, conmon and runc, and starts watching exits; run it before serving. */
  init(): Promise<void>;
  /** counts gives the pods and containers by state (for the metrics endpoint). */
  counts(): Promise<ObjectCounts>;
  close(): void;
}

/** LifecycleOptions are what the daemon hands over. */
export interface LifecycleOptions {
  config: Config;
  /** node is what kind of node this is, probed once at start. */
  node: NodeFacts;
  log: Logger;
  runner: ProcessRunner;
  network?: PodNetworkPort;
  images?: ImagePort;
  metrics?: LifecycleMetrics;
  /** apparmorDefaultProfile is the RuntimeDefault profile the daemon loaded (none: RuntimeDefault runs unconfined). */
  apparmorDefaultProfile?: string;
  /** userns makes POD-mode user namespaces; used only where node.podUserNamespaces says they work. */
  userns?: UserNamespaces;
}

/** lookPath finds a program by name in the usual system directories (conmon needs runc's absolute path). */
export function lookPath(name: string): string {
  if (name.includes('/')) return name;
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** createLifecycle builds the pod and container services with runc and conmon under fune's state dir. */
export async function createLifecycle(o: LifecycleOptions): Promise<Lifecycle> {
  const { config, log, runner } = o;
  const placement = placementFor(o.node, { bus: (manager) => new BusctlSystemd(runner, 'busctl', 30_000, manager) });
  const systemdCgroup = placement.driver === 'systemd';
  const runcRoot = join(config.state, 'runc');
  const runcLogDir = join(config.state, 'runc-logs');
  const exitDir = join(config.state, 'exits');
  const runcPath = lookPath(config.runtime.runc_path);
  const runc = new Runc({ runner, runcPath, root: runcRoot, logDir: runcLogDir, systemdCgroup });
  const conmon = new Conmon({ runner, conmonPath: lookPath(config.runtime.conmon_path), runcPath, runcRoot, runcLogDir, exitDir, socketDir: join(config.state, 's'), systemdCgroup, env: userBusEnv(o.node) });
  const events = new EventsService();
  const d: LifecycleDeps = {
    config, log: log.child({ component: 'lifecycle' }), registry: new Registry(config.root), runc, conmon, runner, clock: systemClock, ids: randomIds, events,
    node: o.node, placement, host: baseFactsOf(o.node, o.apparmorDefaultProfile), network: o.network, images: o.images, podsDir: join(config.state, 'pods'), bundlesDir: join(config.state, 'containers'),
    metrics: o.metrics, ...(o.userns && o.node.podUserNamespaces?.ok ? { userns: o.userns } : {}),
  };
  const sandboxes = new SandboxService(d);
  const containers = new ContainerService(d, sandboxes);
  sandboxes.setContainers(containers);
  o.images?.setVolumeUsers?.((imageId) => containers.volumeUser(imageId));
  const exec = new ExecService({ runc, runner, lookup: containers, maxOutput: config.runtime.exec_sync_max_output, drainMs: config.runtime.exec_sync_drain_timeout, metrics: o.metrics });
  const stats = new StatsService(d, sandboxes, containers);
  const podMetrics = new PodMetricsService(d, sandboxes, containers);
  return {
    sandboxes, containers, checkpoints: new CheckpointService(d, containers), exec, stats, podMetrics, events, runc,
    async init() {
      await recover(d, sandboxes, containers);
      await containers.watchExits(exitDir);
    },
    async counts() {
      const out: ObjectCounts = { containers: {}, pods: {} };
      const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
      for (const c of d.registry.containers.values()) if (c.phase === 'created') bump(out.containers, c.state.replace('CONTAINER_', '').toLowerCase());
      for (const p of d.registry.sandboxes.values()) {
        if (p.phase === 'created') bump(out.pods, (await sandboxes.effectiveState(p)).replace('SANDBOX_', '').toLowerCase());
      }
      return out;
    },
    close: () => {
      containers.close();
      placement.close();
    },
  };
}
