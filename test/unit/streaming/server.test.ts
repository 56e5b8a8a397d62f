import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { nullLogger } from '../../../src/log/index.js';
import { StreamingServer } from '../../../src/streaming/server.js';
import { systemClock } from '../../../src/sys/clock.js';
import type { ExecRequestInfo } from '../../../src/streaming/types.js';
import { upgrade, type SpdyClient } from '../../helpers/spdy-client.js';
import { FakeClock } from './fake-clock.js';
import { FakeRuntime } from './fake-runtime.js';

const V4 = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const until = async (f: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !f(); ) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const exec = (cmd: string[], o: Partial<ExecRequestInfo> = {}): ExecRequestInfo => ({
  kind: 'exec', containerId: 'c1', cmd, tty: false, stdin: false, stdout: true, stderr: true, ...o,
});

let runtime: FakeRuntime;
let clock: FakeClock;
let server: StreamingServer;
let clients: SpdyClient[] = [];

async function start(real = false) {
  runtime = new FakeRuntime();
  clock = new FakeClock();
  server = new StreamingServer({
    address: '127.0.0.1', port: 0, tokenTtlMs: 60_000, maxTokens: 5, idleTimeoutMs: 3_600_000, streamCreationTimeoutMs: 30_000,
    runtime, clock: real ? systemClock : clock, log: nullLogger(),
  });
  await server.start();
}

async function connect(url: string, protocols = V4) {
  const r = await upgrade(url, protocols);
  expect(r.status).toBe(101);
  clients.push(r.client!);
  return { ...r, client: r.client! };
}

/** runExec opens the streams remotecommand v4 clients open and collects the result. */
async function runExec(req: ExecRequestInfo, stdin?: string) {
  const { client, headers } = await connect(server.issue(req));
  expect(headers['x-stream-protocol-version']).toEqual(['v4.channel.k8s.io']);
  const error = client.open({ streamtype: 'error' });
  const input = req.stdin ? client.open({ streamtype: 'stdin' }) : undefined;
  const stdout = req.stdout ? client.open({ streamtype: 'stdout' }) : undefined;
  const stderr = req.stderr && !req.tty ? client.open({ streamtype: 'stderr' }) : undefined;
  if (input && stdin !== undefined) input.write(stdin, true);
  await Promise.all([stdout?.done(), stderr?.done(), error.done()]);
  await client.waitClose();
  return { out: stdout?.text(), err: stderr?.text(), status: error.text() ? JSON.parse(error.text()) : null, client };
}

beforeEach(() => start());
afterEach(async () => {
  clients.forEach((c) => c.close());
  clients = [];
  await server.stop();
});

describe('streaming server: URLs and tokens', () => {
  it('answers 404 to unknown, used, expired and wrong-kind tokens', async () => {
    const url = server.issue(exec(['echo', 'hi']));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{8}$/);
    expect((await upgrade(server.baseUrl + '/exec/nosuchtk', V4)).status).toBe(404);
    expect((await upgrade(url.replace('/exec/', '/attach/'), V4)).status).toBe(404);
    const again = server.issue(exec(['echo', 'hi']));
    const r = await connect(again);
    r.client.close();
    expect((await upgrade(again, V4)).status).toBe(404);
    const late = server.issue(exec(['echo', 'hi']));
    clock.advance(60_001);
    expect((await upgrade(late, V4)).status).toBe(404);
  });

  it('caps pending tokens with RESOURCE_EXHAUSTED', () => {
    for (let i = 0; i < 5; i++) server.issue(exec(['echo']));
    expect(() => server.issue(exec(['echo']))).toThrow(expect.objectContaining({ kind: 'ResourceExhausted' }));
    clock.advance(60_001);
    expect(server.issue(exec(['echo']))).toContain('/exec/');
  });

  it('negotiates the protocol: 403 with the accepted list, 400 without any', async () => {
    const r = await upgrade(server.issue(exec(['echo'])), ['v5.channel.k8s.io', 'v9.channel.k8s.io']);
    expect(r.status).toBe(403);
    expect(r.headers['x-accepted-stream-protocol-versions']).toEqual(V4);
    expect(r.body).toContain('unable to negotiate protocol');
    expect((await upgrade(server.issue(exec(['echo'])), [])).status).toBe(400);
    const v5first = await connect(server.issue(exec(['echo'])), ['v5.channel.k8s.io', ...V4]);
    expect(v5first.headers['x-stream-protocol-version']).toEqual(['v4.channel.k8s.io']);
  });
});

describe('remotecommand over SPDY', () => {
  it('exec: stdout, stderr and a v4 Success status', async () => {
    expect(await runExec(exec(['echo', 'hello']))).toMatchObject({ out: 'hello', err: '', status: { metadata: {}, status: 'Success' } });
    expect((await runExec(exec(['err', 'oops']))).err).toBe('oops');
  });

  it('exec: a non-zero exit code becomes NonZeroExitCode with an ExitCode cause', async () => {
    const { status } = await runExec(exec(['exit', '3']));
    expect(status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    const failed = await runExec(exec(['fail']));
    expect(failed.status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(failed.status.message).toContain('boom');
  });

  it('exec: stdin reaches the process and its end ends the command', async () => {
    const { out, status } = await runExec(exec(['cat'], { stdin: true, stderr: false }), 'ping\npong\n');
    expect(out).toBe('ping\npong\n');
    expect(status.status).toBe('Success');
  });

  it('exec: 3 MiB of output arrive whole (no flow-control stall)', async () => {
    const { out } = await runExec(exec(['big', String(3 << 20)]));
    expect(out!.length).toBe(3 << 20);
  });

  it('exec: the ends of stdout and stderr, the status, its end and GOAWAY leave in one write', async () => {
    const port = Number(new URL(server.baseUrl).port);
    const calls: number[] = []; // frames (buffers) per write on the server's side of the connection
    const proto = net.Socket.prototype as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const [write, writev] = [proto._write, proto._writev];
    proto._write = function (this: net.Socket, ...a: unknown[]) {
      if (this.localPort === port) calls.push(1);
      return write.apply(this, a);
    };
    proto._writev = function (this: net.Socket, ...a: unknown[]) {
      if (this.localPort === port) calls.push((a[0] as unknown[]).length);
      return writev.apply(this, a);
    };
    try {
      const { status } = await runExec(exec(['echo', 'hi']));
      expect(status.status).toBe('Success');
    } finally {
      Object.assign(proto, { _write: write, _writev: writev });
    }
    // stdout FIN, stderr FIN, the status (header and body), the error stream's FIN and GOAWAY
    expect(calls.at(-1)).toBeGreaterThanOrEqual(6);
  });

  it('tty: resize events reach the runtime', async () => {
    const { client } = await connect(server.issue(exec(['cat'], { tty: true, stdin: true, stderr: false })));
    const error = client.open({ streamtype: 'error' });
    const input = client.open({ streamtype: 'stdin' });
    const out = client.open({ streamtype: 'stdout' });
    const resize = client.open({ streamtype: 'resize' });
    resize.write('{"Width":80,"Height":24}\n{"width":100,');
    resize.write('"height":40}\n');
    input.write('x', true);
    await error.done();
    expect(out.text()).toBe('x');
    expect(runtime.resizes).toEqual([{ width: 80, height: 24 }, { width: 100, height: 40 }]);
  });

  it('closes the connection when the expected streams do not come in time', async () => {
    const { client } = await connect(server.issue(exec(['echo', 'x'])));
    client.open({ streamtype: 'error' });
    await until(() => server.openStreams === 1);
    clock.advance(29_999);
    expect(client.closed).toBe(false);
    clock.advance(2);
    await client.waitClose();
    expect(client.goaway).toBe(0);
  });

  it('kills the command when the client goes away', async () => {
    const { client } = await connect(server.issue(exec(['sleep'])));
    client.open({ streamtype: 'error' });
    client.open({ streamtype: 'stdout' });
    client.open({ streamtype: 'stderr' });
    await until(() => server.openStreams === 3);
    client.close();
    await until(() => runtime.killed === 1 && server.connections === 0);
  });

  it('idle timeout counts data, not PINGs, and echoes PINGs', async () => {
    const { client } = await connect(server.issue(exec(['sleep'], { stdin: true })));
    client.open({ streamtype: 'error' });
    const input = client.open({ streamtype: 'stdin' });
    client.open({ streamtype: 'stdout' });
    client.open({ streamtype: 'stderr' });
    await until(() => server.openStreams === 4);
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000_000);
      client.ping(2 * i + 1);
    }
    await until(() => client.pings.length === 3);
    expect(client.pings).toEqual([1, 3, 5]);
    input.write('data');
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(3_599_999);
    expect(client.closed).toBe(false);
    clock.advance(1_000_000);
    await client.waitClose();
    await until(() => runtime.killed === 1);
  });
});

describe('port-forward over SPDY', () => {
  let echo: net.Server;
  let port: number;
  beforeEach(async () => {
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    port = (echo.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await new Promise((r) => echo.close(r));
  });

  const pf = () => connect(server.issue({ kind: 'portforward', podSandboxId: 'p1', ports: [] }), ['portforward.k8s.io']);

  async function pair(client: SpdyClient, id: number, p: number, payload: string) {
    const error = client.open({ streamtype: 'error', port: String(p), requestid: String(id) });
    error.end();
    const data = client.open({ streamtype: 'data', port: String(p), requestid: String(id) });
    data.write(payload, true);
    await Promise.all([data.done(), error.done()]);
    return { data: data.text(), error: error.text() };
  }

  it('forwards data both ways, reports a refused port on that pair only, and frees finished pairs', async () => {
    const { client } = await pf();
    expect(await pair(client, 0, port, 'hello')).toEqual({ data: 'hello', error: '' });
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await pair(client, 1, dead, 'x');
    expect(refused.error).toMatch(/ECONNREFUSED/);
    expect(await pair(client, 2, port, 'still alive')).toEqual({ data: 'still alive', error: '' });
    await until(() => server.openStreams === 0);
  });

  it('1000 sequential and 100 concurrent pairs on one connection leave nothing behind', async () => {
    const { client } = await pf();
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) expect((await pair(client, i, port, `m${i}`)).data).toBe(`m${i}`);
    console.log(`1000 sequential pairs: ${(performance.now() - t0).toFixed(0)} ms`);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => pair(client, 1000 + i, port, `c${i}`)));
    expect(results.map((r) => r.data)).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
    await until(() => server.openStreams === 0);
    expect(client.closed).toBe(false);
  }, 60_000);

  it('drops a half pair after the creation timeout without touching a live pair', async () => {
    const { client } = await pf();
    const lonely = client.open({ streamtype: 'error', port: String(port), requestid: '7' });
    lonely.end();
    const error = client.open({ streamtype: 'error', port: String(port), requestid: '8' });
    error.end();
    const data = client.open({ streamtype: 'data', port: String(port), requestid: '8' });
    data.write('before ');
    await until(() => data.text() === 'before ');
    clock.advance(30_001);
    await lonely.done();
    expect(lonely.text()).toContain('timed out waiting for streams');
    data.write('after', true);
    await data.done();
    expect(data.text()).toBe('before after');
    expect(error.text()).toBe('');
    await until(() => server.openStreams === 0);
  });

  it('rejects streams with a bad port or type without closing the connection', async () => {
    const { client } = await pf();
    const bad = client.open({ streamtype: 'data', port: '70000', requestid: '1' });
    const worse = client.open({ streamtype: 'bogus', port: '80', requestid: '1' });
    await Promise.all([bad.done(), worse.done()]);
    expect([bad.reset, worse.reset]).toEqual([5, 5]);
    expect(await pair(client, 2, port, 'ok')).toEqual({ data: 'ok', error: '' });
  });
});

describe('WebSocket', () => {
  const wsRun = (url: string, protocol: string, send?: (ws: WebSocket) => void) =>
    new Promise<{ messages: Buffer[]; protocol: string }>((resolve, reject) => {
      const ws = new WebSocket(url.replace('http', 'ws'), protocol ? [protocol] : []);
      const messages: Buffer[] = [];
      ws.on('message', (m: Buffer) => messages.push(Buffer.from(m)));
      ws.on('open', () => send?.(ws));
      ws.on('close', () => resolve({ messages, protocol: ws.protocol }));
      ws.on('error', reject);
    });

  it('v4.channel.k8s.io: channel bytes, stdin, and the JSON status on channel 3', async () => {
    const { messages, protocol } = await wsRun(server.issue(exec(['cat'], { stdin: true })), 'v4.channel.k8s.io', (ws) => {
      ws.send(Buffer.from('\x00hi'));
      ws.send(Buffer.from([0xff, 0]));
      setTimeout(() => ws.send(Buffer.from('\x00late')), 50);
    });
    expect(protocol).toBe('v4.channel.k8s.io');
    expect(messages[0]).toEqual(Buffer.from([1]));
    const out = messages.filter((m) => m[0] === 1).map((m) => m.subarray(1).toString()).join('');
    expect(out).toBe('hi');
    const status = messages.find((m) => m[0] === 3)!;
    expect(JSON.parse(status.subarray(1).toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  it('base64.channel.k8s.io: text frames, plain-text error only on failure', async () => {
    const ok = await wsRun(server.issue(exec(['echo', 'yo'])), 'base64.channel.k8s.io');
    expect(ok.messages.map(String)).toEqual(['1', '1' + Buffer.from('yo').toString('base64')]);
    const bad = await wsRun(server.issue(exec(['exit', '2'])), 'base64.channel.k8s.io');
    const err = bad.messages.map(String).find((m) => m[0] === '3')!;
    expect(Buffer.from(err.slice(1), 'base64').toString()).toContain('exit code 2');
  });

  it('port-forward: port header on both channels, then data both ways', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as net.AddressInfo).port;
    const url = server.issue({ kind: 'portforward', podSandboxId: 'p', ports: [port] });
    const got: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(url.replace('http', 'ws'), ['v4.channel.k8s.io']);
      ws.on('message', (m: Buffer) => {
        got.push(Buffer.from(m));
        if (got.length === 2) ws.send(Buffer.from('\x00abc'));
        if (Buffer.concat(got.filter((g) => g[0] === 0).map((g) => g.subarray(1))).toString().endsWith('abc')) ws.close();
      });
      ws.on('close', () => resolve());
    });
    const head = Buffer.alloc(2);
    head.writeUInt16LE(port);
    expect(got[0]).toEqual(Buffer.concat([Buffer.of(0), head]));
    expect(got[1]).toEqual(Buffer.concat([Buffer.of(1), head]));
    await new Promise((r) => echo.close(r));
  });
});
