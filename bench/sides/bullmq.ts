/**
 * Baseline: BullMQ delayed jobs on the same Redis, used the standard way: `Queue.add` with `delay`,
 * `job.changeDelay(delay)` to restart, `job.remove()` to cancel, a `Worker` with concurrency 100 to
 * deliver. Job data carries the same fields the library stores (user, device, room, type, state key,
 * content). The `Job` objects returned by `add` are kept and reused, so restart and cancel cost one
 * BullMQ call each (no `Job.fromId` lookup): the most favourable way to drive BullMQ.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { BenchEvent } from '../lib/data.js';
import { permutation, randomIndexes, runLanes } from '../lib/stats.js';
import { IDLE_DELAY_MS, gcIfExposed, StormRecorder, eventsFor, waitUntil, withStormInstant } from './common.js';
import type { Side, SideFactory } from './types.js';

interface JobData {
  userId: string;
  deviceId: string;
  roomId: string;
  type: string;
  stateKey: string;
  content: Record<string, unknown>;
}

function dataOf(ev: BenchEvent): JobData {
  return { userId: ev.userId, deviceId: ev.deviceId, roomId: ev.roomId, type: ev.type, stateKey: ev.stateKey, content: ev.content };
}

export const createBullmqSide: SideFactory = async (settings) => {
  if (settings.redisUrl === undefined) throw new Error('BullMQ side without a Redis URL');
  const url = new URL(settings.redisUrl);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const queues: Queue[] = [];
  let jobs: Job[] = [];
  let queueCounter = 0;

  const newQueue = (): Queue => {
    const queue = new Queue(`bench${process.pid}x${++queueCounter}`, { connection });
    queues.push(queue);
    return queue;
  };

  const addAll = async (queue: Queue, events: readonly BenchEvent[], opts: (ev: BenchEvent) => object): Promise<Job[]> => {
    const out: Job[] = [];
    for (let i = 0; i < events.length; i += 1000) {
      const chunk = events.slice(i, i + 1000);
      out.push(...(await queue.addBulk(chunk.map((ev) => ({ name: 'ev', data: dataOf(ev), opts: opts(ev) })))));
    }
    return out;
  };

  const side: Side = {
    async heartbeatSetup(n) {
      jobs = await addAll(newQueue(), eventsFor(n, 'hb'), () => ({ delay: IDLE_DELAY_MS }));
    },
    async heartbeat(ops, seed) {
      const order = randomIndexes(ops, jobs.length, seed);
      const elapsedMs = await runLanes(ops, settings.inFlight, (i) => jobs[order[i]!]!.changeDelay(IDLE_DELAY_MS));
      return { ops, elapsedMs, failed: 0 };
    },
    async schedule(n, run) {
      const queue = newQueue();
      const events = eventsFor(n, `s${run}`);
      const elapsedMs = await runLanes(n, settings.inFlight, (i) => queue.add('ev', dataOf(events[i]!), { delay: IDLE_DELAY_MS }));
      return { ops: n, elapsedMs, failed: 0 };
    },
    async cancelSetup(n, run) {
      jobs = await addAll(newQueue(), eventsFor(n, `c${run}`), () => ({ delay: IDLE_DELAY_MS }));
    },
    async cancel(seed) {
      const order = permutation(jobs.length, seed);
      const elapsedMs = await runLanes(order.length, settings.inFlight, (i) => jobs[order[i]!]!.remove());
      return { ops: order.length, elapsedMs, failed: 0 };
    },
    async storm(n, run) {
      const events = eventsFor(n, `st${run}`);
      return withStormInstant(n, 0.3, async (dueAtMs, setupDone) => {
        const queue = newQueue();
        const recorder = new StormRecorder(n, dueAtMs);
        const created = Date.now();
        // BullMQ's delayed timestamp is job.timestamp + delay: every job falls due at exactly dueAtMs.
        const added = await addAll(queue, events, () => ({
          timestamp: created,
          delay: dueAtMs - created,
          removeOnComplete: true,
          removeOnFail: true,
        }));
        if (!setupDone()) {
          await queue.obliterate({ force: true });
          return undefined;
        }
        const ids = new Map(added.map((job, i) => [job.id!, events[i]!.delayId]));
        const worker = new Worker(
          queue.name,
          async (job: Job) => {
            recorder.deliver(ids.get(job.id!) ?? job.id!);
          },
          { connection, concurrency: 100 },
        );
        await worker.waitUntilReady();
        if (!setupDone()) {
          await worker.close();
          await queue.obliterate({ force: true });
          return undefined;
        }
        recorder.arm();
        await waitUntil(dueAtMs);
        const result = await recorder.finish(120_000);
        await worker.close();
        return result;
      });
    },
    async fill(n) {
      const added = await addAll(newQueue(), eventsFor(n, 'fill'), () => ({ delay: IDLE_DELAY_MS }));
      return { added: added.length };
    },
    async release() {
      jobs = [];
      for (const queue of queues.splice(0)) await queue.close();
      gcIfExposed();
    },
    async close() {
      jobs = [];
      for (const queue of queues) await queue.close();
    },
  };
  return side;
};
