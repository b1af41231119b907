import { createHash, randomBytes } from 'node:crypto';

/** A fresh resume secret: 144 random bits, URL-safe so clients can keep it anywhere. */
export function newResumeSecret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * What the backend stores instead of the secret, so reading Redis is not enough to take a
 * member over. Secrets are random, so a plain hash (no salt, no stretching) is enough.
 */
export function hashResumeSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
