import type { PortForwardRequest__Output } from '../generated/v1/runtime/v1/PortForwardRequest.js';
import type { PortForwardResponse } from '../generated/v1/runtime/v1/PortForwardResponse.js';
import type { StreamService } from '../../services/stream-runtime.js';
import { invalidArgument } from '../../errors/index.js';
import { unary } from '../rpc.js';

/**
 * portForward answers PortForward: checks the pod and returns a one-time streaming URL. SPDY clients send no ports
 * here (each stream names its port); WebSocket clients' ports are checked to be 1–65535.
 */
export const portForward = (s: StreamService) =>
  unary<PortForwardRequest__Output, PortForwardResponse>(
    'PortForward',
    'debug',
    async (req) => {
      if (!req.pod_sandbox_id) throw invalidArgument('missing required pod_sandbox_id');
      const bad = req.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
      if (bad !== undefined) throw invalidArgument(`invalid port ${bad}: must be between 1 and 65535`);
      return { url: await s.portForward(req.pod_sandbox_id, req.port) };
    },
    { ids: (req) => ({ podSandboxId: req.pod_sandbox_id }) },
  );
