/** docs/guide/configuration.md is generated from the options' TSDoc and must be up to date. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

it('the configuration reference matches the TSDoc of the options (npx tsx scripts/gen-config-reference.ts)', () => {
  const output = execFileSync(`${ROOT}node_modules/.bin/tsx`, ['scripts/gen-config-reference.ts', '--check'], { cwd: ROOT, encoding: 'utf8' });
  expect(output).toContain('up to date');
});
