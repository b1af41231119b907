/**
 * Getting the camera and microphone, degrading step by step: both, then
 * microphone only, then camera only, then nothing. A call where you can only
 * watch is still better than no call, so this never throws; it says plainly
 * what happened instead.
 */

export interface LocalMediaResult {
  /** What we got; null means receive-only. */
  stream: MediaStream | null;
  /** A sentence for the user when something is missing, else null. */
  notice: string | null;
}

const STILL_JOIN = "You can still see and hear the others.";

function errorName(error: unknown): string {
  return error instanceof DOMException || error instanceof Error ? error.name : "Error";
}

async function tryGet(constraints: MediaStreamConstraints): Promise<MediaStream | string> {
  try {
    return await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    return errorName(error);
  }
}

export async function openLocalMedia(): Promise<LocalMediaResult> {
  if (navigator.mediaDevices?.getUserMedia === undefined) {
    return {
      stream: null,
      notice: `This browser does not let the page use a camera or microphone (the page needs https). ${STILL_JOIN}`,
    };
  }
  const both = await tryGet({ audio: true, video: true });
  if (typeof both !== "string") return { stream: both, notice: null };
  if (both === "NotAllowedError" || both === "SecurityError") {
    return {
      stream: null,
      notice: `Camera and microphone access was refused, so the others cannot see or hear you. ${STILL_JOIN} To change this, allow access in the address bar and join again.`,
    };
  }
  // Missing or busy hardware: find out which half works.
  const busy = both === "NotReadableError" || both === "AbortError";
  const audio = await tryGet({ audio: true });
  if (typeof audio !== "string") {
    return {
      stream: audio,
      notice: busy ? "Your camera is in use by another app: you join with sound only." : "No camera found: you join with sound only.",
    };
  }
  const video = await tryGet({ video: true });
  if (typeof video !== "string") {
    return { stream: video, notice: "No microphone found: the others will see you but not hear you." };
  }
  return {
    stream: null,
    notice: busy
      ? `Your camera and microphone are in use by another app, so you join without them. ${STILL_JOIN}`
      : `No camera or microphone found, so you join without them. ${STILL_JOIN}`,
  };
}
