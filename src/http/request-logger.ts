import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

/** Polled by load balancers and scrapers every few seconds: logged at debug, not info. */
const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One log line per HTTP request (WebSocket upgrades bypass express; the transport logs
 * those). Only method, path, status, time and the client address are logged: headers can
 * carry cookies and tokens. `ip` is the browser's address because the app trusts one proxy
 * hop (the Heroku router, or haproxy in compose).
 */
export function requestLogger(logger: Logger): RequestHandler {
  const handler = pinoHttp<Request, Response>({
    logger,
    customLogLevel: (req, res, error) => {
      if (error || res.statusCode >= 500) return PROBE_PATHS.has(req.path) ? 'debug' : 'error';
      return PROBE_PATHS.has(req.path) ? 'debug' : 'info';
    },
    customProps: (req) => ({ ip: req.ip }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?', 1)[0] }),
      res: (res: { statusCode: number }) => ({ status: res.statusCode }),
    },
  });
  return (req, res, next) => handler(req, res, next);
}
