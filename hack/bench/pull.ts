// Pull benchmark driver: cold PullImage of one multi-layer image through the CRI, fune and containerd side by side.
//
//   node dist/hack/bench/pull.js push --registry 127.0.0.1:PORT [--layers 6] [--mb 80]
//   node dist/hack/bench/pull.js run --registry 127.0.0.1:PORT --rounds 5 \
//       --fune-socket S --fune-root DIR --ctd-socket S --ctd-root DIR [--out FILE.json]
//
// `push` builds `fune-bench/multilayer:latest` (busybox from Debian's busybox-static plus LAYERS layers of
// pseudo-random data totalling about MB megabytes, gzip) and pushes it. `run` makes each round cold for both
// runtimes (RemoveImage, then checks that no blob, layer or snapshot of the image is left: fune's content and layer
// directories, containerd's `ctr content ls` / `ctr snapshots ls` and its overlayfs snapshot directory), syncs, and
// times PullImage (the runtimes alternate which goes first). It prints median/min/max per runtime, and the daemon's
// CPU time (user+system, with reaped children) per pull, which the machine's other load disturbs less.
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxEntries, makeTar, buildImage, pushImage, type TarEntry } from '../test-images.js';
import { connect, type BenchClient } from './cri-client.js';
import { median } from './report.js';

const REPO = 'fune-bench/multilayer';

/** noise gives `n` deterministic pseudo-random bytes (AES-256-CTR keystream of a seed): gzip cannot shrink them. */
function noise(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

/**
 * benchLayer is one layer of about `bytes` bytes shaped like real image layers: a few large files (binaries,
 * libraries: random bytes) and many small ones (base64 text, which gzip shrinks by about a quarter).
 */
async function benchLayer(i: number, bytes: number): Promise<Buffer> {
  const d = `opt/layer${i}`;
  const entries: TarEntry[] = [{ name: 'opt/', type: 'directory' }, { name: `${d}/`, type: 'directory' }, { name: `${d}/lib/`, type: 'directory' }, { name: `${d}/share/`, type: 'directory' }];
  const big = Math.floor(bytes * 0.7);
  for (let k = 0; k < 3; k++) entries.push({ name: `${d}/lib/big${k}.so`, body: noise(`L${i}big${k}`, Math.floor(big / 3)), mode: 0o755 });
  let left = bytes - big;
  for (let k = 0; left > 0; k++) {
    const n = Math.min(left, 2048 + ((k * 7919) % 30000));
    entries.push({ name: `${d}/share/f${k}.txt`, body: noise(`L${i}s${k}`, Math.ceil((n * 3) / 4)).toString('base64').slice(0, n) });
    if (k % 50 === 0) entries.push({ name: `${d}/share/link${k}`, type: 'symlink', linkname: `f${k}.txt` });
    left -= n;
  }
  return makeTar(entries);
}

async function push(registry: string, layers: number, mb: number): Promise<void> {
  const raw = [await makeTar(busyboxEntries())];
  for (let i = 0; i < layers; i++) raw.push(await benchLayer(i, Math.floor((mb * 1_000_000) / layers)));
  const img = buildImage({ layers: raw, cmd: ['sh'] });
  await pushImage(`http://${registry}`, REPO, 'latest', img);
  const gz = img.layers.reduce((a, l) => a + l.data.length, 0);
  const un = raw.reduce((a, l) => a + l.length, 0);
  const files = raw.length;
  process.stdout.write(`pushed ${registry}/${REPO}:latest: ${files} layers, ${(gz / 1e6).toFixed(1)} MB gzip, ${(un / 1e6).toFixed(1)} MB uncompressed\n`);
}

/** Runtime is one CRI endpoint under test with its own check that an image left no trace. */
interface Runtime {
  name: string;
  client: BenchClient;
  /** pid of the daemon, for its CPU time. */
  pid: number;
  /** leftovers lists what of the removed image is still stored (empty = truly cold). */
  leftovers(): string[];
}

const ls = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

function fune(socket: string, root: string, pid: number): Runtime {
  const img = join(root, 'image');
  return {
    name: 'fune',
    pid,
    client: connect(socket),
    leftovers: () => [
      ...ls(join(img, 'content', 'blobs', 'sha256')).map((b) => `blob ${b.slice(0, 12)}`),
      ...ls(join(img, 'content', 'ingest')).map((b) => `ingest ${b}`),
      ...ls(join(img, 'layers')).map((l) => `layer ${l.slice(0, 12)}`),
    ],
  };
}

function containerd(socket: string, root: string, pid: number): Runtime {
  const ctr = (...args: string[]) =>
    execFileSync('ctr', ['--address', socket, '-n', 'k8s.io', ...args], { encoding: 'utf8' })
      .split('\n')
      .slice(1)
      .filter((l) => l.trim());
  return {
    name: 'containerd',
    pid,
    client: connect(socket),
    leftovers: () => [
      ...ctr('content', 'ls').map((l) => `content ${l.split(/\s+/)[0]!.slice(0, 19)}`),
      ...ctr('snapshots', 'ls').map((l) => `snapshot ${l.split(/\s+/)[0]!.slice(0, 19)}`),
      ...ls(join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots')).map((s) => `snapshot dir ${s}`),
    ],
  };
}

async function makeCold(rt: Runtime, image: string): Promise<void> {
  await rt.client.call('RemoveImage', { image: { image } }, { image: true });
  const left = rt.leftovers();
  if (left.length) throw new Error(`${rt.name}: after RemoveImage these are still stored: ${left.join(', ')}`);
  execFileSync('sync');
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** cpuMs is the user and system CPU time of a process and its reaped children (`sync`, `setfattr`, ...). */
function cpuMs(pid: number): { user: number; sys: number } {
  if (!pid) return { user: NaN, sys: NaN };
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number);
  return { user: (v[11]! + v[13]!) * TICK_MS, sys: (v[12]! + v[14]!) * TICK_MS };
}

async function timedPull(rt: Runtime, image: string): Promise<{ ms: number; cpu: number; sys: number }> {
  const c0 = cpuMs(rt.pid);
  const t0 = process.hrtime.bigint();
  const res = await rt.client.call<{ image_ref: string }>('PullImage', { image: { image }, auth: null, sandbox_config: null }, { image: true, deadlineMs: 600_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c1 = cpuMs(rt.pid);
  const sys = c1.sys - c0.sys;
  const cpu = c1.user - c0.user + sys;
  const st = await rt.client.call<{ image: { size: string; id: string } | null }>('ImageStatus', { image: { image }, verbose: false }, { image: true });
  if (!st.image) throw new Error(`${rt.name}: ImageStatus finds no image right after PullImage returned ${res.image_ref}`);
  if (rt.leftovers().length === 0) throw new Error(`${rt.name}: pull returned but nothing is stored`);
  return { ms, cpu, sys };
}

async function run(o: { registry: string; rounds: number; funeSocket: string; funeRoot: string; ctdSocket: string; ctdRoot: string; funePid: number; ctdPid: number; out?: string; only: string[] }): Promise<void> {
  const image = `${o.registry}/${REPO}:latest`;
  const all = [fune(o.funeSocket, o.funeRoot, o.funePid), containerd(o.ctdSocket, o.ctdRoot, o.ctdPid)].filter((r) => o.only.includes(r.name));
  const times = new Map<string, number[]>(all.map((r) => [r.name, []]));
  const cpus = new Map<string, number[]>(all.map((r) => [r.name, []]));
  const syss = new Map<string, number[]>(all.map((r) => [r.name, []]));
  // One warm-up pull each (not counted): connections, code paths and the registry's page cache are warm for both.
  for (const rt of all) {
    await makeCold(rt, image);
    const { ms } = await timedPull(rt, image);
    process.stderr.write(`warm-up ${rt.name}: ${ms.toFixed(0)} ms\n`);
  }
  for (let i = 0; i < o.rounds; i++) {
    const order = i % 2 ? [...all].reverse() : all;
    for (const rt of order) {
      await makeCold(rt, image);
      const { ms, cpu, sys } = await timedPull(rt, image);
      times.get(rt.name)!.push(ms);
      cpus.get(rt.name)!.push(cpu);
      syss.get(rt.name)!.push(sys);
      process.stderr.write(`round ${i + 1} ${rt.name}: ${ms.toFixed(0)} ms, daemon CPU ${cpu.toFixed(0)} ms (system ${sys.toFixed(0)})\n`);
    }
  }
  const sizes: Record<string, string> = {};
  for (const rt of all) {
    const st = await rt.client.call<{ image: { size: string } | null }>('ImageStatus', { image: { image }, verbose: false }, { image: true });
    sizes[rt.name] = st.image?.size ?? '?';
    await makeCold(rt, image);
    rt.client.close();
  }
  if (o.out) writeFileSync(o.out, JSON.stringify({ image, rounds: o.rounds, times: Object.fromEntries(times), cpu: Object.fromEntries(cpus), sys: Object.fromEntries(syss), sizes }, null, 2));
  const cols = all.map((r) => r.name);
  const line = (name: string, cells: string[]) => console.log(name.padEnd(34) + cells.map((c) => c.padEnd(16)).join(''));
  console.log(`\ncold PullImage of ${image} (${o.rounds} rounds; ms, wall clock of the RPC)`);
  line('', cols);
  const stat = (f: (xs: number[]) => number) => cols.map((c) => f(times.get(c)!).toFixed(0));
  line('median', stat(median));
  line('min', stat((xs) => Math.min(...xs)));
  line('max', stat((xs) => Math.max(...xs)));
  for (const c of cols) line(`all rounds, ${c}`, [times.get(c)!.map((x) => x.toFixed(0)).join(" ")]);
  line('daemon CPU per pull, median (ms)', cols.map((c) => median(cpus.get(c)!).toFixed(0)));
  line('  of which system (ms)', cols.map((c) => median(syss.get(c)!).toFixed(0)));
  line('ImageStatus size (bytes)', cols.map((c) => sizes[c]!));
  if (cols.length === 2) {
    const [a, b] = cols.map((c) => median(times.get(c)!));
    console.log(`\nfune median / containerd median = ${(a! / b!).toFixed(2)}`);
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      registry: { type: 'string' },
      layers: { type: 'string', default: '6' },
      mb: { type: 'string', default: '80' },
      rounds: { type: 'string', default: '5' },
      'fune-socket': { type: 'string' },
      'fune-root': { type: 'string' },
      'ctd-socket': { type: 'string' },
      'ctd-root': { type: 'string' },
      'fune-pid': { type: 'string', default: '0' },
      'ctd-pid': { type: 'string', default: '0' },
      runtimes: { type: 'string', default: 'fune containerd' },
      out: { type: 'string' },
    },
  });
  if (!values.registry) throw new Error('--registry HOST:PORT is required');
  if (positionals[0] === 'push') return push(values.registry, Number(values.layers), Number(values.mb));
  if (positionals[0] === 'run') {
    return run({
      registry: values.registry,
      rounds: Number(values.rounds),
      funeSocket: values['fune-socket'] ?? '',
      funeRoot: values['fune-root'] ?? '',
      ctdSocket: values['ctd-socket'] ?? '',
      ctdRoot: values['ctd-root'] ?? '',
      funePid: Number(values['fune-pid']),
      ctdPid: Number(values['ctd-pid']),
      out: values.out,
      only: values.runtimes.split(/[\s,]+/).filter(Boolean),
    });
  }
  throw new Error('usage: pull.js push|run --registry HOST:PORT ...');
}

main().catch((e: unknown) => {
  process.stderr.write(`pull bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
