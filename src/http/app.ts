import { existsSync } from 'node:fs';
import express from 'express';
import type { Express, Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ProbeResult } from '../backends/probe.ts';
import type { Backend } from '../cluster/backend.ts';
import { requestLogger } from './request-logger.ts';

export interface AppOptions {
  backend: Backend;
  /** Folder of the built page and client library (dist/public). */
  publicDir: string;
  /** This dyno's id, shown by the probes so one can tell which dyno answered. */
  nodeId?: string;
  /** Deep readiness (see backends/probe.ts); default: backend.isReady(). */
  readiness?: () => Promise<ProbeResult>;
  /** Served at GET /metrics in Prometheus text format. */
  metrics?: Registry;
  /** Logs every request through pino-http when given. */
  logger?: Logger;
  /** The server API (src/api/), mounted at /api. */
  api?: Router;
  /** Routes tried after the app's own and the page's (PeerJS's ids and discovery). */
  after?: Router;
}

/** The HTTP side: health probes and the static page. WebSockets are handled by the gateway. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind the Heroku router (one proxy hop): req.ip is the browser's address.
  app.set('trust proxy', 1);
  if (options.logger) app.use(requestLogger(options.logger));

  // Liveness: the process runs its event loop. Never touches Redis, so a Redis outage does
  // not get healthy dynos restarted.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', node: options.nodeId });
  });
  // Readiness: this dyno can carry signals now (load balancers stop routing to it otherwise).
  app.get('/readyz', async (_req, res) => {
    const check = options.readiness ?? (async (): Promise<ProbeResult> => ({ ok: options.backend.isReady(), latencyMs: 0 }));
    const result = await check();
    res.status(result.ok ? 200 : 503).json({
      status: result.ok ? 'ready' : 'not-ready',
      backend: options.backend.kind,
      node: options.nodeId,
      busLatencyMs: Math.round(result.latencyMs * 100) / 100,
      reason: result.reason,
    });
  });
  const registry = options.metrics;
  if (registry) {
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  if (options.api) app.use('/api', options.api);

  if (existsSync(options.publicDir)) {
    // File names carry no content hash, so browsers must revalidate (ETag) every time.
    app.use(express.static(options.publicDir, { index: 'index.html', maxAge: 0 }));
  } else {
    app.get('/', (_req, res) => {
      res.status(503).type('text').send('The page is not built: run `npm run build`.\n');
    });
  }
  if (options.after) app.use(options.after);
  return app;
}
