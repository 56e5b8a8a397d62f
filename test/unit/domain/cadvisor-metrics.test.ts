// The rows of ListPodSandboxMetrics built from a cgroup sample: cAdvisor names, label values that match their
// descriptor's keys, whole seconds, the types of the descriptors, unlimited limits as 0, and the network rows.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BASE_LABELS, DESCRIPTORS, containerMetrics, parseNetDevCounters, podMetrics, type Metric } from '../../../src/domain/cadvisor-metrics.js';
import { cgroupSampler } from '../../../src/runtime/cgroup-sample.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'cgroup');
const LABELS = ['ctr-id', 'busybox:latest', 'ns', 'pod', 'app'];
const extras = { fsUsageBytes: 8192n, fs: { bytes: 100n << 30n, inodes: 6_000_000n, inodesFree: 5_000_000n }, fileDescriptors: 9n, startTimeSeconds: 1_700_000_000n, lastSeenSeconds: 1_700_000_100n };
const byKey = (rows: Metric[]) => Object.fromEntries(rows.map((r) => [`${r.name}{${r.label_values.slice(BASE_LABELS.length).join(',')}}`, r.value.value]));

/** wellFormed checks each row against its descriptor: known name, one label value per key, the descriptor's type. */
function wellFormed(rows: Metric[]) {
  const desc = new Map(DESCRIPTORS.map((d) => [d.name, d]));
  for (const r of rows) {
    const d = desc.get(r.name);
    expect(d, r.name).toBeDefined();
    expect(r.label_values, r.name).toHaveLength(d!.label_keys.length);
    expect(r.metric_type, r.name).toBe(d!.kind);
    expect(r.value.value, r.name).toMatch(/^\d+$/);
    expect(r.timestamp).toBe('1700000100000000000');
  }
  const keys = rows.map((r) => `${r.name}${JSON.stringify(r.label_values)}`);
  expect(new Set(keys).size, 'each series once').toBe(keys.length);
}

describe('cAdvisor rows', () => {
  it('describes each metric once, with the base labels first, counters ending in _total (cAdvisor names two exceptions)', () => {
    expect(new Set(DESCRIPTORS.map((d) => d.name)).size).toBe(DESCRIPTORS.length);
    for (const d of DESCRIPTORS) {
      expect(d.label_keys.slice(0, 5)).toEqual(['id', 'image', 'namespace', 'pod', 'container']);
      expect(d.name.startsWith('container_')).toBe(true);
      // cAdvisor's container_memory_failcnt is a counter without _total, container_fs_inodes_total a gauge with it.
      const counter = (d.name.endsWith('_total') && d.name !== 'container_fs_inodes_total') || d.name === 'container_memory_failcnt';
      expect(d.kind === 'COUNTER', d.name).toBe(counter);
    }
  });

  it('v1: cpu in whole seconds, memory, I/O per device, the applied limits (none = 0), no pressure', () => {
    const rows = containerMetrics(cgroupSampler('v1', join(FIXTURES, 'v1')).sample('/kubepods/burstable/pod1/ctr1'), extras, LABELS, '1700000100000000000');
    wellFormed(rows);
    expect(rows.every((r) => r.label_values.slice(0, 5).join() === LABELS.join())).toBe(true);
    expect(byKey(rows)).toMatchObject({
      'container_cpu_usage_seconds_total{total}': '2', 'container_cpu_user_seconds_total{}': '1', 'container_cpu_system_seconds_total{}': '0',
      'container_cpu_cfs_periods_total{}': '120', 'container_cpu_cfs_throttled_periods_total{}': '7', 'container_cpu_cfs_throttled_seconds_total{}': '0',
      'container_memory_working_set_bytes{}': '458752', 'container_memory_usage_bytes{}': '3604480', 'container_memory_rss{}': '102400', 'container_memory_cache{}': '3145728',
      'container_memory_failures_total{pgfault,container}': '1213', 'container_memory_failures_total{pgmajfault,hierarchy}': '0', 'container_memory_failcnt{}': '2',
      'container_oom_events_total{}': '1', 'container_processes{}': '2', 'container_threads{}': '3', 'container_threads_max{}': '0', 'container_file_descriptors{}': '9',
      'container_fs_usage_bytes{}': '8192', 'container_fs_limit_bytes{}': String(100n << 30n), 'container_fs_inodes_free{}': '5000000',
      'container_fs_reads_bytes_total{8:0}': '1052672', 'container_fs_writes_total{8:0}': '48', 'container_fs_reads_total{254:16}': '1',
      'container_spec_cpu_shares{}': '256', 'container_spec_cpu_quota{}': '50000', 'container_spec_memory_limit_bytes{}': '67108864',
      'container_spec_memory_reservation_limit_bytes{}': '0', 'container_spec_memory_swap_limit_bytes{}': '67108864', 'container_start_time_seconds{}': '1700000000',
      'container_last_seen{}': '1700000100',
    });
    expect(rows.filter((r) => r.name.startsWith('container_pressure_'))).toEqual([]);
    expect(rows.filter((r) => r.name.startsWith('container_network_'))).toEqual([]);
  });

  it('v2: the same names, with pressure in whole seconds', () => {
    const rows = containerMetrics(cgroupSampler('v2', join(FIXTURES, 'v2')).sample('/kubepods/burstable/pod1/ctr1'), extras, LABELS, '1700000100000000000');
    wellFormed(rows);
    expect(byKey(rows)).toMatchObject({
      'container_cpu_usage_seconds_total{total}': '2', 'container_memory_working_set_bytes{}': '6418432', 'container_memory_swap{}': '4096', 'container_memory_kernel_usage{}': '368640',
      'container_spec_cpu_shares{}': '237', 'container_spec_memory_swap_limit_bytes{}': '0', 'container_threads_max{}': '1024',
      'container_pressure_cpu_waiting_seconds_total{}': '2', 'container_pressure_cpu_stalled_seconds_total{}': '1',
      'container_pressure_memory_waiting_seconds_total{}': '7', 'container_pressure_memory_stalled_seconds_total{}': '6',
      'container_pressure_io_waiting_seconds_total{}': '0', 'container_pressure_io_stalled_seconds_total{}': '1',
    });
  });

  it('a vanished cgroup gives only what does not come from it', () => {
    const rows = containerMetrics(cgroupSampler('v1', join(FIXTURES, 'v1')).sample('/gone'), { lastSeenSeconds: 5n }, LABELS, '1700000100000000000');
    expect(rows.map((r) => r.name)).toEqual(['container_last_seen']);
  });

  it('pod rows: per interface, container "POD"', () => {
    const netDev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     240       4    0    0    0     0          0         0      240       4    0    0    0     0       0          0',
      '  eth0:   14326     121    1    2    0     0          0         0     2406      27    3    4    0     0       0          0',
      '  bad: 1 2 3',
    ].join('\n');
    const net = parseNetDevCounters(netDev).filter((i) => i.name !== 'lo');
    expect(net).toEqual([{ name: 'eth0', rxBytes: 14326n, rxPackets: 121n, rxErrors: 1n, rxDropped: 2n, txBytes: 2406n, txPackets: 27n, txErrors: 3n, txDropped: 4n }]);
    const rows = podMetrics(net, 1_700_000_100n, ['pod-id', '', 'ns', 'pod', 'POD'], '1700000100000000000');
    wellFormed(rows);
    expect(byKey(rows)).toEqual({
      'container_last_seen{}': '1700000100',
      'container_network_receive_bytes_total{eth0}': '14326', 'container_network_receive_packets_total{eth0}': '121',
      'container_network_receive_errors_total{eth0}': '1', 'container_network_receive_packets_dropped_total{eth0}': '2',
      'container_network_transmit_bytes_total{eth0}': '2406', 'container_network_transmit_packets_total{eth0}': '27',
      'container_network_transmit_errors_total{eth0}': '3', 'container_network_transmit_packets_dropped_total{eth0}': '4',
    });
  });
});
