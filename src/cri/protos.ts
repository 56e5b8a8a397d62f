import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type PackageDefinition, type Options } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ApiVersion } from './rpc.js';

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

/** CriServices are the two service definitions of one CRI package. */
export interface CriServiceDefs {
  runtime: ServiceDefinition;
  image: ServiceDefinition;
}

/** loadCriServices loads the RuntimeService and ImageService definitions of one API version. */
export function loadCriServices(version: ApiVersion): CriServiceDefs {
  const def: PackageDefinition = loadSync(protoPath(version), LOADER_OPTIONS);
  const pkg = `runtime.${version}`;
  return {
    runtime: def[`${pkg}.RuntimeService`] as ServiceDefinition,
    image: def[`${pkg}.ImageService`] as ServiceDefinition,
  };
}
