import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { chmod, rm } from 'node:fs/promises';
import type { Logger } from '../../log/index.js';
import type { ImageService } from '../../services/image-service.js';
import { RuntimeError, errorMessage } from '../../errors/index.js';
import { secretsOf, credentialsFromAuthConfig } from '../../image/auth.js';

/**
 * ADMIN_SOCKET_NAME is fune's private admin endpoint under the state directory: HTTP/1.1 over a unix socket
 * (mode 0600), used by `fune images …` so that the daemon stays the only writer of the image store.
 *
 *   GET    /v1/images                 → JSON [{id, repoTags, repoDigests, size}]
 *   POST   /v1/images/pull            ← JSON {ref, auth?: CRI AuthConfig fields}  → NDJSON {progress}…, {image:{id}} | {error}
 *   POST   /v1/images/import          ← the archive (docker save or OCI layout tar) → NDJSON {imported:[…]} | {error}
 *   DELETE /v1/images?ref=REF         → JSON {removed: id | null}
 */
export const ADMIN_SOCKET_NAME = 'fune-admin.sock';

async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new RuntimeError('InvalidArgument', 'request body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorEvent(e: unknown, secrets: string[] = []) {
  let message = errorMessage(e);
  for (const s of secrets) if (s.length >= 3) message = message.split(s).join('[redacted]');
  return { error: { kind: e instanceof RuntimeError ? e.kind : 'Internal', message } };
}

/** AdminServer is the running admin endpoint. */
export interface AdminServer {
  path: string;
  close(): Promise<void>;
}

/** startAdminServer serves the admin endpoint at `path`, replacing a stale socket file. */
export async function startAdminServer(path: string, images: ImageService, log: Logger): Promise<AdminServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://fune');
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('the client went away'));
    });
    const l = log.child({ admin: `${req.method} ${u.pathname}` });
    if (req.method === 'GET' && u.pathname === '/v1/images') {
      const list = images.list().map((i) => ({ id: i.id, repoTags: i.repo_tags, repoDigests: i.repo_digests, size: Number(i.size) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
      return;
    }
    if (req.method === 'DELETE' && u.pathname === '/v1/images') {
      const ref = u.searchParams.get('ref') ?? '';
      const before = images.status(ref, false).image;
      await images.remove(ref, l);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ removed: before?.id ?? null }));
      return;
    }
    if (req.method === 'POST' && (u.pathname === '/v1/images/pull' || u.pathname === '/v1/images/import')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const send = (o: object) => res.write(`${JSON.stringify(o)}\n`);
      let secrets: string[] = [];
      try {
        if (u.pathname === '/v1/images/pull') {
          const body = JSON.parse(await readBody(req)) as { ref?: string; auth?: Record<string, string> };
          secrets = secretsOf(credentialsFromAuthConfig(body.auth));
          const id = await images.pull({ image: body.ref ?? '' } as never, (body.auth ?? null) as never, { signal: ac.signal, log: l, onProgress: (p) => send({ progress: p }) });
          send({ image: { id } });
        } else {
          send({ imported: await images.importArchive(req, l) });
        }
      } catch (e) {
        l.info({ err: errorMessage(e) }, 'admin request failed');
        send(errorEvent(e, secrets));
      }
      res.end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { kind: 'NotFound', message: `no route ${req.method} ${u.pathname}` } }));
  };
  const srv: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify(errorEvent(e)));
    });
  });
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return {
    path,
    async close() {
      await new Promise<void>((r) => {
        srv.close(() => r());
        srv.closeAllConnections();
      });
      await rm(path, { force: true });
    },
  };
}
