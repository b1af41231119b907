import { pino } from 'pino';
import type { Logger } from 'pino';

/**
 * Log levels: error = this dyno cannot do its job (backend lost for good, crash);
 * warn = one operation failed and the client was told; info = one line per connection
 * open/join/leave/close and per lifecycle step; debug = per-message detail, never SDP bodies.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base } });
}
