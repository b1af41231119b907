import type { IncomingMessage } from 'node:http';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { SignalingNode } from '../cluster/signaling-node.ts';
import type { ThirdPartyConfig } from '../config/third-party-config.ts';
import { peerJsSocketPath } from '../config/third-party-config.ts';
import { peerJsRoutes } from '../http/peerjs-routes.ts';
import type { SignalingMetrics } from '../metrics/metrics.ts';
import { PeerJsError } from '../protocol/peerjs-messages.ts';
import type { ConnectionPolicy } from './connection-policy.ts';
import type { PeerJsConnection, PeerJsContext } from './peerjs-connection.ts';
import { refusePeerJs, servePeerJs } from './peerjs-connection.ts';
import { PeerJsQueue } from './peerjs-queue.ts';
import type { UpgradeHandler } from './ws-gateway.ts';
import { serveYWebrtc } from './ywebrtc-connection.ts';
import { TopicHub } from './ywebrtc-topics.ts';

export interface ThirdPartyDeps {
  config: ThirdPartyConfig;
  /** ALLOWED_ORIGINS. */
  allowedOrigins: string[] | undefined;
  node: SignalingNode;
  logger: Logger;
  metrics: SignalingMetrics;
  policy: ConnectionPolicy;
  /** Called with every socket accepted (backpressure adopts it). */
  adopt(ws: WebSocket): void;
}

export interface ThirdPartyEndpoints {
  /** WebSocket routes, by path. */
  routes: Array<[string, UpgradeHandler]>;
  /** Paths whose refused upgrades are answered in the protocol (PeerJS's ERROR), by path. */
  inBandRefusals: Map<string, (ws: WebSocket, reason: string) => void>;
  /** GET endpoints (PeerJS ids, discovery), mounted after the app's own routes. */
  router: Router | undefined;
  /**
   * Whether `request`'s Origin may open one of these sockets: any Origin unless ALLOWED_ORIGINS
   * is set, as their reference servers (their clients carry no token of ours). Undefined for
   * paths that are not ours to decide.
   */
  originAllowed(request: IncomingMessage): boolean | undefined;
  stop(): void;
}

/**
 * The PeerJS and y-webrtc endpoints of one dyno, over the same core as v1 (sessions, the
 * bus, limits, metrics with their `protocol` label). Off ones add nothing.
 */
export function thirdPartyEndpoints(deps: ThirdPartyDeps): ThirdPartyEndpoints {
  const { config, node, logger, metrics, policy } = deps;
  const routes: Array<[string, UpgradeHandler]> = [];
  const inBandRefusals = new Map<string, (ws: WebSocket, reason: string) => void>();
  const stops: Array<() => void> = [];
  let router: Router | undefined;

  if (config.peerjs.enabled) {
    const { peerjs } = config;
    const queue = new PeerJsQueue({ node, key: peerjs.key, expireMs: peerjs.expireTimeoutMs, maxPerPair: node.maxHeld, log: logger });
    const open = new Set<PeerJsConnection>();
    const ctx: PeerJsContext = { node, log: logger, metrics: metrics.forProtocol('peerjs'), policy, key: peerjs.key, queue, open };
    const handler: UpgradeHandler = (ws, request) => {
      servePeerJs(ws, request, ctx);
      deps.adopt(ws);
    };
    // The reference's words for a server at its limit; ours are per dyno (MAX_CONNECTIONS), not cluster-wide.
    const refuse = (ws: WebSocket): void => refusePeerJs(ws, PeerJsError.ConnectionLimitExceeded);
    for (const base of peerjs.bases) {
      routes.push([peerJsSocketPath(base), handler]);
      inBandRefusals.set(peerJsSocketPath(base), refuse);
    }
    const sweep = setInterval(
      () => {
        const now = Date.now();
        for (const connection of open) connection.expireIfSilent(now, peerjs.aliveTimeoutMs);
      },
      Math.min(1000, peerjs.aliveTimeoutMs / 4),
    );
    sweep.unref();
    stops.push(
      () => clearInterval(sweep),
      () => queue.stop(),
    );
    router = peerJsRoutes({ config: peerjs, node, allowedOrigins: deps.allowedOrigins, logger });
  }

  if (config.ywebrtc.enabled) {
    const ctx = { hub: new TopicHub(node, logger), log: logger, metrics: metrics.forProtocol('ywebrtc'), policy };
    const handler: UpgradeHandler = (ws, request) => {
      serveYWebrtc(ws, request, ctx);
      deps.adopt(ws);
    };
    for (const path of config.ywebrtc.paths) routes.push([path, handler]);
  }

  const open = new Set(routes.map(([path]) => path));
  return {
    routes,
    inBandRefusals,
    router,
    originAllowed(request) {
      const path = (request.url ?? '/').split('?', 1)[0] ?? '/';
      if (!open.has(path)) return undefined;
      const origin = request.headers.origin;
      return origin === undefined || deps.allowedOrigins === undefined || deps.allowedOrigins.includes(origin);
    },
    stop() {
      for (const stop of stops) stop();
    },
  };
}
