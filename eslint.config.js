import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import tsdoc from 'eslint-plugin-tsdoc';

export default tseslint.config(
  { ignores: ['dist/', 'docs/reference/', 'coverage/', 'node_modules/', '**/*.generated.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { tsdoc },
    rules: {
      'tsdoc/syntax': 'warn',
      // Time comes from the injected Clock, so tests can drive it.
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Use the injected Clock.' }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/adapters/**', '**/stores/redis/**'], message: 'Core must not depend on adapters or the Redis store.' }] },
      ],
    },
  },
  {
    files: ['src/adapters/**/*.ts', 'src/redis/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The store imports nothing of the core but its ports; the pair in src/redis links it to the limiter.
    files: ['src/stores/redis/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/core/*', '!**/core/store.js', '!**/core/types.js', '!**/core/clock.js', '!**/core/config-error.js', '**/redis/*', '!./**'],
              message: 'The Redis store imports only the core ports (store, types, clock, config-error).',
            },
          ],
        },
      ],
    },
  },
  {
    // The Prometheus binding sees only the core's metrics hook (and prom-client).
    files: ['src/prometheus/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/http/**', '**/adapters/**', '**/stores/**', '**/redis/**', '**/testing/**'], message: 'src/prometheus may import only the core.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
