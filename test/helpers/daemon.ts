import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** ROOT is the repository, whether this module runs from test/helpers or (as the benchmarks do) dist/test/helpers. */
const UP = join(import.meta.dirname, '..', '..');
export const ROOT = basename(UP) === 'dist' ? join(UP, '..') : UP;
export const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/** TestDaemon is a real fune process on its own socket and directories. */
export interface TestDaemon {
  dir: string;
  root: string;
  state: string;
  socket: string;
  proc: ChildProcess;
  /** stderr collected so far (pino JSON lines). */
  logs(): string;
  /** stop sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** cleanup stops the daemon if it still runs and removes its directories. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  /** extra TOML appended to the generated config file. */
  toml?: string;
  args?: string[];
  /** reuse the directories of an earlier daemon (restart tests). */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  /** wait until the socket answers (default true). */
  wait?: boolean;
}

/** startDaemon runs `node dist/src/main.js daemon` with private root/state dirs and socket. */
export async function startDaemon(opts: StartOptions = {}): Promise<TestDaemon> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'fune-test-')));
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const socket = join(state, 'fune.sock');
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, opts.toml ?? '');
  const proc = spawn(process.execPath, [MAIN, 'daemon', '--config', configPath, '--root', root, '--state', state, '--log-level', 'debug', ...(opts.args ?? [])], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const d: TestDaemon = {
    dir,
    root,
    state,
    socket,
    proc,
    logs: () => log,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    async cleanup() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (opts.wait !== false) await waitForSocket(d, exited);
  return d;
}

async function waitForSocket(d: TestDaemon, exited: Promise<number | null>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  // 15 s by default; the VM tier raises it (node and fune start about 10x slower under TCG).
  const bound = Number(process.env.FUNE_TEST_READY_TIMEOUT_MS ?? 15_000);
  for (let i = 0; i < bound / 50; i++) {
    if (done) throw new Error(`daemon exited before serving:\n${d.logs()}`);
    try {
      await access(d.socket);
      if (d.logs().includes('fune is ready')) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`daemon did not become ready:\n${d.logs()}`);
}

const packages = new Map<string, grpc.GrpcObject>();
function pkg(version: 'v1' | 'v1alpha2'): grpc.GrpcObject {
  let p = packages.get(version);
  if (!p) {
    const def = loadSync(join(ROOT, 'proto', 'runtime', version, 'api.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    p = grpc.loadPackageDefinition(def);
    packages.set(version, p);
  }
  return p;
}

/** CriClient calls one CRI service with promises: `await c.call('Version', {})`. */
export interface CriClient {
  call<T = any>(method: string, req?: object, opts?: { deadlineMs?: number }): Promise<T>;
  /** stream collects a server-streaming call's messages until `until` returns true or the call ends. */
  raw: grpc.Client;
  close(): void;
}

/** criClient connects to a socket's RuntimeService or ImageService of one API version. */
export function criClient(
  socket: string,
  version: 'v1' | 'v1alpha2' = 'v1',
  service: 'RuntimeService' | 'ImageService' = 'RuntimeService',
  opts: { authority?: string } = {},
): CriClient {
  const runtime = (pkg(version).runtime as grpc.GrpcObject)[version] as grpc.GrpcObject;
  const Ctor = runtime[service] as grpc.ServiceClientConstructor;
  // With `authority` set to the socket path, the client speaks as Go's old CRI clients do: fune serves it with its
  // direct server instead of grpc-js (src/cri/h2-route.ts).
  const options = opts.authority ? { 'grpc.default_authority': opts.authority } : {};
  const client = new Ctor(`unix://${socket}`, grpc.credentials.createInsecure(), options);
  return {
    raw: client,
    call(method, req = {}, opts = {}) {
      return new Promise((resolve, reject) => {
        const fn = (client as any)[method];
        if (typeof fn !== 'function') return reject(new Error(`no method ${method}`));
        const deadline = new Date(Date.now() + (opts.deadlineMs ?? 60_000));
        fn.call(client, req, { deadline }, (err: grpc.ServiceError | null, res: any) => (err ? reject(err) : resolve(res)));
      });
    },
    close: () => client.close(),
  };
}

/** expectCode awaits a call that must fail, and gives its status code and details. */
export async function failure(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: err.code, details: err.details };
  }
  throw new Error('the call succeeded where a failure was expected');
}

export { grpc };
