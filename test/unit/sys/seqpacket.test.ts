// The SEQPACKET socket addon (native/seqpacket) against a SEQPACKET server standing in for conmon's attach socket
// (node-unix-socket's server, which writes as fast as the kernel takes): packets keep their boundaries and order,
// a paused socket reads nothing (the server's writes then wait in the kernel), and half-close reaches the server.
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeqpacketServer, type SeqpacketSocket } from 'node-unix-socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectSeqpacket, loadSeqpacketAddon, SUN_PATH_MAX, type PacketSocket } from '../../../src/sys/seqpacket.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
let dir: string;
let server: SeqpacketServer;
let peer: Promise<SeqpacketSocket>;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fune-seqpacket-'));
  path = join(dir, 'attach');
  server = new SeqpacketServer();
  server.listen(path);
  peer = new Promise((r) => server.once('connection', r));
});
afterEach(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('native SEQPACKET socket', () => {
  it('is built (hack/build-native.sh)', () => {
    expect(() => loadSeqpacketAddon()).not.toThrow();
  });

  it('reads nothing while paused, then every packet in order with its boundary', async () => {
    const sock: PacketSocket = await connectSeqpacket(path, loadSeqpacketAddon());
    const got: Buffer[] = [];
    sock.on('data', (b: Buffer) => got.push(b));
    const p = await peer;
    sock.pause();
    // 2,000 packets of 8 KiB + 1 (conmon's largest) : 16 MB, far more than the kernel buffers.
    const packet = (i: number) => Buffer.concat([Buffer.of(2), Buffer.alloc(8192, i % 256)]);
    let written = 0;
    for (let i = 0; i < 2000; i++) p.write(packet(i), 0, 8193, () => written++);
    await tick(200);
    expect(got.length).toBe(0);
    expect(written).toBeLessThan(2000); // the server's writes wait: the kernel holds what it can, not fune
    sock.resume();
    for (let i = 0; i < 1000 && got.length < 2000; i++) await tick(5);
    expect(got.length).toBe(2000);
    got.forEach((b, i) => expect(b.equals(packet(i))).toBe(true));
    sock.destroy();
  });

  it('writes packets, calls back once each is sent, and half-closes after the last', async () => {
    const sock = await connectSeqpacket(path, loadSeqpacketAddon());
    const p = await peer;
    const got: string[] = [];
    const ended = new Promise<void>((r) => p.once('end', () => r()));
    p.on('data', (b: Buffer) => got.push(b.toString()));
    let sent = 0;
    for (const w of ['one', 'two', 'three']) sock.write(Buffer.from(w), () => sent++);
    sock.end();
    await ended;
    expect(sent).toBe(3);
    expect(got).toEqual(['one', 'two', 'three']);
    p.write(Buffer.from('after'));
    const reply = await new Promise<string>((r) => sock.once('data', (b: Buffer) => r(b.toString())));
    expect(reply).toBe('after'); // a half-close leaves the other direction open
    p.end();
    await new Promise((r) => sock.once('end', r));
    sock.destroy();
    await new Promise((r) => sock.once('close', r));
  });

  it('a missing socket is an errno error naming the path', async () => {
    await expect(connectSeqpacket(join(dir, 'nope'), loadSeqpacketAddon())).rejects.toMatchObject({ code: 'ENOENT', path: join(dir, 'nope') });
  });

  // A rootless node's state is under RootlessKit's copy of /run (/run/.ro<random>/user/1000/fune/s/<64-hex id>/attach:
  // over 108 bytes), where connect(2) on the path itself is ENAMETOOLONG. conmon binds such a socket through its
  // directory's fd; fune connects the same way.
  it.each([['the addon', true], ['node-unix-socket', false]])('connects to a socket whose path is over sockaddr_un\'s 108 bytes (%s)', async (_name, native) => {
    const deep = join(dir, '.ro1234567890', 'user', '1000', 'fune', 's', 'a'.repeat(64));
    mkdirSync(deep, { recursive: true });
    const long = join(deep, 'attach');
    expect(Buffer.byteLength(long)).toBeGreaterThan(108);
    const dfd = openSync(deep, 'r');
    const far = new SeqpacketServer();
    try {
      far.listen(`/proc/self/fd/${dfd}/attach`);
      const farPeer = new Promise<SeqpacketSocket>((r) => far.once('connection', r));
      const sock = await connectSeqpacket(long, native ? loadSeqpacketAddon() : null);
      const p = await farPeer;
      p.write(Buffer.from('hello'));
      const got = await new Promise<string>((r) => sock.once('data', (b: Buffer) => r(b.toString())));
      expect(got).toBe('hello');
      sock.destroy();
    } finally {
      far.close();
      closeSync(dfd);
    }
  });

  it('a long path to a missing socket is still an errno error naming the path as given', async () => {
    const deep = join(dir, 'b'.repeat(SUN_PATH_MAX));
    mkdirSync(deep);
    await expect(connectSeqpacket(join(deep, 'attach'), loadSeqpacketAddon())).rejects.toMatchObject({ code: 'ENOENT', path: join(deep, 'attach') });
    await expect(connectSeqpacket(join(dir, 'c'.repeat(SUN_PATH_MAX), 'attach'), loadSeqpacketAddon())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
