/** Parent-side handle of a side running in its own child process. */
import { Child } from './child.js';
import { SIDES, type SideName } from '../sides/index.js';
import type { Side, SideSettings } from '../sides/types.js';

type Reply = { ok: true; value: unknown } | { ok: false; error: string };

/** Heap limit of side processes: the memory scenarios hold a million events. */
const HEAP_FLAGS = ['--max-old-space-size=8192', '--expose-gc'];

export class SideProcess {
  private constructor(
    readonly name: SideName,
    private readonly child: Child<Reply>,
  ) {}

  get label(): string {
    return SIDES[this.name].label;
  }

  get ours(): boolean {
    return SIDES[this.name].ours;
  }

  /** Starts the child and builds the side in it. */
  static async start(name: SideName, settings: SideSettings): Promise<SideProcess> {
    const child = new Child<Reply>('children/side.ts', [name], HEAP_FLAGS);
    child.send(settings);
    const reply = await child.next(120_000);
    if (!reply.ok) {
      await child.close();
      throw new Error(`side ${name} failed to start: ${reply.error}`);
    }
    return new SideProcess(name, child);
  }

  /** Calls a side method in the child. */
  async call<M extends Exclude<keyof Side, 'close'>>(
    method: M,
    ...args: Parameters<NonNullable<Side[M]>>
  ): Promise<Awaited<ReturnType<NonNullable<Side[M]>>>> {
    this.child.send({ method, args });
    const reply = await this.child.next();
    if (!reply.ok) throw new Error(`${this.name}.${method}: ${reply.error}`);
    return reply.value as Awaited<ReturnType<NonNullable<Side[M]>>>;
  }

  /** Closes the side and ends the child. */
  async close(): Promise<void> {
    try {
      if (this.child.process.connected) {
        this.child.send({ method: 'close', args: [] });
        await this.child.next(30_000).catch(() => undefined);
      }
    } finally {
      await this.child.close();
    }
  }
}
