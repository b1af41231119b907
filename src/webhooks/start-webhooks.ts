import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { WebhookConfig } from '../config/webhook-config.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import type { WebhookQueue, WebhookQueueOptions } from './queue.ts';
import { WebhookSigner } from './signer.ts';
import { webhookMetrics } from './webhook-metrics.ts';

/** A backend that can queue webhook events with its membership changes (memory, Redis). */
export interface WebhookSource {
  enableWebhooks(options: WebhookQueueOptions): WebhookQueue;
}

export function isWebhookSource(backend: object): backend is WebhookSource {
  return typeof (backend as Partial<WebhookSource>).enableWebhooks === 'function';
}

/** Turns webhook events on in `backend` and returns the (not yet started) delivery worker. */
export function createWebhooks(
  backend: WebhookSource,
  config: WebhookConfig,
  deps: { nodeId: string; logger: Logger; registry: Registry },
): DeliveryWorker {
  const queue = backend.enableWebhooks({ maxQueued: config.maxQueued, maxAgeMs: config.maxAgeMs });
  const logger = deps.logger.child({ component: 'webhooks' });
  // The gauge reads the worker when scraped, never before the next statement built it.
  const metrics = webhookMetrics(deps.registry, () => worker.inFlight);
  const worker = new DeliveryWorker(queue, {
    url: config.url,
    signer: new WebhookSigner(config.key),
    owner: deps.nodeId,
    timeoutMs: config.timeoutMs,
    concurrency: config.concurrency,
    backoff: { baseMs: config.backoffMs, maxMs: config.backoffMaxMs },
    maxAgeMs: config.maxAgeMs,
    pollMs: config.pollMs,
    logger,
    metrics,
  });
  logger.info(
    { url: new URL(config.url).origin, maxAgeMs: config.maxAgeMs },
    'webhooks on: membership events are queued and POSTed, signed',
  );
  return worker;
}
