/**
 * Video send settings by room size. In a mesh every sender encodes its camera once per
 * peer, so a four-person call runs three encoders per laptop: past two people each copy is
 * made smaller, slower and cheaper (RTCRtpSender.setParameters, no renegotiation). Measured
 * in docs/benchmarks.md (Four-person call): without this, a 2-core machine is saturated by
 * the encoders and a fourth person waits seconds longer for every video.
 */

export interface VideoSendSettings {
  /** Divides each side of the captured picture. */
  scaleResolutionDownBy: number;
  /** Bits per second, per copy. */
  maxBitrate: number;
  maxFramerate: number;
}

/** One row per largest room size it applies to (people, including oneself). */
const STEPS: ReadonlyArray<readonly [number, VideoSendSettings]> = [
  [2, { scaleResolutionDownBy: 1, maxBitrate: 1_200_000, maxFramerate: 30 }],
  [3, { scaleResolutionDownBy: 1.5, maxBitrate: 500_000, maxFramerate: 24 }],
  [4, { scaleResolutionDownBy: 2, maxBitrate: 300_000, maxFramerate: 20 }],
  [6, { scaleResolutionDownBy: 2.5, maxBitrate: 200_000, maxFramerate: 15 }],
];
const LARGEST: VideoSendSettings = { scaleResolutionDownBy: 3, maxBitrate: 120_000, maxFramerate: 12 };

/** Past this many people the page says a mesh call gets heavy. */
export const HEAVY_ROOM_SIZE = 6;

/** Settings for a call of `people` (oneself included). */
export function videoSendSettings(people: number): VideoSendSettings {
  for (const [upTo, settings] of STEPS) if (people <= upTo) return settings;
  return LARGEST;
}

/** Sets `settings` on every encoding of `sender` (no-op before negotiation gave it encodings). */
export async function applyVideoSendSettings(sender: RTCRtpSender, settings: VideoSendSettings): Promise<void> {
  const parameters = sender.getParameters();
  if (parameters.encodings === undefined || parameters.encodings.length === 0) return;
  let changed = false;
  for (const encoding of parameters.encodings) {
    if (
      encoding.scaleResolutionDownBy !== settings.scaleResolutionDownBy ||
      encoding.maxBitrate !== settings.maxBitrate ||
      encoding.maxFramerate !== settings.maxFramerate
    ) {
      Object.assign(encoding, settings);
      changed = true;
    }
  }
  if (changed) await sender.setParameters(parameters);
}

/** What send settings need of a peer link (peer-link.ts). */
interface VideoSendingLink {
  readonly peer: string;
  readonly closed: boolean;
  videoSenders(): Iterable<RTCRtpSender>;
}

/**
 * The settings for a room of `people` on every video sender of `links`; a sender that
 * refuses them is reported through `onError`, the others still get theirs.
 */
export function applyRoomSendSettings(
  links: Iterable<VideoSendingLink | undefined>,
  people: number,
  onError: (peer: string, cause: unknown) => void,
): void {
  const settings = videoSendSettings(people);
  for (const link of links) {
    if (link === undefined || link.closed) continue;
    for (const sender of link.videoSenders()) applyVideoSendSettings(sender, settings).catch((cause: unknown) => onError(link.peer, cause));
  }
}
