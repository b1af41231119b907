import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

export type DeliveryOutcome = 'delivered' | 'failed';
export type DropReason = 'max-age' | 'queue-full';

/** What the delivery worker reports. */
export interface WebhookMetrics {
  delivery(outcome: DeliveryOutcome): void;
  dropped(reason: DropReason, count: number): void;
}

/** Registers the webhook series on the server's registry (GET /metrics). */
export function webhookMetrics(registry: Registry, inFlight: () => number): WebhookMetrics {
  const registers = [registry];
  const deliveries = new Counter({
    name: 'webhook_deliveries_total',
    help: 'Webhook POST attempts by outcome',
    labelNames: ['outcome'],
    registers,
  });
  const dropped = new Counter({
    name: 'webhook_events_dropped_total',
    help: 'Webhook events given up: max-age (never accepted within WEBHOOK_MAX_AGE_MS) or queue-full (room outbox at WEBHOOK_MAX_QUEUED)',
    labelNames: ['reason'],
    registers,
  });
  new Gauge({
    name: 'webhook_deliveries_in_flight',
    help: 'Webhook POSTs this dyno has open now (at most WEBHOOK_CONCURRENCY)',
    registers,
    collect() {
      this.set(inFlight());
    },
  });
  for (const outcome of ['delivered', 'failed'] as const) deliveries.inc({ outcome }, 0);
  for (const reason of ['max-age', 'queue-full'] as const) dropped.inc({ reason }, 0);
  return {
    delivery: (outcome) => deliveries.inc({ outcome }),
    dropped: (reason, count) => dropped.inc({ reason }, count),
  };
}
