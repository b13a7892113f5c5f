/**
 * Vitest global setup: installs `test/e2e/current-sdk` (the current matrix-js-sdk and the Node 22 it
 * needs, about 200 MB) before the suite runs, so `npm ci && npm test` still does all the set-up while the
 * root package's `prepare` stays a plain build that consumers installing from git never pay for.
 *
 * It runs `npm ci` there only when that folder's node_modules is missing or older than its
 * package-lock.json (as after a lockfile change), so a warm checkout pays one `stat`.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SDK_DIR = fileURLToPath(new URL('../e2e/current-sdk/', import.meta.url));
const LOCKFILE = `${SDK_DIR}package-lock.json`;
// npm ci rewrites this hidden lockfile at the end of every install, so its mtime is the install's.
const INSTALLED_MARKER = `${SDK_DIR}node_modules/.package-lock.json`;
const NODE22 = `${SDK_DIR}node_modules/node/bin/node`;
const INSTALL_TIMEOUT_MS = 5 * 60_000;

function mtimeMs(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Whether `npm ci` must (re)install the sub-package. */
export function currentSdkNeedsInstall(): boolean {
  const installed = mtimeMs(INSTALLED_MARKER);
  if (installed === undefined || mtimeMs(NODE22) === undefined) return true;
  return (mtimeMs(LOCKFILE) ?? 0) > installed;
}

export default async function setup(): Promise<void> {
  if (!currentSdkNeedsInstall()) return;
  console.log('[current-sdk] installing test/e2e/current-sdk (npm ci) for the matrix-js-sdk 43 end-to-end test');
  await new Promise<void>((resolve, reject) => {
    execFile(
      'npm',
      ['ci', '--prefix', SDK_DIR, '--no-audit', '--no-fund'],
      { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`npm ci --prefix test/e2e/current-sdk failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve();
      },
    );
  });
}
