import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { PodSandboxConfig } from '../domain/cri-types.js';
import type { NetnsManager } from '../network/netns.js';
import { findPlugin, type CniConfLoader, type NetworkConfList } from '../network/cni-config.js';
import { CNI_IFNAME, type CniCallArgs, type CniInvoker } from '../network/cni-invoke.js';
import { parseCniResult, podIps } from '../network/cni-result.js';
import { cniArgsOf, runtimeConfigOf } from '../network/pod-args.js';
import type { HostPortExposer, PortMapping } from '../network/rootless-ports.js';
import { RuntimeError, failedPrecondition, internal, isErrno } from '../errors/index.js';
import { TMP_PREFIX, writeFileAtomic } from '../store/atomic-file.js';
import type { Condition, NetworkReadiness } from './runtime-info.js';

/** PodNetworkParams name the pod whose network is set up or torn down. */
export interface PodNetworkParams {
  /** id is the pod sandbox id. */
  id: string;
  /** config is the pod's sandbox config (metadata, port mappings, annotations, DNS); not needed on tear-down. */
  config?: PodSandboxConfig | null;
  /** hostNetwork pods share the host's namespace: no netns, no CNI. */
  hostNetwork: boolean;
  /** usernsPath is the pod's pinned user namespace (POD mode), which is to own the network namespace. */
  usernsPath?: string;
}

/** PodNetwork is what setUpPod made: the pinned namespace (absent for host-network pods) and the pod IPs. */
export interface PodNetwork {
  netnsPath?: string;
  /** ips are the pod IPs, the primary (IPv4 when there is one) first. */
  ips: string[];
}

/** PreparedPodNetwork is a pod whose namespace exists (absent for host-network pods); attach runs CNI ADD in it, once. */
export interface PreparedPodNetwork {
  netnsPath?: string;
  attach(signal?: AbortSignal): Promise<PodNetwork>;
}

type LoadedConf = Extract<ReturnType<CniConfLoader['current']>, { ok: true }>;

/** NetworkServiceDeps are what NetworkService works with. */
export interface NetworkServiceDeps {
  netns: NetnsManager;
  /** conf loads the CNI network configuration; invoker runs its plugins. */
  conf: CniConfLoader;
  invoker: CniInvoker;
  /** binDirs are where plugins are looked up again on tear-down (the cached list may name other plugins). */
  binDirs: readonly string[];
  /** cacheDir holds one file per attached pod: the list, args and result of its ADD, for DEL. */
  cacheDir: string;
  log: Logger;
  /** delRetryDelaysMs are the pauses between DEL attempts (default 200 ms, 1 s). */
  delRetryDelaysMs?: number[];
  /**
   * hostPorts, under RootlessKit, makes each pod's hostPorts reachable from the host's own network namespace too
   * (network/rootless-ports.ts); absent elsewhere.
   */
  hostPorts?: HostPortExposer;
}

/** PodNetCache is what is kept of an ADD so that DEL gets the same config, args and result (CNI spec, section 3). */
interface PodNetCache {
  version: 1;
  podId: string;
  /** phase is 'adding' from before the first plugin runs until the result is kept. */
  phase: 'adding' | 'added';
  netns: string;
  conf: NetworkConfList;
  cniArgs: [string, string][];
  runtimeConfig: Record<string, unknown>;
  result?: unknown;
  ips: string[];
  /** hostPorts are the pod's mappings as asked, exposed on the host through RootlessKit (only with a HostPortExposer). */
  hostPorts?: PortMapping[];
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/**
 * NetworkService gives pods their network: a pinned network namespace with `lo` up (always, whatever the conflist
 * says: containerd's use_internal_loopback), then the first CNI network of the conf dir. The sandbox service calls
 * setUpPod before it starts the infra process, tearDownPod on stop, removePod on removal, and recover at start-up.
 */
export class NetworkService implements NetworkReadiness {
  private podCidr = '';
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: NetworkServiceDeps) {}

  /** setPodCidr takes the pod CIDR of UpdateRuntimeConfig (RuntimeInfoService.onPodCidr), handed to plugins as ipRanges. */
  setPodCidr(cidr: string): void {
    this.podCidr = cidr;
  }

  /** netnsPath gives where pod `id`'s namespace is pinned (whether or not it exists). */
  netnsPath(id: string): string {
    return this.deps.netns.pathOf(id);
  }

  /** networkCondition is the NetworkReady condition of Status: false, with the reason, while no usable conflist exists. */
  networkCondition(): Condition {
    const c = this.deps.conf.current();
    return c.ok ? { type: 'NetworkReady', status: true, reason: '', message: '' } : { type: 'NetworkReady', status: false, reason: c.reason, message: c.message };
  }

  /**
   * setUpPod creates the pod's network namespace and runs CNI ADD in it (host-network pods get neither). A failed
   * ADD is undone with DEL and the namespace removed: on failure nothing is left behind.
   */
  async setUpPod(p: PodNetworkParams, signal?: AbortSignal): Promise<PodNetwork> {
    return (await this.preparePod(p, signal)).attach(signal);
  }

  /**
   * preparePod is the first half of setUpPod: it creates the pod's namespace (with `lo` up) and records the coming
   * ADD, so that the infra process can be started in the namespace while `attach` runs CNI ADD in it. Nothing is
   * created when the network is not ready or the pod's annotations are bad. A failed attach undoes itself (DEL, the
   * namespace removed); a caller that gives up before attaching calls removePod.
   */
  preparePod(p: PodNetworkParams, signal?: AbortSignal): Promise<PreparedPodNetwork> {
    return this.locked(p.id, () => this.doPrepare(p, signal));
  }

  /** tearDownPod runs CNI DEL for the pod (retried); idempotent, and fine when the namespace is gone. */
  tearDownPod(p: PodNetworkParams, signal?: AbortSignal): Promise<void> {
    if (p.hostNetwork) return Promise.resolve();
    return this.locked(p.id, () => this.doTearDown(p.id, signal));
  }

  /** removePod tears the pod's network down if that is still pending, then removes its namespace; absent is fine. */
  removePod(id: string, signal?: AbortSignal): Promise<void> {
    return this.locked(id, async () => {
      await this.doTearDown(id, signal);
      await this.deps.netns.remove(id);
    });
  }

  /** podNetwork gives what is known of an attached pod (after a restart too), or undefined. */
  async podNetwork(id: string): Promise<PodNetwork | undefined> {
    const c = await this.readCache(id);
    return c ? { netnsPath: c.netns, ips: c.ips } : undefined;
  }

  /**
   * recover runs at start-up with the ids of the pods the daemon knows: the network of an unknown pod (a crash during
   * RunPodSandbox, or a record removed while down) is torn down and its namespace removed. It gives the known ids
   * whose namespace still exists.
   */
  async recover(knownPodIds: Iterable<string>): Promise<string[]> {
    const known = new Set(knownPodIds);
    await this.deps.netns.prepareDir();
    const alive: string[] = [];
    const orphans = new Set<string>();
    for (const ns of await this.deps.netns.list()) {
      if (known.has(ns.podId)) {
        if (ns.mounted) alive.push(ns.podId);
      } else orphans.add(ns.podId);
    }
    for (const id of await this.cachedIds()) if (!known.has(id)) orphans.add(id);
    for (const n of await readdir(this.deps.cacheDir).catch(() => [] as string[])) {
      if (n.startsWith(TMP_PREFIX)) await rm(join(this.deps.cacheDir, n), { force: true }); // a write cut short by a crash
    }
    for (const id of orphans) {
      this.deps.log.info({ podSandboxId: id }, 'removing the network of an unknown pod');
      await this.removePod(id).catch((err: unknown) => this.deps.log.warn({ err, podSandboxId: id }, 'could not remove the network of an unknown pod'));
    }
    return alive;
  }

  private async doPrepare(p: PodNetworkParams, signal?: AbortSignal): Promise<PreparedPodNetwork> {
    if (p.hostNetwork) return { attach: () => Promise.resolve({ ips: [] }) };
    const loaded = this.deps.conf.current();
    if (!loaded.ok) throw failedPrecondition(`pod network is not ready: ${loaded.message}`);
    const args: Omit<CniCallArgs, 'netns'> = {
      containerId: p.id,
      ifName: CNI_IFNAME,
      cniArgs: cniArgsOf(p.id, p.config),
      runtimeConfig: runtimeConfigOf(p.config, this.podCidr),
    };
    // Under RootlessKit a list that maps ports (a portMappings plugin) gets them exposed on the host as well.
    const mappings = args.runtimeConfig.portMappings as PortMapping[] | undefined;
    const exposer = this.deps.hostPorts;
    const hostPorts = exposer && mappings?.length && loaded.conf.plugins.some((x) => x.capabilities?.portMappings === true) ? mappings : undefined;
    if (exposer && hostPorts) args.runtimeConfig.portMappings = exposer.forCni(hostPorts);
    const t0 = performance.now();
    const netns = this.deps.netns.pathOf(p.id);
    const cache: PodNetCache = { version: 1, podId: p.id, phase: 'adding', netns, conf: loaded.conf, cniArgs: args.cniArgs, runtimeConfig: args.runtimeConfig, ips: [], ...(hostPorts ? { hostPorts } : {}) };
    // The namespace and the durable 'adding' record are independent: make them at the same time.
    const [made, kept] = await Promise.allSettled([this.deps.netns.create(p.id, signal, p.usernsPath), this.writeCache(cache, true)]);
    if (made.status === 'rejected' || kept.status === 'rejected') {
      // create() removes what it made itself on failure (and never touches a live namespace it refused).
      if (made.status === 'fulfilled') await this.deps.netns.remove(p.id).catch(() => undefined);
      await rm(this.cachePath(p.id), { force: true }).catch(() => undefined);
      throw made.status === 'rejected' ? made.reason : (kept as PromiseRejectedResult).reason;
    }
    const netnsMs = Math.round(performance.now() - t0);
    let attached: Promise<PodNetwork> | undefined;
    const attach = (sig?: AbortSignal) => (attached ??= this.locked(p.id, () => this.doAttach(p.id, loaded, { ...args, netns }, cache, netnsMs, sig)));
    return { netnsPath: netns, attach };
  }

  private async doAttach(id: string, loaded: LoadedConf, a: CniCallArgs, cache: PodNetCache, netnsMs: number, signal?: AbortSignal): Promise<PodNetwork> {
    const t1 = performance.now();
    let exposed = false;
    try {
      const raw = await this.deps.invoker.addList(loaded.conf, loaded.binaries, a, signal);
      let ips: string[];
      try {
        ips = podIps(parseCniResult(raw, loaded.conf.cniVersion), CNI_IFNAME);
      } catch (e) {
        throw internal(`CNI network ${loaded.conf.name}: bad ADD result: ${(e as Error).message}`);
      }
      // The host's side once portmap maps the ports inside (all or none).
      if (cache.hostPorts && this.deps.hostPorts) {
        await this.deps.hostPorts.expose(cache.hostPorts);
        exposed = true;
      }
      // Not fsynced (libcni does not either): a machine crash that loses it leaves the durable 'adding' record,
      // which is enough for DEL; a daemon crash loses nothing, the page cache survives it.
      await this.writeCache({ ...cache, phase: 'added', result: raw, ips }, false);
      this.deps.log.debug({ podSandboxId: id, network: loaded.conf.name, ips, netnsMs, addMs: Math.round(performance.now() - t1) }, 'pod network set up');
      return { netnsPath: a.netns, ips };
    } catch (e) {
      if (exposed && cache.hostPorts) await this.deps.hostPorts?.unexpose(cache.hostPorts).catch((err: unknown) => this.deps.log.warn({ err, podSandboxId: id }, 'could not remove the host ports of a failed pod network set-up'));
      await this.undoSetUp(id, loaded.conf, loaded.binaries, a).catch((err: unknown) =>
        this.deps.log.warn({ err, podSandboxId: id }, 'could not fully undo a failed pod network set-up'),
      );
      if (e instanceof RuntimeError) throw e;
      throw internal(`pod network set-up failed: ${(e as Error).message}`, { cause: e });
    }
  }

  private async undoSetUp(id: string, conf: NetworkConfList, binaries: Map<string, string>, a: CniCallArgs): Promise<void> {
    try {
      await this.deps.invoker.delList(conf, binaries, a, undefined);
      await rm(this.cachePath(id), { force: true });
    } finally {
      await this.deps.netns.remove(id);
    }
  }

  private async doTearDown(id: string, signal?: AbortSignal): Promise<void> {
    const c = await this.readCache(id);
    if (!c) return; // never attached, or already detached
    const netns = (await this.deps.netns.exists(id)) ? c.netns : '';
    const binaries = new Map<string, string>();
    for (const p of c.conf.plugins) {
      const bin = findPlugin(p.type, this.deps.binDirs);
      if (bin) binaries.set(p.type, bin);
    }
    const a: CniCallArgs = { containerId: id, netns, ifName: CNI_IFNAME, cniArgs: c.cniArgs, runtimeConfig: c.runtimeConfig };
    // The host's ports go first (the reverse of set-up). A failure does not hold the pod back: RootlessKit's ports
    // end with RootlessKit, and the next pod that asks for the port gets a clear refusal meanwhile.
    if (c.hostPorts?.length && this.deps.hostPorts) {
      await this.deps.hostPorts.unexpose(c.hostPorts).catch((err: unknown) => this.deps.log.warn({ err, podSandboxId: id }, 'could not remove the pod\'s host ports from RootlessKit'));
    }
    const delays = this.deps.delRetryDelaysMs ?? [200, 1000];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.invoker.delList(c.conf, binaries, a, c.phase === 'added' ? c.result : undefined, signal);
        break;
      } catch (e) {
        if (attempt >= delays.length || signal?.aborted) throw e;
        this.deps.log.warn({ err: e, podSandboxId: id, attempt: attempt + 1 }, 'CNI DEL failed; retrying');
        await sleep(delays[attempt]!, signal);
      }
    }
    await rm(this.cachePath(id), { force: true });
    this.deps.log.debug({ podSandboxId: id, network: c.conf.name, netnsGone: netns === '' }, 'pod network torn down');
  }

  private cachePath(id: string): string {
    this.deps.netns.pathOf(id); // validates the id
    return join(this.deps.cacheDir, `${id}.json`);
  }

  /** writeCache replaces a pod's cache file: fsynced when `durable`, else only written and renamed into place. */
  private async writeCache(c: PodNetCache, durable: boolean): Promise<void> {
    const path = this.cachePath(c.podId);
    if (durable) return writeFileAtomic(path, JSON.stringify(c), 0o600);
    const tmp = join(this.deps.cacheDir, `${TMP_PREFIX}${c.podId}.json`); // one writer per pod: calls are serialised per id
    await writeFile(tmp, JSON.stringify(c), { mode: 0o600 });
    await rename(tmp, path);
  }

  private async readCache(id: string): Promise<PodNetCache | undefined> {
    let text: string;
    try {
      text = await readFile(this.cachePath(id), 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    try {
      const c = JSON.parse(text) as PodNetCache;
      if (c.version === 1 && c.podId === id && Array.isArray(c.conf?.plugins)) return c;
    } catch {
      // fall through
    }
    this.deps.log.warn({ podSandboxId: id }, 'ignoring a broken CNI cache file');
    return undefined;
  }

  private async cachedIds(): Promise<string[]> {
    try {
      const names = await readdir(this.deps.cacheDir);
      return names.filter((n) => n.endsWith('.json') && !n.startsWith(TMP_PREFIX)).map((n) => n.slice(0, -5));
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return run;
  }
}
