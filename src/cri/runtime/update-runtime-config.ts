import type { UpdateRuntimeConfigRequest__Output } from '../generated/v1/runtime/v1/UpdateRuntimeConfigRequest.js';
import type { UpdateRuntimeConfigResponse } from '../generated/v1/runtime/v1/UpdateRuntimeConfigResponse.js';
import type { RuntimeInfoService } from '../../services/runtime-info.js';
import { invalidArgument } from '../../errors/index.js';
import { unary } from '../rpc.js';

const CIDR = /^([0-9.]+\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

/** updateRuntimeConfig answers UpdateRuntimeConfig: it keeps the pod CIDR(s) for the network layer. */
export const updateRuntimeConfig = (info: RuntimeInfoService) =>
  unary<UpdateRuntimeConfigRequest__Output, UpdateRuntimeConfigResponse>('UpdateRuntimeConfig', 'info', async (req) => {
    const cidr = req.runtime_config?.network_config?.pod_cidr ?? '';
    for (const part of cidr.split(',').filter(Boolean)) {
      if (!CIDR.test(part.trim())) throw invalidArgument(`pod_cidr: ${JSON.stringify(part)} is not a CIDR`);
    }
    info.updatePodCidr(cidr);
    return {};
  });
