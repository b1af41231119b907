import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { MemoryBackend } from './backends/memory/memory-backend.ts';
import { withBusProbe } from './backends/probed-backend.ts';
import { RedisBackend } from './backends/redis/redis-backend.ts';
import { RedisClusterBackend } from './backends/redis/redis-cluster-backend.ts';
import type { Backend } from './cluster/backend.ts';
import { nodeChannel } from './cluster/keys.ts';
import { JoinTokenVerifier } from './auth/join-token.ts';
import { LeasesAndSweeps } from './cluster/leases-and-sweeps.ts';
import { SignalingNode } from './cluster/signaling-node.ts';
import { Admission } from './transport/admission.ts';
import { Backpressure } from './transport/backpressure.ts';
import { connectionCeiling } from './transport/open-files.ts';
import type { ConnectionPolicy } from './transport/connection-policy.ts';
import { startHeartbeat } from './transport/heartbeat.ts';
import { originAllowed } from './transport/origin-policy.ts';
import type { Config } from './config/config.ts';
import { iceServerSource } from './ice/turn-credentials.ts';
import { apiRouter } from './api/api-router.ts';
import { createApp } from './http/app.ts';
import { createObservability } from './metrics/observability.ts';
import { CloseCode } from './protocol/error-codes.ts';
import { serveArticle } from './transport/article-connection.ts';
import { serveV1 } from './transport/v1-connection.ts';
import { thirdPartyEndpoints } from './transport/third-party-endpoints.ts';
import type { WebhookSource } from './webhooks/start-webhooks.ts';
import { createWebhooks, isWebhookSource } from './webhooks/start-webhooks.ts';
import type { UpgradeHandler } from './transport/ws-gateway.ts';
import { WsGateway } from './transport/ws-gateway.ts';

/** A socket that has not finished its close handshake this long after ours is terminated. */
const CLOSE_HANDSHAKE_MS = 2000;
/** How long closed sessions get to leave or start their grace in the backend before it closes. */
const SESSIONS_SETTLE_MS = 5000;

/**
 * The built page, dist/public at the package root. This file runs from src/ (one level
 * down: `npm run dev`, the tests) or from dist/server/ (two levels: `npm start`), so a
 * single relative path cannot serve both.
 */
const DEFAULT_PUBLIC_DIR = fileURLToPath(
  new URL(import.meta.url.includes('/dist/server/') ? '../public' : '../dist/public', import.meta.url),
);

export interface SignalingServer {
  readonly http: Server;
  readonly node: SignalingNode;
  readonly gateway: WsGateway;
  /** Starts listening; resolves to the bound port. */
  listen(): Promise<number>;
  /** Closes every socket with `code`, then the backend and the HTTP server. */
  close(code?: number): Promise<void>;
}

export interface ServerDeps {
  config: Config;
  logger: Logger;
  publicDir?: string;
  /** A backend built by the caller instead of from `config` (tests wrap one to inject faults). */
  backend?: Backend;
}

export async function createSignalingServer({ config, logger, publicDir, backend: given }: ServerDeps): Promise<SignalingServer> {
  // Wrapped before the core registers its bus handler, so /readyz can send itself a message.
  const store = given ?? (await createBackend(config, logger));
  const backend = withBusProbe(store, nodeChannel(config.redisPrefix, config.nodeId));
  const node = new SignalingNode(backend, {
    nodeId: config.nodeId,
    prefix: config.redisPrefix,
    maxRoomSize: config.maxRoomSize,
    graceMs: config.resumeGraceMs,
    leaseMs: config.nodeLeaseMs,
    maxHeld: config.maxHeldSignals,
    maxHeldBytes: config.maxHeldBytes,
    handoverTimeoutMs: config.handoverTimeoutMs,
    logger,
  });
  const leases = new LeasesAndSweeps(backend, {
    nodeId: config.nodeId,
    leaseMs: config.nodeLeaseMs,
    graceMs: config.resumeGraceMs,
    logger,
    onLeaseLost: (state) => node.requestRestore(`the lease was ${state}`),
  });
  // Reads gateway.clients lazily: the gateway is created below.
  const backpressure = new Backpressure(
    { maxInflightBytes: config.maxInflightBytes, maxLoopLagMs: config.maxLoopLagMs },
    () => gateway.clients,
    logger,
  );
  const admission = new Admission(
    { ...config.admission, maxConnections: connectionCeiling(config.admission.maxConnections, logger) },
    logger,
  );
  const policy = connectionPolicy(config, backpressure, admission);
  const observe = createObservability(backend, node, logger, () => gateway.clients.size);
  // A backend handed in by a test may not queue events; only those built here always do.
  const webhooks =
    config.webhook && isWebhookSource(store)
      ? createWebhooks(store, config.webhook, { nodeId: config.nodeId, logger, registry: observe.metrics.registry })
      : undefined;
  const thirdParty = thirdPartyEndpoints({
    config: config.thirdParty,
    allowedOrigins: config.allowedOrigins,
    node,
    logger,
    metrics: observe.metrics,
    policy,
    adopt: (ws) => backpressure.adopt(ws),
  });
  const app = createApp({
    backend,
    publicDir: publicDir ?? DEFAULT_PUBLIC_DIR,
    nodeId: config.nodeId,
    readiness: observe.readiness,
    metrics: observe.metrics.registry,
    logger,
    api: apiRouter({ apiKey: config.apiKey, node, maxMessageBytes: config.maxSignalBytes, logger }),
    ...(thirdParty.router ? { after: thirdParty.router } : {}),
  });
  const http = createHttpServer(app);
  const v1Metrics = observe.metrics.forProtocol('v1');
  const articleMetrics = observe.metrics.forProtocol('article');
  const routes = new Map<string, UpgradeHandler>([
    [
      '/signaling',
      (ws, req) => {
        serveV1(ws, req, node, logger, v1Metrics, policy);
        backpressure.adopt(ws);
      },
    ],
    [
      '/video_chat/signaling',
      (ws, req) => {
        serveArticle(ws, req, node, logger, articleMetrics, policy);
        backpressure.adopt(ws);
      },
    ],
    ...thirdParty.routes,
  ]);
  const gateway = new WsGateway(http, {
    maxPayload: config.maxMessageBytes,
    routes,
    allowOrigin: (req) => thirdParty.originAllowed(req) ?? originAllowed(req, config.allowedOrigins, config.production),
    admission,
    onRefused: (reason) => observe.metrics.upgradeRefused(reason),
    inBandRefusals: thirdParty.inBandRefusals,
  });
  let stopHeartbeat = (): void => undefined;

  return {
    http,
    node,
    gateway,
    listen: () =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          http.off('error', reject);
          leases.start();
          webhooks?.start();
          backpressure.start();
          stopHeartbeat = startHeartbeat(gateway.wss, config.heartbeatMs);
          resolve((http.address() as AddressInfo).port);
        });
      }),
    async close(code = CloseCode.GoingAway) {
      gateway.stopAccepting();
      admission.stop();
      thirdParty.stop();
      stopHeartbeat();
      backpressure.stop();
      observe.stop();
      const closing = [...gateway.clients].map(
        (ws) =>
          new Promise<void>((resolve) => {
            ws.once('close', () => resolve());
            ws.close(code, 'server shutting down');
            setTimeout(() => {
              ws.terminate();
              resolve();
            }, CLOSE_HANDSHAKE_MS).unref();
          }),
      );
      await Promise.all(closing);
      // Closed sessions leave or start their grace in the backend: let them finish first.
      await node.settled(SESSIONS_SETTLE_MS);
      node.stop();
      // Leases given back; the rooms this dyno was delivering are due again 2 x
      // WEBHOOK_TIMEOUT_MS after their delivery began, and any dyno takes them over then.
      await webhooks?.stop();
      await leases.stop();
      await backend.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function connectionPolicy(config: Config, backpressure: Backpressure, admission: Admission): ConnectionPolicy {
  const ice = iceServerSource(config.ice);
  return {
    rateLimitPerSec: config.rateLimitPerSec,
    rateLimitBurst: config.rateLimitBurst,
    maxBufferedBytes: config.maxBufferedBytes,
    maxSignalBytes: config.maxSignalBytes,
    rateLimitBytesPerSec: config.rateLimitBytesPerSec,
    rateLimitBytesBurst: config.rateLimitBytesBurst,
    inflight: backpressure,
    ...(config.tokenSecret ? { joinTokens: new JoinTokenVerifier(config.tokenSecret) } : {}),
    iceServers: (name) => ice.iceServers(name),
    admitJoin: () => admission.admitJoin(),
    joinDone: () => admission.joinDone(),
    ...(ice.ttlSeconds === undefined ? {} : { iceServersTtl: ice.ttlSeconds }),
  };
}

async function createBackend(config: Config, logger: Logger): Promise<Backend & WebhookSource> {
  if (!config.redisUrl && !config.redisCluster) {
    logger.info('no REDIS_URL: embedded backend, rooms live in this process only');
    return new MemoryBackend();
  }
  const backend = config.redisCluster
    ? new RedisClusterBackend(
        {
          ...config.redisCluster,
          tlsVerify: config.redisTlsVerify,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          prefix: config.redisPrefix,
        },
        config.nodeId,
        logger,
      )
    : new RedisBackend(
        {
          url: config.redisUrl ?? '',
          tlsVerify: config.redisTlsVerify,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          prefix: config.redisPrefix,
        },
        config.nodeId,
        logger,
      );
  try {
    await backend.connect();
  } catch (error) {
    // Keep serving: ioredis keeps retrying, /readyz says not ready, joins get `unavailable`.
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'Redis is not reachable yet; retrying in the background');
  }
  return backend;
}
