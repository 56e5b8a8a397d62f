import type { ExecSyncRequest__Output } from '../generated/v1/runtime/v1/ExecSyncRequest.js';
import type { ExecSyncResponse } from '../generated/v1/runtime/v1/ExecSyncResponse.js';
import type { ExecService } from '../../services/exec-service.js';
import { unary } from '../rpc.js';

/** execSync answers ExecSync: output and exit code; a passed timeout is DEADLINE_EXCEEDED. */
export const execSync = (s: ExecService) =>
  unary<ExecSyncRequest__Output, ExecSyncResponse>(
    'ExecSync',
    'debug',
    async (req, ctx) => {
      const r = await s.execSync(req.container_id, req.cmd, Number(req.timeout), ctx.signal, ctx.log);
      // protobufjs writes a bytes field that is present even when it is empty, and Go clients then see a non-nil
      // empty slice where they expect nil (critest v1.22 checks `stderr` is nil): leave empty outputs out.
      return { ...(r.stdout.length ? { stdout: r.stdout } : {}), ...(r.stderr.length ? { stderr: r.stderr } : {}), exit_code: r.exitCode };
    },
    { ids: (r) => ({ containerId: r.container_id }) },
  );
