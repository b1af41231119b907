/**
 * How good one peer connection is, from two successive getStats() reports: round-trip time
 * (the selected candidate pair's currentRoundTripTime, else remote-inbound-rtp's
 * roundTripTime), packet loss over the interval (inbound-rtp packetsLost against
 * packetsReceived, all kinds), and the peer's audio level (inbound-rtp audio `audioLevel`,
 * 0..1; over an interval, from totalAudioEnergy), which tells who is speaking, and the same for
 * our own microphone (`media-source` audio, where the engine reports it: Chromium and Safari
 * do, Firefox does not). Pure functions over plain objects, so they are tested without a browser.
 */

export type LinkQuality = 'good' | 'weak' | 'bad';

/** The stats types readLinkSample reads: a sampler need hand on nothing else. */
export const LINK_STATS_TYPES: readonly string[] = ['candidate-pair', 'remote-inbound-rtp', 'inbound-rtp', 'media-source'];

/** The counters kept between two samples. */
export interface StatsCounters {
  received: number;
  lost: number;
  /** Video frames decoded: a stopped sender shows as no new frames. */
  framesDecoded: number;
  /** inbound audio totalAudioEnergy and totalSamplesDuration: their ratio over an interval is its mean power. */
  audioEnergy: number;
  audioDuration: number;
  /** The same for our own microphone (media-source); undefined when the engine reports none. */
  localEnergy: number | undefined;
  localDuration: number | undefined;
}

export interface LinkSample {
  quality: LinkQuality;
  /** Milliseconds, or null when the engine reports none yet. */
  rttMs: number | null;
  /** Percent of packets lost over the last interval, 0..100. */
  lossPercent: number;
  /** The peer's inbound audio level, 0..1 (0 when unknown). */
  audioLevel: number;
  /** Our own microphone's level as sent on this connection, 0..1; null when the engine does not say. */
  localAudioLevel: number | null;
  counters: StatsCounters;
}

/** Thresholds in the spirit of Meet's and Jitsi's indicators: an interactive call suffers past ~300 ms or a few % loss. */
export const WEAK_RTT_MS = 300;
export const BAD_RTT_MS = 800;
export const WEAK_LOSS_PERCENT = 3;
export const BAD_LOSS_PERCENT = 10;

type Stat = Record<string, unknown> & { type?: string; kind?: string };

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

export function classify(rttMs: number | null, lossPercent: number): LinkQuality {
  if ((rttMs !== null && rttMs >= BAD_RTT_MS) || lossPercent >= BAD_LOSS_PERCENT) return 'bad';
  if ((rttMs !== null && rttMs >= WEAK_RTT_MS) || lossPercent >= WEAK_LOSS_PERCENT) return 'weak';
  return 'good';
}

/** Reads one report (anything with forEach over stats objects) against the previous counters. */
export function readLinkSample(report: { forEach(fn: (stat: Stat) => void): void }, previous: StatsCounters | undefined): LinkSample {
  let pairRtt: number | undefined;
  let remoteRtt: number | undefined;
  let received = 0;
  let lost = 0;
  let framesDecoded = 0;
  let audioLevel = 0;
  let audioEnergy = 0;
  let audioDuration = 0;
  let localLevel: number | undefined;
  let localEnergy: number | undefined;
  let localDuration: number | undefined;
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && (s['nominated'] === true || s['selected'] === true) && s['state'] === 'succeeded') {
      pairRtt = num(s['currentRoundTripTime']) ?? pairRtt;
    } else if (s.type === 'remote-inbound-rtp') {
      remoteRtt = num(s['roundTripTime']) ?? remoteRtt;
    } else if (s.type === 'inbound-rtp') {
      received += num(s['packetsReceived']) ?? 0;
      lost += Math.max(0, num(s['packetsLost']) ?? 0);
      if (s.kind === 'video') framesDecoded += num(s['framesDecoded']) ?? 0;
      if (s.kind === 'audio') {
        audioLevel = Math.max(audioLevel, num(s['audioLevel']) ?? 0);
        audioEnergy += num(s['totalAudioEnergy']) ?? 0;
        audioDuration += num(s['totalSamplesDuration']) ?? 0;
      }
    } else if (s.type === 'media-source' && s.kind === 'audio') {
      localLevel = num(s['audioLevel']) ?? localLevel;
      localEnergy = num(s['totalAudioEnergy']) ?? localEnergy;
      localDuration = num(s['totalSamplesDuration']) ?? localDuration;
    }
  });
  const rtt = pairRtt ?? remoteRtt;
  const rttMs = rtt === undefined ? null : Math.round(rtt * 1000);
  const counters = { received, lost, framesDecoded, audioEnergy, audioDuration, localEnergy, localDuration };
  let lossPercent = 0;
  let localAudioLevel = localLevel ?? null;
  if (previous !== undefined) {
    const dLocal = (localDuration ?? 0) - (previous.localDuration ?? 0);
    if (localEnergy !== undefined && previous.localEnergy !== undefined && dLocal > 0) {
      localAudioLevel = Math.sqrt(Math.max(0, localEnergy - previous.localEnergy) / dLocal);
    }
    // Mean level over the whole interval: a short syllable between two samples still counts.
    const dDuration = audioDuration - previous.audioDuration;
    if (dDuration > 0) audioLevel = Math.sqrt(Math.max(0, audioEnergy - previous.audioEnergy) / dDuration);
    const dReceived = Math.max(0, received - previous.received);
    const dLost = Math.max(0, lost - previous.lost);
    lossPercent = dReceived + dLost === 0 ? 0 : (100 * dLost) / (dReceived + dLost);
  }
  let quality = classify(rttMs, lossPercent);
  // Connected but nothing arrives (the peer's sender stopped, or the path died): not good.
  if (previous !== undefined && received === previous.received) quality = 'bad';
  return { quality, rttMs, lossPercent: Math.round(lossPercent * 10) / 10, audioLevel, localAudioLevel, counters };
}
