import { RuntimeError, type ErrorKind } from '../errors/index.js';
import { tail, type ProcessRunner } from '../sys/process-runner.js';
import type { NetworkConfList, PluginConf } from './cni-config.js';

/**
 * Running CNI plugins: one plugin per process, its config on stdin, the CNI_* variables in its environment, its
 * result (or error object) on stdout. A conflist is run plugin by plugin, ADD in order with each result handed to the
 * next as prevResult, DEL in reverse order with the cached final result.
 * See https://github.com/containernetworking/cni/blob/main/SPEC.md#section-2-execution-protocol
 */

/** CNI_IFNAME is the interface name pods get. */
export const CNI_IFNAME = 'eth0';

/**
 * PLUGIN_PATH is the PATH plugins run with (portmap and bridge call iptables). The daemon may not read its own
 * environment outside config/, so the usual system directories are given here.
 */
export const PLUGIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** CniRuntimeConfig is the runtimeConfig a runtime may pass to plugins that declare the capability. */
export type CniRuntimeConfig = Record<string, unknown>;

/** CniCallArgs are the facts of one ADD or DEL of a whole list. */
export interface CniCallArgs {
  containerId: string;
  /** netns is the namespace path; '' on a DEL whose namespace is gone. */
  netns: string;
  ifName: string;
  /** cniArgs are the CNI_ARGS pairs, in order. */
  cniArgs: [string, string][];
  runtimeConfig: CniRuntimeConfig;
}

/** CniInvokerDeps are what a CniInvoker works with. */
export interface CniInvokerDeps {
  runner: ProcessRunner;
  binDirs: readonly string[];
  timeoutMs: number;
}

/** CniPluginError is a failed plugin run: which plugin and verb, the CNI error object if any, the stderr tail. */
export class CniPluginError extends RuntimeError {
  constructor(
    readonly plugin: string,
    readonly command: string,
    message: string,
    readonly cniCode?: number,
    kind: ErrorKind = 'Internal',
  ) {
    super(kind, message);
  }
}

/** buildPluginConf is the stdin of one plugin: its conf plus name, cniVersion, prevResult and its runtimeConfig subset. */
export function buildPluginConf(list: NetworkConfList, plugin: PluginConf, runtimeConfig: CniRuntimeConfig, prevResult: unknown): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  else delete conf.prevResult;
  const rc: CniRuntimeConfig = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on === true && runtimeConfig[cap] !== undefined) rc[cap] = runtimeConfig[cap];
  }
  if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
  return conf;
}

/** versionAtLeast compares dotted CNI versions. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** CniInvoker runs plugins and plugin lists. */
export class CniInvoker {
  constructor(private readonly deps: CniInvokerDeps) {}

  /** invoke runs one plugin binary with `command` and gives its decoded stdout (undefined when empty). */
  async invoke(bin: string, type: string, command: 'ADD' | 'DEL' | 'CHECK', conf: Record<string, unknown>, a: CniCallArgs, signal?: AbortSignal): Promise<unknown> {
    const env: NodeJS.ProcessEnv = {
      PATH: PLUGIN_PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: a.containerId,
      CNI_NETNS: a.netns,
      CNI_IFNAME: a.ifName,
      CNI_ARGS: a.cniArgs.map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: this.deps.binDirs.join(':'),
    };
    let res;
    try {
      res = await this.deps.runner.run(bin, [], { env, input: JSON.stringify(conf), timeoutMs: this.deps.timeoutMs, signal, maxOutput: 1024 * 1024 });
    } catch (e) {
      throw new CniPluginError(type, command, `CNI plugin ${type} ${command}: cannot run ${bin}: ${(e as Error).message}`);
    }
    const stdout = res.stdout.toString().trim();
    if (res.code === 0) {
      if (stdout === '') return undefined;
      try {
        return JSON.parse(stdout) as unknown;
      } catch {
        throw new CniPluginError(type, command, `CNI plugin ${type} ${command}: output is not JSON: ${tail(stdout, 500)}`);
      }
    }
    const how = res.timedOut ? `timed out after ${this.deps.timeoutMs} ms` : res.signal ? `killed by ${res.signal}` : `exit status ${res.code}`;
    let detail: string;
    let code: number | undefined;
    try {
      const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
      code = typeof e.code === 'number' ? e.code : undefined;
      detail = [e.msg, e.details].filter((x) => typeof x === 'string' && x !== '').join(': ');
      if (code !== undefined) detail = `code ${code}: ${detail}`;
    } catch {
      detail = tail(stdout, 1000);
    }
    const stderr = tail(res.stderr, 1000);
    const msg = `CNI plugin ${type} ${command} failed (${how})${detail ? `: ${detail}` : ''}${stderr ? `; stderr: ${stderr}` : ''}`;
    throw new CniPluginError(type, command, msg, code, res.timedOut ? 'DeadlineExceeded' : 'Internal');
  }

  /** addList runs ADD through the list in order, chaining prevResult; it gives the last result. */
  async addList(list: NetworkConfList, binaries: Map<string, string>, a: CniCallArgs, signal?: AbortSignal): Promise<unknown> {
    let prev: unknown;
    for (const p of list.plugins) {
      const out = await this.invoke(this.bin(binaries, p.type), p.type, 'ADD', buildPluginConf(list, p, a.runtimeConfig, prev), a, signal);
      if (out !== undefined) prev = out;
    }
    if (prev === undefined) throw new CniPluginError(list.plugins.at(-1)!.type, 'ADD', `CNI network ${list.name}: ADD gave no result`);
    return prev;
  }

  /**
   * delList runs DEL through the list in reverse order. From CNI 0.4.0 on each plugin gets the cached result of the
   * ADD as prevResult. Every plugin is run even when one fails; the first error is thrown at the end.
   */
  async delList(list: NetworkConfList, binaries: Map<string, string>, a: CniCallArgs, cachedResult: unknown, signal?: AbortSignal): Promise<void> {
    const prev = cachedResult !== undefined && versionAtLeast(list.cniVersion, '0.4.0') ? cachedResult : undefined;
    let first: Error | undefined;
    for (const p of [...list.plugins].reverse()) {
      try {
        await this.invoke(this.bin(binaries, p.type), p.type, 'DEL', buildPluginConf(list, p, a.runtimeConfig, prev), a, signal);
      } catch (e) {
        first ??= e as Error;
      }
    }
    if (first !== undefined) throw first;
  }

  private bin(binaries: Map<string, string>, type: string): string {
    const b = binaries.get(type);
    if (!b) throw new CniPluginError(type, '', `CNI plugin "${type}" not found in ${this.deps.binDirs.join(', ')}`);
    return b;
  }
}
