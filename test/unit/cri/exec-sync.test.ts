import { describe, expect, it } from 'vitest';
import { execSync } from '../../../src/cri/runtime/exec-sync.js';
import { loadCriServices } from '../../../src/cri/protos.js';
import { nullLogger } from '../../../src/log/index.js';
import type { ExecService } from '../../../src/services/exec-service.js';

const fake = (stdout: string, stderr: string) =>
  ({ execSync: async () => ({ stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), exitCode: 3 }) }) as unknown as ExecService;

async function encoded(stdout: string, stderr: string): Promise<Buffer> {
  const rpc = execSync(fake(stdout, stderr));
  const res = await rpc.handle({ container_id: 'c', cmd: ['true'], timeout: '0' }, { signal: new AbortController().signal, log: nullLogger(), apiVersion: 'v1alpha2' });
  return loadCriServices('v1alpha2').runtime.ExecSync!.responseSerialize(res);
}

describe('ExecSync response encoding', () => {
  it('leaves empty outputs off the wire, so Go clients see nil rather than an empty slice', async () => {
    // Only field 3 (exit_code = 3): tag 0x18, value 3.
    expect([...(await encoded('', ''))]).toEqual([0x18, 3]);
  });

  it('keeps outputs that have bytes', async () => {
    const b = await encoded('hi', '');
    expect([...b]).toEqual([0x0a, 2, 0x68, 0x69, 0x18, 3]);
    expect([...(await encoded('', 'e'))]).toEqual([0x12, 1, 0x65, 0x18, 3]);
  });
});
