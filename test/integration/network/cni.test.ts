import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { stat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../../helpers/daemon.js';
import { makeCniEnv, podConfig, leases, vethsOn, inNetns, iptablesLinesMentioning, mountsUnder, type CniEnv } from './cni-env.js';

/** fetchOnce connects to host:port (in this process's namespace) and gives what the server sent. */
function fetchOnce(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host, port, timeout: 5000 }, () => undefined);
    s.on('data', (b) => (got += b.toString()));
    s.on('end', () => resolve(got));
    s.on('timeout', () => (s.destroy(), reject(new Error(`timeout connecting to ${host}:${port}`))));
    s.on('error', reject);
  });
}

/** serveIn starts a one-line TCP server in a namespace; it resolves once it listens. */
function serveIn(netns: string, port: number, text: string): Promise<ChildProcess> {
  const code = `require('net').createServer(s=>s.end(${JSON.stringify(text)})).listen(${port},'0.0.0.0',()=>console.log('up'))`;
  const p = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    p.stdout.once('data', () => resolve(p));
    p.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
}

describe('NetworkService with real CNI plugins', () => {
  let env: CniEnv;
  const servers: ChildProcess[] = [];
  beforeAll(async () => {
    env = await makeCniEnv();
    await env.writeConflist();
  });
  afterAll(async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    await env?.cleanup();
  });

  it('gives two pods IPs on the bridge; they reach each other, and a port mapping reaches a server in a pod', async () => {
    const svc = env.service();
    expect(svc.networkCondition()).toEqual({ type: 'NetworkReady', status: true, reason: '', message: '' });
    const a = env.newPodId();
    const b = env.newPodId();
    const hostPort = 30000 + Math.floor(Math.random() * 2000);
    const t0 = performance.now();
    const na = await svc.setUpPod({ id: a, config: podConfig('a'), hostNetwork: false });
    const firstMs = performance.now() - t0;
    const t1 = performance.now();
    const nb = await svc.setUpPod({
      id: b,
      config: podConfig('b', { port_mappings: [{ protocol: 'TCP', container_port: 8080, host_port: hostPort, host_ip: '' }] }),
      hostNetwork: false,
    });
    const secondMs = performance.now() - t1;
    console.log(`setUpPod (netns + lo + bridge/host-local/portmap ADD): first ${firstMs.toFixed(0)} ms, second ${secondMs.toFixed(0)} ms`);

    expect(na.netnsPath).toBe(join(env.netnsDir, a));
    expect(na.ips).toHaveLength(1);
    expect(na.ips[0]).toMatch(new RegExp(`^${env.net.replace(/\./g, '\\.')}\\.\\d+$`));
    expect(nb.ips[0]).not.toBe(na.ips[0]);
    expect(await svc.podNetwork(b)).toEqual({ netnsPath: nb.netnsPath, ips: nb.ips });
    // eth0 inside carries the IP, lo is up
    const addrs = inNetns(na.netnsPath!, ['ip', '-o', 'addr', 'show']);
    expect(addrs).toContain(`eth0    inet ${na.ips[0]}/24`);
    expect(addrs).toMatch(/lo\s+inet 127\.0\.0\.1/);
    expect(vethsOn(env.bridge)).toHaveLength(2);
    expect(await leases(env)).toHaveLength(2);

    // pod to pod by IP
    expect(inNetns(na.netnsPath!, ['busybox', 'ping', '-c1', '-W2', nb.ips[0]!])).toMatch(/1 packets received/);

    // a port mapping, from the host side (the bridge's gateway address, which this test created) and from pod a
    servers.push(await serveIn(nb.netnsPath!, 8080, 'hello from b'));
    expect(await fetchOnce(nb.ips[0]!, 8080)).toBe('hello from b');
    expect(await fetchOnce(`${env.net}.1`, hostPort)).toBe('hello from b');
    const code = `const s=require('net').connect(${hostPort},'${env.net}.1');s.pipe(process.stdout)`;
    expect(inNetns(na.netnsPath!, [process.execPath, '-e', code])).toBe('hello from b');
    expect(iptablesLinesMentioning([b]).length).toBeGreaterThan(0);
    servers.pop()!.kill('SIGKILL');

    // stop (DEL) twice, then remove twice: nothing is left
    for (const id of [a, b]) {
      await svc.tearDownPod({ id, hostNetwork: false });
      await svc.tearDownPod({ id, hostNetwork: false });
    }
    expect(await leases(env)).toEqual([]);
    expect(vethsOn(env.bridge)).toEqual([]);
    expect(iptablesLinesMentioning([a, b])).toEqual([]);
    expect(await svc.podNetwork(a)).toBeUndefined();
    // the namespaces stay until removal
    expect((await stat(na.netnsPath!)).isFile()).toBe(true);
    await svc.removePod(a);
    await svc.removePod(b);
    await svc.removePod(b);
    expect(await mountsUnder(env.netnsDir)).toEqual([]);
    expect(await readdir(env.netnsDir)).toEqual([]);
    expect(await readdir(env.cacheDir)).toEqual([]);
  });

  it('host-network pods get no namespace and no CNI call', async () => {
    const svc = env.service();
    const id = env.newPodId();
    expect(await svc.setUpPod({ id, config: podConfig('h'), hostNetwork: true })).toEqual({ ips: [] });
    await svc.tearDownPod({ id, hostNetwork: true });
    await svc.removePod(id);
    expect(await leases(env)).toEqual([]);
    expect(await readdir(env.netnsDir).catch(() => [])).toEqual([]);
  });

  it('DEL works when the namespace vanished first, and removal after a restart cleans up', async () => {
    const svc = env.service();
    const gone = env.newPodId();
    const kept = env.newPodId();
    const hostPort = 32100 + Math.floor(Math.random() * 500);
    await svc.setUpPod({ id: gone, config: podConfig('gone', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort, host_ip: '' }] }), hostNetwork: false });
    await svc.setUpPod({ id: kept, config: podConfig('kept'), hostNetwork: false });
    // the namespace disappears behind fune's back (a reboot, an admin)
    execFileSync('umount', [join(env.netnsDir, gone)]);
    expect(iptablesLinesMentioning([gone]).some((l) => l.includes('CNI-DN-'))).toBe(true);
    await svc.tearDownPod({ id: gone, hostNetwork: false });
    // DEL ran with CNI_NETNS="" (as containerd does): the lease and the port mapping are gone. The bridge plugin
    // finds its masquerade rule through the pod's eth0 and cannot remove it without the namespace (after a reboot,
    // the one way a namespace vanishes without fune, iptables rules are gone too); afterAll purges it.
    expect(iptablesLinesMentioning([gone]).filter((l) => !l.includes('MASQUERADE') && !/-j CNI-[0-9a-f]+$/.test(l) && !/-j ACCEPT$/.test(l))).toEqual([]);
    expect(await leases(env)).toHaveLength(1);

    // "restart": a fresh service; the sandbox record of `kept` was lost, so recovery removes its network
    const svc2 = env.service();
    expect(await svc2.recover([gone])).toEqual([]);
    expect(await leases(env)).toEqual([]);
    expect(vethsOn(env.bridge)).toEqual([]);
    expect(iptablesLinesMentioning([kept])).toEqual([]);
    await svc2.removePod(gone);
    expect(await readdir(env.netnsDir)).toEqual([]);
  });

  it('a failing plugin: the error carries its message and stderr, the ADD is undone, nothing leaks', async () => {
    await env.writePlugin(
      'funefail',
      `if [ "$CNI_COMMAND" = ADD ]; then echo "funefail: refusing $CNI_CONTAINERID" >&2; echo '{"cniVersion":"1.0.0","code":11,"msg":"no way","details":"test plugin says no"}'; exit 1; fi\nexit 0`,
    );
    await env.writeConflist([{ type: 'funefail' }]);
    try {
      const svc = env.service();
      const id = env.newPodId();
      const err = await svc.setUpPod({ id, config: podConfig('f', { port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: 32700, host_ip: '' }] }), hostNetwork: false }).then(
        () => undefined,
        (e: unknown) => e as Error & { kind: string },
      );
      expect(err?.kind).toBe('Internal');
      expect(err?.message).toContain('CNI plugin funefail ADD failed');
      expect(err?.message).toContain('code 11: no way: test plugin says no');
      expect(err?.message).toContain(`stderr: funefail: refusing ${id}`);
      expect(await leases(env)).toEqual([]);
      expect(vethsOn(env.bridge)).toEqual([]);
      expect(iptablesLinesMentioning([id])).toEqual([]);
      expect(await readdir(env.netnsDir)).toEqual([]);
      expect(await readdir(env.cacheDir)).toEqual([]);
    } finally {
      await env.writeConflist();
    }
  });

  it('a plugin that hangs is killed at the timeout: DeadlineExceeded, nothing leaks', async () => {
    await env.writePlugin('funeslow', `if [ "$CNI_COMMAND" = ADD ]; then exec sleep 30; fi\nexit 0`);
    await env.writeConflist([{ type: 'funeslow' }]);
    try {
      const svc = env.service({ timeoutMs: 1500 });
      const id = env.newPodId();
      const t0 = performance.now();
      await expect(svc.setUpPod({ id, config: podConfig('s'), hostNetwork: false })).rejects.toMatchObject({
        kind: 'DeadlineExceeded',
        message: expect.stringContaining('CNI plugin funeslow ADD failed (timed out after 1500 ms)'),
      });
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(await leases(env)).toEqual([]);
      expect(vethsOn(env.bridge)).toEqual([]);
      expect(await readdir(env.netnsDir)).toEqual([]);
    } finally {
      await env.writeConflist();
    }
  });

  it('the default conflist of hack/cni works with the real plugins', async () => {
    const tpl = JSON.parse((await readFile(join(ROOT, 'hack/cni/10-fune.conflist'), 'utf8')).replaceAll('@DEFAULT_SUBNET@', `${env.net}.0/24`));
    tpl.name = env.netName;
    tpl.plugins[0].bridge = env.bridge; // never fune0 in tests
    tpl.plugins[0].ipam.dataDir = env.dataDir;
    await writeFile(join(env.confDir, '10-test.conflist'), JSON.stringify(tpl));
    try {
      const svc = env.service();
      const id = env.newPodId();
      const n = await svc.setUpPod({ id, config: podConfig('d'), hostNetwork: false });
      expect(n.ips[0]).toMatch(new RegExp(`^${env.net.replace(/\./g, '\\.')}\\.\\d+$`));
      await svc.removePod(id);
      expect(await leases(env)).toEqual([]);
      expect(iptablesLinesMentioning([id])).toEqual([]);
    } finally {
      await env.writeConflist();
    }
  });

  it('hands the pod CIDR of UpdateRuntimeConfig to plugins that declare ipRanges', async () => {
    await writeFile(
      join(env.confDir, '10-test.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: env.netName,
        plugins: [{ type: 'bridge', bridge: env.bridge, capabilities: { ipRanges: true }, ipam: { type: 'host-local', dataDir: env.dataDir } }],
      }),
    );
    try {
      const svc = env.service();
      svc.setPodCidr(`${env.net}.128/25`);
      const id = env.newPodId();
      const n = await svc.setUpPod({ id, config: podConfig('r'), hostNetwork: false });
      expect(n.ips).toHaveLength(1);
      expect(n.ips[0]!.startsWith(`${env.net}.`) && Number(n.ips[0]!.split('.')[3]) > 128).toBe(true);
      await svc.removePod(id);
      expect(await leases(env)).toEqual([]);
    } finally {
      await env.writeConflist();
    }
  });
});
