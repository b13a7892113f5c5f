/**
 * A private, throw-away redis-server for the benchmark: loopback only, a free port, no persistence,
 * its own temporary directory. Stopped (and the directory removed) by {@link RedisServer.stop}.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A running private redis-server. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly url: string;
  readonly version: string;
  /** A new ioredis client on this server. */
  client(options?: { maxRetriesPerRequest?: number | null }): Redis;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(port: number, child: ChildProcess, deadlineMs: number): Promise<string> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      const info = await probe.info('server');
      probe.disconnect();
      return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    } catch {
      probe.disconnect();
      if (Date.now() > deadlineMs) throw new Error(`redis-server did not answer on 127.0.0.1:${port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Starts redis-server (from `REDIS_SERVER_BIN` or PATH) on a free loopback port. */
export async function startRedisServer(): Promise<RedisServer> {
  const bin = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mde-bench-redis-'));
    const child = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => {});
    // Never leave the server behind, even when the benchmark dies.
    const killOnExit = (): void => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    try {
      const version = await waitReady(port, child, Date.now() + 10_000);
      const clients: Redis[] = [];
      return {
        host: '127.0.0.1',
        port,
        url: `redis://127.0.0.1:${port}`,
        version,
        client(options = {}) {
          const client = new Redis({
            host: '127.0.0.1',
            port,
            maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 20 : options.maxRetriesPerRequest,
          });
          clients.push(client);
          return client;
        },
        async stop() {
          for (const client of clients) client.disconnect();
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
          process.off('exit', killOnExit);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= 2) {
        throw new Error(
          `Could not start a private redis-server (${String(error)}). Install it (Debian: apt-get install redis-server) or set REDIS_SERVER_BIN.`,
        );
      }
    }
  }
}
