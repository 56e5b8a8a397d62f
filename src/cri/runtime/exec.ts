import type { ExecRequest__Output } from '../generated/v1/runtime/v1/ExecRequest.js';
import type { ExecResponse } from '../generated/v1/runtime/v1/ExecResponse.js';
import type { StreamService } from '../../services/stream-runtime.js';
import { invalidArgument } from '../../errors/index.js';
import { unary } from '../rpc.js';

/** exec answers Exec: checks the request and the container, and returns a one-time streaming URL. */
export const exec = (s: StreamService) =>
  unary<ExecRequest__Output, ExecResponse>(
    'Exec',
    'debug',
    async (req) => {
      if (!req.container_id) throw invalidArgument('missing required container_id');
      if (req.cmd.length === 0) throw invalidArgument('missing required cmd');
      if (req.tty && req.stderr) throw invalidArgument('tty and stderr cannot both be true');
      if (!req.stdin && !req.stdout && !req.stderr) throw invalidArgument('one of stdin, stdout, or stderr must be set');
      const url = await s.exec({ containerId: req.container_id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      return { url };
    },
    { ids: (req) => ({ containerId: req.container_id }) },
  );
