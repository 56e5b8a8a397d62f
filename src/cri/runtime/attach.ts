import type { AttachRequest__Output } from '../generated/v1/runtime/v1/AttachRequest.js';
import type { AttachResponse } from '../generated/v1/runtime/v1/AttachResponse.js';
import type { StreamService } from '../../services/stream-runtime.js';
import { invalidArgument } from '../../errors/index.js';
import { unary } from '../rpc.js';

/** attach answers Attach: checks the request and the container, and returns a one-time streaming URL. */
export const attach = (s: StreamService) =>
  unary<AttachRequest__Output, AttachResponse>(
    'Attach',
    'debug',
    async (req) => {
      if (!req.container_id) throw invalidArgument('missing required container_id');
      if (req.tty && req.stderr) throw invalidArgument('tty and stderr cannot both be true');
      if (!req.stdin && !req.stdout && !req.stderr) throw invalidArgument('one of stdin, stdout, and stderr must be set');
      const url = await s.attach({ containerId: req.container_id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      return { url };
    },
    { ids: (req) => ({ containerId: req.container_id }) },
  );
