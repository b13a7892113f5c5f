/**
 * Prints the functions with the most self time in a V8 `.cpuprofile` (from `node --cpu-prof`), with
 * their file and line, and the total per file.
 *
 *   npx tsx bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile [top=30]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const selfTime = new Map<number, number>();
profile.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfTime.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
for (const node of profile.nodes) {
  const t = selfTime.get(node.id) ?? 0;
  if (t === 0) continue;
  const url = node.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
  const key = `${node.callFrame.functionName || '(anonymous)'}  ${url}:${node.callFrame.lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + t);
  const fileKey = url || '(native)';
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + t);
}
const pct = (t: number): string => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(`total sampled: ${(total / 1e6).toFixed(2)} s`);
console.log('\nself time by function:');
for (const [key, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30))) console.log(`${pct(t)}  ${key}`);
console.log('\nself time by file:');
for (const [key, t] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(t)}  ${key}`);
