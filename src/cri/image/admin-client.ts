import { request, type IncomingMessage } from 'node:http';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ADMIN_SOCKET_NAME } from './admin-server.js';

/** ImagesCliIo is where `fune images` reads and writes (the process's streams, or test doubles). */
export interface ImagesCliIo {
  stdin: Readable;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const IMAGES_USAGE = `usage: fune images <command> [--state DIR | --admin-socket PATH]

commands:
  ls                     list images
  pull REF [--creds USER:PASSWORD]
                         pull an image through the daemon
  rm REF...              remove images (by id, tag or digest)
  import FILE|-          load a docker save or OCI layout archive (several images, tags kept)
`;

function call(socket: string, method: string, path: string, body?: Readable | string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers: { 'content-type': typeof body === 'string' ? 'application/json' : 'application/octet-stream' } }, resolve);
    req.on('error', (e) => reject(new Error(`cannot reach the fune daemon at ${socket}: ${e.message}`)));
    if (body === undefined || typeof body === 'string') req.end(body);
    else {
      body.on('error', (e) => {
        req.destroy();
        reject(e);
      });
      body.pipe(req);
    }
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of res as AsyncIterable<Buffer>) s += c.toString();
  return s;
}

const human = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)}GB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)}MB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)}kB` : `${n}B`);

/** events reads NDJSON events, drawing progress on a terminal; it gives the final non-progress event. */
async function events(res: IncomingMessage, io: ImagesCliIo): Promise<Record<string, unknown>> {
  let buf = '';
  let last: Record<string, unknown> = {};
  const t0 = Date.now();
  for await (const c of res as AsyncIterable<Buffer>) {
    buf += c.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const ev = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      const p = ev.progress as { layersDone: number; layers: number; bytes: number; totalBytes: number } | undefined;
      if (p) {
        if (io.stderr.isTTY) {
          const rate = p.bytes / Math.max(0.001, (Date.now() - t0) / 1000);
          io.stderr.write(`\rlayers ${p.layersDone}/${p.layers}  ${human(p.bytes)}/${human(p.totalBytes)}  ${human(rate)}/s   `);
        }
        continue;
      }
      last = ev;
    }
  }
  if (io.stderr.isTTY) io.stderr.write('\n');
  return last;
}

/** imagesCli runs `fune images …` against the daemon's admin socket and gives the exit code. */
export async function imagesCli(args: string[], io: ImagesCliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { state: { type: 'string' }, 'admin-socket': { type: 'string' }, creds: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const socket = values['admin-socket'] ?? join(values.state ?? '/run/fune', ADMIN_SOCKET_NAME);
  const [cmd, ...rest] = positionals;
  const fail = (e: { kind?: string; message?: string }) => {
    io.stderr.write(`fune: ${e.message ?? 'failed'}${e.kind ? ` (${e.kind})` : ''}\n`);
    return 1;
  };
  switch (cmd) {
    case 'ls': {
      const list = JSON.parse(await readAll(await call(socket, 'GET', '/v1/images'))) as { id: string; repoTags: string[]; size: number }[];
      io.stdout.write(`${'IMAGE ID'.padEnd(14)}${'SIZE'.padEnd(10)}TAGS\n`);
      for (const i of list) io.stdout.write(`${i.id.slice(7, 19).padEnd(14)}${human(i.size).padEnd(10)}${i.repoTags.join(', ') || '<none>'}\n`);
      return 0;
    }
    case 'pull': {
      if (rest.length !== 1) return fail({ message: `pull takes one reference\n${IMAGES_USAGE}` });
      const auth: Record<string, string> = {};
      if (values.creds) {
        const i = values.creds.indexOf(':');
        auth.username = values.creds.slice(0, i < 0 ? undefined : i);
        if (i >= 0) auth.password = values.creds.slice(i + 1);
      }
      const ev = await events(await call(socket, 'POST', '/v1/images/pull', JSON.stringify({ ref: rest[0], auth })), io);
      if (ev.error) return fail(ev.error);
      io.stdout.write(`${(ev.image as { id: string }).id}\n`);
      return 0;
    }
    case 'rm': {
      if (rest.length === 0) return fail({ message: `rm takes references\n${IMAGES_USAGE}` });
      let code = 0;
      for (const ref of rest) {
        const out = JSON.parse(await readAll(await call(socket, 'DELETE', `/v1/images?ref=${encodeURIComponent(ref)}`))) as { removed?: string | null; error?: { message: string } };
        if (out.error) code = fail(out.error);
        else io.stdout.write(out.removed ? `removed ${out.removed}\n` : `${ref}: not present\n`);
      }
      return code;
    }
    case 'import': {
      if (rest.length !== 1) return fail({ message: `import takes a file or -\n${IMAGES_USAGE}` });
      const src = rest[0] === '-' ? io.stdin : createReadStream(rest[0]!);
      const ev = await events(await call(socket, 'POST', '/v1/images/import', src), io);
      if (ev.error) return fail(ev.error);
      for (const i of ev.imported as { id: string; repoTags: string[] }[]) io.stdout.write(`imported ${i.id} ${i.repoTags.join(' ')}\n`);
      return 0;
    }
    default:
      io.stderr.write(IMAGES_USAGE);
      return 2;
  }
}
