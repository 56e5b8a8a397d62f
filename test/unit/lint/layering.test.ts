import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..', '..');

/** lint runs the project's real ESLint config on a snippet as if it lived at `filePath`. */
async function lint(filePath: string, code: string): Promise<string[]> {
  // The probe file does not exist on disk, so type-aware rules are switched off; the layering rules need no types.
  const eslint = new ESLint({ cwd: root, overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }] });
  const [res] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return res!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

const layering = (msgs: string[]) => {
  const parse = msgs.filter((m) => m.startsWith('null'));
  if (parse.length) throw new Error(`lint could not parse the probe: ${parse.join('; ')}`);
  return msgs.filter((m) => /layering|child_process|environment|prom-client/.test(m));
};

describe('the layering rule', () => {
  it('rejects imports that point upward or sideways', async () => {
    const cases: [string, string][] = [
      ['src/oci/probe.ts', "import { x } from '../services/sandbox-service.js';"],
      ['src/oci/probe.ts', "import { readFile } from 'node:fs/promises';"],
      ['src/domain/probe.ts', "import { nodeProcessRunner } from '../sys/process-runner.js';"],
      ['src/store/probe.ts', "import { x } from '../cri/server.js';"],
      ['src/runtime/probe.ts', "import { x } from '../image/reference.js';"],
      ['src/network/probe.ts', "import { x } from '../runtime/runc.js';"],
      ['src/services/probe.ts', "import { x } from '../cri/table.js';"],
      ['src/services/probe.ts', "import type { VersionRequest } from '../cri/generated/v1/runtime/v1/VersionRequest.js';"],
      ['src/streaming/probe.ts', "import { x } from '../services/stream-runtime.js';"],
      ['src/image/probe.ts', "import { spawn } from 'node:child_process';"],
      ['src/image/probe.ts', 'export const home = process.env.HOME;'],
      ['src/services/probe.ts', "import { PromMetrics } from '../metrics/prom.js';"],
      ['src/cri/probe.ts', "import { PromMetrics } from '../metrics/prom.js';"],
      ['src/streaming/probe.ts', "import { PromMetrics } from '../metrics/prom.js';"],
      ['src/metrics/probe.ts', "import { x } from '../services/stats-service.js';"],
      ['src/metrics/probe.ts', "import { x } from '../cri/table.js';"],
      ['src/cri/probe.ts', "import { Counter } from 'prom-client';"],
      ['src/services/probe.ts', "import { Counter } from 'prom-client';"],
      ['src/daemon.ts', "import { startMetricsServer } from './metrics/server.js';"],
      ['src/metrics/probe.ts', "import { spawn } from 'node:child_process';"],
    ];
    for (const [file, code] of cases) {
      const msgs = layering(await lint(file, code));
      expect(msgs, `${file}: ${code}`).not.toHaveLength(0);
    }
  }, 60_000);

  it('allows imports that point downward', async () => {
    const cases: [string, string][] = [
      ['src/services/probe.ts', "import { x } from '../oci/build-container-spec.js';"],
      ['src/oci/probe.ts', "import { invalidArgument } from '../errors/index.js';"],
      ['src/image/probe.ts', "import { writeFileAtomic } from '../store/atomic-file.js';"],
      ['src/cri/probe.ts', "import type { VersionRequest } from './generated/v1/runtime/v1/VersionRequest.js';"],
      ['src/daemon2.ts', "import { x } from './cri/server.js';"],
      ['src/daemon.ts', "import type { MetricsServer } from './metrics/server.js';"],
      ['src/daemon.ts', "export const load = () => import('./metrics/server.js');"],
      ['src/metrics/probe.ts', "import { Counter } from 'prom-client';"],
      ['src/metrics/probe.ts', "import type { RuntimeMetrics } from '../domain/metrics-port.js';"],
      ['src/services/probe.ts', "import type { PullMetrics } from '../domain/metrics-port.js';"],
    ];
    for (const [file, code] of cases) expect(layering(await lint(file, code)), `${file}: ${code}`).toEqual([]);
  }, 60_000);
});
