import { createServer as createHttpServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { MemoryBackend } from './backends/memory/memory-backend.ts';
import { RedisBackend } from './backends/redis/redis-backend.ts';
import type { Backend } from './cluster/backend.ts';
import { SignalingNode } from './cluster/signaling-node.ts';
import type { Config } from './config/config.ts';
import { createApp } from './http/app.ts';
import { CloseCode } from './protocol/error-codes.ts';
import { serveV1 } from './transport/v1-connection.ts';
import type { UpgradeHandler } from './transport/ws-gateway.ts';
import { WsGateway } from './transport/ws-gateway.ts';

/** The built page, two levels up from this file in both src/ and dist/server/. */
const DEFAULT_PUBLIC_DIR = fileURLToPath(new URL('../../dist/public', import.meta.url));

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
}

export async function createSignalingServer({ config, logger, publicDir }: ServerDeps): Promise<SignalingServer> {
  const backend = await createBackend(config, logger);
  const node = new SignalingNode(backend, {
    nodeId: config.nodeId,
    prefix: config.redisPrefix,
    maxRoomSize: config.maxRoomSize,
    logger,
  });
  const app = createApp({ backend, publicDir: publicDir ?? DEFAULT_PUBLIC_DIR });
  const http = createHttpServer(app);
  const routes = new Map<string, UpgradeHandler>([['/signaling', (ws, req) => serveV1(ws, req, node, logger)]]);
  const gateway = new WsGateway(http, { maxPayload: config.maxMessageBytes, routes });

  return {
    http,
    node,
    gateway,
    listen: () =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          http.off('error', reject);
          resolve((http.address() as AddressInfo).port);
        });
      }),
    async close(code = CloseCode.GoingAway) {
      gateway.stopAccepting();
      const closing = [...gateway.clients].map(
        (ws) => new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(code, 'server shutting down');
          setTimeout(() => { ws.terminate(); resolve(); }, 2000).unref();
        }),
      );
      await Promise.all(closing);
      // Sessions leave on close; give their backend calls a moment before cutting the backend.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await backend.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function createBackend(config: Config, logger: Logger): Promise<Backend> {
  if (!config.redisUrl) {
    logger.info('no REDIS_URL: embedded backend, rooms live in this process only');
    return new MemoryBackend();
  }
  const backend = new RedisBackend({ url: config.redisUrl, tlsVerify: config.redisTlsVerify }, config.nodeId, logger);
  try {
    await backend.connect();
  } catch (error) {
    // Keep serving: ioredis keeps retrying, /readyz says not ready, joins get `unavailable`.
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'Redis is not reachable yet; retrying in the background');
  }
  return backend;
}
