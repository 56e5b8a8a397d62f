// ESLint flat config: typescript-eslint with type information, plus the layering rule of ARCHITECTURE.md.
// Imports point downward only:
//   main → daemon → cri, streaming, metrics → services → oci, runtime, image, network, store → sys, domain, errors
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Patterns are matched against the import specifier as written (relative), so they name the folder anywhere.
const up = (...dirs) => dirs.flatMap((d) => [`**/${d}`, `**/${d}/**`, `**/${d}.js`]);
const node = (...mods) => mods.flatMap((m) => [`node:${m}`, m]);

/** A layer: files under `dir` may not import the folders in `banned` nor the node modules in `banMods`. */
function layer(dir, banned, banMods = [], extra = []) {
  return {
    files: [`src/${dir}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(banned.length
              ? [{ group: up(...banned), message: `layering: src/${dir} may not import a higher or sibling layer (see ARCHITECTURE.md)` }]
              : []),
            { group: ['**/cri/generated/**'], message: 'layering: protobuf types stay inside src/cri' },
            ...extra,
          ],
          paths: banMods.map((name) => ({ name, message: `layering: src/${dir} must not touch the host through ${name}` })),
        },
      ],
    },
  };
}

const top = ['main', 'daemon', 'cri', 'streaming', 'metrics', 'services'];
const hostMods = node('fs', 'fs/promises', 'child_process', 'net', 'http', 'https', 'dgram', 'os', 'process');

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/cri/generated/**', 'src/domain/cri-types.ts', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      'no-console': 'error',
      // Verbs are async by contract even when their work is synchronous.
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  // Layers, lowest first.
  layer('errors', [...top, 'oci', 'runtime', 'image', 'network', 'store', 'sys', 'domain', 'config', 'log'], hostMods),
  layer('domain', [...top, 'oci', 'runtime', 'image', 'network', 'store', 'sys', 'config', 'log'], hostMods),
  layer('oci', [...top, 'runtime', 'image', 'network', 'store', 'sys', 'config', 'log'], hostMods),
  layer('sys', [...top, 'oci', 'runtime', 'image', 'network', 'store', 'config']),
  layer('log', [...top, 'oci', 'runtime', 'image', 'network', 'store', 'sys']),
  layer('config', [...top, 'oci', 'runtime', 'image', 'network', 'store', 'sys']),
  layer('store', [...top, 'oci', 'runtime', 'image', 'network']),
  layer('runtime', [...top, 'image', 'network', 'store']),
  layer('image', [...top, 'oci', 'runtime', 'network']),
  layer('network', [...top, 'oci', 'runtime', 'image', 'store']),
  layer('streaming', ['main', 'daemon', 'cri', 'metrics', 'services', 'oci', 'runtime', 'image', 'network', 'store']),
  // metrics/ is the one place that loads prom-client; the layers report to it through domain/metrics.ts.
  layer('metrics', ['main', 'daemon', 'cri', 'streaming', 'services', 'oci', 'runtime', 'image', 'network', 'store']),
  layer('services', ['main', 'daemon', 'cri', 'streaming', 'metrics']),
  layer('cri', ['main', 'daemon', 'streaming', 'metrics'], [], []),
  {
    // cri/ is the one place that may see generated protobuf types.
    files: ['src/cri/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: up('main', 'daemon', 'streaming', 'metrics'), message: 'layering: src/cri may not import a higher layer' }] }],
    },
  },
  {
    // Only sys/process-runner.ts starts processes. prom-client stays inside src/metrics, and the daemon loads that
    // folder with import() only when [metrics] is on (a static import would load the library into every daemon).
    files: ['src/**/*.ts'],
    ignores: ['src/sys/process-runner.ts', 'src/metrics/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "ImportDeclaration[source.value=/^(node:)?child_process$/]", message: 'only src/sys/process-runner.ts may import child_process' },
        { selector: "ImportDeclaration[source.value='prom-client']", message: 'layering: only src/metrics may import prom-client' },
        { selector: "ImportDeclaration[importKind!='type'][source.value=/(^|\\/)metrics\\//]", message: 'layering: load src/metrics with import() when [metrics] is on, never statically' },
      ],
    },
  },
  {
    files: ['src/metrics/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', { selector: "ImportDeclaration[source.value=/^(node:)?child_process$/]", message: 'only src/sys/process-runner.ts may import child_process' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**', 'src/main.ts', 'src/cli.ts', 'src/sys/process-runner.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'only src/config and src/main (main.ts, cli.ts) read the environment' }],
    },
  },
  {
    files: ['test/**/*.ts', 'hack/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-console': 'off',
    },
  },
);
