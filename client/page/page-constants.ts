/** The page's thresholds and timers, in one place. */

/** Mean microphone level (0..1 RMS) above which our own tile shows that we speak. */
export const LOCAL_SPEAKING_LEVEL = 0.02;
/** Speaking stays on this long after the level drops, so the highlight does not flicker between words. */
export const SPEAKING_HOLD_MS = 1_200;
/** How often the Web Audio meter is read for our own highlight, where statistics do not carry the level (Firefox). */
export const LOCAL_METER_MS = 200;
/** How long the invite button says the link was copied. */
export const LINK_COPIED_MS = 2_000;
/** The pre-join meter: a speaking voice peaks around 0.1-0.3 RMS; this scale fills most of the bar with it. */
export const PREJOIN_METER_SCALE = 400;
