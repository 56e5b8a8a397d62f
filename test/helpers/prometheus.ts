// A real Prometheus (Debian's package) for tests: its own config, temporary storage dir and loopback port, scraping
// one target every second; queried through its HTTP API, stopped by PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

/** TestPrometheus is a running Prometheus that scrapes one target. */
export interface TestPrometheus {
  base: string;
  proc: ChildProcess;
  /** query runs an instant PromQL query and gives its vector: labels and value of each series. */
  query(q: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** until queries until `ok` holds for the result (up to `ms`), and gives that result. */
  until(q: string, ok: (r: { metric: Record<string, string>; value: number }[]) => boolean, ms?: number): Promise<{ metric: Record<string, string>; value: number }[]>;
  logs(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** startPrometheus runs Prometheus scraping `target` (host:port) at /metrics every second, as job "fune". */
export async function startPrometheus(target: string): Promise<TestPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'fune-prometheus-'));
  const port = await freePort();
  const config = `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fune\n    static_configs:\n      - targets: ["${target}"]\n`;
  await writeFile(join(dir, 'prometheus.yml'), config);
  const proc = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      process.kill(proc.pid!, 'SIGTERM');
      const t = setTimeout(() => proc.pid && proc.exitCode === null && process.kill(proc.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    const ready = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (i > 300) {
      await stop();
      throw new Error(`prometheus did not become ready: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const query = async (q: string) => {
    const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await r.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`query ${q}: ${body.error}`);
    return body.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };
  return {
    base,
    proc,
    query,
    async until(q, ok, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const r = await query(q);
        if (ok(r)) return r;
        if (Date.now() > end) throw new Error(`query ${q} did not reach the expected result in ${ms} ms; last: ${JSON.stringify(r)}\n${log}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
    logs: () => log,
    stop,
  };
}

/** promtoolCheck runs `promtool check metrics` on a text exposition and gives its exit status and problem lines. */
export function promtoolCheck(text: string): { status: number | null; problems: string[] } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, problems: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '') };
}
