import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { LOG_LEVELS } from '../log/index.js';
import { isErrno } from '../errors/index.js';
import { DEFAULT_CONFIG_PATH, DURATION_KEYS, SIZE_KEYS, defaultConfig } from './defaults.js';
import { parseSize } from './size.js';
import { parseDuration, formatDuration } from './duration.js';
import type { Config, ConfigFlags } from './types.js';

/** ConfigError lists every problem found in a configuration at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * mergeToml lays the values of a parsed TOML document over `base`, checking each against the type of its default.
 * Unknown sections and keys are problems too: a misspelt key must not be silently ignored.
 */
function mergeToml(base: Config, doc: Table, problems: string[]): Config {
  const out = structuredClone(base) as unknown as Table;
  for (const [key, value] of Object.entries(doc)) {
    if (!(key in out)) {
      problems.push(`unknown key "${key}"`);
      continue;
    }
    const def = out[key];
    if (isTable(def)) {
      if (!isTable(value)) {
        problems.push(`"${key}" must be a table ([${key}])`);
        continue;
      }
      for (const [k, v] of Object.entries(value)) {
        const name = `${key}.${k}`;
        if (!(k in def)) problems.push(`unknown key "${name}"`);
        else setChecked(def, k, v, name, problems);
      }
    } else {
      setChecked(out, key, value, key, problems);
    }
  }
  return out as unknown as Config;
}

function setChecked(target: Table, key: string, value: unknown, name: string, problems: string[]): void {
  const def = target[key];
  if (DURATION_KEYS.has(name)) {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) problems.push(`"${name}" must be a duration such as "30s" or "4h", not ${JSON.stringify(value)}`);
    else target[key] = ms;
    return;
  }
  if (SIZE_KEYS.has(name)) {
    const n = parseSize(value);
    if (n === undefined) problems.push(`"${name}" must be a number of bytes or a size such as "512MiB" or "20GB", not ${JSON.stringify(String(value))}`);
    else target[key] = n;
    return;
  }
  if (Array.isArray(def)) {
    if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) problems.push(`"${name}" must be a list of strings`);
    else target[key] = value;
    return;
  }
  if (typeof def === 'number') {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) problems.push(`"${name}" must be an integer, not ${JSON.stringify(String(value))}`);
    else target[key] = n;
    return;
  }
  if (typeof value !== typeof def) {
    problems.push(`"${name}" must be a ${typeof def}, not ${JSON.stringify(String(value))}`);
    return;
  }
  target[key] = value;
}

/** validateConfig checks the values that types alone do not, and gives every problem found. */
export function validateConfig(c: Config): string[] {
  const p: string[] = [];
  const abs = (name: string, v: string) => {
    if (!isAbsolute(v)) p.push(`"${name}" must be an absolute path, not ${JSON.stringify(v)}`);
  };
  abs('root', c.root);
  abs('state', c.state);
  abs('grpc.address', c.grpc.address);
  abs('registry.config_path', c.registry.config_path);
  abs('cni.conf_dir', c.cni.conf_dir);
  c.cni.bin_dirs.forEach((d, i) => abs(`cni.bin_dirs[${i}]`, d));
  if (!(LOG_LEVELS as readonly string[]).includes(c.log.level)) p.push(`"log.level" must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(c.log.level)}`);
  if (!['direct', 'grpc-js'].includes(c.grpc.server)) p.push(`"grpc.server" must be "direct" or "grpc-js", not ${JSON.stringify(c.grpc.server)}`);
  if (!['systemd', 'cgroupfs', 'auto'].includes(c.runtime.cgroup_driver))
    p.push(`"runtime.cgroup_driver" must be "systemd", "cgroupfs" or "auto", not ${JSON.stringify(c.runtime.cgroup_driver)}`);
  if (!['auto', 'kernel', 'fuse-overlayfs'].includes(c.runtime.overlay_mounter))
    p.push(`"runtime.overlay_mounter" must be "auto", "kernel" or "fuse-overlayfs", not ${JSON.stringify(c.runtime.overlay_mounter)}`);
  if (c.streaming.port < 0 || c.streaming.port > 65535) p.push(`"streaming.port" must be between 0 and 65535, not ${c.streaming.port}`);
  if ((c.streaming.tls_cert_file === '') !== (c.streaming.tls_key_file === ''))
    p.push('"streaming.tls_cert_file" and "streaming.tls_key_file" must be given together');
  if (!['auto', 'helper'].includes(c.streaming.port_forward_dialer))
    p.push(`"streaming.port_forward_dialer" must be "auto" or "helper", not ${JSON.stringify(c.streaming.port_forward_dialer)}`);
  if (c.streaming.max_tokens < 1) p.push(`"streaming.max_tokens" must be at least 1, not ${c.streaming.max_tokens}`);
  if (c.streaming.max_connections < 1) p.push(`"streaming.max_connections" must be at least 1, not ${c.streaming.max_connections}`);
  if (c.streaming.upgrade_timeout <= 0) p.push('"streaming.upgrade_timeout" must be more than 0');
  if (c.registry.max_concurrent_downloads < 1)
    p.push(`"registry.max_concurrent_downloads" must be at least 1, not ${c.registry.max_concurrent_downloads}`);
  if (c.runtime.exec_sync_max_output < 1) p.push(`"runtime.exec_sync_max_output" must be at least 1`);
  if (c.metrics.address !== '' && !parseHostPort(c.metrics.address))
    p.push(`"metrics.address" must be host:port (such as "127.0.0.1:9412" or "[::1]:9412"), not ${JSON.stringify(c.metrics.address)}`);
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c.cni.default_subnet)) p.push(`"cni.default_subnet" must be an IPv4 CIDR, not ${JSON.stringify(c.cni.default_subnet)}`);
  return p;
}

/**
 * parseHostPort splits `host:port`, `[v6 address]:port` or `:port` (every interface), with a port of 0-65535 and a
 * host name or address of the usual characters; undefined when the text is not one of those.
 */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

function parseDoc(text: string, source: string): Table {
  try {
    return parseToml(text);
  } catch (e) {
    throw new ConfigError([`${source}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`]);
  }
}

/** parseConfigText reads a TOML document over the defaults, without flags; it throws ConfigError on any problem. */
export function parseConfigText(text: string, source = 'config'): Config {
  return loadConfig({}, text, source);
}

/**
 * loadConfig builds the effective configuration: defaults, then the TOML file (`--config`, else
 * /etc/fune/config.toml when it exists; or `text` when given), then the flags. Every problem is reported in one
 * ConfigError.
 */
export function loadConfig(flags: ConfigFlags = {}, text?: string, source?: string): Config {
  const path = flags.config ?? DEFAULT_CONFIG_PATH;
  if (text === undefined) {
    text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (!(isErrno(e, 'ENOENT') && flags.config === undefined)) {
        throw new ConfigError([`cannot read config file ${path}: ${e instanceof Error ? e.message : String(e)}`]);
      }
    }
  }
  const problems: string[] = [];
  const doc = parseDoc(text, source ?? path);
  const cfg = mergeToml(defaultConfig(), doc, problems);
  if (flags.root !== undefined) cfg.root = flags.root;
  if (flags.state !== undefined) {
    const oldState = cfg.state;
    cfg.state = flags.state;
    // A socket left at its default follows the state dir, so that `--state` alone gives a private daemon.
    if (cfg.grpc.address === `${oldState}/fune.sock` && flags.listen === undefined) cfg.grpc.address = `${flags.state}/fune.sock`;
  }
  if (flags.listen !== undefined) cfg.grpc.address = flags.listen.replace(/^unix:\/\//, '');
  if (flags.logLevel !== undefined) cfg.log.level = flags.logLevel as Config['log']['level'];
  problems.push(...validateConfig(cfg));
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

/** configToToml writes a configuration as the TOML file that would produce it. */
export function configToToml(c: Config): string {
  const doc = structuredClone(c) as unknown as Table;
  for (const name of DURATION_KEYS) {
    const [section, key] = name.split('.') as [string, string];
    const t = doc[section] as Table;
    t[key] = formatDuration(t[key] as number);
  }
  return stringifyToml(doc) + '\n';
}

/** configToJson gives the configuration as plain JSON (durations in milliseconds), for Status verbose info. */
export function configToJson(c: Config): string {
  return JSON.stringify(c);
}
