import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  FrameReader,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeSynReply as encodeSynReplyFor,
  encodeWindowUpdate,
  type Frame,
} from '../../../src/streaming/spdy-frame.js';
import { HeaderCompressor, HeaderDecompressor, SPDY_DICTIONARY } from '../../../src/streaming/spdy-zlib.js';

// Frames written by spdystream's Go framer (captured in test/fixtures/spdy), in one connection's order.
const fixtures = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/spdy/go-frames.json'), 'utf8')) as { name: string; hex: string }[];
const fx = (name: string) => Buffer.from(fixtures.find((f) => f.name === name)!.hex, 'hex');

function parseAll(bytes: Buffer): Frame[] {
  const r = new FrameReader();
  r.push(bytes);
  const out: Frame[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

describe('SPDY framing against Go spdystream bytes', () => {
  it('decodes the SYN_STREAM header blocks of one connection with one zlib context', () => {
    const inflate = new HeaderDecompressor(64 * 1024);
    const names = ['syn_stream_error', 'syn_stream_stdin', 'syn_stream_stdout', 'syn_stream_pf_error', 'syn_stream_pf_data'];
    const got = names.map((n) => {
      const [f] = parseAll(fx(n));
      if (f?.type !== 'syn_stream') throw new Error(`not a SYN_STREAM: ${n}`);
      return { id: f.streamId, h: decodeHeaderBlock(inflate.decompress(f.headerBlock)) };
    });
    expect(got).toEqual([
      { id: 1, h: { streamtype: 'error' } },
      { id: 3, h: { streamtype: 'stdin' } },
      { id: 5, h: { streamtype: 'stdout' } },
      { id: 7, h: { port: '8080', requestid: '0', streamtype: 'error' } },
      { id: 9, h: { streamtype: 'data', port: '8080', requestid: '0' } },
    ]);
  });

  it('parses DATA, FIN, PING, RST_STREAM, SETTINGS, WINDOW_UPDATE and GOAWAY', () => {
    const names = ['data_stdin_hello', 'data_fin_empty', 'ping_1', 'rst_cancel_5', 'settings_2', 'window_update_3', 'goaway_ok_7'];
    const frames = parseAll(Buffer.concat(names.map(fx)));
    expect(frames).toEqual([
      { type: 'data', streamId: 3, fin: false, data: Buffer.from('hello\n') },
      { type: 'data', streamId: 3, fin: true, data: Buffer.alloc(0) },
      { type: 'ping', id: 1 },
      { type: 'rst_stream', streamId: 5, status: 5 },
      { type: 'settings', clear: false, entries: [{ flags: 0, id: 4, value: 100 }, { flags: 0, id: 7, value: 65536 }] },
      { type: 'window_update', streamId: 3, delta: 1024 },
      { type: 'goaway', lastGoodStreamId: 7, status: 0 },
    ]);
  });

  it('writes the same bytes as Go for frames without header blocks', () => {
    expect(encodeData(3, Buffer.from('hello\n'))).toEqual(fx('data_stdin_hello'));
    expect(encodeData(3, Buffer.alloc(0), true)).toEqual(fx('data_fin_empty'));
    expect(encodePing(1)).toEqual(fx('ping_1'));
    expect(encodeRstStream(5, 5)).toEqual(fx('rst_cancel_5'));
    expect(encodeSettings([{ id: 4, value: 100 }, { id: 7, value: 65536 }])).toEqual(fx('settings_2'));
    expect(encodeWindowUpdate(3, 1024)).toEqual(fx('window_update_3'));
    expect(encodeGoAway(7, 0)).toEqual(fx('goaway_ok_7'));
  });

  it('starts the compressed stream like Go (zlib header, dictionary id) and round-trips many blocks', () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor(64 * 1024);
    const first = c.compress(encodeHeaderBlock({}));
    expect(first.subarray(0, 6).toString('hex')).toBe('78f9e3c6a7c2');
    expect(first.subarray(-4).toString('hex')).toBe('0000ffff');
    expect(decodeHeaderBlock(d.decompress(first))).toEqual({});
    for (let i = 0; i < 2000; i++) {
      const h = { streamtype: i % 2 ? 'data' : 'error', port: String(i), requestid: String(i >> 1) };
      expect(decodeHeaderBlock(d.decompress(c.compress(encodeHeaderBlock(h))))).toEqual(h);
    }
  });

  it('holds the SPDY/3 dictionary (1423 bytes)', () => {
    expect(SPDY_DICTIONARY.length).toBe(1423);
    expect(SPDY_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\x07options');
  });
});

describe('SPDY framing bounds', () => {
  const bad = (bytes: Buffer) => () => parseAll(bytes);

  it('refuses frames longer than the limits before buffering them', () => {
    const hdr = Buffer.from('8003000100ffffff', 'hex'); // SYN_STREAM claiming 16 MiB
    const r = new FrameReader();
    r.push(hdr);
    expect(() => r.next()).toThrow(SpdyProtocolError);
    expect(bad(Buffer.from('0000000100f00000', 'hex'))).toThrow(/exceeds the limit/);
  });

  it('refuses lying fixed lengths, zero ids and a wrong version', () => {
    expect(bad(Buffer.from('80030007000000040000000700000000', 'hex'))).toThrow(/GOAWAY/);
    expect(bad(Buffer.from('800300090000000400000003', 'hex'))).toThrow(/WINDOW_UPDATE/);
    expect(bad(Buffer.from('800300060000000400000000', 'hex'))).toThrow(/PING with id 0/);
    expect(bad(Buffer.from('80030003000000080000000500000000', 'hex'))).toThrow(/status 0/);
    expect(bad(Buffer.from('80020006000000040000000100', 'hex'))).toThrow(/version 2/);
    expect(bad(Buffer.from('0000000000000001ff', 'hex'))).toThrow(/stream 0/);
    expect(bad(Buffer.from('800300040000000cffffffff0000000000000000', 'hex'))).toThrow(/SETTINGS/);
    expect(bad(Buffer.from('8003000400000014000000030000000400000064000000070001000000', 'hex'))).toThrow(/SETTINGS/);
  });

  it('skips control frames of unknown types (NOOP, CREDENTIAL)', () => {
    const noop = Buffer.from('8003000500000000', 'hex');
    expect(parseAll(Buffer.concat([noop, fx('ping_1')]))).toEqual([{ type: 'ping', id: 1 }]);
  });

  it('checks header counts and lengths against the bytes present', () => {
    const pairs = Buffer.alloc(4);
    pairs.writeUInt32BE(0x10000000);
    expect(() => decodeHeaderBlock(pairs)).toThrow(/pairs/);
    const lying = Buffer.from('00000001ffffffff', 'hex');
    expect(() => decodeHeaderBlock(lying)).toThrow(SpdyProtocolError);
    const upper = encodeHeaderBlock({ streamtype: 'x' });
    upper.write('S', 8);
    expect(() => decodeHeaderBlock(upper)).toThrow(/lower-case/);
    const dup = Buffer.concat([Buffer.from('00000002', 'hex'), encodeHeaderBlock({ a: '1' }).subarray(4), encodeHeaderBlock({ a: '2' }).subarray(4)]);
    expect(() => decodeHeaderBlock(dup)).toThrow(/duplicate/);
    expect(() => decodeHeaderBlock(Buffer.concat([encodeHeaderBlock({ a: 'b' }), Buffer.of(0)]))).toThrow(/trailing/);
  });

  it('stops a header bomb at the decompressed size limit', () => {
    // 16 MiB of zeros compresses to ~16 KiB: a frame within the length limit that would inflate a thousandfold.
    const bomb = deflateSync(Buffer.alloc(16 << 20), { dictionary: SPDY_DICTIONARY, level: 9 });
    expect(bomb.length).toBeLessThan(64 * 1024);
    const d = new HeaderDecompressor(64 * 1024);
    const [f] = parseAll(encodeSynStream(1, bomb));
    expect(() => d.decompress((f as { headerBlock: Buffer }).headerBlock)).toThrow(/inflates beyond/);
  });

  it('refuses a first header block that is not a SPDY zlib stream', () => {
    expect(() => new HeaderDecompressor(1024).decompress(Buffer.from('78da0000000000', 'hex'))).toThrow(SpdyProtocolError);
  });

  it('reassembles frames split at every byte boundary', () => {
    const all = Buffer.concat(fixtures.map((f) => Buffer.from(f.hex, 'hex')));
    const r = new FrameReader();
    let n = 0;
    for (const byte of all) {
      r.push(Buffer.of(byte));
      while (r.next()) n++;
    }
    expect(n).toBe(fixtures.length);
  });
});

describe('SPDY frames written by fune', () => {
  it('are byte-identical to the ones the Go framer was seen to parse (node-frames.go-read.txt)', () => {
    const want = readFileSync(join(import.meta.dirname, '../../fixtures/spdy/node-frames.hex'), 'utf8').trim().split('\n');
    const c = new HeaderCompressor();
    const out: Buffer[] = [];
    for (let i = 1; i < 40; i += 2) out.push(encodeSynReplyFor(i, c.compress(encodeHeaderBlock({}))));
    out.push(encodeSynStream(2, c.compress(encodeHeaderBlock({ streamtype: 'data', port: '80', requestid: '7' }))));
    out.push(encodeSynReplyFor(401, c.compress(encodeHeaderBlock({ 'x-long': 'y'.repeat(300) }))));
    out.push(encodeData(1, Buffer.from('hi'), true), encodeGoAway(3, 0), encodePing(1));
    expect(out.map((b) => b.toString('hex'))).toEqual(want);
  });
});
