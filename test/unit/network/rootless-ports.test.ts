// hostPorts under RootlessKit: the API client against an HTTP server on a unix socket that answers as RootlessKit's
// port manager does (ids, a conflict refused with {"message"}), RootlesskitHostPorts over it (all or none, removal by
// the mapping), and NetworkService using it around CNI ADD and DEL. The guest test (test/vm/rootless.test.ts) runs
// the real RootlessKit.
import { createServer, type Server } from 'node:http';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RootlesskitApiClient, RootlesskitApiError, rootlesskitApiSocket, type RootlesskitPortSpec, type RootlesskitPortStatus } from '../../../src/sys/rootlesskit-api.js';
import { RootlesskitHostPorts, specOf } from '../../../src/network/rootless-ports.js';
import { NetworkService } from '../../../src/services/network-service.js';
import { NetnsManager } from '../../../src/network/netns.js';
import { CniConfLoader } from '../../../src/network/cni-config.js';
import { CniInvoker } from '../../../src/network/cni-invoke.js';
import { nullLogger } from '../../../src/log/index.js';
import type { ProcessRunner, RunOptions } from '../../../src/sys/process-runner.js';
import type { PodSandboxConfig } from '../../../src/domain/cri-types.js';

/** fakeRootlesskit serves /v1/ports on a unix socket; `refuse` makes POST fail for a port (as a port in use does). */
function fakeRootlesskit(socket: string, refuse: (s: RootlesskitPortSpec) => string | undefined = () => undefined) {
  const ports = new Map<number, RootlesskitPortStatus>();
  let next = 1;
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.method === 'GET' && req.url === '/v1/ports') return send(200, [...ports.values()]);
      if (req.method === 'POST' && req.url === '/v1/ports') {
        const spec = JSON.parse(body) as RootlesskitPortSpec;
        const why = refuse(spec) ?? ([...ports.values()].some((p) => p.spec.proto === spec.proto && p.spec.parentPort === spec.parentPort) ? `conflict with port ${spec.parentPort}` : undefined);
        if (why) return send(500, { message: why });
        const st = { id: next++, spec };
        ports.set(st.id, st);
        return send(201, st);
      }
      const m = /^\/v1\/ports\/(\d+)$/.exec(req.url ?? '');
      if (req.method === 'DELETE' && m) {
        if (!ports.delete(Number(m[1]))) return send(404, { message: `port ${m[1]} not found` });
        return send(200, {});
      }
      send(404, { message: 'no such path' });
    });
  });
  return {
    ports,
    calls,
    listen: () => new Promise<void>((r) => server.listen(socket, () => r())),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fune-rlports-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('RootlessKit API client and RootlesskitHostPorts', () => {
  it('the API socket is named by ROOTLESSKIT_STATE_DIR (absolute only)', () => {
    expect(rootlesskitApiSocket({ ROOTLESSKIT_STATE_DIR: '/run/user/1000/fune-rootlesskit' })).toBe('/run/user/1000/fune-rootlesskit/api.sock');
    expect(rootlesskitApiSocket({ ROOTLESSKIT_STATE_DIR: 'rel' })).toBeUndefined();
    expect(rootlesskitApiSocket({})).toBeUndefined();
  });

  it('adds, lists and removes ports; a refusal is an error with RootlessKit\'s status and message', async () => {
    const rk = fakeRootlesskit(join(dir, 'api.sock'));
    await rk.listen();
    try {
      const api = new RootlesskitApiClient(join(dir, 'api.sock'));
      const st = await api.addPort({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 9000, childPort: 9000 });
      expect(st).toEqual({ id: 1, spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 9000, childPort: 9000 } });
      expect(await api.listPorts()).toEqual([st]);
      const e = await api.addPort({ proto: 'tcp', parentIP: '', parentPort: 9000, childPort: 9000 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RootlesskitApiError);
      expect(e).toMatchObject({ status: 500, message: 'RootlessKit refused POST /v1/ports (HTTP 500): conflict with port 9000' });
      await api.removePort(1);
      expect(await api.listPorts()).toEqual([]);
    } finally {
      await rk.close();
    }
  });

  it('an API that is not there is an error of status 0 naming the socket', async () => {
    const e = await new RootlesskitApiClient(join(dir, 'none.sock')).listPorts().catch((x: unknown) => x);
    expect(e).toMatchObject({ status: 0 });
    expect((e as Error).message).toContain(join(dir, 'none.sock'));
  });

  it.each([
    [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }, { proto: 'tcp', parentIP: '0.0.0.0', parentPort: 8080, childPort: 8080 }],
    [{ hostPort: 8080, containerPort: 80, protocol: 'udp', hostIP: '127.0.0.1' }, { proto: 'udp', parentIP: '127.0.0.1', parentPort: 8080, childPort: 8080 }],
    [{ hostPort: 53, containerPort: 53, protocol: 'sctp' }, { proto: 'sctp', parentIP: '0.0.0.0', parentPort: 53, childPort: 53 }],
    [{ hostPort: 8443, containerPort: 443, protocol: 'tcp', hostIP: '::' }, { proto: 'tcp6', parentIP: '::', parentPort: 8443, childPort: 8443 }],
  ])('mapping %j is RootlessKit port %j (dialled at 127.0.0.1:hostPort inside)', (m, spec) => expect(specOf(m)).toEqual(spec));

  it('forCni keeps "any" and loopback, and turns a host-only address into the 127.0.0.1 that RootlessKit dials', () => {
    const hp = new RootlesskitHostPorts({ listPorts: () => Promise.resolve([]), addPort: () => Promise.reject(new Error('no')), removePort: () => Promise.resolve() });
    expect(hp.forCni([
      { hostPort: 1, containerPort: 1, protocol: 'tcp', hostIP: '' },
      { hostPort: 2, containerPort: 2, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 3, containerPort: 3, protocol: 'tcp', hostIP: '192.168.1.5' },
    ]).map((m) => m.hostIP)).toEqual(['', '127.0.0.1', '127.0.0.1']);
  });

  it('exposes all or none: a refused port removes those already added and is FAILED_PRECONDITION; unexpose removes by mapping only', async () => {
    const rk = fakeRootlesskit(join(dir, 'api.sock'), (s) => (s.parentPort === 80 ? 'listen tcp 0.0.0.0:80: bind: permission denied' : undefined));
    await rk.listen();
    try {
      const hp = new RootlesskitHostPorts(new RootlesskitApiClient(join(dir, 'api.sock')));
      const other = { hostPort: 9999, containerPort: 1, protocol: 'tcp', hostIP: '' };
      await hp.expose([other]);
      const e = await hp.expose([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostPort: 80, containerPort: 80, protocol: 'tcp' }]).catch((x: unknown) => x);
      expect(e).toMatchObject({ kind: 'FailedPrecondition' });
      expect((e as Error).message).toBe('host port 0.0.0.0:80/tcp cannot be exposed on this rootless node: RootlessKit refused POST /v1/ports (HTTP 500): listen tcp 0.0.0.0:80: bind: permission denied');
      expect([...rk.ports.values()].map((p) => p.spec.parentPort)).toEqual([9999]);
      const mine = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }, { hostPort: 8081, containerPort: 81, protocol: 'udp', hostIP: '' }];
      await hp.expose(mine);
      await hp.unexpose(mine);
      await hp.unexpose(mine); // idempotent
      expect([...rk.ports.values()].map((p) => p.spec.parentPort)).toEqual([9999]);
    } finally {
      await rk.close();
    }
  });
});

describe('NetworkService with RootlessKit host ports', () => {
  const pod = (ports: PodSandboxConfig['port_mappings']): PodSandboxConfig => ({
    metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 0 }, hostname: 'p', log_directory: '', dns_config: null, port_mappings: ports, labels: {}, annotations: {}, linux: null, windows: null,
  });
  const addResult = JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/x' }], ips: [{ address: '10.85.0.2/16', interface: 0 }] });

  async function setUp(refuse?: (s: RootlesskitPortSpec) => string | undefined, portmap = true) {
    await mkdir(join(dir, 'bin'));
    await mkdir(join(dir, 'conf'));
    for (const b of ['bridge', 'portmap']) {
      await writeFile(join(dir, 'bin', b), '');
      await chmod(join(dir, 'bin', b), 0o755);
    }
    const plugins = [{ type: 'bridge' }, ...(portmap ? [{ type: 'portmap', capabilities: { portMappings: true } }] : [])];
    await writeFile(join(dir, 'conf', '10.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 't', plugins }));
    const mounts = new Set<string>();
    const cni: { cmd: string; mappings: unknown }[] = [];
    const runner: ProcessRunner = {
      spawn: () => {
        throw new Error('no');
      },
      run(cmd: string, args: readonly string[], opts: RunOptions = {}) {
        const ok = (stdout = '') => Promise.resolve({ code: 0, signal: null, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), timedOut: false });
        if (cmd === 'mount') return (mounts.add(args.at(-1)!), ok());
        if (cmd === 'umount') return (mounts.delete(args.at(-1)!), ok());
        if (cmd === 'unshare') return (mounts.add(args[0]!.slice('--net='.length)), ok());
        const conf = JSON.parse(String(opts.input)) as { type: string; runtimeConfig?: { portMappings?: unknown } };
        cni.push({ cmd: `${conf.type} ${opts.env?.CNI_COMMAND}`, mappings: conf.runtimeConfig?.portMappings });
        return ok(opts.env?.CNI_COMMAND === 'ADD' ? addResult : '');
      },
    };
    const rk = fakeRootlesskit(join(dir, 'api.sock'), refuse);
    await rk.listen();
    const svc = new NetworkService({
      netns: new NetnsManager({ dir: join(dir, 'netns'), runner, mountInfo: async () => [...mounts].map((m, i) => `${i} 1 0:1 / ${m} rw - nsfs nsfs rw`).join('\n') }),
      conf: new CniConfLoader(join(dir, 'conf'), [join(dir, 'bin')]),
      invoker: new CniInvoker({ runner, binDirs: [join(dir, 'bin')], timeoutMs: 1000 }),
      binDirs: [join(dir, 'bin')],
      cacheDir: join(dir, 'cache'),
      log: nullLogger(),
      delRetryDelaysMs: [1],
      hostPorts: new RootlesskitHostPorts(new RootlesskitApiClient(join(dir, 'api.sock'))),
    });
    return { svc, rk, cni, mounts };
  }

  it('exposes the pod\'s ports after ADD (portmap gets the namespace\'s address), keeps them in the record, and removes them before DEL', async () => {
    const { svc, rk, cni } = await setUp();
    try {
      await svc.setUpPod({ id: 'a', config: pod([{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '192.168.1.5' }]), hostNetwork: false });
      expect([...rk.ports.values()].map((p) => p.spec)).toEqual([{ proto: 'tcp', parentIP: '192.168.1.5', parentPort: 8080, childPort: 8080 }]);
      expect(cni.find((x) => x.cmd === 'portmap ADD')?.mappings).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }]);
      const rec = JSON.parse(await readFile(join(dir, 'cache', 'a.json'), 'utf8')) as { hostPorts: unknown };
      expect(rec.hostPorts).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '192.168.1.5' }]);
      rk.calls.length = 0;
      await svc.tearDownPod({ id: 'a', hostNetwork: false });
      expect(rk.ports.size).toBe(0);
      expect(rk.calls).toEqual(['GET /v1/ports', 'DELETE /v1/ports/1']);
      expect(cni.at(-1)?.cmd).toBe('bridge DEL');
    } finally {
      await rk.close();
    }
  });

  it('a refused host port fails the set-up as FAILED_PRECONDITION and undoes it: CNI DEL, no namespace, no port, no record', async () => {
    const { svc, rk, cni, mounts } = await setUp((s) => (s.parentPort === 8081 ? 'port in use' : undefined));
    try {
      const e = await svc.setUpPod({ id: 'b', config: pod([{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' }, { protocol: 'TCP', container_port: 81, host_port: 8081, host_ip: '' }]), hostNetwork: false }).catch((x: unknown) => x);
      expect(e).toMatchObject({ kind: 'FailedPrecondition' });
      expect(rk.ports.size).toBe(0);
      expect(cni.map((x) => x.cmd)).toEqual(['bridge ADD', 'portmap ADD', 'portmap DEL', 'bridge DEL']);
      expect(mounts.size).toBe(0);
      await expect(readFile(join(dir, 'cache', 'b.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rk.close();
    }
  });

  it('a list without a portMappings plugin exposes nothing (nothing maps the port inside either)', async () => {
    const { svc, rk } = await setUp(undefined, false);
    try {
      await svc.setUpPod({ id: 'c', config: pod([{ protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' }]), hostNetwork: false });
      expect(rk.calls).toEqual([]);
    } finally {
      await rk.close();
    }
  });
});
