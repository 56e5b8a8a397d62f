import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, configToToml, loadConfig, parseConfigText, parseHostPort } from '../../../src/config/load.js';
import { defaultConfig } from '../../../src/config/defaults.js';
import { formatDuration, parseDuration } from '../../../src/config/duration.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('gives the documented defaults for an empty file', () => {
    const c = parseConfigText('');
    expect(c).toEqual(defaultConfig());
    expect(c.grpc.address).toBe('/run/fune/fune.sock');
    expect(c.root).toBe('/var/lib/fune');
    expect(c.state).toBe('/run/fune');
    expect(c.registry.config_path).toBe('/etc/fune/certs.d');
    expect(c.cni.conf_dir).toBe('/etc/cni/net.d');
    expect(c.streaming.stream_idle_timeout).toBe(4 * 3600_000);
  });

  it('reads containerd-named sections and durations', () => {
    const c = parseConfigText(`
[registry]
config_path = "/etc/containerd/certs.d"
pull_progress_timeout = "1m30s"
[cni]
conf_dir = "/x/net.d"
bin_dirs = ["/a", "/b"]
[streaming]
address = "0.0.0.0"
port = 10010
stream_idle_timeout = "30m"
[runtime]
cgroup_driver = "systemd"
`);
    expect(c.registry.config_path).toBe('/etc/containerd/certs.d');
    expect(c.registry.pull_progress_timeout).toBe(90_000);
    expect(c.cni.bin_dirs).toEqual(['/a', '/b']);
    expect(c.streaming.port).toBe(10010);
    expect(c.streaming.stream_idle_timeout).toBe(1_800_000);
    expect(c.runtime.cgroup_driver).toBe('systemd');
  });

  it('names every bad value in one error', () => {
    const p = problems(`
root = "var/lib"
nonsense = 1
[log]
level = "chatty"
[runtime]
cgroup_driver = "openrc"
[registry]
pull_progress_timeout = "soon"
max_concurrent_downloads = 0
[cni]
bin_dirs = "not-a-list"
[streaming]
port = 99999
tls_cert_file = "/cert.pem"
mystery = true
`);
    const text = p.join('\n');
    for (const s of [
      '"root" must be an absolute path',
      'unknown key "nonsense"',
      '"log.level" must be one of',
      '"runtime.cgroup_driver"',
      '"registry.pull_progress_timeout" must be a duration',
      '"registry.max_concurrent_downloads" must be at least 1',
      '"cni.bin_dirs" must be a list of strings',
      '"streaming.port" must be between 0 and 65535',
      'tls_key_file" must be given together',
      'unknown key "streaming.mystery"',
    ])
      expect(text).toContain(s);
    expect(p.length).toBe(10);
  });

  it('chooses how port-forward dials into pods: auto (the setns addon when built) or helper', () => {
    expect(parseConfigText('').streaming.port_forward_dialer).toBe('auto');
    expect(parseConfigText('[streaming]\nport_forward_dialer = "helper"').streaming.port_forward_dialer).toBe('helper');
    expect(problems('[streaming]\nport_forward_dialer = "nc"')).toEqual(['"streaming.port_forward_dialer" must be "auto" or "helper", not "nc"']);
  });

  it('turns the metrics endpoint on with a host:port and refuses every other shape', () => {
    expect(parseConfigText('').metrics.address).toBe('');
    const good: [string, { host: string; port: number }][] = [
      ['127.0.0.1:9412', { host: '127.0.0.1', port: 9412 }],
      ['[::1]:9412', { host: '::1', port: 9412 }],
      ['localhost:0', { host: 'localhost', port: 0 }],
      [':9412', { host: '', port: 9412 }],
      ['node-1.example:65535', { host: 'node-1.example', port: 65535 }],
    ];
    for (const [address, want] of good) {
      expect(parseConfigText(`[metrics]\naddress = "${address}"`).metrics.address).toBe(address);
      expect(parseHostPort(address)).toEqual(want);
    }
    const bad = ['9412', 'localhost', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:99999999', '::1:9412', '[::1:9412', '[::1]', 'a b:1', 'http://127.0.0.1:9412', '127.0.0.1:94 12'];
    for (const address of bad) {
      expect(parseHostPort(address), address).toBeUndefined();
      expect(problems(`[metrics]\naddress = "${address}"`), address).toEqual([`"metrics.address" must be host:port (such as "127.0.0.1:9412" or "[::1]:9412"), not ${JSON.stringify(address)}`]);
    }
    expect(problems('[metrics]\naddress = 9412')).toEqual(['"metrics.address" must be a string, not "9412"']);
    expect(problems('[metrics]\nport = 9412')).toEqual(['unknown key "metrics.port"']);
  });

  it('reports TOML syntax errors', () => {
    expect(problems('root = ')[0]).toMatch(/config/);
  });

  it('applies flags over the file, and a default socket follows --state', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fune-cfg-'));
    const f = join(dir, 'c.toml');
    writeFileSync(f, '[log]\nlevel = "warn"\n');
    const c = loadConfig({ config: f, root: '/r', state: '/s', logLevel: 'debug' });
    expect(c.root).toBe('/r');
    expect(c.state).toBe('/s');
    expect(c.grpc.address).toBe('/s/fune.sock');
    expect(c.log.level).toBe('debug');
    const l = loadConfig({ config: f, listen: 'unix:///tmp/x.sock' });
    expect(l.grpc.address).toBe('/tmp/x.sock');
    expect(l.log.level).toBe('warn');
  });

  it('fails on an explicitly named config file that is missing, and on a bad flag value', () => {
    expect(() => loadConfig({ config: '/nonexistent/fune.toml' })).toThrow(/cannot read config file/);
    expect(() => loadConfig({ config: '/nonexistent/fune.toml'.replace('/nonexistent', '/dev/null/x') })).toThrow(ConfigError);
    const dir = mkdtempSync(join(tmpdir(), 'fune-cfg-'));
    writeFileSync(join(dir, 'c.toml'), '');
    expect(() => loadConfig({ config: join(dir, 'c.toml'), logLevel: 'loud' })).toThrow(/"log.level"/);
  });

  it('round-trips the defaults through TOML', () => {
    const text = configToToml(defaultConfig());
    expect(text).toContain('[streaming]');
    expect(text).toContain('stream_idle_timeout = "4h"');
    expect(parseConfigText(text)).toEqual(defaultConfig());
  });

  it('parses and formats durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1.5s')).toBe(1500);
    for (const bad of ['', '5', 's', '1d', '1m x', '-1s']) expect(parseDuration(bad)).toBeUndefined();
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(1500)).toBe('1500ms');
  });

  it.each([
    ['0', 0],
    ['1048576', 1048576],
    ['"1048576"', 1048576],
    ['"512MiB"', 512 * 1024 ** 2],
    ['"512Mi"', 512 * 1024 ** 2],
    ['"1.5GiB"', 1.5 * 1024 ** 3],
    ['"20GB"', 20e9],
    ['"64 kB"', 64_000],
    ['"100B"', 100],
  ])('reads registry.max_unpacked_size = %s as %d bytes', (v, want) => {
    expect(parseConfigText(`[registry]\nmax_unpacked_size = ${v}\n`).registry.max_unpacked_size).toBe(want);
  });

  it.each(['-1', '1.5', '"10G"', '"10M"', '"lots"', '"5 MiBs"', '"-5MiB"', 'true', '"1e3"'])('refuses registry.max_unpacked_size = %s', (v) => {
    expect(problems(`[registry]\nmax_unpacked_size = ${v}\n`).join('\n')).toMatch(/"registry.max_unpacked_size" must be a number of bytes or a size/);
  });

  it('has no unpacked-size bound by default', () => {
    expect(defaultConfig().registry.max_unpacked_size).toBe(0);
  });
});
