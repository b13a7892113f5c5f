/**
 * Sends calls as batches (one `EVALSHA` for many heartbeats) when they pile up, without a timer: a
 * call made while no batch is in flight goes out at the end of the current burst of promise
 * continuations (`process.nextTick`), together with every call made in that burst; calls made while
 * a batch is in flight wait for it and then go out together (Nagle-style). Under load this spares the
 * client and Redis most of the per-command cost, and callers resumed by one reply send their next
 * calls as one batch (not one alone and the rest behind it); when idle it adds no waiting.
 *
 * @internal
 * @packageDocumentation
 */

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (reason: unknown) => void;
}

/** @internal */
export class MicroBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private flushScheduled = false;

  /**
   * @param run - Runs one batch; must return one result per item, in order.
   * @param maxBatch - Largest batch; a full queue goes out even while other batches are in flight.
   * @param maxInFlight - Batches on their way at once; more calls wait for one of them to return.
   */
  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly maxBatch: number,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (this.inFlight < this.maxInFlight) this.scheduleFlush();
    });
  }

  /**
   * Flushes once the current burst of promise continuations has run (\`process.nextTick\` runs after
   * the microtask queue is empty), so calls made by callers resumed by the same reply go together
   * instead of the first one going alone. No timer: a lone call still goes out at once.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      if (this.inFlight < this.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.inFlight++;
    let running: Promise<readonly O[]>;
    try {
      running = this.run(batch.map((pending) => pending.item));
    } catch (error) {
      running = Promise.reject(error);
    }
    running
      .then(
        (results) => {
          batch.forEach((pending, i) => {
            if (i < results.length) pending.resolve(results[i] as O);
            else pending.reject(new Error('batch returned too few results'));
          });
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      )
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.scheduleFlush();
      });
  }
}
