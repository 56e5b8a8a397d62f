import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { resolveHosts } from '../../../src/image/hosts.js';
import { ImageManager } from '../../../src/image/images.js';
import { hostPlatform } from '../../../src/image/manifest.js';
import { parseReference } from '../../../src/image/reference.js';
import type { Transport, TransportRequest } from '../../../src/image/transport.js';
import type { ProcessRunner } from '../../../src/sys/process-runner.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'fune-hosts-'))));
afterEach(async () => rm(dir, { recursive: true, force: true }));

const certs = () => join(dir, 'certs.d');
async function hostsToml(host: string, body: string) {
  await mkdir(join(certs(), host), { recursive: true });
  await writeFile(join(certs(), host, 'hosts.toml'), body);
}
const bases = async (ref: string) => (await resolveHosts(certs(), parseReference(ref).domain)).map((h) => h.base);

describe('resolveHosts without a hosts.toml', () => {
  it.each([
    // short names and docker.io (and its legacy name) go to Docker Hub's registry endpoint
    ['busybox', ['https://registry-1.docker.io/v2']],
    ['library/busybox:1.36', ['https://registry-1.docker.io/v2']],
    ['docker.io/library/busybox', ['https://registry-1.docker.io/v2']],
    ['docker.io/someone/app:v1', ['https://registry-1.docker.io/v2']],
    ['index.docker.io/library/busybox', ['https://registry-1.docker.io/v2']],
    // every other registry is reached at its own name
    ['quay.io/prometheus/node-exporter', ['https://quay.io/v2']],
    ['registry.k8s.io/pause:3.9', ['https://registry.k8s.io/v2']],
    ['docker.io.example.com/x', ['https://docker.io.example.com/v2']],
    ['localhost:5000/x', ['https://localhost:5000/v2', 'http://localhost:5000/v2']],
  ])('%s → %j', async (ref, want) => {
    expect(await bases(ref)).toEqual(want);
  });
});

describe('resolveHosts with a hosts.toml', () => {
  it('a docker.io hosts.toml with a server overrides Docker Hub', async () => {
    await hostsToml('docker.io', 'server = "http://127.0.0.1:5000"\n');
    expect(await bases('busybox')).toEqual(['http://127.0.0.1:5000/v2']);
  });

  it('a docker.io hosts.toml with only mirrors falls back to Docker Hub, after the mirrors', async () => {
    await hostsToml('docker.io', '[host."http://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n');
    expect(await bases('busybox')).toEqual(['http://mirror.internal:5000/v2', 'https://registry-1.docker.io/v2']);
  });

  it('a _default hosts.toml without a server keeps each registry its default server', async () => {
    await hostsToml('_default', '[host."http://mirror.internal:5000"]\n  capabilities = ["pull", "resolve"]\n');
    expect(await bases('busybox')).toEqual(['http://mirror.internal:5000/v2', 'https://registry-1.docker.io/v2']);
    expect(await bases('quay.io/x/y')).toEqual(['http://mirror.internal:5000/v2', 'https://quay.io/v2']);
  });
});

describe('a pull of a short name', () => {
  it('asks Docker Hub first, with no hosts.toml (the transport is a recording fake: nothing leaves the process)', async () => {
    const urls: string[] = [];
    const transport: Transport = {
      async request(req: TransportRequest) {
        urls.push(req.url);
        return { status: 404, headers: {}, body: Readable.from([Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')]) };
      },
    };
    const runner: ProcessRunner = { run: () => Promise.reject(new Error('no process may run')) } as unknown as ProcessRunner;
    const m = new ImageManager({
      dir: join(dir, 'image'), runner, special: { mknod: () => Promise.reject(new Error('x')), setXattr: () => Promise.reject(new Error('x')) },
      mounter: {} as never, transport, configPath: certs(), platform: hostPlatform('x64'), stallMs: 1000, deadlineMs: 0, concurrency: 1, chown: false, now: () => 0,
    });
    await m.init(pino({ level: 'silent' }));
    await expect(m.pull('busybox', { signal: new AbortController().signal, log: pino({ level: 'silent' }) })).rejects.toThrow();
    expect(urls[0]).toBe('https://registry-1.docker.io/v2/library/busybox/manifests/latest');
    expect(urls.every((u) => u.startsWith('https://registry-1.docker.io/'))).toBe(true);
  });
});
