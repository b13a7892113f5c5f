/**
 * Sends calls as batches (one `EVALSHA` for many heartbeats) when they pile up, without delaying a
 * lone call: a call made while no batch is in flight goes out at once; calls made while one is in
 * flight wait for it and then go out together (Nagle-style). Under load this spares the client and
 * Redis most of the per-command cost; when idle it adds no latency.
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

  /**
   * @param run - Runs one batch; must return one result per item, in order.
   * @param maxBatch - Largest batch; a full queue goes out even while another batch is in flight.
   */
  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly maxBatch: number,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.inFlight === 0 || this.queue.length >= this.maxBatch) this.flush();
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
        if (this.inFlight === 0) this.flush();
      });
  }
}
