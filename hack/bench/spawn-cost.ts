// hack/bench/spawn-cost.ts — what one program start costs the daemon, child_process.spawn against the posix_spawn
// addon (src/sys/fast-spawn.ts), at a daemon-like heap size:
//   block: how long the spawn call holds the event loop; wall: spawn until 'close' (exit + stdio pipes ended).
// Usage: node dist/hack/bench/spawn-cost.js [MiB of JS heap to hold, default 80] [spawns per round, default 200]
// It runs `/usr/bin/true` with stdio ['ignore', 'pipe', 'pipe'] (as `runc exec` is run), rounds alternating.
import { createProcessRunner, type ProcessRunner } from '../../src/sys/process-runner.js';
import { loadSpawnAddon } from '../../src/sys/fast-spawn.js';

const mib = Number(process.argv[2] ?? 80);
const n = Number(process.argv[3] ?? 200);
const keep: unknown[] = [];
while (process.memoryUsage().rss < mib * 2 ** 20) keep.push(Array.from({ length: 1 << 14 }, (_, j) => ({ j, s: `v${j}` })));

const runners: [string, ProcessRunner][] = [
  ['child_process', createProcessRunner(null)],
  ['posix_spawn', createProcessRunner(loadSpawnAddon())],
];
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const stats = new Map<string, { block: number[]; wall: number[] }>();

async function one(r: ProcessRunner): Promise<[number, number]> {
  const t0 = process.hrtime.bigint();
  const c = r.spawn('/usr/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
  const block = ms(t0);
  await new Promise((resolve) => c.once('close', resolve));
  return [block, ms(t0)];
}

for (let round = 0; round < 4; round++) {
  for (const [name, r] of runners) {
    const s = stats.get(name) ?? { block: [], wall: [] };
    stats.set(name, s);
    for (let i = 0; i < n / 2; i++) {
      const [b, w] = await one(r);
      s.block.push(b);
      s.wall.push(w);
    }
  }
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.floor(a.length * p)]!.toFixed(3);
console.log(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, ${n * 2} spawns each`);
console.log('spawner        block med  p90    wall med  p90   (ms)');
for (const [name, s] of stats) console.log(`${name.padEnd(14)} ${q(s.block, 0.5).padStart(8)} ${q(s.block, 0.9).padStart(6)} ${q(s.wall, 0.5).padStart(9)} ${q(s.wall, 0.9).padStart(6)}`);
