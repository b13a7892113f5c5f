/** Child process hosting one side (see bench/sides/); driven by the parent over IPC. */
import { fromParent, toParent } from '../lib/child.js';
import { SIDES, type SideName } from '../sides/index.js';
import type { Side, SideSettings } from '../sides/types.js';

interface Call {
  readonly method: keyof Side;
  readonly args: unknown[];
}

async function main(): Promise<void> {
  const name = process.argv[2] as SideName;
  const info = SIDES[name];
  if (!info) throw new Error(`unknown side ${String(name)}`);
  const settings = await fromParent<SideSettings>();
  const side = await info.factory(settings);
  await toParent({ ok: true, value: 'ready' });
  for (;;) {
    const call = await fromParent<Call>();
    const method = side[call.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    try {
      if (typeof method !== 'function') throw new Error(`side ${name} has no ${String(call.method)}`);
      const value = await method.apply(side, call.args);
      await toParent({ ok: true, value: value ?? null });
    } catch (error) {
      await toParent({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
    if (call.method === 'close') break;
  }
  process.exit(0);
}

main().catch(async (error: unknown) => {
  await toParent({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }).catch(() => {});
  process.exit(1);
});
