import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { sendError } from './api-error.ts';

/**
 * Checks `Authorization: Bearer <API_KEY>` in constant time. Both sides are hashed first, so
 * the comparison takes the same time whatever the length of what was sent.
 */
export function bearerAuth(apiKey: string): RequestHandler {
  const expected = digest(apiKey);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (match && timingSafeEqual(digest(match[1] as string), expected)) return next();
    res.set('WWW-Authenticate', 'Bearer realm="signaling-api"');
    sendError(
      res,
      401,
      'unauthorized',
      header === '' ? 'send Authorization: Bearer <API_KEY>' : "the bearer token is not this server's API_KEY",
    );
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
