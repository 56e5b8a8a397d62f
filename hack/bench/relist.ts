// The kubelet's relist alone, against a daemon that already has its pods (see hack/bench/README.md): for A/B runs of
// one runtime's relist cost without density.sh's whole pod start and removal around it.
//
//   node dist/hack/bench/relist.js pods  --socket S --count N [--image IMG] [--clients 10]
//   node dist/hack/bench/relist.js loop  --socket S --daemon-pid PID [--count 30] [--interval 1000] [--warmup 3]
//   node dist/hack/bench/relist.js clean --socket S
//
// `pods` starts pods (one busybox `sleep` container each, the configs density.ts uses, labelled fune-relist) until N
// run. `loop` runs `--warmup` relists, then `--count` relists `--interval` ms apart (ListPodSandbox, ListContainers,
// ContainerStatus for each container, as the kubelet's PLEG does) and prints the daemon's CPU time per relist
// (utime+stime of /proc/PID/stat over the relists' own wall time, so a shorter interval does not count idle
// ticks), the wall time per relist and the host's load. `clean` stops and removes every fune-relist pod.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { connect, type BenchClient } from './cri-client.js';
import { sleeperContainer, sleeperPod } from './sleeper.js';
import { median, p90 } from './report.js';

const LABEL = 'fune-relist';
const HZ = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function mine(c: BenchClient): Promise<{ id: string }[]> {
  const { items } = await c.call<{ items: { id: string }[] }>('ListPodSandbox', { filter: { label_selector: { [LABEL]: '1' } } });
  return items;
}

async function pods(c: BenchClient, count: number, image: string, clients: number): Promise<void> {
  const { image: have0 } = await c.call<{ image: unknown }>('ImageStatus', { image: { image } }, { image: true });
  if (!have0) await c.call('PullImage', { image: { image } }, { image: true, deadlineMs: 300_000 });
  const have = (await mine(c)).length;
  const names = Array.from({ length: Math.max(0, count - have) }, (_, i) => `r-${have + i + 1}-${process.pid}`);
  const logRoot = join(tmpdir(), 'fune-relist-logs');
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const cfg = sleeperPod(name, logRoot, 'fune-relist', LABEL);
      const { pod_sandbox_id: id } = await c.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
      const { container_id } = await c.call<{ container_id: string }>('CreateContainer', { pod_sandbox_id: id, config: sleeperContainer(image, LABEL), sandbox_config: cfg });
      await c.call('StartContainer', { container_id });
    }
  }));
  console.log(`${(await mine(c)).length} fune-relist pods`);
}

async function relistOnce(c: BenchClient): Promise<number> {
  await c.call('ListPodSandbox', {});
  const { containers } = await c.call<{ containers: { id: string }[] }>('ListContainers', {});
  for (const k of containers) await c.call('ContainerStatus', { container_id: k.id });
  return containers.length;
}

async function loop(c: BenchClient, pid: number, count: number, interval: number, warmup: number): Promise<void> {
  for (let i = 0; i < warmup; i++) await relistOnce(c);
  const wall: number[] = [];
  let ticks = 0;
  let ctrs = 0;
  const l0 = loadavg()[0]!;
  const loads: number[] = [];
  for (let i = 0; i < count; i++) {
    await sleep(interval);
    // the daemon's idle ticks between relists are not counted: the window is each relist's own
    const c0 = cpuTicks(pid);
    const s = now();
    ctrs = await relistOnce(c);
    wall.push(now() - s);
    await sleep(20); // let the last answer's flush and the garbage of the relist be charged to it
    ticks += cpuTicks(pid) - c0;
    loads.push(loadavg()[0]!);
  }
  const cpuMs = (ticks * 1000) / HZ / count;
  console.log(`relist: ${count} relists of ${ctrs} containers, interval ${interval} ms, load ${l0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)} (max ${Math.max(...loads).toFixed(2)})`);
  console.log(`relist: daemon CPU per relist ${cpuMs.toFixed(2)} ms; wall median ${median(wall).toFixed(1)} ms, p90 ${p90(wall).toFixed(1)} ms`);
}

async function clean(c: BenchClient): Promise<void> {
  for (const p of await mine(c)) {
    await c.call('StopPodSandbox', { pod_sandbox_id: p.id });
    await c.call('RemovePodSandbox', { pod_sandbox_id: p.id });
  }
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values: v } = parseArgs({
    args: rest,
    options: {
      socket: { type: 'string' }, 'daemon-pid': { type: 'string' }, count: { type: 'string' }, interval: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '3' }, clients: { type: 'string', default: '10' },
      image: { type: 'string', default: 'registry.k8s.io/e2e-test-images/busybox:1.29-2' },
    },
  });
  if (!v.socket) throw new Error('--socket is required');
  const c = connect(v.socket);
  try {
    if (cmd === 'pods') await pods(c, Number(v.count ?? 110), v.image, Number(v.clients));
    else if (cmd === 'loop') await loop(c, Number(v['daemon-pid']), Number(v.count ?? 30), Number(v.interval), Number(v.warmup));
    else if (cmd === 'clean') await clean(c);
    else throw new Error('usage: relist.js pods|loop|clean --socket S ...');
  } finally {
    c.close();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 2;
});
