import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * CNI network configuration loading, the way containerd (go-cni over libcni) does it: the files of the conf dir
 * ending in .conflist, .conf or .json, sorted by name; the first one is the pod network. A broken first file is
 * not skipped (that would silently put pods on another network): it makes the network not ready, with the reason.
 * A single-plugin .conf/.json file is wrapped into a list of one plugin.
 * See https://github.com/containernetworking/cni/blob/main/SPEC.md#section-1-network-configuration-format
 */

/** CNI_CONF_EXTENSIONS are the file endings libcni treats as network configurations. */
export const CNI_CONF_EXTENSIONS = ['.conflist', '.conf', '.json'] as const;

/** PluginConf is one plugin of a list: its raw JSON object (type is required). */
export type PluginConf = Record<string, unknown> & { type: string; capabilities?: Record<string, boolean> };

/** NetworkConfList is a loaded network configuration list. */
export interface NetworkConfList {
  name: string;
  cniVersion: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
  /** file is where it was read from. */
  file: string;
}

/** ConfLoadResult is either a usable list with its plugin binaries resolved, or why there is none. */
export type ConfLoadResult =
  | { ok: true; conf: NetworkConfList; binaries: Map<string, string> }
  | { ok: false; reason: string; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * parseConfList checks and normalises the text of a network configuration file (a list, or a single plugin when
 * `single` is true). It throws an Error naming what is wrong.
 */
export function parseConfList(text: string, file: string, single: boolean): NetworkConfList {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!isObject(raw)) throw new Error(`${file}: not a JSON object`);
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw new Error(`${file}: no network name`);
  const cniVersion = typeof raw.cniVersion === 'string' && raw.cniVersion !== '' ? raw.cniVersion : '0.1.0';
  let plugins: unknown[];
  if (single) {
    if (Array.isArray(raw.plugins)) throw new Error(`${file}: a configuration list in a single-plugin file (name it .conflist)`);
    plugins = [raw];
  } else {
    if (!Array.isArray(raw.plugins)) throw new Error(`${file}: no "plugins" list`);
    plugins = raw.plugins;
  }
  if (plugins.length === 0) throw new Error(`${file}: the plugin list is empty`);
  const out: PluginConf[] = plugins.map((p, i) => {
    if (!isObject(p)) throw new Error(`${file}: plugin ${i} is not an object`);
    if (typeof p.type !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(p.type)) throw new Error(`${file}: plugin ${i} has no valid "type"`);
    if (p.capabilities !== undefined && !isObject(p.capabilities)) throw new Error(`${file}: plugin ${i} has invalid "capabilities"`);
    return p as PluginConf;
  });
  return { name, cniVersion, disableCheck: raw.disableCheck === true, plugins: out, file };
}

/** findPlugin gives the first executable `type` in `binDirs`, or undefined. */
export function findPlugin(type: string, binDirs: readonly string[]): string | undefined {
  for (const d of binDirs) {
    const p = join(d, type);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // not here; try the next dir
    }
  }
  return undefined;
}

/** confFiles gives the candidate files of `dir`, sorted by name; an absent dir has none. */
export function confFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => !n.startsWith('.') && CNI_CONF_EXTENSIONS.some((x) => n.endsWith(x))).sort();
}

/**
 * CniConfLoader loads the pod network configuration and caches it. `current()` re-reads only when the directory
 * listing or the chosen file's size/mtime changed, so calling it on every Status and every ADD is cheap and
 * picks up new or edited files without a watcher that could miss events (the dir may not even exist yet).
 */
export class CniConfLoader {
  private stamp = '';
  private cached?: ConfLoadResult;

  constructor(
    private readonly confDir: string,
    private readonly binDirs: readonly string[],
  ) {}

  /** current gives the loaded configuration, re-reading it when the conf dir changed. */
  current(): ConfLoadResult {
    let files: string[];
    try {
      files = confFiles(this.confDir);
    } catch (e) {
      return this.keep('', { ok: false, reason: 'NetworkPluginNotReady', message: `cannot read CNI conf dir ${this.confDir}: ${(e as Error).message}` });
    }
    const first = files[0];
    let stamp = files.join('/');
    if (first) {
      try {
        const st = statSync(join(this.confDir, first));
        stamp += `|${st.size}|${st.mtimeMs}|${st.ino}`;
      } catch {
        stamp += '|gone';
      }
    }
    if (this.cached && stamp === this.stamp && this.cached.ok) return this.cached;
    // A not-ready result is re-checked every time: a missing plugin binary may have been installed since.
    return this.keep(stamp, this.load(first));
  }

  private keep(stamp: string, r: ConfLoadResult): ConfLoadResult {
    this.stamp = stamp;
    this.cached = r;
    return r;
  }

  private load(first: string | undefined): ConfLoadResult {
    if (!first) return { ok: false, reason: 'NetworkPluginNotReady', message: `cni config load failed: no network config found in ${this.confDir}` };
    const file = join(this.confDir, first);
    let conf: NetworkConfList;
    try {
      conf = parseConfList(readFileSync(file, 'utf8'), file, !first.endsWith('.conflist'));
    } catch (e) {
      return { ok: false, reason: 'NetworkPluginNotReady', message: `cni config load failed: ${(e as Error).message}` };
    }
    const binaries = new Map<string, string>();
    for (const p of conf.plugins) {
      const bin = findPlugin(p.type, this.binDirs);
      if (!bin) {
        return { ok: false, reason: 'NetworkPluginNotReady', message: `cni config ${file}: plugin "${p.type}" not found in ${this.binDirs.join(', ')}` };
      }
      binaries.set(p.type, bin);
    }
    return { ok: true, conf, binaries };
  }
}
