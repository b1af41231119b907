/**
 * Addresses the page derives from its own location: where to find the
 * signaling endpoint, what an invite link looks like, what the link asked for.
 */

/** What the page's query string asks for. */
export interface InviteParams {
  room: string;
  name: string;
  /** `relay=1`: force TURN relays (iceTransportPolicy "relay"), for testing TURN. */
  relayOnly: boolean;
  /** `adaptive=0`: send video as the browser picks, whatever the room size (for the benchmark's "before"). */
  adaptiveQuality: boolean;
  /** `lang=ja|en`: forces the page's language. */
  lang: string | null;
}

export function readInvite(location: Location): InviteParams {
  const params = new URLSearchParams(location.search);
  return {
    room: params.get('room')?.trim() ?? '',
    name: params.get('name')?.trim() ?? '',
    relayOnly: params.get('relay') === '1',
    adaptiveQuality: params.get('adaptive') !== '0',
    lang: params.get('lang'),
  };
}

/** `ws://host/signaling` next to an http page, `wss://` next to an https one. */
export function signalingUrl(location: Location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/signaling`;
}

/**
 * The page's own address for `room`: the link to send to others, and what the address bar
 * shows. The room only, never our own name; `lang` is kept when the link forced a language.
 */
export function inviteUrl(location: Location, room: string, lang: string | null = null): string {
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set('room', room);
  if (lang !== null) url.searchParams.set('lang', lang);
  return url.toString();
}
