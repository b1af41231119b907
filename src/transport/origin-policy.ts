import type { IncomingMessage } from 'node:http';

const LOCALHOST = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Decides whether a browser page at `Origin` may open a signaling socket. With an allowlist
 * only those origins pass; without one, the page must come from this same host (plus
 * localhost pages during development). Clients without an Origin header are not browsers,
 * so cross-site request forgery does not apply to them and they pass.
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined, production: boolean): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed) return allowed.includes(origin);
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.host === request.headers.host) return true;
  return !production && LOCALHOST.has(url.hostname);
}
