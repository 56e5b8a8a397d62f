// Test fixtures: a real Debian docker-registry on a random loopback port, an htpasswd file, a tiny token server
// that signs registry tokens (JWT, RS256, x5c) for the registry's token auth.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as netServer } from 'node:net';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface TestRegistry {
  base: string;
  host: string;
  dir: string;
  storage: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export interface RegistryAuth {
  htpasswd?: { user: string; password: string };
  token?: { realm: string; service: string; issuer: string; certPath: string };
}

/** startRegistry runs /usr/bin/docker-registry on 127.0.0.1:<random> with its own storage and config. */
export async function startRegistry(auth: RegistryAuth = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'fune-registry-'));
  const port = await freePort();
  const storage = join(dir, 'data');
  let authYaml = '';
  if (auth.htpasswd) {
    const line = execFileSync('htpasswd', ['-Bbn', auth.htpasswd.user, auth.htpasswd.password]).toString().trim();
    await writeFile(join(dir, 'htpasswd'), `${line}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: fune-test\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (auth.token) {
    const t = auth.token;
    authYaml = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certPath}\n`;
  }
  const cfg = `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${authYaml}`;
  await writeFile(join(dir, 'config.yml'), cfg);
  const proc = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const base = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`${base}/v2/`);
      await res.arrayBuffer();
      break;
    } catch {
      if (i > 100 || proc.exitCode !== null) throw new Error(`registry did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    base,
    host: `127.0.0.1:${port}`,
    dir,
    storage,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** blobDataPath is where the registry's filesystem driver keeps a blob. */
export function blobDataPath(r: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return join(r.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}

export interface TokenServer {
  realm: string;
  certPath: string;
  issued: string[];
  stop(): Promise<void>;
}

/**
 * startTokenServer issues registry bearer tokens (docker token auth) to `user:password` (basic auth on the token
 * request), signed with a fresh self-signed RSA certificate that the registry trusts through rootcertbundle.
 */
export async function startTokenServer(o: { service: string; issuer: string; user: string; password: string }): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'fune-token-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=fune-token'], { stdio: 'ignore' });
  const key = await readFile(keyPath, 'utf8');
  const certDer = execFileSync('openssl', ['x509', '-in', certPath, '-outform', 'DER']).toString('base64');
  const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
  const issued: string[] = [];
  const srv: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const want = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`;
    if (req.headers.authorization !== want) {
      res.writeHead(401).end('{"details":"bad credentials"}');
      return;
    }
    const scope = u.searchParams.get('scope') ?? '';
    const [type, name, actions] = scope.split(':');
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer] };
    const claims = { iss: o.issuer, sub: o.user, aud: o.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access: type ? [{ type, name, actions: (actions ?? '').split(',') }] : [] };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    const token = `${input}.${b64u(sig)}`;
    issued.push(scope);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    certPath,
    issued,
    async stop() {
      await new Promise<void>((r) => srv.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** hostsToml writes `<certsDir>/<host>/hosts.toml`. */
export async function hostsToml(certsDir: string, host: string, body: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(certsDir, host), { recursive: true });
  await writeFile(join(certsDir, host, 'hosts.toml'), body);
}
