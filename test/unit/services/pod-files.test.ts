// The renderers of a pod's /etc/resolv.conf and /etc/hosts write one line per value and refuse a value that
// would add a line: the request's values were refused earlier (oci/pod-fields.ts); an IP a CNI plugin gave is
// checked here.
import { describe, expect, it } from 'vitest';
import { hostsFile, resolvConf } from '../../../src/services/pod-files.js';

describe('pod files', () => {
  it('resolv.conf has one line per server and one search and options line', () => {
    expect(resolvConf({ servers: ['10.96.0.10', 'fd00::a'], searches: ['a.local', 'b.local'], options: ['ndots:5'] })).toBe('search a.local b.local\nnameserver 10.96.0.10\nnameserver fd00::a\noptions ndots:5\n');
  });
  it.each([
    [{ servers: ['1.1.1.1\nnameserver 6.6.6.6'], searches: [], options: [] }],
    [{ servers: [], searches: ['x\ny'], options: [] }],
    [{ servers: [], searches: [], options: ['ndots:5\rnameserver 6.6.6.6'] }],
  ])('resolv.conf refuses a value with a control character: %j', (dns) => {
    expect(() => resolvConf(dns)).toThrow(/control character/);
  });
  it('hosts gets one line per pod IP', () => {
    expect(hostsFile('web', ['10.85.0.5', 'fd00::5']).split('\n').slice(-3)).toEqual(['10.85.0.5\tweb', 'fd00::5\tweb', '']);
  });
  it.each([['10.85.0.5\n6.6.6.6 evil'], ['10.85.0.5/16'], ['not-an-ip']])('hosts refuses a pod IP %j that is not an IP address', (ip) => {
    expect(() => hostsFile('web', [ip])).toThrow(/is not an IP address/);
  });
  it('hosts refuses a hostname with a newline', () => {
    expect(() => hostsFile('web\n6.6.6.6 evil', ['10.85.0.5'])).toThrow(/control character/);
  });
});
