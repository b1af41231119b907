/**
 * Video codec order for mesh calls: VP8 first.
 *
 * Why VP8: it is the one video codec every WebRTC engine must implement (RFC 7742 makes VP8
 * and H.264 mandatory for browsers, and in practice VP8 is always there), while H.264 is not:
 * Firefox on Linux has H.264 only once its OpenH264 plugin has been downloaded (never in CI or
 * offline installs), and Chromium builds without proprietary codecs lack it. Safari offers
 * H.264 first. Left alone, a Safari-Firefox pair may settle on a codec one side then fails
 * to decode, or on different codecs per direction; with VP8 first in every offer and answer,
 * every pair in the mesh agrees on VP8. The rest of the browser's list (VP9, AV1, H.264,
 * RTX, RED, FEC) stays after it, in the browser's own order, as fallbacks.
 *
 * `setCodecPreferences` exists in Chromium, Firefox 128+ and Safari. It is called only where
 * the engine's own order (its capabilities list) does not start with VP8 already, i.e. Safari:
 * Chromium and Firefox put VP8 first by default, and Firefox with explicit preferences makes
 * renegotiation offers that Chromium cannot parse ("Failed to parse codecs correctly", seen
 * on ICE restarts when Chromium offered first), so there the default is left alone.
 */

const PREFERRED_VIDEO = 'video/vp8';

type CapabilitiesSource = { getCapabilities?: (kind: string) => RTCRtpCapabilities | null } | undefined;

/** Retransmission and protection entries, which carry no picture of their own. */
const NOT_A_PICTURE = new Set(['video/rtx', 'video/red', 'video/ulpfec', 'video/flexfec-03']);

/**
 * The receiver's video codecs with VP8 first; null when nothing needs changing (VP8 leads
 * already, the engine has no VP8, or it cannot tell).
 */
export function preferredVideoCodecs(source: CapabilitiesSource): RTCRtpCodec[] | null {
  const codecs = source?.getCapabilities?.('video')?.codecs;
  if (codecs === undefined || codecs.length === 0) return null;
  const lead = codecs.find((c) => !NOT_A_PICTURE.has(c.mimeType.toLowerCase()));
  if (lead === undefined || lead.mimeType.toLowerCase() === PREFERRED_VIDEO) return null;
  const first = codecs.filter((c) => c.mimeType.toLowerCase() === PREFERRED_VIDEO);
  if (first.length === 0) return null;
  return [...first, ...codecs.filter((c) => c.mimeType.toLowerCase() !== PREFERRED_VIDEO)];
}

/**
 * Applies the order to every video transceiver of `pc` that is not stopped. Never throws: a
 * codec preference is an optimisation, and a refusal must not break the call.
 */
export function preferVp8(pc: RTCPeerConnection): void {
  const Receiver = (globalThis as { RTCRtpReceiver?: CapabilitiesSource }).RTCRtpReceiver;
  const codecs = preferredVideoCodecs(Receiver);
  if (codecs === null) return;
  for (const transceiver of pc.getTransceivers()) {
    if (transceiver.receiver.track.kind !== 'video' || transceiver.currentDirection === 'stopped') continue;
    try {
      transceiver.setCodecPreferences?.(codecs);
    } catch {
      // An engine that rejects the list keeps its default order.
    }
  }
}
