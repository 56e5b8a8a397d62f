import type { RuntimeInfoService } from '../services/runtime-info.js';
import type { AnyRpc } from './rpc.js';
import type { ImageService } from '../services/image-service.js';
import { pullImage } from './image/pull-image.js';
import { listImages } from './image/list-images.js';
import { imageStatus } from './image/image-status.js';
import { removeImage } from './image/remove-image.js';
import { imageFsInfo } from './image/image-fs-info.js';
import { version } from './runtime/version.js';
import { status } from './runtime/status.js';
import { runtimeConfig } from './runtime/runtime-config.js';
import { updateRuntimeConfig } from './runtime/update-runtime-config.js';
import type { StreamService } from '../services/stream-runtime.js';
import { exec } from './runtime/exec.js';
import { attach } from './runtime/attach.js';
import { portForward } from './runtime/port-forward.js';
import type { Lifecycle } from '../services/lifecycle-setup.js';
import { lifecycleRpcs } from './runtime/lifecycle-rpcs.js';
import { streamedLists } from './streamed-lists.js';

/** CriServices are the use-case services the CRI verbs call. Later subsystems add their members here. */
export interface CriServices {
  info: RuntimeInfoService;
  images?: ImageService;
  streams?: StreamService;
  /** lifecycle is the pod and container side: sandboxes, containers, exec, stats, events. */
  lifecycle?: Lifecycle;
}

/** buildRpcTable lists every verb fune implements, keyed by CRI method name. */
export function buildRpcTable(s: CriServices): Map<string, AnyRpc> {
  const rpcs: AnyRpc[] = [version(s.info), status(s.info), runtimeConfig(s.info), updateRuntimeConfig(s.info)];
  if (s.images) rpcs.push(pullImage(s.images), listImages(s.images), imageStatus(s.images), removeImage(s.images), imageFsInfo(s.images));
  if (s.streams) rpcs.push(exec(s.streams), attach(s.streams), portForward(s.streams));
  if (s.lifecycle) rpcs.push(...lifecycleRpcs(s.lifecycle));
  const table = new Map(rpcs.map((r) => [r.name, r]));
  for (const r of streamedLists(table)) table.set(r.name, r);
  return table;
}
