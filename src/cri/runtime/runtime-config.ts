import type { RuntimeConfigRequest__Output } from '../generated/v1/runtime/v1/RuntimeConfigRequest.js';
import type { RuntimeConfigResponse } from '../generated/v1/runtime/v1/RuntimeConfigResponse.js';
import type { RuntimeInfoService } from '../../services/runtime-info.js';
import { unary } from '../rpc.js';

/** runtimeConfig answers RuntimeConfig: the cgroup driver every container of this daemon uses. */
export const runtimeConfig = (info: RuntimeInfoService) =>
  unary<RuntimeConfigRequest__Output, RuntimeConfigResponse>('RuntimeConfig', 'trace', async () => ({
    linux: { cgroup_driver: info.cgroupDriver() === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
  }));
