import type { StatusRequest__Output } from '../generated/v1/runtime/v1/StatusRequest.js';
import type { StatusResponse } from '../generated/v1/runtime/v1/StatusResponse.js';
import type { RuntimeInfoService } from '../../services/runtime-info.js';
import { unary } from '../rpc.js';

/**
 * status answers Status: the RuntimeReady and NetworkReady conditions, the runtime handlers with their features
 * and the runtime-wide features (both from what the node can do), and with `verbose` the effective config.
 */
export const status = (info: RuntimeInfoService) =>
  unary<StatusRequest__Output, StatusResponse>('Status', 'trace', async (req) => ({
    status: { conditions: info.conditions() },
    info: req.verbose ? info.info() : {},
    runtime_handlers: info.runtimeHandlers(),
    features: info.runtimeFeatures(),
  }));
