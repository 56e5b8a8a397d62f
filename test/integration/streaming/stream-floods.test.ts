// Floods from peers that do not read, against a real daemon (runc, conmon, a pod network namespace): for each class
// the client offers 256 MiB, fune must stop taking it (what left the client and the daemon's RSS stay bounded), and
// once the reader reads, every byte arrives in order and the session still works. The floods themselves are
// hack/bench/stream-floods.ts, which the benchmark runs with 1 GiB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOODS, report, setUp, type FloodCtx, type FloodResult } from '../../../hack/bench/stream-floods.js';
import { startEnv, type LifecycleEnv } from '../lifecycle/env.js';

const MiB = 1 << 20;
const OFFERED = 256 * MiB;
/** BOUND is the most a flood may move past a reader that does not read, and grow the daemon by. */
const BOUND = 64 * MiB;
let env: LifecycleEnv;
let ctx: FloodCtx;
const results: FloodResult[] = [];

beforeAll(async () => {
  env = await startEnv();
  ctx = await setUp(env);
}, 120_000);

afterAll(async () => {
  if (results.length) console.log(report(results));
  if (ctx) await env.c.call('RemovePodSandbox', { pod_sandbox_id: ctx.pod }).catch(() => undefined);
  await env?.cleanup();
});

describe('a peer that does not read makes fune stop reading, and nothing is lost once it reads', () => {
  it.each(Object.keys(FLOODS))('%s', async (name) => {
    const r = await FLOODS[name]!(ctx, OFFERED, true);
    results.push(r);
    if (!Number.isNaN(r.taken)) expect(r.taken).toBeLessThan(BOUND);
    expect(r.rssPeak - r.rssBefore).toBeLessThan(BOUND);
    expect(r.verified).toBe(true);
  }, 180_000);
});
