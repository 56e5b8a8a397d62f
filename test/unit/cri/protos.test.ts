import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSync } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { LOADER_OPTIONS, descriptorPath, loadCriServices, protoPath } from '../../../src/cri/protos.js';

// The daemon's codecs come from the pre-generated JSON descriptor (src/cri/protos.ts); @grpc/proto-loader parsing
// the .proto file is the reference they must match, byte for byte on the wire and field for field as objects.

const versions = ['v1', 'v1alpha2'] as const;
type Codecs = Record<string, ServiceDefinition[string]>;

function reference(version: (typeof versions)[number]) {
  const def = loadSync(protoPath(version), LOADER_OPTIONS);
  return {
    runtime: def[`runtime.${version}.RuntimeService`] as unknown as Codecs,
    image: def[`runtime.${version}.ImageService`] as unknown as Codecs,
  };
}

// One response and one request per class of field: int64 as decimal strings (ns timestamps past 2^53), enums by
// name, maps, repeated messages, nested messages, bytes, bools, and messages left empty (defaults on decode). Fields
// a version lacks (v1alpha2 has no `pinned`) are dropped alike by both.
const responses: [string, string, unknown][] = [
  ['runtime', 'Version', { version: '0.1.0', runtime_name: 'fune', runtime_version: '0.1.0', runtime_api_version: 'v1' }],
  ['runtime', 'ContainerStatus', {
    status: {
      id: 'c1', metadata: { name: 'n', attempt: 2 }, state: 'CONTAINER_EXITED', created_at: '1700000000123456789',
      started_at: '1700000000223456789', finished_at: '9223372036854775807', exit_code: -1, image: { image: 'busybox', annotations: { a: 'b' } },
      image_ref: 'sha256:ab', reason: 'Error', message: 'm', labels: { k: 'v', x: '' }, annotations: {},
      mounts: [{ container_path: '/a', host_path: '/b', readonly: true, propagation: 'PROPAGATION_BIDIRECTIONAL' }], log_path: '/l',
    },
    info: { info: '{"pid":1}' },
  }],
  ['runtime', 'ListPodSandbox', { items: [{ id: 'p', metadata: { name: 'p', uid: 'u', namespace: 'ns', attempt: 0 }, state: 'SANDBOX_READY', created_at: '1', labels: {}, annotations: { z: 'y' }, runtime_handler: '' }, {}] }],
  ['runtime', 'ExecSync', { stdout: Buffer.from('out'), stderr: Buffer.alloc(0), exit_code: 3 }],
  ['runtime', 'ExecSync', {}],
  ['image', 'ImageStatus', { image: { id: 'sha256:1', repo_tags: ['a:1', 'b:2'], repo_digests: [], size: '18446744073709551615', uid: { value: '0' }, username: '', pinned: true }, info: {} }],
];
const requests: [string, string, unknown][] = [
  ['runtime', 'RunPodSandbox', {
    config: {
      metadata: { name: 'p', uid: 'u', namespace: 'ns', attempt: 1 }, hostname: 'h', log_directory: '/logs',
      port_mappings: [{ protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '127.0.0.1' }],
      labels: { a: '1' }, linux: { cgroup_parent: '/kubepods', security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' }, run_as_user: { value: '1000' } } },
    },
    runtime_handler: 'runc',
  }],
  ['runtime', 'ExecSync', { container_id: 'c', cmd: ['sh', '-c', 'true'], timeout: '9007199254740993' }],
  ['runtime', 'StopContainer', { container_id: 'c', timeout: '-5' }],
  ['runtime', 'ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' }, label_selector: { a: 'b' } } }],
  ['runtime', 'ListContainers', {}],
  ['image', 'PullImage', { image: { image: 'busybox' }, auth: { username: 'u', password: 'p' } }],
];

describe.each(versions)('CRI %s codecs from the JSON descriptor', (version) => {
  const ours = loadCriServices(version);
  const ref = reference(version);

  it('has every method of the .proto, with the same path, streaming kind and original name', () => {
    for (const svc of ['runtime', 'image'] as const) {
      const a = ours[svc] as Codecs;
      const b = ref[svc];
      expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
      for (const [name, m] of Object.entries(b)) {
        const o = a[name]!;
        expect({ path: o.path, requestStream: o.requestStream, responseStream: o.responseStream, originalName: o.originalName })
          .toEqual({ path: m.path, requestStream: m.requestStream, responseStream: m.responseStream, originalName: m.originalName });
      }
    }
    expect(Object.keys(ours.runtime).length).toBeGreaterThan(20);
  });

  it.each(responses)('%s.%s response: same bytes, same object back', (svc, method, msg) => {
    const o = (ours[svc as 'runtime'] as Codecs)[method]!;
    const r = ref[svc as 'runtime'][method]!;
    const bytes = o.responseSerialize(msg);
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect([...bytes]).toEqual([...r.responseSerialize(msg)]);
    expect(o.responseDeserialize(bytes)).toEqual(r.responseDeserialize(bytes));
  });

  it.each(requests)('%s.%s request: same object from the same bytes, and that object encoded alike', (svc, method, msg) => {
    const o = (ours[svc as 'runtime'] as Codecs)[method]!;
    const r = ref[svc as 'runtime'][method]!;
    const bytes = r.requestSerialize(msg);
    const got = o.requestDeserialize(bytes);
    expect(got).toEqual(r.requestDeserialize(bytes));
    expect([...o.requestSerialize(got)]).toEqual([...r.requestSerialize(got)]);
  });

  it('decodes int64 as exact decimal strings and enums by name, with defaults filled in', () => {
    const m = (ours.runtime as Codecs).ExecSync!;
    const bytes = (ref.runtime).ExecSync!.requestSerialize({ container_id: 'c', timeout: '9007199254740993' });
    expect(m.requestDeserialize(bytes)).toEqual({ container_id: 'c', cmd: [], timeout: '9007199254740993' });
    const l = (ours.runtime as Codecs).ListContainers!;
    const lb = (ref.runtime).ListContainers!.requestSerialize({ filter: { state: { state: 'CONTAINER_EXITED' } } });
    expect((l.requestDeserialize(lb) as { filter: { state: { state: string } } }).filter.state.state).toBe('CONTAINER_EXITED');
  });

  it('refuses an array for a message, as proto-loader does', () => {
    expect(() => (ours.runtime as Codecs).Version!.responseSerialize([])).toThrow(/got array instead/);
  });

  it('is what protobufjs makes of api.proto now (run `npm run gen` after changing it)', () => {
    const root = new protobuf.Root().loadSync(protoPath(version), { keepCase: true });
    expect(readFileSync(descriptorPath(version), 'utf8')).toBe(JSON.stringify(root.toJSON()) + '\n');
  });
});
