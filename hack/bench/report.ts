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

const ORDER = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'ExecSync', 'StopContainer', 'RemoveContainer', 'StopPodSandbox', 'RemovePodSandbox', '', 'Create+StartContainer', 'Stop+RemoveContainer', 'whole round (sum of calls)'];
const W0 = 40;
const W = 30;
const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)}` : '-');
const mib = (kb: number) => (kb / 1024).toFixed(1);
const pad = (s: string, w: number) => s.padEnd(w);
const row = (name: string, cells: string[], extra = '') => console.log(pad(name, W0) + cells.map((c) => pad(c, W)).join('') + extra);

function names(g: MemGroup): string {
  const e = Object.entries(g.names).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([n, k]) => `${k} ${n}`).join(' ') : 'none';
}

function memRows(title: string, rs: RunResult[], pick: (r: RunResult) => MemSample | undefined, ratio: boolean, brief = false): void {
  console.log(`\n${title}`);
  const cell = (f: (m: MemSample) => string) => rs.map((r) => { const m = pick(r); return m ? f(m) : 'n/a'; });
  const three = (g: { rssKb: number; pssKb: number; ussKb: number }) => `${mib(g.rssKb)} / ${mib(g.pssKb)} / ${mib(g.ussKb)}`;
  const total = (m: MemSample) => ({
    rssKb: m.daemon.rssKb + m.helpers.rssKb, pssKb: m.daemon.pssKb + m.helpers.pssKb, ussKb: m.daemon.ussKb + m.helpers.ussKb,
  });
  row('  daemon RSS / PSS / USS (MiB)', cell((m) => three(m.daemon)));
  if (brief) return;
  row('  helpers RSS / PSS / USS (MiB)', cell((m) => three(m.helpers)));
  row('  helper processes', cell((m) => names(m.helpers)));
  const t = rs.map((r) => { const m = pick(r); return m ? total(m) : undefined; });
  let extra = '';
  if (ratio && t[0] && t[1]) {
    const x = (k: 'rssKb' | 'pssKb' | 'ussKb') => (t[1]![k] / t[0]![k]).toFixed(2);
    extra = `${x('rssKb')}x / ${x('pssKb')}x / ${x('ussKb')}x`;
  }
  row('  RUNTIME TOTAL RSS / PSS / USS', t.map((x) => (x ? three(x) : 'n/a')), extra);
  const set = rs.map((r) => pick(r)?.runtimeSetKb);
  row('  RUNTIME TOTAL distinct pages (MiB)', set.map((k) => (k ? mib(k) : 'n/a')), ratio && set[0] && set[1] ? `${(set[1] / set[0]).toFixed(2)}x` : '');
  row('  containers RSS/PSS/USS (not counted)', cell((m) => three(m.containers)));
  row('  container processes', cell((m) => names(m.containers)));
}

/** merge pools the runs of one label (several passes): samples concatenated, memory from the run with most pods. */
function merge(runs: RunResult[]): RunResult {
  const base = { ...runs[0]!, samples: {} as Record<string, number[]>, notes: [] as string[], rounds: 0 };
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.samples)) (base.samples[k] ??= []).push(...v);
    base.notes.push(...(r.notes ?? []), ...(r.error ? [r.error] : []));
    base.rounds += r.error ? 0 : r.rounds;
  }
  const withPods = [...runs].filter((r) => r.memLoaded).sort((a, b) => b.pods - a.pods)[0];
  if (withPods) Object.assign(base, { memLoaded: withPods.memLoaded, pods: withPods.pods });
  base.error = undefined;
  return base;
}

/** printReport prints the timing and memory table for one or more runs (runs with the same label are pooled). */
export function printReport(all: RunResult[]): void {
  const labels = [...new Set(all.map((r) => r.label))];
  const rs = labels.map((l) => merge(all.filter((r) => r.label === l)));
  const first = rs[0]!;
  const ratio = rs.length === 2;
  const passes = Math.max(...labels.map((l) => all.filter((r) => r.label === l).length));
  console.log(`# CRI lifecycle benchmark: ${rs.map((r) => `${r.rounds} rounds of ${r.label}`).join(', ')}${passes > 1 ? ` in ${passes} alternating passes` : ''} (warm-up rounds not counted), image ${first.image}`);
  console.log('# times: wall clock of each gRPC call over the unix socket (Node grpc-js client), milliseconds');
  for (const r of all) {
    const load = r.load ? `, load average ${r.load[0].toFixed(2)} -> ${r.load[1].toFixed(2)}` : '';
    const ip = r.podIp ? `, pod IP ${r.podIp}` : '';
    console.log(`#   ${r.label}: ${r.runtime}, daemon pid ${r.daemonPid}, ${r.date}${load}${ip}`);
  }
  for (const r of rs) for (const m of new Set(r.notes)) console.log(`#   !! ${m}`);
  console.log();
  row('verb (ms)', rs.map((r) => r.label), ratio ? `${rs[1]!.label}/${rs[0]!.label} median` : '');
  row('', rs.map(() => 'median      p90'));
  for (const v of ORDER) {
    if (!v) {
      console.log();
      continue;
    }
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
  console.log('\n(helpers: processes in the host mount namespace started by or for the runtime: containerd-shim-runc-v2 for');
  console.log(' containerd, conmon for fune. RSS sums double-count pages shared between the counted processes; PSS splits');
  console.log(' shared pages among ALL processes mapping them, so a node daemon\'s PSS drops when other node processes run,');
  console.log(' the benchmark driver included; USS counts only pages private to each process, a lower bound;');
  console.log(' distinct pages counts each physical page of daemon + helpers once, from /proc/PID/pagemap.)');
}
