import type { VersionRequest__Output } from '../generated/v1/runtime/v1/VersionRequest.js';
import type { VersionResponse } from '../generated/v1/runtime/v1/VersionResponse.js';
import type { RuntimeInfoService } from '../../services/runtime-info.js';
import { unary } from '../rpc.js';

/** version answers Version: runtime name and version, and the CRI package version of the call. */
export const version = (info: RuntimeInfoService) =>
  unary<VersionRequest__Output, VersionResponse>('Version', 'trace', async (_req, ctx) => info.version(ctx.apiVersion));
