/**
 * The pub/sub side of the Redis store: one subscriber connection per store, made with `duplicate()`
 * on first `watch()`, that hands "new earliest due time" messages to the scheduler.
 *
 * @internal
 * @packageDocumentation
 */
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../../core/types.js';
import type { RedisClient } from './redis-connection.js';

/** Listener of wake-up messages. @internal */
export type WakeListener = (dueAtMs: number) => void;

/** @internal */
export class WakeSubscriber {
  private readonly listeners = new Set<WakeListener>();
  private subscriber: RedisClient | undefined;
  private readyBefore = false;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    private readonly logger: Logger,
    /** Asked after a reconnect, since messages published while disconnected are lost. */
    private readonly nextDueAtMs: () => Promise<number | undefined>,
  ) {}

  watch(listener: WakeListener): () => void {
    this.listeners.add(listener);
    this.start();
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(dueAtMs: number): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(dueAtMs);
      } catch (error) {
        this.logger.error?.({ err: error }, 'delayed events: a wake-up listener threw');
      }
    }
  }

  private start(): void {
    if (this.subscriber !== undefined) return;
    // A subscriber must queue its SUBSCRIBE until connected, whatever the main client's settings.
    const subscriber = this.client.isCluster
      ? (this.client as Cluster).duplicate(undefined, { redisOptions: { enableOfflineQueue: true }, enableOfflineQueue: true })
      : (this.client as Redis).duplicate({ enableOfflineQueue: true, lazyConnect: false });
    this.subscriber = subscriber;
    // Without an 'error' listener, a connection error would crash the process.
    subscriber.on('error', (error: unknown) => {
      this.logger.warn?.({ err: error }, 'delayed events: Redis subscriber connection error');
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const dueAtMs = Number(message);
      if (Number.isFinite(dueAtMs)) this.emit(dueAtMs);
    });
    subscriber.on('ready', () => {
      if (!this.readyBefore) {
        this.readyBefore = true;
        return;
      }
      // Reconnected: anything published meanwhile was missed, so re-announce the earliest due time.
      this.nextDueAtMs().then(
        (dueAtMs) => {
          if (dueAtMs !== undefined) this.emit(dueAtMs);
        },
        (error: unknown) => this.logger.debug?.({ err: error }, 'delayed events: nextDueAtMs after reconnect failed'),
      );
    });
    subscriber.subscribe(this.channel).catch((error: unknown) => {
      this.logger.warn?.({ err: error }, 'delayed events: SUBSCRIBE failed; relying on polling');
    });
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return;
    try {
      if (subscriber.status === 'ready') await subscriber.quit();
      else subscriber.disconnect();
    } catch {
      subscriber.disconnect();
    }
  }
}
