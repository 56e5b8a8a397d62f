import { afterEach, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { criClient, MAIN, ROOT, startDaemon, type TestDaemon } from '../../helpers/daemon.js';

// What the idle daemon leaves out to stay small (issue 17: at most 60 MiB RSS idle), and that what it leaves out
// still works when it is wanted: grpc-js only with `grpc.server = "grpc-js"`, Turbofan off while one-shot work
// runs and on again for the calls.

const daemons: TestDaemon[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.cleanup();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/**
 * PROBE is a module node loads before fune (NODE_OPTIONS=--import): on SIGUSR2 it writes the CommonJS modules
 * loaded so far (require.cache, which every createRequire shares) to the file named by FUNE_TEST_PROBE_OUT.
 */
const PROBE = `import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
process.on('SIGUSR2', () => writeFileSync(process.env.FUNE_TEST_PROBE_OUT, Object.keys(createRequire(import.meta.url).cache).join('\\n')));
`;

async function loadedModules(d: TestDaemon, out: string): Promise<string[]> {
  await rm(out, { force: true });
  d.proc.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    try {
      return (await readFile(out, 'utf8')).split('\n');
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error('the probe wrote no module list');
}

async function probed(toml?: string) {
  const dir = await mkdtemp(join(tmpdir(), 'fune-footprint-'));
  dirs.push(dir);
  const probe = join(dir, 'probe.mjs');
  await writeFile(probe, PROBE);
  const out = join(dir, 'modules.txt');
  const d = await startDaemon({ toml, env: { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}`, FUNE_TEST_PROBE_OUT: out } });
  daemons.push(d);
  return { d, modules: () => loadedModules(d, out) };
}

const grpcJs = (mods: string[]) => mods.filter((m) => m.includes('/node_modules/@grpc/grpc-js/'));

describe('the idle daemon footprint', () => {
  it('serves with the default direct server without ever loading grpc-js', async () => {
    const { d, modules } = await probed();
    expect((await modules()).length).toBeGreaterThan(0);
    expect(grpcJs(await modules())).toEqual([]);
    const c = criClient(d.socket, 'v1', 'RuntimeService', { authority: d.socket });
    try {
      expect((await c.call('Version', {})).runtime_name).toBe('fune');
      expect((await c.call('ListContainers', {})).containers).toEqual([]);
    } finally {
      c.close();
    }
    expect(grpcJs(await modules())).toEqual([]);
  });

  it('loads grpc-js with grpc.server = "grpc-js", and serves through it', async () => {
    const { d, modules } = await probed('[grpc]\nserver = "grpc-js"\n');
    expect(grpcJs(await modules()).length).toBeGreaterThan(0);
    // No `authority` override: a client grpc-js's http2 accepts goes to grpc-js (src/cri/h2-route.ts).
    const c = criClient(d.socket);
    try {
      expect((await c.call('Version', {})).runtime_name).toBe('fune');
    } finally {
      c.close();
    }
  });

  it('starts up to ready, and answers its first Version call, with nothing optimised by Turbofan', async () => {
    // Loading the modules leaves Node's path helpers (normalizeString, isPosixPathSeparator) close to hot; a long
    // root makes the start-up's own path work push them over, as it did on long checkout paths before the daemon's
    // start-up ran inside withoutTurbofan. Turbofan's first compile keeps ~3.5 MiB of the node binary resident.
    const dir = await mkdtemp(join(tmpdir(), 'fune-trace-opt-'));
    dirs.push(dir);
    const root = join(dir, 'r'.repeat(150), 'root');
    await mkdir(join(dir, 'cni'));
    await writeFile(join(dir, 'config.toml'), `[cni]\nconf_dir = "${join(dir, 'cni')}"\n`);
    const proc = spawn(process.execPath, ['--trace-opt', MAIN, 'daemon', '--config', join(dir, 'config.toml'), '--root', root, '--state', join(dir, 'state'), '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let log = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    try {
      for (let i = 0; !log.includes('fune is ready'); i++) {
        if (proc.exitCode !== null || i > 300) throw new Error(`fune did not become ready:\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const c = criClient(join(dir, 'state', 'fune.sock'), 'v1', 'RuntimeService', { authority: 'fune' });
      try {
        expect((await c.call('Version', {})).runtime_name).toBe('fune');
      } finally {
        c.close();
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
    expect(log).toContain('shut down');
    expect(out.split('\n').filter((l) => /target TURBOFAN/.test(l))).toEqual([]);
  });
});

describe('withoutTurbofan', () => {
  // A throwaway ES module that imports the built withoutTurbofan and runs BODY; returns its path.
  const turbofanScript = async (body: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'fune-turbofan-'));
    dirs.push(dir);
    const script = join(dir, 'hot.mjs');
    const mod = pathToFileURL(join(ROOT, 'dist', 'src', 'sys', 'turbofan.js')).href;
    await writeFile(script, `import { withoutTurbofan } from ${JSON.stringify(mod)};\n${body}`);
    return script;
  };

  it('keeps the work inside it off Turbofan, and work after it is optimised again', async () => {
    const script = await turbofanScript(`
function hotInside(i) { return (i * 7) % 13; }
function hotAsync(i) { return (i * 5) % 11; }
function hotAfter(i) { return (i * 3) % 17; }
let s = 0;
withoutTurbofan(() => { for (let i = 0; i < 3e6; i++) s += hotInside(i); });
await withoutTurbofan(async () => { for (let i = 0; i < 3e6; i++) s += hotAsync(i); await null; for (let i = 0; i < 3e6; i++) s += hotAsync(i); });
try { withoutTurbofan(() => { throw new Error('x'); }); } catch {}
for (let i = 0; i < 3e6; i++) s += hotAfter(i);
console.log('sum', s);
`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--trace-opt', script], { maxBuffer: 16 << 20 });
    const optimised = (name: string) => new RegExp(`completed (optimizing|compiling) .*<JSFunction ${name} `).test(stdout);
    expect(stdout).toMatch(/^sum \d+$/m);
    expect(optimised('hotInside')).toBe(false);
    expect(optimised('hotAsync')).toBe(false);
    expect(optimised('hotAfter')).toBe(true);
  });

  it('collects the garbage of the one-shot work once it has been idle for a second', async () => {
    const script = await turbofanScript(`
let kept = [];
withoutTurbofan(() => { for (let i = 0; i < 300000; i++) kept.push({ i, s: 'x' + i }); });
kept = null;
const after = process.memoryUsage().heapUsed;
await new Promise((r) => setTimeout(r, 1600));
console.log('heap', after, process.memoryUsage().heapUsed);
`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=1', script]);
    const [, after, idle] = /^heap (\d+) (\d+)$/m.exec(stdout)!.map(Number);
    // some 20 MiB of objects, dropped when the work ended, are gone after the idle second
    expect(after! - idle!).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('compacts the old space in that collection, giving back the pages its free space was scattered over', async () => {
    // Three objects in four stay: every old-space page keeps most of its objects, so a plain full collection frees
    // no page (measured without the compaction: 62 MB committed for 41 MB live afterwards; with it: 43 MB).
    const script = await turbofanScript(`
import { getHeapSpaceStatistics } from 'node:v8';
let kept;
withoutTurbofan(() => {
  const all = [];
  for (let i = 0; i < 400000; i++) all.push({ i, s: 'x' + i, a: [i] });
  kept = all.filter((_, i) => i % 4 !== 0);
});
await new Promise((r) => setTimeout(r, 1600));
const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
console.log('old', old.physical_space_size, old.space_used_size, kept.length);
`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=1', script]);
    const [, committed, live, kept] = /^old (\d+) (\d+) (\d+)$/m.exec(stdout)!.map(Number);
    expect(kept).toBe(300000);
    expect(live).toBeGreaterThan(20 * 1024 * 1024);
    expect(committed! - live!).toBeLessThan(live! * 0.1);
  });

  it('leaves Turbofan off for a node started with --no-opt', async () => {
    const script = await turbofanScript(`
function hotAfter(i) { return (i * 3) % 17; }
let s = 0;
withoutTurbofan(() => s++);
for (let i = 0; i < 3e6; i++) s += hotAfter(i);
console.log('sum', s);
`);
    const { stdout } = await promisify(execFile)(process.execPath, ['--no-opt', '--trace-opt', script], { maxBuffer: 16 << 20 });
    expect(stdout).toMatch(/^sum \d+$/m);
    expect(stdout).not.toMatch(/<JSFunction hotAfter .*target TURBOFAN/);
  });
});
