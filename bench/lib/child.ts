/**
 * Runs a TypeScript file of bench/ in a child Node process (through tsx) and exchanges JSON messages
 * with it over IPC. Used where a scenario needs its own heap (`--expose-gc`), its own event loop
 * (HTTP servers under load) or several processes (the fleet).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A running child with a typed message channel. */
export class Child<Out = unknown> {
  readonly process: ChildProcess;
  private readonly queue: Out[] = [];
  private waiters: Array<(message: Out) => void> = [];
  private failure: Error | undefined;
  private readonly exited: Promise<number | null>;

  /**
   * @param file - Path relative to bench/ (e.g. `children/memory.ts`).
   * @param args - argv for the child.
   * @param execArgv - Extra Node flags (e.g. `--expose-gc`).
   */
  constructor(file: string, args: readonly string[] = [], execArgv: readonly string[] = []) {
    const path = fileURLToPath(new URL(`../${file}`, import.meta.url));
    this.process = fork(path, [...args], {
      // The node binary of this process can vanish under a concurrent `npm install` (the project has
      // a `node` devDependency); fall back to the one on PATH rather than fail the whole run.
      execPath: existsSync(process.execPath) ? process.execPath : 'node',
      execArgv: ['--import', 'tsx', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process.on('error', (error) => {
      this.failure = new Error(`bench child ${file} failed: ${error.message}`);
      for (const waiter of this.waiters.splice(0)) waiter(undefined as Out);
    });
    this.process.on('message', (message) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(message as Out);
      else this.queue.push(message as Out);
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        this.failure = new Error(`bench child ${file} exited with code ${String(code)}`);
        for (const waiter of this.waiters.splice(0)) waiter(undefined as Out);
        resolve(code);
      });
    });
  }

  /** Sends a message to the child. */
  send(message: unknown): void {
    this.process.send(message as object);
  }

  /** The next message from the child (rejects if it exits first, or after `timeoutMs`). */
  async next(timeoutMs = 600_000): Promise<Out> {
    const queued = this.queue.shift();
    if (queued !== undefined) return queued;
    if (this.failure) throw this.failure;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Out>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`bench child sent nothing for ${timeoutMs} ms`)), timeoutMs);
        this.waiters.push((message) => (message === undefined ? reject(this.failure) : resolve(message)));
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the child to exit, killing it after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    if (this.process.connected) this.process.disconnect();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** In a child: sends a message to the parent. */
export function toParent(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('not started as a bench child'));
      return;
    }
    process.send(message as object, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

const inbox: unknown[] = [];
const inboxWaiters: Array<(message: unknown) => void> = [];
let listening = false;

/** In a child: the next message from the parent (messages are queued from the first call on). */
export function fromParent<T>(): Promise<T> {
  if (!listening) {
    listening = true;
    process.on('message', (message) => {
      const waiter = inboxWaiters.shift();
      if (waiter) waiter(message);
      else inbox.push(message);
    });
    // The parent going away ends the child.
    process.on('disconnect', () => process.exit(0));
  }
  if (inbox.length > 0) return Promise.resolve(inbox.shift() as T);
  return new Promise((resolve) => inboxWaiters.push((message) => resolve(message as T)));
}

/** In a child: starts listening to the parent at once, so no early message is lost. */
export function listenToParent(): void {
  if (!listening) void fromParent<unknown>().then((first) => inbox.unshift(first));
}
