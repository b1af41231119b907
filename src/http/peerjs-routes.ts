import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express from 'express';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import { encodeSegment } from '../cluster/keys.ts';
import type { PeerJsConfig } from '../config/third-party-config.ts';

/** Ids listed at most by GET {base}{key}/peers: one answer must stay small whatever the cluster holds. */
export const MAX_LISTED_PEERS = 1000;

/** What npm `peer` 1.0.2 answers at its base path, byte for byte. */
const SERVER_INFO = {
  name: 'PeerJS Server',
  description: 'A server side element to broker connections between PeerJS clients.',
  website: 'https://peerjs.com/',
};

export interface PeerJsRoutesOptions {
  config: PeerJsConfig;
  node: SignalingNode;
  /** ALLOWED_ORIGINS: when set, only these origins get CORS headers; else the request's Origin is reflected. */
  allowedOrigins: string[] | undefined;
  logger: Logger;
}

/**
 * The HTTP side of the PeerJS server protocol at each base of PEERJS_PATHS: server info at
 * the base (not at `/`, which stays the page's), a fresh id at `{base}{key}/id`, and the
 * connected ids at `{base}{key}/peers` when PEERJS_DISCOVERY is on. CORS as the reference
 * (the `cors` package, Origin reflected): pages using PeerJS are usually served from
 * another origin than their signaling server, and the client's fetch of /id needs it.
 */
export function peerJsRoutes({ config, node, allowedOrigins, logger }: PeerJsRoutesOptions): Router {
  const router = express.Router();
  const corsHandler = cors({ origin: allowedOrigins ?? true });
  for (const base of config.bases) {
    const paths = [`${base}:key/id`, `${base}:key/peers`];
    // Mounted at the base, the reference answers there; the page keeps `/`.
    if (base !== '/') paths.push(base, base.slice(0, -1));
    router.use(paths, corsHandler);
    if (base !== '/') router.get([base, base.slice(0, -1)], (_req, res) => void res.send(SERVER_INFO));
    // Any key, as the reference: only the WebSocket checks it (and says "Invalid key provided").
    router.get(`${base}:key/id`, (_req, res) => {
      res.contentType('html');
      res.send(randomUUID());
    });
    router.get(`${base}:key/peers`, async (_req, res) => {
      if (!config.discovery) return void res.sendStatus(401);
      try {
        res.send(await listPeers(node, config.key));
      } catch (error) {
        logger.warn({ err: error }, 'PeerJS discovery failed (backend unavailable)');
        res.status(503).json({ error: 'the signaling backend cannot be reached; retry shortly' });
      }
    });
  }
  return router;
}

/**
 * Connected ids, cluster-wide: each id is the room "<key>/<id>" of the `peerjs` namespace,
 * so they are a range of the rooms index (docs/protocol.md, PeerJS), read in pages.
 */
export async function listPeers(node: SignalingNode, key: string): Promise<string[]> {
  // The members key of room "<key>/<id>" is `${prefix}{peerjs.<key>%2F<id>}:members`.
  const start = `${node.prefix}{peerjs.${encodeSegment(key)}%2F`;
  const below = `${start.slice(0, -1)}G`;
  const suffix = '}:members';
  const ids: string[] = [];
  let after = start;
  while (ids.length < MAX_LISTED_PEERS) {
    const page = await node.backend.listRooms(after, below, Math.min(200, MAX_LISTED_PEERS - ids.length));
    for (const room of page.rooms) {
      if (!room.membersKey.startsWith(start) || !room.membersKey.endsWith(suffix)) continue;
      ids.push(decodeURIComponent(room.membersKey.slice(start.length, -suffix.length)));
    }
    if (page.after === undefined || page.rooms.length === 0) break;
    after = page.after;
  }
  return ids;
}
