/**
 * The injected logger: pino's call shape, a real pino logger receiving structured records, the console
 * adapter, and no capability (full delay ID) or event content in anything logged.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../../src/core/errors.js';
import { consoleLogger, logId } from '../../../src/core/logging.js';
import type { DelayedEventStore } from '../../../src/core/store.js';
import type { Logger } from '../../../src/core/types.js';
import { createMemoryStore } from '../../../src/stores/memory/memory-store.js';
import { message } from '../../helpers/fixtures.js';
import { createHarness } from '../../helpers/scheduler-harness.js';

const SECRET = 'top-secret-content-marker';

/** A pino logger writing JSON lines into an array. */
function pinoInto(lines: Record<string, unknown>[]): Logger {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

/** A memory store whose finaliseMany and reschedule fail once each. */
function faultyStore(): DelayedEventStore {
  const store = createMemoryStore();
  let finaliseFaults = 1;
  let rescheduleFaults = 1;
  return Object.assign(Object.create(store) as DelayedEventStore, {
    finaliseMany: (events: Parameters<NonNullable<DelayedEventStore['finaliseMany']>>[0]) =>
      finaliseFaults-- > 0 ? Promise.reject(new Error('connection lost')) : store.finaliseMany!(events),
    reschedule: (...args: Parameters<DelayedEventStore['reschedule']>) =>
      rescheduleFaults-- > 0 ? Promise.reject(new Error('connection lost')) : store.reschedule(...args),
  });
}

describe('logging', () => {
  it('logId shows 6 characters of a delay ID and an ellipsis', () => {
    expect(logId('abcdefghijklmnopqrstuvwxyz')).toBe('abcdef…');
    expect(logId('abc')).toBe('…');
  });

  it('a real pino logger receives structured records: level, msg, a short delayId, err', async () => {
    const lines: Record<string, unknown>[] = [];
    const harness = await createHarness({ logger: pinoInto(lines), deliveryRetry: { attempts: 2, initialBackoffMs: 100 } });
    harness.sendImpl = () => {
      throw new Error('host down');
    };
    const { delayId } = await harness.scheduler.schedule(message(1000));
    await harness.clock.advanceAsync(1000);
    await harness.clock.advanceAsync(100);
    await harness.scheduler.idle();
    const retry = lines.find((l) => l['msg'] === 'delayed event: sending failed; retrying');
    expect(retry).toMatchObject({ level: 40, delayId: `${delayId.slice(0, 6)}…`, attempts: 1, retryInMs: 100 });
    expect((retry?.['err'] as { message: string; stack: string }).message).toBe('host down');
    expect((retry?.['err'] as { stack: string }).stack).toContain('Error: host down');
    expect(lines.find((l) => l['msg'] === 'delayed event failed')).toMatchObject({ level: 40, attempts: 2 });
  });

  it('console fits as it is, and consoleLogger prints the message first', () => {
    const logger: Logger = console; // compiles: console has the shape
    expect(typeof logger.warn).toBe('function');
    const written: unknown[][] = [];
    const target = {
      debug: (...data: unknown[]) => written.push(['debug', ...data]),
      info: (...data: unknown[]) => written.push(['info', ...data]),
      warn: (...data: unknown[]) => written.push(['warn', ...data]),
      error: (...data: unknown[]) => written.push(['error', ...data]),
    };
    const adapted = consoleLogger(target);
    adapted.debug?.('hidden below info');
    adapted.info?.('plain message');
    adapted.warn?.({ delayId: 'abcdef…' }, 'with a record');
    adapted.error?.({ only: 'record' });
    expect(adapted.debug).toBeUndefined();
    expect(written).toEqual([
      ['info', 'plain message'],
      ['warn', 'with a record', { delayId: 'abcdef…' }],
      ['error', { only: 'record' }],
    ]);
    expect(consoleLogger(target, 'debug').debug).toBeTypeOf('function');
  });

  it('nothing logged in failures and store faults holds a full delay ID or event content', async () => {
    const records: unknown[] = [];
    const capture = (level: string) => (record: unknown, msg?: string) => records.push({ level, record, msg });
    const logger: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
    const harness = await createHarness({
      logger,
      store: faultyStore(),
      leaseMs: 5000,
      deliveryRetry: { attempts: 3, initialBackoffMs: 100 },
      onFinalised: () => {
        throw new Error('hook bug');
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await harness.scheduler.schedule(message(1000, { content: { body: SECRET, i } }))).delayId);
    let calls = 0;
    harness.sendImpl = (event) => {
      calls++;
      if (event.delayId === ids[0]) throw new Error('transient');
      if (event.delayId === ids[1] && calls < 10) throw new MatrixError(403, 'M_FORBIDDEN', 'no power');
    };
    for (let i = 0; i < 20; i++) await harness.clock.advanceAsync(1000);
    await harness.scheduler.idle();
    const levels = new Set((records as { level: string }[]).map((r) => r.level));
    expect(levels).toEqual(new Set(['warn', 'error']));
    const text = JSON.stringify(records, (_key, value: unknown) =>
      value instanceof Error ? { message: value.message, stack: value.stack, cause: value.cause } : value,
    );
    expect(records.length).toBeGreaterThanOrEqual(4);
    for (const id of ids) {
      expect(text).not.toContain(id);
      expect(text).toContain(`${id.slice(0, 6)}…`);
    }
    expect(text).not.toContain(SECRET);
  });
});
