/**
 * Lints the package as it would be published: packs it once (`npm pack`, which runs `prepare`, the
 * build), then runs publint and @arethetypeswrong/cli on that one tarball.
 *
 * attw runs twice so that each rule is only as loose as it must be:
 * - every dual (ESM + CJS) entry under the `node16` profile: node10 cannot resolve subpath exports at
 *   all, which is expected for a package with `exports` and Node >= 20;
 * - `./testing/conformance` under the `esm-only` profile: it is ESM-only on purpose (Vitest cannot be
 *   `require()`d), so only its CJS resolutions are excused, and its ESM and bundler types still count.
 *
 * Usage: `npm run lint:package`; exits non-zero when any check fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ESM_ONLY = ['testing/conformance'];
const bin = (name: string): string => join(root, 'node_modules/.bin', name);

const dest = mkdtempSync(join(tmpdir(), 'mde-lint-package-'));
try {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  ) as { filename: string }[];
  const filename = packed[0]?.filename;
  if (filename === undefined) throw new Error('npm pack --json named no tarball');
  const tarball = join(dest, filename);

  const run = (command: string, args: string[]): void => {
    console.log(`\n$ ${[command, ...args].join(' ')}`);
    execFileSync(bin(command), args, { cwd: root, stdio: 'inherit' });
  };
  run('publint', ['run', '--strict', tarball]);
  run('attw', [tarball, '--profile', 'node16', '--exclude-entrypoints', ...ESM_ONLY]);
  run('attw', [tarball, '--profile', 'esm-only', '--entrypoints', ...ESM_ONLY]);
} catch (error) {
  // execFileSync already printed the failing tool's report; only say which step stopped.
  console.error(`lint:package failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  process.exitCode = 1;
} finally {
  rmSync(dest, { recursive: true, force: true });
}
