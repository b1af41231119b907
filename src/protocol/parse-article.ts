import { isObject, parseJsonObject } from './json-frame.ts';
import { MAX_JSON_DEPTH, shapeMessage, shapeProblem } from './json-shape.ts';
import { nameProblem } from './names.ts';

/**
 * Client frames of the original article's protocol (endpoint /video_chat/signaling,
 * docs/protocol.md, "Article protocol"). Only what the server acts on is typed: an `rtc`
 * frame is forwarded as the sender wrote it, so its other fields are never read.
 */

export interface ArticleOpen {
  method: 'open';
  roomName: string;
  name: string;
}

export interface ArticleRtc {
  method: 'rtc';
  descriptionType: 'offer' | 'answer';
  from: string;
  to: string;
}

export type ArticleMessage = ArticleOpen | ArticleRtc;

export type ArticleParseResult = { ok: true; message: ArticleMessage } | { ok: false; message: string };

/**
 * Parses and validates one article-protocol text frame. Never throws (the article's own
 * server threw on bad JSON): every problem becomes a failure saying what was wrong.
 * `roomName` in an `rtc` frame is not read: routing uses the sender's session.
 */
export function parseArticle(text: string): ArticleParseResult {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const method = value['method'];
  if (typeof method !== 'string') return { ok: false, message: 'method must be a string' };

  switch (method) {
    case 'open': {
      const roomName = value['roomName'];
      const name = value['name'];
      const roomProblem = nameProblem(roomName);
      if (roomProblem) return { ok: false, message: `open.roomName ${roomProblem}` };
      const nameIssue = nameProblem(name);
      if (nameIssue) return { ok: false, message: `open.name ${nameIssue}` };
      return { ok: true, message: { method, roomName: roomName as string, name: name as string } };
    }
    case 'rtc': {
      const description = value['description'];
      if (!isObject(description)) return { ok: false, message: 'rtc.description must be a JSON object' };
      const type = description['type'];
      if (type !== 'offer' && type !== 'answer') {
        return { ok: false, message: 'rtc.description.type must be "offer" or "answer"' };
      }
      const from = value['from'];
      const to = value['to'];
      const fromProblem = nameProblem(from);
      if (fromProblem) return { ok: false, message: `rtc.from ${fromProblem}` };
      const toProblem = nameProblem(to);
      if (toProblem) return { ok: false, message: `rtc.to ${toProblem}` };
      // The frame is forwarded as written, so only depth matters (for the receiving
      // browsers' parsers and the article client's own re-serialisation), not 1e400.
      const shape = shapeProblem(value, MAX_JSON_DEPTH, false);
      if (shape !== null) return { ok: false, message: shapeMessage('the rtc frame', shape) };
      return { ok: true, message: { method, descriptionType: type, from: from as string, to: to as string } };
    }
    default:
      return { ok: false, message: `unknown method ${JSON.stringify(method.slice(0, 32))}` };
  }
}
