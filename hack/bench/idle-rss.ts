// The idle daemon's memory: fune started as `npm start` starts it (same node flags) on private dirs under /tmp, no
// pods, no image; VmRSS, RssAnon and RssFile read from /proc/PID/status `SETTLE` seconds (default 4) after
// "fune is ready", and again `SETTLE` seconds after a first round of the kubelet's calls over runtime.v1 (Version,
// Status, ListPodSandbox, ListContainers, ListImages: what a kubelet asks at once), `ROUNDS` times (default 5, one
// daemon after the other); prints each round and the medians. The issue-17 target is an idle daemon of at most
// 60 MiB RSS.
//
//   npx tsc -p tsconfig.json && node dist/hack/bench/idle-rss.js          (ROUNDS=5 SETTLE=4 DAEMON_NODE_ARGS=…)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from './cri-client.js';
import { median } from './report.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'main.js');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SETTLE_MS = Number(process.env.SETTLE ?? 4) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mem = { rss: number; anon: number; file: number };

function status(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
}

async function once(): Promise<[Mem, Mem]> {
  const dir = mkdtempSync('/tmp/fune-idle-rss-');
  mkdirSync(join(dir, 'cni'));
  writeFileSync(join(dir, 'config.toml'), `[cni]\nconf_dir = "${join(dir, 'cni')}"\n`);
  const extra = (process.env.DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, ['--max-semi-space-size=1', '--v8-pool-size=1', ...extra, MAIN, 'daemon', '--config', join(dir, 'config.toml'),
    '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    for (let i = 0; !log.includes('fune is ready'); i++) {
      if (proc.exitCode !== null || i > 600) throw new Error(`fune did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(SETTLE_MS);
    const idle = status(proc.pid!);
    const c = connect(join(dir, 'state', 'fune.sock'));
    for (const m of ['Version', 'Status', 'ListPodSandbox', 'ListContainers']) await c.call(m, {});
    await c.call('ListImages', {}, { image: true });
    c.close();
    await sleep(SETTLE_MS);
    return [idle, status(proc.pid!)];
  } finally {
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (kb: number) => (kb / 1024).toFixed(1);
const show = (m: Mem) => `RSS ${mib(m.rss)} MiB (anon ${mib(m.anon)}, file ${mib(m.file)})`;
const rounds: [Mem, Mem][] = [];
for (let i = 0; i < ROUNDS; i++) {
  const r = await once();
  rounds.push(r);
  console.log(`round ${i + 1}: idle ${show(r[0])}; after the first calls ${show(r[1])}`);
}
const med = (j: 0 | 1): Mem => ({ rss: median(rounds.map((r) => r[j].rss)), anon: median(rounds.map((r) => r[j].anon)), file: median(rounds.map((r) => r[j].file)) });
console.log(`median of ${ROUNDS}, ${SETTLE_MS / 1000} s after ready: ${show(med(0))}; ${SETTLE_MS / 1000} s after the first calls: ${show(med(1))}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
