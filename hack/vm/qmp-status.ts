// hack/vm/qmp-status.ts SOCKET (run as dist/hack/vm/qmp-status.js): prints the run state QEMU reports on its QMP
// socket (query-status): "running", "io-error" (a write to the disk overlay failed, typically because the host's
// disk is full: QEMU then pauses the guest), "internal-error", "guest-panicked", "paused", ... Exits 1 with the
// reason on stderr when QEMU does not answer within 5 s. hack/vm/lib.sh (vm_status) uses it when the guest stops
// answering ssh, and halt.sh before it asks the guest to power off.
import { connect } from 'node:net';

interface QmpMessage {
  QMP?: unknown;
  return?: { status?: unknown };
  error?: { desc?: string };
}

function fail(why: string): never {
  process.stderr.write(`${why}\n`);
  process.exit(1);
}

const sock = process.argv[2];
if (!sock) fail('usage: qmp-status.js SOCKET');
const conn = connect(sock);
const timer = setTimeout(() => fail('no answer from QEMU within 5 s'), 5000);
let buf = '';
let asked = false;
conn.on('error', (err) => fail(err.message));
conn.on('data', (chunk) => {
  buf += chunk.toString('utf8');
  for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
    const msg = JSON.parse(buf.slice(0, nl)) as QmpMessage;
    buf = buf.slice(nl + 1);
    if (msg.QMP !== undefined && !asked) {
      asked = true;
      conn.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n');
    } else if (typeof msg.return?.status === 'string') {
      clearTimeout(timer);
      process.stdout.write(`${msg.return.status}\n`);
      conn.end();
    } else if (msg.error) {
      fail(`QEMU: ${msg.error.desc ?? 'error'}`);
    }
  }
});
