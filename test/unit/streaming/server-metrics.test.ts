// What the streaming server reports to the metrics: sessions opened and closed per kind (SPDY and WebSocket), and
// each kind of refusal (unknown token, no common protocol, too many outstanding URLs).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { nullLogger } from '../../../src/log/index.js';
import { StreamingServer } from '../../../src/streaming/server.js';
import type { StreamingMetrics } from '../../../src/domain/metrics-port.js';
import type { ExecRequestInfo } from '../../../src/streaming/types.js';
import { upgrade } from '../../helpers/spdy-client.js';
import { FakeClock } from './fake-clock.js';
import { FakeRuntime } from './fake-runtime.js';

const V4 = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
const exec = (cmd: string[]): ExecRequestInfo => ({ kind: 'exec', containerId: 'c1', cmd, tty: false, stdin: false, stdout: true, stderr: true });
const until = async (f: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !f(); ) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

let events: string[];
let open: Record<string, number>;
let server: StreamingServer;
const metrics: StreamingMetrics = {
  sessionOpened: (k) => void (events.push(`open ${k}`), (open[k] = (open[k] ?? 0) + 1)),
  sessionClosed: (k) => void (events.push(`close ${k}`), (open[k] = (open[k] ?? 0) - 1)),
  sessionRefused: (k, why) => void events.push(`refused ${k} ${why}`),
};

beforeEach(async () => {
  events = [];
  open = {};
  server = new StreamingServer({
    address: '127.0.0.1', port: 0, tokenTtlMs: 60_000, maxTokens: 3, idleTimeoutMs: 3_600_000, streamCreationTimeoutMs: 30_000,
    runtime: new FakeRuntime(), clock: new FakeClock(), log: nullLogger(), metrics,
  });
  await server.start();
});
afterEach(() => server.stop());

describe('streaming metrics', () => {
  it('counts each refusal once, by kind and reason', async () => {
    expect((await upgrade(server.baseUrl + '/exec/nosuchtk', V4)).status).toBe(404);
    expect((await upgrade(server.baseUrl + '/portforward/nosuchtk', V4)).status).toBe(404);
    expect((await upgrade(server.baseUrl + '/elsewhere', V4)).status).toBe(404);
    expect((await fetch(server.baseUrl + '/attach/nosuchtk')).status).toBe(404);
    expect((await upgrade(server.issue(exec(['echo'])), ['v9.channel.k8s.io'])).status).toBe(403);
    expect((await upgrade(server.issue(exec(['echo'])), [])).status).toBe(400);
    expect((await fetch(server.issue(exec(['echo'])))).status).toBe(400);
    for (let i = 0; i < 3; i++) server.issue(exec(['echo']));
    expect(() => server.issue(exec(['echo']))).toThrow(expect.objectContaining({ kind: 'ResourceExhausted' }));
    expect(events).toEqual([
      'refused exec token', 'refused portforward token', 'refused unknown token', 'refused attach token',
      'refused exec protocol', 'refused exec protocol', 'refused exec protocol', 'refused exec exhausted',
    ]);
  });

  it('holds a session open from upgrade to close, over SPDY and WebSocket', async () => {
    const r = await upgrade(server.issue(exec(['sleep'])), V4);
    expect(r.status).toBe(101);
    await until(() => open.exec === 1);
    const ws = new WebSocket(server.issue({ kind: 'portforward', podSandboxId: 'p', ports: [1] }).replace('http', 'ws'), ['v4.channel.k8s.io']);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await until(() => open.portforward === 1);
    expect(open).toEqual({ exec: 1, portforward: 1 });
    r.client!.close();
    ws.close();
    await until(() => open.exec === 0 && open.portforward === 0);
    expect(events.filter((e) => e.startsWith('refused'))).toEqual([]);
    expect(events.sort()).toEqual(['close exec', 'close portforward', 'open exec', 'open portforward']);
  });
});
