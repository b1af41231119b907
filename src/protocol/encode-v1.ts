import type { ErrorCode } from './error-codes.ts';
import type { MessageId, ServerMessage } from './messages.ts';

/**
 * Server-to-client frames for protocol v1. Signals are built by string concatenation so the
 * opaque `data` is serialized exactly once, on the sender's dyno; receivers forward the frame.
 */

export function encode(message: ServerMessage): string {
  return JSON.stringify(message);
}

export function encodeSignal(fromJson: string, data: Record<string, unknown>): string {
  return `{"type":"signal","from":${fromJson},"data":${JSON.stringify(data)}}`;
}

export function encodeBroadcast(fromJson: string, data: Record<string, unknown>): string {
  return `{"type":"broadcast","from":${fromJson},"data":${JSON.stringify(data)}}`;
}

export function encodeError(code: ErrorCode, message: string, id?: MessageId): string {
  return JSON.stringify(id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id });
}

export const PONG = '{"type":"pong"}';
