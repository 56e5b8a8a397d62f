import { describe, expect, it } from 'vitest';
import { bandwidthOf, cniArgsOf, parseQuantity, runtimeConfigOf } from '../../../src/network/pod-args.js';
import type { PodSandboxConfig } from '../../../src/domain/cri-types.js';

const pod = (extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig => ({
  metadata: { name: 'web', uid: 'u-1', namespace: 'ns1', attempt: 0 },
  hostname: 'web',
  log_directory: '',
  dns_config: null,
  port_mappings: [],
  labels: {},
  annotations: {},
  linux: null,
  windows: null,
  ...extra,
});

describe('pod CNI arguments', () => {
  it('parses Kubernetes quantities', () => {
    expect(parseQuantity('10M')).toBe(10_000_000);
    expect(parseQuantity('1Gi')).toBe(2 ** 30);
    expect(parseQuantity('1.5k')).toBe(1500);
    expect(parseQuantity('2e6')).toBe(2_000_000);
    expect(parseQuantity('1500m')).toBe(2);
    expect(() => parseQuantity('10 MB')).toThrow(/invalid quantity/);
  });

  it('gives the CNI_ARGS of a pod', () => {
    expect(cniArgsOf('abc', pod())).toEqual([
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', 'ns1'],
      ['K8S_POD_NAME', 'web'],
      ['K8S_POD_INFRA_CONTAINER_ID', 'abc'],
      ['K8S_POD_UID', 'u-1'],
    ]);
  });

  it('gives port mappings (host port > 0), bandwidth, ip ranges and dns', () => {
    const rc = runtimeConfigOf(
      pod({
        port_mappings: [
          { protocol: 'TCP', container_port: 80, host_port: 8080, host_ip: '' },
          { protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '127.0.0.1' },
          { protocol: 'TCP', container_port: 9000, host_port: 0, host_ip: '' },
        ],
        annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '1Gi' },
        dns_config: { servers: ['10.96.0.10'], searches: ['ns1.svc.cluster.local'], options: ['ndots:5'] },
      }),
      '10.244.1.0/24, fd00:10::/64',
    );
    expect(rc).toEqual({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
      ],
      bandwidth: { ingressRate: 10_000_000, ingressBurst: 2 ** 32 - 1, egressRate: 2 ** 30, egressBurst: 2 ** 32 - 1 },
      ipRanges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:10::/64' }]],
      dns: { servers: ['10.96.0.10'], searches: ['ns1.svc.cluster.local'], options: ['ndots:5'] },
    });
    expect(runtimeConfigOf(pod(), '')).toEqual({});
  });

  it('rejects bad or unreasonable bandwidth annotations as InvalidArgument', () => {
    expect(() => bandwidthOf({ 'kubernetes.io/ingress-bandwidth': 'fast' })).toThrow(expect.objectContaining({ kind: 'InvalidArgument' }));
    expect(() => bandwidthOf({ 'kubernetes.io/egress-bandwidth': '10' })).toThrow(/unreasonably small/);
    expect(() => bandwidthOf({ 'kubernetes.io/egress-bandwidth': '2P' })).toThrow(/unreasonably large/);
    expect(bandwidthOf({})).toBeUndefined();
  });
});
