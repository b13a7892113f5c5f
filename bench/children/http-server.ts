/**
 * An HTTP server under load, in its own process: ours (the memory store behind the Express or the
 * node:http adapter) or a bare ceiling (an Express route / a node:http server answering `{}`). It
 * reports its port and the (access token, delay ID) pairs the load generator restarts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { DelayedEventScheduler } from '../../src/core/delayed-event-scheduler.js';
import { createMemoryStore } from '../../src/stores/memory/memory-store.js';
import { toExpressRouter } from '../../src/adapters/express/index.js';
import { toNodeHandler } from '../../src/adapters/node/index.js';
import type { HandlerRequest } from '../../src/http/handlers.js';
import { MatrixError } from '../../src/core/errors.js';
import { fromParent, toParent } from '../lib/child.js';
import { EVENTS_PER_USER, makeEvents, makeIds } from '../lib/data.js';
import { runLanes } from '../lib/stats.js';
import { limiterOff } from '../sides/ours.js';
import { CAP_PER_USER, IDLE_DELAY_MS, idleScheduleRequest } from '../sides/common.js';

export type HttpKind = 'express-ours' | 'node-ours' | 'express-bare' | 'node-bare' | 'node-bare-body';

/** One restart target: who restarts what. */
export interface HttpTarget {
  readonly token: string;
  readonly delayId: string;
}

const MANAGE_PATH = '/_matrix/client/v1/delayed_events/:delayId';

async function main(): Promise<void> {
  const kind = process.argv[2] as HttpKind;
  const n = Number(process.argv[3]);
  const targets: HttpTarget[] = [];
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  if (kind === 'express-ours' || kind === 'node-ours') {
    const scheduler = new DelayedEventScheduler({
      store: createMemoryStore(),
      sendEvent: () => {},
      rateLimiter: limiterOff(),
      maxOutstandingPerUser: CAP_PER_USER,
      maxDelayMs: IDLE_DELAY_MS * 2,
    });
    await scheduler.start();
    const events = makeEvents(n, 'http');
    const users = new Map<string, string>();
    await runLanes(events.length, 64, async (i) => {
      const ev = events[i]!;
      const token = `tok_${Math.floor(i / EVENTS_PER_USER)}`;
      users.set(token, ev.userId);
      const { delayId } = await scheduler.schedule(idleScheduleRequest(ev));
      targets[i] = { token, delayId };
    });
    // What a host's token lookup costs: one map read.
    const authenticate = (request: HandlerRequest): { userId: string } => {
      const header = request.headers['authorization'];
      const userId = typeof header === 'string' ? users.get(header.slice(7)) : undefined;
      if (userId === undefined) throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Unknown token');
      return { userId };
    };
    if (kind === 'express-ours') {
      const app = express();
      app.use(toExpressRouter({ scheduler, authenticate }));
      handler = app;
    } else {
      const delayedEvents = toNodeHandler({ scheduler, authenticate });
      handler = (req, res) => {
        void delayedEvents(req, res).then((answered) => {
          if (!answered) {
            res.statusCode = 404;
            res.end();
          }
        });
      };
    }
  } else {
    // The same request stream, against a server that does no work at all.
    const ids = makeIds(n);
    for (let i = 0; i < n; i++) targets[i] = { token: `tok_${Math.floor(i / EVENTS_PER_USER)}`, delayId: ids[i]! };
    if (kind === 'express-bare') {
      const app = express();
      app.post(MANAGE_PATH, (_req, res) => {
        res.json({});
      });
      handler = app;
    } else if (kind === 'node-bare-body') {
      // Reference: the bare server, plus reading (not parsing) the request body.
      handler = (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        });
      };
    } else {
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      };
    }
  }

  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await toParent({ port: (server.address() as AddressInfo).port, targets });
  await fromParent<'stop'>();
  server.closeAllConnections();
  server.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
