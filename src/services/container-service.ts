import { watch, type FSWatcher } from 'node:fs';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { ContainerConfig, ContainerFilter, LinuxContainerResources } from '../domain/cri-types.js';
import { exitReason, filterContainers, stopSignalOf, type ContainerRecord } from '../domain/container.js';
import { containerName } from '../domain/names.js';
import { compareNs } from '../domain/ids.js';
import { errorMessage, failedPrecondition, invalidArgument, isKind, unimplemented } from '../errors/index.js';
import { buildContainerSpec, parseGroup, parsePasswd, resourcesToOci, validateContainerFields, validateContainerResources, validateCriMounts, validateUserNamespace } from '../oci/index.js';
import type { Spec } from '../oci/spec.js';
import { OomWatches } from '../runtime/oom-watches.js';
import { processAlive, readProcStat, sleep } from '../runtime/proc.js';
import { containerListItemOf, containerStatusOf } from './container-status.js';
import type { ContainerEventType } from './events-service.js';
import { checkApparmorLoaded, gatherContainerFacts } from './host-facts.js';
import { nowNs, type LifecycleDeps } from './lifecycle-deps.js';
import { writeFileAtomic } from '../store/atomic-file.js';
import { Rollback } from './rollback.js';
import { StepTimer } from './step-timer.js';
import { ImageUserFiles } from './user-files.js';
import { Pending, settleAll } from './pending.js';
import { planCdiDevices } from './cdi-devices.js';
import { resourcesStatus } from './resources-status.js';
import { applyCdiEdits } from '../oci/cdi/apply.js';
import { checkImageMounts, imageIdsOf, mountImageVolumes, statusMounts, type ImageVolume } from './image-volumes.js';
import type { SandboxService } from './sandbox-service.js';
import { layerIdmapOf, podUsernsOf } from './pod-userns.js';
import type { LayerIdmap } from '../image/rootfs.js';
import type { StreamContainer } from './stream-runtime.js';

/**
 * ContainerService runs containers under conmon: CreateContainer resolves the image, prepares its writable layer,
 * builds the OCI spec in oci/ and writes the bundle; StartContainer mounts the rootfs, has conmon run `runc
 * create`, then starts the container (see Runc.start);
 * exits are learnt from conmon's exit files (watched, and read again whenever a record is looked at).
 */
export class ContainerService {
  private watcher?: FSWatcher;
  /** exitWaiters are woken when conmon writes the exit file of their container (StopContainer waits on them). */
  private readonly exitWaiters = new Map<string, Set<() => void>>();
  /** userFiles keeps images' /etc/passwd and /etc/group (undefined without an image service). */
  private readonly userFiles?: ImageUserFiles;
  /** placing holds conmon's moves into its cgroup, which StartContainer does not wait for. */
  private readonly placing = new Pending();
  /** removals holds what RemoveContainer leaves for after its answer (RemovePodSandbox waits for it). */
  private readonly removals = new Pending();
  /** retries are the timers of removals that failed after the answer, to be tried again (cleared by close). */
  private readonly retries = new Set<NodeJS.Timeout>();
  /** ooms watches running containers' cgroups for OOM kills (the `oom` marker applyExit reads). */
  readonly ooms: OomWatches;

  constructor(
    private readonly d: LifecycleDeps,
    private readonly sandboxes: SandboxService,
  ) {
    if (d.images) this.userFiles = new ImageUserFiles(d.images);
    this.ooms = new OomWatches(d.placement, (bundle) => d.conmon.markOom(bundle), d.log);
  }

  private get reg() {
    return this.d.registry;
  }

  /** watchExits starts watching conmon's exit directory, so that exits become STOPPED events promptly. */
  async watchExits(exitDir: string): Promise<void> {
    await mkdir(exitDir, { recursive: true, mode: 0o700 });
    this.watcher = watch(exitDir, (_type, name) => {
      if (!name || !this.reg.containers.has(name)) return;
      for (const wake of this.exitWaiters.get(name) ?? []) wake();
      void this.onExit(name);
    });
    this.watcher.on('error', (err) => this.d.log.warn({ err }, 'exit directory watch failed'));
  }

  /** close stops the exit watch and the OOM watches. */
  close(): void {
    this.watcher?.close();
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    this.ooms.close();
  }

  /**
   * watchOom arms the OOM watch of a container whose process exists (after `runc create`, before `runc start`; at
   * start-up for one that runs), from the cgroupsPath of its spec (read by the caller when it has it).
   */
  async watchOom(rec: ContainerRecord, spec?: Spec): Promise<void> {
    const path = (spec ?? (await this.spec(rec)))?.linux?.cgroupsPath;
    if (path) this.ooms.arm(rec.id, path, rec.bundle);
  }

  private async onExit(id: string): Promise<void> {
    try {
      await this.reg.locks.run(id, async () => {
        const rec = this.reg.containers.get(id);
        if (rec) await this.applyExit(rec);
      });
    } catch (err) {
      this.d.log.warn({ err, containerId: id }, 'recording a container exit failed');
    }
  }

  /** applyExit records an exit conmon reported, if any (the caller holds the container's lock). */
  async applyExit(rec: ContainerRecord): Promise<ContainerRecord> {
    if (rec.state === 'CONTAINER_EXITED' || rec.phase !== 'created') return rec;
    const ex = await this.d.conmon.readExit(rec.id);
    if (!ex) return rec;
    const oom = (await this.d.conmon.oomKilled(rec.bundle)) || (await this.cgroupOom(rec));
    this.ooms.disarm(rec.id);
    const next: ContainerRecord = { ...rec, state: 'CONTAINER_EXITED', exitCode: ex.exitCode, finishedAt: ex.finishedAt, reason: exitReason(ex.exitCode, oom), message: '' };
    await this.reg.saveContainer(next);
    if (oom) this.d.metrics?.oomKill();
    this.emit('CONTAINER_STOPPED_EVENT', next);
    return next;
  }

  private async cgroupOom(rec: ContainerRecord): Promise<boolean> {
    const spec = await this.spec(rec);
    const path = spec?.linux?.cgroupsPath;
    return path ? this.d.placement.oomKilled(this.d.placement.cgroupOf(path)) : false;
  }

  /** spec reads a container's OCI spec from its bundle. */
  async spec(rec: ContainerRecord): Promise<Spec | undefined> {
    return JSON.parse(await readFile(join(rec.bundle, 'config.json'), 'utf8').catch(() => 'null')) as Spec | undefined;
  }

  /** emit publishes a lifecycle event with the pod's and the container's status, in call order. */
  emit(type: ContainerEventType, rec: ContainerRecord): void {
    this.sandboxes.events.emit(type, rec.id, rec.sandboxId);
  }

  /** statusesOf gives the ContainerStatus of every container of a pod, exits applied (PodSandboxStatus, evented PLEG). */
  async statusesOf(sandboxId: string): Promise<Record<string, unknown>[]> {
    const recs = this.reg.containersOf(sandboxId).filter((c) => c.phase === 'created');
    const fresh = await Promise.all(recs.map((c) => this.reg.locks.run(c.id, () => this.fresh(c.id)).catch(() => undefined)));
    return fresh.filter((c) => c !== undefined).map(containerStatusOf);
  }

  /** create is CreateContainer: it gives the new container's id once `runc create` succeeded under conmon. */
  async create(podIdOrPrefix: string, config: ContainerConfig | null, signal: AbortSignal, log: Logger): Promise<string> {
    if (!config) throw invalidArgument('container config is required');
    const images = this.d.images;
    const userFiles = this.userFiles;
    if (!images || !userFiles) throw unimplemented('images are not available in this build');
    const pod = await this.sandboxes.readyPod(podIdOrPrefix);
    const name = containerName(config.metadata, pod.config.metadata);
    const imageRef = config.image?.image ?? '';
    if (!imageRef) throw invalidArgument('container config image.image is required');
    // Bad resources (cpusets such as 1--3, swap below memory, unified keys on cgroup v1, …) and mounts are refused before any
    // name is reserved or anything is made; the full spec is built later, once the rootfs is there.
    validateContainerResources(config.linux?.resources, this.d.host);
    await this.checkUnified(pod.cgroupParent, config.linux?.resources?.unified);
    validateCriMounts(config.mounts ?? [], this.d.host.recursiveReadOnlyMounts ?? false);
    checkImageMounts(config.mounts ?? []);
    // The container's user namespace is the pod's: the same mode (and mappings) or none given.
    const cns = config.linux?.security_context?.namespace_options?.userns_options;
    if (cns) {
      validateUserNamespace(config.linux?.security_context?.namespace_options, this.d.host.userNamespaces ?? false);
      const pns = pod.config.linux?.security_context?.namespace_options?.userns_options;
      if ((pns?.mode ?? 'NODE') !== cns.mode || (cns.mode === 'POD' && JSON.stringify([cns.uids, cns.gids]) !== JSON.stringify([pns?.uids, pns?.gids]))) {
        throw invalidArgument(`the container's user namespace (${cns.mode}) differs from its pod's (${pns?.mode ?? 'NODE'}); a container shares its pod's user namespace`);
      }
    }
    // Paths from the request that lead outside their place (a log_path with "..", a relative host_path) too.
    const logPath = validateContainerFields(config, pod.config);
    // A Localhost AppArmor profile the kernel has not loaded (runc would fail only at StartContainer).
    await checkApparmorLoaded(this.d.host, config.linux?.security_context);
    const volumeImages = imageIdsOf(images, config.mounts ?? []);
    const cdi = await planCdiDevices(this.d.config.runtime.cdi_spec_dirs, config);
    const id = this.d.ids.newId();
    this.reg.containerNames.reserve(name, id);
    const rb = new Rollback(log);
    rb.add('release name', async () => this.reg.containerNames.release(name, id));
    return this.reg.locks.run(id, () =>
      rb.guard(async () => {
        const t = new StepTimer(log, 'CreateContainer');
        const img = images.resolveImage(imageRef);
        const bundle = join(this.d.bundlesDir, id);
        // In a pod with its own user namespace, the mount points runc opens as the pod's root are in the pod's directory.
        const userns = podUsernsOf(this.d, pod);
        const idmap = userns ? layerIdmapOf(this.d, pod.id, userns) : undefined;
        const rootfs = userns ? join(userns.dir, id) : join(bundle, 'rootfs');
        const volumesDir = userns ? join(userns.dir, `${id}.volumes`) : join(bundle, 'volumes');
        let rec: ContainerRecord = {
          id, sandboxId: pod.id, name, config, image: imageRef, imageId: img.id, imageRef: img.repoDigests[0] ?? img.id, phase: 'creating',
          state: 'CONTAINER_CREATED', createdAt: nowNs(this.d.clock), startedAt: '0', finishedAt: '0', exitCode: 0, reason: '', message: '',
          pid: 0, logPath, bundle, rootfs, stopSignal: stopSignalOf(config.stop_signal, img.config.stopSignal), mounts: config.mounts ?? [],
          ...(volumeImages.length ? { imageVolumes: volumeImages.map((imageId, i) => ({ imageId, target: join(volumesDir, String(i)) })) } : {}),
        };
        // In memory only until it is complete: a crash before the one record write below leaves a bundle and a
        // writable layer that no record owns, and recovery's orphan sweep removes both.
        this.reg.holdContainer(rec);
        rb.add('forget container', () => this.reg.dropContainer(rec));
        rb.add('remove bundle', () => rm(bundle, { recursive: true, force: true }));
        rb.add('remove rootfs', () => images.removeRootfs(id));
        if (userns) rb.add('remove idmapped mounts', () => this.d.userns!.removeContainer(pod.id, id));
        // Independent steps at once (all of them end before any rollback runs): the mount point, the writable
        // layer, the pod's hostname, the host facts the spec needs, the log directory.
        const [, plan, hostname, host] = await settleAll([
          mkdir(rootfs, { recursive: true, mode: 0o700 }).then(() => (userns ? mkdir(bundle, { recursive: true, mode: 0o700 }) : undefined)), // the bundle and its mount point: root's alone
          images.prepareRootfs(id, img.id) as Promise<{ upperdir?: string } | undefined>,
          readFile(pod.hostnamePath ?? '', 'utf8').catch(() => ''),
          gatherContainerFacts(this.d.host, config, pod.config),
          logPath ? mkdir(dirname(logPath), { recursive: true }) : undefined,
        ] as const);
        if (plan?.upperdir) rec = { ...rec, upperDir: plan.upperdir };
        t.mark('rootfs, facts');
        // StartContainer mounts the rootfs; Create mounts it only to read the user files of an image not seen yet.
        rb.add('unmount rootfs', () => images.unmountRootfs(rootfs));
        const users = await userFiles.get(img.id, id, rootfs, idmap);
        t.mark('user files');
        const noexec = this.d.config.runtime.image_volumes_noexec;
        const volumes: ImageVolume[] = volumeImages.length ? await mountImageVolumes(images, volumesDir, config.mounts ?? [], volumeImages, noexec, rb, idmap) : [];
        if (userns) {
          await this.idmapVolumes(pod.id, id, userns.dir, config, host, log);
          t.mark('idmapped volumes');
        }
        if (volumes.length) {
          rec = { ...rec, mounts: statusMounts(config.mounts ?? [], volumes) };
          t.mark('image volumes');
        }
        const spec = buildContainerSpec(
          {
            id, config, image: img.config, passwd: parsePasswd(users.passwd), group: parseGroup(users.group), host, rootfs, seccompDefault: this.d.config.runtime.seccomp_default,
            cgroupsPath: this.d.placement.cgroupsPath(pod.cgroupParent, id),
            sandbox: {
              id: pod.id, config: pod.config, infraPid: pod.infraPid, netnsPath: pod.netnsPath, hostname: hostname.trim(),
              resolvPath: pod.resolvPath, hostsPath: pod.hostsPath, hostnamePath: pod.hostnamePath, shmPath: pod.shmPath,
              ...(userns ? { userns: { path: userns.pin, mappings: userns.mappings } } : {}),
            },
            targetPid: this.targetPid(config, pod.id),
            imageVolumes: { sources: Object.fromEntries(volumes.map((v) => [v.containerPath, v.source])), noexec },
          },
          (m) => log.warn({ containerId: id }, m),
        );
        if (cdi.edits.length) applyCdiEdits(spec, cdi.edits, cdi.hostDevices);
        t.mark('build spec');
        // The container exists for the CRI from here on; conmon and `runc create` wait for StartContainer, as
        // containerd's task does. The spec and the record are written at once: a crash between the two leaves a
        // record whose bundle has no spec, which recovery records EXITED (the call never answered).
        const user = spec.process!.user;
        rec = { ...rec, phase: 'created', user: { uid: user.uid, gid: user.gid, groups: user.additionalGids ?? [user.gid] } };
        await settleAll([writeFile(join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 }), this.reg.saveContainer(rec)] as const);
        t.mark('spec+record');
        t.done({ containerId: id });
        this.emit('CONTAINER_CREATED_EVENT', rec);
        log.info({ containerId: id, podSandboxId: pod.id, name }, 'container created');
        return id;
      }),
    );
  }

  /**
   * idmapVolumes gives each bind mount of a container in a pod with its own user namespace an idmapped copy of its
   * source (recursive, with the source mount's flags) in the pod's directory, and points the mount there: files
   * the host stores with the pod's host ids are the container's own ids inside, and runc, as the pod's root, can
   * open the copy. A filesystem that cannot be idmapped (proc, sysfs, some network filesystems) is bound as it is,
   * with a warning: its files then show as the overflow id inside.
   */
  private async idmapVolumes(podId: string, id: string, dir: string, config: ContainerConfig, host: { resolvedMountSources: Record<string, string> }, log: Logger): Promise<void> {
    const userns = this.d.userns!;
    let n = 0;
    for (const m of config.mounts ?? []) {
      if (m.image || !m.host_path) continue;
      const source = host.resolvedMountSources[m.host_path] ?? m.host_path;
      if (source.startsWith(dir + '/')) continue; // already a copy (the same host path twice)
      const target = join(dir, `${id}.m${n++}`);
      try {
        await userns.idmapMount(podId, source, target, true);
        host.resolvedMountSources[m.host_path] = target;
      } catch (err) {
        if (!isKind(err, 'FailedPrecondition')) throw err;
        log.warn({ containerId: id, err, source }, 'volume cannot be idmapped for the pod\'s user namespace; bound as it is');
        await rm(target, { recursive: true, force: true }).catch(() => undefined);
      }
    }
  }

  /** idmapOf gives the idmapped layers of a container whose pod has its own user namespace (else undefined). */
  private idmapOf(rec: ContainerRecord): LayerIdmap | undefined {
    const pod = this.reg.sandboxes.get(rec.sandboxId);
    const userns = pod ? podUsernsOf(this.d, pod) : undefined;
    return userns ? layerIdmapOf(this.d, rec.sandboxId, userns) : undefined;
  }

  /**
   * monitorCgroup is where a container's conmon goes, as the node's placement says: a sibling of the pod's
   * containers (`<pod cgroup>/conmon-<id>`, or `fune-conmon-<id>.scope` in the pod's slice), so that the pod pays
   * for its monitors (CRI-O's `conmon_cgroup = "pod"`) and they leave the daemon's cgroup (a restart, stop or limit
   * of the daemon's cgroup or unit does not touch them).
   */
  private monitorCgroup(podCgroupParent: string, id: string): string {
    return this.d.placement.monitorOf(podCgroupParent, id);
  }

  /**
   * settle does what follows `runc create` without holding up StartContainer: conmon moves into its cgroup, and
   * the limits runc applied are made to outlast the cgroup's manager (systemd unit properties). The container
   * runs either way; a failure is logged, not worth failing the start for.
   */
  private async settle(rec: ContainerRecord, cgroup: string, log: Logger): Promise<void> {
    const pid = await this.d.conmon.monitorPid(rec.bundle);
    const spec = await this.spec(rec);
    await Promise.all([
      (pid > 0 ? this.d.placement.placeMonitor(cgroup, pid) : Promise.resolve()).catch((err: unknown) => log.warn({ err, cgroup, pid }, 'moving conmon into its cgroup failed')),
      spec?.linux?.cgroupsPath && spec.linux.resources
        ? this.d.placement.keepLimits(spec.linux.cgroupsPath, spec.linux.resources).catch((err: unknown) => log.warn({ err, containerId: rec.id }, 'keeping the container limits as unit properties failed'))
        : undefined,
    ]);
  }

  /**
   * checkUnified has the kernel (and runc's systemd driver's grammar) judge the unified keys before anything is
   * made or changed, since runc would only fail on them at StartContainer, or half-way through `runc update`.
   */
  private async checkUnified(podCgroupParent: string, unified: Record<string, string> | undefined): Promise<void> {
    if (!unified || Object.keys(unified).length === 0 || this.d.host.cgroupMode !== 'v2') return;
    await this.d.placement.checkUnified(podCgroupParent, unified);
  }

  private targetPid(config: ContainerConfig, podId: string): number | undefined {
    const target = config.linux?.security_context?.namespace_options;
    if (target?.pid !== 'TARGET' || !target.target_id) return undefined;
    const t = this.reg.containers.get(target.target_id);
    if (!t || t.sandboxId !== podId || t.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`target container ${target.target_id} is not running in pod ${podId}`);
    return t.pid;
  }

  /** record looks a container up by id or prefix, with any exit applied (the caller holds its lock). */
  private async fresh(id: string): Promise<ContainerRecord> {
    return this.applyExit(this.reg.containers.get(id)!);
  }

  /**
   * current is `fresh` under the container's lock for the read-only calls (the relist's ListContainers and
   * ContainerStatus): when no call holds the lock and applyExit has nothing to apply (no exit file from conmon), the
   * record is the answer at once, without a turn through the lock; otherwise it waits for the lock as before.
   */
  private current(id: string): ContainerRecord | Promise<ContainerRecord> {
    const rec = this.reg.containers.get(id)!;
    if (!this.reg.locks.busy(id) && (rec.state === 'CONTAINER_EXITED' || rec.phase !== 'created' || !this.d.conmon.hasExit(id))) return rec;
    return this.reg.locks.run(id, () => this.fresh(id));
  }

  /**
   * start is StartContainer: conmon runs `runc create` (a container made by CreateContainer has no process yet),
   * then `runc start`. Any failure leaves the container EXITED with reason StartError and exit code 128, its
   * runtime leftovers released, as containerd does.
   */
  async start(idOrPrefix: string, signal: AbortSignal, log: Logger): Promise<void> {
    const id = this.reg.containerId(idOrPrefix);
    await this.reg.locks.run(id, async () => {
      const rec = await this.fresh(id);
      if (rec.state !== 'CONTAINER_CREATED') throw failedPrecondition(`container ${id} is in state ${rec.state}, not CONTAINER_CREATED`);
      const t = new StepTimer(log, 'StartContainer');
      const startedAt = nowNs(this.d.clock);
      let next: ContainerRecord;
      let saved: PromiseSettledResult<void>;
      try {
        const [, , spec] = await Promise.all([this.d.images?.mountRootfs(id, rec.rootfs, this.idmapOf(rec)), this.remountImageVolumes(rec), this.spec(rec)]);
        t.mark('rootfs mount');
        // A record with a pid was created under conmon by an older fune: only `runc start` is left to do.
        const created = rec.pid > 0 ? rec : await this.createRuntime(rec, signal, log, t);
        // Its cgroup exists from `runc create` on, and nothing of it runs before `runc start`: no kill is missed.
        await this.watchOom(created, spec);
        // Moving conmon (a cgroup attach takes milliseconds on v1; a transient scope a systemd call) is not waited
        // for: the container runs either way, and whatever removes the cgroup waits for the move first.
        if (created !== rec && created.monitorCgroup) this.placing.begin(id, this.settle(rec, created.monitorCgroup, log));
        next = { ...created, state: 'CONTAINER_RUNNING', startedAt };
        // The RUNNING record is written while `runc start` runs (both take some 20 ms under load). Readers wait for
        // this call's lock, so none sees it before the start is done; a failed start waits for the write and then
        // records EXITED (failStart); and a crash between the two is set right by recovery, which goes by runc's
        // state (a container runc still has `created` is recorded CREATED again, as after a crash before the write).
        const [started, write] = await Promise.allSettled([this.d.runc.start(id, signal, created.pid), this.reg.saveContainer(next)]);
        if (started.status === 'rejected') throw started.reason;
        saved = write;
        t.mark('runc start+record');
      } catch (e) {
        await this.failStart(rec, e, log);
        throw e;
      }
      if (saved.status === 'rejected') throw saved.reason;
      t.done({ containerId: id });
      this.emit('CONTAINER_STARTED_EVENT', next);
      log.info({ containerId: id, pid: next.pid }, 'container started');
    });
  }

  /** createRuntime has conmon run `runc create` for a created container and gives its record with the pid. */
  private async createRuntime(rec: ContainerRecord, signal: AbortSignal, log: Logger, t: StepTimer): Promise<ContainerRecord> {
    const pod = this.reg.sandboxes.get(rec.sandboxId);
    if (!pod || (await this.sandboxes.effectiveState(pod)) !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${rec.sandboxId} of container ${rec.id} is not ready`);
    const c = rec.config;
    const { pid } = await this.d.conmon.create({ id: rec.id, bundle: rec.bundle, logPath: rec.logPath, terminal: c.tty, stdin: c.stdin, stdinOnce: c.stdin_once }, signal);
    t.mark('conmon+runc create');
    const monitorCgroup = this.monitorCgroup(pod.cgroupParent, rec.id);
    log.debug({ containerId: rec.id, pid }, 'container created under conmon');
    return { ...rec, pid, pidStartTime: (await readProcStat(pid))?.startTime, monitorCgroup };
  }

  /** failStart releases what a failed start left (runc state, conmon, its cgroup, the rootfs mount) and records the container EXITED. */
  private async failStart(rec: ContainerRecord, err: unknown, log: Logger): Promise<void> {
    this.ooms.disarm(rec.id);
    try {
      await this.releaseUnstarted(rec);
      const next: ContainerRecord = { ...rec, pid: 0, state: 'CONTAINER_EXITED', exitCode: 128, finishedAt: nowNs(this.d.clock), reason: 'StartError', message: errorMessage(err) };
      await this.reg.saveContainer(next);
      this.emit('CONTAINER_STOPPED_EVENT', next);
    } catch (e) {
      log.warn({ err: e, containerId: rec.id }, 'recording a failed start failed');
    }
  }

  /**
   * releaseUnstarted removes the runtime leftovers of a start that failed or was cut short by a crash: runc's
   * container, conmon, conmon's exit file and cgroup, and the rootfs mount. The bundle and writable layer stay.
   */
  private async releaseUnstarted(rec: ContainerRecord, unmount = true): Promise<void> {
    await Promise.all([this.d.runc.delete(rec.id, true), this.d.conmon.killMonitor(rec.bundle).catch(() => undefined)]);
    const pod = this.reg.sandboxes.get(rec.sandboxId);
    const monitorCgroup = rec.monitorCgroup ?? (pod ? this.monitorCgroup(pod.cgroupParent, rec.id) : undefined);
    await Promise.all([
      this.d.conmon.removeArtifacts(rec.id),
      rm(join(rec.bundle, 'conmon.pid'), { force: true }),
      monitorCgroup ? this.placing.quiet(rec.id).then(() => this.d.placement.removeMonitor(monitorCgroup)) : undefined,
      unmount ? this.unmountAll(rec) : undefined,
    ]);
  }

  /**
   * recoverUnstarted is recovery of a CREATED container with no process on record: a start cut short by a crash
   * may have left conmon and runc's container behind (they are removed; the container stays CREATED, as containerd
   * keeps it); its rootfs is mounted again, and a container whose bundle is gone (the state dir did not survive a
   * reboot) is recorded EXITED, since it can no longer start.
   */
  async recoverUnstarted(rec: ContainerRecord): Promise<void> {
    this.d.log.info({ containerId: rec.id }, 'recovery: container was never started; removing what a cut-short start may have left');
    await this.releaseUnstarted(rec, false);
    const spec = await this.spec(rec).catch(() => undefined);
    if (!spec) {
      const next: ContainerRecord = { ...rec, state: 'CONTAINER_EXITED', exitCode: 128, finishedAt: nowNs(this.d.clock), reason: 'StartError', message: `bundle ${rec.bundle} was lost while fune was down` };
      await this.reg.saveContainer(next);
      return;
    }
    await this.d.images?.mountRootfs(rec.id, rec.rootfs, this.idmapOf(rec));
  }

  /**
   * stop is StopContainer: the stop signal, `timeout` seconds, then SIGKILL; stopping a stopped container does
   * nothing, and neither does stopping one that does not exist (the CRI asks for idempotence, cri-tools#1536;
   * containerd 1.6.35/1.7.21/2.0 and CRI-O 1.31 answer OK).
   */
  async stop(idOrPrefix: string, timeoutSec: number, log: Logger): Promise<void> {
    const id = this.reg.findContainerId(idOrPrefix);
    if (id === undefined) return;
    await this.reg.locks.run(id, () => this.stopLocked(id, timeoutSec, log));
  }

  private async stopLocked(id: string, timeoutSec: number, log: Logger): Promise<void> {
    const t = new StepTimer(log, 'StopContainer');
    let rec = await this.fresh(id);
    t.mark('fresh');
    if (rec.state === 'CONTAINER_EXITED' || rec.phase !== 'created') return;
    // Never started: nothing runs, and the container stays CREATED (containerd skips it the same way).
    if (rec.state === 'CONTAINER_CREATED' && rec.pid === 0) return;
    if (timeoutSec > 0 && rec.state === 'CONTAINER_RUNNING') {
      await this.signal(rec, rec.stopSignal);
      t.mark('signal');
      rec = await this.waitExit(rec, timeoutSec * 1000);
      t.mark('wait');
    }
    if (rec.state !== 'CONTAINER_EXITED') {
      await this.signal(rec, 9);
      t.mark('kill');
      rec = await this.waitExit(rec, 10_000);
      t.mark('wait kill');
    }
    if (rec.state !== 'CONTAINER_EXITED') {
      // No exit file: conmon is gone. Record what is known rather than report a running container forever.
      this.ooms.disarm(rec.id);
      const next: ContainerRecord = { ...rec, state: 'CONTAINER_EXITED', exitCode: 137, finishedAt: nowNs(this.d.clock), reason: 'Error', message: 'exit status unknown: the container monitor is gone' };
      await this.reg.saveContainer(next);
      this.emit('CONTAINER_STOPPED_EVENT', next);
    }
    await this.releaseRuntime(rec);
    t.mark('release');
    t.done({ containerId: id });
    log.info({ containerId: id }, 'container stopped');
  }

  /**
   * signal sends `sig` to the container's init. When its pid and start time are on record the pid is checked
   * against /proc and signalled directly (what `runc kill` does, without starting runc); else through runc.
   */
  private async signal(rec: ContainerRecord, sig: number): Promise<void> {
    if (rec.pid > 0 && rec.pidStartTime) {
      if (!(await processAlive(rec.pid, rec.pidStartTime))) return;
      try {
        process.kill(rec.pid, sig);
      } catch {
        // exited in between
      }
      return;
    }
    try {
      await this.d.runc.kill(rec.id, sig);
    } catch (e) {
      if (!isKind(e, 'NotFound') && !isKind(e, 'FailedPrecondition')) throw e;
    }
  }

  /**
   * waitExit waits for conmon's exit file of `rec`, woken by the exit directory watch (with a slow poll as a
   * fallback), up to `ms`; it gives up early when both the container and its conmon are gone for a second.
   */
  private async waitExit(rec: ContainerRecord, ms: number): Promise<ContainerRecord> {
    const until = Date.now() + ms;
    let goneSince = 0;
    let wake: () => void = () => undefined;
    const waiters = this.exitWaiters.get(rec.id) ?? new Set<() => void>();
    this.exitWaiters.set(rec.id, waiters);
    const onWake = () => wake();
    waiters.add(onWake);
    try {
      for (;;) {
        const woken = new Promise<void>((r) => (wake = r));
        const next = await this.applyExit(rec);
        if (next.state === 'CONTAINER_EXITED') return next;
        if (Date.now() > until) return next;
        if (rec.pid > 0 && !(await processAlive(rec.pid)) && !(await processAlive(await this.d.conmon.monitorPid(rec.bundle)))) {
          goneSince ||= Date.now();
          if (Date.now() - goneSince > 1000) return next;
        }
        await Promise.race([woken, sleep(100)]);
      }
    } finally {
      waiters.delete(onWake);
      if (waiters.size === 0) this.exitWaiters.delete(rec.id);
    }
  }

  /**
   * releaseRuntime frees what an exited container no longer needs, at stop time as containerd's shim does on
   * exit: runc's state and cgroup (`runc delete`) and the rootfs mount, at once. The writable layer, bundle, logs
   * and record stay until RemoveContainer.
   */
  private async releaseRuntime(rec: ContainerRecord): Promise<void> {
    await Promise.all([this.d.runc.delete(rec.id, true), this.unmountAll(rec)]);
  }

  /** unmountAll unmounts the container's rootfs and its image volumes. */
  private async unmountAll(rec: ContainerRecord): Promise<void> {
    const images = this.d.images;
    if (!images) return;
    await Promise.all([images.unmountRootfs(rec.rootfs), ...(rec.imageVolumes ?? []).map((v) => images.unmountRootfs(v.target))]);
  }

  /** remountImageVolumes mounts the image volumes of a created container again where they are gone (StartContainer). */
  private async remountImageVolumes(rec: ContainerRecord): Promise<void> {
    const images = this.d.images;
    if (!images) return;
    const idmap = this.idmapOf(rec);
    await Promise.all((rec.imageVolumes ?? []).map((v) => images.mountImageVolume(v.imageId, v.target, this.d.config.runtime.image_volumes_noexec, idmap)));
  }

  /** volumeUser names a container (of any state) that mounts image `imageId` as a volume (RemoveImage refuses then). */
  volumeUser(imageId: string): string | undefined {
    return [...this.reg.containers.values()].find((c) => c.phase !== 'removing' && c.imageVolumes?.some((v) => v.imageId === imageId))?.id;
  }

  /** stopForPod kills every container of a pod (StopPodSandbox). */
  async stopForPod(sandboxId: string, log: Logger): Promise<void> {
    await Promise.all(this.reg.containersOf(sandboxId).filter((c) => c.phase === 'created').map((c) => this.reg.locks.run(c.id, () => this.stopLocked(c.id, 0, log))));
  }

  /**
   * removeForPod removes every container of a pod (RemovePodSandbox), and waits until what their removals left
   * for after the answer is gone too (the pod's cgroup and directory go next).
   */
  async removeForPod(sandboxId: string, log: Logger): Promise<void> {
    await Promise.all(this.reg.containersOf(sandboxId).map((c) => this.remove(c.id, log).then(() => this.removals.quiet(c.id))));
  }

  /**
   * remove is RemoveContainer: kill if running, unmount, then set the record aside as a tombstone (durably) and answer; the
   * writable layer, the bundle, runc's and conmon's leftovers, the monitor's cgroup and at last the record go after
   * the answer, under the container's lock (see finishRemoval). A crash in between leaves the `removing` record,
   * and recovery finishes the removal before fune serves. An absent id, or one already being removed, is fine.
   */
  async remove(idOrPrefix: string, log: Logger): Promise<void> {
    const id = this.reg.containers.has(idOrPrefix) ? idOrPrefix : this.reg.findContainerId(idOrPrefix);
    if (id === undefined) return;
    await this.reg.locks.run(id, async () => {
      const rec = this.reg.containers.get(id);
      if (!rec || rec.phase === 'removing') return;
      const t = new StepTimer(log, 'RemoveContainer');
      if (rec.phase !== 'created') {
        // A half-made container (its record never written; its create failed and is being undone): all at once.
        await this.cleanup(rec, t);
        t.done({ containerId: id });
        return;
      }
      await this.stopLocked(id, 0, log);
      t.mark('stop');
      // Unmounted before the answer (after a stop nothing is mounted, and this is a statx each): an image is free
      // for RemoveImage once no container but those being removed mounts it.
      await this.unmountAll(rec);
      t.mark('unmount');
      const tomb = await this.reg.markRemoving(this.reg.containers.get(id) ?? rec);
      this.ooms.disarm(id);
      t.mark('tombstone');
      t.done({ containerId: id });
      this.emit('CONTAINER_DELETED_EVENT', rec);
      log.info({ containerId: id }, 'container removed');
      this.removals.begin(id, this.reg.locks.run(id, () => this.finishRemoval(tomb, log)));
    });
  }

  /** resumeRemoval finishes at start-up a removal that answered before a crash (recovery; nothing serves yet). */
  resumeRemoval(tomb: ContainerRecord): Promise<void> {
    return this.finishRemoval(tomb, this.d.log);
  }

  /**
   * finishRemoval is the part of a removal after the answer. A failure (a file that cannot be deleted, say) is
   * logged and tried again later, 1 s then twice as long each time up to 5 min, while the `removing` record stays;
   * the next start tries it again too (recovery).
   */
  private async finishRemoval(tomb: ContainerRecord, log: Logger, attempt = 0): Promise<void> {
    if (this.reg.containers.get(tomb.id) !== tomb) return;
    const t = new StepTimer(log, 'RemoveContainer (after the answer)');
    try {
      await this.cleanup(tomb, t);
      t.done({ containerId: tomb.id });
    } catch (err) {
      const delayMs = Math.min(1000 * 2 ** attempt, 300_000);
      log.warn({ err, containerId: tomb.id, attempt, retryInMs: delayMs }, `removing what container ${tomb.id} left failed; trying again in ${delayMs} ms: ${errorMessage(err)}`);
      const timer = setTimeout(() => {
        this.retries.delete(timer);
        this.removals.begin(tomb.id, this.reg.locks.run(tomb.id, () => this.finishRemoval(tomb, log, attempt + 1)));
      }, delayMs);
      timer.unref();
      this.retries.add(timer);
    }
  }

  /** cleanup removes what a container left on the host and its record (recovery uses it for half-made ones). */
  async cleanup(rec: ContainerRecord, t?: StepTimer): Promise<void> {
    this.ooms.disarm(rec.id);
    // A start cut short (crash) may have moved conmon before its record said so.
    const pod = this.reg.sandboxes.get(rec.sandboxId);
    const monitorCgroup = rec.monitorCgroup ?? ((rec.phase === 'creating' || rec.pid === 0) && pod ? this.monitorCgroup(pod.cgroupParent, rec.id) : undefined);
    const images = this.d.images;
    // Independent chains at once: the runtime (runc, conmon, then conmon's cgroup), the rootfs mount (then the
    // writable layer), conmon's exit file and socket link; the bundle goes once conmon's pid file in it was read
    // and the mount point in it is free.
    const runtime = Promise.all([this.d.runc.delete(rec.id, true), this.d.conmon.killMonitor(rec.bundle).catch(() => undefined)]);
    const unmounted = this.unmountAll(rec);
    // Every chain ends before a failure is thrown: a removal tried again must not meet the last one still running.
    await settleAll([
      runtime.then(async () => {
        await this.placing.quiet(rec.id);
        if (monitorCgroup) await this.d.placement.removeMonitor(monitorCgroup);
      }),
      unmounted.then(() => images?.removeRootfs(rec.id)),
      pod?.usernsPath && this.d.userns ? unmounted.then(() => this.d.userns!.removeContainer(rec.sandboxId, rec.id)) : undefined,
      Promise.all([runtime, unmounted]).then(() => rm(rec.bundle, { recursive: true, force: true })),
      this.d.conmon.removeArtifacts(rec.id),
    ] as const);
    t?.mark('runtime+cgroup+rootfs+files');
    await this.reg.dropContainer(rec);
    t?.mark('record');
  }

  /** status is ContainerStatus; `verbose` adds the pid and OCI spec under info["info"], as containerd does. */
  async status(idOrPrefix: string, verbose: boolean): Promise<{ status: Record<string, unknown>; info: Record<string, string> }> {
    const { rec, resources } = await this.statusRecord(idOrPrefix);
    const info: Record<string, string> = {};
    if (verbose) {
      info.info = JSON.stringify({ sandboxID: rec.sandboxId, pid: rec.pid, removing: false, snapshotKey: rec.id, runtimeType: 'runc', bundle: rec.bundle, config: rec.config, runtimeSpec: await this.spec(rec) });
    }
    const status = containerStatusOf(rec);
    if (resources) status.resources = resources;
    return { status, info };
  }

  /**
   * statusRecord is what ContainerStatus reports of a container: its record with any exit applied, and the resources
   * its cgroup holds when they are to be reported instead of the record's (a running container with CRI resources).
   */
  async statusRecord(idOrPrefix: string): Promise<{ rec: ContainerRecord; resources?: { linux: unknown; windows: null } }> {
    const id = this.reg.containerId(idOrPrefix);
    const rec = await this.current(id);
    const resources = await resourcesStatus(rec, this.reg.sandboxes.get(rec.sandboxId), this.d.placement, this.d.host.cgroupMode);
    return resources ? { rec, resources } : { rec };
  }

  /** list is ListContainers with its filter (id or prefix, state, pod, labels). */
  async list(filter: ContainerFilter | null): Promise<Record<string, unknown>[]> {
    return (await this.listRecords(filter)).map(containerListItemOf);
  }

  /** listRecords gives the records ListContainers reports, exits applied, filtered, oldest first. */
  async listRecords(filter: ContainerFilter | null): Promise<ContainerRecord[]> {
    const recs = [...this.reg.containers.values()].filter((c) => c.phase === 'created');
    const got = recs.map((c) => (c.state === 'CONTAINER_EXITED' ? c : this.current(c.id)));
    const fresh = got.some((g) => g instanceof Promise) ? await Promise.all(got.map((g) => Promise.resolve(g))) : (got as ContainerRecord[]);
    return filterContainers(fresh.filter((c) => c !== undefined), filter).sort((a, b) => compareNs(a.createdAt, b.createdAt));
  }

  /** updateResources is UpdateContainerResources: `runc update` with the translated resources (unified included). */
  async updateResources(idOrPrefix: string, res: LinuxContainerResources | null, log: Logger): Promise<void> {
    const id = this.reg.containerId(idOrPrefix);
    await this.reg.locks.run(id, async () => {
      const rec = await this.fresh(id);
      if (rec.state !== 'CONTAINER_RUNNING' && rec.state !== 'CONTAINER_CREATED') throw failedPrecondition(`container ${id} is in state ${rec.state}; only created or running containers can be updated`);
      if (!res) return;
      const oci = resourcesToOci(res, this.d.host);
      const pod = this.reg.sandboxes.get(rec.sandboxId);
      if (pod) await this.checkUnified(pod.cgroupParent, oci.unified);
      if (rec.pid > 0) {
        const path = (await this.spec(rec))?.linux?.cgroupsPath;
        await this.d.runc.update(id, oci);
        // runc 1.1 updates no hugetlb limit (it writes those of its state again, the ones of runc create): fune
        // writes them after it.
        if (path && oci.hugepageLimits) await this.d.placement.setHugepageLimits(path, oci.hugepageLimits);
        if (path) await this.d.placement.keepLimits(path, oci);
      } else {
        // Not started yet: the resources go into the bundle's spec, which `runc create` reads at StartContainer.
        const spec = await this.spec(rec);
        if (!spec?.linux) throw failedPrecondition(`container ${id} has no OCI spec in ${rec.bundle}`);
        await writeFileAtomic(join(rec.bundle, 'config.json'), JSON.stringify({ ...spec, linux: { ...spec.linux, resources: { ...spec.linux.resources, ...oci } } }));
      }
      const linux = { ...(rec.config.linux ?? { security_context: null }), resources: res };
      await this.reg.saveContainer({ ...rec, config: { ...rec.config, linux } });
      log.info({ containerId: id }, 'container resources updated');
    });
  }

  /** reopenLog is ReopenContainerLog: conmon reopens the log file; the path exists when this returns. */
  async reopenLog(idOrPrefix: string): Promise<void> {
    const id = this.reg.containerId(idOrPrefix);
    const rec = await this.reg.locks.run(id, () => this.fresh(id));
    if (rec.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${id} is not running`);
    if (!rec.logPath) return;
    await this.d.conmon.reopenLog(rec.bundle);
    for (let i = 0; i < 250; i++) {
      if (await access(rec.logPath).then(() => true, () => false)) return;
      await sleep(20);
    }
    throw failedPrecondition(`conmon did not reopen ${rec.logPath}`);
  }

  /** runningContainer is the streaming lookup: what exec and attach need of a running container. */
  async runningContainer(idOrPrefix: string): Promise<StreamContainer> {
    const id = this.reg.containerId(idOrPrefix);
    const rec = await this.reg.locks.run(id, () => this.fresh(id));
    if (rec.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${id} is not running (state ${rec.state})`);
    return {
      id, runcRoot: this.d.runc.root, bundleDir: rec.bundle, attachSocketPath: this.d.conmon.attachSocketPath(id),
      ctlPipePath: this.d.conmon.ctlPath(rec.bundle), tty: rec.config.tty, stdin: rec.config.stdin,
    };
  }

  /** podNetns is the streaming lookup of a ready pod's network namespace (null for a host-network pod). */
  async podNetns(podIdOrPrefix: string): Promise<string | null> {
    const pod = await this.sandboxes.readyPod(podIdOrPrefix);
    return pod.hostNetwork ? null : (pod.netnsPath ?? `/proc/${pod.infraPid}/ns/net`);
  }
}
