import type { RuntimeInfoService } from '../services/runtime-info.js';
import type { AnyRpc } from './rpc.js';
import { version } from './runtime/version.js';
import { status } from './runtime/status.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { updateRuntimeConfig } from './runtime/update-runtime-config.js';

/** CriServices are the use-case services the CRI verbs call. Later subsystems add their members here. */
export interface CriServices {
  info: RuntimeInfoService;
}

/** buildRpcTable lists every verb fune implements, keyed by CRI method name. */
export function buildRpcTable(s: CriServices): Map<string, AnyRpc> {
  const rpcs: AnyRpc[] = [version(s.info), status(s.info), runtimeConfig(s.info), updateRuntimeConfig(s.info)];
  return new Map(rpcs.map((r) => [r.name, r]));
}
