import { existsSync } from 'node:fs';
import express from 'express';
import type { Express } from 'express';
import type { Backend } from '../cluster/backend.ts';

export interface AppOptions {
  backend: Backend;
  /** Folder of the built page and client library (dist/public). */
  publicDir: string;
}

/** The HTTP side: health probes and the static page. WebSockets are handled by the gateway. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind the Heroku router (one proxy hop): req.ip is the browser's address.
  app.set('trust proxy', 1);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = options.backend.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', backend: options.backend.kind });
  });

  if (existsSync(options.publicDir)) {
    app.use(express.static(options.publicDir, { index: 'index.html', maxAge: '1h' }));
  } else {
    app.get('/', (_req, res) => {
      res.status(503).type('text').send('The page is not built: run `npm run build`.\n');
    });
  }
  return app;
}
