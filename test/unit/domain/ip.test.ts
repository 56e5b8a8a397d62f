// IP address syntax (domain/ip.ts), checked against Node's own parser for every case.
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIPv4, isIPv6, isIpAddress } from '../../../src/domain/ip.js';

const V4 = ['0.0.0.0', '10.96.0.10', '255.255.255.255', '127.0.0.1', '1.2.3.4'];
const V6 = ['::', '::1', 'fd00::1', '2001:db8::53', '2001:0db8:0000:0000:0000:0000:0000:0001', '::ffff:10.0.0.1', '1:2:3:4:5:6:7:8', '1::8', '1:2:3:4:5:6::', 'fe80::1%eth0', '64:ff9b::192.0.2.33'];
const BAD = ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.4\n', 'a.b.c.d', 'dns.google', '1.2.3.4:53', '1.2.3.4/24',
  ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::1', 'g::1', '::1%', '::1%a b', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '[::1]', 'fe80::1%eth0\nx'];

describe('isIpAddress', () => {
  it.each(V4)('%j is IPv4', (s) => {
    expect(isIPv4(s)).toBe(true);
    expect(isIpAddress(s)).toBe(true);
    expect(isIP(s)).toBe(4);
  });
  it.each(V6)('%j is IPv6', (s) => {
    expect(isIPv6(s)).toBe(true);
    expect(isIpAddress(s)).toBe(true);
    expect(isIP(s)).toBe(6);
  });
  it.each(BAD)('%j is not an IP address', (s) => {
    expect(isIpAddress(s)).toBe(false);
    expect(isIP(s)).toBe(0);
  });
});
