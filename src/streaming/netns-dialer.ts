/**
 * netns-dialer is the fallback behind port-forward into a pod. By default fune now connects from a short-lived
 * thread of its own that setns()es into the pod's namespace (native/netns, src/sys/netns-connect.ts), as containerd
 * does from a goroutine locked to a thread; this helper serves when that addon was not built, or with
 * `[streaming] port_forward_dialer = "helper"`. Why the addon is the default (same 2-core machine, loaded):
 * - no process per pod: the helper's ~9.5 MiB private memory (47 MiB RSS) and its start on the first connection
 *   (84–117 ms in runc-streaming.test.ts, against 4–14 ms for the first setns connection) are gone;
 * - per connection (dial + close, 2,000 in a row, pool.dial): daemon CPU ~0.29–0.33 ms with the addon against
 *   ~0.12–0.22 ms with the helper, which itself spent ~0.18–0.28 ms, so ~0.1–0.15 ms less CPU in all; the
 *   addon moves the kernel's loopback connect (both ends, ~0.04 ms) and the thread (~0.06 ms) into the daemon,
 *   where containerd has them too. Wall time per dial is about the same (0.3–0.5 ms, load-dominated);
 * - through crictl port-forward (hack/bench/streaming.sh, CONNS=1000, three alternating fune-only runs each):
 *   addon 194 connections/s, 4.48 ms median, daemon CPU 3.63 ms per connection; helper 181/s, 4.90 ms, 3.49 ms
 *   (the helper's own CPU not counted). So ~0.1–0.3 ms of work moved into the daemon, as in containerd, and the
 *   wall time is the same or a little better. The dial is ~0.25 ms of the daemon's ~3.5 ms per connection; a CPU
 *   profile puts the rest in the SPDY streams (each frame its own socket write, ~0.85 ms; zlib headers ~0.2 ms;
 *   two stream.pipeline()s, each aborting an AbortController with a fresh DOMException, ~0.09 ms).
 *
 * The helper: fune runs it as
 * `nsenter --net=<pod netns> node netns-dialer.js` with a Node IPC channel, one per pod that port-forwards.
 * Node's event loop thread cannot enter a network namespace (setns applies to a whole thread, and that thread is
 * shared by everything; a thread of its own can, which is the addon), but a socket belongs to the namespace it was
 * created in, wherever its fd goes.
 * So the helper only connects: for each request it opens localhost:<port> inside the pod and hands the connected
 * socket to fune over the IPC channel (SCM_RIGHTS); fune then reads and writes the pod's socket itself, and the
 * helper never touches a byte of the forwarded data.
 *
 * Why this mechanism (measured on the 2-core test machine under load, 256 MiB each way through one SPDY connection,
 * 200 sequential pairs; see the integration test that prints the numbers):
 * - a helper that relayed bytes over a unix socket: private memory grew to ~45 MiB after 512 MiB of traffic
 *   (JavaScript copying), download 62 MB/s, upload 119 MB/s;
 * - `nsenter … busybox nc 127.0.0.1 PORT` per connection: no idle cost, but a fork+exec per connection (median
 *   23 ms per pair against ~10 ms), 63/87 MB/s through nc's 8 KiB pipe copies, and a refused port races with the
 *   first write (reported as EPIPE);
 * - this fd-passing helper: ~9.5 MiB private memory (PSS ~12 MiB: the node binary's pages are shared with fune),
 *   unchanged by traffic; 130/149 MB/s, the same data path as a host-network pod; first connection pays the
 *   helper's start (~0.2–0.6 s), later ones one IPC round trip.
 *
 * Protocol: fune sends `{id, port}`; the helper answers `{id}` with the socket as the message's handle, or
 * `{id, code, message}` when the connection failed (ECONNREFUSED, …). The helper exits when the channel closes,
 * i.e. when fune goes away or stops it.
 */
import net from 'node:net';

/** DialRequest is what fune sends the helper. */
export interface DialRequest {
  id: number;
  port: number;
}

/** DialReply is the helper's answer; without `code` the message carries the connected socket. */
export interface DialReply {
  id: number;
  code?: string;
  message?: string;
}

function dial(port: number): Promise<net.Socket> {
  const attempt = (host: string) =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      // Paused before the connect completes, Node never starts reading: a read here would take bytes the pod
      // sends (and its EOF) away from fune while the handle is on its way.
      s.pause();
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  return attempt('127.0.0.1').catch((err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? attempt('::1').catch(() => Promise.reject(err)) : Promise.reject(err)));
}

function answer(reply: DialReply, socket?: net.Socket): void {
  if (!process.connected) return void socket?.destroy();
  process.send!(reply, socket, {}, (err) => {
    if (err) socket?.destroy();
  });
}

if (process.send) {
  process.on('message', (m: DialRequest) => {
    const port = Number(m?.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return answer({ id: m?.id, code: 'EINVAL', message: 'bad port' });
    dial(port).then(
      (s) => answer({ id: m.id }, s),
      (err: NodeJS.ErrnoException) => answer({ id: m.id, code: err.code ?? 'EIO', message: err.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  answer({ id: 0 });
}
