/** The first step shared by both protocols' parsers: one text frame to one JSON object. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Never throws: bad JSON and non-objects become a message saying which. */
export function parseJsonObject(text: string): { ok: true; value: JsonObject } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, message: 'frame is not valid JSON' };
  }
  return isObject(value) ? { ok: true, value } : { ok: false, message: 'frame must be a JSON object' };
}
