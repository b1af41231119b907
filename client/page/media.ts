/**
 * Getting the camera and microphone, degrading step by step: both, then
 * microphone only, then camera only, then nothing. A call where you can only
 * watch is still better than no call, so this never throws; it says plainly
 * what happened instead. A chosen device that is gone (unplugged since the last
 * visit) is replaced by any device of its kind.
 */
import { trackConstraint } from '../src/index.ts';
import type { Strings } from './i18n/en.ts';

export interface LocalMediaResult {
  /** What we got; null means receive-only. */
  stream: MediaStream | null;
  /** A sentence for the user when something is missing, else null. */
  notice: string | null;
}

export interface ChosenDevices {
  cameraId?: string | undefined;
  micId?: string | undefined;
}

function errorName(error: unknown): string {
  return error instanceof DOMException || error instanceof Error ? error.name : 'Error';
}

async function tryGet(constraints: MediaStreamConstraints): Promise<MediaStream | string> {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    return errorName(error);
  }
}

/** getUserMedia for the chosen devices, or any of the kind when a chosen one is not there. */
async function tryChosen(audio: string | undefined | false, video: string | undefined | false): Promise<MediaStream | string> {
  const constraints: MediaStreamConstraints = {
    audio: audio === false ? false : trackConstraint(audio),
    video: video === false ? false : trackConstraint(video),
  };
  const got = await tryGet(constraints);
  if (got !== 'OverconstrainedError' && got !== 'NotFoundError') return got;
  if ((audio === false || audio === undefined) && (video === false || video === undefined)) return got;
  return await tryGet({ audio: audio !== false, video: video !== false });
}

export async function openLocalMedia(strings: Strings, chosen: ChosenDevices = {}): Promise<LocalMediaResult> {
  const stillJoin = strings.stillJoin;
  if (navigator.mediaDevices?.getUserMedia === undefined) return { stream: null, notice: `${strings.noMediaApi} ${stillJoin}` };
  const both = await tryChosen(chosen.micId, chosen.cameraId);
  if (typeof both !== 'string') return { stream: both, notice: null };
  if (both === 'NotAllowedError' || both === 'SecurityError') return { stream: null, notice: `${strings.mediaRefused} ${stillJoin}` };
  // Missing or busy hardware: find out which half works.
  const busy = both === 'NotReadableError' || both === 'AbortError';
  const audio = await tryChosen(chosen.micId, false);
  if (typeof audio !== 'string') return { stream: audio, notice: busy ? strings.cameraBusySoundOnly : strings.noCameraSoundOnly };
  const video = await tryChosen(false, chosen.cameraId);
  if (typeof video !== 'string') return { stream: video, notice: strings.noMicVideoOnly };
  return { stream: null, notice: `${busy ? strings.bothBusy : strings.noneFound} ${stillJoin}` };
}
