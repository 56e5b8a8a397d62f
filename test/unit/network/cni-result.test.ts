import { describe, expect, it } from 'vitest';
import { parseCniResult, podIps } from '../../../src/network/cni-result.js';

const ifaces = [
  { name: 'funet0', mac: 'aa:bb:cc:dd:ee:00' },
  { name: 'veth1', mac: 'aa:bb:cc:dd:ee:01' },
  { name: 'eth0', mac: 'aa:bb:cc:dd:ee:02', sandbox: '/run/fune/netns/p' },
];

describe('parseCniResult and podIps', () => {
  it('reads 1.0.0 dual-stack results, IPv4 first, eth0 in the sandbox only', () => {
    const r = parseCniResult(
      {
        cniVersion: '1.0.0',
        interfaces: ifaces,
        ips: [
          { address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
          { address: '10.85.0.5/16', gateway: '10.85.0.1', interface: 2 },
          { address: '10.99.0.1/24', interface: 0 },
        ],
        routes: [{ dst: '0.0.0.0/0' }],
        dns: { nameservers: ['10.0.0.10'] },
      },
      '1.0.0',
    );
    expect(r.ips).toHaveLength(3);
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0', gw: undefined }]);
    expect(podIps(r, 'eth0')).toEqual(['10.85.0.5', 'fd00::5']);
  });

  it('reads 0.3.1 and 0.4.0 results (per-IP version field)', () => {
    for (const v of ['0.3.1', '0.4.0']) {
      const r = parseCniResult({ cniVersion: v, interfaces: ifaces, ips: [{ version: '4', address: '10.1.0.7/24', interface: 2 }] }, v);
      expect(r.cniVersion).toBe(v);
      expect(podIps(r, 'eth0')).toEqual(['10.1.0.7']);
    }
  });

  it('reads legacy 0.2.0 results and results without interface indexes', () => {
    const r = parseCniResult({ cniVersion: '0.2.0', ip4: { ip: '10.2.0.3/16', gateway: '10.2.0.1', routes: [{ dst: '0.0.0.0/0' }] }, ip6: { ip: 'fd01::3/64' } }, '0.2.0');
    expect(podIps(r, 'eth0')).toEqual(['10.2.0.3', 'fd01::3']);
    expect(r.routes).toHaveLength(1);
    expect(podIps(parseCniResult({ ips: [{ address: '10.3.0.2/24' }, { address: '10.3.0.2/24' }] }, '1.0.0'), 'eth0')).toEqual(['10.3.0.2']);
  });

  it('rejects malformed results', () => {
    expect(() => parseCniResult('x', '1.0.0')).toThrow(/not a JSON object/);
    expect(() => parseCniResult({ ips: [{ address: '10.0.0.1' }] }, '1.0.0')).toThrow(/no CIDR address/);
    expect(() => parseCniResult({ interfaces: [], ips: [{ address: '10.0.0.1/8', interface: 3 }] }, '1.0.0')).toThrow(/names interface 3/);
    expect(() => parseCniResult({ cniVersion: '0.2.0', ip4: {} }, '0.2.0')).toThrow(/ip4 has no ip/);
  });
});
