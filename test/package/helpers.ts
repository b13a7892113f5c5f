/**
 * Helpers for the packed-package tests: pack the repository the way `npm publish` would, and install
 * the tarball into throwaway consumer projects under the OS temp directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** Whether the slow checks (installing from a git URL, about two minutes) run: on CI or when asked. */
export const FULL_PACKAGE_TESTS = process.env['CI'] === 'true' || process.env['MDE_PACKAGE_TESTS'] === 'full';

/**
 * The environment for child npm commands: `npm test` exports its own lifecycle and package variables,
 * and `npm_config_local_prefix` among them would make npm in a consumer folder act on this repository.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(lifecycle_|package_|command$|config_local_prefix$)/i.test(key) || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** What a finished command printed. */
export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; rejects with both outputs when it fails or runs past `timeoutMs`. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs, env: options.env ?? childEnv(), maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${command} ${args.join(' ')} (in ${options.cwd}) failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

/** Runs a script with the current Node and returns its stdout. */
export async function runNode(cwd: string, script: string, timeoutMs = 30_000): Promise<string> {
  return (await run(process.execPath, [script], { cwd, timeoutMs })).stdout;
}

/** A temp folder that {@link TempDirs.cleanup} removes. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(label: string): string {
    const dir = mkdtempSync(join(tmpdir(), `mde-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** One entry of `npm pack --json`. */
interface PackEntry {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

/** The packed tarball and the file list npm reported for it. */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly string[];
}

/**
 * `npm pack --json` into `dest`. `npm pack` runs `prepare` (the build) first, so this also checks that
 * the build prints nothing on stdout: anything it printed would make the JSON unparseable here.
 */
export async function packRepo(dest: string): Promise<Packed> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: ROOT, timeoutMs: 180_000 });
  let entries: PackEntry[];
  try {
    entries = JSON.parse(stdout) as PackEntry[];
  } catch (error) {
    throw new Error(`npm pack --json printed something other than JSON on stdout (${String(error)}):\n${stdout.slice(0, 2000)}`);
  }
  const entry = entries[0];
  if (entries.length !== 1 || entry === undefined) throw new Error(`npm pack --json listed ${entries.length} packages`);
  return { tarball: join(dest, entry.filename), files: entry.files.map((f) => f.path) };
}

/** `name@version` of a package as installed in this repository, so consumer installs hit the npm cache. */
export function repoVersionOf(name: string): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return `${name}@${pkg.version}`;
}

/** Writes the files of a consumer project into `dir` (paths relative to it). */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/** `npm install` of the given specs into `dir`, preferring the npm cache over the network. */
export async function npmInstall(dir: string, specs: readonly string[], timeoutMs = 120_000): Promise<void> {
  // As an environment variable, prefer-offline also reaches the nested `npm install` that npm runs in a git
  // dependency's clone; as a flag it would not.
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', ...specs], {
    cwd: dir,
    timeoutMs,
    env: childEnv({ npm_config_prefer_offline: 'true' }),
  });
}
