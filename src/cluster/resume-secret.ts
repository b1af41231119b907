import { createHash, randomBytes } from 'node:crypto';

/** 144 random bits: beyond any online guessing, and a whole number of base64 characters. */
const SECRET_BYTES = 18;

/** A fresh resume secret, URL-safe so clients can keep it anywhere. */
export function newResumeSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/**
 * What the backend stores instead of the secret, so reading Redis is not enough to take a
 * member over. Secrets are random, so a plain hash (no salt, no stretching) is enough.
 */
export function hashResumeSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
