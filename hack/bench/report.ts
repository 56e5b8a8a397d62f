// Prints the lifecycle benchmark's results as one table with a column per runtime.
import type { RunResult } from './lifecycle.js';
import type { MemGroup, MemSample } from './procmem.js';

/** median of a sample (mean of the two middle values for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** p90 is the nearest-rank 90th percentile. */
export function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.max(0, Math.ceil(0.9 * s.length) - 1)]!;
}

const ORDER = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'ExecSync', 'StopContainer', 'RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox'];
const W0 = 38;
const W = 24;
const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)}` : '-');
const mib = (kb: number) => (kb / 1024).toFixed(1);
const pad = (s: string, w: number) => s.padEnd(w);
const row = (name: string, cells: string[], extra = '') => console.log(pad(name, W0) + cells.map((c) => pad(c, W)).join('') + extra);

function names(g: MemGroup): string {
  const e = Object.entries(g.names).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([n, k]) => `${k}x${n}`).join(' ') : 'none';
}

function memRows(title: string, rs: RunResult[], pick: (r: RunResult) => MemSample | undefined, ratio: boolean, brief = false): void {
  console.log(`\n${title}`);
  const cell = (f: (m: MemSample) => string) => rs.map((r) => { const m = pick(r); return m ? f(m) : 'n/a'; });
  const total = (m: MemSample) => ({ rss: m.daemon.rssKb + m.helpers.rssKb, pss: m.daemon.pssKb + m.helpers.pssKb });
  row('  daemon RSS / PSS (MiB)', cell((m) => `${mib(m.daemon.rssKb)} / ${mib(m.daemon.pssKb)}`));
  if (brief) return;
  row('  helpers RSS / PSS (MiB)', cell((m) => `${mib(m.helpers.rssKb)} / ${mib(m.helpers.pssKb)}`));
  row('  helper processes', cell((m) => names(m.helpers)));
  const t = rs.map((r) => { const m = pick(r); return m ? total(m) : undefined; });
  let extra = '';
  if (ratio && t[0] && t[1]) extra = `RSS ${(t[1].rss / t[0].rss).toFixed(2)}x  PSS ${(t[1].pss / t[0].pss).toFixed(2)}x`;
  row('  RUNTIME TOTAL RSS / PSS (MiB)', t.map((x) => (x ? `${mib(x.rss)} / ${mib(x.pss)}` : 'n/a')), extra);
  row('  containers RSS / PSS (not counted)', cell((m) => `${mib(m.containers.rssKb)} / ${mib(m.containers.pssKb)}`));
  row('  container processes', cell((m) => names(m.containers)));
}

/** printReport prints the timing and memory table for one or more runs. */
export function printReport(rs: RunResult[]): void {
  const first = rs.find((r) => !r.error) ?? rs[0]!;
  const ratio = rs.length === 2;
  console.log(`# CRI lifecycle benchmark: ${first.rounds} rounds per runtime (1 warm-up round not counted), image ${first.image}`);
  console.log('# times: wall clock of each gRPC call over the unix socket (Node grpc-js client), milliseconds');
  for (const r of rs) console.log(`#   ${r.label}: ${r.runtime}, daemon pid ${r.daemonPid}, socket ${r.socket}, ${r.date}`);
  for (const r of rs) for (const m of [...(r.notes ?? []), ...(r.error ? [r.error] : [])]) console.log(`#   !! ${m}`);
  console.log();
  row('verb (ms)', rs.map((r) => r.label), ratio ? `${rs[1]!.label}/${rs[0]!.label} median` : '');
  row('', rs.map(() => 'median      p90'));
  for (const v of ORDER) {
    const cells = rs.map((r) => {
      const s = r.samples[v];
      return s?.length ? `${pad(ms(median(s)), 12)}${ms(p90(s))}` : 'n/a';
    });
    let extra = '';
    const a = rs[0]?.samples[v];
    const b = rs[1]?.samples[v];
    if (ratio && a?.length && b?.length) extra = `${(median(b) / median(a)).toFixed(2)}x`;
    const n = rs.map((r) => r.samples[v]?.length ?? 0);
    row(`${v} (n=${Math.max(...n)})`, cells, extra);
  }
  memRows(`memory with ${first.pods} pods running (one busybox sleep container each)`, rs, (r) => r.memLoaded, ratio);
  memRows('memory with 0 benchmark pods (after the timed rounds)', rs, (r) => r.memIdle, ratio);
  memRows('memory at start (after PullImage, before any pod)', rs, (r) => r.memStart, ratio, true);
  console.log('\n(helpers: processes in the host mount namespace started by or for the runtime: containerd-shim-runc-v2');
  console.log(' for containerd, conmon for fune; RSS sums double-count shared pages, PSS does not)');
}
