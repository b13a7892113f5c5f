/**
 * Installing from git, as `npm install git+https://…` users do: npm clones the repository, installs its
 * devDependencies and runs `prepare`, which must build dist/ (a tarball from `npm pack` cannot show
 * this, since it is packed from an already-built tree). The clone is a temporary git repository holding
 * this working tree as one commit, so uncommitted changes are tested too.
 *
 * It takes two to four minutes (npm installs every devDependency in the clone), so it runs only on CI
 * (`CI=true`) or with `MDE_PACKAGE_TESTS=full`.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FULL_PACKAGE_TESTS, npmInstall, ROOT, run, runNode, TempDirs, writeFiles } from './helpers.js';
import { EXPECTED_SCENARIO, SCENARIO } from './scenario.js';

const temp = new TempDirs();

afterAll(() => {
  temp.cleanup();
});

/** Copies the working tree (tracked and untracked files, minus .gitignore'd ones) into a one-commit repository. */
async function snapshotRepository(): Promise<string> {
  const repo = temp.make('git-source');
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, timeoutMs: 30_000 });
  for (const file of stdout.split('\0')) {
    // A tracked file deleted in the working tree is still listed by --cached.
    if (file === '' || !existsSync(join(ROOT, file))) continue;
    mkdirSync(dirname(join(repo, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(repo, file));
  }
  const git = (args: string[]): Promise<unknown> => run('git', args, { cwd: repo, timeoutMs: 60_000 });
  await git(['init', '--quiet']);
  await git(['add', '--all']);
  await git(['-c', 'user.name=package test', '-c', 'user.email=package-test@localhost', 'commit', '--quiet', '--no-verify', '-m', 'snapshot']);
  return repo;
}

describe.runIf(FULL_PACKAGE_TESTS)('installing from a git URL', () => {
  it('builds dist/ through prepare, ships no tests, and runs as ESM and CJS', async () => {
    const repo = await snapshotRepository();
    const consumer = temp.make('consumer-git');
    writeFiles(consumer, {
      'package.json': JSON.stringify({ name: 'consumer-from-git', private: true, type: 'module' }),
      'esm.mjs': `import * as lib from 'matrix-delayed-events';\nimport * as testing from 'matrix-delayed-events/testing';\n${SCENARIO}\nconsole.log(JSON.stringify(await scenario(lib, testing)));\n`,
      'cjs.cjs': `const lib = require('matrix-delayed-events');\nconst testing = require('matrix-delayed-events/testing');\n${SCENARIO}\nscenario(lib, testing).then((r) => console.log(JSON.stringify(r)));\n`,
    });
    const started = Date.now();
    await npmInstall(consumer, [`git+file://${repo}#HEAD`], 540_000);
    console.log(`[package] npm install from git took ${Math.round((Date.now() - started) / 1000)} s`);

    const installed = join(consumer, 'node_modules/matrix-delayed-events');
    expect(existsSync(join(installed, 'dist/index.js'))).toBe(true);
    expect(existsSync(join(installed, 'dist/testing/conformance.js'))).toBe(true);
    // `files` keeps the sources, the tests and the 200 MB test sub-package out of the install.
    expect(existsSync(join(installed, 'src'))).toBe(false);
    expect(existsSync(join(installed, 'test'))).toBe(false);

    for (const script of ['esm.mjs', 'cjs.cjs']) {
      const printed = (await runNode(consumer, script)).trim().split('\n').pop() ?? '';
      expect(JSON.parse(printed), script).toEqual(EXPECTED_SCENARIO);
    }
  }, 600_000);
});
