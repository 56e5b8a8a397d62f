import { failedPrecondition, invalidArgument } from '../../errors/index.js';
import type { Device, Mount, Spec } from '../spec.js';
import { CdiError, parseQualifiedName, type CdiEdits, type CdiSpec } from './parse.js';

/** CdiRegistry is every device of the loaded spec files, by qualified name, with the problems found loading them. */
export interface CdiRegistry {
  devices: Map<string, { spec: CdiSpec; edits: CdiEdits }>;
  /** conflicts are names that two specs of the same priority define (then neither is used, as the CDI cache does). */
  conflicts: Map<string, string[]>;
  /** errors are the spec files that could not be used, with why. */
  errors: string[];
}

/** buildCdiRegistry indexes specs: a device of a later directory replaces one of an earlier; equal priority is a conflict. */
export function buildCdiRegistry(specs: CdiSpec[], errors: string[] = []): CdiRegistry {
  const reg: CdiRegistry = { devices: new Map(), conflicts: new Map(), errors };
  for (const spec of specs) {
    for (const [name, edits] of spec.devices) {
      const q = `${spec.vendor}/${spec.class}=${name}`;
      const old = reg.devices.get(q);
      if (old && old.spec.priority === spec.priority) {
        reg.conflicts.set(q, [old.spec.path, spec.path]);
        continue;
      }
      if (old && old.spec.priority > spec.priority) continue;
      reg.devices.set(q, { spec, edits });
    }
  }
  for (const q of reg.conflicts.keys()) reg.devices.delete(q);
  return reg;
}

/** CDI_ANNOTATION_PREFIX marks annotations that list CDI devices (the way device plugins asked before CDI_devices). */
export const CDI_ANNOTATION_PREFIX = 'cdi.k8s.io/';

/**
 * requestedCdiDevices gives the qualified names a container asks for: ContainerConfig.CDI_devices, then the
 * comma-separated values of `cdi.k8s.io/` annotations (as containerd reads both), each once. A name that is not
 * `vendor/class=name` is InvalidArgument.
 */
export function requestedCdiDevices(cdi: readonly { name: string }[] | undefined, annotations: Record<string, string> | undefined): string[] {
  const names = [...(cdi ?? []).map((d) => d.name)];
  for (const [k, v] of Object.entries(annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) if (k.startsWith(CDI_ANNOTATION_PREFIX)) names.push(...v.split(','));
  for (const n of names) {
    try {
      parseQualifiedName(n);
    } catch (e) {
      if (e instanceof CdiError) throw invalidArgument(`CDI device ${JSON.stringify(n)}: ${e.message}`);
      throw e;
    }
  }
  return [...new Set(names)];
}

/**
 * resolveCdiDevices gives the edits to apply for `names`, in order: each spec's own edits once (before its first
 * device's), then the device's. An unknown device is InvalidArgument naming every unresolved one (with the spec
 * files that failed to load, which may be why).
 */
export function resolveCdiDevices(reg: CdiRegistry, names: string[]): CdiEdits[] {
  const out: CdiEdits[] = [];
  const seen = new Set<CdiSpec>();
  const missing: string[] = [];
  for (const n of names) {
    const d = reg.devices.get(n);
    if (!d) {
      const c = reg.conflicts.get(n);
      missing.push(c ? `${n} (defined in both ${c.join(' and ')})` : n);
      continue;
    }
    if (!seen.has(d.spec)) {
      seen.add(d.spec);
      out.push(d.spec.edits);
    }
    out.push(d.edits);
  }
  if (missing.length) {
    const why = reg.errors.length ? `; spec files not loaded: ${reg.errors.join('; ')}` : '';
    throw invalidArgument(`unresolvable CDI devices ${missing.join(', ')}${why}`);
  }
  return out;
}

/** cdiHostPaths lists the host device nodes the edits name (hostPath, or path), for services/ to stat beforehand. */
export function cdiHostPaths(edits: CdiEdits[]): string[] {
  return [...new Set(edits.flatMap((e) => (e.deviceNodes ?? []).map((d) => d.hostPath || d.path)))];
}

const depth = (p: string) => p.split('/').filter(Boolean).length;

/**
 * applyCdiEdits applies CDI container edits to a built spec, as the CDI library's ContainerEdits.Apply does: env
 * set (a name already there is replaced), device nodes added (a node of the same path replaced) with their type,
 * numbers and mode taken from the host node when the spec leaves them out, each with a device cgroup rule
 * (permissions, `rwm` when empty, none for `none`), owned by the process's uid/gid when not given; mounts added
 * (one at the same destination replaced), then all mounts ordered by depth; hooks added by name; additional gids
 * (0 ignored); intelRdt set. `hostDevices` are the host nodes by path (undefined: absent or not a device).
 */
export function applyCdiEdits(spec: Spec, edits: CdiEdits[], hostDevices: Record<string, Device | undefined>): Spec {
  const proc = spec.process!;
  const linux = (spec.linux ??= {});
  for (const e of edits) {
    for (const kv of e.env ?? []) {
      const key = kv.slice(0, kv.indexOf('=') + 1);
      const env = (proc.env ??= []);
      const at = env.findIndex((x) => x.startsWith(key));
      if (at >= 0) env[at] = kv;
      else env.push(kv);
    }
    for (const d of e.deviceNodes ?? []) {
      const hostPath = d.hostPath || d.path;
      const host = hostDevices[hostPath];
      const minimal = !!d.type && (!!d.major || d.type === 'p');
      if (!host && !minimal) throw failedPrecondition(`CDI host device ${JSON.stringify(hostPath)} does not exist or is not a device node`);
      const type = d.type || host!.type;
      if (host && !minimal && d.type && d.type !== host.type && !(d.type === 'u' && host.type === 'c')) throw failedPrecondition(`CDI device ${JSON.stringify(d.path)}: type ${d.type} does not match host device ${hostPath} (${host.type})`);
      const dev: Device = { type, path: d.path };
      if (type !== 'p') {
        dev.major = d.major || !host ? d.major ?? 0 : host.major;
        dev.minor = d.major || !host ? d.minor ?? 0 : host.minor;
      }
      const fileMode = d.fileMode ?? host?.fileMode;
      if (fileMode !== undefined) dev.fileMode = fileMode;
      const uid = d.uid ?? (proc.user.uid > 0 ? proc.user.uid : undefined);
      const gid = d.gid ?? (proc.user.gid > 0 ? proc.user.gid : undefined);
      if (uid !== undefined) dev.uid = uid;
      if (gid !== undefined) dev.gid = gid;
      linux.devices = [...(linux.devices ?? []).filter((x) => x.path !== d.path), dev];
      if (type === 'b' || type === 'c') {
        const access = d.permissions === 'none' ? '' : d.permissions || 'rwm';
        const res = (linux.resources ??= {});
        res.devices = [...(res.devices ?? []), { allow: true, type, major: dev.major!, minor: dev.minor!, access }];
      }
    }
    if (e.netDevices?.length) throw failedPrecondition(`CDI netDevices (${e.netDevices.map((n) => n.hostInterfaceName).join(', ')}) need an OCI runtime with linux.netDevices, which this runc lacks`);
    if (e.mounts?.length) {
      let mounts: Mount[] = spec.mounts ?? [];
      for (const m of e.mounts) {
        const bindLike = (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
        const om: Mount = { destination: m.containerPath, source: m.hostPath, options: m.options ?? [] };
        const type = m.type || (bindLike ? 'bind' : '');
        if (type) om.type = type;
        mounts = [...mounts.filter((x) => x.destination !== m.containerPath), om];
      }
      spec.mounts = mounts.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i).map((x) => x.m);
    }
    for (const h of e.hooks ?? []) {
      const hooks = (spec.hooks ??= {});
      const hook: { path: string; args?: string[]; env?: string[]; timeout?: number } = { path: h.path };
      if (h.args) hook.args = h.args;
      if (h.env) hook.env = h.env;
      if (h.timeout !== undefined) hook.timeout = h.timeout;
      (hooks[h.hookName] ??= []).push(hook);
    }
    for (const g of e.additionalGids ?? []) {
      if (g === 0) continue;
      const gids = (proc.user.additionalGids ??= []);
      if (!gids.includes(g)) gids.push(g);
    }
    if (e.intelRdt) (linux as Record<string, unknown>).intelRdt = e.intelRdt;
  }
  return spec;
}
