import type { ClientMessage, MessageId } from './messages.ts';
import type { JsonObject } from './json-frame.ts';
import { isObject, parseJsonObject } from './json-frame.ts';
import { MAX_JSON_DEPTH, shapeMessage, shapeProblem } from './json-shape.ts';
import { metadataProblem } from './metadata.ts';
import { nameProblem } from './names.ts';

/** A client frame that cannot be accepted: answered with a `bad-request` error. */
export interface ParseFailure {
  ok: false;
  message: string;
  /** The offending message's `id`, when it had a usable one, so the error can echo it. */
  id?: MessageId;
}

/** Longest string `id` echoed back in replies. */
const MAX_ID_CHARS = 128;
/** Longest join token: an HS256 JWT binding room, name and exp is far shorter. */
const MAX_TOKEN_CHARS = 4096;
/** Longest `resume`: ours are 24 characters; anything much longer is not one. */
const MAX_RESUME_CHARS = 128;

export type ParseResult = { ok: true; message: ClientMessage } | ParseFailure;

function readId(obj: JsonObject): MessageId | undefined | null {
  const id = obj['id'];
  if (id === undefined) return undefined;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  if (typeof id === 'string' && id.length <= MAX_ID_CHARS) return id;
  return null;
}

/**
 * Parses and validates one protocol v1 text frame. Never throws: every problem becomes a
 * ParseFailure whose message says what was wrong, so the client can fix its code.
 */
export function parseV1(text: string): ParseResult {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const id = readId(value);
  if (id === null) return { ok: false, message: `id must be a string (max ${MAX_ID_CHARS}) or a finite number` };
  const fail = (message: string): ParseFailure => (id === undefined ? { ok: false, message } : { ok: false, message, id });
  const type = value['type'];
  if (typeof type !== 'string') return fail('type must be a string');

  switch (type) {
    case 'join': {
      const room = value['room'];
      const name = value['name'];
      const roomProblem = nameProblem(room);
      if (roomProblem) return fail(`join.room ${roomProblem}`);
      const nameIssue = nameProblem(name);
      if (nameIssue) return fail(`join.name ${nameIssue}`);
      const message: ClientMessage = { type, room: room as string, name: name as string };
      const resume = value['resume'];
      if (resume !== undefined) {
        if (typeof resume !== 'string' || resume.length === 0 || resume.length > MAX_RESUME_CHARS)
          return fail('join.resume must be the string from joined.resume');
        message.resume = resume;
      }
      const token = value['token'];
      if (token !== undefined) {
        if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS)
          return fail(`join.token must be a string of at most ${MAX_TOKEN_CHARS} characters`);
        message.token = token;
      }
      const lastSeq = value['lastSeq'];
      if (lastSeq !== undefined) {
        if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0)
          return fail('join.lastSeq must be a non-negative integer: the seq of the last frame processed, 0 for none');
        message.lastSeq = lastSeq;
      }
      const metadata = value['metadata'];
      if (metadata !== undefined) {
        const problem = metadataProblem(metadata, 'join.metadata');
        if (problem !== null) return fail(problem);
        message.metadata = metadata as Record<string, unknown>;
      }
      return { ok: true, message: withId(message, id) };
    }
    case 'signal': {
      const to = value['to'];
      const data = value['data'];
      const toProblem = nameProblem(to);
      if (toProblem) return fail(`signal.to ${toProblem}`);
      if (!isObject(data)) return fail('signal.data must be a JSON object');
      // Checked here, once, because the sender's dyno re-serialises data into the frame.
      const shape = shapeProblem(data, MAX_JSON_DEPTH, true);
      if (shape !== null) return fail(shapeMessage('signal.data', shape));
      return { ok: true, message: withId({ type, to: to as string, data }, id) };
    }
    case 'broadcast': {
      const data = value['data'];
      if (!isObject(data)) return fail('broadcast.data must be a JSON object');
      const shape = shapeProblem(data, MAX_JSON_DEPTH, true);
      if (shape !== null) return fail(shapeMessage('broadcast.data', shape));
      return { ok: true, message: withId({ type, data }, id) };
    }
    case 'leave':
    case 'ping':
    case 'ice-servers':
      return { ok: true, message: withId({ type }, id) };
    default:
      return fail(`unknown message type ${JSON.stringify(type.slice(0, 32))}`);
  }
}

function withId<T extends ClientMessage>(message: T, id: MessageId | undefined): T {
  if (id !== undefined) message.id = id;
  return message;
}
