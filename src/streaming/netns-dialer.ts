/**
 * netns-dialer is the small helper process behind port-forward into a pod: fune runs it as
 * `nsenter --net=<pod netns> node netns-dialer.js <unix socket>`, one per pod, started on the first port-forward.
 * fune's own process cannot enter a network namespace (setns applies to a whole thread, and Node's event loop
 * thread is shared by everything), so something inside the namespace has to open the TCP connections. Spawning a
 * process per connection (`nsenter … socat`) would cost a fork+exec per connection; this helper costs one process
 * per pod that port-forwards and nothing per connection beyond the copy. Unix sockets with a path live in the
 * file system, not in the network namespace, so fune reaches the helper from the host.
 *
 * Protocol per connection: fune writes "<port>\n"; the helper dials localhost:<port> (IPv4, then IPv6) and answers
 * "OK\n" then copies bytes both ways, or "ERR <code> <message>\n" and closes. The helper exits when its stdin
 * closes, i.e. when fune goes away or stops it.
 */
import net from 'node:net';
import { rmSync } from 'node:fs';

function dial(port: number): Promise<net.Socket> {
  const attempt = (host: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  return attempt('127.0.0.1').catch((err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? attempt('::1').catch(() => Promise.reject(err)) : Promise.reject(err)));
}

function serve(client: net.Socket): void {
  let head = Buffer.alloc(0);
  client.on('error', () => client.destroy());
  const onData = (b: Buffer) => {
    head = Buffer.concat([head, b]);
    const nl = head.indexOf(10);
    if (nl < 0) {
      if (head.length > 16) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const port = Number(head.subarray(0, nl).toString());
    const rest = head.subarray(nl + 1);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return void client.end(`ERR EINVAL bad port\n`);
    dial(port).then(
      (upstream) => {
        upstream.setNoDelay(true);
        client.write('OK\n');
        if (rest.length) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.resume();
      },
      (err: NodeJS.ErrnoException) => client.end(`ERR ${err.code ?? 'EIO'} ${err.message}\n`),
    );
  };
  client.on('data', onData);
}

const path = process.argv[2];
if (!path) process.exit(2);
try {
  rmSync(path, { force: true });
} catch {
  // nothing to remove
}
const server = net.createServer({ allowHalfOpen: true }, serve);
server.listen(path, () => process.stdout.write('ready\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
