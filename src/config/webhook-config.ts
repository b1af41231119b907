/**
 * WEBHOOK_* variables, validated at start: a bad URL or secret would otherwise only show as
 * events the application never gets.
 */
import { WEBHOOK_DEFAULTS } from './defaults.ts';
import { integer } from './env-parsers.ts';
import { parseWebhookSecret } from '../webhooks/signer.ts';

export interface WebhookConfig {
  /** WEBHOOK_URL: http(s) URL every event is POSTed to. */
  url: string;
  /** WEBHOOK_SECRET decoded: the HMAC key (Standard Webhooks `whsec_<base64>`). */
  key: Buffer;
  /** WEBHOOK_MAX_AGE_MS: an event not accepted by then is dropped (logged, counted). */
  maxAgeMs: number;
  /** WEBHOOK_TIMEOUT_MS: one POST's deadline. */
  timeoutMs: number;
  /** WEBHOOK_BACKOFF_MS: delay after the first failure (doubling, with jitter). */
  backoffMs: number;
  /** WEBHOOK_BACKOFF_MAX_MS: longest delay between two attempts. */
  backoffMaxMs: number;
  /** WEBHOOK_MAX_QUEUED: events one room's queue holds; past it new ones are dropped. */
  maxQueued: number;
  /** WEBHOOK_CONCURRENCY: POSTs one dyno has open at once. */
  concurrency: number;
  /** WEBHOOK_POLL_MS: how often a dyno looks for events due (retries, other dynos'). */
  pollMs: number;
}

type Env = Record<string, string | undefined>;

function webhookUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

export function readWebhookConfig(env: Env, problems: string[]): WebhookConfig | undefined {
  const rawUrl = env['WEBHOOK_URL']?.trim() || undefined;
  const rawSecret = env['WEBHOOK_SECRET'] || undefined;
  const num = (name: string, min: number, max: number, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = integer(min, max)(raw);
    if (parsed.ok) return parsed.value;
    problems.push(`${name}=${JSON.stringify(raw.slice(0, 80))} ${parsed.problem}`);
    return fallback;
  };
  const settings = {
    maxAgeMs: num('WEBHOOK_MAX_AGE_MS', 1000, 7 * 24 * 3_600_000, WEBHOOK_DEFAULTS.maxAgeMs),
    timeoutMs: num('WEBHOOK_TIMEOUT_MS', 100, 120_000, WEBHOOK_DEFAULTS.timeoutMs),
    backoffMs: num('WEBHOOK_BACKOFF_MS', 10, 3_600_000, WEBHOOK_DEFAULTS.backoffMs),
    backoffMaxMs: num('WEBHOOK_BACKOFF_MAX_MS', 10, 24 * 3_600_000, WEBHOOK_DEFAULTS.backoffMaxMs),
    maxQueued: num('WEBHOOK_MAX_QUEUED', 1, 1_000_000, WEBHOOK_DEFAULTS.maxQueued),
    concurrency: num('WEBHOOK_CONCURRENCY', 1, 1000, WEBHOOK_DEFAULTS.concurrency),
    pollMs: num('WEBHOOK_POLL_MS', 20, 60_000, WEBHOOK_DEFAULTS.pollMs),
  };
  if (!rawUrl) {
    if (rawSecret) problems.push('WEBHOOK_SECRET is set without WEBHOOK_URL: set WEBHOOK_URL to the receiver, or unset WEBHOOK_SECRET');
    return undefined;
  }
  const url = webhookUrl(rawUrl);
  if (!url)
    problems.push(
      `WEBHOOK_URL=${JSON.stringify(rawUrl.slice(0, 80))} must be an http:// or https:// URL such as https://app.example.com/hooks/signaling`,
    );
  if (!rawSecret) {
    problems.push(
      'WEBHOOK_URL is set without WEBHOOK_SECRET: set WEBHOOK_SECRET=whsec_<base64 of 24 to 64 random bytes> (`echo whsec_$(openssl rand -base64 32)`)',
    );
    return undefined;
  }
  const secret = parseWebhookSecret(rawSecret);
  // Never echo a secret, even a rejected one: startup errors go to the log drain.
  if (!secret.ok) problems.push(`WEBHOOK_SECRET=(${rawSecret.length} characters, not shown) ${secret.problem}`);
  if (settings.backoffMaxMs < settings.backoffMs) problems.push('WEBHOOK_BACKOFF_MAX_MS must be at least WEBHOOK_BACKOFF_MS');
  if (!url || !secret.ok) return undefined;
  return { url, key: secret.key, ...settings };
}
