/**
 * What a peer tells the others about its own media, so their pages can show a muted mark
 * (a disabled track still sends silence: the receiver cannot tell mute from a quiet room).
 * Sent as ordinary `signal` data, which the server relays untouched (a contract between
 * browsers, like signal-data.ts):
 *
 *   { "media": { "audio": true, "video": false, "screen": false } }
 *
 * `audio`/`video`: the track is on (false when muted, switched off, or there is none).
 */

export interface MediaState {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

/** The media state in signal data, or null when `data` is something else (or malformed). */
export function parseMediaState(data: Record<string, unknown>): MediaState | null {
  const media = data['media'];
  if (typeof media !== 'object' || media === null || Array.isArray(media)) return null;
  const { audio, video, screen } = media as Record<string, unknown>;
  if (typeof audio !== 'boolean' || typeof video !== 'boolean') return null;
  return { audio, video, screen: screen === true };
}
