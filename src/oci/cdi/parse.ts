import { createRequire } from 'node:module';

// `yaml` is loaded at the first CDI spec that is parsed (createRequire keeps that synchronous): a node without CDI
// specs never needs it.
const parseYaml = (text: string): unknown => (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

/**
 * CDI (Container Device Interface) spec files, as github.com/cncf-tags/container-device-interface SPEC.md
 * defines them (spec versions 0.1.0 to 1.1.0): JSON or YAML (one parser: JSON is YAML), unknown fields refused,
 * the version at least what the fields used need, kind `vendor/class`, device names as the CDI parser allows.
 */

/** CdiDeviceNode is a `deviceNodes` entry. */
export interface CdiDeviceNode {
  path: string;
  hostPath?: string;
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  permissions?: string;
  uid?: number;
  gid?: number;
}

/** CdiMount is a `mounts` entry. */
export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

/** CdiHook is a `hooks` entry. */
export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** CdiEdits are `containerEdits`, of a whole spec or of one device. */
export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  netDevices?: { hostInterfaceName: string; name: string }[];
  hooks?: CdiHook[];
  mounts?: CdiMount[];
  intelRdt?: Record<string, unknown>;
  additionalGids?: number[];
}

/** CdiSpec is one validated spec file. */
export interface CdiSpec {
  path: string;
  /** priority is the index of its directory: later directories win over earlier ones. */
  priority: number;
  vendor: string;
  class: string;
  edits: CdiEdits;
  devices: Map<string, CdiEdits>;
}

/** CdiError is a problem with a spec file or a device name (the message says which). */
export class CdiError extends Error {}

const VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0', '1.1.0'];
const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

const isLetter = (c: string) => /^[A-Za-z]$/.test(c);
const isAlnum = (c: string) => /^[A-Za-z0-9]$/.test(c);

/** validVendorOrClass: a letter first, a letter or digit last, letters, digits, `_`, `-`, `.` between. */
function checkVendorOrClass(name: string, what: string): void {
  if (!name) throw new CdiError(`invalid ${what}: empty name`);
  if (!isLetter(name[0]!)) throw new CdiError(`invalid ${what} ${JSON.stringify(name)}: should start with a letter`);
  if (name.length > 1 && !isAlnum(name[name.length - 1]!)) throw new CdiError(`invalid ${what} ${JSON.stringify(name)}: should end with a letter or digit`);
  if (!/^[A-Za-z0-9_.-]*$/.test(name)) throw new CdiError(`invalid ${what} ${JSON.stringify(name)}: invalid character`);
}

/** checkDeviceName: a letter or digit first and last, letters, digits, `_`, `-`, `.`, `:` between. */
function checkDeviceName(name: string): void {
  if (!name) throw new CdiError('invalid (empty) device name');
  if (!isAlnum(name[0]!) || !isAlnum(name[name.length - 1]!)) throw new CdiError(`invalid device name ${JSON.stringify(name)}: should start and end with a letter or digit`);
  if (!/^[A-Za-z0-9_.:-]*$/.test(name)) throw new CdiError(`invalid device name ${JSON.stringify(name)}: invalid character`);
}

/** parseQualifiedName splits `vendor.com/class=name`, checking each part as the CDI parser does. */
export function parseQualifiedName(device: string): { vendor: string; class: string; name: string } {
  const eq = device.indexOf('=');
  const slash = device.indexOf('/');
  const vendor = slash > 0 && (eq < 0 || slash < eq) ? device.slice(0, slash) : '';
  const cls = vendor ? device.slice(slash + 1, eq < 0 ? undefined : eq) : '';
  const name = eq >= 0 ? device.slice(eq + 1) : '';
  if (device.startsWith('/') || !vendor) throw new CdiError(`unqualified device ${JSON.stringify(device)}, missing vendor`);
  if (!cls) throw new CdiError(`unqualified device ${JSON.stringify(device)}, missing class`);
  if (!name) throw new CdiError(`unqualified device ${JSON.stringify(device)}, missing device name`);
  checkVendorOrClass(vendor, 'vendor');
  checkVendorOrClass(cls, 'class');
  checkDeviceName(name);
  return { vendor, class: cls, name };
}

type Shape = Record<string, 'string' | 'number' | 'boolean' | 'strings' | 'numbers' | 'map' | 'object' | ((v: unknown, at: string) => void)>;

function checkShape(v: unknown, shape: Shape, at: string, required: string[] = []): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CdiError(`${at}: must be an object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(k in shape)) throw new CdiError(`${at}: unknown field ${JSON.stringify(k)}`);
  for (const k of required) if (o[k] === undefined || o[k] === null || o[k] === '') throw new CdiError(`${at}: ${k} is required`);
  for (const [k, kind] of Object.entries(shape)) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    const where = `${at}.${k}`;
    if (typeof kind === 'function') kind(x, where);
    else if (kind === 'strings' || kind === 'numbers') {
      if (!Array.isArray(x) || !x.every((e) => typeof e === (kind === 'strings' ? 'string' : 'number'))) throw new CdiError(`${where}: must be a list of ${kind === 'strings' ? 'strings' : 'numbers'}`);
    } else if (kind === 'map') {
      if (typeof x !== 'object' || Array.isArray(x) || !Object.values(x).every((e) => typeof e === 'string')) throw new CdiError(`${where}: must be a map of strings`);
    } else if (kind === 'object') {
      if (typeof x !== 'object' || Array.isArray(x)) throw new CdiError(`${where}: must be an object`);
    } else if (typeof x !== kind) throw new CdiError(`${where}: must be a ${kind}`);
  }
  return o;
}

const list = (item: (v: unknown, at: string) => void) => (v: unknown, at: string) => {
  if (!Array.isArray(v)) throw new CdiError(`${at}: must be a list`);
  v.forEach((e, i) => item(e, `${at}[${i}]`));
};

function checkEnv(env: string[] | undefined, at: string): void {
  for (const e of env ?? []) if (e.indexOf('=') <= 0) throw new CdiError(`${at}: invalid environment variable ${JSON.stringify(e)}`);
}

function checkEdits(v: unknown, at: string): CdiEdits {
  const e = checkShape(v, {
    env: 'strings',
    deviceNodes: list((d, a) => {
      const n = checkShape(d, { path: 'string', hostPath: 'string', type: 'string', major: 'number', minor: 'number', fileMode: 'number', permissions: 'string', uid: 'number', gid: 'number' }, a, ['path']) as unknown as CdiDeviceNode;
      if (n.type !== undefined && !['', 'b', 'c', 'u', 'p'].includes(n.type)) throw new CdiError(`${a}: device ${JSON.stringify(n.path)}: invalid type ${JSON.stringify(n.type)}`);
      if (n.permissions && n.permissions !== 'none' && !/^[rwm]+$/.test(n.permissions)) throw new CdiError(`${a}: device ${JSON.stringify(n.path)}: invalid permissions ${JSON.stringify(n.permissions)}`);
    }),
    netDevices: list((d, a) => void checkShape(d, { hostInterfaceName: 'string', name: 'string' }, a, ['hostInterfaceName', 'name'])),
    hooks: list((h, a) => {
      const hook = checkShape(h, { hookName: 'string', path: 'string', args: 'strings', env: 'strings', timeout: 'number' }, a, ['hookName', 'path']) as unknown as CdiHook;
      if (!HOOK_NAMES.includes(hook.hookName)) throw new CdiError(`${a}: invalid hook name ${JSON.stringify(hook.hookName)}`);
      if (!hook.path.startsWith('/')) throw new CdiError(`${a}: hook path ${JSON.stringify(hook.path)} must be absolute`);
      if (hook.timeout !== undefined && hook.timeout <= 0) throw new CdiError(`${a}: hook timeout must be greater than zero`);
      checkEnv(hook.env, a);
    }),
    mounts: list((m, a) => void checkShape(m, { hostPath: 'string', containerPath: 'string', type: 'string', options: 'strings' }, a, ['hostPath', 'containerPath'])),
    intelRdt: 'object',
    additionalGids: 'numbers',
  }, at) as CdiEdits;
  checkEnv(e.env, at);
  return e;
}

const isEmpty = (e: CdiEdits) => !e.env?.length && !e.deviceNodes?.length && !e.hooks?.length && !e.mounts?.length && !e.additionalGids?.length && !e.intelRdt && !e.netDevices?.length;

/** requiredVersion is the lowest spec version whose fields a spec uses (the CDI's MinimumRequiredVersion). */
function requiredVersion(kindClass: string, annotations: boolean, edits: CdiEdits[], names: string[]): string {
  if (edits.some((e) => e.netDevices?.length || (e.intelRdt && ('schemata' in e.intelRdt || e.intelRdt.enableMonitoring)))) return '1.1.0';
  if (edits.some((e) => e.intelRdt || e.additionalGids?.length)) return '0.7.0';
  if (annotations || kindClass.includes('.')) return '0.6.0';
  if (names.some((n) => /^[0-9]/.test(n)) || edits.some((e) => e.deviceNodes?.some((d) => d.hostPath))) return '0.5.0';
  if (edits.some((e) => e.mounts?.some((m) => m.type))) return '0.4.0';
  return '0.3.0';
}

/** parseCdiSpec reads and validates one spec file's text; CdiError says what is wrong. */
export function parseCdiSpec(text: string, path: string, priority: number): CdiSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new CdiError(`${path}: not JSON or YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const o = checkShape(raw, { cdiVersion: 'string', kind: 'string', annotations: 'map', devices: list(() => undefined), containerEdits: 'object' }, path, ['cdiVersion', 'kind']);
  const version = String(o.cdiVersion).replace(/^v/, '');
  if (!VERSIONS.includes(version)) throw new CdiError(`${path}: invalid version ${JSON.stringify(o.cdiVersion)}`);
  const kind = String(o.kind);
  const slash = kind.indexOf('/');
  if (slash <= 0 || slash === kind.length - 1) throw new CdiError(`${path}: invalid kind ${JSON.stringify(kind)}: must be vendor/class`);
  const vendor = kind.slice(0, slash);
  const cls = kind.slice(slash + 1);
  try {
    checkVendorOrClass(vendor, 'vendor');
    checkVendorOrClass(cls, 'class');
  } catch (e) {
    throw new CdiError(`${path}: ${(e as Error).message}`);
  }
  const edits = o.containerEdits ? checkEdits(o.containerEdits, `${path}: containerEdits`) : {};
  if (!Array.isArray(o.devices) || o.devices.length === 0) throw new CdiError(`${path}: invalid spec, no devices`);
  const devices = new Map<string, CdiEdits>();
  let annotations = !!o.annotations && Object.keys(o.annotations).length > 0;
  o.devices.forEach((d: unknown, i: number) => {
    const at = `${path}: devices[${i}]`;
    const dev = checkShape(d, { name: 'string', annotations: 'map', containerEdits: 'object' }, at, ['name']);
    const name = String(dev.name);
    try {
      checkDeviceName(name);
    } catch (e) {
      throw new CdiError(`${at}: ${(e as Error).message}`);
    }
    if (dev.annotations && Object.keys(dev.annotations).length > 0) annotations = true;
    const de = dev.containerEdits ? checkEdits(dev.containerEdits, `${at}.containerEdits`) : {};
    if (isEmpty(de)) throw new CdiError(`${at}: invalid device ${JSON.stringify(name)}, empty device edits`);
    if (devices.has(name)) throw new CdiError(`${path}: invalid spec, multiple device ${JSON.stringify(name)}`);
    devices.set(name, de);
  });
  const min = requiredVersion(cls, annotations, [edits, ...devices.values()], [...devices.keys()]);
  if (VERSIONS.indexOf(min) > VERSIONS.indexOf(version)) throw new CdiError(`${path}: the spec version must be at least v${min} for the fields it uses, not ${version}`);
  return { path, priority, vendor, class: cls, edits, devices };
}
