import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { Logger } from 'pino';

/**
 * Log levels: error = this dyno cannot do its job (backend lost for good, crash);
 * warn = one operation failed and the client was told; info = one line per connection
 * open/join/leave/close and per lifecycle step; debug = per-message detail, never SDP bodies.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  const options = { level, base: { pid: process.pid, ...base } };
  if (!wantsPretty()) return pino(options);
  // pino-pretty formats in a worker thread, off the signaling path.
  return pino({
    ...options,
    transport: { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
  });
}

/**
 * Readable lines for a person, JSON for machines: pretty when NODE_ENV=development, or on a
 * terminal unless NODE_ENV=production. Log routers (Heroku, Docker) never give a TTY, so they
 * get JSON. pino-pretty is a devDependency: without it (a production install) stay JSON.
 */
export function wantsPretty(env: NodeJS.ProcessEnv = process.env, tty: boolean = process.stdout.isTTY === true): boolean {
  const wanted = env['NODE_ENV'] === 'development' || (tty && env['NODE_ENV'] !== 'production');
  if (!wanted) return false;
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
