import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { PodSandboxConfig, PodSandboxFilter } from '../domain/cri-types.js';
import { filterSandboxes, type SandboxRecord } from '../domain/sandbox.js';
import { sandboxName } from '../domain/names.js';
import { failedPrecondition, invalidArgument, isKind } from '../errors/index.js';
import { buildSandboxSpec, DEFAULT_INFRA_ARGS } from '../oci/index.js';
import type { Spec } from '../oci/spec.js';
import { mountTmpfs, unmount } from '../runtime/mounts.js';
import { processAlive, readProcStat, sleep } from '../runtime/proc.js';
import { removeCgroup } from '../runtime/cgroups.js';
import { gatherSandboxFacts } from './host-facts.js';
import { nowNs, type LifecycleDeps } from './lifecycle-deps.js';
import { Rollback } from './rollback.js';
import { writePodFiles } from './pod-files.js';
import { SandboxImage, type InfraImage } from './infra-image.js';

const DEFAULT_SHM = 64 * 1024 * 1024;

/** ContainerTeardown is what the pod lifecycle needs of the container lifecycle. */
export interface ContainerTeardown {
  stopForPod(sandboxId: string, log: Logger): Promise<void>;
  removeForPod(sandboxId: string, log: Logger): Promise<void>;
}

/** SandboxStatusOut is a CRI PodSandboxStatus as a plain object. */
export type SandboxStatusOut = Record<string, unknown> & { id: string; state: string };

/**
 * SandboxService runs pods: a network namespace from the network service, the pod's shared files and /dev/shm,
 * and an infra process (`catatonit -P`, bind-mounted from the host) that holds the pod's namespaces, run by runc
 * directly (an idle infra process needs no monitor). RunPodSandbox undoes every step on failure; Stop and Remove
 * are idempotent.
 */
export class SandboxService {
  private containers?: ContainerTeardown;
  private readonly infraImage?: SandboxImage;

  constructor(private readonly d: LifecycleDeps) {
    const ref = d.config.runtime.sandbox_image;
    if (ref && d.images) this.infraImage = new SandboxImage(ref, d.images);
  }

  /** setContainers connects the container lifecycle, which pod stop and removal drive. */
  setContainers(c: ContainerTeardown): void {
    this.containers = c;
  }

  private podCgroupParent(config: PodSandboxConfig, id: string): { parent: string; owned: boolean } {
    const given = config.linux?.cgroup_parent ?? '';
    if (given) return { parent: given, owned: false };
    if (this.d.host.cgroupDriver === 'systemd') return { parent: 'system.slice', owned: false };
    return { parent: `/fune/pod-${id}`, owned: true };
  }

  /** run is RunPodSandbox: it gives the new pod's id once the infra process runs and the record is on disk. */
  async run(config: PodSandboxConfig | null, runtimeHandler: string, signal: AbortSignal, log: Logger): Promise<string> {
    if (!config) throw invalidArgument('pod sandbox config is required');
    if (runtimeHandler && runtimeHandler !== 'runc') throw invalidArgument(`runtime handler ${JSON.stringify(runtimeHandler)} is not supported (only "runc" or "")`);
    const name = sandboxName(config.metadata);
    const id = this.d.ids.newId();
    const reg = this.d.registry;
    reg.sandboxNames.reserve(name, id);
    const rb = new Rollback(log);
    rb.add('release name', async () => reg.sandboxNames.release(name, id));
    return reg.locks.run(id, () =>
      rb.guard(async () => {
        const ns = config.linux?.security_context?.namespace_options;
        const hostNetwork = ns?.network === 'NODE';
        const hostIpc = ns?.ipc === 'NODE';
        const { parent, owned } = this.podCgroupParent(config, id);
        const dir = join(this.d.podsDir, id);
        let rec: SandboxRecord = {
          id, name, config, runtimeHandler, createdAt: nowNs(this.d.clock), phase: 'creating', state: 'SANDBOX_NOTREADY',
          hostNetwork, ips: [], cgroupParent: parent, dir, infraPid: 0, infraStartTime: '', shmMounted: false,
        };
        await reg.saveSandbox(rec);
        rb.add('drop record', () => reg.dropSandbox(rec));
        await mkdir(join(dir, 'rootfs'), { recursive: true, mode: 0o755 });
        rb.add('remove pod dir', () => rm(dir, { recursive: true, force: true }));
        if (owned) rb.add('remove pod cgroup', () => removeCgroup(parent, this.d.host.cgroupMode));
        let infra: InfraImage | undefined;
        if (this.d.config.runtime.sandbox_image) {
          if (!this.infraImage) throw failedPrecondition('runtime.sandbox_image is set but images are not available in this build');
          infra = await this.infraImage.mount(id, join(dir, 'rootfs'), rb, signal, log);
          rec = { ...rec, infraImage: infra.imageId };
        }
        if (this.d.network) {
          const net = await this.d.network.setUpPod({ id, config, hostNetwork }, signal);
          rb.add('remove pod network', () => this.d.network!.removePod(id));
          rec = { ...rec, netnsPath: net.netnsPath, ips: net.ips };
        }
        const files = await writePodFiles(dir, config, hostNetwork, rec.ips);
        rec = { ...rec, resolvPath: files.resolvPath, hostsPath: files.hostsPath, hostnamePath: files.hostnamePath };
        if (hostIpc) rec.shmPath = '/dev/shm';
        else {
          const shm = join(dir, 'shm');
          await mkdir(shm, { recursive: true });
          await mountTmpfs(this.d.runner, shm, this.d.shmSize ?? DEFAULT_SHM);
          rb.add('unmount shm', () => unmount(this.d.runner, shm));
          rec = { ...rec, shmPath: shm, shmMounted: true };
        }
        await reg.saveSandbox(rec);
        const spec = buildSandboxSpec(
          {
            id, config, host: await gatherSandboxFacts(this.d.host, config), rootfs: join(dir, 'rootfs'), args: infra ? infra.args : [...DEFAULT_INFRA_ARGS],
            infraBinary: infra ? undefined : this.d.config.runtime.infra_path, netnsPath: rec.netnsPath, cgroupParent: parent,
            resolvPath: rec.resolvPath, hostsPath: rec.hostsPath, hostnamePath: rec.hostnamePath, shmPath: rec.shmPath,
            seccompDefault: this.d.config.runtime.seccomp_default,
          },
          (m) => log.warn({ podSandboxId: id }, m),
        );
        await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
        const pidFile = join(dir, 'pidfile');
        rb.add('delete infra', () => this.d.runc.delete(id, true));
        await this.d.runc.run(id, dir, pidFile, signal);
        const pid = Number((await readFile(pidFile, 'utf8')).trim());
        const st = await readProcStat(pid);
        rec = { ...rec, infraPid: pid, infraStartTime: st?.startTime ?? '', phase: 'created', state: 'SANDBOX_READY' };
        await reg.saveSandbox(rec);
        log.info({ podSandboxId: id, name, pid, netns: rec.netnsPath, ips: rec.ips }, 'pod sandbox running');
        return id;
      }),
    );
  }

  /** stop is StopPodSandbox: stop every container, kill the infra process, tear the network down, unmount shm. */
  async stop(idOrPrefix: string, signal: AbortSignal, log: Logger): Promise<void> {
    const reg = this.d.registry;
    const id = reg.sandboxId(idOrPrefix);
    await this.containers?.stopForPod(id, log);
    await reg.locks.run(id, async () => {
      const rec = reg.sandboxes.get(id);
      if (!rec) return;
      await this.stopInfra(rec);
      if (this.d.network) await this.d.network.tearDownPod({ id, config: rec.config, hostNetwork: rec.hostNetwork }, signal);
      if (rec.shmMounted && rec.shmPath) await unmount(this.d.runner, rec.shmPath);
      if (rec.state !== 'SANDBOX_NOTREADY') {
        await reg.saveSandbox({ ...rec, state: 'SANDBOX_NOTREADY' });
        log.info({ podSandboxId: id }, 'pod sandbox stopped');
      }
    });
  }

  private async stopInfra(rec: SandboxRecord): Promise<void> {
    if (rec.infraPid > 0 && (await processAlive(rec.infraPid, rec.infraStartTime))) {
      try {
        await this.d.runc.kill(rec.id, 9);
      } catch (e) {
        if (!isKind(e, 'NotFound') && !isKind(e, 'FailedPrecondition')) throw e;
      }
      for (let i = 0; i < 200 && (await processAlive(rec.infraPid, rec.infraStartTime)); i++) await sleep(10);
    }
    await this.d.runc.delete(rec.id, true);
  }

  /** remove is RemovePodSandbox: stop, remove every container, the network, the files; an absent pod is fine. */
  async remove(idOrPrefix: string, signal: AbortSignal, log: Logger): Promise<void> {
    const reg = this.d.registry;
    let id: string;
    try {
      id = reg.sandboxId(idOrPrefix);
    } catch (e) {
      if (isKind(e, 'NotFound')) return;
      throw e;
    }
    await this.stop(id, signal, log);
    await this.containers?.removeForPod(id, log);
    await reg.locks.run(id, async () => {
      const rec = reg.sandboxes.get(id);
      if (!rec) return;
      await this.cleanup(rec);
      log.info({ podSandboxId: id }, 'pod sandbox removed');
    });
  }

  /** cleanup removes what a pod left on the host and its record (also used by recovery for half-made pods). */
  async cleanup(rec: SandboxRecord): Promise<void> {
    await this.stopInfra(rec);
    if (this.d.network) await this.d.network.removePod(rec.id);
    if (rec.shmPath && rec.shmPath !== '/dev/shm') await unmount(this.d.runner, rec.shmPath);
    // A half-made pod may have mounted its infra image before its record said so.
    if (this.d.images && (rec.infraImage || (rec.phase === 'creating' && this.infraImage))) {
      await this.d.images.unmountRootfs(join(rec.dir, 'rootfs'));
      await this.d.images.removeRootfs(rec.id);
    }
    await rm(rec.dir, { recursive: true, force: true });
    if (!rec.config.linux?.cgroup_parent && this.d.host.cgroupDriver === 'cgroupfs') await removeCgroup(rec.cgroupParent, this.d.host.cgroupMode);
    await this.d.registry.dropSandbox(rec);
  }

  /** effectiveState is the pod's state, NOTREADY when its infra process is gone. */
  async effectiveState(rec: SandboxRecord): Promise<SandboxRecord['state']> {
    if (rec.state === 'SANDBOX_READY' && !(await processAlive(rec.infraPid, rec.infraStartTime))) return 'SANDBOX_NOTREADY';
    return rec.state;
  }

  /** status is PodSandboxStatus; `verbose` adds the infra pid and OCI spec under info["info"]. */
  async status(idOrPrefix: string, verbose: boolean): Promise<{ status: SandboxStatusOut; info: Record<string, string> }> {
    const reg = this.d.registry;
    const rec = reg.sandboxes.get(reg.sandboxId(idOrPrefix))!;
    const status = await this.statusOf(rec);
    const info: Record<string, string> = {};
    if (verbose) {
      const spec = JSON.parse(await readFile(join(rec.dir, 'config.json'), 'utf8').catch(() => 'null')) as Spec | null;
      info.info = JSON.stringify({ pid: rec.infraPid, runtimeSpec: spec, netNamespacePath: rec.netnsPath ?? '', cgroupParent: rec.cgroupParent, image: rec.infraImage ? this.d.config.runtime.sandbox_image : 'catatonit', runtimeHandler: rec.runtimeHandler, config: rec.config });
    }
    return { status, info };
  }

  /** statusOf builds the CRI PodSandboxStatus of a record. */
  async statusOf(rec: SandboxRecord): Promise<SandboxStatusOut> {
    const ns = rec.config.linux?.security_context?.namespace_options;
    return {
      id: rec.id,
      metadata: rec.config.metadata,
      state: await this.effectiveState(rec),
      created_at: rec.createdAt,
      network: { ip: rec.ips[0] ?? '', additional_ips: rec.ips.slice(1).map((ip) => ({ ip })) },
      linux: { namespaces: { options: { network: ns?.network ?? 'POD', pid: ns?.pid ?? 'CONTAINER', ipc: ns?.ipc ?? 'POD', target_id: ns?.target_id ?? '', userns_options: null } } },
      labels: rec.config.labels ?? {},
      annotations: rec.config.annotations ?? {},
      runtime_handler: rec.runtimeHandler,
    };
  }

  /** list is ListPodSandbox with its filter (id or prefix, state, labels). */
  async list(filter: PodSandboxFilter | null): Promise<Record<string, unknown>[]> {
    const recs = [...this.d.registry.sandboxes.values()].filter((r) => r.phase === 'created');
    const withState = await Promise.all(recs.map(async (r) => ({ ...r, state: await this.effectiveState(r) })));
    return filterSandboxes(withState, filter)
      .sort((a, b) => (BigInt(a.createdAt) < BigInt(b.createdAt) ? -1 : 1))
      .map((r) => ({ id: r.id, metadata: r.config.metadata, state: r.state, created_at: r.createdAt, labels: r.config.labels ?? {}, annotations: r.config.annotations ?? {}, runtime_handler: r.runtimeHandler }));
  }

  /** ready gives a pod record that is READY, for CreateContainer (NotFound / FailedPrecondition otherwise). */
  async readyPod(idOrPrefix: string): Promise<SandboxRecord> {
    const rec = this.d.registry.sandboxes.get(this.d.registry.sandboxId(idOrPrefix))!;
    if ((await this.effectiveState(rec)) !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${rec.id} is not ready`);
    return rec;
  }
}
