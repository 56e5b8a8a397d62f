// A small harness that runs specs built by src/oci with the real runc, without the daemon: a catatonit sandbox
// (runc run -d) and containers that join its namespaces (runc run, foreground, output captured). It also shows
// how the lifecycle gathers HostFacts on a real host (see gatherHostFacts).
import { execFile, spawn } from 'node:child_process';
import { closeSync, cpSync, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capabilitiesFromMask } from '../../../src/oci/capabilities.js';
import type { HostFacts } from '../../../src/oci/input.js';
import type { Spec } from '../../../src/oci/spec.js';

const CGROUP_V1 = '/sys/fs/cgroup';

/** gatherHostFacts reads what spec building needs from this host, the way services/ must. */
export function gatherHostFacts(seccompProfiles: Record<string, string> = {}): HostFacts {
  const status = readFileSync('/proc/self/status', 'utf8');
  const capBnd = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  const canLower = capabilitiesFromMask(capEff).includes('CAP_SYS_RESOURCE');
  const ownScore = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const hugetlbDir = v2 ? '/sys/fs/cgroup' : join(CGROUP_V1, 'hugetlb');
  const hugepageSizes = existsSync(hugetlbDir)
    ? readdirSync(hugetlbDir)
        .map((f) => /^hugetlb\.([0-9]+[KMG]B)\.(limit_in_bytes|max)$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
    : [];
  const apparmorFile = '/sys/module/apparmor/parameters/enabled';
  const apparmorEnabled = existsSync(apparmorFile) && readFileSync(apparmorFile, 'utf8').trim() === 'Y';
  const uname = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  return {
    cgroupMode: v2 ? 'v2' : 'v1',
    capabilities: capabilitiesFromMask(capBnd),
    minOomScoreAdj: canLower ? -1000 : ownScore,
    apparmorEnabled,
    swapAccounting: v2
      ? ['init.scope', 'system.slice'].some((d) => existsSync(join('/sys/fs/cgroup', d, 'memory.swap.max')))
      : existsSync(join(CGROUP_V1, 'memory/memory.memsw.limit_in_bytes')),
    hugepageSizes,
    hostDevices: [],
    resolvedDevices: {},
    seccompProfiles,
    resolvedMountSources: {},
    arch: uname,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** RuncHarness owns a private runc root, bundles and a cgroup parent, and removes them all in cleanup(). */
export class RuncHarness {
  readonly dir = mkdtempSync(join(tmpdir(), 'fune-sec-'));
  readonly runcRoot = join(this.dir, 'runc');
  readonly cgroupParent = `/fune-sec-test-${process.pid}-${Date.now()}`;
  private ids: string[] = [];
  private n = 0;

  /** rootfs makes a fresh busybox root with an /etc/passwd and /etc/group. */
  rootfs(): string {
    const root = join(this.dir, `rootfs-${++this.n}`);
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true, mode: 0o1777 });
    cpSync('/usr/bin/busybox', join(root, 'bin/busybox'));
    for (const tool of ['sh', 'cat', 'id', 'hostname', 'grep', 'chmod', 'touch', 'echo', 'wc', 'sleep', 'head', 'ls']) {
      symlinkSync('busybox', join(root, 'bin', tool));
    }
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nwheel:x:10:app\n');
    writeFileSync(join(root, 'tmp/file'), 'x');
    return root;
  }

  private bundle(id: string, spec: Spec): string {
    const dir = join(this.dir, `bundle-${id}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  }

  /** startSandbox runs the infra container detached and gives its pid. */
  async startSandbox(id: string, spec: Spec): Promise<number> {
    const bundle = this.bundle(id, spec);
    this.ids.push(id);
    // The detached container inherits runc's stdio: give it a file, not a pipe, or nobody sees EOF.
    const log = join(this.dir, `${id}.stderr`);
    const fd = openSync(log, 'w');
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('runc', ['--root', this.runcRoot, 'run', '-d', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', fd] });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run -d ${id}: exit ${code}: ${readFileSync(log, 'utf8')}`))));
      });
    } finally {
      closeSync(fd);
    }
    const state = await run(['runc', '--root', this.runcRoot, 'state', id]);
    return (JSON.parse(state.stdout) as { pid: number }).pid;
  }

  /** runContainer runs a container in the foreground and gives its exit code and output. */
  async runContainer(id: string, spec: Spec): Promise<RunResult> {
    const bundle = this.bundle(id, spec);
    this.ids.push(id);
    const result = await run(['runc', '--root', this.runcRoot, 'run', '--bundle', bundle, id]);
    await run(['runc', '--root', this.runcRoot, 'delete', '--force', id]);
    return result;
  }

  async cleanup(): Promise<void> {
    for (const id of this.ids.reverse()) await run(['runc', '--root', this.runcRoot, 'delete', '--force', id]);
    if (existsSync(CGROUP_V1)) {
      for (const ctrl of readdirSync(CGROUP_V1)) {
        const dir = join(CGROUP_V1, ctrl, this.cgroupParent);
        if (existsSync(dir)) await run(['rmdir', dir]);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
