// The CRI-only stats metrics (KEP-2371: ListMetricDescriptors, ListPodSandboxMetrics), under cAdvisor's names and
// labels as CRI-O serves them, built from a sample of a container's cgroup: pure, so that the numbers can be tested
// against fixture samples. A Metric carries an unsigned integer, so that seconds are whole seconds (as in CRI-O).

/** MetricKind is the CRI MetricType. */
export type MetricKind = 'COUNTER' | 'GAUGE';

/** Descriptor is one CRI MetricDescriptor, with the type its values carry. */
export interface Descriptor {
  name: string;
  help: string;
  label_keys: string[];
  kind: MetricKind;
}

/** BASE_LABELS are the labels of every row: the container's id, image, its pod's namespace and name, its name. */
export const BASE_LABELS = ['id', 'image', 'namespace', 'pod', 'container'];

/** POD_CONTAINER is the `container` label of a pod's own rows (network), as cAdvisor names the pause container. */
export const POD_CONTAINER = 'POD';

const d = (name: string, kind: MetricKind, help: string, extra: string[] = []): Descriptor => ({ name, help, label_keys: [...BASE_LABELS, ...extra], kind });

/** DESCRIPTORS are every metric fune reports through ListPodSandboxMetrics. */
export const DESCRIPTORS: readonly Descriptor[] = [
  d('container_last_seen', 'GAUGE', 'Last time a container was seen by the exporter'),
  d('container_cpu_usage_seconds_total', 'COUNTER', 'Cumulative cpu time consumed in seconds.', ['cpu']),
  d('container_cpu_user_seconds_total', 'COUNTER', 'Cumulative user cpu time consumed in seconds.'),
  d('container_cpu_system_seconds_total', 'COUNTER', 'Cumulative system cpu time consumed in seconds.'),
  d('container_cpu_cfs_periods_total', 'COUNTER', 'Number of elapsed enforcement period intervals.'),
  d('container_cpu_cfs_throttled_periods_total', 'COUNTER', 'Number of throttled period intervals.'),
  d('container_cpu_cfs_throttled_seconds_total', 'COUNTER', 'Total time duration the container has been throttled.'),
  d('container_memory_usage_bytes', 'GAUGE', 'Current memory usage in bytes, including all memory regardless of when it was accessed'),
  d('container_memory_working_set_bytes', 'GAUGE', 'Current working set in bytes.'),
  d('container_memory_rss', 'GAUGE', 'Size of RSS in bytes.'),
  d('container_memory_cache', 'GAUGE', 'Number of bytes of page cache memory.'),
  d('container_memory_mapped_file', 'GAUGE', 'Size of memory mapped files in bytes.'),
  d('container_memory_kernel_usage', 'GAUGE', 'Size of kernel memory allocated in bytes.'),
  d('container_memory_swap', 'GAUGE', 'Container swap usage in bytes.'),
  d('container_memory_max_usage_bytes', 'GAUGE', 'Maximum memory usage recorded in bytes'),
  d('container_memory_failcnt', 'COUNTER', 'Number of memory usage hits limits'),
  d('container_memory_failures_total', 'COUNTER', 'Cumulative count of memory allocation failures.', ['failure_type', 'scope']),
  d('container_oom_events_total', 'COUNTER', 'Count of out of memory events observed for the container'),
  d('container_processes', 'GAUGE', 'Number of processes running inside the container.'),
  d('container_threads', 'GAUGE', 'Number of threads running inside the container'),
  d('container_threads_max', 'GAUGE', 'Maximum number of threads allowed inside the container, infinity if value is zero'),
  d('container_file_descriptors', 'GAUGE', 'Number of open file descriptors for the container.'),
  d('container_fs_usage_bytes', 'GAUGE', 'Number of bytes that are consumed by the container on this filesystem.'),
  d('container_fs_limit_bytes', 'GAUGE', 'Number of bytes that can be consumed by the container on this filesystem.'),
  d('container_fs_inodes_total', 'GAUGE', 'Number of Inodes'),
  d('container_fs_inodes_free', 'GAUGE', 'Number of available Inodes'),
  d('container_fs_reads_bytes_total', 'COUNTER', 'Cumulative count of bytes read', ['device']),
  d('container_fs_writes_bytes_total', 'COUNTER', 'Cumulative count of bytes written', ['device']),
  d('container_fs_reads_total', 'COUNTER', 'Cumulative count of reads completed', ['device']),
  d('container_fs_writes_total', 'COUNTER', 'Cumulative count of writes completed', ['device']),
  d('container_spec_cpu_shares', 'GAUGE', 'CPU share of the container.'),
  d('container_spec_cpu_period', 'GAUGE', 'CPU period of the container.'),
  d('container_spec_cpu_quota', 'GAUGE', 'CPU quota of the container.'),
  d('container_spec_memory_limit_bytes', 'GAUGE', 'Memory limit for the container.'),
  d('container_spec_memory_reservation_limit_bytes', 'GAUGE', 'Memory reservation limit for the container.'),
  d('container_spec_memory_swap_limit_bytes', 'GAUGE', 'Memory swap limit for the container.'),
  d('container_start_time_seconds', 'GAUGE', 'Start time of the container since unix epoch in seconds.'),
  d('container_pressure_cpu_waiting_seconds_total', 'COUNTER', 'Total time duration tasks in the container have waited due to CPU congestion.'),
  d('container_pressure_cpu_stalled_seconds_total', 'COUNTER', 'Total time duration no tasks in the container could make progress due to CPU congestion.'),
  d('container_pressure_memory_waiting_seconds_total', 'COUNTER', 'Total time duration tasks in the container have waited due to memory congestion.'),
  d('container_pressure_memory_stalled_seconds_total', 'COUNTER', 'Total time duration no tasks in the container could make progress due to memory congestion.'),
  d('container_pressure_io_waiting_seconds_total', 'COUNTER', 'Total time duration tasks in the container have waited due to IO congestion.'),
  d('container_pressure_io_stalled_seconds_total', 'COUNTER', 'Total time duration no tasks in the container could make progress due to IO congestion.'),
  d('container_network_receive_bytes_total', 'COUNTER', 'Cumulative count of bytes received', ['interface']),
  d('container_network_receive_packets_total', 'COUNTER', 'Cumulative count of packets received', ['interface']),
  d('container_network_receive_errors_total', 'COUNTER', 'Cumulative count of errors encountered while receiving', ['interface']),
  d('container_network_receive_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while receiving', ['interface']),
  d('container_network_transmit_bytes_total', 'COUNTER', 'Cumulative count of bytes transmitted', ['interface']),
  d('container_network_transmit_packets_total', 'COUNTER', 'Cumulative count of packets transmitted', ['interface']),
  d('container_network_transmit_errors_total', 'COUNTER', 'Cumulative count of errors encountered while transmitting', ['interface']),
  d('container_network_transmit_packets_dropped_total', 'COUNTER', 'Cumulative count of packets dropped while transmitting', ['interface']),
];

const KIND = new Map(DESCRIPTORS.map((x) => [x.name, x.kind]));

/** Psi is one PSI file (cpu.pressure, …): the `total` of its `some` and `full` lines, in microseconds. */
export interface Psi {
  someUs?: bigint;
  fullUs?: bigint;
}

/** DeviceIo is one block device's I/O counters. */
export interface DeviceIo {
  device: string;
  readBytes: bigint;
  writeBytes: bigint;
  reads: bigint;
  writes: bigint;
}

/**
 * CgroupSample is what one read of a container's cgroup gives (v1 or v2, see runtime/cgroup-sample.ts); undefined
 * where the node has no such file. Nanoseconds, bytes and counts; limits undefined when unlimited.
 */
export interface CgroupSample {
  cpu: { usageNs?: bigint; userNs?: bigint; systemNs?: bigint; periods?: bigint; throttledPeriods?: bigint; throttledNs?: bigint };
  memory: {
    usage?: bigint; workingSet?: bigint; rss?: bigint; cache?: bigint; mappedFile?: bigint; kernel?: bigint; swap?: bigint; maxUsage?: bigint;
    failcnt?: bigint; pageFaults?: bigint; majorPageFaults?: bigint; oomKills?: bigint;
  };
  /** pids are the processes of cgroup.procs (for their open files); processes is their number. */
  pids?: number[];
  processes?: bigint;
  threads?: bigint;
  threadsMax?: bigint;
  io: DeviceIo[];
  spec: { cpuShares?: bigint; cpuPeriod?: bigint; cpuQuota?: bigint; memoryLimit?: bigint; memoryReservation?: bigint; swapLimit?: bigint };
  /** psi is present on cgroup v2 only. */
  psi?: { cpu: Psi; memory: Psi; io: Psi };
}

/** Metric is a CRI Metric as the generated types take it (int64 and uint64 as decimal strings). */
export interface Metric {
  name: string;
  timestamp: string;
  metric_type: MetricKind;
  label_values: string[];
  value: { value: string };
}

/** ContainerExtras are what a row needs besides the cgroup: the writable layer, its filesystem, fds, start time. */
export interface ContainerExtras {
  fsUsageBytes?: bigint;
  fs?: { bytes: bigint; inodes: bigint; inodesFree: bigint };
  fileDescriptors?: bigint;
  startTimeSeconds?: bigint;
  lastSeenSeconds: bigint;
}

/** NetCounters are one interface's counters from /proc/<pid>/net/dev. */
export interface NetCounters {
  name: string;
  rxBytes: bigint; rxPackets: bigint; rxErrors: bigint; rxDropped: bigint;
  txBytes: bigint; txPackets: bigint; txErrors: bigint; txDropped: bigint;
}

const SECOND_NS = 1_000_000_000n;

/** MetricRows collects rows with one set of base labels and one timestamp. */
class MetricRows {
  readonly rows: Metric[] = [];
  constructor(
    private readonly labels: string[],
    private readonly ts: string,
  ) {}

  add(name: string, v: bigint | undefined, extra: string[] = []): void {
    if (v === undefined) return;
    const metric_type = KIND.get(name);
    if (!metric_type) throw new Error(`no descriptor for ${name}`);
    this.rows.push({ name, timestamp: this.ts, metric_type, label_values: extra.length ? [...this.labels, ...extra] : this.labels, value: { value: String(v < 0n ? 0n : v) } });
  }
}

const secs = (ns: bigint | undefined) => (ns === undefined ? undefined : ns / SECOND_NS);
const usToSecs = (us: bigint | undefined) => (us === undefined ? undefined : us / 1_000_000n);

/**
 * containerMetrics gives a container's rows: cpu (whole seconds of cpuacct/cpu.stat, as cpu="total"), memory (the
 * working set is usage less inactive file, as ContainerStats reports it), OOM events, processes and threads, the
 * writable layer and its filesystem, block I/O per device, the limits the kernel applied (container_spec_*:
 * unlimited reads 0, and a quota only when there is one), pressure on v2, and last seen.
 */
export function containerMetrics(s: CgroupSample, x: ContainerExtras, labels: string[], ts: string): Metric[] {
  const r = new MetricRows(labels, ts);
  r.add('container_last_seen', x.lastSeenSeconds);
  r.add('container_cpu_usage_seconds_total', secs(s.cpu.usageNs), ['total']);
  r.add('container_cpu_user_seconds_total', secs(s.cpu.userNs));
  r.add('container_cpu_system_seconds_total', secs(s.cpu.systemNs));
  r.add('container_cpu_cfs_periods_total', s.cpu.periods);
  r.add('container_cpu_cfs_throttled_periods_total', s.cpu.throttledPeriods);
  r.add('container_cpu_cfs_throttled_seconds_total', secs(s.cpu.throttledNs));
  const m = s.memory;
  r.add('container_memory_usage_bytes', m.usage);
  r.add('container_memory_working_set_bytes', m.workingSet);
  r.add('container_memory_rss', m.rss);
  r.add('container_memory_cache', m.cache);
  r.add('container_memory_mapped_file', m.mappedFile);
  r.add('container_memory_kernel_usage', m.kernel);
  r.add('container_memory_swap', m.swap);
  r.add('container_memory_max_usage_bytes', m.maxUsage);
  r.add('container_memory_failcnt', m.failcnt);
  for (const scope of ['container', 'hierarchy']) {
    r.add('container_memory_failures_total', m.pageFaults, ['pgfault', scope]);
    r.add('container_memory_failures_total', m.majorPageFaults, ['pgmajfault', scope]);
  }
  r.add('container_oom_events_total', m.oomKills);
  r.add('container_processes', s.processes);
  r.add('container_threads', s.threads);
  r.add('container_threads_max', s.threadsMax ?? (s.threads === undefined ? undefined : 0n));
  r.add('container_file_descriptors', x.fileDescriptors);
  r.add('container_fs_usage_bytes', x.fsUsageBytes);
  if (x.fs) {
    r.add('container_fs_limit_bytes', x.fs.bytes);
    r.add('container_fs_inodes_total', x.fs.inodes);
    r.add('container_fs_inodes_free', x.fs.inodesFree);
  }
  for (const io of s.io) {
    r.add('container_fs_reads_bytes_total', io.readBytes, [io.device]);
    r.add('container_fs_writes_bytes_total', io.writeBytes, [io.device]);
    r.add('container_fs_reads_total', io.reads, [io.device]);
    r.add('container_fs_writes_total', io.writes, [io.device]);
  }
  const sp = s.spec;
  r.add('container_spec_cpu_shares', sp.cpuShares);
  r.add('container_spec_cpu_period', sp.cpuPeriod);
  r.add('container_spec_cpu_quota', sp.cpuQuota);
  r.add('container_spec_memory_limit_bytes', sp.memoryLimit ?? (m.usage === undefined ? undefined : 0n));
  r.add('container_spec_memory_reservation_limit_bytes', sp.memoryReservation ?? (m.usage === undefined ? undefined : 0n));
  r.add('container_spec_memory_swap_limit_bytes', sp.swapLimit ?? (m.usage === undefined ? undefined : 0n));
  r.add('container_start_time_seconds', x.startTimeSeconds);
  if (s.psi) {
    for (const [res, p] of [['cpu', s.psi.cpu], ['memory', s.psi.memory], ['io', s.psi.io]] as const) {
      r.add(`container_pressure_${res}_waiting_seconds_total`, usToSecs(p.someUs));
      r.add(`container_pressure_${res}_stalled_seconds_total`, usToSecs(p.fullUs));
    }
  }
  return r.rows;
}

/** podMetrics gives a pod's own rows (container "POD"): its network counters per interface, and last seen. */
export function podMetrics(net: NetCounters[], lastSeenSeconds: bigint, labels: string[], ts: string): Metric[] {
  const r = new MetricRows(labels, ts);
  r.add('container_last_seen', lastSeenSeconds);
  for (const i of net) {
    r.add('container_network_receive_bytes_total', i.rxBytes, [i.name]);
    r.add('container_network_receive_packets_total', i.rxPackets, [i.name]);
    r.add('container_network_receive_errors_total', i.rxErrors, [i.name]);
    r.add('container_network_receive_packets_dropped_total', i.rxDropped, [i.name]);
    r.add('container_network_transmit_bytes_total', i.txBytes, [i.name]);
    r.add('container_network_transmit_packets_total', i.txPackets, [i.name]);
    r.add('container_network_transmit_errors_total', i.txErrors, [i.name]);
    r.add('container_network_transmit_packets_dropped_total', i.txDropped, [i.name]);
  }
  return r.rows;
}

/** parseNetDevCounters parses /proc/<pid>/net/dev: every interface's receive and transmit counters. */
export function parseNetDevCounters(text: string): NetCounters[] {
  const out: NetCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/);
    if (f.length < 12 || !f.every((x) => /^\d+$/.test(x))) continue;
    const n = f.map((x) => BigInt(x));
    out.push({ name: m[1]!.trim(), rxBytes: n[0]!, rxPackets: n[1]!, rxErrors: n[2]!, rxDropped: n[3]!, txBytes: n[8]!, txPackets: n[9]!, txErrors: n[10]!, txDropped: n[11]! });
  }
  return out;
}
