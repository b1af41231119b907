import { errors, jwtVerify } from 'jose';
import type { Metadata } from '../protocol/messages.ts';
import { metadataProblem } from '../protocol/metadata.ts';

/** `metadata`: the token's `metadata` claim, which replaces the client's `join.metadata`. */
export type TokenCheck = { ok: true; metadata?: Metadata } | { ok: false; reason: string };

/**
 * Verifies a join token: an HS256 JWT minted by the application's backend whose claims bind
 * `room`, `name` and `exp`, and may carry `metadata` (a JSON object of at most 1 KB). Only HS256 is accepted, so a token cannot pick its own algorithm.
 */
export class JoinTokenVerifier {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async check(token: string | undefined, room: string, name: string): Promise<TokenCheck> {
    if (token === undefined) return { ok: false, reason: 'this server requires a join token (TOKEN_SECRET is set): add "token" to join' };
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], requiredClaims: ['exp', 'room', 'name'] });
      if (payload['room'] !== room || payload['name'] !== name)
        return { ok: false, reason: 'the token was issued for another room or name' };
      const claim = payload['metadata'];
      if (claim === undefined) return { ok: true };
      const problem = metadataProblem(claim, "the token's metadata claim");
      if (problem !== null) return { ok: false, reason: `${problem} (fix the application that issues tokens)` };
      return { ok: true, metadata: claim as Metadata };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, reason: 'the token has expired; get a fresh one from the application' };
      if (error instanceof errors.JOSEError) return { ok: false, reason: `the token is not valid (${error.code})` };
      throw error;
    }
  }
}
