// Golden config.json files for representative kubelet-made configs. Regenerate with
//   UPDATE_GOLDEN=1 npm run test:unit -- test/unit/oci/golden.test.ts
// and review the diff by hand against the OCI runtime spec (config.md, config-linux.md) before committing.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildContainerSpec } from '../../../src/oci/build-container-spec.js';
import { buildSandboxSpec } from '../../../src/oci/build-sandbox-spec.js';
import type { Spec } from '../../../src/oci/spec.js';
import { GOLDEN_CASES } from './golden-cases.js';

const DIR = join(import.meta.dirname, '../../fixtures/oci');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** format writes JSON with two-space indent, but arrays of plain values on one line, so goldens stay readable. */
export function format(value: unknown, indent = ''): string {
  const next = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
    return `[\n${value.map((v) => next + format(v, next)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, v]) => `${next}${JSON.stringify(k)}: ${format(v, next)}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

function build(c: (typeof GOLDEN_CASES)[number]): Spec {
  return c.kind === 'container' ? buildContainerSpec(c.input()) : buildSandboxSpec(c.input());
}

describe('golden config.json files', () => {
  for (const c of GOLDEN_CASES) {
    it(`${c.name}: ${c.about}`, () => {
      const spec = build(c);
      const file = join(DIR, `${c.name}.json`);
      const text = `${format(spec)}\n`;
      if (UPDATE) {
        mkdirSync(DIR, { recursive: true });
        writeFileSync(file, text);
      }
      expect(existsSync(file), `golden ${file} missing: run with UPDATE_GOLDEN=1`).toBe(true);
      expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(file, 'utf8')));
      c.check?.(spec);
    });
  }
});
