/**
 * Starts and stops a private Redis Cluster for tests: 3 masters + 3 replicas, plain `redis-server
 * --cluster-enabled yes` processes on free 127.0.0.1 ports, each with its own temp directory, joined
 * with `redis-cli --cluster create --cluster-replicas 1`. Helpers kill a node (SIGKILL), wait for a
 * replica's promotion (`CLUSTER NODES`) and restart a node from its AOF.
 *
 * Node settings, and why:
 * - `cluster-node-timeout 1000`: a dead master is flagged FAIL after ~1 s, so a replica is promoted
 *   within ~2-3 s instead of the default 15+ s.
 * - `cluster-replica-validity-factor 0`: a replica may always be promoted, however long its link was
 *   down (tests must not end up with an unserved slot).
 * - `cluster-require-full-coverage no`: while one master is down, the other slots keep serving.
 * - `appendonly yes` + `appendfsync always` on every node (a replica may become master): a write is
 *   fsynced before its reply is sent, so a node killed and restarted from its AOF keeps every
 *   acknowledged write.
 * - Replication in Redis (Cluster included) is asynchronous: a master replies before its replica has
 *   the write. When a master is SIGKILLed and its replica promoted, the writes of the last moment
 *   may be missing on the new master. `min-replicas-to-write 1` does not close that gap (it only
 *   refuses writes when no replica has acknowledged within `min-replicas-max-lag` seconds), and in a
 *   3+3 cluster it would make the promoted replica — which has no replica of its own until the dead
 *   node returns — refuse every write. So it is left at 0 here. Closing the gap needs `WAIT 1 <ms>`
 *   after each acknowledged write (the store does not issue one); on loopback the gap is well under
 *   a millisecond, and the fleet test measures what it costs (`test/cluster/fleet-failover.test.ts`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, waitForPort } from './redis-server.js';

export const CLUSTER_INSTALL_HINT =
  'The Redis Cluster tests need `redis-server` and `redis-cli` on PATH (Debian/Ubuntu: ' +
  '`apt-get install -y redis-server`, which brings redis-tools). They never skip.';

/** One entry of `CLUSTER NODES`. */
export interface ClusterNodeEntry {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  /** Node ID of its master, for a replica. */
  readonly masterId: string | undefined;
  readonly linkState: string;
  /** Slot ranges served, as `[from, to]`. */
  readonly slots: readonly (readonly [number, number])[];
}

/** One redis-server process of the cluster. */
export interface ClusterNodeProcess {
  readonly port: number;
  readonly dir: string;
  /** True while its process runs. */
  readonly running: boolean;
}

/** A running private Redis Cluster. */
export interface PrivateCluster {
  /** Seed nodes for `new Cluster(seeds)`: every node of the cluster. */
  readonly seeds: readonly { readonly host: string; readonly port: number }[];
  readonly nodes: readonly ClusterNodeProcess[];
  /** Wall time from the first spawn to "cluster_state:ok on every node, replicas in sync", in ms. */
  readonly startupMs: number;
  /** Runs a command on one node (a short-lived connection). */
  command(port: number, ...args: (string | number)[]): Promise<unknown>;
  /** `CLUSTER NODES` as seen by a running node (by default any running one). */
  clusterNodes(viewFrom?: number): Promise<ClusterNodeEntry[]>;
  /** The port of the master serving `slot` now. */
  masterOfSlot(slot: number): Promise<number>;
  /** The hash slot of a key (`CLUSTER KEYSLOT`). */
  keySlot(key: string): Promise<number>;
  /** Ports of the replicas of the master on `port`. */
  replicasOf(port: number): Promise<number[]>;
  /** Sends `signal` (default SIGKILL) to a node's process and waits for it to exit. */
  kill(port: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped node again on the same port, directory, nodes.conf and AOF. */
  restart(port: number): Promise<void>;
  /**
   * Waits until the slots that `deadPort` served are served by another master, and every running
   * node says `cluster_state:ok`. Returns the new master's port.
   */
  waitForPromotion(deadPort: number, slot: number, timeoutMs?: number): Promise<number>;
  /** Waits for `cluster_state:ok` on every running node, all 16384 slots served. */
  waitForHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGKILL: nothing here needs to survive) and deletes the temp directory. */
  destroy(): Promise<void>;
}

/**
 * Where the nodes keep their AOF: /dev/shm (tmpfs) when present, else the temp directory. The tests
 * kill processes, never the machine, and Redis write()s the AOF before it replies, so a killed node
 * finds every acknowledged write in the page cache either way; `appendfsync always` guards against
 * a machine crash, which no test here simulates. On this project's 2-core CI VM one fsync costs ~5 ms
 * and throttled the schedule's master to ~150 deliveries/s; on tmpfs it is free.
 * `MDE_CLUSTER_DIR` overrides the choice.
 */
function dataRoot(): string {
  const given = process.env['MDE_CLUSTER_DIR'];
  if (given !== undefined && given !== '') return given;
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
}

export function clusterBinariesOnPath(): boolean {
  return ['redis-server', 'redis-cli'].every((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0);
}

async function command(port: number, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const [name, ...rest] = args;
    return await client.call(String(name), ...rest);
  } finally {
    client.disconnect();
  }
}

export function parseClusterNodes(text: string): ClusterNodeEntry[] {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , linkState = '', ...slotParts] = line.split(' ');
      const port = Number(address.split('@')[0]?.split(':').pop());
      const slots = slotParts
        .filter((part) => !part.startsWith('['))
        .map((part) => {
          const [from, to] = part.split('-').map(Number);
          return [from ?? 0, to ?? from ?? 0] as const;
        });
      return { id, port, flags: flags.split(','), masterId: master === '-' ? undefined : master, linkState, slots };
    });
}

const serves = (entry: ClusterNodeEntry, slot: number): boolean => entry.slots.some(([from, to]) => slot >= from && slot <= to);
const isFailed = (entry: ClusterNodeEntry): boolean => entry.flags.includes('fail') || entry.flags.includes('fail?');

/** Starts 3 masters + 3 replicas and waits until the cluster is healthy. */
export async function startPrivateCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<PrivateCluster> {
  if (!clusterBinariesOnPath()) throw new Error(CLUSTER_INSTALL_HINT);
  const started = performance.now();
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const root = mkdtempSync(join(dataRoot(), 'mde-cluster-'));
  const ports: number[] = [];
  while (ports.length < masters * (1 + replicas)) {
    const port = await freePort();
    // The cluster bus listens on port + 10000: both must be free, and distinct from the others.
    if (port + 10_000 > 65_535 || ports.includes(port) || ports.some((p) => Math.abs(p - port) === 10_000)) continue;
    ports.push(port);
  }
  interface Node {
    port: number;
    dir: string;
    child: ChildProcess | undefined;
    stderr: string;
  }
  const nodes: Node[] = ports.map((port) => {
    const dir = join(root, String(port));
    mkdirSync(dir);
    return { port, dir, child: undefined, stderr: '' };
  });

  const launch = async (node: Node): Promise<void> => {
    const args = [
      '--port', String(node.port),
      '--bind', '127.0.0.1',
      '--protected-mode', 'yes',
      '--dir', node.dir,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(node.dir, `nodes-${node.port}.conf`),
      '--cluster-node-timeout', '1000',
      '--cluster-replica-validity-factor', '0',
      '--cluster-require-full-coverage', 'no',
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--save', '',
      '--repl-diskless-sync', 'yes',
      '--repl-diskless-sync-delay', '0',
      '--loglevel', 'warning',
    ];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    node.stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      node.stderr += chunk.toString();
    });
    node.child = proc;
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', () => resolve());
      proc.once('error', (error) => reject(new Error(`${CLUSTER_INSTALL_HINT} (${error.message})`)));
    });
    try {
      await waitForPort(node.port, proc, 10_000);
    } catch (error) {
      proc.kill('SIGKILL');
      throw new Error(`${(error as Error).message}${node.stderr ? `: ${node.stderr}` : ''}`);
    }
  };

  const nodeAt = (port: number): Node => {
    const node = nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no cluster node on port ${port}`);
    return node;
  };
  const isRunning = (node: Node): boolean => node.child !== undefined && node.child.exitCode === null && node.child.signalCode === null;
  const runningPorts = (): number[] => nodes.filter(isRunning).map((n) => n.port);

  const clusterNodes = async (viewFrom?: number): Promise<ClusterNodeEntry[]> => {
    const from = viewFrom ?? runningPorts()[0];
    if (from === undefined) throw new Error('no cluster node is running');
    return parseClusterNodes(String(await command(from, 'CLUSTER', 'NODES')));
  };

  const waitUntil = async (what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        if (await check()) return;
      } catch (error) {
        lastError = error;
      }
      if (performance.now() > deadline) {
        throw new Error(`Redis Cluster: timed out waiting for ${what}${lastError ? ` (${String(lastError)})` : ''}`);
      }
      await sleep(50);
    }
  };

  const waitForHealthy = (timeoutMs = 20_000): Promise<void> =>
    waitUntil('cluster_state:ok on every node with all replicas in sync', timeoutMs, async () => {
      for (const port of runningPorts()) {
        const info = String(await command(port, 'CLUSTER', 'INFO'));
        if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
        const entries = await clusterNodes(port);
        if (entries.some((e) => runningPorts().includes(e.port) && isFailed(e))) return false;
        const self = entries.find((e) => e.flags.includes('myself'));
        if (self?.flags.includes('slave')) {
          const replication = String(await command(port, 'INFO', 'replication'));
          if (!replication.includes('master_link_status:up')) return false;
        }
      }
      return true;
    });

  const kill = async (port: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const node = nodeAt(port);
    const proc = node.child;
    if (proc === undefined || !isRunning(node)) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  const destroy = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => kill(node.port)));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    await Promise.all(nodes.map(launch));
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (create.status !== 0) {
      throw new Error(`redis-cli --cluster create failed (${create.status ?? create.error?.message}): ${create.stdout}\n${create.stderr}`);
    }
    await waitForHealthy(30_000);
  } catch (error) {
    await destroy();
    throw error;
  }

  const masterOfSlot = async (slot: number): Promise<number> => {
    const entry = (await clusterNodes()).find((e) => e.flags.includes('master') && !isFailed(e) && serves(e, slot));
    if (entry === undefined) throw new Error(`no healthy master serves slot ${slot}`);
    return entry.port;
  };

  return {
    seeds: ports.map((port) => ({ host: '127.0.0.1', port })),
    nodes: nodes.map((node) => ({
      port: node.port,
      dir: node.dir,
      get running() {
        return isRunning(node);
      },
    })),
    startupMs: Math.round(performance.now() - started),
    command,
    clusterNodes,
    masterOfSlot,
    keySlot: async (key) => Number(await command(runningPorts()[0] ?? ports[0]!, 'CLUSTER', 'KEYSLOT', key)),
    replicasOf: async (port) => {
      const entries = await clusterNodes(runningPorts().find((p) => p !== port));
      const master = entries.find((e) => e.port === port);
      return entries.filter((e) => master !== undefined && e.masterId === master.id).map((e) => e.port);
    },
    kill,
    restart: async (port) => {
      const node = nodeAt(port);
      if (isRunning(node)) throw new Error(`node ${port} is running`);
      await launch(node);
    },
    waitForPromotion: async (deadPort, slot, timeoutMs = 20_000) => {
      let promoted = 0;
      await waitUntil(`a replica of ${deadPort} to be promoted`, timeoutMs, async () => {
        for (const port of runningPorts()) {
          const entries = await clusterNodes(port);
          const owner = entries.find((e) => e.flags.includes('master') && !isFailed(e) && serves(e, slot));
          if (owner === undefined || owner.port === deadPort) return false;
          const info = String(await command(port, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
          promoted = owner.port;
        }
        return promoted !== 0;
      });
      return promoted;
    },
    waitForHealthy,
    destroy,
  };
}
