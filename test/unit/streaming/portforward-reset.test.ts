// Port-forward through the real stream runtime and dialer on the host network path (no namespace, no root): a pod
// port that resets its connection mid-stream must end that pair alone, with the reason on its error stream.
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nullLogger } from '../../../src/log/index.js';
import { RuncStreamRuntime } from '../../../src/services/stream-runtime.js';
import { NetnsDialerPool } from '../../../src/streaming/netns-dialer-pool.js';
import { StreamingServer } from '../../../src/streaming/server.js';
import { systemClock } from '../../../src/sys/clock.js';
import { nodeProcessRunner } from '../../../src/sys/process-runner.js';
import { upgrade, type SpdyClient } from '../../helpers/spdy-client.js';

let echo: net.Server;
let resetter: net.Server;
let server: StreamingServer;
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

beforeAll(async () => {
  echo = net.createServer((c) => c.pipe(c).on('error', () => {}));
  // Answers the first bytes, then resets the connection.
  resetter = net.createServer((c) => c.once('data', () => c.write('partial', () => setTimeout(() => c.resetAndDestroy(), 20))).on('error', () => {}));
  await Promise.all([echo, resetter].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  const runtime = new RuncStreamRuntime({
    lookup: { runningContainer: () => Promise.reject(new Error('no containers')), podNetns: async () => null },
    runner: nodeProcessRunner,
    dialer: new NetnsDialerPool({ runner: nodeProcessRunner, clock: systemClock, log: nullLogger() }),
    runcPath: 'runc',
    log: nullLogger(),
  });
  server = new StreamingServer({
    address: '127.0.0.1', port: 0, tokenTtlMs: 60_000, maxTokens: 10, idleTimeoutMs: 3_600_000, streamCreationTimeoutMs: 30_000,
    runtime, clock: systemClock, log: nullLogger(),
  });
  await server.start();
});
afterAll(async () => {
  await server.stop();
  echo.close();
  resetter.close();
});

function open(c: SpdyClient, n: number, port: number) {
  const error = c.open({ streamtype: 'error', port: String(port), requestid: String(n) });
  error.end();
  const data = c.open({ streamtype: 'data', port: String(port), requestid: String(n) });
  return { error, data };
}

it('a reset inside the pod ends only its pair: RST on the data stream, the reason on the error stream', async () => {
  const c = (await upgrade(server.issue({ kind: 'portforward', podSandboxId: 'p', ports: [] }), ['portforward.k8s.io'])).client!;
  const live = open(c, 1, portOf(echo));
  live.data.write('before');
  const reset = open(c, 2, portOf(resetter));
  reset.data.write('hello'); // no FIN: only the reset can end this pair
  await Promise.all([reset.data.done(), reset.error.done()]);
  expect(reset.data.text()).toBe('partial');
  expect(reset.data.reset ?? reset.data.fin).toBeTruthy();
  expect(reset.error.text()).toMatch(/reset|ECONNRESET/);
  // The other pair and the connection carry on.
  live.data.write('after', true);
  await Promise.all([live.data.done(), live.error.done()]);
  expect(live.data.text()).toBe('beforeafter');
  expect(live.error.text()).toBe('');
  expect(c.goaway).toBeUndefined();
  for (let i = 0; i < 100 && server.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(server.openStreams).toBe(0);
  c.close();
});

it('a refused port is reported on its own error stream', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = portOf(closed);
  closed.close();
  const c = (await upgrade(server.issue({ kind: 'portforward', podSandboxId: 'p', ports: [] }), ['portforward.k8s.io'])).client!;
  const p = open(c, 1, port);
  p.data.write('x', true);
  await Promise.all([p.data.done(), p.error.done()]);
  expect(p.error.text()).toContain('ECONNREFUSED');
  c.close();
});
