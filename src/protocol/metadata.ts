import type { Metadata } from './messages.ts';
import { isObject } from './json-frame.ts';
import { MAX_JSON_DEPTH, shapeMessage, shapeProblem } from './json-shape.ts';
import { WIRE_LIMITS } from './wire-limits.ts';

/**
 * Member metadata travels with every `joined` and `peer-joined` of the room and is stored in
 * the member's record: 1 KB keeps a full room's join reply small (16 members, 16 KB at most).
 */
export const MAX_METADATA_BYTES = WIRE_LIMITS.maxMetadataBytes;

/** Why `value` cannot be a member's metadata (`field` names it in the text), or null when it can. */
export function metadataProblem(value: unknown, field: string): string | null {
  if (!isObject(value)) return `${field} must be a JSON object`;
  const shape = shapeProblem(value, MAX_JSON_DEPTH, true);
  if (shape !== null) return shapeMessage(field, shape);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_METADATA_BYTES)
    return `${field} is limited to ${MAX_METADATA_BYTES} bytes of JSON (this one has ${bytes}); keep only what peers need, such as a display name`;
  return null;
}

/** Metadata read back from storage: anything that is not an object becomes `{}`. */
export function readMetadata(json: string | undefined): Metadata {
  if (!json) return {};
  try {
    const value: unknown = JSON.parse(json);
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}
