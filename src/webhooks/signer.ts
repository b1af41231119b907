import { createHmac, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Standard Webhooks symmetric signatures: the secret is "whsec_" + base64 of 24 to 64 random
 * bytes; the signature is base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), sent as
 * "v1,<signature>" in webhook-signature, next to webhook-id and webhook-timestamp (seconds).
 */

export const SECRET_PREFIX = 'whsec_';
/** Key sizes Standard Webhooks allows for a whsec_ secret. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The HMAC key of a whsec_ secret, or why it is not one. */
export function parseWebhookSecret(raw: string): { ok: true; key: Buffer } | { ok: false; problem: string } {
  const how = 'use `echo whsec_$(openssl rand -base64 32)`';
  if (!raw.startsWith(SECRET_PREFIX)) return { ok: false, problem: `must start with ${SECRET_PREFIX} (${how})` };
  const encoded = raw.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return { ok: false, problem: `must be ${SECRET_PREFIX} followed by standard base64 (${how})` };
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES)
    return {
      ok: false,
      problem: `must hold ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes after ${SECRET_PREFIX}, not ${key.length} (${how})`,
    };
  return { ok: true, key };
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export class WebhookSigner {
  private readonly key: KeyObject;

  constructor(key: Buffer) {
    // A KeyObject made once: createHmac with a Buffer would import the key on every call.
    this.key = createSecretKey(key);
  }

  /** Headers for one attempt: the timestamp is the attempt's, so a retry is signed anew. */
  sign(id: string, body: string, nowMs = Date.now()): SignedHeaders {
    const timestamp = String(Math.floor(nowMs / 1000));
    const signature = createHmac('sha256', this.key).update(`${id}.${timestamp}.${body}`).digest('base64');
    return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
  }
}
