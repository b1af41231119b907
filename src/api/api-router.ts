import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { isObject } from '../protocol/json-frame.ts';
import { MAX_JSON_DEPTH, shapeMessage, shapeProblem } from '../protocol/json-shape.ts';
import { nameProblem } from '../protocol/names.ts';
import { ApiError, sendError } from './api-error.ts';
import { bearerAuth } from './bearer-auth.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { RoomsService } from './rooms-service.ts';

export interface ApiOptions {
  /** API_KEY; undefined turns the API off (every /api path answers 404 saying how to turn it on). */
  apiKey: string | undefined;
  node: SignalingNode;
  /** MAX_SIGNAL_BYTES: the largest `message` frame, as for a member's signal. */
  maxMessageBytes: number;
  logger?: Logger;
}

/** Rooms per page of GET /rooms when `limit` is not given, and the most a page may ask for. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** What the `message` frame adds around `data`: its size is checked before it is built. */
const MESSAGE_ENVELOPE_BYTES = '{"type":"message","data":}'.length;
/** Smallest request body accepted: a body may hold `data` escaped beyond the frame limit, and small requests must never fail. */
const MIN_BODY_LIMIT_BYTES = 16 * 1024;

/** The server API (docs/api.md), mounted at /api. */
export function apiRouter(options: ApiOptions): Router {
  const router = express.Router();
  const apiKey = options.apiKey;
  if (apiKey === undefined) {
    router.use((_req, res) =>
      sendError(
        res,
        404,
        'api-disabled',
        'the server API is off: set API_KEY (at least 32 characters, e.g. `openssl rand -hex 32`) to turn it on (docs/api.md)',
      ),
    );
    return router;
  }
  const rooms = new RoomsService(options.node);
  router.use(bearerAuth(apiKey));
  router.use(express.json({ limit: Math.max(options.maxMessageBytes * 2, MIN_BODY_LIMIT_BYTES), strict: true }));

  router.get(
    '/v1/rooms',
    handle(async (req, res) => {
      const limit = readLimit(req.query['limit']);
      const cursor = req.query['cursor'];
      let after: string | undefined;
      if (cursor !== undefined) {
        after = typeof cursor === 'string' ? (decodeCursor(cursor) ?? undefined) : undefined;
        if (after === undefined) throw new ApiError(400, 'bad-request', 'cursor must be a nextCursor this API returned');
      }
      const page = await rooms.list(after, limit);
      // A room whose Redis Cluster master does not answer is left out of the page and counted.
      const unreachable = page.unreachable === undefined ? {} : { unreachableRooms: page.unreachable };
      res.json(
        page.last === undefined
          ? { rooms: page.rooms, ...unreachable }
          : { rooms: page.rooms, nextCursor: encodeCursor(page.last), ...unreachable },
      );
    }, options.logger),
  );

  router.get(
    '/v1/rooms/:room',
    handle(async (req, res) => {
      const room = roomParam(req);
      res.json({ room, members: await rooms.members(room) });
    }, options.logger),
  );

  router.delete(
    '/v1/rooms/:room/members/:name',
    handle(async (req, res) => {
      const room = roomParam(req);
      const name = nameParam(req, 'name');
      if (!(await rooms.removeMember(room, name))) throw new ApiError(404, 'not-found', `no member "${name}" in room "${room}"`);
      res.status(204).end();
    }, options.logger),
  );

  router.delete(
    '/v1/rooms/:room',
    handle(async (req, res) => {
      await rooms.removeAll(roomParam(req));
      res.status(204).end();
    }, options.logger),
  );

  router.post(
    '/v1/rooms/:room/messages',
    handle(async (req, res) => {
      const room = roomParam(req);
      const body: unknown = req.body;
      if (!isObject(body))
        throw new ApiError(
          400,
          'bad-request',
          'the body must be a JSON object {"data": {...}, "to"?: "<member name>"} sent as application/json',
        );
      const data = body['data'];
      if (!isObject(data)) throw new ApiError(400, 'bad-request', 'data must be a JSON object');
      const shape = shapeProblem(data, MAX_JSON_DEPTH, true);
      if (shape !== null) throw new ApiError(400, 'bad-request', shapeMessage('data', shape));
      const to = memberName(body['to']);
      const bytes = Buffer.byteLength(JSON.stringify(data)) + MESSAGE_ENVELOPE_BYTES;
      if (bytes > options.maxMessageBytes)
        throw new ApiError(
          413,
          'too-large',
          `the message frame would have ${bytes} bytes; MAX_SIGNAL_BYTES (${options.maxMessageBytes}) is the limit`,
        );
      const outcome = await rooms.message(room, data, to);
      if (outcome === 'not-found')
        throw new ApiError(404, 'not-found', to === undefined ? `room "${room}" has no members` : `no member "${to}" in room "${room}"`);
      if (outcome === 'backlogged')
        throw new ApiError(409, 'member-backlogged', 'that member is reconnecting and too many messages already wait for it; retry later');
      res.status(202).end();
    }, options.logger),
  );

  router.use((req, res) =>
    sendError(res, 404, 'not-found', `no API route ${req.method} ${req.baseUrl}${req.path} (docs/api.md lists them)`),
  );
  // Body-parser errors (bad JSON, too large) and bugs: JSON like every other answer.
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof error === 'object' && error !== null && 'status' in error ? Number(error.status) : 500;
    if (status === 413) return sendError(res, 413, 'too-large', 'the request body is too large');
    if (status >= 400 && status < 500) return sendError(res, 400, 'bad-request', 'the body is not valid JSON');
    options.logger?.error({ err: error }, 'server API request failed');
    sendError(res, 500, 'unavailable', 'the request failed; retry shortly');
  });
  return router;
}

/** Runs an async handler: ApiErrors become their answer; a backend failure is 503. */
function handle(fn: (req: Request, res: Response) => Promise<void>, logger?: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch((error: unknown) => {
      if (error instanceof ApiError) return sendError(res, error.status, error.code, error.message);
      // Backend calls fail when Redis cannot be reached or does not answer in time.
      logger?.warn({ err: error, path: req.path }, 'server API request failed');
      if (!res.headersSent) sendError(res, 503, 'unavailable', 'the signaling backend cannot be reached; retry shortly');
      else next(error);
    });
  };
}

function roomParam(req: Request): string {
  return nameParam(req, 'room');
}

function nameParam(req: Request, key: string): string {
  const value = req.params[key];
  const problem = nameProblem(value);
  if (problem !== null) throw new ApiError(400, 'bad-request', `${key} ${problem}`);
  return value as string;
}

/** The message body's optional `to`: a member name, or undefined for the whole room. */
function memberName(to: unknown): string | undefined {
  if (to === undefined) return undefined;
  const problem = nameProblem(to);
  if (problem !== null || typeof to !== 'string') throw new ApiError(400, 'bad-request', `to ${problem ?? 'must be a string'}`);
  return to;
}

function readLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = typeof raw === 'string' && /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw new ApiError(400, 'bad-request', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}
