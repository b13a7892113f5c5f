/**
 * The layering of docs/architecture.md, checked on every import in src/: adapters → http → core ← stores.
 * A new import that breaks it fails here, not in a review months later.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');

/** The core modules a store may use: the contract it implements and the types it speaks. */
const CORE_PORTS = ['core/store.ts', 'core/types.ts', 'core/clock.ts', 'core/config-error.ts'];

/** For each folder, the folders (or single modules) it may import from, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  stores: CORE_PORTS,
  http: ['core'],
  adapters: ['http', 'core'],
  // The `./redis` entry composes the Redis store with the core's rate limiter.
  redis: ['stores', 'core'],
  // The Prometheus binding sees only the core's metrics hook.
  prometheus: ['core'],
  testing: ['core'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a module, resolved to paths under src/ (`.js` specifiers name `.ts` files). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from\s+'([^']+)'/g)].map((m) => m[1] as string);
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => relative(SRC, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts'));
}

function layerOf(path: string): string {
  return path.split('/')[0] as string;
}

function mayImport(from: string, target: string): boolean {
  const layer = layerOf(from);
  if (layerOf(target) === layer) return true;
  const allowed = ALLOWED[layer];
  if (allowed === undefined) return true; // src/index.ts and other entry points compose everything
  return allowed.some((rule) => (rule.endsWith('.ts') ? target === rule : layerOf(target) === rule));
}

describe('architecture', () => {
  const files = sourceFiles(SRC).map((file) => ({ file, path: relative(SRC, file) }));

  it('finds the layers it checks', () => {
    const layers = new Set(files.map(({ path }) => layerOf(path)));
    for (const layer of ['core', 'stores', 'http', 'adapters']) expect(layers).toContain(layer);
  });

  it('has every import point the way the layers allow', () => {
    const violations: string[] = [];
    for (const { file, path } of files) {
      for (const target of importsOf(file)) {
        if (!mayImport(path, target)) violations.push(`${path} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keeps the scheduler orchestration only (at most 250 lines)', () => {
    const lines = readFileSync(join(SRC, 'core/delayed-event-scheduler.ts'), 'utf8').split('\n').length;
    expect(lines).toBeLessThanOrEqual(250);
  });
});
