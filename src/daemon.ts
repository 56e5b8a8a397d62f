import { rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config/types.js';
import type { Logger } from './log/index.js';
import { acquireDaemonLock } from './store/daemon-lock.js';
import { makeStateDirs, tightenState } from './services/private-state.js';
import { probeNode } from './sys/node-probe.js';
import { tryLoadIdmapAddon } from './sys/idmap.js';
import { UserNamespaces, USERNS_DIR_NAME } from './runtime/user-namespaces.js';
import { nodeRulesOf } from './domain/node.js';
import { nodeMounter } from './sys/mount.js';
import { probeOverlay, type OverlayChoice } from './sys/overlay-mounter.js';
import { loadDefaultProfile } from './sys/apparmor.js';
import { searchPath } from './config/search-path.js';
import { RuntimeInfoService } from './services/runtime-info.js';
import { NetworkService } from './services/network-service.js';
import { NetnsManager, NETNS_DIR_NAME } from './network/netns.js';
import { CniConfLoader } from './network/cni-config.js';
import { CniInvoker } from './network/cni-invoke.js';
import { nodeProcessRunner, spawnerInUse } from './sys/process-runner.js';
import { buildCriServer, listen, shutdown, type CriListener } from './cri/server.js';
import { buildRpcTable } from './cri/table.js';
import { createImageParts } from './services/image-setup.js';
import { startAdminServer, ADMIN_SOCKET_NAME } from './cri/image/admin-server.js';
import { projectRoot } from './cri/protos.js';
import { StreamingServer } from './streaming/server.js';
import { NetnsDialerPool } from './streaming/netns-dialer-pool.js';
import { RuncStreamRuntime, StreamService } from './services/stream-runtime.js';
import { createLifecycle, lookPath, type Lifecycle } from './services/lifecycle-setup.js';
import type { ObjectCounts } from './domain/metrics-port.js';
import { systemClock } from './sys/clock.js';
import { parseHostPort } from './config/load.js';
import type { MetricsServer } from './metrics/server.js';
import { RootlesskitApiClient, type RootlesskitPorts, type RootlesskitPortStatus } from './sys/rootlesskit-api.js';
import { RootlesskitHostPorts } from './network/rootless-ports.js';

/**
 * startMetrics starts the `[metrics]` endpoint when an address is set. The module (and prom-client with it) is
 * loaded here only then: a daemon with metrics off never loads the library. `counts` is asked on each scrape.
 */
async function startMetrics(config: Config, log: Logger, counts: () => Promise<ObjectCounts>): Promise<MetricsServer | undefined> {
  const at = config.metrics.address ? parseHostPort(config.metrics.address) : undefined;
  if (!at) return undefined;
  const { startMetricsServer } = await import('./metrics/server.js');
  return startMetricsServer({ ...at, counts, log: log.child({ component: 'metrics' }) });
}

/**
 * exposeStreaming makes the streaming server reachable from the host's own network namespace under RootlessKit: a
 * RootlessKit port at the same address and port on the host, dialled to the server inside. The URLs that Exec,
 * Attach and PortForward give then work for a client on the host (crictl as the user) and for one inside RootlessKit's
 * namespaces alike. With port 0 a port that the host already uses is given up for another free one (a few tries);
 * a configured port must be free on both sides.
 */
async function exposeStreaming(api: RootlesskitPorts, streaming: StreamingServer, configuredPort: number, log: Logger): Promise<RootlesskitPortStatus> {
  for (let attempt = 1; ; attempt++) {
    const u = new URL(streaming.baseUrl);
    const address = u.hostname.replace(/^\[|\]$/g, '');
    const port = Number(u.port);
    const anyOrLoopback = ['127.0.0.1', '0.0.0.0', '::', '::1'].includes(address);
    try {
      const st = await api.addPort({ proto: address.includes(':') ? 'tcp6' : 'tcp', parentIP: address, parentPort: port, childPort: port, ...(anyOrLoopback ? {} : { childIP: address }) });
      log.info({ url: streaming.baseUrl, rootlesskitPort: st.id }, 'streaming server reachable from the host through RootlessKit');
      return st;
    } catch (e) {
      if (configuredPort !== 0 || attempt >= 5) throw new Error(`the streaming server's ${address}:${port} cannot be exposed on the host through RootlessKit: ${(e as Error).message}`, { cause: e });
      log.info({ err: e, port }, 'the streaming port is taken on the host; listening on another');
      await streaming.stop();
      await streaming.start();
    }
  }
}

/** DaemonOptions are facts of how the daemon was started that are not configuration. */
export interface DaemonOptions {
  /**
   * rootlesskitApi is the API socket of the RootlessKit fune runs under (`fune daemon --rootless`, or one started by
   * someone else): hostPorts and the streaming server are then exposed on the host through its port driver.
   */
  rootlesskitApi?: string;
}

/** Daemon is a running fune: its socket, and the way to stop it. */
export interface Daemon {
  socketPath: string;
  /** stop stops accepting calls, lets in-flight calls finish within the configured bound, removes the socket. */
  stop(): Promise<void>;
}

/** packageVersion reads fune's version from package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * startDaemon is the composition root: it builds every concrete part, serves the CRI socket at once (answering
 * UNAVAILABLE), recovers state, and only then opens the readiness gate.
 */
export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  await makeStateDirs(config.root, config.state);
  const releaseLock = await acquireDaemonLock(join(config.state, 'fune.lock'));
  // Before anything reads or makes state: what an older fune left readable by other users becomes root's alone.
  try {
    await tightenState(config.root, config.state, log.child({ component: 'permissions' }));
  } catch (e) {
    await releaseLock();
    throw e;
  }
  const readiness = { ready: false };
  // What kind of node this is, once: every behaviour that differs between nodes asks these facts.
  const probed = await probeNode({ cgroupDriver: config.runtime.cgroup_driver, ociRuntimePath: lookPath(config.runtime.runc_path), runner: nodeProcessRunner });
  // POD-mode user namespaces: fune makes the idmapped mounts runc 1.1 lacks, where its own probe finds them working.
  const userns = new UserNamespaces({ dir: join(config.state, USERNS_DIR_NAME), runner: nodeProcessRunner, idmap: tryLoadIdmapAddon() });
  const podUserNamespaces = await userns.probe();
  if (!podUserNamespaces.ok) log.info({ why: podUserNamespaces.reason }, 'user namespaces of mode POD are not offered on this node');
  // What mounts the overlays: in a user namespace a probe mount on the layers' filesystem tells whether the kernel
  // takes overlayfs there, else fuse-overlayfs.
  let overlay: OverlayChoice;
  try {
    overlay = await probeOverlay({
      configured: config.runtime.overlay_mounter, inUserNamespace: probed.user.inUserNamespace, dir: join(config.root, 'overlay-probe'),
      options: nodeRulesOf({ ...probed, overlay: { mounter: 'kernel', reason: '' } }).overlayOptions, mounter: nodeMounter(nodeProcessRunner), runner: nodeProcessRunner,
    });
  } catch (e) {
    await releaseLock();
    throw e;
  }
  if (overlay.mounter !== 'kernel' || probed.user.inUserNamespace) log.info({ mounter: overlay.mounter, why: overlay.reason }, 'overlay mounts');
  const node = { ...probed, podUserNamespaces, overlay };
  const cgroupDriver = node.cgroup.driver;
  // RuntimeDefault's AppArmor profile, fune's own, (re)loaded on every start where the kernel has AppArmor on.
  let apparmorDefaultProfile: string | undefined;
  const rules = nodeRulesOf(node);
  if (rules.apparmor) {
    const r = await loadDefaultProfile({ runner: nodeProcessRunner, pathEnv: searchPath() });
    apparmorDefaultProfile = r.profile;
    if (r.profile !== undefined) log.info({ profile: r.profile }, 'loaded the RuntimeDefault AppArmor profile');
    else log.warn({ why: r.why }, 'could not load the RuntimeDefault AppArmor profile; RuntimeDefault containers run without AppArmor confinement');
  }
  let listener: CriListener;
  let lifecycle: Lifecycle | undefined;
  let streaming: StreamingServer | undefined;
  let metricsServer: MetricsServer | undefined;
  try {
    metricsServer = await startMetrics(config, log, () => lifecycle?.counts() ?? Promise.resolve({ containers: {}, pods: {} }));
  } catch (e) {
    await releaseLock();
    throw e;
  }
  const metrics = metricsServer?.metrics;
  const imageParts = createImageParts(config, metrics, rules);
  const dialers = new NetnsDialerPool({
    runner: nodeProcessRunner, clock: systemClock, log: log.child({ component: 'portforward' }),
    ...(config.streaming.port_forward_dialer === 'helper' ? { connector: null } : {}),
  });
  // Under RootlessKit (its child, told ROOTLESSKIT_STATE_DIR): hostPorts and the streaming server go through its ports.
  const rootlesskit = node.user.inUserNamespace && opts.rootlesskitApi ? new RootlesskitApiClient(opts.rootlesskitApi) : undefined;
  let streamingPort: RootlesskitPortStatus | undefined;
  try {
    const netns = new NetnsManager({ dir: join(config.state, NETNS_DIR_NAME), runner: nodeProcessRunner });
    const network = new NetworkService({
      netns,
      conf: new CniConfLoader(config.cni.conf_dir, config.cni.bin_dirs),
      invoker: new CniInvoker({ runner: nodeProcessRunner, binDirs: config.cni.bin_dirs, timeoutMs: config.cni.plugin_timeout }),
      binDirs: config.cni.bin_dirs,
      cacheDir: join(config.root, 'cni-cache'),
      log: log.child({ component: 'network' }),
      ...(rootlesskit ? { hostPorts: new RootlesskitHostPorts(rootlesskit) } : {}),
    });
    const info = new RuntimeInfoService({ config, cgroupDriver, node, runtimeVersion: packageVersion(), network });
    info.onPodCidr((cidr) => network.setPodCidr(cidr));
    // Streaming (exec/attach/port-forward). The container lifecycle's lookup replaces noContainerLookup.
    lifecycle = await createLifecycle({ config, node, log, runner: nodeProcessRunner, network, images: imageParts.service, metrics, apparmorDefaultProfile, userns });
    const streamLookup = lifecycle.containers;
    const sc = config.streaming;
    streaming = new StreamingServer({
      address: sc.address, port: sc.port, tlsCertFile: sc.tls_cert_file, tlsKeyFile: sc.tls_key_file, tokenTtlMs: sc.token_ttl, maxTokens: sc.max_tokens,
      idleTimeoutMs: sc.stream_idle_timeout, streamCreationTimeoutMs: sc.stream_creation_timeout,
      maxConnections: sc.max_connections, upgradeTimeoutMs: sc.upgrade_timeout, clock: systemClock, log: log.child({ component: 'streaming' }), metrics,
      runtime: new RuncStreamRuntime({ lookup: streamLookup, runner: nodeProcessRunner, dialer: dialers, exec: lifecycle.runc, log: log.child({ component: 'streaming' }) }),
    });
    await streaming.start();
    if (rootlesskit) streamingPort = await exposeStreaming(rootlesskit, streaming, sc.port, log.child({ component: 'streaming' }));
    const streams = new StreamService(streamLookup, streaming);
    listener = await listen(buildCriServer(buildRpcTable({ info, images: imageParts.service, streams, lifecycle }), log, readiness, metrics), config.grpc.address, config.grpc.server);
  } catch (e) {
    await streaming?.stop();
    await metricsServer?.close();
    await releaseLock();
    throw e;
  }
  log.info({ socket: config.grpc.address, cgroupDriver, cgroupMode: node.cgroup.mode, userNamespace: node.user.inUserNamespace, nodeRules: rules.kind, ociRuntime: `${node.oci.name} ${node.oci.version}`, root: config.root, state: config.state }, 'serving CRI (not ready until recovery ends)');
  log.debug({ spawner: spawnerInUse().why }, 'helper programs start through this spawner');

  // Start-up recovery runs here; nothing is served but UNAVAILABLE until it is done.
  const recoveryStart = performance.now();
  await imageParts.init(log.child({ component: 'image' }));
  await lifecycle.init();
  metrics?.recovered((performance.now() - recoveryStart) / 1000);
  const admin = await startAdminServer(join(config.state, ADMIN_SOCKET_NAME), imageParts.service, log.child({ component: 'admin' }));
  readiness.ready = true;
  log.info('fune is ready');

  let stopping: Promise<void> | undefined;
  return {
    socketPath: config.grpc.address,
    stop() {
      stopping ??= (async () => {
        log.info('shutting down: no new calls, waiting for in-flight ones');
        await shutdown(listener, config.grpc.shutdown_timeout);
        await rm(config.grpc.address, { force: true });
        await streaming?.stop();
        if (streamingPort) await rootlesskit?.removePort(streamingPort.id).catch((err: unknown) => log.warn({ err }, 'could not remove the streaming port from RootlessKit'));
        dialers.stop();
        await admin.close();
        await metricsServer?.close();
        imageParts.close();
        lifecycle?.close();
        await releaseLock();
        log.info('shut down');
      })();
      return stopping;
    },
  };
}
