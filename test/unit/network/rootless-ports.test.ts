import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniHostIp, parentSpecOf, RootlesskitHostPorts, sameSpec, type PortMapping } from '../../../src/network/rootless-ports.js';
import { RootlesskitApiClient, RootlesskitApiError, type RootlesskitInfo, type RootlesskitPorts, type RootlesskitPortSpec, type RootlesskitPortStatus } from '../../../src/sys/rootlesskit-api.js';
import { NetworkService } from '../../../src/services/network-service.js';
import { NetnsManager } from '../../../src/network/netns.js';
import { CniConfLoader } from '../../../src/network/cni-config.js';
import { CniInvoker } from '../../../src/network/cni-invoke.js';
import { nullLogger } from '../../../src/log/index.js';
import type { ProcessRunner, RunOptions } from '../../../src/sys/process-runner.js';
import type { PodSandboxConfig } from '../../../src/domain/cri-types.js';

/**
 * FakeRootlesskit is RootlessKit's port API in memory, with its rules (builtin driver, portutil.ValidatePortSpec):
 * ids count up from 1 and start over on restart, a second port with the same proto, parentIP and parentPort is
 * refused (400 "conflict with ID n"), and `taken` are ports the host itself holds (400, the bind fails). `down`
 * makes every call fail as an unreachable socket does.
 */
class FakeRootlesskit implements RootlesskitPorts {
  ports = new Map<number, RootlesskitPortSpec>();
  next = 1;
  taken = new Set<number>();
  down = false;
  calls: string[] = [];

  private check(what: string) {
    this.calls.push(what);
    if (this.down) throw new RootlesskitApiError('RootlessKit API: connect ENOENT');
  }

  async info(): Promise<RootlesskitInfo> {
    this.check('info');
    return { apiVersion: '1.1.1', version: '1.1.0', stateDir: '/x', childPID: 1, networkDriver: { driver: 'slirp4netns', childIP: '10.0.2.100' }, portDriver: { driver: 'builtin', protos: ['tcp', 'udp'] } };
  }

  async listPorts(): Promise<RootlesskitPortStatus[]> {
    this.check('list');
    return [...this.ports].map(([id, spec]) => ({ id, spec: { ...spec } }));
  }

  async addPort(spec: RootlesskitPortSpec): Promise<RootlesskitPortStatus> {
    this.check(`add ${spec.parentIP}:${spec.parentPort}/${spec.proto}`);
    for (const [id, p] of this.ports) if (p.proto === spec.proto && p.parentIP === spec.parentIP && p.parentPort === spec.parentPort) throw new RootlesskitApiError(`conflict with ID ${id}`, 400);
    if (this.taken.has(spec.parentPort)) throw new RootlesskitApiError(`listen tcp ${spec.parentIP}:${spec.parentPort}: bind: address already in use`, 400);
    if (spec.parentPort < 1024) throw new RootlesskitApiError(`listen tcp ${spec.parentIP}:${spec.parentPort}: bind: permission denied`, 400);
    const id = this.next++;
    this.ports.set(id, { ...spec });
    return { id, spec: { ...spec } };
  }

  async removePort(id: number): Promise<void> {
    this.check(`remove ${id}`);
    if (!this.ports.delete(id)) throw new RootlesskitApiError(`unknown id: ${id}`, 400);
  }

  restart() {
    this.ports.clear();
    this.next = 1;
  }

  parentPorts() {
    return [...this.ports.values()].map((p) => p.parentPort).sort();
  }
}

describe('hostPort specs for RootlessKit', () => {
  it.each<[string, PortMapping, string | undefined, RootlesskitPortSpec]>([
    ['any address', { hostPort: 8080, containerPort: 80, protocol: 'tcp' }, undefined, { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 }],
    ['empty hostIP', { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }, undefined, { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 }],
    ['a host address, udp', { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '192.168.1.5' }, undefined, { proto: 'udp', parentIP: '192.168.1.5', parentPort: 5353, childPort: 5353 }],
    ['upper-case protocol', { hostPort: 9, containerPort: 9, protocol: 'SCTP' }, undefined, { proto: 'sctp', parentIP: '0.0.0.0', parentPort: 9, childPort: 9 }],
    ['a port driver that refuses loopback', { hostPort: 8080, containerPort: 80, protocol: 'tcp' }, '10.0.2.100', { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080, childIP: '10.0.2.100' }],
  ])('%s: the child port is the host port (portmap maps it on)', (_name, m, childIP, want) => {
    expect(parentSpecOf(m, childIP)).toEqual(want);
  });

  it.each<[string | undefined, string | undefined, boolean, string | undefined]>([
    [undefined, undefined, false, undefined],
    ['', undefined, false, ''],
    ['0.0.0.0', '10.0.2.100', true, '0.0.0.0'],
    ['127.0.0.1', '10.0.2.100', false, '127.0.0.1'],
    ['127.0.0.1', '10.0.2.100', true, '10.0.2.100'],
    ['192.168.1.5', '10.0.2.100', false, '127.0.0.1'],
    ['192.168.1.5', '10.0.2.100', true, '10.0.2.100'],
    ['10.0.2.100', '10.0.2.100', false, '10.0.2.100'],
    ['fd00::5', undefined, false, '::1'],
  ])('hostIP %j with child IP %j (loopback refused: %j) reaches portmap as %j', (hostIP, childIP, refuse, want) => {
    expect(cniHostIp(hostIP, childIP, refuse)).toBe(want);
  });

  it('sameSpec treats an absent childIP as the empty default', () => {
    const a: RootlesskitPortSpec = { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 1, childPort: 1 };
    expect(sameSpec(a, { ...a, childIP: '' })).toBe(true);
    expect(sameSpec(a, { ...a, childPort: 2 })).toBe(false);
    expect(sameSpec(a, { ...a, proto: 'udp' })).toBe(false);
  });
});

describe('RootlesskitHostPorts (fake API)', () => {
  const m = (hostPort: number, protocol = 'tcp'): PortMapping => ({ hostPort, containerPort: 80, protocol });

  it('exposes all mappings or none: a refused one takes back those added before it, FAILED_PRECONDITION naming it', async () => {
    const api = new FakeRootlesskit();
    api.taken.add(8081);
    const hp = await RootlesskitHostPorts.fromInfo(api);
    await expect(hp.expose([m(8080), m(8081)])).rejects.toMatchObject({ kind: 'FailedPrecondition', message: expect.stringContaining("hostPort 0.0.0.0:8081/tcp cannot be exposed on the host through RootlessKit's port driver: listen tcp 0.0.0.0:8081: bind: address already in use") });
    expect(api.parentPorts()).toEqual([]);
    await expect(hp.expose([m(80)])).rejects.toThrow(/permission denied \(a port below 1024 needs net\.ipv4\.ip_unprivileged_port_start/);
    const st = await hp.expose([m(8080), m(8080, 'udp')]);
    expect(st.map((s) => s.id)).toEqual([2, 3]); // id 1 was 8080's, taken back
    expect(api.parentPorts()).toEqual([8080, 8080]);
    // The same host port twice is the API's conflict.
    await expect(hp.expose([m(8080)])).rejects.toThrow(/conflict with ID 2/);
  });

  it('an unreachable API is INTERNAL', async () => {
    const api = new FakeRootlesskit();
    const hp = await RootlesskitHostPorts.fromInfo(api);
    api.down = true;
    await expect(hp.expose([m(8080)])).rejects.toMatchObject({ kind: 'Internal', message: expect.stringContaining('connect ENOENT') });
  });

  it('refuses a RootlessKit without a port driver', async () => {
    const api = new FakeRootlesskit();
    api.info = async () => ({ apiVersion: '1.1.1', version: '1.1.0', stateDir: '/x', childPID: 1 });
    await expect(RootlesskitHostPorts.fromInfo(api)).rejects.toThrow(/runs no port driver/);
  });

  it('unexpose removes an id only while it names the same port (ids start over when RootlessKit restarts); absent is fine', async () => {
    const api = new FakeRootlesskit();
    const hp = await RootlesskitHostPorts.fromInfo(api);
    const old = await hp.expose([m(8080)]);
    api.restart();
    const other = await hp.expose([m(9090)]);
    expect(other[0]!.id).toBe(old[0]!.id);
    await hp.unexpose(old);
    expect(api.parentPorts()).toEqual([9090]);
    await hp.unexpose(other);
    await hp.unexpose(other);
    expect(api.parentPorts()).toEqual([]);
  });

  it('forCni rewrites only what the child namespace has not (loopback dialled by the builtin driver)', async () => {
    const hp = await RootlesskitHostPorts.fromInfo(new FakeRootlesskit());
    const ms = [{ ...m(1), hostIP: '192.168.1.5' }, { ...m(2), hostIP: '' }, m(3)];
    expect(hp.forCni(ms)).toEqual([{ ...m(1), hostIP: '127.0.0.1' }, { ...m(2), hostIP: '' }, m(3)]);
  });
});

/** A host in memory (as network-service.test.ts): mounts as a set; plugins answer from `plugin`; stdin kept. */
function fakeHost(plugin: (env: NodeJS.ProcessEnv) => { code: number; stdout: string }) {
  const mounts = new Set<string>();
  const inputs: Record<string, unknown>[] = [];
  const runner: ProcessRunner = {
    spawn: () => {
      throw new Error('no');
    },
    async run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
      const ok = (stdout = '', code = 0) => ({ code, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), timedOut: false });
      if (cmd === 'mount') return (mounts.add(args.at(-1)!), ok());
      if (cmd === 'umount') return (mounts.delete(args.at(-1)!), ok());
      if (cmd === 'unshare') return (mounts.add(args[0]!.slice('--net='.length)), ok());
      inputs.push({ command: opts.env?.CNI_COMMAND, ...(JSON.parse(String(opts.input)) as Record<string, unknown>) });
      const r = plugin(opts.env ?? {});
      return ok(r.stdout, r.code);
    },
  };
  const mountInfo = async () => [...mounts].map((x, i) => `${i} 1 0:1 / ${x} rw - nsfs nsfs rw`).join('\n');
  return { runner, mountInfo, mounts, inputs };
}

const podWithPorts = (ports: { host_port: number; host_ip?: string }[]): PodSandboxConfig => ({
  metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 },
  hostname: 'p',
  log_directory: '',
  dns_config: null,
  port_mappings: ports.map((p) => ({ protocol: 'TCP', container_port: 80, host_port: p.host_port, host_ip: p.host_ip ?? '' })),
  labels: {},
  annotations: {},
  linux: null,
  windows: null,
});

describe('NetworkService with RootlessKit host ports (fake host, fake API)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-rlports-'));
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'conf'));
    for (const b of ['bridge', 'portmap']) {
      await writeFile(join(dir, 'bin', b), '');
      await chmod(join(dir, 'bin', b), 0o755);
    }
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const addResult = JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.85.0.2/16', interface: 0 }] });
  const okPlugin = (env: NodeJS.ProcessEnv) => ({ code: 0, stdout: env.CNI_COMMAND === 'ADD' ? addResult : '' });
  const writeConf = (portmap = true) =>
    writeFile(join(dir, 'conf', '10.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 't', plugins: [{ type: 'bridge' }, ...(portmap ? [{ type: 'portmap', capabilities: { portMappings: true } }] : [])] }));
  const build = (h: ReturnType<typeof fakeHost>, api: FakeRootlesskit) =>
    new NetworkService({
      netns: new NetnsManager({ dir: join(dir, 'netns'), runner: h.runner, mountInfo: h.mountInfo }),
      conf: new CniConfLoader(join(dir, 'conf'), [join(dir, 'bin')]),
      invoker: new CniInvoker({ runner: h.runner, binDirs: [join(dir, 'bin')], timeoutMs: 1000 }),
      binDirs: [join(dir, 'bin')],
      cacheDir: join(dir, 'cache'),
      log: nullLogger(),
      delRetryDelaysMs: [1, 1],
      hostPorts: new RootlesskitHostPorts({ api }),
    });

  it('exposes a pod\'s host ports after ADD (portmap sees the child-side address) and removes them on tear-down', async () => {
    await writeConf();
    const api = new FakeRootlesskit();
    const h = fakeHost(okPlugin);
    const svc = build(h, api);
    await svc.setUpPod({ id: 'a', config: podWithPorts([{ host_port: 8080 }, { host_port: 8443, host_ip: '192.168.1.5' }]), hostNetwork: false });
    expect([...api.ports.values()]).toEqual([
      { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 },
      { proto: 'tcp', parentIP: '192.168.1.5', parentPort: 8443, childPort: 8443 },
    ]);
    const portmapAdd = h.inputs.find((i) => i.command === 'ADD' && i.type === 'portmap')!;
    expect((portmapAdd.runtimeConfig as { portMappings: PortMapping[] }).portMappings.map((p) => p.hostIP)).toEqual(['', '127.0.0.1']);
    const cache = JSON.parse(await readFile(join(dir, 'cache', 'a.json'), 'utf8'));
    expect(cache.hostPorts.exposed.map((p: RootlesskitPortStatus) => p.id)).toEqual([1, 2]);
    await svc.tearDownPod({ id: 'a', hostNetwork: false });
    expect(api.ports.size).toBe(0);
    expect(h.inputs.filter((i) => i.command === 'DEL').map((i) => i.type)).toEqual(['portmap', 'bridge']);
    await svc.removePod('a');
    expect(api.calls.filter((c) => c.startsWith('remove'))).toEqual(['remove 1', 'remove 2']);
  });

  it('exposes nothing without a portMappings plugin, or for a pod without host ports', async () => {
    await writeConf(false);
    const api = new FakeRootlesskit();
    const svc = build(fakeHost(okPlugin), api);
    await svc.setUpPod({ id: 'a', config: podWithPorts([{ host_port: 8080 }]), hostNetwork: false });
    await writeConf(true);
    await svc.setUpPod({ id: 'b', config: podWithPorts([]), hostNetwork: false });
    expect(api.calls.filter((c) => c.startsWith('add'))).toEqual([]);
  });

  it('a refused host port undoes the whole set-up: DEL ran, namespace and record gone, no port left', async () => {
    await writeConf();
    const api = new FakeRootlesskit();
    api.taken.add(8081);
    const h = fakeHost(okPlugin);
    const svc = build(h, api);
    await expect(svc.setUpPod({ id: 'a', config: podWithPorts([{ host_port: 8080 }, { host_port: 8081 }]), hostNetwork: false })).rejects.toMatchObject({ kind: 'FailedPrecondition' });
    expect(api.ports.size).toBe(0);
    expect(h.inputs.filter((i) => i.command === 'DEL').map((i) => i.type)).toEqual(['portmap', 'bridge']);
    expect(h.mounts.size).toBe(0);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });

  it('when the API fails at tear-down DEL still runs and the record stays; the next tear-down removes the ports', async () => {
    await writeConf();
    const api = new FakeRootlesskit();
    const h = fakeHost(okPlugin);
    const svc = build(h, api);
    await svc.setUpPod({ id: 'a', config: podWithPorts([{ host_port: 8080 }]), hostNetwork: false });
    api.down = true;
    await expect(svc.tearDownPod({ id: 'a', hostNetwork: false })).rejects.toThrow(/removing the pod's host ports from RootlessKit failed/);
    expect(h.inputs.filter((i) => i.command === 'DEL')).toHaveLength(2);
    expect(await readdir(join(dir, 'cache'))).toEqual(['a.json']);
    api.down = false;
    await svc.tearDownPod({ id: 'a', hostNetwork: false });
    expect(api.ports.size).toBe(0);
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });

  it('recovery removes the ports no known pod holds, keeps the others, and exposes again what RootlessKit lost', async () => {
    await writeConf();
    const api = new FakeRootlesskit();
    const h = fakeHost(okPlugin);
    const svc = build(h, api);
    await svc.setUpPod({ id: 'known', config: podWithPorts([{ host_port: 8080 }]), hostNetwork: false });
    await svc.setUpPod({ id: 'lost', config: podWithPorts([{ host_port: 8081 }]), hostNetwork: false });
    // A port left by a crash between exposing and recording, and an earlier fune's streaming port.
    await api.addPort({ proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8082, childPort: 8082 });
    await api.addPort({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 40000, childPort: 40000 });
    expect(await build(h, api).recover(['known'])).toEqual(['known']);
    expect(api.parentPorts()).toEqual([8080]);
    expect(api.ports.has(1)).toBe(true); // kept as it was, not exposed again
    // RootlessKit restarted under a fune whose pod namespace lives on: the port is exposed again and recorded.
    api.restart();
    await api.addPort({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 40001, childPort: 40001 });
    expect(await build(h, api).recover(['known'])).toEqual(['known']);
    expect(api.parentPorts()).toEqual([8080]);
    const cache = JSON.parse(await readFile(join(dir, 'cache', 'known.json'), 'utf8'));
    expect(cache.hostPorts.exposed).toEqual([{ id: 2, spec: { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 } }]);
    await svc.removePod('known');
    expect(api.ports.size).toBe(0);
  });
});

describe('RootlesskitApiClient (an HTTP server on a unix socket)', () => {
  let dir = '';
  let server: Server;
  const seen: string[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fune-rkapi-'));
    seen.length = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        if (req.method === 'GET' && req.url === '/v1/ports') return res.writeHead(200).end('null');
        if (req.method === 'GET' && req.url === '/v1/info') return res.writeHead(200).end('{"apiVersion":"1.1.1","version":"1.1.0","stateDir":"/s","childPID":7}');
        if (req.method === 'POST' && req.url === '/v1/ports') {
          const spec = JSON.parse(body) as RootlesskitPortSpec;
          if (spec.parentPort === 1) return res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"listen tcp 0.0.0.0:1: bind: permission denied"}');
          return res.writeHead(201).end(JSON.stringify({ id: 3, spec }));
        }
        if (req.method === 'DELETE' && req.url === '/v1/ports/3') return res.writeHead(200).end();
        res.writeHead(404).end('404 page not found\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'api.sock'), resolve));
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('speaks the REST API: info, list (null = none), add, remove; a refusal carries its status and message', async () => {
    const api = new RootlesskitApiClient(join(dir, 'api.sock'));
    expect(await api.info()).toMatchObject({ version: '1.1.0', childPID: 7 });
    expect(await api.listPorts()).toEqual([]);
    const spec = { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 };
    expect(await api.addPort(spec)).toEqual({ id: 3, spec });
    await api.removePort(3);
    await expect(api.addPort({ ...spec, parentPort: 1 })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('400: listen tcp 0.0.0.0:1: bind: permission denied') });
    await expect(api.removePort(4)).rejects.toMatchObject({ status: 404, message: expect.stringContaining('404 page not found') });
    await expect(api.removePort(-1)).rejects.toThrow(/invalid RootlessKit port id/);
    expect(seen).toEqual(['GET /v1/info ', 'GET /v1/ports ', `POST /v1/ports ${JSON.stringify(spec)}`, 'DELETE /v1/ports/3 ', `POST /v1/ports ${JSON.stringify({ ...spec, parentPort: 1 })}`, 'DELETE /v1/ports/4 ']);
  });

  it('a socket that is not there is a RootlesskitApiError naming it', async () => {
    const api = new RootlesskitApiClient(join(dir, 'nope.sock'));
    await expect(api.listPorts()).rejects.toMatchObject({ name: 'RootlesskitApiError', message: expect.stringContaining(`GET /v1/ports (${join(dir, 'nope.sock')}): connect ENOENT`) });
  });
});
