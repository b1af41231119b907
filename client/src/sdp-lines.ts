/**
 * The few SDP facts the negotiation needs, read and (for one attribute) rewritten as text.
 * Everything else in a description is left byte for byte as the browser made it.
 */

/** DTLS role of one side of an established association (RFC 8842 `a=setup`). */
export type DtlsRole = 'active' | 'passive';

const SETUP = /^a=setup:(\S+)\r?$/m;
const SETUP_ALL = /^a=setup:\S+(\r?)$/gm;
const UFRAG = /^a=ice-ufrag:(\S+)\r?$/m;

/** The `a=setup` value of a description (the first one: BUNDLE gives every m-line the same). */
export function readSetup(sdp: string): string | undefined {
  return SETUP.exec(sdp)?.[1];
}

/** `active` or `passive` from an answer's `a=setup`; undefined for anything else. */
export function answerRole(sdp: string): DtlsRole | undefined {
  const setup = readSetup(sdp);
  return setup === 'active' || setup === 'passive' ? setup : undefined;
}

export function oppositeRole(role: DtlsRole): DtlsRole {
  return role === 'active' ? 'passive' : 'active';
}

/**
 * `sdp` with every `a=setup` line set to `role`. Used on our own answers only, and only to
 * keep the role the DTLS association already has (see peer-link.ts, "DTLS role").
 */
export function withSetup(sdp: string, role: DtlsRole): string {
  return sdp.replace(SETUP_ALL, (_line, cr: string) => `a=setup:${role}${cr}`);
}

/** The ICE username fragment of a description (the first: with BUNDLE there is one transport). */
export function readUfrag(sdp: string): string | undefined {
  return UFRAG.exec(sdp)?.[1];
}
