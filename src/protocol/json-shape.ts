/**
 * Limits on the shape of client JSON that the server re-serialises or forwards. JSON.parse
 * takes any depth, but JSON.stringify recurses: a `data` nested 9,000 levels deep (54 KB,
 * under MAX_MESSAGE_BYTES) throws `RangeError: Maximum call stack size exceeded` when the
 * signal frame is built. Real signaling data nests two or three levels.
 */

import { WIRE_LIMITS } from './wire-limits.ts';

/** Objects and arrays nested in one `signal.data` (v1) or one article frame, itself included. */
export const MAX_JSON_DEPTH = WIRE_LIMITS.maxJsonDepth;

export type ShapeProblem = 'too-deep' | 'not-finite';

/**
 * Walks a parsed value once, stopping at the first problem: nesting beyond `maxDepth`, or
 * (with `finiteNumbers`) a number JSON.parse overflowed to ±Infinity (`1e400`), which
 * JSON.stringify would silently turn into `null`. The walk costs one step per value, not
 * per byte: an SDP offer is one string, so this is a few steps for a typical signal, far
 * less than the JSON.parse that came before it or the JSON.stringify that follows.
 */
export function shapeProblem(value: unknown, maxDepth: number, finiteNumbers: boolean): ShapeProblem | null {
  return walk(value, maxDepth, finiteNumbers);
}

function walk(value: unknown, levelsLeft: number, finiteNumbers: boolean): ShapeProblem | null {
  if (typeof value !== 'object' || value === null) {
    return finiteNumbers && typeof value === 'number' && !Number.isFinite(value) ? 'not-finite' : null;
  }
  if (levelsLeft === 0) return 'too-deep';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = walk(value[i], levelsLeft - 1, finiteNumbers);
      if (problem !== null) return problem;
    }
    return null;
  }
  // JSON.parse makes plain objects whose only enumerable keys are their own (a "__proto__"
  // key included: it is an own data property there, not the prototype).
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const problem = walk(record[key], levelsLeft - 1, finiteNumbers);
    if (problem !== null) return problem;
  }
  return null;
}

/** The bad-request text for a problem in `field`. */
export function shapeMessage(field: string, problem: ShapeProblem): string {
  switch (problem) {
    case 'too-deep':
      return `${field} nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep (the limit); flatten it`;
    case 'not-finite':
      return `${field} holds a number too large for JSON (it overflows to Infinity); send it as a string`;
    default: {
      const unreachable: never = problem;
      throw new Error(`unknown shape problem ${String(unreachable)}`);
    }
  }
}
