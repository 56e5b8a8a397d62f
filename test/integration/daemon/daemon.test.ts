import { afterEach, describe, expect, it } from 'vitest';
import { access, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { criClient, failure, grpc, startDaemon, type TestDaemon } from '../../helpers/daemon.js';

const daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.cleanup();
});
async function start(...a: Parameters<typeof startDaemon>) {
  const d = await startDaemon(...a);
  daemons.push(d);
  return d;
}

describe('fune daemon', () => {
  it('answers Version and Status over runtime.v1 and runtime.v1alpha2 on one socket', async () => {
    const d = await start();
    const v1 = criClient(d.socket, 'v1');
    const a2 = criClient(d.socket, 'v1alpha2');
    try {
      const r1 = await v1.call('Version', { version: '0.1.0' });
      expect(r1).toMatchObject({ runtime_name: 'fune', runtime_api_version: 'v1', version: '0.1.0' });
      expect(r1.runtime_version).toMatch(/^\d+\.\d+\.\d+/);
      const r2 = await a2.call('Version', {});
      expect(r2).toMatchObject({ runtime_name: 'fune', runtime_api_version: 'v1alpha2' });
      for (const c of [v1, a2]) {
        const st = await c.call('Status', { verbose: true });
        const types = st.status.conditions.map((x: { type: string }) => x.type);
        expect(types).toEqual(['RuntimeReady', 'NetworkReady']);
        const cfg = JSON.parse(st.info.config);
        expect(cfg.root).toBe(d.root);
        const quiet = await c.call('Status', { verbose: false });
        expect(quiet.info).toEqual({});
      }
      const rc = await v1.call('RuntimeConfig', {});
      expect(rc.linux.cgroup_driver).toBe('CGROUPFS');
    } finally {
      v1.close();
      a2.close();
    }
  });

  it('creates the socket with mode 0660 and removes it on SIGTERM, exiting 0', async () => {
    const d = await start();
    expect((await stat(d.socket)).mode & 0o777).toBe(0o660);
    expect(await d.stop('SIGTERM')).toBe(0);
    await expect(access(d.socket)).rejects.toThrow();
  });

  it('answers UNIMPLEMENTED, naming the verb, for a verb fune does not serve', async () => {
    const d = await start();
    const c = criClient(d.socket, 'v1');
    try {
      // Every v1 verb is served now: ask for one the CRI does not have.
      const f = await failure(
        new Promise((resolve, reject) =>
          c.raw.makeUnaryRequest('/runtime.v1.RuntimeService/FrobnicateContainer', () => Buffer.alloc(0), (b: Buffer) => b, {}, (err, res) => (err ? reject(err) : resolve(res))),
        ),
      );
      expect(f.code).toBe(grpc.status.UNIMPLEMENTED);
      expect(f.details).toContain('FrobnicateContainer');
    } finally {
      c.close();
    }
  });

  it('refuses a second daemon on the same state directory, and the first keeps serving', async () => {
    const d = await start();
    const second = await startDaemon({ dir: d.dir, wait: false });
    const code = await new Promise<number | null>((resolve) => second.proc.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(second.logs()).toMatch(/already using this state directory/);
    const c = criClient(d.socket);
    try {
      expect((await c.call('Version')).runtime_name).toBe('fune');
    } finally {
      c.close();
    }
  });

  it('replaces a stale socket left by a killed daemon', async () => {
    const d = await start();
    expect(await d.stop('SIGKILL')).toBe(null);
    await access(d.socket); // the killed daemon left its socket behind
    const again = await start({ dir: d.dir });
    const c = criClient(again.socket);
    try {
      expect((await c.call('Version')).runtime_name).toBe('fune');
    } finally {
      c.close();
    }
  });

  it('fails at start with every config problem listed', async () => {
    const d = await startDaemon({ toml: '[registry]\nconfig_path = "relative"\n[runtime]\ncgroup_driver = "upstart"\n[streaming]\nport = 70000\nbogus = 1\n', wait: false });
    daemons.push(d);
    const code = await new Promise<number | null>((resolve) => d.proc.once('exit', resolve));
    expect(code).toBe(1);
    for (const s of ['"registry.config_path" must be an absolute path', '"runtime.cgroup_driver"', '"streaming.port"', 'unknown key "streaming.bogus"']) expect(d.logs()).toContain(s);
  });

  it('answers a malformed protobuf payload with an error and keeps serving', async () => {
    const d = await start();
    // A raw HTTP/2 gRPC call whose body is not a valid Version request.
    const http2 = await import('node:http2');
    const session = http2.connect('http://localhost', { createConnection: () => connect(d.socket) });
    const status = await new Promise<string | undefined>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/runtime.v1.RuntimeService/UpdateRuntimeConfig', 'content-type': 'application/grpc', te: 'trailers' });
      let st: string | undefined;
      req.on('trailers', (t) => (st = String(t['grpc-status'])));
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) st = String(h['grpc-status']);
      });
      req.on('end', () => resolve(st));
      req.on('error', reject);
      req.resume();
      const body = Buffer.from([0x0a, 0x03, 0x0a, 0x80]); // a nested message whose varint runs off the end
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      req.end(frame);
    });
    session.close();
    expect([String(grpc.status.INVALID_ARGUMENT), String(grpc.status.INTERNAL)]).toContain(status);
    const c = criClient(d.socket);
    try {
      expect((await c.call('Version')).runtime_name).toBe('fune');
    } finally {
      c.close();
    }
  });
});
