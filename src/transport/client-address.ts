import type { IncomingMessage } from 'node:http';

/**
 * The browser's address, trusting exactly one proxy hop like the express app does
 * (`trust proxy` 1): the last X-Forwarded-For entry is the one the Heroku router (or
 * haproxy) appended; earlier entries are whatever the client claimed.
 */
export function clientAddress(request: IncomingMessage): string | undefined {
  const header = request.headers['x-forwarded-for'];
  const forwarded = Array.isArray(header) ? header.join(',') : header;
  const last = forwarded?.split(',').pop()?.trim();
  return last || request.socket.remoteAddress;
}
