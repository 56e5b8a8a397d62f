import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerConfig } from '../domain/cri-types.js';
import { invalidArgument } from '../errors/index.js';
import { applyCdiEdits, buildCdiRegistry, cdiHostPaths, requestedCdiDevices, resolveCdiDevices, type CdiRegistry } from '../oci/cdi/apply.js';
import { CdiError, parseCdiSpec, type CdiEdits, type CdiSpec } from '../oci/cdi/parse.js';
import type { Device, Spec } from '../oci/spec.js';
import { deviceOf } from './host-facts.js';

/**
 * loadCdiRegistry reads every `.json` and `.yaml` file of the CDI spec directories (runtime.cdi_spec_dirs; later
 * directories win), fresh for each container that asks for a device, so that specs a driver writes at run time
 * (DRA drivers write to /var/run/cdi) are seen at once. A file that does not parse or validate is left out and
 * named in the error of a request that it would have served.
 */
export async function loadCdiRegistry(dirs: readonly string[]): Promise<CdiRegistry> {
  const specs: CdiSpec[] = [];
  const errors: string[] = [];
  for (const [priority, dir] of dirs.entries()) {
    const names = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => !e.isDirectory() && /\.(json|yaml)$/.test(e.name)).map((e) => e.name).sort();
    for (const name of names) {
      const path = join(dir, name);
      try {
        specs.push(parseCdiSpec(await readFile(path, 'utf8'), path, priority));
      } catch (e) {
        if (!(e instanceof CdiError) && !(e instanceof Error && 'code' in e)) throw e;
        errors.push(e.message);
      }
    }
  }
  return buildCdiRegistry(specs, errors);
}

/** CdiPlan is what CreateContainer applies to the spec: the edits, and the host nodes they name. */
export interface CdiPlan {
  edits: CdiEdits[];
  hostDevices: Record<string, Device | undefined>;
}

/**
 * planCdiDevices resolves a container's CDI devices (ContainerConfig.CDI_devices and `cdi.k8s.io/` annotations)
 * before anything is made: an unknown or malformed name is InvalidArgument, a host node that is missing, or an
 * edit this runc cannot apply, FailedPrecondition (the edits are tried on an empty spec for that).
 */
export async function planCdiDevices(dirs: readonly string[], config: ContainerConfig): Promise<CdiPlan> {
  const names = requestedCdiDevices(config.CDI_devices, config.annotations);
  if (names.length === 0) return { edits: [], hostDevices: {} };
  if (dirs.length === 0) throw invalidArgument(`CDI devices ${names.join(', ')} requested, but no CDI spec directories are configured (runtime.cdi_spec_dirs)`);
  const edits = resolveCdiDevices(await loadCdiRegistry(dirs), names);
  const hostDevices: Record<string, Device | undefined> = {};
  for (const p of cdiHostPaths(edits)) hostDevices[p] = await deviceOf(p).catch(() => undefined);
  const trial: Spec = { ociVersion: '', process: { user: { uid: 0, gid: 0 }, args: [], cwd: '/', env: [] }, root: { path: '' }, mounts: [] };
  applyCdiEdits(trial, edits, hostDevices);
  return { edits, hostDevices };
}
