/**
 * Starts and stops private `redis-server` processes for tests: loopback only, a free port, a temp
 * directory. Used by the global setup and by tests that must stop and restart their own server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT =
  'No redis-server available: install one (Debian/Ubuntu: `apt-get install -y redis-server`) so that ' +
  '`redis-server` is on PATH, or set REDIS_URL=redis://127.0.0.1:<port> to use a running server.';

/** A running private Redis. */
export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (SHUTDOWN NOSAVE semantics: SIGTERM with AOF fsync, or SIGKILL). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory (AOF, if on, is replayed). */
  restart(): Promise<void>;
  /** Removes the temp directory; call after stop(). */
  dispose(): void;
}

export function redisServerOnPath(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Waits until a redis-server answers PING on `port` (fails if its process exits). */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with code ${child.exitCode}`);
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.write('PING\r\n');
      });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (answered) return;
    if (performance.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts a private redis-server. `aof: true` turns on `appendonly yes` with `appendfsync always`. */
export async function startPrivateRedis(options: { aof?: boolean } = {}): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'mde-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';
  const launch = async (): Promise<void> => {
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', options.aof ? 'yes' : 'no',
      '--appendfsync', 'always',
      '--protected-mode', 'yes',
      '--loglevel', 'warning',
    ];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', () => resolve());
      proc.once('error', (error) => reject(new Error(`${INSTALL_HINT} (${error.message})`)));
    });
    try {
      await waitForPort(port, proc, 10_000);
    } catch (error) {
      proc.kill('SIGKILL');
      throw new Error(`${(error as Error).message}${stderr ? `: ${stderr}` : ''}`);
    }
  };
  await launch();
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    restart: launch,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
