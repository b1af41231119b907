/** A cursor holds one room name (at most 64 characters of up to 4 UTF-8 bytes each), base64url-encoded. */
const MAX_CURSOR_CHARS = 400;

/**
 * The opaque `cursor` of GET /api/v1/rooms: the name of the last room a page looked at,
 * base64url-encoded. Rooms are listed in key order, so the next page starts after it and
 * no room is listed twice, whatever joins and leaves happen between pages.
 */
export function encodeCursor(room: string): string {
  return Buffer.from(room, 'utf8').toString('base64url');
}

/** The room name in a cursor, or null when it is not one this server made. */
export function decodeCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || cursor.length > MAX_CURSOR_CHARS) return null;
  const room = Buffer.from(cursor, 'base64url').toString('utf8');
  return encodeCursor(room) === cursor ? room : null;
}
