/**
 * Unguessable room names for the "new room" action. A room name is the only thing that
 * keeps strangers out of a call on a server without join tokens, so it carries 80 random
 * bits: 16 symbols of a 32-symbol alphabet (5 bits each), grouped by four so it can be read
 * aloud or typed from a phone: `k7dm-qx3p-2fna-wr9e`. The alphabet leaves out `l`, `o`, `0`
 * and `1`, which are too easily confused.
 */

/** 32 symbols, so a byte masked to 5 bits picks one without bias. */
export const ROOM_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** Bits of randomness in a name from {@link newRoomName}. */
export const ROOM_NAME_BITS = 80;

/** A fresh room name; `random` fills the bytes (default `crypto.getRandomValues`, which works without https). */
export function newRoomName(random: (bytes: Uint8Array<ArrayBuffer>) => void = (b) => void globalThis.crypto.getRandomValues(b)): string {
  const bytes = new Uint8Array(16);
  random(bytes);
  let name = '';
  for (let i = 0; i < 16; i++) {
    if (i > 0 && i % 4 === 0) name += '-';
    name += ROOM_ALPHABET[(bytes[i] ?? 0) & 31];
  }
  return name;
}
