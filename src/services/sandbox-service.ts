import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { PodSandboxConfig, PodSandboxFilter } from '../domain/cri-types.js';
import { filterSandboxes, type SandboxRecord } from '../domain/sandbox.js';
import { sandboxName } from '../domain/names.js';
import { compareNs } from '../domain/ids.js';
import { failedPrecondition, invalidArgument, isKind } from '../errors/index.js';
import { buildSandboxSpec, DEFAULT_INFRA_ARGS, namespaceModes, podSysctls, validatePodFields, validateUserNamespace } from '../oci/index.js';
import type { Spec } from '../oci/spec.js';
import { mountTmpfs, unmount } from '../runtime/mounts.js';
import { HeldProcesses, processAlive, readProcStat, sleep } from '../runtime/proc.js';
import { checkApparmorLoaded, checkSysctlsOffered, gatherSandboxFacts } from './host-facts.js';
import { nodeRulesOf } from '../domain/node.js';
import { nowNs, type LifecycleDeps, type PreparedNetwork } from './lifecycle-deps.js';
import { Rollback } from './rollback.js';
import { StepTimer } from './step-timer.js';
import { hostsFile, writePodFiles, type PodFiles } from './pod-files.js';
import { SandboxImage, type InfraImage } from './infra-image.js';
import { LifecycleEvents } from './lifecycle-events.js';
import { infraRootfsOf, layerIdmapOf, podUsernsOf } from './pod-userns.js';
import type { LayerIdmap } from '../image/rootfs.js';
import { updatePodResources } from './pod-resources.js';
import type { LinuxContainerResources } from '../domain/cri-types.js';

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
  /** infra holds the stat file of each ready pod's infra process, for effectiveState (see HeldProcesses). */
  private readonly infra = new HeldProcesses();
  /** events publishes pod and container events (GetContainerEvents) in one ordered stream. */
  readonly events: LifecycleEvents;

  constructor(private readonly d: LifecycleDeps) {
    const ref = d.config.runtime.sandbox_image;
    if (ref && d.images) this.infraImage = new SandboxImage(ref, d.images);
    this.events = new LifecycleEvents(d, (r) => this.statusOf(r));
  }

  private async sandboxImageFor(id: string, rootfs: string, rb: Rollback, signal: AbortSignal, log: Logger, idmap?: LayerIdmap): Promise<InfraImage | undefined> {
    if (!this.d.config.runtime.sandbox_image) return undefined;
    if (!this.infraImage) throw failedPrecondition('runtime.sandbox_image is set but images are not available in this build');
    return this.infraImage.mount(id, rootfs, rb, signal, log, idmap);
  }

  /** setContainers connects the container lifecycle, which pod stop and removal drive. */
  setContainers(c: ContainerTeardown): void {
    this.containers = c;
  }

  /** run is RunPodSandbox: it gives the new pod's id once the infra process runs and the record is on disk. */
  async run(config: PodSandboxConfig | null, runtimeHandler: string, signal: AbortSignal, log: Logger): Promise<string> {
    if (!config) throw invalidArgument('pod sandbox config is required');
    if (runtimeHandler && runtimeHandler !== 'runc') throw invalidArgument(`runtime handler ${JSON.stringify(runtimeHandler)} is not supported (only "runc" or "")`);
    const name = sandboxName(config.metadata);
    // Sysctls that are not namespaced, or need a namespace the pod shares with the host, are refused before any
    // name is reserved or anything (network namespace, CNI, files) is made.
    const modes = namespaceModes(config.linux?.security_context?.namespace_options);
    const sysctls = podSysctls(config.linux?.sysctls, modes);
    // Inside a user namespace, also those the kernel hides from the pod's network namespace (NodeRules.sysctls).
    if (nodeRulesOf(this.d.node).sysctls === 'offered') await checkSysctlsOffered(sysctls);
    // A user namespace the pod asks for and fune cannot give (or bad mappings) too: a POD-mode pod must never run
    // in the host's user namespace.
    validateUserNamespace(config.linux?.security_context?.namespace_options, this.d.host.userNamespaces ?? false);
    // So are values that would reach the pod's files, CNI or runc in a form they cannot take (a newline in a DNS
    // option, a server that is no IP address, a port out of range, a relative log directory).
    validatePodFields(config, modes.hostNetwork);
    // and a Localhost AppArmor profile for the pod that the kernel has not loaded.
    await checkApparmorLoaded(this.d.host, config.linux?.security_context);
    const id = this.d.ids.newId();
    // The pod's cgroup parent in the node's form (a bad one is refused here, before anything is made).
    const parent = this.d.placement.podParent(config.linux?.cgroup_parent ?? '', id);
    const reg = this.d.registry;
    reg.sandboxNames.reserve(name, id);
    const rb = new Rollback(log);
    rb.add('release name', async () => reg.sandboxNames.release(name, id));
    return reg.locks.run(id, () =>
      rb.guard(async () => {
        const ns = config.linux?.security_context?.namespace_options;
        const hostNetwork = ns?.network === 'NODE';
        const hostIpc = ns?.ipc === 'NODE';
        const dir = join(this.d.podsDir, id);
        const t = new StepTimer(log, 'RunPodSandbox');
        let rec: SandboxRecord = {
          id, name, config, runtimeHandler, createdAt: nowNs(this.d.clock), phase: 'creating', state: 'SANDBOX_NOTREADY',
          hostNetwork, ips: [], cgroupParent: parent, dir, infraPid: 0, infraStartTime: '', shmMounted: false,
        };
        await reg.saveSandbox(rec);
        t.mark('record');
        rb.add('drop record', () => reg.dropSandbox(rec));
        await mkdir(dir, { recursive: true, mode: 0o700 });
        rb.add('remove pod dir', () => rm(dir, { recursive: true, force: true }));
        // A pod of user namespace mode POD gets its user namespace first (the network namespace is made in it), and
        // what its root must open by path lives in the pod's own directory (pod-userns.ts).
        const userns = podUsernsOf(this.d, rec);
        if (userns) {
          rb.add('remove user namespace', () => this.d.userns!.remove(id));
          await this.d.userns!.create(id, userns.mappings.uidMappings, userns.mappings.gidMappings, userns.root);
          rec = { ...rec, usernsPath: userns.pin };
          t.mark('user namespace');
        }
        const filesDir = userns ? userns.dir : dir;
        const rootfs = infraRootfsOf(rec, userns);
        await mkdir(rootfs, { mode: 0o755 });
        // runc makes the mount points (/proc, /dev, ...) in the empty infra rootfs as the pod's root.
        if (userns) await chown(rootfs, userns.root.uid, userns.root.gid);
        rb.add('remove pod cgroup', () => this.d.placement.removePod(id, parent));
        // Independent steps run at once: the infra image, the network namespace (CNI ADD comes later, while the
        // infra process starts), /dev/shm, the pod's files (hosts is rewritten with the IPs once they are known)
        // and the host facts. The 'creating' record on disk is enough for recovery to undo any of them: it works
        // from the pod id and the pod directory, so no record is written between here and the final one.
        const net = this.d.network;
        const shm = hostIpc ? '/dev/shm' : join(filesDir, 'shm');
        const usernsPath = rec.usernsPath;
        const netParams = { id, config, hostNetwork, ...(usernsPath ? { usernsPath } : {}) };
        const [infraR, netR, shmR, filesR, factsR] = await Promise.allSettled([
          this.sandboxImageFor(id, rootfs, rb, signal, log, userns ? layerIdmapOf(this.d, id, userns) : undefined),
          net ? (net.preparePod ? net.preparePod(netParams, signal) : net.setUpPod(netParams, signal).then((r) => ({ netnsPath: r.netnsPath, attach: () => Promise.resolve(r) }))) : undefined,
          hostIpc ? Promise.resolve() : mkdir(shm, { recursive: true }).then(() => mountTmpfs(this.d.runner, shm, this.d.shmSize ?? DEFAULT_SHM, userns?.root)),
          writePodFiles(filesDir, config, hostNetwork, []),
          gatherSandboxFacts(this.d.host, config),
        ]);
        if (netR.status === 'fulfilled' && netR.value) rb.add('remove pod network', () => net!.removePod(id));
        if (shmR.status === 'fulfilled' && !hostIpc) rb.add('unmount shm', () => unmount(this.d.runner, shm));
        for (const r of [infraR, netR, shmR, filesR, factsR]) if (r.status === 'rejected') throw r.reason;
        const infra = (infraR as PromiseFulfilledResult<InfraImage | undefined>).value;
        const prepared = (netR as PromiseFulfilledResult<PreparedNetwork | undefined>).value;
        const files = (filesR as PromiseFulfilledResult<PodFiles>).value;
        rec = {
          ...rec, netnsPath: prepared?.netnsPath, shmPath: shm, shmMounted: !hostIpc, resolvPath: files.resolvPath, hostsPath: files.hostsPath, hostnamePath: files.hostnamePath,
          ...(infra ? { infraImage: infra.imageId } : {}),
        };
        t.mark('image+netns+shm+files');
        const spec = buildSandboxSpec(
          {
            id, config, host: (factsR as PromiseFulfilledResult<Awaited<ReturnType<typeof gatherSandboxFacts>>>).value, rootfs, args: infra ? infra.args : [...DEFAULT_INFRA_ARGS],
            infraBinary: infra ? undefined : this.d.config.runtime.infra_path, netnsPath: rec.netnsPath, cgroupsPath: this.d.placement.cgroupsPath(parent, id),
            resolvPath: rec.resolvPath, hostsPath: rec.hostsPath, hostnamePath: rec.hostnamePath, shmPath: rec.shmPath,
            seccompDefault: this.d.config.runtime.seccomp_default,
            ...(userns ? { userns: { path: userns.pin, mappings: userns.mappings } } : {}),
          },
          (m) => log.warn({ podSandboxId: id }, m),
        );
        await writeFile(join(dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
        t.mark('spec');
        // The infra process starts in the namespace while CNI ADD configures it (containerd and CRI-O run them one
        // after the other; nothing in the infra process needs the network).
        const pidFile = join(dir, 'pidfile');
        rb.add('delete infra', () => this.d.runc.delete(id, true));
        const [runR, addR] = await Promise.allSettled([this.d.runc.run(id, dir, pidFile, signal), prepared ? prepared.attach(signal) : Promise.resolve(undefined)]);
        if (runR.status === 'rejected') throw runR.reason;
        if (addR.status === 'rejected') throw addR.reason;
        t.mark('runc run+CNI');
        const ips = addR.value?.ips ?? [];
        if (ips.length > 0 && !hostNetwork) await writeFile(files.hostsPath, hostsFile(files.hostname, ips), { mode: 0o644 }); // in place: it is bind-mounted
        const pid = Number((await readFile(pidFile, 'utf8')).trim());
        const st = await readProcStat(pid);
        rec = { ...rec, ips, infraPid: pid, infraStartTime: st?.startTime ?? '', phase: 'created', state: 'SANDBOX_READY' };
        await reg.saveSandbox(rec);
        t.mark('record');
        t.done({ podSandboxId: id });
        this.events.emit('CONTAINER_CREATED_EVENT', id, id);
        this.events.emit('CONTAINER_STARTED_EVENT', id, id);
        log.info({ podSandboxId: id, name, pid, netns: rec.netnsPath, ips: rec.ips }, 'pod sandbox running');
        return id;
      }),
    );
  }

  /**
   * stop is StopPodSandbox: stop every container, kill the infra process, tear the network down, unmount shm. A
   * pod that does not exist is already stopped (the CRI's idempotence; containerd 1.6.35+ and CRI-O 1.31 agree).
   */
  async stop(idOrPrefix: string, signal: AbortSignal, log: Logger): Promise<void> {
    const reg = this.d.registry;
    const id = reg.findSandboxId(idOrPrefix);
    if (id === undefined) return;
    const t = new StepTimer(log, 'StopPodSandbox');
    await this.containers?.stopForPod(id, log);
    t.mark('containers');
    await reg.locks.run(id, async () => {
      const rec = reg.sandboxes.get(id);
      if (!rec) return;
      // Independent: the infra process, the network (CNI DEL works with or without it) and the lazy shm unmount.
      await allOrFirstError([
        this.stopInfra(rec),
        this.d.network ? this.d.network.tearDownPod({ id, config: rec.config, hostNetwork: rec.hostNetwork }, signal) : undefined,
        rec.shmMounted && rec.shmPath ? unmount(this.d.runner, rec.shmPath) : undefined,
      ]);
      t.mark('infra+network+shm');
      this.infra.forget(id);
      if (rec.state !== 'SANDBOX_NOTREADY') {
        await reg.saveSandbox({ ...rec, state: 'SANDBOX_NOTREADY' });
        t.mark('record');
        this.events.emit('CONTAINER_STOPPED_EVENT', id, id);
        log.info({ podSandboxId: id }, 'pod sandbox stopped');
      }
    });
    t.done({ podSandboxId: id });
  }

  private async stopInfra(rec: SandboxRecord): Promise<void> {
    if (rec.infraPid > 0 && (await processAlive(rec.infraPid, rec.infraStartTime))) {
      // The pid is the infra process's own (its start time matches), so it is signalled directly: `runc kill`
      // would cost a runc start-up to do the same kill(2).
      if (rec.infraStartTime) {
        try {
          process.kill(rec.infraPid, 'SIGKILL');
        } catch {
          // gone already
        }
      } else {
        try {
          await this.d.runc.kill(rec.id, 9);
        } catch (e) {
          if (!isKind(e, 'NotFound') && !isKind(e, 'FailedPrecondition')) throw e;
        }
      }
      for (let i = 0; i < 1000 && (await processAlive(rec.infraPid, rec.infraStartTime)); i++) await sleep(2);
    }
    await this.d.runc.delete(rec.id, true);
  }

  /** remove is RemovePodSandbox: stop, remove every container, the network, the files; an absent pod is fine. */
  async remove(idOrPrefix: string, signal: AbortSignal, log: Logger): Promise<void> {
    const reg = this.d.registry;
    const id = reg.findSandboxId(idOrPrefix);
    if (id === undefined) return;
    const t = new StepTimer(log, 'RemovePodSandbox');
    await this.stop(id, signal, log);
    t.mark('stop');
    await this.containers?.removeForPod(id, log);
    t.mark('containers');
    await reg.locks.run(id, async () => {
      const rec = reg.sandboxes.get(id);
      if (!rec) return;
      await this.cleanup(rec, t);
      this.events.emit('CONTAINER_DELETED_EVENT', id, id, rec);
      log.info({ podSandboxId: id }, 'pod sandbox removed');
    });
    t.done({ podSandboxId: id });
  }

  /** cleanup removes what a pod left on the host and its record (also used by recovery for half-made pods). */
  async cleanup(rec: SandboxRecord, t?: StepTimer): Promise<void> {
    // A half-made pod may have mounted its shm before its record said so.
    const shm = rec.shmPath ?? (rec.phase === 'creating' ? join(rec.dir, 'shm') : undefined);
    await allOrFirstError([
      this.stopInfra(rec),
      this.d.network ? this.d.network.removePod(rec.id) : undefined,
      shm && shm !== '/dev/shm' ? unmount(this.d.runner, shm) : undefined,
    ]);
    t?.mark('infra+network+shm');
    // A half-made pod may have mounted its infra image before its record said so.
    const userns = this.d.userns && (rec.usernsPath || rec.phase === 'creating') ? this.d.userns : undefined;
    if (this.d.images && (rec.infraImage || (rec.phase === 'creating' && this.infraImage))) {
      await this.d.images.unmountRootfs(join(rec.usernsPath ? this.d.userns!.podDir(rec.id) : rec.dir, 'rootfs'));
      await this.d.images.removeRootfs(rec.id);
    }
    // The user namespace's pin and the pod's own directory (what is still mounted below it is unmounted first).
    if (userns) await userns.remove(rec.id);
    await rm(rec.dir, { recursive: true, force: true });
    t?.mark('dir');
    await this.d.placement.removePod(rec.id, rec.cgroupParent);
    t?.mark('cgroup');
    this.infra.forget(rec.id);
    await this.d.registry.dropSandbox(rec);
    t?.mark('record');
  }

  /** updateResources is UpdatePodSandboxResources (see updatePodResources). */
  async updateResources(idOrPrefix: string, overhead: LinuxContainerResources | null, resources: LinuxContainerResources | null, log: Logger): Promise<void> {
    await updatePodResources(this.d, idOrPrefix, overhead, resources, log);
  }

  /** effectiveState is the pod's state, NOTREADY when its infra process is gone. */
  async effectiveState(rec: SandboxRecord): Promise<SandboxRecord['state']> {
    if (rec.state === 'SANDBOX_READY' && !this.infra.alive(rec.id, rec.infraPid, rec.infraStartTime)) return 'SANDBOX_NOTREADY';
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
      info.info = JSON.stringify({ pid: rec.infraPid, runtimeSpec: spec, netNamespacePath: rec.netnsPath ?? '', cgroupParent: rec.cgroupParent, image: rec.infraImage ? this.d.config.runtime.sandbox_image : 'catatonit', runtimeHandler: rec.runtimeHandler, config: rec.config, ...(rec.resources ? { updatedResources: rec.resources } : {}) });
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
      linux: { namespaces: { options: { network: ns?.network ?? 'POD', pid: ns?.pid ?? 'CONTAINER', ipc: ns?.ipc ?? 'POD', target_id: ns?.target_id ?? '', userns_options: ns?.userns_options ?? null } } },
      labels: rec.config.labels ?? {},
      annotations: rec.config.annotations ?? {},
      runtime_handler: rec.runtimeHandler,
    };
  }

  /** list is ListPodSandbox with its filter (id or prefix, state, labels). */
  async list(filter: PodSandboxFilter | null): Promise<Record<string, unknown>[]> {
    return (await this.listRecords(filter)).map(({ rec, state }) => podSandboxOf(rec, state));
  }

  /** listRecords gives the records ListPodSandbox reports with each pod's effective state, filtered, oldest first. */
  async listRecords(filter: PodSandboxFilter | null): Promise<{ rec: SandboxRecord; state: SandboxRecord['state'] }[]> {
    const out: { rec: SandboxRecord; state: SandboxRecord['state']; id: string; config: SandboxRecord['config'] }[] = [];
    for (const rec of this.d.registry.sandboxes.values()) {
      if (rec.phase === 'created') out.push({ rec, state: await this.effectiveState(rec), id: rec.id, config: rec.config });
    }
    // what was held for pods now gone or stopped by other paths is let go here (stop and cleanup let go of their own)
    if (this.infra.size > out.filter((r) => r.state === 'SANDBOX_READY').length) this.infra.retain((id) => this.d.registry.sandboxes.get(id)?.state === 'SANDBOX_READY');
    return filterSandboxes(out, filter).sort((a, b) => compareNs(a.rec.createdAt, b.rec.createdAt));
  }

  /** ready gives a pod record that is READY, for CreateContainer (NotFound / FailedPrecondition otherwise). */
  async readyPod(idOrPrefix: string): Promise<SandboxRecord> {
    const rec = this.d.registry.sandboxes.get(this.d.registry.sandboxId(idOrPrefix))!;
    if ((await this.effectiveState(rec)) !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${rec.id} is not ready`);
    return rec;
  }
}

/** allOrFirstError waits for every step (undefined = nothing to do), then throws the first failure, if any. */
async function allOrFirstError(steps: (Promise<unknown> | undefined)[]): Promise<void> {
  const res = await Promise.allSettled(steps.map((p) => p ?? Promise.resolve()));
  for (const r of res) if (r.status === 'rejected') throw r.reason;
}

/** podSandboxOf builds a CRI PodSandbox (ListPodSandbox entry) of a record and its effective state. */
export function podSandboxOf(r: SandboxRecord, state: SandboxRecord['state']): Record<string, unknown> {
  return { id: r.id, metadata: r.config.metadata, state, created_at: r.createdAt, labels: r.config.labels ?? {}, annotations: r.config.annotations ?? {}, runtime_handler: r.runtimeHandler };
}
