// The node of the kubelet suite on this host: a real fune daemon (cgroupfs driver) on a test-unique bridge network
// (bridge + host-local + portmap, so pods get IPs and host ports as on a cluster node), a real docker-registry
// holding the busybox test image that the kubelet pulls with PullImage, and the kubelet's own directories as
// temporary stand-ins (/var/log/pods, /var/log/containers, /var/lib/kubelet). The kubelet's cgroup root is
// test-unique (--cgroup-root=/fune-kubelet-<hex>), so that its QoS tree can never meet a real kubelet's.
// Cleanup removes pods, the daemon's leftovers, the kubelet's cgroups, the network and the registry, even after a
// failure.
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { sweep } from '../../helpers/sweep.js';
import { busyboxImage, pushImage } from '../../../hack/test-images.js';
import { hostsToml, startRegistry, type TestRegistry } from '../image/registry-helper.js';
import { makeCniEnv, SYS_BIN, type CniEnv } from '../network/cni-env.js';
import { Kubelet } from '../../kubelet/kubelet.js';
import { destroyPodCgroup, destroyQoS } from '../../kubelet/node-cgroups.js';
import { probeNode, type KubeletNode } from '../../kubelet/node.js';
import type { Pod } from '../../kubelet/pod.js';
import type { KubeletVersion } from '../../kubelet/version.js';

/** KubeletEnv is one test file's node: daemon, network, registry and the kubelet's directories. */
export interface KubeletEnv {
  d: TestDaemon;
  net: CniEnv;
  reg: TestRegistry;
  /** image is the busybox test image's name in the registry, as a pod spec names it. */
  image: string;
  /** kubelet makes a kubelet of version `v` (flags in `node` over the probed defaults) on this node. */
  kubelet(v: KubeletVersion, node?: Partial<KubeletNode>): Kubelet;
  /** track notes a pod so that cleanup removes its cgroup even when a test fails before deleting it. */
  track(k: Kubelet, pod: Pod): Pod;
  /** restart SIGKILLs the daemon (`whileDown` runs meanwhile) and starts it again on the same directories. */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  cleanup(): Promise<void>;
}

/** startKubeletEnv sets up the node: registry with the image pushed, CNI network, daemon. */
export async function startKubeletEnv(): Promise<KubeletEnv> {
  const reg = await startRegistry();
  const net = await makeCniEnv();
  await net.writeConflist();
  net.netnsDir = join(net.dir, 'state', 'netns');
  net.cacheDir = join(net.dir, 'root', 'cni-cache');
  await pushImage(reg.base, 'fune/busybox', '1.36', await busyboxImage({ cmd: ['sh'] }));
  const certs = join(net.dir, 'certs.d');
  await hostsToml(certs, reg.host, `server = "http://${reg.host}"\n`);
  const kube = join(net.dir, 'kubelet');
  await Promise.all(['var-log-pods', 'var-lib-kubelet'].map((d) => mkdir(join(kube, d), { recursive: true })));
  const toml = `[runtime]\ncgroup_driver = "cgroupfs"\n[cni]\nconf_dir = "${net.confDir}"\nbin_dirs = ["${net.binDir}", "${SYS_BIN}"]\n[registry]\nconfig_path = "${certs}"\n`;
  const cgroupRoot = [`fune-kubelet-${randomBytes(3).toString('hex')}`];
  let d: TestDaemon;
  try {
    d = await startDaemon({ dir: net.dir, toml });
  } catch (e) {
    await net.cleanup();
    await reg.stop();
    throw e;
  }
  const kubelets: Kubelet[] = [];
  const pods: { k: Kubelet; pod: Pod }[] = [];
  const env: KubeletEnv = {
    d,
    net,
    reg,
    image: `${reg.host}/fune/busybox:1.36`,
    kubelet(v, node = {}) {
      const k = new Kubelet(v, probeNode({ cgroupDriver: 'cgroupfs', cgroupRoot, podLogsDir: join(kube, 'var-log-pods'), rootDir: join(kube, 'var-lib-kubelet'), ...node }), env.d.socket);
      kubelets.push(k);
      return k;
    },
    track(k, pod) {
      pods.push({ k, pod });
      return pod;
    },
    async restart(whileDown) {
      await env.d.stop('SIGKILL');
      await whileDown?.();
      env.d = await startDaemon({ dir: net.dir, toml });
    },
    async cleanup() {
      for (const k of kubelets) k.close();
      await env.d.stop('SIGKILL');
      await sweep(env.d.state, net.dir);
      const svc = net.service();
      for (const id of net.podIds) await svc.removePod(id).catch(() => undefined);
      for (const { k, pod } of pods) {
        try {
          destroyPodCgroup(k.node, pod);
        } catch {
          // best effort
        }
      }
      if (kubelets[0]) destroyQoS(kubelets[0].node);
      await net.cleanup();
      await reg.stop();
      await rm(kube, { recursive: true, force: true });
    },
  };
  return env;
}
