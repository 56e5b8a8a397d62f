import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Options } from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { ApiVersion } from './rpc.js';
import { withoutTurbofan } from '../sys/turbofan.js';

/** LOADER_OPTIONS decode requests the way the generated types describe them: int64 as strings, enums by name. */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** projectRoot finds the folder that holds package.json, from src/ or from dist/src/. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the fune project root (package.json)');
    dir = up;
  }
  return dir;
}

/** protoPath gives the path of the CRI .proto file of one API version. */
export function protoPath(version: ApiVersion): string {
  return join(projectRoot(), 'proto', 'runtime', version, 'api.proto');
}

/**
 * descriptorPath gives the path of the protobufjs JSON descriptor of one API version's .proto file
 * (`proto/runtime/<version>/api.json`, written by hack/update-proto.sh from api.proto with keepCase, checked by
 * hack/verify-proto.sh).
 */
export function descriptorPath(version: ApiVersion): string {
  return join(projectRoot(), 'proto', 'runtime', version, 'api.json');
}

/** CriServices are the two service definitions of one CRI package. */
export interface CriServiceDefs {
  runtime: ServiceDefinition;
  image: ServiceDefinition;
}

interface JsonMethod {
  requestType: string;
  responseType: string;
  requestStream?: boolean;
  responseStream?: boolean;
}

/** JsonNamespace is the part of a protobufjs JSON descriptor read here (packages, services and their methods). */
interface JsonNamespace {
  nested?: Record<string, JsonNamespace>;
  methods?: Record<string, JsonMethod>;
}

/** The parts of protobufjs (its light build) used here. */
interface PbType {
  fromObject(o: Record<string, unknown>): object;
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): object;
  toObject(m: object, o: object): unknown;
}
interface PbRoot {
  resolveAll(): PbRoot;
  lookupType(name: string): PbType;
}
interface PbLight {
  Root: { fromJSON(json: JsonNamespace): PbRoot };
}

const SERVICES = { runtime: 'RuntimeService', image: 'ImageService' } as const;

/**
 * Encoded is a response message already in protobuf wire form, which a method's serializer sends as it is. `plain`
 * gives the same message as a plain object, for the callers that read a verb's answer instead of sending it (the
 * streamed listings).
 */
export class Encoded {
  constructor(
    readonly bytes: Buffer,
    readonly plain: () => unknown,
  ) {}
}

interface Descriptor {
  json: JsonNamespace;
  lookup: (name: string) => PbType;
}

/** descriptors hold each version's JSON descriptor once read, and its protobufjs root once a message needed it. */
const descriptors = new Map<ApiVersion, Descriptor>();

function descriptorOf(version: ApiVersion): Descriptor {
  let d = descriptors.get(version);
  if (d) return d;
  const json = JSON.parse(readFileSync(descriptorPath(version), 'utf8')) as JsonNamespace;
  let root: PbRoot | undefined;
  d = {
    json,
    lookup: (name: string): PbType => {
      // protobufjs/light: reflection and codecs without the .proto parser; CommonJS, so through require. Loading
      // it and building the reflection tree runs once, with Turbofan off (see withoutTurbofan).
      root ??= withoutTurbofan(() => (createRequire(import.meta.url)('protobufjs/light') as PbLight).Root.fromJSON(json).resolveAll());
      return root.lookupType(`runtime.${version}.${name}`);
    },
  };
  descriptors.set(version, d);
  return d;
}

/**
 * messageEncoder gives the encoder of one message type of one API version (`Container` of runtime.v1, …): a plain
 * object in the shape the handlers answer with, to its protobuf wire form, as the method serializers encode it.
 */
export function messageEncoder(version: ApiVersion, name: string): (v: Record<string, unknown>) => Buffer {
  let t: PbType | undefined;
  return firstOffTurbofan((v) => {
    const ty = (t ??= descriptorOf(version).lookup(name));
    return ty.encode(ty.fromObject(v)).finish() as Buffer;
  });
}

/**
 * firstOffTurbofan gives `fn` whose first call runs with Turbofan off (see withoutTurbofan): a message type's first
 * encode or decode is where protobufjs generates its codec functions (and those of the types it holds), one-shot
 * work that would otherwise make its code generator hot in a daemon that has served one call.
 */
function firstOffTurbofan<A, R>(fn: (a: A) => R): (a: A) => R {
  let first = true;
  return (a) => {
    if (!first) return fn(a);
    first = false;
    return withoutTurbofan(() => fn(a));
  };
}

/**
 * loadCriServices gives the RuntimeService and ImageService definitions of one API version, with the message
 * codecs of @grpc/proto-loader (fromObject + encode; decode + toObject with LOADER_OPTIONS), built from the
 * pre-generated JSON descriptor instead of parsing the .proto file. The method table is read at once; the
 * protobufjs types (the light build, without the .proto parser) are made on the first message of that version, so
 * an idle daemon holds neither version's reflection tree and one that only ever hears runtime.v1 never makes
 * v1alpha2's.
 */
export function loadCriServices(version: ApiVersion): CriServiceDefs {
  const { json, lookup } = descriptorOf(version);
  const pkg = json.nested?.runtime?.nested?.[version];
  const codec = (name: string) => {
    let t: PbType | undefined;
    const type = () => (t ??= lookup(name));
    const encode = firstOffTurbofan((v: Record<string, unknown>) => {
      const ty = type();
      // protobufjs writes into a Buffer where Buffer exists (its BufferWriter), so finish() gives one
      return ty.encode(ty.fromObject(v)).finish() as Buffer;
    });
    const decode = firstOffTurbofan((b: Buffer) => {
      const ty = type();
      return ty.toObject(ty.decode(b), LOADER_OPTIONS);
    });
    return {
      serialize: (v: unknown): Buffer => {
        // a response the handler encoded itself (cached list entries, see entry-cache.ts) is sent as it is
        if (v instanceof Encoded) return v.bytes;
        if (Array.isArray(v)) throw new Error(`Failed to serialize message: expected object with ${name} structure, got array instead`);
        return encode(v as Record<string, unknown>);
      },
      deserialize: (b: Buffer): unknown => decode(b),
    };
  };
  const service = (name: string): ServiceDefinition => {
    const methods = pkg?.nested?.[name]?.methods;
    if (!methods) throw new Error(`${descriptorPath(version)}: no service runtime.${version}.${name}`);
    const def: Record<string, MethodDefinition<unknown, unknown>> = {};
    for (const [m, j] of Object.entries(methods)) {
      const req = codec(j.requestType);
      const res = codec(j.responseType);
      def[m] = {
        path: `/runtime.${version}.${name}/${m}`,
        requestStream: !!j.requestStream,
        responseStream: !!j.responseStream,
        requestSerialize: req.serialize,
        requestDeserialize: req.deserialize,
        responseSerialize: res.serialize,
        responseDeserialize: res.deserialize,
        originalName: m.charAt(0).toLowerCase() + m.slice(1),
      };
    }
    return def;
  };
  return { runtime: service(SERVICES.runtime), image: service(SERVICES.image) };
}
