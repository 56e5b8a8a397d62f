 
// Pod networking through the CRI: a real daemon, real CNI plugins (bridge, host-local, portmap) on a test-unique
// bridge and subnet, the busybox test image. Traffic goes only between the test's own pods and the bridge address
// the test created.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { get } from 'node:http';
import { randomBytes, randomInt } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failure, grpc } from '../../helpers/daemon.js';
import { leases, vethsOn } from './cni-env.js';
import { IMAGE, addedRules, iptablesSnapshot, podIdsOf, startNetDaemon, type NetDaemonEnv } from './daemon-env.js';

let env: NetDaemonEnv;
beforeAll(async () => {
  env = await startNetDaemon();
});
afterAll(async () => {
  await env?.cleanup();
});
// A failed test must not leave its pods to the next one.
afterEach(async () => {
  for (const id of await podIdsOf(env.c).catch(() => [])) await env.c.call('RemovePodSandbox', { pod_sandbox_id: id }).catch(() => undefined);
});

const rnd = () => randomBytes(3).toString('hex');
const hostPort = () => 30000 + Math.floor(Math.random() * 2500);
const esc = (s: string) => s.replace(/\./g, '\\.');

function podCfg(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    metadata: { name, namespace: 'funenet', uid: `uid-${name}-${rnd()}`, attempt: 0 },
    hostname: name,
    log_directory: join(env.net.dir, 'logs', name),
    linux: {},
    ...extra,
  };
}

/** runPod runs a pod with one busybox container running `script`; it gives the pod and container ids. */
async function runPod(name: string, script: string, extra: Record<string, unknown> = {}): Promise<{ pod: string; ctr: string; config: Record<string, unknown> }> {
  const config = podCfg(name, extra);
  const pod: string = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id;
  env.net.podIds.push(pod);
  const ctr: string = (
    await env.c.call('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'main', attempt: 0 }, image: { image: IMAGE }, command: ['/bin/sh', '-c', script], log_path: 'main.log', linux: {} },
      sandbox_config: config,
    })
  ).container_id;
  await env.c.call('StartContainer', { container_id: ctr });
  return { pod, ctr, config };
}

/** sh runs a script in a container with ExecSync and gives its stdout (failing the test on a non-zero exit). */
async function sh(ctr: string, script: string, timeout = 20): Promise<string> {
  const r = await env.c.call('ExecSync', { container_id: ctr, cmd: ['sh', '-c', script], timeout });
  const out = Buffer.from(r.stdout).toString();
  if (r.exit_code !== 0) throw new Error(`exec "${script}" exited ${r.exit_code}: ${out}${Buffer.from(r.stderr).toString()}`);
  return out;
}

/** httpGet fetches a URL from the test process (in the host namespace), retrying while the server comes up. */
async function httpGet(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 30; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = get(url, { timeout: 3000 }, (res) => {
          let t = '';
          res.on('data', (b: Buffer) => (t += b.toString()));
          res.on('end', () => resolve(t));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
        req.on('error', reject);
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw last;
}

const podStatus = async (id: string) => (await env.c.call('PodSandboxStatus', { pod_sandbox_id: id })).status;
const netReady = async () => ((await env.c.call('Status', {})).status.conditions as { type: string }[]).find((x) => x.type === 'NetworkReady');
const remove = async (...ids: string[]) => {
  for (const id of ids) await env.c.call('RemovePodSandbox', { pod_sandbox_id: id });
};
const wgetLoop = (url: string) => `for i in $(seq 50); do timeout 5 wget -q -O - ${url} && exit 0; sleep 0.1; done; exit 1`;
const HTTPD = 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www';

describe('pod networking through the CRI (real daemon, bridge + host-local + portmap)', () => {
  it('two pods reach each other by IP, a host port reaches a pod, and DNS config and hostname hold for CNI pods', async () => {
    const port = hostPort();
    const a = await runPod('net-a', 'exec sleep 100000', { dns_config: { servers: ['10.0.0.10'], searches: ['svc.fune.test', 'fune.test'], options: ['ndots:3'] } });
    const b = await runPod('net-b', HTTPD, { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: port, host_ip: '' }] });
    const [sa, sb] = [await podStatus(a.pod), await podStatus(b.pod)];
    const inSubnet = new RegExp(`^${esc(env.net.net)}\\.\\d+$`);
    expect(sa.network.ip).toMatch(inSubnet);
    expect(sb.network.ip).toMatch(inSubnet);
    expect(sa.network.ip).not.toBe(sb.network.ip);
    expect(sa.network.additional_ips).toEqual([]);
    expect(vethsOn(env.net.bridge)).toHaveLength(2);

    // inside pod a: its address on eth0, lo up, the resolv.conf of its DNSConfig, its hostname and /etc/hosts
    expect(await sh(a.ctr, 'ip -o -4 addr show eth0')).toContain(`inet ${sa.network.ip}/24`);
    expect(await sh(a.ctr, 'ip -o link show lo')).toMatch(/UP/);
    expect(await sh(a.ctr, 'cat /etc/resolv.conf')).toBe('search svc.fune.test fune.test\nnameserver 10.0.0.10\noptions ndots:3\n');
    expect((await sh(a.ctr, 'hostname')).trim()).toBe('net-a');
    expect(await sh(a.ctr, 'cat /etc/hosts')).toContain(`${sa.network.ip}\tnet-a`);

    // pod to pod by IP: a fetches from b's httpd, and b answers a plain nc too
    expect(await sh(a.ctr, wgetLoop(`http://${sb.network.ip}:8080/`))).toBe('hello from net-b\n');
    void env.c.call('ExecSync', { container_id: b.ctr, cmd: ['sh', '-c', 'echo pong | nc -l -p 9090'], timeout: 15 }).catch(() => undefined);
    expect((await sh(a.ctr, `for i in $(seq 50); do nc ${sb.network.ip} 9090 </dev/null && exit 0; sleep 0.1; done; exit 1`)).trim()).toBe('pong');

    // the host port, from the host side (the bridge address this test made) and hairpinned from pod a
    expect(await httpGet(`http://${env.net.net}.1:${port}/`)).toBe('hello from net-b\n');
    expect(await httpGet(`http://127.0.0.1:${port}/`)).toBe('hello from net-b\n');
    expect(await sh(a.ctr, wgetLoop(`http://${env.net.net}.1:${port}/`))).toBe('hello from net-b\n');

    await remove(a.pod, b.pod);
    expect(vethsOn(env.net.bridge)).toEqual([]);
    expect(await leases(env.net)).toEqual([]);
  });

  it('a host-network pod sees the host interfaces (the test bridge) and the host name; it has no pod IP', async () => {
    const cni = await runPod('net-c', 'exec sleep 100000'); // makes sure the bridge exists
    const h = await runPod('net-host', 'exec sleep 100000', { linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } });
    expect((await podStatus(h.pod)).network).toEqual({ ip: '', additional_ips: [] });
    expect(await sh(h.ctr, 'cat /proc/net/dev')).toContain(`${env.net.bridge}:`);
    expect(await sh(cni.ctr, 'cat /proc/net/dev')).not.toContain(`${env.net.bridge}:`);
    expect((await sh(h.ctr, 'hostname')).trim()).toBe(hostname());
    await remove(h.pod, cni.pod);
    expect(await leases(env.net)).toEqual([]);
  });

  it('dual-stack host-local ranges: PodSandboxStatus gives the IPv4 first and the IPv6 as an additional IP', async () => {
    const group = () => randomInt(0x1000, 0x10000).toString(16); // no leading zero: the prefix stays canonical
    const v6 = `fd${rnd().slice(0, 2)}:${group()}:${group()}::`;
    const conf = {
      cniVersion: '1.0.0',
      name: env.net.netName,
      plugins: [
        {
          type: 'bridge',
          bridge: env.net.bridge,
          isGateway: true,
          ipam: { type: 'host-local', dataDir: env.net.dataDir, ranges: [[{ subnet: `${env.net.net}.0/24` }], [{ subnet: `${v6}/64` }]] },
        },
      ],
    };
    await writeFile(join(env.net.confDir, '10-test.conflist'), JSON.stringify(conf));
    try {
      const p = await runPod('net-dual', 'exec sleep 100000');
      const st = await podStatus(p.pod);
      expect(st.network.ip).toMatch(new RegExp(`^${esc(env.net.net)}\\.\\d+$`));
      expect(st.network.additional_ips).toHaveLength(1);
      expect(st.network.additional_ips[0].ip.startsWith(v6)).toBe(true);
      expect(await sh(p.ctr, 'ip -o -6 addr show eth0')).toContain(`inet6 ${st.network.additional_ips[0].ip}/64`);
      expect(await sh(p.ctr, 'cat /etc/hosts')).toContain(`${st.network.additional_ips[0].ip}\tnet-dual`);
      await remove(p.pod);
      expect(await leases(env.net)).toEqual([]);
    } finally {
      await env.net.writeConflist();
    }
  });

  it('stop twice, a SIGKILLed daemon, then removal leave no namespace, veth, lease, cache file or iptables rule', async () => {
    const before = iptablesSnapshot();
    const stopped = await runPod('net-stopped', 'exec sleep 100000', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort(), host_ip: '' }] });
    const running = await runPod('net-running', 'exec sleep 100000', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort(), host_ip: '' }] });
    const ipRunning = (await podStatus(running.pod)).network.ip;
    const ours = (l: string) => l.includes('CNI-') || l.includes(env.net.net + '.') || l.includes(stopped.pod) || l.includes(running.pod);
    expect(addedRules(before, iptablesSnapshot()).filter(ours).length).toBeGreaterThan(0);
    expect(await leases(env.net)).toHaveLength(2);
    const netnsDir = join(env.d.state, 'netns');
    expect((await readdir(netnsDir)).sort()).toEqual([stopped.pod, running.pod].sort());

    await env.c.call('StopPodSandbox', { pod_sandbox_id: stopped.pod });
    await env.c.call('StopPodSandbox', { pod_sandbox_id: stopped.pod });
    expect((await podStatus(stopped.pod)).state).toBe('SANDBOX_NOTREADY');
    expect(await leases(env.net)).toHaveLength(1);
    expect(vethsOn(env.net.bridge)).toHaveLength(1);
    expect(addedRules(before, iptablesSnapshot()).filter((l) => l.includes(stopped.pod))).toEqual([]);
    expect(await readdir(netnsDir)).toContain(stopped.pod); // the namespace stays until removal

    await env.restart();
    expect((await podStatus(stopped.pod)).state).toBe('SANDBOX_NOTREADY');
    const st = await podStatus(running.pod);
    expect(st.state).toBe('SANDBOX_READY');
    expect(st.network.ip).toBe(ipRunning);
    await env.c.call('StopPodSandbox', { pod_sandbox_id: stopped.pod });
    await remove(stopped.pod, running.pod, running.pod);

    expect(await podIdsOf(env.c)).toEqual([]);
    expect(await readdir(netnsDir)).toEqual([]);
    expect(vethsOn(env.net.bridge)).toEqual([]);
    expect(await leases(env.net)).toEqual([]);
    expect(await readdir(env.net.cacheDir)).toEqual([]);
    expect(addedRules(before, iptablesSnapshot()).filter(ours)).toEqual([]);
  });

  it('a plugin that fails ADD: RunPodSandbox fails with its message, nothing leaks, and the name can be used again', async () => {
    const before = iptablesSnapshot();
    await env.net.writePlugin(
      'funefail',
      `if [ "$CNI_COMMAND" = ADD ]; then echo "funefail: refusing $K8S_POD_NAME" >&2; echo '{"cniVersion":"1.0.0","code":11,"msg":"no way","details":"test plugin says no"}'; exit 1; fi\nexit 0`,
    );
    await env.net.writeConflist([{ type: 'funefail' }]);
    const config = podCfg('net-fail', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort(), host_ip: '' }] });
    try {
      const f = await failure(env.c.call('RunPodSandbox', { config }));
      expect(f.code).toBe(grpc.status.INTERNAL);
      expect(f.details).toContain('CNI plugin funefail ADD failed');
      expect(f.details).toContain('code 11: no way: test plugin says no');
      expect(f.details).toContain('funefail: refusing');
    } finally {
      await env.net.writeConflist();
    }
    expect(await podIdsOf(env.c)).toEqual([]);
    expect(await readdir(join(env.d.state, 'netns'))).toEqual([]);
    expect(await readdir(env.net.cacheDir)).toEqual([]);
    expect(await readdir(join(env.d.state, 'pods')).catch(() => [])).toEqual([]);
    expect(vethsOn(env.net.bridge)).toEqual([]);
    expect(await leases(env.net)).toEqual([]);
    expect(addedRules(before, iptablesSnapshot()).filter((l) => l.includes('CNI-') || l.includes(env.net.net + '.'))).toEqual([]);

    const id: string = (await env.c.call('RunPodSandbox', { config })).pod_sandbox_id;
    env.net.podIds.push(id);
    expect((await podStatus(id)).network.ip).toMatch(new RegExp(`^${esc(env.net.net)}\\.`));
    await remove(id);
    expect(await leases(env.net)).toEqual([]);
  });

  it('a broken conf file: NetworkReady false with the reason, CNI pods refused cleanly, host-network pods still run', async () => {
    const file = join(env.net.confDir, '10-test.conflist');
    await writeFile(file, '{"cniVersion": "1.0.0", "name": "broken", "plugins": [{"type": "bridge"},');
    try {
      expect(await netReady()).toMatchObject({ status: false, reason: 'NetworkPluginNotReady', message: expect.stringContaining(`${file}: invalid JSON`) });
      const f = await failure(env.c.call('RunPodSandbox', { config: podCfg('net-broken') }));
      expect(f.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(f.details).toContain('pod network is not ready');
      expect(await podIdsOf(env.c)).toEqual([]);
      expect(await readdir(join(env.d.state, 'netns'))).toEqual([]);
      const h: string = (await env.c.call('RunPodSandbox', { config: podCfg('net-broken-host', { linux: { security_context: { namespace_options: { network: 'NODE' } } } }) })).pod_sandbox_id;
      env.net.podIds.push(h);
      expect((await podStatus(h)).state).toBe('SANDBOX_READY');
      await remove(h);
    } finally {
      await env.net.writeConflist();
    }
    expect(await netReady()).toEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
  });
});
