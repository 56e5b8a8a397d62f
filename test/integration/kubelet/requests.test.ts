// The requests of stock kubelets 1.22 (v1alpha2) and 1.34 (v1), built as their Go code builds them
// (test/kubelet/), sent to a real fune with the cgroupfs driver on this cgroup v1 host, and what the kernel applied
// read back: the start-up handshake, a Burstable pod with every kind of field a kubelet fills in (init container,
// volumes with propagation, service account token, /etc/hosts, termination log, env, a device plugin's device,
// ports, DNS, postStart), then Guaranteed and BestEffort pods with SeccompDefault on and off, and the kubelet's
// image GC view. The cgroup parent is the kubelet's own (`/<root>/kubepods/burstable/pod<uid>`), made by the suite
// as the kubelet's container manager would, with its limits; fune's containers must land under it.
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceConfigForPod, podCgroupName } from '../../kubelet/cm.js';
import { buildPodLogsDirectory, HOSTS_HEADER, podDir, volumeHostPath } from '../../kubelet/common.js';
import { childrenUnder, podCgroupDir, procsUnder } from '../../kubelet/node-cgroups.js';
import { newPod } from '../../kubelet/pod.js';
import { KUBELET_1_22 } from '../../kubelet/v1_22.js';
import { KUBELET_1_34 } from '../../kubelet/v1_34.js';
import type { KubeletVersion } from '../../kubelet/version.js';
import { containerLog, exec, startPod } from './drive.js';
import { startKubeletEnv, type KubeletEnv } from './env.js';

let env: KubeletEnv;
beforeAll(async () => {
  env = await startKubeletEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

const MiB = 1024 * 1024;
/** cgroupOf gives a container's cgroup in one v1 hierarchy, as the kernel shows it to a process inside. */
const cgroupOf = (self: string, hierarchy: string) => self.split('\n').find((l) => l.split(':')[1]?.split(',').includes(hierarchy))?.split(':')[2] ?? '';
const file = (hierarchy: string, cg: string, f: string) => readFileSync(join('/sys/fs/cgroup', hierarchy, cg, f), 'utf8').trim();

describe.each([
  ['1.22', KUBELET_1_22],
  ['1.34', KUBELET_1_34],
] as [string, KubeletVersion][])('[%s] kubelet requests on cgroupfs (cgroup v1)', (version, v) => {
  it(`[${version}] starts as the kubelet does: Version 0.1.0, Status ready${v.asksRuntimeConfig ? ', RuntimeConfig names the cgroupfs driver' : ''}`, async () => {
    const k = env.kubelet(v);
    const ver = await k.cri.version();
    // kuberuntime_manager.go NewKubeGenericRuntimeManager: "Only matching kubeRuntimeAPIVersion is supported now".
    expect(ver.version).toBe('0.1.0');
    expect(ver.runtime_api_version).toBe(v.api);
    expect(ver.runtime_name).toBe('fune');
    // The node's ContainerRuntimeVersion: utilversion.ParseGeneric of runtime_version must work.
    expect(ver.runtime_version).toMatch(/^v?\d+\.\d+(\.\d+)?/);
    const st = await k.cri.status();
    const cond = Object.fromEntries((st.status.conditions as { type: string; status: boolean }[]).map((c) => [c.type, c.status]));
    expect(cond).toMatchObject({ RuntimeReady: true, NetworkReady: true });
    if (v.asksRuntimeConfig) expect((await k.cri.runtimeConfig()).linux.cgroup_driver).toBe('CGROUPFS');
  });

  it(`[${version}] runs a Burstable pod with an init container, volumes, token, device, env and postStart under the kubelet's pod cgroup`, async () => {
    const k = env.kubelet(v);
    const pod = env.track(
      k,
      newPod(`burst-${version.replace('.', '')}`, 'kube-suite', {
        volumes: [
          { name: 'work', kind: 'emptyDir' },
          { name: 'kube-api-access', kind: 'projected' },
        ],
        initContainers: [{ name: 'init', image: env.image, command: ['sh', '-c', 'echo init-ran > /work/ready'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
        containers: [
          {
            name: 'app',
            image: env.image,
            command: ['sh', '-c', 'echo started; echo to-stderr >&2; trap "exit 0" TERM; while true; do sleep 0.2; done'],
            env: [{ name: 'FOO', value: 'bar' }],
            ports: [{ containerPort: 8080 }],
            resources: { requests: { cpu: 250, memory: 64 * MiB }, limits: { cpu: 500, memory: 128 * MiB, 'fune.test/tun': 1 } },
            volumeMounts: [
              { name: 'work', mountPath: '/work', mountPropagation: 'HostToContainer' },
              { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
            ],
            lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo post > /work/poststart'] } } },
          },
        ],
      }),
    );
    const from = k.cri.calls.length;
    const started = await startPod(k, pod);
    const verbs = k.cri.verbs(from);
    // The kubelet's order: sandbox first, then per container image status or pull, create, start; the hook by ExecSync.
    expect(verbs.slice(0, 3)).toEqual(['ListPodSandbox', 'ListContainers', 'RunPodSandbox']);
    expect(verbs[3]).toBe('PodSandboxStatus');
    expect(verbs.filter((x) => x === 'CreateContainer')).toHaveLength(2);
    const pull = k.cri.calls.slice(from).find((c) => c.verb === 'PullImage');
    if (pull) expect(pull.req.sandbox_config.metadata.uid).toBe(pod.uid);
    // The postStart hook runs right after the app's StartContainer.
    expect(verbs[verbs.lastIndexOf('StartContainer') + 1]).toBe('ExecSync');

    // PodSandboxStatus as the kubelet reads it: ready, its metadata and labels, an IP, the pod network namespace.
    const sb = await k.cri.podSandboxStatus(started.sandboxId);
    expect(sb.state).toBe('SANDBOX_READY');
    expect(sb.metadata).toMatchObject({ name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 });
    expect(sb.labels).toMatchObject({ app: pod.name, 'io.kubernetes.pod.name': pod.name, 'io.kubernetes.pod.namespace': pod.namespace, 'io.kubernetes.pod.uid': pod.uid });
    expect(sb.annotations).toEqual(pod.annotations);
    expect(sb.network.ip).toMatch(new RegExp(`^${env.net.net.replaceAll('.', '\\.')}\\.\\d+$`));
    expect(sb.linux.namespaces.options.network).toBe('POD');
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(BigInt(sb.created_at)).toBeGreaterThan(now - 120_000_000_000n);

    // The init container ran to completion before the app was created.
    const init = started.status.containers.find((c) => c.name === 'init')!;
    const app = started.status.containers.find((c) => c.name === 'app')!;
    expect(init).toMatchObject({ state: 'exited', exitCode: 0, reason: 'Completed', restartCount: 0 });
    expect(init.startedAt).toBeGreaterThanOrEqual(init.createdAt);
    expect(init.finishedAt).toBeGreaterThan(init.startedAt);
    expect(app.createdAt).toBeGreaterThan(init.finishedAt);
    expect(app).toMatchObject({ state: 'running', restartCount: 0, image: expect.any(String) });
    expect(app.logPath).toBe(join(buildPodLogsDirectory(k.node, pod), 'app', '0.log'));
    const work = volumeHostPath(k.node, pod, 'work');
    expect(readFileSync(join(work, 'ready'), 'utf8')).toBe('init-ran\n');
    expect(readFileSync(join(work, 'poststart'), 'utf8')).toBe('post\n');

    // Logs: <container>/<restart>.log in the pod's log directory, in the CRI format the kubelet parses; the legacy
    // symlink exists because the file was there when StartContainer returned.
    expect(containerLog(k, pod, 'init', 0).text).toBe('');
    const log = containerLog(k, pod, 'app', 0);
    expect(log.text).toContain('started\n');
    expect(log.text).toContain('to-stderr\n');
    expect(readlinkSync(k.legacySymlink(app.id, 'app', pod))).toBe(app.logPath);

    // Inside: hostname, /etc/hosts from the kubelet's file, DNS, env, mounts, the device, the termination log.
    const sh = (s: string) => exec(k, app.id, s).then((r) => r.out);
    expect((await sh('hostname')).trim()).toBe(pod.name);
    const hosts = await sh('cat /etc/hosts');
    expect(hosts.startsWith(HOSTS_HEADER)).toBe(true);
    expect(hosts).toContain(`${sb.network.ip}\t${pod.name}`);
    expect(await sh('cat /etc/resolv.conf')).toBe(`search ${pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n`);
    const envs = await sh('env');
    for (const e of ['FOO=bar', 'KUBERNETES_SERVICE_HOST=10.96.0.1', 'KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443', `HOSTNAME=${pod.name}`]) expect(envs).toContain(e);
    const mounts = (await sh('cat /proc/self/mountinfo')).split('\n');
    const mountAt = (p: string) => mounts.find((l) => l.split(' ')[4] === p)?.split(' ') ?? [];
    expect(mountAt('/var/run/secrets/kubernetes.io/serviceaccount')[5]).toMatch(/^ro/);
    expect(mountAt('/etc/hosts')[5]).toMatch(/^rw/);
    expect(mountAt('/dev/termination-log')[5]).toMatch(/^rw/);
    expect(mountAt('/work')[5]).toMatch(/^rw/);
    expect((await sh('cat /var/run/secrets/kubernetes.io/serviceaccount/namespace'))).toBe(pod.namespace);
    expect((await exec(k, app.id, 'exec 3<>/dev/fune-tun && echo opened')).out).toBe('opened\n');
    expect((await sh('stat -c %t:%T /dev/fune-tun')).trim()).toBe('a:c8');
    await sh('echo bye > /dev/termination-log');
    const tmount = (app.raw.mounts as { container_path: string; host_path: string }[]).find((m) => m.container_path === '/dev/termination-log');
    expect(tmount?.host_path.startsWith(join(podDir(k.node, pod), 'containers', 'app'))).toBe(true);
    expect(readFileSync(tmount!.host_path, 'utf8')).toBe('bye\n');
    const self = await sh('cat /proc/1/status');
    expect(self).toMatch(/^Seccomp:\s+0$/m);
    expect(self).toMatch(/^NoNewPrivs:\s+0$/m);

    // cgroups: the container sits in the kubelet's pod cgroup, with its limits; the pod cgroup keeps the kubelet's.
    const cg = await sh('cat /proc/self/cgroup');
    const parent = podCgroupName(k.node, pod).literal;
    expect(cgroupOf(cg, 'memory')).toBe(`${parent}/${app.id}`);
    expect(cgroupOf(cg, 'cpu')).toBe(`${parent}/${app.id}`);
    expect(file('memory', cgroupOf(cg, 'memory'), 'memory.limit_in_bytes')).toBe(String(128 * MiB));
    expect(file('memory', cgroupOf(cg, 'memory'), 'memory.memsw.limit_in_bytes')).toBe(String(128 * MiB));
    expect(file('cpu', cgroupOf(cg, 'cpu'), 'cpu.shares')).toBe('256');
    expect(file('cpu', cgroupOf(cg, 'cpu'), 'cpu.cfs_quota_us')).toBe('50000');
    expect(file('cpu', cgroupOf(cg, 'cpu'), 'cpu.cfs_period_us')).toBe('100000');
    expect(file('cpu', parent, 'cpu.shares')).toBe(String(resourceConfigForPod(pod).cpuShares));
    expect(Number((await sh('cat /proc/1/oom_score_adj')).trim())).toBe(1000 - Math.trunc((1000 * 64 * MiB) / k.node.memoryCapacity));
    // Every process of the pod (infra, app, monitors) is under the pod's cgroup, none elsewhere.
    const procs = procsUnder(podCgroupDir(k.node, pod));
    expect(procs.length).toBeGreaterThanOrEqual(3);
    expect(childrenUnder(podCgroupDir(k.node, pod)).map((d) => d.slice(podCgroupDir(k.node, pod).length + 1)).filter((d) => !d.includes('/'))).toEqual(
      expect.arrayContaining([started.sandboxId, app.id]),
    );
  });

  it(`[${version}] puts Guaranteed and BestEffort pods in their QoS parents, with SeccompDefault off and on`, async () => {
    const off = env.kubelet(v);
    const on = env.kubelet(v, { seccompDefault: true });
    const hostPort = 30000 + Math.floor(Math.random() * 2500);
    const guaranteed = env.track(
      off,
      newPod(`guar-${version.replace('.', '')}`, 'kube-suite', {
        containers: [
          {
            name: 'web',
            image: env.image,
            command: ['sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'],
            ports: [{ containerPort: 8080, hostPort }],
            resources: { limits: { cpu: 200, memory: 48 * MiB } },
          },
        ],
      }),
    );
    const besteffort = env.track(
      on,
      newPod(`best-${version.replace('.', '')}`, 'kube-suite', {
        containers: [
          { name: 'default', image: env.image, command: ['sleep', '100000'] },
          { name: 'unconfined', image: env.image, command: ['sleep', '100000'], securityContext: { seccompProfile: { type: 'Unconfined' } } },
        ],
      }),
    );
    const g = await startPod(off, guaranteed);
    const b = await startPod(on, besteffort);
    const id = (s: typeof g, name: string) => s.status.containers.find((c) => c.name === name)!.id;
    const sh = (k: typeof off, cid: string, script: string) => exec(k, cid, script).then((r) => r.out);

    // Guaranteed: /<root>/kubepods/pod<uid>, limits equal to requests, quota, the host port answered.
    const gcg = await sh(off, id(g, 'web'), 'cat /proc/self/cgroup');
    expect(podCgroupName(off.node, guaranteed).literal).toBe(`/${off.node.cgroupRoot.join('/')}/kubepods/pod${guaranteed.uid}`);
    expect(cgroupOf(gcg, 'memory')).toBe(`${podCgroupName(off.node, guaranteed).literal}/${id(g, 'web')}`);
    expect(file('memory', cgroupOf(gcg, 'memory'), 'memory.limit_in_bytes')).toBe(String(48 * MiB));
    expect(file('cpu', cgroupOf(gcg, 'cpu'), 'cpu.shares')).toBe('204');
    expect(file('cpu', cgroupOf(gcg, 'cpu'), 'cpu.cfs_quota_us')).toBe('20000');
    expect(file('memory', podCgroupName(off.node, guaranteed).literal, 'memory.limit_in_bytes')).toBe(String(48 * MiB));
    // oom_score_adj -997, raised to the lowest this daemon may set (no CAP_SYS_RESOURCE on this host).
    const floor = Number(readFileSync(`/proc/${env.d.proc.pid}/oom_score_adj`, 'utf8'));
    expect(Number(await sh(off, id(g, 'web'), 'cat /proc/1/oom_score_adj'))).toBe(Math.max(-997, floor));
    expect(await sh(off, id(g, 'web'), 'cat /proc/1/status')).toMatch(/^Seccomp:\s+0$/m);
    const page = await fetch(`http://${env.net.net}.1:${hostPort}/`).then((r) => r.text());
    expect(page).toBe(`hello from ${guaranteed.name}\n`);

    // BestEffort: /<root>/kubepods/besteffort/pod<uid>, 2 shares, no limit, oom_score_adj 1000; SeccompDefault gives
    // RuntimeDefault (a filter) unless the container asks for Unconfined.
    const bcg = await sh(on, id(b, 'default'), 'cat /proc/self/cgroup');
    expect(cgroupOf(bcg, 'cpu')).toBe(`/${on.node.cgroupRoot.join('/')}/kubepods/besteffort/pod${besteffort.uid}/${id(b, 'default')}`);
    expect(file('cpu', cgroupOf(bcg, 'cpu'), 'cpu.shares')).toBe('2');
    expect(BigInt(file('memory', cgroupOf(bcg, 'memory'), 'memory.limit_in_bytes'))).toBeGreaterThan(1n << 62n);
    expect(Number(await sh(on, id(b, 'default'), 'cat /proc/1/oom_score_adj'))).toBe(1000);
    expect(await sh(on, id(b, 'default'), 'cat /proc/1/status')).toMatch(/^Seccomp:\s+2$/m);
    expect(await sh(on, id(b, 'unconfined'), 'cat /proc/1/status')).toMatch(/^Seccomp:\s+0$/m);
    const create = on.cri.calls.find((c) => c.verb === 'CreateContainer' && c.req.config.metadata.name === 'default')!;
    expect(create.req.config.linux.security_context.seccomp.profile_type).toBe('RuntimeDefault');
    if (version === '1.22') expect(create.req.config.linux.security_context.seccomp_profile_path).toBe('runtime/default');
  });

  it(`[${version}] image GC counts the running pods' image as in use (ListContainers against ListImages)`, async () => {
    const k = env.kubelet(v);
    // image_gc_manager.go detectImages: the ImageID of every container of GetPods is in use; freeSpace removes
    // the others. A runtime whose ListContainers names images otherwise loses images under running pods.
    const containers = await k.cri.listContainers({});
    expect(containers.length).toBeGreaterThan(0);
    const inUse = new Set(containers.map((c) => v.imageIdOfContainer(c)));
    const img = await k.cri.imageStatus({ image: env.image });
    expect(img).not.toBeNull();
    expect((await k.cri.listImages()).map((i) => i.id)).toContain(img!.id);
    expect([...inUse]).toContain(img!.id);
  });
});
