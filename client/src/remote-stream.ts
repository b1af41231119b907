import type { PeerEntry } from './mesh-call-types.ts';

/**
 * The stream a remote track belongs to. A sender without a stream id (no msid) gives tracks
 * with no stream: those of one peer are gathered in one stream of their own. Undefined where
 * the environment has no MediaStream to gather them in.
 */
export function remoteStream(entry: Pick<PeerEntry, 'looseTracks'>, event: RTCTrackEvent): MediaStream | undefined {
  const stream = event.streams[0];
  if (stream !== undefined) return stream;
  const Stream = (globalThis as { MediaStream?: new () => MediaStream }).MediaStream;
  if (Stream === undefined) return undefined;
  entry.looseTracks ??= new Stream();
  entry.looseTracks.addTrack(event.track);
  return entry.looseTracks;
}
