import { WIRE_LIMITS } from './wire-limits.ts';

/** Rules shared by room names and member names, in both protocols. */

export const MAX_NAME_CHARS = WIRE_LIMITS.maxNameChars;

// Cc covers C0, DEL and C1 controls: they would corrupt logs and make names invisible.
const CONTROL = /\p{Cc}/u;

/**
 * Returns why `value` is not an acceptable room or member name, or null when it is.
 * Length counts Unicode code points, so a 64-character Japanese name is accepted.
 * Lone surrogates are refused: they do not survive UTF-8 encoding, so two different
 * strings would map to the same Redis key.
 */
export function nameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  // Cheap upper bound first: a string of more than 128 UTF-16 units has more than 64 code points.
  if (value.length > MAX_NAME_CHARS * 2) return `must be at most ${MAX_NAME_CHARS} characters`;
  let count = 0;
  for (const _ of value) count++;
  if (count > MAX_NAME_CHARS) return `must be at most ${MAX_NAME_CHARS} characters`;
  if (CONTROL.test(value)) return 'must not contain control characters';
  if (!value.isWellFormed()) return 'must be well-formed Unicode (no lone surrogates)';
  return null;
}
