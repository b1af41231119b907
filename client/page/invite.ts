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
}

export function readInvite(location: Location): InviteParams {
  const params = new URLSearchParams(location.search);
  return {
    room: params.get("room")?.trim() ?? "",
    name: params.get("name")?.trim() ?? "",
    relayOnly: params.get("relay") === "1",
  };
}

/** `ws://host/signaling` next to an http page, `wss://` next to an https one. */
export function signalingUrl(location: Location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/signaling`;
}

/** The link to send to others: the room only, never our own name. */
export function inviteLink(location: Location, room: string): string {
  const url = new URL(location.pathname, location.origin);
  url.searchParams.set("room", room);
  return url.toString();
}
